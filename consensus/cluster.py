"""The decision loop: requests through a cluster of vote sources, decided by one collector.

This is the only place that gathers the cores' responses, applies fault injection and runs
the :class:`Collector` — for every backend (golden, software, the RTL cluster
co-simulation, or a mix per vendor). :func:`run_requests`:

1. asks every core for its response to each request (a source with ``validate_batch`` —
   the RTL cluster — is asked once for the whole batch, so one simulation answers it);
2. turns the responses of faulty cores into what those cores would send
   (``consensus.sources.inject``);
3. delivers everything to the collector on one clock. A request opens at ``base`` (0 for
   the first; each later one after the previous has closed); a core's vote arrives at
   ``base + arrival`` for RTL sources (cycles from the request being offered to the
   response being taken) and at ``base + i + 1`` for the ``i``-th validator otherwise; the
   second message of an equivocating core half a unit later; late messages at
   ``base + deadline + 1 + i``.

The decision's latency (``Decision.latency``, clock units: cycles for an all-RTL cluster)
is the cluster's own figure; each response keeps its core's latency (SPEC §4) as
``cycles``.

Remote cores (``network.client.NetworkSource``, validator nodes reached over the network)
are sources with ``gather(items)``: they are asked for all the items at once (concurrently)
and answer each with a :class:`Delivered` — the messages that arrived over the link, each
at its time in seconds after the request was sent, and the fault kind the link showed. Their
messages go to the collector as they arrived (``base + t``); nothing is injected on top.
"""

import dataclasses

from golden.proof import Status

from .collector import Collector, Counted, Decided, EvidenceFound, Open, Receive, Refused, Tick
from .sources import FAULTS, inject, software_attestation, software_digest
from .votes import NONCE_MAX, ValidatorSet, Vote

__all__ = ["Core", "Ask", "Outcome", "Delivered", "run_request", "run_requests",
           "DEFAULT_DEADLINE"]

DEFAULT_DEADLINE = 1_000_000.0


@dataclasses.dataclass(frozen=True)
class Core:
    """One validator core: its algorithm key (``None``: no key loaded) and vote source."""
    key: bytes | None = dataclasses.field(repr=False)
    source: object


@dataclasses.dataclass(frozen=True)
class Ask:
    """One request to decide.

    ``proofs`` vendor → proof bytes; ``faults`` validator name → a kind of
    ``consensus.sources.FAULTS``; ``earlier`` validator name → its genuine :class:`Vote` to
    an earlier request, replayed by a ``replay`` fault (by default its genuine vote to the
    previous request of the batch, else its answer to the same proof under nonce − 1
    modulo 2^64); ``deadline`` in clock units after the opening.
    """
    nonce: int
    descriptor: bytes
    proofs: dict
    faults: dict = dataclasses.field(default_factory=dict)
    earlier: dict = dataclasses.field(default_factory=dict)
    deadline: float = DEFAULT_DEADLINE


@dataclasses.dataclass(frozen=True)
class Delivered:
    """What a remote core delivered for one request.

    ``messages``: ``((t, message), ...)`` in arrival order, ``t`` in seconds after the
    request was sent, ``message`` a :class:`Vote` or, for an answer that is not one, what
    was received (the collector refuses it as ``malformed``). ``fault``: the kind of
    ``consensus.sources.FAULTS`` the link showed — ``silent`` (down, busy, or the
    connection dropped mid-answer: nothing whole arrived), ``late`` (no answer by the
    deadline), ``corrupt`` (an answer that is not a vote), ``equivocate`` (two different
    votes) — or ``None``; ``link`` says what happened (``down``, ``busy``, ``dropped``,
    ``timeout``, ``tls: …``, ``http 4xx`` …). ``status`` and ``cycles`` as the node
    reported them."""
    messages: tuple = ()
    fault: str | None = None
    link: str | None = None
    status: str | None = None
    cycles: int | None = None


@dataclasses.dataclass
class Outcome:
    decision: object
    received: list          # (vote, counted, reason, at)
    evidence: list
    responses: dict         # validator → {"vendor", "vote", "status", "cycles", "arrival", "fault"}
    collector: Collector


def run_request(vs: ValidatorSet, cores: dict, *, nonce: int, descriptor: bytes,
                proofs: dict, faults: dict | None = None, earlier: dict | None = None,
                deadline: float = DEFAULT_DEADLINE, collector: Collector | None = None,
                attest=None) -> Outcome:
    """Decide one request (see :class:`Ask` for the arguments); ``cores`` maps validator
    name → :class:`Core`."""
    ask = Ask(nonce, descriptor, proofs, dict(faults or {}), dict(earlier or {}), deadline)
    return run_requests(vs, cores, [ask], collector=collector, attest=attest)[0]


def run_requests(vs: ValidatorSet, cores: dict, asks, *, collector: Collector | None = None,
                 attest=None) -> list:
    """Decide ``asks`` (a list of :class:`Ask`) in order with one collector; returns one
    :class:`Outcome` each."""
    asks = list(asks)
    for ask in asks:
        for name, kind in ask.faults.items():
            if name not in vs:
                raise ValueError(f"fault for unknown validator {name!r}")
            if kind not in FAULTS:
                raise ValueError(f"unknown fault {kind!r}; expected one of {', '.join(FAULTS)}")
        if not 0 <= int(ask.nonce) <= NONCE_MAX:
            raise ValueError(f"nonce {ask.nonce} is not an unsigned 64-bit integer")
    col = collector or Collector(vs, attest=attest)
    answers = _gather(vs, cores, asks)

    outcomes, previous = [], {}
    for k, ask in enumerate(asks):
        base = 0.0 if col.now == float("-inf") else col.now + 1
        genuine = {}
        arrivals, responses = [], {}
        for i, v in enumerate(vs.validators):
            r = answers[_key(v, ask.nonce, ask.descriptor, ask.proofs[v.vendor])]
            if isinstance(r, Delivered):
                _delivered(v, i, r, ask, base, arrivals, responses, genuine)
                continue
            honest = Vote(v.name, ask.nonce, ask.descriptor, bool(r.vote), r.digest, r.attestation)
            genuine[v.name] = honest
            kind = ask.faults.get(v.name)
            before = None
            if kind == "replay":
                before = ask.earlier.get(v.name) or previous.get(v.name)
                if before is None:
                    prev = _previous_nonce(ask.nonce)
                    p = answers[_key(v, prev, ask.descriptor, ask.proofs[v.vendor])]
                    before = Vote(v.name, prev, ask.descriptor, bool(p.vote), p.digest,
                                  p.attestation)
            at = base + (r.arrival if r.arrival is not None else i + 1)
            for j, msg in enumerate(inject(kind, honest, k_att=v.k_att, vendor=v.vendor,
                                           earlier=before, attest=software_attestation)):
                arrivals.append((base + ask.deadline + 1 + i if msg.late else at + j * 0.5,
                                 i, j, msg.vote))
            responses[v.name] = {"vendor": v.vendor, "vote": bool(r.vote),
                                 "status": _label(r.status), "cycles": r.cycles,
                                 "arrival": r.arrival, "fault": kind}
        arrivals.sort(key=lambda a: a[:3])

        digests = {v.name: software_digest(ask.proofs[v.vendor]) for v in vs.validators}
        effects = col.step(Open(ask.nonce, ask.descriptor, at=base, deadline=base + ask.deadline,
                                digests=digests))
        received = []
        for at, _, _, vote in arrivals:
            eff = col.step(Receive(vote, at))
            effects += eff
            for e in eff:
                if isinstance(e, Counted):
                    received.append((e.vote, True, None, at))
                elif isinstance(e, Refused):
                    received.append((e.vote, False, e.reason, at))
        effects += col.step(Tick(max([base + ask.deadline] + [a[0] for a in arrivals]) + 1))
        decided = [e.decision for e in effects
                   if isinstance(e, Decided) and e.decision.nonce == ask.nonce]
        evidence = [e.evidence for e in effects if isinstance(e, EvidenceFound)]
        # A vote counted on arrival and withdrawn when its validator equivocated before the
        # decision is not part of the decision.
        excluded = set(decided[0].excluded)
        received = [(v, False, "withdrawn", at) if counted and v.validator in excluded
                    else (v, counted, reason, at) for v, counted, reason, at in received]
        outcomes.append(Outcome(decided[0], received, evidence, responses, col))
        previous = genuine
    return outcomes


def _delivered(v, i, r, ask, base, arrivals, responses, genuine):
    """A remote core's messages, as they arrived."""
    if v.name in ask.faults:
        raise ValueError(f"fault injection does not apply to {v.name}: a remote node's "
                         "faults are its own")
    votes = [m for _, m in r.messages if isinstance(m, Vote)]
    if votes:
        genuine[v.name] = votes[0]
    for j, (t, msg) in enumerate(r.messages):
        arrivals.append((base + t, i, j, msg))
    responses[v.name] = {"vendor": v.vendor, "vote": votes[0].vote if votes else None,
                         "status": r.status, "cycles": r.cycles,
                         "arrival": r.messages[0][0] if r.messages else None,
                         "fault": r.fault, "link": r.link}


def _previous_nonce(nonce):
    """The nonce a replayed response was given for: nonce − 1, modulo 2^64 (a uint64)."""
    return (int(nonce) - 1) % (NONCE_MAX + 1)


def _key(v, nonce, descriptor, proof):
    return (v.name, int(nonce), bytes(descriptor), bytes(proof))


def _gather(vs, cores, asks) -> dict:
    """Every response the asks need, keyed by :func:`_key`: each source asked once (in one
    batch where it has ``validate_batch``)."""
    wanted = {}                         # key → (validator, nonce, descriptor, proof)
    deadlines = {}                      # key → the ask's deadline (remote sources)
    for k, ask in enumerate(asks):
        for v in vs.validators:
            proof = ask.proofs[v.vendor]
            wanted.setdefault(_key(v, ask.nonce, ask.descriptor, proof),
                              (v, ask.nonce, ask.descriptor, proof))
            deadlines.setdefault(_key(v, ask.nonce, ask.descriptor, proof), ask.deadline)
            replayed_earlier = v.name in ask.earlier or k > 0
            if ask.faults.get(v.name) == "replay" and not replayed_earlier:
                prev = _previous_nonce(ask.nonce)
                wanted.setdefault(_key(v, prev, ask.descriptor, proof),
                                  (v, prev, ask.descriptor, proof))
    by_source = {}
    for key, item in wanted.items():
        by_source.setdefault(id(cores[item[0].name].source), []).append((key, item))
    answers = {}
    for items in by_source.values():
        source = cores[items[0][1][0].name].source
        calls = [(v.vendor, cores[v.name].key, v.k_att, d, n, p) for _, (v, n, d, p) in items]
        if hasattr(source, "gather"):       # remote nodes: all at once, each its deadline
            results = source.gather([(v, n, d, p, deadlines.get(key, DEFAULT_DEADLINE))
                                     for key, (v, n, d, p) in items])
        elif hasattr(source, "validate_batch"):
            results = source.validate_batch(calls)
        else:
            results = [source.validate(*c) for c in calls]
        answers.update((key, r) for (key, _), r in zip(items, results))
    return answers


def _label(status) -> str:
    return Status(int(status)).label
