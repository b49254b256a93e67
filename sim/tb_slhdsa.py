"""Whole-core bench of the ``riscv`` validator (ValidatorShell + SlhDsaEngine).

Environment: ``PQVOTE_CASES`` (a JSON file written by ``tests/test_slhdsa_rtl.py``: a list of
cases ``{"name", "key", "k_att", "descriptor", "nonce", "proof", "expect_vote"}``, hex
strings, ``key`` null for "no key"; a case with ``pqcrypto_vote`` takes its verdict from
``pqcrypto`` instead of the golden model, for the latency runs), ``PQVOTE_STALL`` (response back-pressure probability),
``PQVOTE_IDLE`` (idle probability of the request/proof drivers), ``PQVOTE_OUT`` (where the
measured latencies are written as JSON).

Every response -- vote, status, attestation, proof digest -- is compared with
``golden.proof.validate`` of the same request (or, for ``pqcrypto_vote`` cases, with
``pqcrypto``'s verdict and ``golden.proof``'s digest and attestation).
"""

import json
import os

import cocotb

from golden import proof as gp
from sim.tb_validate import CoreTB


@cocotb.test()
async def core_cases(dut):
    stall = float(os.environ.get("PQVOTE_STALL", "0"))
    idle = float(os.environ.get("PQVOTE_IDLE", "0"))
    tb = CoreTB(dut, stall_prob=stall, idle_prob=idle)
    await tb.reset()
    with open(os.environ["PQVOTE_CASES"]) as f:
        cases = json.load(f)
    measured = []
    errors = []
    for case in cases:
        key = bytes.fromhex(case["key"]) if case["key"] is not None else None
        k_att = bytes.fromhex(case["k_att"])
        descriptor = bytes.fromhex(case["descriptor"])
        proof = bytes.fromhex(case["proof"])
        if key is None and tb.loaded is not None:
            await tb.reset()
            tb.loaded = None
        key_cycles = None
        if key is not None and tb.loaded != (key, k_att):
            key_cycles = await tb.load_key(key, k_att)
        vote, status, att, pd, cycles = await tb.run(descriptor, case["nonce"], proof)
        if case.get("pqcrypto_vote") is not None:
            # latency runs: the verdict of pqcrypto (an independent implementation), digest
            # and attestation from golden.proof -- saves the pure-Python verification
            vote_ref, pd_ref = case["pqcrypto_vote"], gp.proof_digest(proof)
            want = gp.Result(vote_ref, gp.Status.OK,
                             gp.attestation(k_att, "riscv", case["nonce"], descriptor, vote_ref,
                                            pd_ref), pd_ref)
        else:
            want = gp.validate("riscv", key, k_att if key is not None else None, descriptor,
                               case["nonce"], proof)
        got = (vote, status, att, pd)
        exp = (want.vote, want.status, want.attestation, want.digest)
        if case.get("expect_vote") is not None and want.vote != case["expect_vote"]:
            errors.append(f"{case['name']}: golden vote {want.vote}, case says "
                          f"{case['expect_vote']}")
        if got != exp:
            errors.append(f"{case['name']}: core {vote, status} golden {want.vote, want.status}"
                          f" att_eq={att == want.attestation} pd_eq={pd == want.digest}")
        measured.append({"name": case["name"], "vote": vote, "status": int(status),
                         "cycles": cycles, "key_load_cycles": key_cycles})
        dut._log.info(f"{case['name']}: vote={int(vote)} status={status.name} cycles={cycles}")
    if os.environ.get("PQVOTE_OUT"):
        with open(os.environ["PQVOTE_OUT"], "w") as f:
            json.dump(measured, f)
    assert not errors, "\n".join(errors)
