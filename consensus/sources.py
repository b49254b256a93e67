"""Vote sources and fault injection.

A *vote source* answers a validation request the way a validator core does (SPEC §3.2):

``validate(vendor, key, k_att, descriptor, nonce, proof) -> Result(vote, status,
attestation, digest, cycles, arrival)``

``golden``
    ``golden.proof.validate`` — the bit-exact golden models.
``software``
    :class:`SoftwareSource` — a second, independent implementation of the proof check on
    ``pqcrypto`` (decapsulation / SLH-DSA verification) and ``pycryptodome`` (SHA3-256,
    KMAC256): different code, same standards. McEliece decapsulation runs on
    ``backends.mceliece_fast`` (tables precomputed per key; checked bit for bit against
    ``pqcrypto``; not constant time). Which keys a core refuses (``bad_key``) is part of
    the core's contract, not of the algorithm standard's API (``pqcrypto`` has no key
    check), so it applies the contract's checks, ``golden.proof.check_key``.
``rtl``
    :class:`RtlSource` — the landed cores under Verilator (``backends.cluster``): each
    vendor's requests of a batch run in one simulation of its core, and each response comes
    with the core's latency and its arrival cycle.

A source may also offer ``validate_batch(requests)`` (a list of the same argument tuples):
``consensus.cluster`` then asks it once for everything a decision needs. Sources are mixed
per vendor (:func:`make_sources`). Faults (:data:`FAULTS`) turn one core's honest response
into what a faulty core sends (:func:`inject`).
"""

import dataclasses
import hmac

from Crypto.Hash import KMAC256, SHA3_256

from backends import mceliece_fast
from golden.proof import (BODY_LEN, CONTEXT, OBJECT_LEN, PROOF_CUSTOMIZATION, VENDORS,
                          VOTE_CUSTOMIZATION, Status, check_key, proof_len, reference)

from .votes import Vote

__all__ = ["Result", "SoftwareSource", "GoldenSource", "RtlSource", "make_sources",
           "BACKENDS", "software_attestation", "software_digest", "FAULTS", "inject",
           "Message"]

BACKENDS = ("golden", "software", "rtl")


@dataclasses.dataclass(frozen=True)
class Result:
    """A core's response. ``cycles``: its latency (SPEC §4) and ``arrival``: cycles from
    the request being offered to the response being taken — both ``None`` for sources that
    do not run the hardware."""
    vote: bool
    status: int
    attestation: bytes
    digest: bytes
    cycles: int | None = None
    arrival: int | None = None


def _kmac(key, data, custom):
    return KMAC256.new(key=key, data=data, mac_len=32, custom=custom).digest()


def software_attestation(k_att, vendor, nonce, descriptor, vote, digest) -> bytes:
    """``KMAC256(K_att, id ‖ N ‖ D ‖ vote ‖ PD, 256, "pqvote/vote")`` with pycryptodome."""
    msg = (bytes([VENDORS[vendor]]) + int(nonce).to_bytes(8, "little") + bytes(descriptor)
           + bytes([1 if vote else 0]) + bytes(digest))
    return _kmac(bytes(k_att), msg, VOTE_CUSTOMIZATION)


def software_digest(proof: bytes) -> bytes:
    """SHA3-256 over the bytes as the core receives them: whole 8-byte beats, at least one
    (an empty proof is one zero beat carrying ``last``)."""
    received = bytes(proof) + bytes(-len(proof) % 8) if proof else bytes(8)
    return SHA3_256.new(received).digest()


class SoftwareSource:
    """The software vendor: an independent proof check for every vendor (pqcrypto +
    pycryptodome), with the core contract's key checks."""
    name = "software"

    def _verdict(self, vendor, key, descriptor, body) -> bool:
        m = reference(vendor)
        if vendor == "riscv":
            try:
                m.verify(key, descriptor, body, context=CONTEXT)
            except Exception:
                return False
            return True
        ct, tag = body[:OBJECT_LEN[vendor]], body[OBJECT_LEN[vendor]:]
        if vendor == "arm":            # the per-key precomputing decapsulator, same K
            k = mceliece_fast.decaps(key, ct)
        else:
            k = m.decaps(key, ct)      # implicit rejection inside
        return hmac.compare_digest(_kmac(k, descriptor, PROOF_CUSTOMIZATION), tag)

    @staticmethod
    def prepare(vendor, key):
        """Precompute what depends on ``key`` only (the arm decapsulator's tables, about a
        second), so that the first request does not pay for it."""
        if vendor == "arm":
            mceliece_fast.prepare(key)

    def validate(self, vendor, key, k_att, descriptor, nonce, proof, *, key_ok=None) -> Result:
        """``key_ok``: the result of ``check_key`` for this key when the caller already
        has it (a node checks its one key once, as a core does when the key is loaded)."""
        if vendor not in VENDORS:
            raise ValueError(f"Unknown vendor {vendor!r}")
        proof = bytes(proof)
        digest = software_digest(proof)
        if key is None or k_att is None:
            return Result(False, Status.NO_KEY, bytes(32), digest)
        key = bytes(key)
        if not (check_key(vendor, key) if key_ok is None else key_ok):
            status, vote = Status.BAD_KEY, False
        elif len(proof) != proof_len(vendor):
            status, vote = Status.BAD_LENGTH, False
        else:
            body, padding = proof[:BODY_LEN[vendor]], proof[BODY_LEN[vendor]:]
            verdict = self._verdict(vendor, key, bytes(descriptor), body)
            status, vote = Status.OK, verdict and not any(padding)
        att = software_attestation(k_att, vendor, nonce, descriptor, vote, digest)
        return Result(vote, status, att, digest)


class GoldenSource:
    """The golden models (``golden.proof.validate``)."""
    name = "golden"

    def validate(self, vendor, key, k_att, descriptor, nonce, proof) -> Result:
        from golden import proof as gp
        r = gp.validate(vendor, key, k_att, descriptor, nonce, proof)
        return Result(bool(r.vote), int(r.status), bytes(r.attestation), bytes(r.digest))


class RtlSource:
    """The landed RTL cores under Verilator (``backends.cluster``).

    One slot per vendor the batch asks (``hdl.cores.CORES``); :meth:`validate_batch` runs
    each vendor's requests of a batch in one simulation of that vendor's core, in batch
    order. Vendors without a landed core raise :class:`LookupError`.
    """
    name = "rtl"

    def __init__(self, *, stall=0.0, idle=0.0):
        self._stall, self._idle = stall, idle

    @staticmethod
    def landed() -> dict:
        """``hdl.cores.CORES``; an import error is an error, not "nothing landed"."""
        from hdl.cores import CORES
        return dict(CORES)

    def validate(self, vendor, key, k_att, descriptor, nonce, proof) -> Result:
        return self.validate_batch([(vendor, key, k_att, descriptor, nonce, proof)])[0]

    def validate_batch(self, requests) -> list:
        from backends.cluster import simulate_cluster

        landed = self.landed()
        vendors = sorted({r[0] for r in requests})
        missing = sorted(set(vendors) - set(landed))
        if missing:
            raise LookupError(f"no landed RTL core for {', '.join(missing)}")
        rounds, where = [], []        # where[k] = (round, slot) of requests[k]
        for vendor, key, k_att, descriptor, nonce, proof in requests:
            slot = vendors.index(vendor)
            at = (bytes(descriptor), int(nonce))
            for n, rnd in enumerate(rounds):
                if rnd["at"] == at and slot not in rnd["slots"]:
                    break
            else:
                n, rnd = len(rounds), {"at": at, "nonce": int(nonce),
                                       "descriptor": bytes(descriptor), "slots": {}}
                rounds.append(rnd)
            rnd["slots"][slot] = (None if key is None else bytes(key),
                                  None if k_att is None else bytes(k_att), bytes(proof))
            where.append((n, slot))
        records = simulate_cluster(vendors=vendors, requests=rounds, stall=self._stall,
                                   idle=self._idle)
        out = []
        for n, slot in where:
            r = records[n][slot]
            out.append(Result(bool(r["vote"]), Status[r["status"].upper()],
                              bytes.fromhex(r["attestation"]), bytes.fromhex(r["proof_digest"]),
                              r["cycles"], r["arrival"]))
        return out


def make_sources(spec: str | None) -> dict:
    """Per-vendor sources from ``"golden"``, ``"software"``, ``"rtl"`` or a list such as
    ``"software,arm=golden"`` (a bare name is the default for the other vendors)."""
    default = "golden"
    chosen = {}
    for part in (spec or "golden").split(","):
        part = part.strip()
        if "=" in part:
            vendor, name = (s.strip() for s in part.split("=", 1))
            if vendor not in VENDORS:
                raise ValueError(f"unknown vendor {vendor!r} in backend {spec!r}")
            chosen[vendor] = name
        else:
            default = part
    out = {}
    for vendor in VENDORS:
        name = chosen.get(vendor, default)
        if name not in BACKENDS:
            raise ValueError(f"unknown backend {name!r}; expected one of {', '.join(BACKENDS)}")
        out[vendor] = name
    instances = {"golden": GoldenSource(), "software": SoftwareSource(), "rtl": RtlSource()}
    return {vendor: instances[name] for vendor, name in out.items()}


# -- fault injection ----------------------------------------------------------------------

#: Fault kinds of a core: votes the opposite (with a valid attestation: the core holds its
#: key), corrupts its attestation, stays silent, answers after the deadline, replays its
#: response to an earlier request, answers twice with different votes.
FAULTS = ("byzantine", "corrupt", "silent", "late", "replay", "equivocate")


@dataclasses.dataclass(frozen=True)
class Message:
    """A vote in flight: ``late`` messages arrive after the request's deadline."""
    vote: Vote
    late: bool = False


def inject(kind, honest: Vote, *, k_att: bytes, vendor: str, earlier: Vote | None = None,
           attest=software_attestation) -> list:
    """What a core with fault ``kind`` sends instead of ``honest`` (a list of
    :class:`Message`, in sending order). ``earlier`` is the core's genuine response to an
    earlier request (needed for ``replay``)."""
    def resign(v: Vote, value: bool) -> Vote:
        return dataclasses.replace(v, vote=value, attestation=attest(
            k_att, vendor, v.nonce, v.descriptor, value, v.proof_digest))

    if kind is None:
        return [Message(honest)]
    if kind == "byzantine":
        return [Message(resign(honest, not honest.vote))]
    if kind == "corrupt":
        att = bytearray(honest.attestation)
        att[0] ^= 0x01
        return [Message(dataclasses.replace(honest, attestation=bytes(att)))]
    if kind == "silent":
        return []
    if kind == "late":
        return [Message(honest, late=True)]
    if kind == "replay":
        if earlier is None:
            raise ValueError("a replay fault needs the core's response to an earlier request")
        return [Message(earlier)]
    if kind == "equivocate":
        return [Message(honest), Message(resign(honest, not honest.vote))]
    raise ValueError(f"unknown fault {kind!r}; expected one of {', '.join(FAULTS)}")
