"""Whole-core bench of a KEM validator core (``intel`` ML-KEM-512, or any core around a
:data:`hdl.validator.KemEngineSignature` engine).

Runs the scenario file named by ``KEM_SCENARIO`` (see ``sim/kem_scenario.py``): each
request with the key to have loaded (or none) and the model's response. Vote, status,
attestation and proof digest are compared for every request. Without idle cycles on the
proof, every ``timed`` request (two valid keys, no key, a rejected key, every tamper class)
must have one latency, and exactly ``KEM_LATENCY_EXACT`` cycles when that is set (the
figure of latency_targets.toml). ``KEM_METRICS`` names a JSON file for the measured figures.
"""

import json
import os

import cocotb
from cocotb.triggers import ReadOnly, RisingEdge

from hdl.validator import KeyStatus
from sim.kem_scenario import expected_response, read_scenario, request_key
from sim.tb_common import check_response, value
from sim.tb_validate import CoreTB


@cocotb.test()
@cocotb.parametrize(idle_stall=[(0.0, 0.0), (0.0, 0.5), (0.3, 0.5)])
async def test_scenario(dut, idle_stall):
    """Every request of the scenario; ``idle_stall`` = (idle probability on the request and
    proof streams, back-pressure probability on the response). The latency is asserted
    when the proof streams without idle cycles."""
    idle_prob, stall_prob = idle_stall
    tb = CoreTB(dut, idle_prob=idle_prob, stall_prob=stall_prob)
    await tb.reset()
    scenario = read_scenario(os.environ["KEM_SCENARIO"])
    latencies = {}
    key_loads = []
    for n, req in enumerate(scenario):
        key, k_att = request_key(req)
        if key is None and tb.loaded is not None:
            await tb.reset()
            tb.loaded = None
        elif key is not None and tb.loaded != (key, k_att):
            key_loads.append(await tb.load_key(key, k_att))
            await ReadOnly()
            status = KeyStatus(value(dut.o_key_status)).name.lower()
            assert status == req["key_status"], f"request {n}: key status {status}"
            await RisingEdge(dut.clk)
        vote, status, att, pd, cycles = await tb.run(
            bytes.fromhex(req["D"]), req["nonce"], bytes.fromhex(req["proof"]))
        check_response(f"request {n} ({req['name']})", (vote, status, att, pd),
                       expected_response(req))
        if req["timed"]:
            latencies[req["name"]] = cycles
    if idle_prob:
        return
    assert len(set(latencies.values())) == 1, f"latency depends on the request: {latencies}"
    latency = next(iter(latencies.values()))
    exact = os.environ.get("KEM_LATENCY_EXACT")
    if exact:
        assert latency == int(exact), f"latency {latency} cycles, expected exactly {exact}"
    out = os.environ.get("KEM_METRICS")
    if out and stall_prob == 0.0:
        with open(out, "w") as f:
            json.dump({"latency": latency, "key_load": max(key_loads, default=None),
                       "timed": len(latencies), "requests": len(scenario)}, f)
