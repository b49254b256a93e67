"""The vote collector: a deterministic state machine.

Events go in, effects come out; the collector does no I/O and reads no clock. Time only
advances through the ``at`` of each event (a virtual clock in simulation, the wall clock
in the CLI shell), so one seed and one event sequence always give the same decisions.

Events
------
``Open(nonce, descriptor, at, deadline, digests=None)``
    open a request; ``digests`` optionally maps validator name → expected proof digest
``Receive(vote, at)``
    one response of a validator core arrives
``Tick(at)``
    the clock advanced (deadlines)

Effects
-------
``Counted(vote)``            the vote entered the tally
``Refused(vote, reason)``    the vote was not counted (``reason`` below)
``EvidenceFound(evidence)``  a validator sent two different, validly attested votes
``Decided(decision)``        ``accepted`` / ``rejected`` / ``no_quorum``, with a certificate
                             for the first two
``Finalized(nonce, missed)`` the request's deadline passed; ``missed`` are the validators
                             with no valid vote before it

Order of checks for a vote (cheap ones before the KMAC): well formed (sizes, types) →
known validator → known request (nonce) → matching descriptor → expected proof digest →
identical to an already counted vote (a duplicate needs no KMAC) → validator excluded for
equivocation → attestation (KMAC256 recomputed, compared in constant time) → request still
open → a different vote already counted (equivocation).

Refusal reasons: ``malformed``, ``unknown_validator``, ``unknown_request``,
``descriptor_mismatch``, ``digest_mismatch``, ``duplicate``, ``excluded``,
``invalid_attestation``, ``closed``, ``equivocation``.
"""

import dataclasses
import math
from typing import Callable, Mapping

from .votes import (AttestFn, Certificate, Evidence, ValidatorSet, Vote, attestation_valid,
                    certificate_signing_bytes)

__all__ = ["Open", "Receive", "Tick", "Counted", "Refused", "EvidenceFound", "Decided",
           "Finalized", "Decision", "Collector", "tally_outcome", "ml_dsa_44_signer",
           "REASONS", "OUTCOMES"]

OUTCOMES = ("accepted", "rejected", "no_quorum")
REASONS = ("malformed", "unknown_validator", "unknown_request", "descriptor_mismatch",
           "digest_mismatch", "duplicate", "excluded", "invalid_attestation", "closed",
           "equivocation")


# -- events -------------------------------------------------------------------------------

@dataclasses.dataclass(frozen=True)
class Open:
    nonce: int
    descriptor: bytes
    at: float
    deadline: float
    digests: Mapping[str, bytes] | None = None


@dataclasses.dataclass(frozen=True)
class Receive:
    vote: Vote
    at: float


@dataclasses.dataclass(frozen=True)
class Tick:
    at: float


# -- effects ------------------------------------------------------------------------------

@dataclasses.dataclass(frozen=True)
class Counted:
    vote: Vote


@dataclasses.dataclass(frozen=True)
class Refused:
    vote: Vote
    reason: str


@dataclasses.dataclass(frozen=True)
class EvidenceFound:
    evidence: Evidence


@dataclasses.dataclass(frozen=True)
class Decision:
    """The decision on one request."""
    nonce: int
    descriptor: bytes
    outcome: str
    certificate: Certificate | None
    yes: int                  # counted yes power at decision time
    no: int                   # counted no power
    excluded: tuple           # validators dropped for equivocation (sorted)
    opened_at: float
    decided_at: float

    @property
    def latency(self) -> float:
        return self.decided_at - self.opened_at

    def to_json(self) -> dict:
        return {"nonce": self.nonce, "descriptor": self.descriptor.hex(),
                "outcome": self.outcome,
                "tally": {"yes": self.yes, "no": self.no, "excluded": list(self.excluded)},
                "certificate": self.certificate.to_json() if self.certificate else None,
                "opened_at": self.opened_at, "decided_at": self.decided_at}


@dataclasses.dataclass(frozen=True)
class Decided:
    decision: Decision


@dataclasses.dataclass(frozen=True)
class Finalized:
    nonce: int
    missed: tuple


# -- state --------------------------------------------------------------------------------

@dataclasses.dataclass
class _Request:
    nonce: int
    descriptor: bytes
    opened_at: float
    deadline: float
    digests: Mapping[str, bytes] | None
    counted: list = dataclasses.field(default_factory=list)   # first valid vote per validator
    voted: dict = dataclasses.field(default_factory=dict)     # name → first valid vote
    excluded: dict = dataclasses.field(default_factory=dict)  # name → Evidence
    decision: Decision | None = None
    finalized: bool = False


def _zero_counters():
    return {"yes": 0, "no": 0, "missed": 0, "invalid_attestation": 0, "equivocations": 0,
            "duplicates": 0, "refused": 0}


class Collector:
    """Byzantine-quorum vote collector (pure state machine).

    Parameters
    ----------
    validators : ValidatorSet
        Validator set and quorum rule (already checked against the safe bound).
    attest : callable, optional
        ``attest(k_att, vendor, nonce, descriptor, vote, proof_digest) -> bytes``;
        ``golden.proof.attestation`` by default.
    sign : callable, optional
        ``sign(message) -> signature``: the collector's ML-DSA-44 signer for certificates
        (see :func:`ml_dsa_44_signer`); certificates are unsigned without it.

    Members
    -------
    counters : dict        per validator: yes, no, missed, invalid_attestation,
                           equivocations, duplicates, refused (all 0 from the start)
    decisions : dict       per outcome: count
    latencies : list       decision latency of each request, in clock units
    now : float            the latest event time seen
    """

    def __init__(self, validators: ValidatorSet, *, attest: AttestFn | None = None,
                 sign: Callable[[bytes], bytes] | None = None):
        if not isinstance(validators, ValidatorSet):
            raise TypeError(f"validators must be a ValidatorSet, not {validators!r}")
        if attest is None:
            from golden.proof import attestation as attest
        self._vs = validators
        self._attest = attest
        self._sign = sign
        self._requests: dict[int, _Request] = {}
        self.now = float("-inf")
        self.counters = {v.name: _zero_counters() for v in validators.validators}
        self.decisions = {o: 0 for o in OUTCOMES}
        self.latencies = []

    @property
    def validators(self) -> ValidatorSet:
        return self._vs

    def decision(self, nonce: int) -> Decision | None:
        req = self._requests.get(nonce)
        return req.decision if req else None

    def evidence(self, nonce: int) -> list:
        req = self._requests.get(nonce)
        return list(req.excluded.values()) if req else []

    # -- hooks (overridden only by the deliberately broken collectors of the test suite) --

    def _quorum(self) -> int:
        return self._vs.q

    def _attestation_ok(self, validator, vote: Vote) -> bool:
        return attestation_valid(self._attest, validator, vote)

    def _previous_vote(self, req: _Request, name: str) -> Vote | None:
        return req.voted.get(name)

    # -- the state machine ----------------------------------------------------------------

    def step(self, event) -> list:
        """Apply one event; return the list of effects."""
        effects = []
        if isinstance(event, (Open, Receive, Tick)):
            _check_time(event.at, "event time")
        if isinstance(event, Open):
            self._advance(event.at, effects)
            self._open(event)
        elif isinstance(event, Receive):
            self._advance(event.at, effects)
            self._receive(event.vote, effects)
        elif isinstance(event, Tick):
            self._advance(event.at, effects)
        else:
            raise TypeError(f"Unknown event {event!r}")
        return effects

    def run(self, events) -> list:
        """Apply every event in order; return all effects."""
        out = []
        for e in events:
            out.extend(self.step(e))
        return out

    def _advance(self, at, effects):
        if at > self.now:
            self.now = at
        for req in self._requests.values():
            if req.finalized or self.now < req.deadline:
                continue
            if req.decision is None:
                self._decide(req, "no_quorum", None, None, effects)
            req.finalized = True
            missed = tuple(sorted(v.name for v in self._vs.validators
                                  if v.name not in req.voted))
            for name in missed:
                self.counters[name]["missed"] += 1
            effects.append(Finalized(req.nonce, missed))

    def _open(self, ev: Open):
        if isinstance(ev.nonce, bool) or not isinstance(ev.nonce, int) \
                or not 0 <= ev.nonce < 1 << 64:
            raise ValueError(f"Nonce must be an unsigned 64-bit integer, not {ev.nonce!r}")
        if ev.nonce in self._requests:
            raise ValueError(f"Request {ev.nonce} is already open or decided")
        if not isinstance(ev.descriptor, bytes) or len(ev.descriptor) != 24:
            raise ValueError("Descriptor must be 24 bytes")
        _check_time(ev.deadline, "deadline")
        if ev.deadline <= ev.at:
            raise ValueError("Deadline must lie after the opening time")
        self._requests[ev.nonce] = _Request(ev.nonce, ev.descriptor, max(ev.at, self.now),
                                            ev.deadline, ev.digests)

    def _refuse(self, vote, reason, effects, counter=None):
        c = self.counters.get(getattr(vote, "validator", None))
        if c is not None:
            c["refused"] += 1
            if counter:
                c[counter] += 1
        effects.append(Refused(vote, reason))

    def _receive(self, vote: Vote, effects):
        if not isinstance(vote, Vote) or not vote.well_formed():
            return self._refuse(vote, "malformed", effects)
        validator = self._vs.get(vote.validator)
        if validator is None:
            return self._refuse(vote, "unknown_validator", effects)
        req = self._requests.get(vote.nonce)
        if req is None:
            return self._refuse(vote, "unknown_request", effects)
        if vote.descriptor != req.descriptor:
            return self._refuse(vote, "descriptor_mismatch", effects)
        if req.digests is not None and validator.name in req.digests \
                and req.digests[validator.name] != vote.proof_digest:
            return self._refuse(vote, "digest_mismatch", effects)
        previous = self._previous_vote(req, validator.name)
        if previous is not None and previous == vote:
            return self._refuse(vote, "duplicate", effects, "duplicates")
        if validator.name in req.excluded:
            return self._refuse(vote, "excluded", effects)
        if not self._attestation_ok(validator, vote):
            return self._refuse(vote, "invalid_attestation", effects, "invalid_attestation")
        if previous is not None:
            self._equivocation(req, validator, previous, vote, effects)
            return
        expired = self.now >= req.deadline
        if expired:
            return self._refuse(vote, "closed", effects)
        req.voted[validator.name] = vote
        self.counters[validator.name]["yes" if vote.vote else "no"] += 1
        if req.decision is not None:
            # Valid and in time, but the request is already decided: not part of a tally.
            return self._refuse(vote, "closed", effects)
        req.counted.append(vote)
        effects.append(Counted(vote))
        self._evaluate(req, effects)

    def _equivocation(self, req, validator, previous, vote, effects):
        ev = Evidence.of(previous, vote)
        req.excluded[validator.name] = ev
        self.counters[validator.name]["equivocations"] += 1
        self.counters[validator.name]["refused"] += 1
        effects.append(Refused(vote, "equivocation"))
        effects.append(EvidenceFound(ev))
        if req.decision is None:
            req.counted = [v for v in req.counted if v.validator != validator.name]
            self._evaluate(req, effects)

    def _power(self, votes):
        return sum(self._vs[v.validator].power for v in votes)

    def _evaluate(self, req: _Request, effects):
        yes = [v for v in req.counted if v.vote]
        no = [v for v in req.counted if not v.vote]
        responded = set(req.voted) | set(req.excluded)
        outstanding = sum(v.power for v in self._vs.validators if v.name not in responded)
        verdict = tally_outcome(self._power(yes), self._power(no), outstanding, self._quorum())
        if verdict is not None:
            outcome, reason = verdict
            self._decide(req, outcome, reason, yes if outcome == "accepted" else no, effects)

    def _decide(self, req: _Request, outcome, reason, votes, effects):
        cert = None
        if votes is not None:
            evidence = ()
            if reason == "unreachable":
                evidence = tuple(req.excluded[k] for k in sorted(req.excluded))
            cert = Certificate(nonce=req.nonce, descriptor=req.descriptor, outcome=outcome,
                               reason=reason, quorum=self._quorum(),
                               total_power=self._vs.total_power,
                               votes=tuple(sorted(votes, key=lambda v: v.validator)),
                               evidence=evidence, epoch=self._vs.epoch)
            if self._sign is not None:
                cert = dataclasses.replace(
                    cert, signature=self._sign(certificate_signing_bytes(cert)))
        yes = self._power(v for v in req.counted if v.vote)
        no = self._power(v for v in req.counted if not v.vote)
        # A no_quorum decision takes effect at the deadline, whenever the clock reports it.
        at = req.deadline if outcome == "no_quorum" else self.now
        req.decision = Decision(nonce=req.nonce, descriptor=req.descriptor, outcome=outcome,
                                certificate=cert, yes=yes, no=no,
                                excluded=tuple(sorted(req.excluded)),
                                opened_at=req.opened_at, decided_at=at)
        self.decisions[outcome] += 1
        self.latencies.append(at - req.opened_at)
        effects.append(Decided(req.decision))


def _check_time(t, what):
    if isinstance(t, bool) or not isinstance(t, (int, float)) or not math.isfinite(t):
        raise ValueError(f"The {what} must be a finite number, not {t!r}")


def tally_outcome(yes: int, no: int, outstanding: int, q: int):
    """The decision rule on counted power: ``("accepted", "quorum")`` when yes ≥ q,
    ``("rejected", "quorum")`` when no ≥ q, ``("rejected", "unreachable")`` when
    yes + outstanding < q (yes can no longer reach q), else ``None`` (wait)."""
    if yes >= q:
        return ("accepted", "quorum")
    if no >= q:
        return ("rejected", "quorum")
    if yes + outstanding < q:
        return ("rejected", "unreachable")
    return None


def ml_dsa_44_signer(secret_key: bytes) -> Callable[[bytes], bytes]:
    """A certificate signer for :class:`Collector` from an ML-DSA-44 secret key."""
    from pqcrypto.sign import ml_dsa_44

    def sign(message: bytes) -> bytes:
        return ml_dsa_44.sign(secret_key, message)
    return sign
