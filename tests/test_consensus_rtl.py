"""RTL vote source: the landed cores under Verilator, one simulation per vendor's core
(``backends.cluster``), decided by the one decision loop (``consensus.cluster``) with every
fault kind injected into an RTL core's responses. The decisions are cross-checked against
the same requests decided from the software vendor, and ``pqvote decide`` is shown to run
one collector, in this process, whatever the backend.

Validators whose vendor has no landed core are answered by the software source. Each core
runs on the model its own bench builds (cached by Verilog hash), one simulation per vendor
and batch.
"""

import json

import pytest

import golden.proof as gp
from consensus.cluster import Ask, Core, run_requests
from consensus.simulation import make_cluster
from consensus.sources import FAULTS, RtlSource, SoftwareSource

LANDED = sorted(RtlSource.landed())
pytestmark = pytest.mark.skipif(not LANDED, reason="no RTL core has landed")

D = bytes(range(24))


def _keys():
    """vendor → (core key, minter key)."""
    keys = {}
    for vendor in gp.VENDORS:
        public, secret = gp.reference(vendor).keygen()
        keys[vendor] = (public, secret) if vendor == "riscv" else (secret, public)
    return keys


def test_rtl_cluster_with_every_fault():
    keys = _keys()
    proofs = {v: gp.mint(v, keys[v][1], D) for v in keys}
    vs = make_cluster(4, seed=21)
    rtl = RtlSource(stall=0.2)
    cores = {v.name: Core(keys[v.vendor][0], rtl if v.vendor in LANDED else SoftwareSource())
             for v in vs.validators}
    target = next(v.name for v in vs.validators if v.vendor in LANDED)     # an RTL core
    # One other validator stays silent, so the RTL core's vote decides between accepted
    # (honest) and no_quorum (any fault).
    quiet = next(v.name for v in vs.validators if v.name != target)
    tampered = dict(proofs)
    p = bytearray(proofs[vs[target].vendor])
    p[10] ^= 1
    tampered[vs[target].vendor] = bytes(p)
    asks = [Ask(1, D, proofs, {quiet: "silent"}, deadline=2_000_000)]
    asks += [Ask(2 + i, D, proofs, {quiet: "silent", target: kind}, deadline=2_000_000)
             for i, kind in enumerate(FAULTS)]
    asks.append(Ask(2 + len(FAULTS), D, tampered, deadline=2_000_000))
    outs = run_requests(vs, cores, asks)
    assert len(outs) == len(asks)

    # The same requests decided from the software vendor.
    sw = {v.name: Core(keys[v.vendor][0], SoftwareSource()) for v in vs.validators}
    refs = run_requests(vs, sw, asks)
    for ask, out, ref in zip(asks, outs, refs):
        d, r = out.decision, ref.decision
        assert (d.outcome, d.yes, d.no, d.excluded) == (r.outcome, r.yes, r.no, r.excluded), \
            ask.faults
        signers = sorted(v.validator for v in d.certificate.votes) if d.certificate else []
        ref_signers = sorted(v.validator for v in r.certificate.votes) if r.certificate else []
        assert signers == ref_signers
        # the RTL cores' responses equal the software vendor's, bit for bit
        for v in vs.validators:
            if v.vendor not in LANDED:
                continue
            resp = out.responses[v.name]
            assert resp["cycles"] > 0 and resp["arrival"] >= resp["cycles"]
            assert (resp["vote"], resp["status"]) == (ref.responses[v.name]["vote"],
                                                      ref.responses[v.name]["status"])
        counted = {vote.validator: vote for vote, ok, _, _ in out.received if ok}
        ref_counted = {vote.validator: vote for vote, ok, _, _ in ref.received if ok}
        assert counted == ref_counted

    first = outs[0]
    # the decision waits for the slowest core it needs: its latency is the cluster's figure
    assert first.decision.latency >= max(first.responses[v]["arrival"] for v in LANDED
                                         if v != quiet)
    from sim import results
    results.record("cluster", requests=len(outs),
                   decision_latency_one_silent_cycles=first.decision.latency,
                   **{f"{v}_cycles": first.responses[v]["cycles"] for v in LANDED},
                   **{f"{v}_arrival": first.responses[v]["arrival"] for v in LANDED})
    outcomes = {kind: outs[1 + i].decision.outcome for i, kind in enumerate(FAULTS)}
    assert outs[0].decision.outcome == "accepted"
    # Every fault but one blocks acceptance. An equivocating core's first vote is honest: if
    # it completes the quorum before the second arrives, the request is accepted and the
    # second vote becomes evidence; if both arrive first, the core drops out (no_quorum).
    eq_outcome = outcomes.pop("equivocate")
    assert eq_outcome in ("accepted", "no_quorum")
    assert outcomes == {kind: "no_quorum" for kind in FAULTS if kind != "equivocate"}
    assert outs[-1].decision.outcome == "accepted"
    assert outs[-1].responses[target]["vote"] is False
    eq = outs[1 + FAULTS.index("equivocate")]
    assert [e.validator for e in eq.evidence] == [target]
    reasons = {kind: {reason for vote, _, reason, _ in outs[1 + i].received
                      if vote.validator == target}
               for i, kind in enumerate(FAULTS)}
    assert reasons["corrupt"] == {"invalid_attestation"}
    assert reasons["late"] == {"closed"}
    assert reasons["replay"] == {"closed"}          # the previous request's vote
    assert reasons["silent"] == set()
    assert "equivocation" in reasons["equivocate"] or "withdrawn" in reasons["equivocate"]


def test_decide_runs_one_collector_for_every_backend(tmp_path, capsys, monkeypatch):
    """``decide --backend golden`` and ``--backend software,<landed>=rtl`` take the same path:
    one ``run_requests`` call and one collector opening, in this process (the cluster bench
    runs no collector: it only returns responses)."""
    import consensus.cluster
    from consensus.collector import Collector
    from pqvote.cli import main

    keys = tmp_path / "keys"
    assert main(["keygen", "--out", str(keys)]) == 0
    assert main(["mint", "--keys", str(keys), "--descriptor", D.hex(),
                 "--out", str(tmp_path / "proofs.json")]) == 0
    capsys.readouterr()
    calls, opened = [], []
    real_run, real_open = consensus.cluster.run_requests, Collector._open
    monkeypatch.setattr(consensus.cluster, "run_requests",
                        lambda *a, **kw: calls.append(1) or real_run(*a, **kw))
    monkeypatch.setattr(Collector, "_open",
                        lambda self, ev: opened.append(ev.nonce) or real_open(self, ev))
    reports = {}
    for backend in ("golden", "software," + ",".join(f"{v}=rtl" for v in LANDED)):
        calls.clear(), opened.clear()
        code = main(["decide", "--keys", str(keys), "--proofs", str(tmp_path / "proofs.json"),
                     "--backend", backend, "--db", str(tmp_path / f"{len(reports)}.db")])
        out, err = capsys.readouterr()
        assert code == 0, err
        assert len(calls) == 1 and len(opened) == 1, (backend, calls, opened)
        reports[backend] = json.loads(out)
    golden_report, rtl_report = reports.values()
    assert golden_report["outcome"] == rtl_report["outcome"] == "accepted"
    # every core honest: the quorum completes with the fastest cores
    latency = rtl_report["decision_latency"]
    assert latency == sorted([rtl_report["responses"][v]["arrival"] for v in LANDED]
                             + [i + 1 for i, v in enumerate(gp.VENDORS) if v not in LANDED]
                             )[rtl_report["tally"]["quorum"] - 1]
    from sim import results
    results.record("cluster", decision_latency_all_honest_cycles=latency)
    for v in LANDED:
        assert golden_report["responses"][v]["cycles"] is None
        assert rtl_report["responses"][v]["cycles"] > 0
        assert rtl_report["responses"][v]["arrival"] >= rtl_report["responses"][v]["cycles"]
        assert rtl_report["responses"][v]["vote"] == golden_report["responses"][v]["vote"]


def test_landed_does_not_hide_a_broken_registry(monkeypatch):
    """A registry that fails to import is an error, not "no core has landed"."""
    import sys
    monkeypatch.setitem(sys.modules, "hdl.cores", None)     # import raises ImportError
    with pytest.raises(ImportError):
        RtlSource.landed()


def test_rtl_agrees_on_corrupted_keys():
    """Every corrupted-key class of every landed core, and no key at all: the RTL response
    (status, vote, attestation, digest) equals the golden model's. One simulation.

    A key of the wrong length moves where ``K_att`` sits in the key-load stream (key words
    then ``K_att`` words, SPEC §4), so the core cannot know the ``K_att`` the golden model is
    given: for those two classes status and vote must agree, the attestation is the core's
    own. One vendor per batch: each runs on its core's own model (the one its bench builds)."""
    from consensus.sources import GoldenSource
    from tests.test_consensus_sources import corrupted_keys

    keys = _keys()
    k_att = bytes(range(32, 64))
    batch, names, got = [], [], []
    for vendor in LANDED:
        proof = gp.mint(vendor, keys[vendor][1], D)
        variants = dict(corrupted_keys(vendor, keys[vendor][0]), valid=keys[vendor][0],
                        no_key=None)
        ours = [(vendor, key, k_att, D, 3, proof) for key in variants.values()]
        got += RtlSource().validate_batch(ours)
        batch += ours
        names += [(vendor, name) for name in variants]
    for (vendor, name), call, r in zip(names, batch, got):
        g = GoldenSource().validate(*call)
        assert (r.vote, r.status, r.digest) == (g.vote, g.status, g.digest), \
            (vendor, name, r.status, g.status)
        if name not in ("short", "long"):
            assert r.attestation == g.attestation, (vendor, name)
    assert {n: r.status for n, r in zip(names, got)}[(LANDED[0], "short")] == gp.Status.BAD_KEY
