"""The seed-compatible wrapper ``riscv_quantum_validator_asic`` around the real ``riscv``
core: 8 frames of 8192 bits through ``delegated_quantum_proof``, responses compared with
``golden.proof.validate``.

Environment: ``PQVOTE_CASES`` (JSON list as for ``sim/tb_slhdsa.py``; every case uses the
same key).
"""

import json
import os

import cocotb

from golden import proof as gp
from hdl.validator import KeyStatus
from sim.tb_common import TB
from sim.tb_wrapper import FlatCore


@cocotb.test()
async def wrapper_frames(dut):
    tb = TB(dut)
    core = FlatCore(tb)
    await tb.reset()
    with open(os.environ["PQVOTE_CASES"]) as f:
        cases = json.load(f)
    pk, k_att = bytes.fromhex(cases[0]["key"]), bytes.fromhex(cases[0]["k_att"])
    assert await core.load_key(pk, k_att, timeout_cycles=1000) == KeyStatus.OK.value
    errors = []
    for case in cases:
        d, proof, nonce = bytes.fromhex(case["descriptor"]), bytes.fromhex(case["proof"]), case["nonce"]
        await core.request(d, nonce, proof)
        got = (await core.response(timeout_cycles=100_000))[:4]
        want = gp.validate("riscv", pk, k_att, d, nonce, proof)
        if got != (want.vote, want.status, want.attestation, want.digest):
            errors.append(f"{case['name']}: wrapper {got[:2]}, golden {want.vote, want.status}")
        if case.get("expect_vote") is not None and want.vote != case["expect_vote"]:
            errors.append(f"{case['name']}: golden vote {want.vote}")
        dut._log.info(f"{case['name']}: vote={int(got[0])} status={got[1].name}")
    assert not errors, "\n".join(errors)
