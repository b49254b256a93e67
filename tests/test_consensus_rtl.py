"""RTL cluster co-simulation: the landed cores side by side under one Verilator run, with
the collector deciding from their responses as they arrive, and every fault kind injected
into an RTL core's responses. The decisions are cross-checked against the same requests
decided from the software vendor (``consensus.cluster.run_request``).

Validators whose vendor has no landed core are answered by the software source inside the
bench. One build of the cluster model (cached by Verilog hash), one simulation for all
requests.
"""


import pytest

from consensus.cluster import Core, run_request
from consensus.simulation import make_cluster
from consensus.sources import FAULTS, RtlSource, SoftwareSource, software_mint

LANDED = sorted(RtlSource.landed())
pytestmark = pytest.mark.skipif(not LANDED, reason="no RTL core has landed")

D = bytes(range(24))


def _keys():
    from pqcrypto.kem import mceliece_348864, ml_kem_512, sntrup_653
    from pqcrypto.sign import slh_dsa_shake_128s
    keys = {}
    for vendor, mod in (("intel", ml_kem_512), ("amd", sntrup_653), ("arm", mceliece_348864)):
        ek, dk = mod.keygen()
        keys[vendor] = (dk, ek)
    pk, sk = slh_dsa_shake_128s.keygen()
    keys["riscv"] = (pk, sk)
    return keys


def test_rtl_cluster_with_every_fault(tmp_path):
    from sim.tb_cluster import run_cluster
    keys = _keys()
    proofs = {v: software_mint(v, keys[v][1], D) for v in keys}
    vs = make_cluster(4, seed=21)
    slot_of = {vendor: i for i, vendor in enumerate(LANDED)}
    validators = [{"name": v.name, "vendor": v.vendor, "key": keys[v.vendor][0],
                   "k_att": v.k_att, "slot": slot_of.get(v.vendor)} for v in vs.validators]
    target = next(v.name for v in vs.validators if v.vendor in slot_of)     # an RTL core
    # One python validator stays silent, so the RTL core's vote decides between accepted
    # (honest) and no_quorum (any fault).
    quiet = next(v.name for v in vs.validators if v.name != target)
    tampered = dict(proofs)
    p = bytearray(proofs[vs[target].vendor])
    p[10] ^= 1
    tampered[vs[target].vendor] = bytes(p)
    requests = [{"nonce": 1, "descriptor": D, "proofs": proofs, "faults": {quiet: "silent"},
                 "deadline": 2_000_000}]
    for i, kind in enumerate(FAULTS):
        requests.append({"nonce": 2 + i, "descriptor": D, "proofs": proofs,
                         "faults": {quiet: "silent", target: kind}, "deadline": 2_000_000})
    requests.append({"nonce": 2 + len(FAULTS), "descriptor": D, "proofs": tampered,
                     "faults": {}, "deadline": 2_000_000})
    records = run_cluster(tmp_path, vendors=LANDED, validators=validators, requests=requests,
                          stall=0.2)
    assert len(records) == len(requests)

    # The same requests decided from the software vendor.
    sw = {v.name: Core(keys[v.vendor][0], SoftwareSource()) for v in vs.validators}
    for req, rec in zip(requests, records):
        ref = run_request(vs, sw, nonce=req["nonce"], descriptor=D, proofs=req["proofs"],
                          faults=req["faults"]).decision
        d = rec["decision"]
        assert d["outcome"] == ref.outcome, (req["faults"], d)
        assert (d["tally"]["yes"], d["tally"]["no"]) == (ref.yes, ref.no)
        assert d["tally"]["excluded"] == list(ref.excluded)
        signers = sorted(v["validator"] for v in (d["certificate"] or {}).get("votes", []))
        ref_signers = sorted(v.validator for v in ref.certificate.votes) \
            if ref.certificate else []
        assert signers == ref_signers
        # the RTL core's own response equals the software vendor's, bit for bit
        r = rec["responses"][target]
        assert r["rtl"] and r["cycles"] > 0
        s = SoftwareSource().validate(vs[target].vendor, keys[vs[target].vendor][0],
                                      vs[target].k_att, D, req["nonce"],
                                      req["proofs"][vs[target].vendor])
        assert (r["vote"], r["attestation"], r["proof_digest"]) == \
            (s.vote, s.attestation.hex(), s.digest.hex())
    from sim import results
    first = records[0]
    results.record("cluster", requests=len(records),
                   decision_latency_cycles=first["decision"]["decided_at"]
                   - first["decision"]["opened_at"],
                   **{f"{name}_cycles": r["cycles"] for name, r in first["responses"].items()
                      if r["rtl"]})
    outcomes = {kind: records[1 + i]["decision"]["outcome"] for i, kind in enumerate(FAULTS)}
    assert records[0]["decision"]["outcome"] == "accepted"
    # Every fault but one blocks acceptance. An equivocating core's first vote is honest: if
    # it completes the quorum before the second arrives, the request is accepted and the
    # second vote becomes evidence; if both arrive first, the core drops out (no_quorum).
    # Which one happens depends on the arrival order (checked above against the reference).
    eq_outcome = outcomes.pop("equivocate")
    assert eq_outcome in ("accepted", "no_quorum")
    assert outcomes == {kind: "no_quorum" for kind in FAULTS if kind != "equivocate"}
    assert records[-1]["decision"]["outcome"] == "accepted"
    assert records[-1]["responses"][target]["vote"] is False
    eq = records[1 + FAULTS.index("equivocate")]
    assert [e["validator"] for e in eq["evidence"]] == [target]
    reasons = {kind: {v["reason"] for v in records[1 + i]["received"]
                      if v["validator"] == target}
               for i, kind in enumerate(FAULTS)}
    assert reasons["corrupt"] == {"invalid_attestation"}
    assert reasons["late"] == {"closed"}
    assert reasons["replay"] == {"closed"}
    assert reasons["silent"] == set()
    assert "equivocation" in reasons["equivocate"]
