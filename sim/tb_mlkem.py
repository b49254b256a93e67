"""Whole-core bench of the ``intel`` (ML-KEM-512) validator core.

Runs the scenario file named by ``MLKEM_SCENARIO`` (written by tests/test_mlkem_rtl.py):
a list of requests, each with the key to have loaded (or none) and the response the golden
model (:func:`golden.proof.validate`) gives. Vote, status, attestation and proof digest are
compared for every request; the latency must be the same for every full-length proof.
"""

import json
import os

import cocotb
from cocotb.triggers import ReadOnly, RisingEdge

from golden.proof import Status
from sim.tb_common import value
from sim.tb_validate import CoreTB

KEY_STATUS = {0: "none", 1: "loading", 2: "ok", 3: "bad"}


@cocotb.test()
@cocotb.parametrize(idle_stall=[(0.0, 0.0), (0.0, 0.5), (0.3, 0.5)])
async def test_scenario(dut, idle_stall):
    """Every request of the scenario; ``idle_stall`` = (idle probability on the request and
    proof streams, back-pressure probability on the response). The latency is asserted
    equal across requests when the proof streams without idle cycles."""
    idle_prob, stall_prob = idle_stall
    tb = CoreTB(dut, idle_prob=idle_prob, stall_prob=stall_prob)
    await tb.reset()
    with open(os.environ["MLKEM_SCENARIO"]) as f:
        scenario = json.load(f)
    latencies = {}
    key_loads = []
    for n, req in enumerate(scenario):
        key = bytes.fromhex(req["key"]) if req["key"] else None
        k_att = bytes.fromhex(req["k_att"]) if req["k_att"] else None
        if key is None and tb.loaded is not None:
            await tb.reset()
            tb.loaded = None
        elif key is not None and tb.loaded != (key, k_att):
            key_loads.append(await tb.load_key(key, k_att))
            await ReadOnly()
            status = KEY_STATUS[value(dut.o_key_status)]
            assert status == req["key_status"], f"request {n}: key status {status}"
            await RisingEdge(dut.clk)
        vote, status, att, pd, cycles = await tb.run(
            bytes.fromhex(req["D"]), req["nonce"], bytes.fromhex(req["proof"]))
        exp = req["expected"]
        what = f"request {n} ({req['name']})"
        assert status == Status[exp["status"]], f"{what}: status {status.name}"
        assert vote == exp["vote"], f"{what}: vote {vote}"
        assert pd.hex() == exp["digest"], f"{what}: digest"
        assert att.hex() == exp["attestation"], f"{what}: attestation"
        if len(req["proof"]) == 2048:
            latencies[req["name"]] = cycles
    if idle_prob:
        return
    assert len(set(latencies.values())) == 1, f"latency differs: {latencies}"
    out = os.environ.get("MLKEM_METRICS")
    if out and stall_prob == 0.0:
        with open(out, "w") as f:
            json.dump({"latency": next(iter(latencies.values())), "key_load": max(key_loads),
                       "requests": len(scenario)}, f)
