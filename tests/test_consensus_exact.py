"""Exact behaviour of the collector and certificate code where the invariant suites only see
"refused" or "invalid": every configuration and input error with its message, every
certificate defect with its reason, the JSON and canonical encodings byte for byte, the
counters, and the boundaries (nonce 0 and 2^64 − 1, a vote exactly at the deadline).

These tests were written against the survivors of ``make mutation`` (docs/consensus.md).
"""

import dataclasses
import functools
import json

import pytest

import golden.proof as gp
from consensus.collector import (Collector, Counted, Decided, Decision, EvidenceFound,
                                 Finalized, Open, Receive, Refused, Tick, tally_outcome)
from consensus.simulation import make_cluster
from consensus.sources import software_attestation
from consensus.votes import (NONCE_MAX, Certificate, ConfigError, Evidence, Validator,
                             ValidatorSet, Vote, certificate_signing_bytes, check_certificate,
                             check_evidence, power_violation, quorum_for, safe_quorum,
                             strict_hex)

attest = functools.lru_cache(maxsize=None)(gp.attestation)
D = bytes(range(24))
PD = bytes(range(32, 64))
VS = make_cluster(4, seed=1)
A, B, C, E = VS.validators


def vote(v, value=True, *, nonce=2, descriptor=D, digest=PD):
    return Vote(v.name, nonce, descriptor, value, digest,
                software_attestation(v.k_att, v.vendor, nonce, descriptor, value, digest))


def opened(nonce=2, deadline=10.0, vs=VS):
    col = Collector(vs, attest=attest)
    col.step(Open(nonce, D, at=0.0, deadline=deadline))
    return col


def cert_of(votes, vs=VS, nonce=2):
    col = opened(nonce=nonce, vs=vs)
    for i, v in enumerate(votes):
        col.step(Receive(v, at=1.0 + i))
    return col.decision(nonce).certificate


# -- quorum and power rule ------------------------------------------------------------------

def test_safe_quorum_values():
    assert [safe_quorum(p) for p in range(1, 13)] == [1, 2, 3, 3, 4, 5, 5, 6, 7, 7, 8, 9]
    for p in range(1, 40):
        with pytest.raises(ConfigError, match=f"below the safe bound floor\\(2n/3\\)\\+1 = "
                                              f"{2 * p // 3 + 1}"):
            quorum_for(2 * p // 3, p)
    with pytest.raises(ConfigError, match="^Total voting power must be at least 1, not 0$"):
        quorum_for("ge_3_4", 0)
    with pytest.raises(ConfigError, match="^Quorum 5 exceeds the total voting power 4"):
        quorum_for(5, 4)


def test_power_violation_messages():
    heavy = [dataclasses.replace(A, power=3), B, C, E]
    assert power_violation(heavy, 5) == (
        "Validator 'intel' holds power 3 of 6: without it the others cannot reach the "
        "quorum 5, so alone it could block (or, with power >= q, reach) a decision; each "
        "validator may hold at most P - q = 1")
    assert power_violation(VS.validators, 3) is None
    lattice = [A, B, Validator("intel.1", "intel", bytes(range(32))), E]
    assert power_violation(lattice, 3) == (
        "Algorithm family lattice (amd, intel) holds power 3 of 4, at least the quorum 3: a "
        "break of that one family could accept alone")


def test_validator_and_set_messages():
    cases = [
        (lambda: Validator("", "arm", bytes(32)), "Validator name must be a non-empty string"),
        (lambda: Validator(5, "arm", bytes(32)),
         "Validator name must be a non-empty string, not 5"),
        (lambda: Validator("x", "sparc", bytes(32)),
         "Unknown vendor 'sparc'; expected one of intel, amd, arm, riscv"),
        (lambda: Validator("x", "arm", bytes(31)), "Attestation key of 'x' must be 32 bytes"),
        (lambda: Validator("x", "arm", "k" * 32), "Attestation key of 'x' must be 32 bytes"),
        (lambda: Validator("x", "arm", bytes(32), True), "Voting power of 'x' must be a positive"),
        (lambda: Validator("x", "arm", bytes(32), 1.0), "Voting power of 'x' must be a positive"),
        (lambda: Validator("x", "arm", bytes(32), 0), "Voting power of 'x' must be a positive"),
        (lambda: ValidatorSet([]), "A validator set needs at least one validator"),
        (lambda: ValidatorSet([A, "B"]), "Expected a Validator, not 'B'"),
        (lambda: ValidatorSet([A, B, C, dataclasses.replace(E, k_att=A.k_att)]),
         "Attestation keys must be distinct per validator"),
        (lambda: ValidatorSet(VS.validators, "majority"), "Quorum rule must be one of"),
        (lambda: ValidatorSet(VS.validators, True), "Quorum rule must be one of"),
    ]
    for make, message in cases:
        with pytest.raises(ConfigError) as e:
            make()
        assert str(e.value).startswith(message), (message, str(e.value))
    assert "intel" in VS and "mallory" not in VS and len(VS) == 4
    assert VS["amd"] is B and VS.get("mallory") is None and VS.f == 1 and VS.rule == "gt_2_3"


# -- collector: opening, events, counters -----------------------------------------------------

def test_open_and_event_errors():
    col = Collector(VS, attest=attest)
    for nonce in (-1, 1 << 64, True, 1.0):
        with pytest.raises(ValueError, match="^Nonce must be an unsigned 64-bit integer, not "):
            col.step(Open(nonce, D, at=0.0, deadline=1.0))
    for nonce in (0, NONCE_MAX):
        col.step(Open(nonce, D, at=0.0, deadline=1.0))
    with pytest.raises(ValueError, match=f"^Request {NONCE_MAX} is already open or decided$"):
        col.step(Open(NONCE_MAX, D, at=0.0, deadline=1.0))
    for descriptor in (D[:23], bytearray(D), D + b"\0"):
        with pytest.raises(ValueError, match="^Descriptor must be 24 bytes$"):
            col.step(Open(5, descriptor, at=0.0, deadline=1.0))
    for deadline in (float("nan"), float("inf"), "1"):
        with pytest.raises(ValueError, match="^The deadline must be a finite number, not "):
            col.step(Open(5, D, at=0.0, deadline=deadline))
    for at in (float("nan"), float("-inf"), None, True):
        with pytest.raises(ValueError, match="^The event time must be a finite number, not "):
            col.step(Tick(at))
    with pytest.raises(ValueError, match="^Deadline must lie after the opening time$"):
        col.step(Open(5, D, at=3.0, deadline=3.0))
    col.step(Open(5, D, at=3.0, deadline=3.5))       # just after is fine
    with pytest.raises(TypeError, match="^Unknown event 'tick'$"):
        col.step("tick")
    with pytest.raises(TypeError, match="^validators must be a ValidatorSet, not "):
        Collector([A, B, C, E])
    assert col.decision(7) is None and col.evidence(7) == []


def test_default_attestation_is_golden():
    col = Collector(VS)
    col.step(Open(2, D, at=0.0, deadline=10.0))
    assert [type(e) for e in col.step(Receive(vote(A), at=1.0))] == [Counted]


def test_open_finalizes_earlier_requests_in_the_same_step():
    col = opened(nonce=1, deadline=5.0)
    effects = col.step(Open(2, D, at=5.0, deadline=9.0))
    assert [type(e) for e in effects] == [Decided, Finalized]
    assert effects[1] == Finalized(1, ("amd", "arm", "intel", "riscv"))
    assert col.decision(1).decided_at == 5.0 and col.decision(1).outcome == "no_quorum"


def test_vote_exactly_at_the_deadline_is_closed_and_not_counted():
    col = opened(deadline=10.0)
    effects = col.step(Receive(vote(A), at=10.0))
    assert [type(e) for e in effects] == [Decided, Finalized, Refused]
    assert effects[2] == Refused(vote(A), "closed")
    assert col.counters["intel"] == {"yes": 0, "no": 0, "missed": 1, "invalid_attestation": 0,
                                     "equivocations": 0, "duplicates": 0, "refused": 1}
    # just before the deadline it is counted
    col = opened(deadline=10.0)
    assert [type(e) for e in col.step(Receive(vote(A), at=9.999))] == [Counted]


def test_refusals_carry_the_vote_and_count_exactly():
    col = opened()
    col.step(Open(3, bytes(24), at=0.0, deadline=10.0))
    col.step(Receive(vote(B, nonce=3, descriptor=bytes(24)), at=1.0))
    col.step(Receive(vote(C, nonce=3, descriptor=bytes(24)), at=1.0))
    col.step(Receive(vote(E, nonce=3, descriptor=bytes(24)), at=1.0))   # 3 decided
    bad = {
        "malformed": dataclasses.replace(vote(A), descriptor=D[:5]),
        "unknown_validator": dataclasses.replace(vote(A), validator="mallory"),
        "unknown_request": vote(A, nonce=9),
        "descriptor_mismatch": vote(A, descriptor=bytes(24)),
        "invalid_attestation": dataclasses.replace(vote(A), attestation=bytes(32)),
        "closed": vote(A, nonce=3, descriptor=bytes(24)),
    }
    for reason, v in bad.items():
        assert col.step(Receive(v, at=2.0)) == [Refused(v, reason)], reason
    assert col.counters["intel"]["refused"] == 5      # all but unknown_validator
    assert col.counters["intel"]["invalid_attestation"] == 1
    col2 = Collector(VS, attest=attest)
    col2.step(Open(2, D, at=0.0, deadline=10.0, digests={"intel": bytes(32)}))
    v = vote(A)
    assert col2.step(Receive(v, at=1.0)) == [Refused(v, "digest_mismatch")]
    assert col2.counters["intel"]["refused"] == 1


def test_equivocation_counts_and_exclusion_refusal():
    col = opened()
    col.step(Receive(vote(A, True), at=1.0))
    effects = col.step(Receive(vote(A, False), at=2.0))
    assert effects == [Refused(vote(A, False), "equivocation"),
                       EvidenceFound(Evidence.of(vote(A, True), vote(A, False)))]
    late = vote(A, True, digest=bytes(32))
    assert col.step(Receive(late, at=3.0)) == [Refused(late, "excluded")]
    c = col.counters["intel"]
    assert (c["equivocations"], c["refused"], c["yes"], c["no"]) == (1, 2, 1, 0)
    assert col.evidence(2) == [Evidence.of(vote(A, True), vote(A, False))]


def test_valid_vote_after_the_decision_is_closed_but_counted_per_validator():
    col = opened()
    for v in (A, B, C):
        col.step(Receive(vote(v), at=1.0))
    assert col.step(Receive(vote(E, False), at=2.0)) == [Refused(vote(E, False), "closed")]
    assert col.counters["riscv"]["no"] == 1 and col.counters["riscv"]["refused"] == 1


def test_decision_and_json():
    col = opened()
    for i, v in enumerate((A, B, C)):
        col.step(Receive(vote(v), at=1.0 + i))
    d = col.decision(2)
    assert (d.outcome, d.yes, d.no, d.excluded, d.opened_at, d.decided_at, d.latency) == \
        ("accepted", 3, 0, (), 0.0, 3.0, 3.0)
    assert d.to_json() == {"nonce": 2, "descriptor": D.hex(), "outcome": "accepted",
                           "tally": {"yes": 3, "no": 0, "excluded": []},
                           "certificate": d.certificate.to_json(), "opened_at": 0.0,
                           "decided_at": 3.0}
    assert Decision(2, D, "no_quorum", None, 0, 0, ("x",), 1.0, 4.5).to_json()["certificate"] \
        is None
    assert col.run([Tick(20.0)]) == [Finalized(2, ("riscv",))]
    assert tally_outcome(2, 2, 0, 3) == ("rejected", "unreachable")


# -- votes, evidence and certificates as JSON --------------------------------------------------

def test_vote_canonical_and_json_round_trip():
    v = vote(A, nonce=NONCE_MAX)
    assert v.well_formed() and vote(A, nonce=0).well_formed()
    assert v.canonical() == (
        '{"attestation":"' + v.attestation.hex() + '","descriptor":"' + D.hex()
        + '","nonce":18446744073709551615,"proof_digest":"' + PD.hex()
        + '","validator":"intel","vote":true}').encode()
    assert Vote.from_json(json.loads(json.dumps(v.to_json()))) == v


@pytest.mark.parametrize("change,message", [
    ({"extra": 1}, "vote: unknown field 'extra'"),
    ({"vote": 1}, "vote must be true or false, not 1"),
    ({"nonce": -1}, "nonce must be an unsigned 64-bit integer, not -1"),
    ({"nonce": 1 << 64}, "nonce must be an unsigned 64-bit integer"),
    ({"nonce": True}, "nonce must be an unsigned 64-bit integer, not True"),
    ({"nonce": "2"}, "nonce must be an unsigned 64-bit integer, not '2'"),
    ({"validator": 7}, "validator must be a string, not 7"),
    ({"descriptor": " " + D.hex()[1:]}, "vote descriptor: not valid hex"),
    ({"proof_digest": 5}, "vote proof_digest: expected a hex string, got int"),
    ({"attestation": "0"}, "vote attestation: not valid hex"),
])
def test_vote_from_json_errors(change, message):
    obj = dict(vote(A).to_json(), **change)
    with pytest.raises(ValueError) as e:
        Vote.from_json(obj)
    assert str(e.value).startswith(message), str(e.value)


def test_vote_from_json_missing_and_not_object():
    for field in ("validator", "nonce", "descriptor", "vote", "proof_digest", "attestation"):
        obj = vote(A).to_json()
        del obj[field]
        with pytest.raises(ValueError, match=f"^vote is missing the field '{field}'$"):
            Vote.from_json(obj)
    with pytest.raises(ValueError, match="^A vote must be a JSON object, not list$"):
        Vote.from_json([])


def test_evidence_json():
    ev = Evidence.of(vote(A, True), vote(A, False))
    obj = json.loads(json.dumps(ev.to_json()))
    assert obj == {"kind": "equivocation", "validator": "intel", "nonce": 2,
                   "votes": [ev.first.to_json(), ev.second.to_json()]}
    assert Evidence.from_json(obj) == ev
    assert Evidence.from_json({"votes": obj["votes"][::-1]}) == ev     # canonical order
    bad = [
        ([], "Evidence must be a JSON object, not list"),
        (dict(obj, extra=1), "evidence: unknown field 'extra'"),
        (dict(obj, votes=obj["votes"][:1]), "evidence must hold a list of two votes"),
        (dict(obj, votes="x"), "evidence must hold a list of two votes"),
        (dict(obj, kind="twins"), "unknown evidence kind 'twins'"),
        (dict(obj, validator="amd"), "evidence validator does not match its votes"),
        (dict(obj, nonce=3), "evidence nonce does not match its votes"),
    ]
    for o, message in bad:
        with pytest.raises(ValueError) as e:
            Evidence.from_json(o)
        assert str(e.value) == message
    assert check_evidence(ev, VS, attest=attest) is None
    forged = Evidence.of(vote(A, True), dataclasses.replace(vote(A, False),
                                                            attestation=bytes(32)))
    assert check_evidence(forged, VS, attest=attest) == "evidence against 'intel' does not verify"


def test_certificate_json_errors():
    cert = cert_of([vote(v) for v in (A, B, C)])
    obj = json.loads(json.dumps(cert.to_json()))
    assert Certificate.from_json(obj) == cert
    no_sig = dict(obj)
    del no_sig["signature"], no_sig["evidence"]
    assert Certificate.from_json(no_sig) == cert
    bad = [
        ([], "A certificate must be a JSON object"),
        (dict(obj, extra=1), "certificate: unknown field 'extra'"),
        (dict(obj, votes={}), "certificate votes and evidence must be lists"),
        (dict(obj, evidence={}), "certificate votes and evidence must be lists"),
        (dict(obj, nonce=True), "certificate nonce must be an integer, not True"),
        (dict(obj, quorum="3"), "certificate quorum must be an integer, not '3'"),
        (dict(obj, total_power=4.0), "certificate total_power must be an integer, not 4.0"),
        (dict(obj, outcome=1), "certificate outcome must be a string, not 1"),
        (dict(obj, reason=None), "certificate reason must be a string, not None"),
        (dict(obj, descriptor=D.hex().upper() + " "), "descriptor: not valid hex"),
        (dict(obj, signature="zz"), "signature: not valid hex"),
    ]
    for o, message in bad:
        with pytest.raises(ValueError) as e:
            Certificate.from_json(o)
        assert str(e.value).startswith(message), (message, str(e.value))
    for field in ("nonce", "descriptor", "outcome", "reason", "quorum", "total_power", "votes"):
        o = dict(obj)
        del o[field]
        with pytest.raises(ValueError, match=f"^certificate is missing the field '{field}'$"):
            Certificate.from_json(o)


def test_signing_bytes_exact():
    cert = cert_of([vote(v) for v in (A, B, C)])
    body = cert.to_json()
    del body["signature"]
    del body["epoch"]           # the genesis epoch signs as before epochs existed
    text = json.dumps(body, sort_keys=True, separators=(",", ":"))
    assert certificate_signing_bytes(cert) == b"pqvote/certificate\x00" + text.encode()
    assert text.startswith('{"descriptor":"') and ", " not in text
    later = dataclasses.replace(cert, epoch=3)
    body = dict(later.to_json())
    del body["signature"]
    text = json.dumps(body, sort_keys=True, separators=(",", ":"))
    assert certificate_signing_bytes(later) == b"pqvote/certificate\x00" + text.encode()
    assert '"epoch":3' in text


def test_strict_hex():
    assert strict_hex("00Ff", "x") == b"\x00\xff" and strict_hex("", "x", 0) == b""
    for text, message in (("0", "x: not valid hex (an even number of 0-9a-f digits)"),
                          ("0 0", "x: not valid hex"), ("00\n", "x: not valid hex"),
                          (None, "x: expected a hex string, got NoneType"),
                          ("0000", "x: expected 3 bytes, got 2")):
        with pytest.raises(ValueError) as e:
            strict_hex(text, "x", 3 if text == "0000" else None)
        assert str(e.value).startswith(message), str(e.value)


# -- certificate defects: the reason for each ---------------------------------------------------

def test_every_certificate_defect_has_its_reason():
    yes = cert_of([vote(v) for v in (A, B, C)])
    no = cert_of([vote(B, False), vote(C, False), vote(E, False)])
    twin = cert_of([vote(B, False), vote(A, True), vote(A, True, digest=bytes(32))])
    assert no.reason == "unreachable" and not no.evidence
    assert twin.reason == "unreachable" and len(twin.evidence) == 1
    ok = dict(attest=attest, allow_unsigned=True)
    for cert in (yes, no, twin):
        assert check_certificate(cert, VS, **ok) is None
    other_nonce = vote(C, nonce=3)
    other_descriptor = vote(C, descriptor=bytes(24))
    bogus_ev = Evidence.of(vote(E, False), dataclasses.replace(vote(E, True),
                                                               attestation=bytes(32)))
    cases = [
        ("not a cert", "not a certificate"),
        (dataclasses.replace(yes, outcome="maybe"), "unknown outcome 'maybe'"),
        (dataclasses.replace(yes, reason="unreachable"),
         "an acceptance needs reason 'quorum', not 'unreachable'"),
        (dataclasses.replace(no, reason="bogus"), "unknown rejection reason 'bogus'"),
        (dataclasses.replace(yes, descriptor=D[:23]), "descriptor must be 24 bytes"),
        (dataclasses.replace(yes, descriptor="x" * 24), "descriptor must be 24 bytes"),
        (dataclasses.replace(yes, quorum=4),
         "certificate claims quorum 4 of 4, the validator set has 3 of 4"),
        (dataclasses.replace(yes, total_power=5),
         "certificate claims quorum 3 of 5, the validator set has 3 of 4"),
        (dataclasses.replace(yes, votes=(dataclasses.replace(yes.votes[0], nonce=-1),)),
         "malformed vote"),
        (dataclasses.replace(yes, votes=yes.votes + yes.votes[:1]),
         "validator 'amd' signs twice"),
        (dataclasses.replace(yes, votes=(dataclasses.replace(yes.votes[0],
                                                              validator="mallory"),)),
         "unknown validator 'mallory'"),
        (dataclasses.replace(yes, votes=(yes.votes[0], other_nonce, yes.votes[2])),
         "vote of 'arm' is for another request"),
        (dataclasses.replace(yes, votes=(yes.votes[0], other_descriptor, yes.votes[2])),
         "vote of 'arm' is for another request"),
        (dataclasses.replace(yes, votes=(yes.votes[0], vote(C, False), yes.votes[2])),
         "vote of 'arm' disagrees with the decision"),
        (dataclasses.replace(yes, votes=yes.votes[:2] + (dataclasses.replace(
            yes.votes[2], attestation=bytes(32)),)), "attestation of 'intel' does not verify"),
        (dataclasses.replace(yes, votes=yes.votes[:2]), "counted power 2 is below the quorum 3"),
        (dataclasses.replace(yes, evidence=twin.evidence),
         "only an unreachable rejection carries evidence"),
        (dataclasses.replace(twin, evidence=(bogus_ev,)),
         "evidence against 'riscv' does not verify"),
        (dataclasses.replace(twin, evidence=("x",)), "malformed evidence"),
        (dataclasses.replace(twin, evidence=twin.evidence + twin.evidence),
         "validator 'intel' both signs and is excluded"),
        (dataclasses.replace(no, votes=no.votes[:1]),
         "counted no-power 1 does not exclude a yes-quorum (needs more than 1)"),
    ]
    for cert, reason in cases:
        assert check_certificate(cert, VS, **ok) == reason, reason


def test_evidence_defects_in_a_certificate():
    twin = cert_of([vote(B, False), vote(A, True), vote(A, True, digest=bytes(32))])
    ev = twin.evidence[0]
    ok = dict(attest=attest, allow_unsigned=True)
    cases = [
        (dataclasses.replace(ev, validator="mallory"),
         "evidence names an unknown validator 'mallory'"),
        (dataclasses.replace(ev, first=dataclasses.replace(ev.first, validator="amd")),
         "malformed evidence vote"),
        (dataclasses.replace(ev, first=dataclasses.replace(ev.first, nonce=-1)),
         "malformed evidence vote"),
        (dataclasses.replace(ev, second=vote(A, False, nonce=3)),
         "evidence against 'intel' is for another request"),
        (dataclasses.replace(ev, second=vote(A, False, descriptor=bytes(24))),
         "evidence against 'intel' is for another request"),
        (dataclasses.replace(ev, second=ev.first), "evidence against 'intel' holds one vote twice"),
    ]
    for bad, reason in cases:
        assert check_certificate(dataclasses.replace(twin, evidence=(bad,)), VS, **ok) == reason


def test_collector_key_from_the_argument_or_the_set():
    from pqcrypto.sign import ml_dsa_44
    from consensus.collector import ml_dsa_44_signer
    pk, sk = ml_dsa_44.keygen()
    col = Collector(VS, attest=attest, sign=ml_dsa_44_signer(sk))
    col.step(Open(2, D, at=0.0, deadline=10.0))
    for v in (A, B, C):
        col.step(Receive(vote(v), at=1.0))
    cert = col.decision(2).certificate
    assert check_certificate(cert, VS, attest=attest, collector_pk=pk) is None
    keyed = ValidatorSet(VS.validators, VS.rule, collector_pk=pk)
    assert check_certificate(cert, keyed, attest=attest) is None
    other, _ = ml_dsa_44.keygen()
    assert check_certificate(cert, keyed, attest=attest, collector_pk=other) == \
        "collector signature does not verify"
    assert check_certificate(cert, VS, attest=attest) == \
        "no collector public key to check the signature (allow_unsigned not given)"


def test_remaining_survivors():
    """The last survivors of the first ``make mutation`` runs, one assertion each."""
    # the rule names in the refusal, for an unknown name and for a non-rule type
    for rule in ("majority", [3]):
        with pytest.raises(ConfigError) as e:
            quorum_for(rule, 4)
        assert str(e.value) == ("Quorum rule must be one of ge_3_4, gt_2_3, unanimous or an "
                                f"integer, not {rule!r}")
    # nonce 0 is a nonce
    v0 = vote(A, nonce=0)
    assert Vote.from_json(v0.to_json()) == v0
    # a certificate's evidence survives its JSON round trip
    twin = cert_of([vote(B, False), vote(A, True), vote(A, True, digest=bytes(32))])
    assert Certificate.from_json(json.loads(json.dumps(twin.to_json()))) == twin
    # a rejection by a no-quorum (three no votes, built by hand: the collector decides
    # "unreachable" at the second)
    nos = tuple(sorted((vote(v, False) for v in (B, C, E)), key=lambda x: x.validator))
    by_quorum = Certificate(2, D, "rejected", "quorum", 3, 4, nos)
    assert check_certificate(by_quorum, VS, attest=attest, allow_unsigned=True) is None
    # check_evidence without an attest function uses the golden one
    assert check_evidence(twin.evidence[0], VS) is None
    # counters add up over requests
    col = Collector(VS, attest=attest)
    for nonce in (1, 2):
        col.step(Open(nonce, D, at=0.0, deadline=10.0))
        col.step(Receive(dataclasses.replace(vote(A, nonce=nonce), attestation=bytes(32)),
                         at=1.0))
        col.step(Receive(vote(A, True, nonce=nonce), at=1.0))
        col.step(Receive(vote(A, False, nonce=nonce), at=1.0))
        for v in (B, C, E):
            col.step(Receive(vote(v, nonce=nonce), at=2.0))
    c = col.counters["intel"]
    assert (c["equivocations"], c["refused"], c["invalid_attestation"]) == (2, 4, 2)
    assert col.decisions == {"accepted": 2, "rejected": 0, "no_quorum": 0}
