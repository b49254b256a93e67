"""The seed-compatible wrapper ``riscv_quantum_validator_asic`` around the real ``riscv``
core: 8 frames of 8192 bits through ``delegated_quantum_proof``, responses compared with
``golden.proof.validate``.

Environment: ``PQVOTE_CASES`` (JSON list as for ``sim/tb_slhdsa.py``; every case uses the
same key).
"""

import json
import os

import cocotb
from cocotb.triggers import ReadOnly, RisingEdge, with_timeout

from golden import proof as gp
from golden.proof import Status
from hdl.validator import KeyStatus
from sim.tb_common import CLOCK_NS, TB, value, words_le
from sim.tb_wrapper import FlatPort

BEATS = gp.FRAME_BYTES // 8


@cocotb.test()
async def wrapper_frames(dut):
    tb = TB(dut)
    key = FlatPort(dut.clk, dut.key_valid, dut.key_ready, rng=tb.rng)
    req = FlatPort(dut.clk, dut.req_valid, dut.req_ready, rng=tb.rng)
    frame = FlatPort(dut.clk, dut.frame_valid, dut.frame_ready, rng=tb.rng)
    dut.resp_ready.value = 0
    await tb.reset()
    with open(os.environ["PQVOTE_CASES"]) as f:
        cases = json.load(f)
    pk, k_att = bytes.fromhex(cases[0]["key"]), bytes.fromhex(cases[0]["k_att"])
    words = words_le(pk) + words_le(k_att)
    for n, w in enumerate(words):
        await key.send([(dut.key_data, w), (dut.key_last, int(n == len(words) - 1))])
    for _ in range(1000):
        await ReadOnly()
        if value(dut.key_status) != KeyStatus.LOADING.value:
            break
        await RisingEdge(dut.clk)
    assert value(dut.key_status) == KeyStatus.OK.value
    await RisingEdge(dut.clk)
    errors = []
    for case in cases:
        d, proof, nonce = bytes.fromhex(case["descriptor"]), bytes.fromhex(case["proof"]), case["nonce"]
        await req.send([(dut.tcp_descriptor, int.from_bytes(d, "little")), (dut.nonce, nonce)])
        nframes = len(proof) // gp.FRAME_BYTES
        for fr in range(nframes):
            chunk = proof[fr * gp.FRAME_BYTES:(fr + 1) * gp.FRAME_BYTES]
            await frame.send([(dut.delegated_quantum_proof, int.from_bytes(chunk, "little")),
                              (dut.frame_last, int(fr == nframes - 1))])

        async def wait():
            dut.resp_ready.value = 1
            while True:
                await ReadOnly()
                if value(dut.resp_valid):
                    got = (bool(value(dut.quantum_consensus_vote)), Status(value(dut.status)),
                           value(dut.quantum_signature).to_bytes(32, "little"),
                           value(dut.proof_digest).to_bytes(32, "little"))
                    await RisingEdge(dut.clk)
                    dut.resp_ready.value = 0
                    return got
                await RisingEdge(dut.clk)
        got = await with_timeout(wait(), 100_000 * CLOCK_NS, "ns")
        want = gp.validate("riscv", pk, k_att, d, nonce, proof)
        if got != (want.vote, want.status, want.attestation, want.digest):
            errors.append(f"{case['name']}: wrapper {got[:2]}, golden {want.vote, want.status}")
        if case.get("expect_vote") is not None and want.vote != case["expect_vote"]:
            errors.append(f"{case['name']}: golden vote {want.vote}")
        dut._log.info(f"{case['name']}: vote={int(got[0])} status={got[1].name}")
    assert not errors, "\n".join(errors)
