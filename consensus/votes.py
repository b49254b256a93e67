"""Votes, validator sets, quorum rules, evidence and quorum certificates.

Everything here is plain data plus pure functions; the collector (``consensus.collector``)
and the store (``consensus.store``) build on it.

A *vote* is a validator core's response to one request (SPEC §3.2/§3.3): the validator,
the request's nonce and descriptor, the vote bit, the proof digest and the attestation
``KMAC256(K_att, id ‖ N ‖ D ‖ vote ‖ PD, 256, "pqvote/vote")``.

Quorum rules (on voting power ``P``; ``P = n`` when every validator has power 1):

========== ========================= =========================================
rule        quorum ``q``              note
========== ========================= =========================================
ge_3_4      ``⌈3P/4⌉``                 the default: SPEC §5's 75 % (3 of 4)
gt_2_3      ``⌊2P/3⌋ + 1``            the classical rule; the smallest safe quorum
unanimous   ``P``                     refused by the power rule (one validator vetoes)
========== ========================= =========================================

An explicit integer quorum is also accepted. Any quorum below the safe bound
``⌊2P/3⌋ + 1`` is refused: two quorums must intersect in more than ``f = ⌊(P−1)/3⌋``
power, so that they share at least one correct validator.

The power rule (:func:`power_violation`), checked by :class:`ValidatorSet` at construction:
every validator's power ``p`` satisfies ``p ≤ P − q`` (alone it can neither reach ``q`` nor
keep the others from reaching it), and every algorithm family's total power is below ``q``
(one broken family cannot accept alone). Families come from ``golden.proof.FAMILIES``.
"""

import dataclasses
import hmac
import json
from typing import Callable, Iterable, Mapping

from golden.proof import FAMILIES, VENDORS, strict_hex

__all__ = [
    "VENDOR_IDS", "RULES", "ConfigError", "Validator", "ValidatorSet", "Vote", "Evidence",
    "Certificate", "safe_quorum", "quorum_for", "check_certificate", "verify_certificate",
    "certificate_signing_bytes", "check_evidence", "power_violation", "DEFAULT_RULE",
    "FAMILIES", "strict_hex",
]

#: Vendor name → the one-byte ``id`` in the attestation (SPEC §2; equal to
#: ``golden.proof.VENDORS``).
VENDOR_IDS = VENDORS            # vendor → id byte, from golden.proof

RULES = ("ge_3_4", "gt_2_3", "unanimous")
DEFAULT_RULE = "ge_3_4"

DESCRIPTOR_LEN = 24
DIGEST_LEN = 32
ATTESTATION_LEN = 32
KATT_LEN = 32
NONCE_MAX = (1 << 64) - 1

#: Attestation function ``(k_att, vendor, nonce, descriptor, vote, proof_digest) -> bytes``.
AttestFn = Callable[[bytes, str, int, bytes, bool, bytes], bytes]


class ConfigError(ValueError):
    """An unsafe or malformed validator-set configuration."""


def _no_unknown_fields(obj, allowed, what):
    unknown = sorted(set(obj) - set(allowed))
    if unknown:
        raise ValueError(f"{what}: unknown field {unknown[0]!r}")


def safe_quorum(total_power: int) -> int:
    """The smallest safe quorum ``⌊2P/3⌋ + 1`` (integer arithmetic)."""
    return 2 * total_power // 3 + 1


def quorum_for(rule, total_power: int) -> int:
    """Quorum of ``rule`` (a name of :data:`RULES` or an ``int``) for ``total_power``.

    Raises :class:`ConfigError` when the quorum is below the safe bound or unreachable.
    """
    if total_power < 1:
        raise ConfigError(f"Total voting power must be at least 1, not {total_power}")
    if isinstance(rule, bool) or not isinstance(rule, (str, int)):
        raise ConfigError(f"Quorum rule must be one of {', '.join(RULES)} or an integer, "
                          f"not {rule!r}")
    if isinstance(rule, str):
        if rule == "gt_2_3":
            q = 2 * total_power // 3 + 1
        elif rule == "ge_3_4":
            q = -(-3 * total_power // 4)          # ⌈3P/4⌉
        elif rule == "unanimous":
            q = total_power
        else:
            raise ConfigError(f"Quorum rule must be one of {', '.join(RULES)} or an integer, "
                              f"not {rule!r}")
    else:
        q = rule
    bound = safe_quorum(total_power)
    if q < bound:
        raise ConfigError(f"Quorum {q} of total power {total_power} is below the safe bound "
                          f"floor(2n/3)+1 = {bound}; refusing the configuration")
    if q > total_power:
        raise ConfigError(f"Quorum {q} exceeds the total voting power {total_power}; "
                          f"it could never be reached")
    return q


def power_violation(validators, q: int) -> str | None:
    """Why ``validators`` with quorum ``q`` let one core or one family decide, or ``None``.

    Refused: a validator with power ``p > P − q`` (alone it blocks every decision: the
    others cannot reach ``q`` without it; since ``q > P/2`` this also covers ``p ≥ q``,
    reaching a decision alone), and an algorithm family (``golden.proof.FAMILIES``) whose
    total power reaches ``q`` (a break of that one family would accept alone).
    """
    validators = tuple(validators)
    total = sum(v.power for v in validators)
    for v in validators:
        if v.power > total - q:
            return (f"Validator {v.name!r} holds power {v.power} of {total}: without it the "
                    f"others cannot reach the quorum {q}, so alone it could block (or, with "
                    f"power >= q, reach) a decision; each validator may hold at most "
                    f"P - q = {total - q}")
    family_power = {}
    for v in validators:
        family = FAMILIES[v.vendor]
        family_power[family] = family_power.get(family, 0) + v.power
    for family, power in sorted(family_power.items()):
        if power >= q:
            members = sorted({v.vendor for v in validators if FAMILIES[v.vendor] == family})
            return (f"Algorithm family {family} ({', '.join(members)}) holds power {power} "
                    f"of {total}, at least the quorum {q}: a break of that one family could "
                    f"accept alone")
    return None


@dataclasses.dataclass(frozen=True)
class Validator:
    """One validator core: a unique ``name``, its ``vendor`` (the attestation ``id``),
    its 32-byte attestation key and its voting power."""
    name: str
    vendor: str
    k_att: bytes = dataclasses.field(repr=False)
    power: int = 1

    def __post_init__(self):
        if not isinstance(self.name, str) or not self.name:
            raise ConfigError(f"Validator name must be a non-empty string, not {self.name!r}")
        if self.vendor not in VENDOR_IDS:
            raise ConfigError(f"Unknown vendor {self.vendor!r}; expected one of "
                              f"{', '.join(VENDOR_IDS)}")
        if not isinstance(self.k_att, (bytes, bytearray)) or len(self.k_att) != KATT_LEN:
            raise ConfigError(f"Attestation key of {self.name!r} must be {KATT_LEN} bytes")
        if isinstance(self.power, bool) or not isinstance(self.power, int) or self.power < 1:
            raise ConfigError(f"Voting power of {self.name!r} must be a positive integer, "
                              f"not {self.power!r}")

    @property
    def vendor_id(self) -> int:
        return VENDOR_IDS[self.vendor]


class ValidatorSet:
    """The validator set and its quorum rule, checked at construction.

    Parameters
    ----------
    validators : iterable of :class:`Validator`
        Distinct names, distinct attestation keys.
    rule : str or int
        A name of :data:`RULES` or an explicit quorum; refused below ``⌊2P/3⌋ + 1``, and
        refused when one validator or one algorithm family could decide alone
        (:func:`power_violation`).
    collector_pk : bytes or None
        The collector's ML-DSA-44 public key; certificates must carry a valid signature
        under it when given.
    epoch : int
        The validator-set epoch this set governs (0: the genesis set of ``cluster.json``;
        each decided set change opens the next, ``consensus.epochs``). Certificates name
        the epoch they were decided in and are checked only against that epoch's set.

    Members
    -------
    q : int            the quorum (in voting power)
    total_power : int  ``P``
    """

    def __init__(self, validators: Iterable[Validator], rule=DEFAULT_RULE, *,
                 collector_pk: bytes | None = None, epoch: int = 0):
        if isinstance(epoch, bool) or not isinstance(epoch, int) or epoch < 0:
            raise ConfigError(f"Epoch must be a non-negative integer, not {epoch!r}")
        self._epoch = epoch
        self._validators = tuple(validators)
        if not self._validators:
            raise ConfigError("A validator set needs at least one validator")
        self._by_name = {}
        for v in self._validators:
            if not isinstance(v, Validator):
                raise ConfigError(f"Expected a Validator, not {v!r}")
            if v.name in self._by_name:
                raise ConfigError(f"Duplicate validator name {v.name!r}")
            self._by_name[v.name] = v
        if len({bytes(v.k_att) for v in self._validators}) != len(self._validators):
            raise ConfigError("Attestation keys must be distinct per validator")
        self._rule = rule
        self._total = sum(v.power for v in self._validators)
        self._q = quorum_for(rule, self._total)
        reason = power_violation(self._validators, self._q)
        if reason is not None:
            raise ConfigError(f"{reason}; refusing the configuration")
        self._collector_pk = collector_pk

    @property
    def validators(self):
        return self._validators

    @property
    def rule(self):
        return self._rule

    @property
    def q(self) -> int:
        return self._q

    @property
    def total_power(self) -> int:
        return self._total

    @property
    def collector_pk(self):
        return self._collector_pk

    @property
    def epoch(self) -> int:
        return self._epoch

    @property
    def f(self) -> int:
        """Tolerated Byzantine power ``⌊(P−1)/3⌋``."""
        return (self._total - 1) // 3

    def __len__(self):
        return len(self._validators)

    def __contains__(self, name):
        return name in self._by_name

    def __getitem__(self, name) -> Validator:
        return self._by_name[name]

    def get(self, name):
        return self._by_name.get(name)


_VOTE_FIELDS = ("validator", "nonce", "descriptor", "vote", "proof_digest", "attestation")
_EVIDENCE_FIELDS = ("kind", "validator", "nonce", "votes")
_CERTIFICATE_FIELDS = ("nonce", "descriptor", "outcome", "reason", "quorum", "total_power",
                       "votes", "evidence", "signature", "epoch")


@dataclasses.dataclass(frozen=True)
class Vote:
    """A validator core's response, as received by the collector."""
    validator: str
    nonce: int
    descriptor: bytes
    vote: bool
    proof_digest: bytes
    attestation: bytes

    def to_json(self) -> dict:
        return {"validator": self.validator, "nonce": self.nonce,
                "descriptor": self.descriptor.hex(), "vote": bool(self.vote),
                "proof_digest": self.proof_digest.hex(),
                "attestation": self.attestation.hex()}

    @classmethod
    def from_json(cls, obj) -> "Vote":
        """A vote from its JSON object; ``ValueError`` names the first thing wrong (a
        missing or unknown field, a wrong type, hex that is not strict hex)."""
        if not isinstance(obj, Mapping):
            raise ValueError(f"A vote must be a JSON object, not {type(obj).__name__}")
        _no_unknown_fields(obj, _VOTE_FIELDS, "vote")
        missing = [k for k in _VOTE_FIELDS if k not in obj]
        if missing:
            raise ValueError(f"vote is missing the field {missing[0]!r}")
        vote, nonce, validator = obj["vote"], obj["nonce"], obj["validator"]
        if not isinstance(vote, bool):
            raise ValueError(f"vote must be true or false, not {vote!r}")
        if isinstance(nonce, bool) or not isinstance(nonce, int) or not 0 <= nonce <= NONCE_MAX:
            raise ValueError(f"nonce must be an unsigned 64-bit integer, not {nonce!r}")
        if not isinstance(validator, str):
            raise ValueError(f"validator must be a string, not {validator!r}")
        return cls(validator=validator, nonce=nonce,
                   descriptor=strict_hex(obj["descriptor"], "vote descriptor"), vote=vote,
                   proof_digest=strict_hex(obj["proof_digest"], "vote proof_digest"),
                   attestation=strict_hex(obj["attestation"], "vote attestation"))

    def canonical(self) -> bytes:
        """Canonical byte encoding (orders evidence, keys signatures)."""
        return json.dumps(self.to_json(), sort_keys=True, separators=(",", ":")).encode()

    def well_formed(self) -> bool:
        """Sizes and types (the cheap part of the checks)."""
        return (isinstance(self.validator, str)
                and isinstance(self.nonce, int) and not isinstance(self.nonce, bool)
                and 0 <= self.nonce <= NONCE_MAX
                and isinstance(self.vote, bool)
                and isinstance(self.descriptor, bytes) and len(self.descriptor) == DESCRIPTOR_LEN
                and isinstance(self.proof_digest, bytes) and len(self.proof_digest) == DIGEST_LEN
                and isinstance(self.attestation, bytes)
                and len(self.attestation) == ATTESTATION_LEN)


def attestation_valid(attest: AttestFn, validator: Validator, vote: Vote) -> bool:
    """Recompute the attestation of ``vote`` under ``validator``'s key; constant-time compare."""
    expected = attest(bytes(validator.k_att), validator.vendor, vote.nonce, vote.descriptor,
                      bool(vote.vote), vote.proof_digest)
    return hmac.compare_digest(expected, vote.attestation)


@dataclasses.dataclass(frozen=True)
class Evidence:
    """Two distinct, validly attested votes of one validator for one request
    (``first`` < ``second`` in canonical byte order)."""
    validator: str
    nonce: int
    first: Vote
    second: Vote

    @classmethod
    def of(cls, a: Vote, b: Vote) -> "Evidence":
        first, second = sorted((a, b), key=Vote.canonical)
        return cls(validator=a.validator, nonce=a.nonce, first=first, second=second)

    def to_json(self) -> dict:
        return {"kind": "equivocation", "validator": self.validator, "nonce": self.nonce,
                "votes": [self.first.to_json(), self.second.to_json()]}

    @classmethod
    def from_json(cls, obj) -> "Evidence":
        if not isinstance(obj, Mapping):
            raise ValueError(f"Evidence must be a JSON object, not {type(obj).__name__}")
        _no_unknown_fields(obj, _EVIDENCE_FIELDS, "evidence")
        votes = obj.get("votes")
        if not isinstance(votes, list) or len(votes) != 2:
            raise ValueError("evidence must hold a list of two votes")
        if obj.get("kind", "equivocation") != "equivocation":
            raise ValueError(f"unknown evidence kind {obj['kind']!r}")
        a, b = (Vote.from_json(v) for v in votes)
        ev = cls.of(a, b)
        for field in ("validator", "nonce"):
            if field in obj and obj[field] != getattr(ev, field):
                raise ValueError(f"evidence {field} does not match its votes")
        return ev


@dataclasses.dataclass(frozen=True)
class Certificate:
    """A quorum certificate: the counted votes of one decision.

    ``outcome`` is ``"accepted"`` (yes power ≥ q) or ``"rejected"``; a rejection has
    ``reason`` ``"quorum"`` (no power ≥ q) or ``"unreachable"`` (no power plus the power of
    validators proven to equivocate exceeds P − q, so yes can no longer reach q). ``votes``
    are sorted by validator name; ``evidence`` (unreachable rejections only) holds the
    equivocation proofs that exclude validators from the tally. ``signature`` is the
    collector's ML-DSA-44 signature over :func:`certificate_signing_bytes` (empty if unsigned).
    ``epoch`` is the validator-set epoch the decision was taken in (0: the genesis set).
    """
    nonce: int
    descriptor: bytes
    outcome: str
    reason: str
    quorum: int
    total_power: int
    votes: tuple
    evidence: tuple = ()
    signature: bytes = b""
    epoch: int = 0

    def to_json(self) -> dict:
        return {"nonce": self.nonce, "descriptor": self.descriptor.hex(),
                "outcome": self.outcome, "reason": self.reason, "quorum": self.quorum,
                "total_power": self.total_power,
                "votes": [v.to_json() for v in self.votes],
                "evidence": [e.to_json() for e in self.evidence],
                "signature": self.signature.hex(), "epoch": self.epoch}

    @classmethod
    def from_json(cls, obj) -> "Certificate":
        """A certificate from its JSON object; ``ValueError`` names the first thing wrong.
        The content is checked by :func:`check_certificate`, not here."""
        if not isinstance(obj, Mapping):
            raise ValueError("A certificate must be a JSON object")
        _no_unknown_fields(obj, _CERTIFICATE_FIELDS, "certificate")
        missing = [k for k in _CERTIFICATE_FIELDS[:7] if k not in obj]
        if missing:
            raise ValueError(f"certificate is missing the field {missing[0]!r}")
        votes, evidence = obj["votes"], obj.get("evidence", [])
        if not isinstance(votes, list) or not isinstance(evidence, list):
            raise ValueError("certificate votes and evidence must be lists")
        for field in ("nonce", "quorum", "total_power"):
            if isinstance(obj[field], bool) or not isinstance(obj[field], int):
                raise ValueError(f"certificate {field} must be an integer, not {obj[field]!r}")
        epoch = obj.get("epoch", 0)
        if isinstance(epoch, bool) or not isinstance(epoch, int) or epoch < 0:
            raise ValueError(f"certificate epoch must be a non-negative integer, not {epoch!r}")
        for field in ("outcome", "reason"):
            if not isinstance(obj[field], str):
                raise ValueError(f"certificate {field} must be a string, not {obj[field]!r}")
        return cls(nonce=obj["nonce"], descriptor=strict_hex(obj["descriptor"], "descriptor"),
                   outcome=obj["outcome"], reason=obj["reason"], quorum=obj["quorum"],
                   total_power=obj["total_power"],
                   votes=tuple(Vote.from_json(v) for v in votes),
                   evidence=tuple(Evidence.from_json(e) for e in evidence),
                   signature=strict_hex(obj.get("signature", ""), "signature"), epoch=epoch)


def certificate_signing_bytes(cert: Certificate) -> bytes:
    """The bytes the collector signs: a domain prefix and the canonical JSON without the
    signature. The genesis epoch (0) is left out of the signed JSON, so a certificate made
    before validator-set epochs existed is exactly an epoch-0 certificate and still verifies;
    every later epoch is signed."""
    body = cert.to_json()
    del body["signature"]
    if body["epoch"] == 0:
        del body["epoch"]
    return b"pqvote/certificate\x00" + json.dumps(body, sort_keys=True,
                                                  separators=(",", ":")).encode()


def _default_attest() -> AttestFn:
    from golden.proof import attestation
    return attestation


def check_certificate(cert: Certificate, keys: ValidatorSet, *,
                      attest: AttestFn | None = None,
                      collector_pk: bytes | None = None,
                      allow_unsigned: bool = False,
                      check_signature: bool = True) -> str | None:
    """Check ``cert`` standalone, with no collector state.

    Returns ``None`` for a valid certificate, else a one-line reason. Checked: the
    outcome/reason are known; every vote is well formed, for the certificate's nonce and
    descriptor and of the certified decision; signers are distinct and known; every
    attestation verifies under the signer's ``K_att``; the counted power meets the quorum
    that ``keys`` (not the certificate) defines; and the collector's ML-DSA-44 signature
    under ``collector_pk`` or ``keys.collector_pk``. Without a collector public key the
    signature cannot be checked and the certificate is refused, unless the caller passes
    ``allow_unsigned=True`` (tests and simulations that run a collector without a key).
    ``check_signature=False`` leaves the signature out (an entry of a batch certificate,
    whose signature is the one over the batch root: ``consensus.merkle``). The certificate's
    ``epoch`` must be the epoch of ``keys``.
    """
    attest = attest or _default_attest()
    if not isinstance(cert, Certificate):
        return "not a certificate"
    if cert.outcome not in ("accepted", "rejected"):
        return f"unknown outcome {cert.outcome!r}"
    want_vote = cert.outcome == "accepted"
    if want_vote and cert.reason != "quorum":
        return f"an acceptance needs reason 'quorum', not {cert.reason!r}"
    if not want_vote and cert.reason not in ("quorum", "unreachable"):
        return f"unknown rejection reason {cert.reason!r}"
    if not isinstance(cert.descriptor, bytes) or len(cert.descriptor) != DESCRIPTOR_LEN:
        return "descriptor must be 24 bytes"
    if cert.epoch != keys.epoch:
        return (f"certificate names validator-set epoch {cert.epoch}, the validator set "
                f"given is epoch {keys.epoch}")
    if cert.quorum != keys.q or cert.total_power != keys.total_power:
        return (f"certificate claims quorum {cert.quorum} of {cert.total_power}, the "
                f"validator set has {keys.q} of {keys.total_power}")
    seen = set()
    power = 0
    for v in cert.votes:
        if not isinstance(v, Vote) or not v.well_formed():
            return "malformed vote"
        if v.validator in seen:
            return f"validator {v.validator!r} signs twice"
        seen.add(v.validator)
        validator = keys.get(v.validator)
        if validator is None:
            return f"unknown validator {v.validator!r}"
        if v.nonce != cert.nonce or v.descriptor != cert.descriptor:
            return f"vote of {v.validator!r} is for another request"
        if bool(v.vote) != want_vote:
            return f"vote of {v.validator!r} disagrees with the decision"
        if not attestation_valid(attest, validator, v):
            return f"attestation of {v.validator!r} does not verify"
        power += validator.power
    if cert.reason == "quorum" and power < keys.q:
        return f"counted power {power} is below the quorum {keys.q}"
    if cert.evidence and cert.reason != "unreachable":
        return "only an unreachable rejection carries evidence"
    for ev in cert.evidence:
        reason = _check_evidence(ev, keys, attest, cert.nonce, cert.descriptor)
        if reason:
            return reason
        if ev.validator in seen:
            return f"validator {ev.validator!r} both signs and is excluded"
        seen.add(ev.validator)
        power += keys[ev.validator].power
    if cert.reason == "unreachable" and power <= keys.total_power - keys.q:
        return (f"counted no-power {power} does not exclude a yes-quorum "
                f"(needs more than {keys.total_power - keys.q})")
    if not check_signature:
        return None
    pk = collector_pk if collector_pk is not None else keys.collector_pk
    if pk is None and not allow_unsigned:
        return "no collector public key to check the signature (allow_unsigned not given)"
    if pk is not None:
        from pqcrypto.sign import ml_dsa_44
        try:
            ml_dsa_44.verify(pk, certificate_signing_bytes(cert), cert.signature)
        except Exception:
            return "collector signature does not verify"
    return None


def _check_evidence(ev, keys, attest, nonce, descriptor):
    if not isinstance(ev, Evidence):
        return "malformed evidence"
    validator = keys.get(ev.validator)
    if validator is None:
        return f"evidence names an unknown validator {ev.validator!r}"
    for v in (ev.first, ev.second):
        if not isinstance(v, Vote) or not v.well_formed() or v.validator != ev.validator:
            return "malformed evidence vote"
        if v.nonce != nonce or v.descriptor != descriptor:
            return f"evidence against {ev.validator!r} is for another request"
        if not attestation_valid(attest, validator, v):
            return f"evidence against {ev.validator!r} does not verify"
    if ev.first == ev.second:
        return f"evidence against {ev.validator!r} holds one vote twice"
    return None


def check_evidence(ev: Evidence, keys: ValidatorSet, *, attest: AttestFn | None = None):
    """``None`` if ``ev`` proves an equivocation under ``keys``, else a reason."""
    return _check_evidence(ev, keys, attest or _default_attest(), ev.first.nonce,
                           ev.first.descriptor)


def verify_certificate(cert: Certificate, keys: ValidatorSet, **kwargs) -> bool:
    """``True`` iff :func:`check_certificate` finds nothing wrong."""
    return check_certificate(cert, keys, **kwargs) is None
