"""Validator-set epochs: changing the validator set by the current set's quorum.

A change of the validator set — retire validators (a vendor whose algorithm family is
broken), add validators (with fresh attestation keys), change powers, change the rule — is a
:class:`SetChange`. It is decided like any request: its 24-byte descriptor
(:meth:`SetChange.descriptor`, a SHA3-256 commitment to the change) is put to the *current*
set, whose operators approve it by minting proofs for that descriptor; the collector
decides it with the current quorum and certifies it. :meth:`EpochHistory.apply` then opens
the next epoch, with the resulting set, checked by the same power rules as any
configuration (``consensus.votes.power_violation``; a change whose set breaks one is refused
when proposed, :func:`resulting_set`).

Epochs are ranges of nonces: epoch ``e + 1`` starts at the nonce after the change's own
request, and every certificate names its epoch. A certificate is checked against the set
of the epoch it names, and only if its nonce lies in that epoch's range
(:meth:`EpochHistory.check`): a retired validator is unknown to every later set, so its votes
are refused (by the collector: ``unknown_validator``; in a certificate: ``unknown
validator``), and a vote attested with a retired key for a name that was re-keyed fails
its attestation. Certificates of earlier epochs keep verifying against their own set.

A new validator enters by the SHA3-256 digest of its attestation key in the change (the
key itself is provisioned to the collector like any ``K_att``); :meth:`EpochHistory.apply`
checks each provided key against its digest.
"""

import dataclasses
import hashlib
import json
import re
from typing import Mapping

from .votes import (RULES, AttestFn, Certificate, ConfigError, Validator, ValidatorSet,
                    VENDOR_IDS, check_certificate, strict_hex)

__all__ = ["NewValidator", "SetChange", "EpochHistory", "resulting_set", "katt_digest",
           "SET_CHANGE_FORMAT"]

SET_CHANGE_FORMAT = "pqvote-set-change/1"
#: An added validator's name: a DNS label, since it names the validator's key files
#: (``NAME.katt``, ``NAME.key``) and its node's TLS certificate (``DNS:NAME``).
_NAME = re.compile(r"[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?")
_NONCE_END = 1 << 64


def katt_digest(k_att: bytes) -> bytes:
    """The commitment to an attestation key that a set change carries."""
    return hashlib.sha3_256(b"pqvote/katt\x00" + bytes(k_att)).digest()


@dataclasses.dataclass(frozen=True)
class NewValidator:
    name: str
    vendor: str
    power: int
    katt_digest: bytes

    def to_json(self) -> dict:
        return {"name": self.name, "vendor": self.vendor, "power": self.power,
                "katt_digest": self.katt_digest.hex()}


@dataclasses.dataclass(frozen=True)
class SetChange:
    """A proposed change of the validator set of epoch ``from_epoch``.

    ``retire`` names validators to remove, ``add`` new validators, ``powers`` new powers of
    remaining validators (``(name, power)`` pairs), ``rule`` a new quorum rule (``None``:
    unchanged).
    """
    from_epoch: int
    retire: tuple = ()
    add: tuple = ()
    powers: tuple = ()
    rule: object = None

    def to_json(self) -> dict:
        return {"format": SET_CHANGE_FORMAT, "from_epoch": self.from_epoch,
                "retire": sorted(self.retire), "add": [a.to_json() for a in self.add],
                "powers": {name: p for name, p in sorted(self.powers)}, "rule": self.rule}

    @classmethod
    def from_json(cls, obj) -> "SetChange":
        if not isinstance(obj, Mapping) or obj.get("format") != SET_CHANGE_FORMAT:
            raise ValueError(f"not a {SET_CHANGE_FORMAT} document")
        extra = sorted(set(obj) - {"format", "from_epoch", "retire", "add", "powers", "rule"})
        if extra:
            raise ValueError(f"set change: unknown field {extra[0]!r}")
        epoch = obj.get("from_epoch")
        if isinstance(epoch, bool) or not isinstance(epoch, int) or epoch < 0:
            raise ValueError(f"set change from_epoch must be a non-negative integer, "
                             f"not {epoch!r}")
        retire, add, powers = obj.get("retire", []), obj.get("add", []), obj.get("powers", {})
        if not isinstance(retire, list) or not all(isinstance(n, str) for n in retire):
            raise ValueError("set change retire must be a list of validator names")
        if not isinstance(add, list) or not isinstance(powers, Mapping):
            raise ValueError("set change add must be a list, powers an object")
        new = []
        for a in add:
            if not isinstance(a, Mapping) or set(a) != {"name", "vendor", "power",
                                                         "katt_digest"}:
                raise ValueError("each added validator needs exactly name, vendor, power, "
                                 "katt_digest")
            new.append(NewValidator(a["name"], a["vendor"], a["power"],
                                    strict_hex(a["katt_digest"], "katt_digest", 32)))
        return cls(from_epoch=epoch, retire=tuple(retire), add=tuple(new),
                   powers=tuple(sorted(powers.items())), rule=obj.get("rule"))

    def canonical(self) -> bytes:
        return json.dumps(self.to_json(), sort_keys=True, separators=(",", ":")).encode()

    def descriptor(self) -> bytes:
        """The 24-byte descriptor the current set decides on."""
        return hashlib.sha3_256(b"pqvote/set-change\x00" + self.canonical()).digest()[:24]


def resulting_set(current: ValidatorSet, change: SetChange, k_att: Mapping[str, bytes] | None
                  = None) -> ValidatorSet:
    """The validator set of epoch ``current.epoch + 1`` after ``change``.

    ``k_att`` maps each added validator's name to its attestation key (checked against the
    change's digest); without it a placeholder key stands in, which is enough to check the
    power rules at proposal time. :class:`ConfigError` names what is wrong, the power rule a
    resulting set breaks included.
    """
    rule = current.rule if change.rule is None else change.rule
    if isinstance(rule, bool) or not (rule in RULES or isinstance(rule, int)):
        raise ConfigError(f"the quorum rule must be one of {', '.join(RULES)} or an integer, "
                          f"not {rule!r}")
    if change.from_epoch != current.epoch:
        raise ConfigError(f"the change is for epoch {change.from_epoch}, the current set is "
                          f"epoch {current.epoch}")
    for name in change.retire:
        if name not in current:
            raise ConfigError(f"cannot retire {name!r}: not in the epoch-{current.epoch} set")
    if len(set(change.retire)) != len(change.retire):
        raise ConfigError("a validator is retired twice")
    powers = dict(change.powers)
    if len(powers) != len(change.powers):
        raise ConfigError("a validator's power is changed twice")
    for name in powers:
        if name not in current or name in change.retire:
            raise ConfigError(f"cannot change the power of {name!r}: not in the resulting set")
    validators = [dataclasses.replace(v, power=powers.get(v.name, v.power))
                  for v in current.validators if v.name not in change.retire]
    for i, a in enumerate(change.add):
        if not isinstance(a.name, str) or not _NAME.fullmatch(a.name):
            raise ConfigError(f"a new validator's name must be a DNS label (letters, digits, "
                              f"inner hyphens, at most 63), not {a.name!r}")
        if a.name in current and a.name not in change.retire:
            raise ConfigError(f"cannot add {a.name!r}: already a validator")
        if not isinstance(a.vendor, str) or a.vendor not in VENDOR_IDS:
            raise ConfigError(f"Unknown vendor {a.vendor!r} for {a.name!r}")
        if k_att is None:
            key = hashlib.sha3_256(b"placeholder" + bytes([i]) + a.katt_digest).digest()
        else:
            key = k_att.get(a.name)
            if key is None:
                raise ConfigError(f"no attestation key for the new validator {a.name!r}")
            if katt_digest(key) != a.katt_digest:
                raise ConfigError(f"the attestation key of {a.name!r} does not match the "
                                  f"digest in the change")
        validators.append(Validator(a.name, a.vendor, bytes(key), a.power))
    for v in validators:
        if any(bytes(v.k_att) == bytes(old.k_att) for old in current.validators
               if old.name in change.retire):
            raise ConfigError(f"{v.name!r} would keep a retired attestation key")
    try:
        return ValidatorSet(validators, rule, collector_pk=current.collector_pk,
                            epoch=current.epoch + 1)
    except ConfigError as e:
        raise ConfigError(f"the epoch-{current.epoch + 1} set would break a power rule: "
                          f"{e}") from None


class EpochHistory:
    """Every validator set since the genesis set, and the nonce each epoch starts at.

    Parameters
    ----------
    genesis : ValidatorSet
        The epoch-0 set (``cluster.json``); it covers nonces from 0.
    """

    def __init__(self, genesis: ValidatorSet):
        if genesis.epoch != 0:
            raise ConfigError(f"the genesis set must be epoch 0, not {genesis.epoch}")
        self._sets = [genesis]
        self._starts = [0]
        self._changes = []

    @property
    def current(self) -> ValidatorSet:
        return self._sets[-1]

    @property
    def changes(self) -> list:
        """``(SetChange, Certificate)`` of every applied change, in order."""
        return list(self._changes)

    def set_of(self, epoch: int) -> ValidatorSet:
        return self._sets[epoch]

    def start_of(self, epoch: int) -> int:
        return self._starts[epoch]

    def epoch_of(self, nonce: int) -> int:
        """The epoch a request with ``nonce`` belongs to."""
        e = len(self._starts) - 1
        while self._starts[e] > nonce:
            e -= 1
        return e

    def __len__(self):
        return len(self._sets)

    def apply(self, change: SetChange, certificate: Certificate, *,
              k_att: Mapping[str, bytes] | None = None, attest: AttestFn | None = None,
              allow_unsigned: bool = False) -> ValidatorSet:
        """Open the next epoch with ``change``, decided by ``certificate`` under the current
        set; returns the new set. :class:`ConfigError` says why a change is refused."""
        current = self.current
        reason = self.check(certificate, attest=attest, allow_unsigned=allow_unsigned)
        if reason is not None:
            raise ConfigError(f"the set change's certificate is invalid: {reason}")
        if certificate.epoch != current.epoch:
            raise ConfigError(f"the set change was decided in epoch {certificate.epoch}, "
                              f"not the current epoch {current.epoch}")
        if certificate.outcome != "accepted":
            raise ConfigError("the set change was not accepted by the current set's quorum")
        if certificate.descriptor != change.descriptor():
            raise ConfigError("the certificate is for another descriptor than the change")
        new = resulting_set(current, change, k_att or {})
        self._sets.append(new)
        self._starts.append(certificate.nonce + 1)
        self._changes.append((change, certificate))
        return new

    def check(self, cert: Certificate, *, attest: AttestFn | None = None,
              allow_unsigned: bool = False, check_signature: bool = True) -> str | None:
        """``None`` if ``cert`` is valid under the set of the epoch it names and its nonce
        lies in that epoch, else a one-line reason."""
        if not isinstance(cert, Certificate):
            return "not a certificate"
        if isinstance(cert.nonce, bool) or not isinstance(cert.nonce, int) or \
                not 0 <= cert.nonce < _NONCE_END:
            return f"request {cert.nonce!r} is not an unsigned 64-bit integer"
        if cert.epoch >= len(self._sets):
            return (f"certificate names epoch {cert.epoch}, the latest known epoch is "
                    f"{len(self._sets) - 1}")
        if cert.nonce < self._starts[cert.epoch]:
            return (f"request {cert.nonce} lies before epoch {cert.epoch} (which starts at "
                    f"request {self._starts[cert.epoch]})")
        if cert.epoch + 1 < len(self._starts) and cert.nonce >= self._starts[cert.epoch + 1]:
            return (f"request {cert.nonce} lies after epoch {cert.epoch} (epoch "
                    f"{cert.epoch + 1} starts at request {self._starts[cert.epoch + 1]})")
        return check_certificate(cert, self._sets[cert.epoch], attest=attest,
                                 allow_unsigned=allow_unsigned,
                                 check_signature=check_signature)

    def to_record(self, epoch: int) -> dict:
        """What the store keeps for the change that opened ``epoch`` (≥ 1)."""
        change, cert = self._changes[epoch - 1]
        vs = self._sets[epoch]
        return {"change": change.to_json(), "certificate": cert.to_json(),
                "rule": vs.rule, "quorum": vs.q, "total_power": vs.total_power,
                "validators": [{"name": v.name, "vendor": v.vendor, "power": v.power,
                                "katt_digest": katt_digest(v.k_att).hex()}
                               for v in vs.validators]}

    @classmethod
    def from_records(cls, genesis: ValidatorSet, records, k_att: Mapping[str, bytes], *,
                     attest: AttestFn | None = None, allow_unsigned: bool = False):
        """Rebuild a history from stored changes (``DecisionStore.epochs()``), re-checking
        every change's certificate; ``k_att`` holds the keys of every added validator."""
        history = cls(genesis)
        for epoch, start, nonce, body in records:
            change = SetChange.from_json(body["change"])
            cert = Certificate.from_json(body["certificate"])
            history.apply(change, cert, k_att={a.name: k_att.get(a.name) for a in change.add
                                               if a.name in k_att},
                          attest=attest, allow_unsigned=allow_unsigned)
            if epoch != len(history) - 1 or start != history.start_of(epoch) or nonce != cert.nonce:
                raise ConfigError(f"stored epoch {epoch} does not match its change")
        return history
