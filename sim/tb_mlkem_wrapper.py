"""cocotb bench of the seed-compatible flat wrapper ``intel_quantum_validator_asic`` around
the real ``intel`` core (ML-KEM-512 engine).

Runs the whole-frame requests of the scenario file ``MLKEM_SCENARIO`` (see sim/tb_mlkem.py)
through the flat ports: key load on ``key_data``/``key_last``, request on
``tcp_descriptor``/``nonce``, the proof as one 8192-bit frame, and the response on
``quantum_consensus_vote``/``quantum_signature``/``proof_digest``/``status``, compared with
:func:`golden.proof.validate`. The latency (frame handshake to ``resp_valid``) is the same
for every request.
"""

import json
import os

import cocotb
from cocotb.triggers import ReadOnly, RisingEdge, with_timeout

from golden.proof import Status
from hdl.validator import KeyStatus
from sim.tb_common import CLOCK_NS, TB, value, words_le
from sim.tb_wrapper import FlatPort


@cocotb.test()
async def test_flat_ports(dut):
    tb = TB(dut)
    key_port = FlatPort(dut.clk, dut.key_valid, dut.key_ready, rng=tb.rng)
    req_port = FlatPort(dut.clk, dut.req_valid, dut.req_ready, rng=tb.rng)
    frame_port = FlatPort(dut.clk, dut.frame_valid, dut.frame_ready, rng=tb.rng)
    dut.resp_ready.value = 0
    await tb.reset()
    with open(os.environ["MLKEM_SCENARIO"]) as f:
        scenario = [r for r in json.load(f) if len(r["proof"]) == 2048]
    loaded = None
    latencies = set()
    for n, req in enumerate(scenario):
        key = (req["key"], req["k_att"])
        if not req["key"]:
            if loaded is not None:
                await tb.reset()
                loaded = None
        elif key != loaded:
            words = words_le(bytes.fromhex(req["key"])) + words_le(bytes.fromhex(req["k_att"]))
            for i, w in enumerate(words):
                await key_port.send([(dut.key_data, w), (dut.key_last, int(i == len(words) - 1))])
            for _ in range(20_000):
                await ReadOnly()
                if value(dut.key_status) != KeyStatus.LOADING.value:
                    break
                await RisingEdge(dut.clk)
            await RisingEdge(dut.clk)
            loaded = key
        D = bytes.fromhex(req["D"])
        await req_port.send([(dut.tcp_descriptor, int.from_bytes(D, "little")),
                             (dut.nonce, req["nonce"])])
        flat = int.from_bytes(bytes.fromhex(req["proof"]), "little")
        await frame_port.send([(dut.delegated_quantum_proof, flat), (dut.frame_last, 1)])
        t0 = tb.cycle

        async def wait():
            dut.resp_ready.value = 1
            while True:
                await ReadOnly()
                if value(dut.resp_valid):
                    got = (bool(value(dut.quantum_consensus_vote)), Status(value(dut.status)),
                           value(dut.quantum_signature).to_bytes(32, "little").hex(),
                           value(dut.proof_digest).to_bytes(32, "little").hex(), tb.cycle)
                    await RisingEdge(dut.clk)
                    dut.resp_ready.value = 0
                    return got
                await RisingEdge(dut.clk)

        vote, status, att, pd, t1 = await with_timeout(wait(), 20_000 * CLOCK_NS, "ns")
        exp = req["expected"]
        what = f"request {n} ({req['name']})"
        assert status == Status[exp["status"]], f"{what}: status {status.name}"
        assert vote == exp["vote"], f"{what}: vote"
        assert pd == exp["digest"], f"{what}: digest"
        assert att == exp["attestation"], f"{what}: attestation"
        latencies.add(t1 - t0)
    assert len(latencies) == 1, f"latency differs: {sorted(latencies)}"
