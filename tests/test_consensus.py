"""Consensus collector: quorum rules, forgery, replay, exhaustive n = 4, twins, deterministic
simulation, common mode, certificates, counters and the mutation check.

``PQVOTE_FULL=1`` runs more arrival orders and seeds.
"""

import dataclasses
import functools
import itertools
import os
import random

import pytest
from hypothesis import given, settings, strategies as st

import golden.proof as gp
from consensus.collector import (Collector, Counted, Decided, EvidenceFound, Finalized, Open,
                                 Receive, Refused, Tick, ml_dsa_44_signer, tally_outcome)
from consensus.simulation import (BEHAVIOURS, Network, Scenario, check_run, make_cluster,
                                  simulate)
from consensus.sources import software_attestation
from consensus.votes import (RULES, Certificate, ConfigError, Evidence, Validator,
                             ValidatorSet, Vote, check_certificate, quorum_for, safe_quorum,
                             verify_certificate, VENDOR_IDS)

FULL = os.environ.get("PQVOTE_FULL") == "1"
# PQVOTE_SEED varies the random scenarios and arrival orders (unset: the default ones).
SEED = os.environ.get("PQVOTE_SEED", "")

# The collector checks with the golden KMAC (cached: the same few attestations recur in every
# scenario); the simulated cores attest with the independent pycryptodome KMAC.
golden_attest = functools.lru_cache(maxsize=None)(gp.attestation)

D = bytes(range(24))
PD = bytes(range(32, 64))


def vote_of(v: Validator, value=True, *, nonce=2, descriptor=D, digest=PD):
    return Vote(v.name, nonce, descriptor, value, digest,
                software_attestation(v.k_att, v.vendor, nonce, descriptor, value, digest))


def opened(vs, nonce=2, deadline=100.0, **kw):
    col = Collector(vs, attest=golden_attest, **kw)
    col.step(Open(nonce, D, at=0.0, deadline=deadline))
    return col


def kinds(effects, cls):
    return [e for e in effects if isinstance(e, cls)]


def receive(col, *votes, at=1.0):
    """Step ``votes`` into ``col`` one time unit apart from ``at``; the last step's effects."""
    effects = []
    for i, vote in enumerate(votes):
        effects = col.step(Receive(vote, at=at + i))
    return effects


def test_vendor_ids_match_golden():
    assert VENDOR_IDS == gp.VENDORS


# -- quorum rules ----------------------------------------------------------------------------

def test_quorum_rules_values():
    for n in range(1, 17):
        assert quorum_for("gt_2_3", n) == 2 * n // 3 + 1
        assert quorum_for("ge_3_4", n) == next(q for q in range(n + 1) if 4 * q >= 3 * n)
        assert quorum_for("unanimous", n) == n
    assert quorum_for("gt_2_3", 4) == quorum_for("ge_3_4", 4) == 3


@pytest.mark.parametrize("n", range(1, 17))
def test_unsafe_quorum_refused(n):
    bound = safe_quorum(n)
    for q in range(0, bound):
        with pytest.raises(ConfigError, match="below the safe bound"):
            quorum_for(q, n)
    assert quorum_for(bound, n) == bound
    with pytest.raises(ConfigError, match="exceeds"):
        quorum_for(n + 1, n)


def test_bad_configs_refused():
    with pytest.raises(ConfigError, match="Quorum rule"):
        quorum_for("majority", 4)
    vs = make_cluster(4)
    with pytest.raises(ConfigError, match="below the safe bound"):
        ValidatorSet(vs.validators, 2)
    with pytest.raises(ConfigError, match="Duplicate"):
        ValidatorSet(vs.validators + vs.validators[:1])
    with pytest.raises(ConfigError, match="distinct"):
        ValidatorSet([vs.validators[0], dataclasses.replace(vs.validators[1],
                                                            k_att=vs.validators[0].k_att)])
    with pytest.raises(ConfigError, match="Unknown vendor"):
        Validator("x", "sparc", bytes(32))
    with pytest.raises(ConfigError, match="power"):
        Validator("x", "arm", bytes(32), 0)


# -- brute-force quorum-intersection oracle ----------------------------------------------------

def _powers_table(powers):
    n = len(powers)
    table = [0] * (1 << n)
    for mask in range(1, 1 << n):
        low = mask & -mask
        table[mask] = table[mask ^ low] + powers[low.bit_length() - 1]
    return table


def _oracle_conflict(table, n, mask_s, q):
    """Can two quorums (power ≥ q) meet in exactly the double signers ``mask_s``?  Brute force
    over the splits of the other validators into the two sides."""
    rest = ((1 << n) - 1) & ~mask_s
    need = q - table[mask_s]
    if need <= 0:
        return True
    sub = rest
    while True:
        if table[sub] >= need and table[rest ^ sub] >= need:
            return True
        if sub == 0:
            return False
        sub = (sub - 1) & rest


def _oracle_cases():
    rng = random.Random(7)
    for n in range(1, 17):
        yield n, [1] * n
        if n <= 11:     # 3^n splits: weighted cases brute-forced up to n = 11
            yield n, [rng.randint(1, 3) for _ in range(n)]


@pytest.mark.parametrize("n,powers", list(_oracle_cases()),
                         ids=lambda x: str(x) if isinstance(x, int) else "w" if set(x) - {1} else "u")
def test_quorum_intersection_oracle(n, powers):
    """Every signer subset S (2^n of them) against the decision rule and the oracle."""
    table = _powers_table(powers)
    total = table[-1]
    f = (total - 1) // 3
    unit = set(powers) == {1}
    for rule in RULES:
        q = quorum_for(rule, total)
        for s in range(1 << n):
            p = table[s]
            # The decision rule: S votes yes, the others no / not yet.
            assert tally_outcome(p, total - p, 0, q) == (
                ("accepted", "quorum") if p >= q else
                ("rejected", "quorum") if total - p >= q else ("rejected", "unreachable"))
            waiting = tally_outcome(p, 0, total - p, q)
            assert waiting == (("accepted", "quorum") if p >= q else None)
            # The oracle: S as the double signers of two conflicting quorums.
            if unit:
                conflict = p >= q or n - p >= 2 * (q - p)
            else:
                conflict = _oracle_conflict(table, n, s, q)
            if conflict:
                assert p > f, (rule, n, bin(s))
                assert 3 * p > total, (rule, n, bin(s))
        # One below the rule's quorum is refused by the configuration check, and the oracle
        # agrees that quorum would be unsafe whenever it is below ⌊2P/3⌋ + 1.
        if q - 1 < safe_quorum(total):
            with pytest.raises(ConfigError):
                quorum_for(q - 1, total)


@pytest.mark.parametrize("n", range(1, 7))
def test_collector_matches_oracle_all_subsets(n):
    """The whole collector (with real attestations) on every signer subset, every rule the
    power rule admits for ``n`` validators over the four vendors."""
    for rule in RULES:
        try:
            vs = make_cluster(n, rule=rule)
        except ConfigError as e:
            # n ≤ 3: one validator (or the lattice pair) could decide; unanimous: any one
            # validator blocks
            assert n <= 3 or rule == "unanimous", (n, rule, e)
            continue
        for mask in range(1 << n):
            col = Collector(vs, attest=software_attestation)
            col.step(Open(2, D, at=0.0, deadline=10.0))
            for i, v in enumerate(vs.validators):
                col.step(Receive(vote_of(v, bool(mask >> i & 1)), at=1.0 + i))
            d = col.decision(2)
            yes = bin(mask).count("1")
            assert d.outcome == ("accepted" if yes >= vs.q else "rejected")
            assert verify_certificate(d.certificate, vs, attest=software_attestation, allow_unsigned=True)


# -- forgery and replay ------------------------------------------------------------------------

def _assert_not_counted(vs, vote, reason, **open_kw):
    col = opened(vs, **open_kw)
    eff = col.step(Receive(vote, at=1.0))
    assert kinds(eff, Counted) == []
    assert [r.reason for r in kinds(eff, Refused)] == [reason], vote
    return col


def test_forgery_every_field_mutated():
    vs = make_cluster(4)
    a, b = vs.validators[0], vs.validators[1]
    good = vote_of(a)
    n = 0
    # validator: another known validator (its key, its vendor id) or an unknown one
    _assert_not_counted(vs, dataclasses.replace(good, validator=b.name), "invalid_attestation")
    _assert_not_counted(vs, dataclasses.replace(good, validator="mallory"), "unknown_validator")
    # nonce: no such request
    _assert_not_counted(vs, dataclasses.replace(good, nonce=3), "unknown_request")
    # descriptor, every byte
    for i in range(24):
        d = bytearray(D)
        d[i] ^= 0x80
        _assert_not_counted(vs, dataclasses.replace(good, descriptor=bytes(d)),
                            "descriptor_mismatch")
        n += 1
    # vote bit
    _assert_not_counted(vs, dataclasses.replace(good, vote=False), "invalid_attestation")
    # proof digest, every byte; with expected digests the cheap check catches it first
    for i in range(32):
        pd = bytearray(PD)
        pd[i] ^= 1
        _assert_not_counted(vs, dataclasses.replace(good, proof_digest=bytes(pd)),
                            "invalid_attestation")
        col = Collector(vs, attest=golden_attest)
        col.step(Open(2, D, at=0.0, deadline=9.0, digests={a.name: PD}))
        eff = col.step(Receive(dataclasses.replace(good, proof_digest=bytes(pd)), at=1.0))
        assert [r.reason for r in kinds(eff, Refused)] == ["digest_mismatch"]
    # attestation, every bit
    for bit in range(256):
        att = bytearray(good.attestation)
        att[bit // 8] ^= 1 << (bit % 8)
        col = _assert_not_counted(vs, dataclasses.replace(good, attestation=bytes(att)),
                                  "invalid_attestation")
        assert col.counters[a.name]["invalid_attestation"] == 1
        n += 1
    # sizes and types
    for bad in (dataclasses.replace(good, descriptor=D[:23]),
                dataclasses.replace(good, proof_digest=PD + b"\0"),
                dataclasses.replace(good, attestation=good.attestation[:31]),
                dataclasses.replace(good, nonce=-1), dataclasses.replace(good, nonce=1 << 64),
                dataclasses.replace(good, vote=1), "not a vote"):
        _assert_not_counted(vs, bad, "malformed")
    # the genuine vote is counted
    col = opened(vs)
    assert kinds(col.step(Receive(good, at=1.0)), Counted)
    assert n == 280


def test_forgery_swapped_attestations_and_wrong_keys():
    vs = make_cluster(4)
    votes = [vote_of(v) for v in vs.validators]
    for x, y in itertools.permutations(range(4), 2):
        swapped = dataclasses.replace(votes[x], attestation=votes[y].attestation)
        _assert_not_counted(vs, swapped, "invalid_attestation")
    rng = random.Random(3)
    for v in vs.validators:
        wrong = Validator(v.name, v.vendor, rng.randbytes(32))
        _assert_not_counted(vs, vote_of(wrong), "invalid_attestation")
        # right key, another vendor's id byte
        other = [x for x in VENDOR_IDS if x != v.vendor][0]
        _assert_not_counted(vs, vote_of(Validator(v.name, other, v.k_att)),
                            "invalid_attestation")
    # a forged quorum never decides
    col = opened(vs, deadline=10.0)
    for v in vs.validators:
        col.step(Receive(vote_of(Validator(v.name, v.vendor, rng.randbytes(32))), at=1.0))
    col.step(Tick(11.0))
    assert col.decision(2).outcome == "no_quorum"


def test_replay():
    vs = make_cluster(4)
    a = vs.validators[0]
    col = Collector(vs, attest=golden_attest)
    col.step(Open(1, D, at=0.0, deadline=10.0))
    for v in vs.validators[:3]:
        col.step(Receive(vote_of(v, nonce=1), at=1.0))
    assert col.decision(1).outcome == "accepted"
    other_d = bytes(24)
    col.step(Open(2, other_d, at=2.0, deadline=20.0))
    # other nonce: a genuine vote for the earlier, decided request
    eff = col.step(Receive(vote_of(a, nonce=1), at=3.0))
    assert [r.reason for r in kinds(eff, Refused)] == ["duplicate"]
    eff = col.step(Receive(vote_of(vs.validators[3], nonce=1), at=3.0))
    assert [r.reason for r in kinds(eff, Refused)] == ["closed"]
    # other descriptor under the open nonce
    eff = col.step(Receive(vote_of(a, nonce=2, descriptor=D), at=3.0))
    assert [r.reason for r in kinds(eff, Refused)] == ["descriptor_mismatch"]
    # the old response with the nonce rewritten: the attestation binds the nonce
    old = vote_of(a, nonce=1, descriptor=other_d)
    eff = col.step(Receive(dataclasses.replace(old, nonce=2), at=3.0))
    assert [r.reason for r in kinds(eff, Refused)] == ["invalid_attestation"]
    # duplicates count once
    v2 = vote_of(a, nonce=2, descriptor=other_d)
    assert kinds(col.step(Receive(v2, at=4.0)), Counted)
    for _ in range(3):
        assert [r.reason for r in kinds(col.step(Receive(v2, at=4.0)), Refused)] == ["duplicate"]
    assert col.counters[a.name]["duplicates"] == 4
    # after the deadline: closed, never counted
    col.step(Tick(20.0))
    assert col.decision(2).outcome == "no_quorum"
    eff = col.step(Receive(vote_of(vs.validators[1], nonce=2, descriptor=other_d), at=21.0))
    assert [r.reason for r in kinds(eff, Refused)] == ["closed"]
    assert col.decision(2).outcome == "no_quorum"


# -- exhaustive n = 4 ------------------------------------------------------------------------

def _exhaustive(collector_factory, *, orders, assignments=None, attest=golden_attest,
                first=False):
    vs = make_cluster(4)
    names = [v.name for v in vs.validators]
    violations, outcomes = [], {"accepted": 0, "rejected": 0, "no_quorum": 0}
    combos = assignments or list(itertools.product(BEHAVIOURS, repeat=4))
    runs = 0
    for combo in combos:
        sc = Scenario(dict(zip(names, combo)))
        for k in range(orders):
            run = simulate(vs, sc, seed=f"{SEED}{combo}/{k}", collector_factory=collector_factory,
                           attest=attest)
            runs += 1
            bad = check_run(vs, run, attest=attest)
            if bad:
                violations.append((combo, k, bad))
                if first:
                    return runs, violations, outcomes
            elif run.decisions:
                outcomes[run.decisions[0].outcome] += 1
    return runs, violations, outcomes


def test_exhaustive_n4():
    """10^4 behaviour assignments (honest, omission and Byzantine behaviours, Byzantine
    cores never counted as honest) × a seeded sample of arrival orders."""
    orders = 12 if FULL else 2
    runs, violations, outcomes = _exhaustive(Collector, orders=orders)
    assert runs == len(BEHAVIOURS) ** 4 * orders == 10_000 * orders
    assert violations == []
    assert all(outcomes.values())


# -- twins -----------------------------------------------------------------------------------

def test_twins_equivocation():
    vs = make_cluster(4)
    a, b, c, d = vs.validators
    col = opened(vs)
    # the twin of `a` (same key) votes the other way
    eff = receive(col, vote_of(a, True), vote_of(b, True), vote_of(a, False))
    [ev] = [e.evidence for e in kinds(eff, EvidenceFound)]
    assert ev.validator == a.name and ev.nonce == 2
    assert ev.first.canonical() < ev.second.canonical()
    assert {ev.first.vote, ev.second.vote} == {True, False}
    assert ev == Evidence.of(vote_of(a, True), vote_of(a, False))      # canonical order
    assert col.counters[a.name]["equivocations"] == 1
    # a drops out: b + c is 2 < 3, so not yet accepted; d's yes makes 3
    assert kinds(col.step(Receive(vote_of(c, True), at=4.0)), Decided) == []
    [dec] = kinds(col.step(Receive(vote_of(d, True), at=5.0)), Decided)
    assert dec.decision.outcome == "accepted"
    assert a.name not in {v.validator for v in dec.decision.certificate.votes}
    assert dec.decision.excluded == (a.name,)
    # further votes of a are refused
    eff = col.step(Receive(vote_of(a, True, digest=bytes(32)), at=6.0))
    assert [r.reason for r in kinds(eff, Refused)] == ["excluded"]


def test_twin_same_vote_other_proof_is_equivocation_and_unreachable_certificate():
    vs = make_cluster(4)
    a, b, c, d = vs.validators
    col = opened(vs)
    eff = receive(col, vote_of(b, False), vote_of(a, True), vote_of(a, True, digest=bytes(32)))
    assert kinds(eff, EvidenceFound)
    # a and b out of the yes side: yes 0 + outstanding 2 < 3 → rejected (unreachable)
    [dec] = kinds(eff, Decided)
    cert = dec.decision.certificate
    assert (dec.decision.outcome, cert.reason) == ("rejected", "unreachable")
    assert verify_certificate(cert, vs, attest=golden_attest, allow_unsigned=True)
    # without the evidence the rejection does not stand on its own
    assert not verify_certificate(dataclasses.replace(cert, evidence=()), vs,
                                  attest=golden_attest, allow_unsigned=True)
    # without a collector key an unsigned certificate verifies only with the explicit flag
    assert check_certificate(cert, vs, attest=golden_attest) == \
        "no collector public key to check the signature (allow_unsigned not given)"


def test_twin_identical_vote_is_a_duplicate():
    vs = make_cluster(4)
    a = vs.validators[0]
    col = opened(vs)
    col.step(Receive(vote_of(a), at=1.0))
    eff = col.step(Receive(vote_of(a), at=2.0))
    assert [r.reason for r in kinds(eff, Refused)] == ["duplicate"]
    assert kinds(eff, EvidenceFound) == []


# -- deterministic simulation ------------------------------------------------------------------

def _random_scenario(vs, rng):
    names = [v.name for v in vs.validators]
    truth = rng.choice(["yes", "no"])
    behaviours = {n: truth for n in names}
    byzantine = rng.sample(names, rng.randint(0, vs.f))
    for n in byzantine:
        behaviours[n] = rng.choice(["equivocate", "forged", "replay", "misdirect",
                                    "byz_yes", "byz_no"])
    for n in rng.sample(names, rng.randint(0, max(0, len(names) - vs.q - len(byzantine)))):
        if n not in byzantine:
            behaviours[n] = rng.choice(["silent", "late"])
    return Scenario(behaviours, descriptor=rng.randbytes(24), digest=rng.randbytes(32))


def _simulations(collector_factory, seeds, sizes=(4, 5, 7, 10), attest=software_attestation,
                 first=False):
    violations = []
    for n in sizes:
        vs = make_cluster(n, seed=n)
        for seed in range(seeds):
            rng = random.Random(f"sim-{SEED}{n}-{seed}")
            sc = _random_scenario(vs, rng)
            net = Network(drop=rng.choice([0.0, 0.0, 0.1, 0.3]), dup=rng.choice([0.0, 0.3]),
                          delay=rng.choice([0.0, 20.0, 150.0]), reorder=True)
            run = simulate(vs, sc, seed=f"net-{n}-{seed}", network=net,
                           collector_factory=collector_factory, attest=attest)
            bad = check_run(vs, run, attest=attest,
                            delivered_all=net.drop == 0 and net.delay < sc.deadline / 2)
            if bad:
                violations.append((n, seed, bad))
                if first:
                    return violations
    return violations


def test_deterministic_simulation():
    assert _simulations(Collector, seeds=1000 if FULL else 150) == []


def test_simulation_is_deterministic():
    vs = make_cluster(7, seed=7)
    rng = random.Random(1)
    sc = _random_scenario(vs, rng)
    net = Network(drop=0.2, dup=0.3, delay=30.0)
    runs = [simulate(vs, sc, seed=99, network=net) for _ in range(2)]
    assert runs[0].effects == runs[1].effects
    # other seeds give other runs (network faults are seeded)
    assert any(simulate(vs, sc, seed=s, network=net).effects != runs[0].effects
               for s in range(100, 105))


# -- common mode -----------------------------------------------------------------------------

@pytest.mark.parametrize("behaviour", ["silent", "forged", "replay", "late"])
def test_common_mode_no_quorum(behaviour):
    vs = make_cluster(4)
    sc = Scenario({v.name: behaviour for v in vs.validators})
    run = simulate(vs, sc, seed=1, attest=golden_attest)
    assert [d.outcome for d in run.decisions] == ["no_quorum"]
    assert check_run(vs, run, attest=golden_attest) == []


def test_common_mode_garbage():
    vs = make_cluster(4)
    rng = random.Random(5)
    col = opened(vs, deadline=50.0)
    for i in range(200):
        v = rng.choice(vs.validators)
        junk = Vote(v.name, 2, D, rng.random() < 0.5, rng.randbytes(32), rng.randbytes(32))
        col.step(Receive(junk, at=1.0 + i / 10))
    col.step(Tick(50.0))
    assert col.decision(2).outcome == "no_quorum"
    assert sum(c["invalid_attestation"] for c in col.counters.values()) == 200


# -- certificates ------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def collector_keys():
    from pqcrypto.sign import ml_dsa_44
    return ml_dsa_44.keygen()


def _signed_cert(vs, sk, value=True):
    col = Collector(vs, attest=golden_attest, sign=ml_dsa_44_signer(sk))
    col.step(Open(2, D, at=0.0, deadline=10.0))
    for i, v in enumerate(vs.validators):
        col.step(Receive(vote_of(v, value), at=1.0 + i))
    return col.decision(2).certificate


def test_certificate_signed_and_standalone(collector_keys):
    pk, sk = collector_keys
    vs = make_cluster(4)
    keys = ValidatorSet(vs.validators, "gt_2_3", collector_pk=pk)
    for value in (True, False):
        cert = _signed_cert(vs, sk, value)
        # all yes: accepted at the third yes; all no: rejected at the second no (yes can
        # no longer reach 3)
        assert len(cert.votes) == (3 if value else 2) and len(cert.signature) == 2420
        assert cert.reason == ("quorum" if value else "unreachable")
        assert check_certificate(cert, keys, attest=golden_attest) is None
        # a JSON round trip keeps it valid
        assert verify_certificate(Certificate.from_json(cert.to_json()), keys)
    cert = _signed_cert(vs, sk)
    bad = []
    bad.append(dataclasses.replace(cert, signature=bytes(2420)))
    bad.append(dataclasses.replace(cert, votes=cert.votes[:2]))
    bad.append(dataclasses.replace(cert, votes=cert.votes + cert.votes[:1]))
    bad.append(dataclasses.replace(cert, outcome="rejected"))
    bad.append(dataclasses.replace(cert, nonce=3))
    bad.append(dataclasses.replace(cert, descriptor=bytes(24)))
    bad.append(dataclasses.replace(cert, quorum=2))
    for field in ("nonce", "descriptor", "vote", "proof_digest", "attestation", "validator"):
        v0 = cert.votes[0]
        value = {"nonce": 3, "descriptor": bytes(24), "vote": False, "proof_digest": bytes(32),
                 "attestation": bytes(32), "validator": vs.validators[3].name}[field]
        bad.append(dataclasses.replace(cert, votes=(dataclasses.replace(v0, **{field: value}),)
                                       + cert.votes[1:]))
    for b in bad:
        assert check_certificate(b, keys, attest=golden_attest) is not None, b
    # another validator set (other keys, or a stricter rule) does not accept it
    assert not verify_certificate(cert, make_cluster(4, seed=9), attest=golden_attest,
                                  collector_pk=pk)
    stricter = make_cluster(5, seed=0)      # P = 5: q = 4 under ge_3_4
    assert not verify_certificate(cert, ValidatorSet(stricter.validators, collector_pk=pk),
                                  attest=golden_attest)
    # the collector's signature binds: the same cert under another collector key fails
    from pqcrypto.sign import ml_dsa_44
    other_pk, _ = ml_dsa_44.keygen()
    assert not verify_certificate(cert, vs, attest=golden_attest, collector_pk=other_pk)


# -- counters --------------------------------------------------------------------------------

def test_counters():
    vs = make_cluster(4)
    col = Collector(vs, attest=golden_attest)
    assert all(c == {"yes": 0, "no": 0, "missed": 0, "invalid_attestation": 0,
                     "equivocations": 0, "duplicates": 0, "refused": 0}
               for c in col.counters.values())
    assert col.decisions == {"accepted": 0, "rejected": 0, "no_quorum": 0}
    a, b, c, d = vs.validators
    col.step(Open(1, D, at=0.0, deadline=10.0))
    col.step(Receive(vote_of(a, True, nonce=1), at=1.0))
    col.step(Receive(vote_of(b, True, nonce=1), at=2.0))
    col.step(Receive(vote_of(c, True, nonce=1), at=4.0))
    col.step(Receive(vote_of(d, False, nonce=1), at=5.0))     # after the decision, in time
    eff = col.step(Tick(10.0))
    assert kinds(eff, Finalized) == [Finalized(1, ())]
    col.step(Open(2, D, at=10.0, deadline=20.0))
    col.step(Receive(vote_of(a, False), at=11.0))
    col.step(Receive(vote_of(a, True), at=12.0))
    col.step(Receive(dataclasses.replace(vote_of(b, False), attestation=bytes(32)), at=12.0))
    col.step(Tick(25.0))
    assert col.decisions == {"accepted": 1, "rejected": 0, "no_quorum": 1}
    assert col.latencies == [4.0, 10.0]
    assert col.counters[a.name]["yes"] == 1 and col.counters[a.name]["no"] == 1
    assert col.counters[a.name]["equivocations"] == 1
    assert col.counters[b.name]["invalid_attestation"] == 1
    assert col.counters[d.name]["no"] == 1
    assert [col.counters[v.name]["missed"] for v in vs.validators] == [0, 1, 1, 1]


def test_voting_power():
    vals = make_cluster(5).validators       # intel, amd, arm, riscv, intel.1
    powers = [2, 1, 2, 2, 1]
    vs = ValidatorSet([dataclasses.replace(v, power=p) for v, p in zip(vals, powers)])
    assert vs.total_power == 8 and vs.q == 6
    vals = vs.validators
    col = Collector(vs, attest=golden_attest)
    col.step(Open(2, D, at=0.0, deadline=10.0))
    col.step(Receive(vote_of(vals[0]), at=1.0))
    col.step(Receive(vote_of(vals[1]), at=2.0))
    col.step(Receive(vote_of(vals[4]), at=2.5))
    assert col.decision(2) is None          # 4 < 6: the whole lattice family is not enough
    col.step(Receive(vote_of(vals[2]), at=3.0))
    cert = col.decision(2).certificate
    assert col.decision(2).outcome == "accepted"
    assert verify_certificate(cert, vs, attest=golden_attest, allow_unsigned=True)
    assert not verify_certificate(cert, make_cluster(5), attest=golden_attest,
                                  allow_unsigned=True)


# -- mutation check: the suite must fail deliberately broken collectors ------------------------

class CountsTwice(Collector):
    """Broken: forgets earlier votes, so a repeated vote is counted again."""
    def _previous_vote(self, req, name):
        return None


class QuorumOffByOne(Collector):
    """Broken: decides one vote early."""
    def _quorum(self):
        return self._vs.q - 1


class SkipsAttestation(Collector):
    """Broken: trusts every attestation."""
    def _attestation_ok(self, validator, vote):
        return True


class NoDescriptorCheck(Collector):
    """Broken: takes a vote for the right nonce whatever its descriptor."""
    def _receive(self, vote, effects):
        req = self._requests.get(vote.nonce) if isinstance(vote, Vote) else None
        if req is None:
            return super()._receive(vote, effects)
        saved, req.descriptor = req.descriptor, vote.descriptor
        try:
            return super()._receive(vote, effects)
        finally:
            req.descriptor = saved


class IgnoresDeadline(Collector):
    """Broken: never closes a request at its deadline."""
    def _advance(self, at, effects):
        self.now = max(self.now, at)


class NoExclusion(Collector):
    """Broken: records the evidence but keeps the equivocator's counted vote."""
    def _equivocation(self, req, validator, previous, vote, effects):
        ev = Evidence.of(previous, vote)
        effects.append(Refused(vote, "equivocation"))
        effects.append(EvidenceFound(ev))


class CountsExcluded(Collector):
    """Broken: excludes an equivocator but leaves its vote in the tally."""
    def _equivocation(self, req, validator, previous, vote, effects):
        req.excluded[validator.name] = Evidence.of(previous, vote)
        effects.append(Refused(vote, "equivocation"))
        effects.append(EvidenceFound(req.excluded[validator.name]))
        if req.decision is None:
            self._evaluate(req, effects)


_SUITE_ASSIGNMENTS = random.Random(4).sample(list(itertools.product(BEHAVIOURS, repeat=4)),
                                            2500)


def _suite(factory, first=True):
    """The invariant suite, reduced: a seeded quarter of the n = 4 assignments (one order,
    with duplicates from the network) and the deterministic simulation; stops at the first
    violation."""
    _, violations, _ = _exhaustive(factory, orders=1, assignments=_SUITE_ASSIGNMENTS,
                                   attest=software_attestation, first=first)
    if not violations:
        violations = _simulations(factory, seeds=15, attest=software_attestation, first=first)
    return violations


@pytest.mark.parametrize("mutant", [CountsTwice, QuorumOffByOne, SkipsAttestation,
                                    NoDescriptorCheck, IgnoresDeadline, NoExclusion,
                                    CountsExcluded])
def test_mutants_fail_the_suite(mutant):
    assert _suite(mutant), f"{mutant.__name__} passed the invariant suite"


def test_correct_collector_passes_the_reduced_suite():
    assert _suite(Collector, first=False) == []


# -- property-based: arbitrary event streams -----------------------------------------------------

_PROP_VS = make_cluster(5, seed=5)
_event = st.tuples(
    st.integers(0, 4),                          # validator
    st.sampled_from([1, 2, 3]),                 # nonce (3 is never opened)
    st.booleans(),                              # vote
    st.sampled_from(["good", "forged", "other_digest", "other_descriptor"]),
    st.integers(0, 60),                         # arrival time
)


@settings(max_examples=300 if FULL else 80, deadline=None)
@given(st.lists(_event, max_size=30), st.booleans())
def test_collector_properties(events, late_open):
    """Any stream of votes: at most one decision per request, only genuine votes counted,
    every certificate verifies standalone, excluded validators never sign."""
    vs = _PROP_VS
    col = Collector(vs, attest=software_attestation)
    effects = col.step(Open(1, D, at=0.0, deadline=40.0))
    effects += col.step(Open(2, bytes(24), at=5.0 if late_open else 0.0, deadline=50.0))
    descriptors = {1: D, 2: bytes(24), 3: D}
    genuine = set()
    for who, nonce, value, kind, at in sorted(events, key=lambda e: e[-1]):
        v = vs.validators[who]
        d = descriptors[nonce] if kind != "other_descriptor" else bytes(range(1, 25))
        pd = PD if kind != "other_digest" else bytes(32)
        vote = vote_of(v, value, nonce=nonce, descriptor=d, digest=pd)
        if kind == "forged":
            vote = dataclasses.replace(vote, attestation=bytes(32))
        else:
            genuine.add(vote)
        effects += col.step(Receive(vote, at=float(at)))
    effects += col.step(Tick(100.0))
    decided = [e.decision for e in effects if isinstance(e, Decided)]
    assert sorted(d.nonce for d in decided) == [1, 2]
    for e in effects:
        if isinstance(e, Counted):
            assert e.vote in genuine and e.vote.nonce in (1, 2)
    for d in decided:
        if d.certificate is not None:
            assert verify_certificate(d.certificate, vs, attest=software_attestation, allow_unsigned=True)
            assert not {v.validator for v in d.certificate.votes} & set(d.excluded)
        assert (d.outcome == "no_quorum") == (d.certificate is None)
    for c in col.counters.values():       # per request: one valid vote in time, or missed
        assert c["yes"] + c["no"] + c["missed"] == 2
