"""cocotb bench of the seed-compatible flat wrapper ``<vendor>_quantum_validator_asic``
around a real KEM core (``intel``, ``arm``, …).

Runs the whole-frame requests of the scenario file ``KEM_SCENARIO`` (see
sim/kem_scenario.py) through the flat ports: key load on ``key_data``/``key_last``, request
on ``tcp_descriptor``/``nonce``, the proof as one 8192-bit frame, and the response on
``quantum_consensus_vote``/``quantum_signature``/``proof_digest``/``status``, compared with
:func:`golden.proof.validate`. The latency (frame handshake to ``resp_valid``) is the same
for every request.

Environment: ``KEM_SCENARIO`` (the scenario file), ``KEM_KEY_LOAD_CYCLES`` (the bound on
one key load; the McEliece key load applies the Beneš network, ≈ 54k cycles).
"""

import os

import cocotb

from sim.kem_scenario import expected_response, read_scenario, request_key
from sim.tb_common import TB, check_response
from sim.tb_wrapper import FlatCore

KEY_LOAD_CYCLES = int(os.environ.get("KEM_KEY_LOAD_CYCLES", "20000"))


@cocotb.test()
async def test_flat_ports(dut):
    tb = TB(dut)
    core = FlatCore(tb)
    await tb.reset()
    scenario = [r for r in read_scenario(os.environ["KEM_SCENARIO"]) if len(r["proof"]) == 2048]
    loaded = None
    latencies = set()
    for n, req in enumerate(scenario):
        key = request_key(req)
        if key[0] is None:
            if loaded is not None:
                await tb.reset()
                loaded = None
        elif key != loaded:
            await core.load_key(*key, timeout_cycles=KEY_LOAD_CYCLES)
            loaded = key
        t0 = await core.request(bytes.fromhex(req["D"]), req["nonce"], bytes.fromhex(req["proof"]))
        vote, status, att, pd, t1 = await core.response(timeout_cycles=20_000)
        check_response(f"request {n} ({req['name']})", (vote, status, att, pd),
                       expected_response(req))
        latencies.add(t1 - t0)
    assert len(latencies) == 1, f"latency differs: {sorted(latencies)}"
