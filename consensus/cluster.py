"""The shell around the collector: one request through a cluster of vote sources.

:func:`run_request` asks every core (a vote source per vendor, see ``consensus.sources``)
for its response, turns the responses of faulty cores into what those cores would send
(``consensus.sources.inject``), delivers everything to a :class:`Collector` on a virtual
clock (core ``i`` answers at ``i + 1``, or at its cycle count for RTL sources; late
answers at ``deadline + 1``) and returns the decision with every vote received.
"""

import dataclasses

from .collector import Collector, Counted, Decided, EvidenceFound, Open, Receive, Refused, Tick
from .sources import FAULTS, RtlSource, inject, software_attestation, software_digest
from .votes import ValidatorSet, Vote

__all__ = ["Core", "Outcome", "run_request", "DEFAULT_DEADLINE"]

DEFAULT_DEADLINE = 1_000_000.0


@dataclasses.dataclass(frozen=True)
class Core:
    """One validator core: its algorithm key (``None``: no key loaded) and vote source."""
    key: bytes | None
    source: object


@dataclasses.dataclass
class Outcome:
    decision: object
    received: list          # (vote, counted, reason, at)
    evidence: list
    responses: dict         # validator → {"vote", "status", "cycles", "fault"}
    collector: Collector


def run_request(vs: ValidatorSet, cores: dict, *, nonce: int, descriptor: bytes,
                proofs: dict, faults: dict | None = None, earlier: dict | None = None,
                deadline: float = DEFAULT_DEADLINE, collector: Collector | None = None,
                attest=None) -> Outcome:
    """Decide one request.

    ``cores`` maps validator name → :class:`Core`; ``proofs`` vendor → proof bytes;
    ``faults`` validator name → a kind of ``consensus.sources.FAULTS``; ``earlier``
    validator name → its genuine :class:`Vote` to an earlier request (used by ``replay``;
    by default the core's answer to the same proof under ``nonce − 1``).
    """
    faults = dict(faults or {})
    for name, kind in faults.items():
        if name not in vs:
            raise ValueError(f"fault for unknown validator {name!r}")
        if kind not in FAULTS:
            raise ValueError(f"unknown fault {kind!r}; expected one of {', '.join(FAULTS)}")
    col = collector or Collector(vs, attest=attest)
    digests = {v.name: software_digest(proofs[v.vendor]) for v in vs.validators}
    effects = col.step(Open(nonce, descriptor, at=0.0, deadline=deadline, digests=digests))

    # Ask the cores; RTL cores of one vendor are simulated as one batch.
    results = {}
    rtl = [v for v in vs.validators if isinstance(cores[v.name].source, RtlSource)]
    if rtl:
        batch = [(v.vendor, cores[v.name].key, v.k_att, descriptor, nonce, proofs[v.vendor])
                 for v in rtl]
        for v, r in zip(rtl, RtlSource().validate_batch(batch)):
            results[v.name] = r
    for v in vs.validators:
        if v.name not in results:
            results[v.name] = cores[v.name].source.validate(
                v.vendor, cores[v.name].key, v.k_att, descriptor, nonce, proofs[v.vendor])

    arrivals, responses = [], {}
    for i, v in enumerate(vs.validators):
        r = results[v.name]
        honest = Vote(v.name, nonce, descriptor, bool(r.vote), r.digest, r.attestation)
        kind = faults.get(v.name)
        before = None
        if kind == "replay":
            before = (earlier or {}).get(v.name)
            if before is None:
                prev = (nonce - 1) % (1 << 64)
                p = cores[v.name].source.validate(v.vendor, cores[v.name].key, v.k_att,
                                                  descriptor, prev, proofs[v.vendor])
                before = Vote(v.name, prev, descriptor, bool(p.vote), p.digest, p.attestation)
        at = float(r.cycles) if getattr(r, "cycles", None) else float(i + 1)
        for j, msg in enumerate(inject(kind, honest, k_att=v.k_att, vendor=v.vendor,
                                       earlier=before, attest=software_attestation)):
            arrivals.append((deadline + 1 + i if msg.late else at + j * 0.5, i, j, msg.vote))
        responses[v.name] = {"vendor": v.vendor, "vote": bool(r.vote),
                             "status": _status_label(r.status),
                             "cycles": getattr(r, "cycles", None), "fault": kind}
    arrivals.sort(key=lambda a: a[:3])

    received = []
    for at, _, _, vote in arrivals:
        eff = col.step(Receive(vote, at))
        effects += eff
        for e in eff:
            if isinstance(e, Counted):
                received.append((e.vote, True, None, at))
            elif isinstance(e, Refused):
                received.append((e.vote, False, e.reason, at))
    effects += col.step(Tick(max([deadline] + [a[0] for a in arrivals]) + 1))
    decided = [e.decision for e in effects if isinstance(e, Decided) and e.decision.nonce == nonce]
    evidence = [e.evidence for e in effects if isinstance(e, EvidenceFound)]
    # A vote counted on arrival and withdrawn when its validator equivocated before the
    # decision is not part of the decision.
    excluded = set(decided[0].excluded)
    received = [(v, False, "withdrawn", at) if counted and v.validator in excluded
                else (v, counted, reason, at) for v, counted, reason, at in received]
    return Outcome(decided[0], received, evidence, responses, col)


def _status_label(status) -> str:
    names = {0: "ok", 1: "bad_length", 2: "no_key", 3: "bad_key"}
    return names.get(int(status), str(status))
