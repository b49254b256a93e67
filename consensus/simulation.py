"""Deterministic simulation of a validator cluster around one :class:`Collector`.

Everything is driven by a seed and a virtual clock: the cores' behaviours, the network's
drops, duplicates, delays and reordering, and the order in which the collector sees the
votes. The same seed always replays the same run, so a failing seed is a reproducible bug
report.

:func:`check_run` holds the invariants every run must satisfy; the test suite runs them
over exhaustive and random scenarios, and over deliberately broken collectors to show
that the suite can fail.
"""

import dataclasses
import random

from .collector import Collector, Counted, Decided, EvidenceFound, Open, Receive, Tick
from .sources import software_attestation
from .votes import VENDOR_IDS, Validator, ValidatorSet, Vote, verify_certificate

__all__ = ["BEHAVIOURS", "make_cluster", "Scenario", "core_messages", "Network", "RunResult",
           "simulate", "check_run"]

#: What one core does for a request: honest yes / no, omission (silent, late) and
#: Byzantine (byz_yes / byz_no: a validly attested yes / no whatever the truth;
#: equivocate: a yes and a no, both validly attested; forged: a wrong attestation;
#: replay: its genuine response to an earlier request; misdirect: a validly attested yes
#: for this nonce but another descriptor). Only ``yes`` and ``no`` are honest: a Byzantine
#: core that happens to vote like the honest ones is still counted as Byzantine.
BEHAVIOURS = ("yes", "no", "silent", "late", "byz_yes", "byz_no", "equivocate", "forged",
              "replay", "misdirect")
HONEST = ("yes", "no")
#: Byzantine behaviours whose votes verify, so they can enter a tally.
ADVERSARIAL = ("byz_yes", "byz_no", "equivocate")


def make_cluster(n: int, seed: int = 0, *, rule="gt_2_3", powers=None) -> ValidatorSet:
    """``n`` validators over the four vendors (``intel``, ``amd``, …, then ``intel.1``, …)
    with seeded attestation keys."""
    rng = random.Random(f"cluster-{seed}-{n}")
    vendors = list(VENDOR_IDS)
    vals = []
    for i in range(n):
        vendor = vendors[i % 4]
        name = vendor if i < 4 else f"{vendor}.{i // 4}"
        vals.append(Validator(name, vendor, rng.randbytes(32),
                              1 if powers is None else powers[i]))
    return ValidatorSet(vals, rule)


@dataclasses.dataclass
class Scenario:
    """One request to decide: the cores' behaviours and the request's data."""
    behaviours: dict            # validator name → behaviour
    nonce: int = 2
    descriptor: bytes = bytes(range(24))
    digest: bytes = bytes(32)
    earlier_nonce: int = 1
    earlier_descriptor: bytes = bytes(range(100, 124))
    deadline: float = 100.0


def _vote(validator, nonce, descriptor, value, digest, attest):
    return Vote(validator.name, nonce, descriptor, value, digest,
                attest(validator.k_att, validator.vendor, nonce, descriptor, value, digest))


def core_messages(vs: ValidatorSet, sc: Scenario, rng: random.Random, attest=software_attestation):
    """The messages each core sends for ``sc``: ``(vote, late)`` pairs, and the set of
    genuine votes (validly attested, this request, from a core that really cast them)."""
    msgs, genuine = [], set()
    for v in vs.validators:
        b = sc.behaviours[v.name]
        if b in ("yes", "no", "byz_yes", "byz_no"):
            vote = _vote(v, sc.nonce, sc.descriptor, b.endswith("yes"), sc.digest, attest)
            msgs.append((vote, False))
            genuine.add(vote)
        elif b == "misdirect":
            other = bytes(x ^ 0xFF for x in sc.descriptor)
            msgs.append((_vote(v, sc.nonce, other, True, sc.digest, attest), False))
        elif b == "late":
            msgs.append((_vote(v, sc.nonce, sc.descriptor, True, sc.digest, attest), True))
        elif b == "equivocate":
            a = _vote(v, sc.nonce, sc.descriptor, True, sc.digest, attest)
            c = _vote(v, sc.nonce, sc.descriptor, False, sc.digest, attest)
            pair = [a, c]
            rng.shuffle(pair)
            msgs.extend((x, False) for x in pair)
            genuine.update(pair)
        elif b == "forged":
            # Right fields, attestation under a key the attacker made up.
            wrong = bytes(x ^ 0x5A for x in v.k_att)
            forged = Vote(v.name, sc.nonce, sc.descriptor, True, sc.digest,
                          attest(wrong, v.vendor, sc.nonce, sc.descriptor, True, sc.digest))
            msgs.append((forged, False))
        elif b == "replay":
            old = _vote(v, sc.earlier_nonce, sc.earlier_descriptor, True, sc.digest, attest)
            msgs.append((old, False))
        elif b != "silent":
            raise ValueError(f"unknown behaviour {b!r}")
    return msgs, genuine


@dataclasses.dataclass
class Network:
    """Seeded network faults: each message is dropped with ``drop``, duplicated with
    ``dup``, delayed by up to ``delay`` clock units; ``reorder`` shuffles send order.
    Messages are sent over the first half of the request's window, so with ``drop = 0`` and
    ``delay < deadline / 2`` every timely message arrives before the deadline."""
    drop: float = 0.0
    dup: float = 0.0
    delay: float = 0.0
    reorder: bool = True

    def deliver(self, msgs, rng: random.Random, deadline: float):
        """Arrival events ``(at, vote)`` sorted by time (ties in a seeded order)."""
        msgs = list(msgs)
        if self.reorder:
            rng.shuffle(msgs)
        out = []
        for i, (vote, late) in enumerate(msgs):
            # Sent over the first half of the window: a delay below deadline / 2 keeps every
            # timely message in time.
            base = deadline + 1 + i if late else 1 + i * (deadline / 2 - 1) / max(len(msgs), 1)
            copies = 0 if rng.random() < self.drop else 1
            while copies and rng.random() < self.dup:
                copies += 1
            for _ in range(copies):
                at = base + (rng.random() * self.delay if self.delay else 0.0)
                out.append((at, rng.random(), vote))
        out.sort(key=lambda t: (t[0], t[1]))
        return [(at, vote) for at, _, vote in out]


@dataclasses.dataclass
class RunResult:
    scenario: Scenario
    effects: list
    decisions: list
    genuine: set
    collector: Collector


def simulate(vs: ValidatorSet, sc: Scenario, seed, *, network: Network | None = None,
             collector_factory=Collector, attest=software_attestation, arrivals=None,
             history=True):
    """Run one request through a fresh collector; return a :class:`RunResult`.

    ``arrivals`` overrides the network: a list of ``(at, vote)``. With ``history`` the
    collector first decides the earlier request (so replays hit a closed request)."""
    rng = random.Random(seed)
    col = collector_factory(vs, attest=attest)
    effects = []
    if history:
        effects += col.step(Open(sc.earlier_nonce, sc.earlier_descriptor, at=-200.0,
                                 deadline=-101.0))
        effects += col.step(Tick(-100.0))
    msgs, genuine = core_messages(vs, sc, rng, attest)
    if arrivals is None:
        arrivals = (network or Network()).deliver(msgs, rng, sc.deadline)
    effects += col.step(Open(sc.nonce, sc.descriptor, at=0.0, deadline=sc.deadline))
    for at, vote in arrivals:
        effects += col.step(Receive(vote, at))
    effects += col.step(Tick(max([sc.deadline] + [at for at, _ in arrivals]) + 1))
    decisions = [e.decision for e in effects
                 if isinstance(e, Decided) and e.decision.nonce == sc.nonce]
    return RunResult(sc, effects, decisions, genuine, col)


def check_run(vs: ValidatorSet, run: RunResult, *, attest=software_attestation,
              delivered_all=True) -> list:
    """The invariants of one run; returns the violations (empty when all hold).

    1. exactly one decision for the request (never two certificates);
    2. every counted vote and every certificate vote is genuine (never a decision on
       forged or replayed votes), and every certificate verifies standalone;
    3. a validator whose equivocation was found before the decision is excluded from it,
       and no excluded validator signs the certificate;
    4. if all honest cores (behaviour ``yes``/``no``, never a Byzantine one) agree on ``v``
       and the Byzantine power that can enter a tally (:data:`ADVERSARIAL`) is at most
       ``f``, the outcome is ``v``'s or ``no_quorum``;
    5. if all honest cores agree on ``v`` and the faulty power is at most ``P − q`` (and the
       network delivered every message), the outcome is ``v``'s, with a certificate.
    """
    bad = []
    sc = run.scenario
    n_dec = len(run.decisions)
    if n_dec != 1:
        bad.append(f"{n_dec} decisions for one request")
    for e in run.effects:
        if isinstance(e, Counted) and e.vote.nonce == sc.nonce and e.vote not in run.genuine:
            bad.append(f"counted a non-genuine vote of {e.vote.validator}")
    for d in run.decisions:
        if d.certificate is not None:
            for v in d.certificate.votes:
                if v not in run.genuine:
                    bad.append(f"certificate holds a non-genuine vote of {v.validator}")
            if not verify_certificate(d.certificate, vs, attest=attest, allow_unsigned=True):
                bad.append("certificate does not verify")
        elif d.outcome != "no_quorum":
            bad.append(f"{d.outcome} without a certificate")
    if n_dec != 1:
        return bad
    d = run.decisions[0]
    # A validator proven to equivocate before the decision is excluded from it.
    for e in run.effects:
        if isinstance(e, Decided) and e.decision.nonce == sc.nonce:
            break
        if isinstance(e, EvidenceFound) and e.evidence.nonce == sc.nonce:
            if e.evidence.validator not in d.excluded:
                bad.append(f"{e.evidence.validator} equivocated before the decision but "
                           f"is not excluded")
    if d.certificate is not None:
        signers = {v.validator for v in d.certificate.votes}
        if signers & set(d.excluded):
            bad.append(f"excluded validators {sorted(signers & set(d.excluded))} sign")
    # Independent of the collector: powers summed here, q from the validator set.
    power = {v.name: v.power for v in vs.validators}
    honest = {b for name, b in sc.behaviours.items() if b in HONEST}
    honest_power = sum(power[n] for n, b in sc.behaviours.items() if b in HONEST)
    adversarial = sum(power[n] for n, b in sc.behaviours.items() if b in ADVERSARIAL)
    if len(honest) == 1:
        value = honest.pop()
        want = "accepted" if value == "yes" else "rejected"
        if adversarial <= vs.f and d.outcome not in (want, "no_quorum"):
            bad.append(f"honest cores agree on {value}, Byzantine power {adversarial} <= f, "
                       f"but the outcome is {d.outcome}")
        faulty = vs.total_power - honest_power
        if delivered_all and faulty <= vs.total_power - vs.q and d.outcome != want:
            bad.append(f"faulty power {faulty} (<= P-q = {vs.total_power - vs.q}) but the "
                       f"outcome is {d.outcome}, not {want}")
    return bad
