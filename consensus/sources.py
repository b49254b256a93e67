"""Vote sources and fault injection.

A *vote source* answers a validation request the way a validator core does (SPEC §3.2):

``validate(vendor, key, k_att, descriptor, nonce, proof) -> Result(vote, status,
attestation, digest)``

``golden``
    ``golden.proof.validate`` — the bit-exact golden models.
``software``
    :class:`SoftwareSource` — a second, independent implementation of every vendor on
    ``pqcrypto`` (decapsulation / SLH-DSA verification) and ``pycryptodome`` (SHA3-256,
    KMAC256): different code, same standards.
``rtl``
    :class:`RtlSource` — the landed cores in one Verilator co-simulation (``sim.tb_cluster``
    through ``sim.runner``); requests are batched and run in one simulation.

Sources are mixed per vendor (:func:`make_sources`). Faults (:data:`FAULTS`) turn one
core's honest response into what a faulty core sends (:func:`inject`).
"""

import dataclasses
import enum
import hmac

from Crypto.Hash import KMAC256, SHA3_256

from .votes import VENDOR_IDS, Vote

__all__ = ["FRAMES", "KEY_LEN", "CT_LEN", "TAG_LEN", "FRAME_LEN", "Status", "Result",
           "SoftwareSource", "GoldenSource", "RtlSource", "make_sources", "BACKENDS",
           "software_attestation", "software_mint", "software_digest", "FAULTS", "inject",
           "Message"]

FRAME_LEN = 1024
FRAMES = {"intel": 1, "amd": 1, "arm": 1, "riscv": 8}
KEY_LEN = {"intel": 1632, "amd": 1518, "arm": 6492, "riscv": 32}
CT_LEN = {"intel": 768, "amd": 897, "arm": 96}
SIG_LEN = 7856
TAG_LEN = 32
PROOF_S = b"pqvote/proof"
VOTE_S = b"pqvote/vote"
BACKENDS = ("golden", "software", "rtl")


class Status(enum.IntEnum):
    """Core status codes (same values as ``golden.proof.Status``)."""
    OK = 0
    BAD_LENGTH = 1
    NO_KEY = 2
    BAD_KEY = 3


@dataclasses.dataclass(frozen=True)
class Result:
    vote: bool
    status: int
    attestation: bytes
    digest: bytes
    cycles: int | None = None


def _pqc(vendor):
    if vendor == "intel":
        from pqcrypto.kem import ml_kem_512 as m
    elif vendor == "amd":
        from pqcrypto.kem import sntrup_653 as m
    elif vendor == "arm":
        from pqcrypto.kem import mceliece_348864 as m
    elif vendor == "riscv":
        from pqcrypto.sign import slh_dsa_shake_128s as m
    else:
        raise ValueError(f"Unknown vendor {vendor!r}")
    return m


def _kmac(key, data, custom):
    return KMAC256.new(key=key, data=data, mac_len=32, custom=custom).digest()


def software_attestation(k_att, vendor, nonce, descriptor, vote, digest) -> bytes:
    """``KMAC256(K_att, id ‖ N ‖ D ‖ vote ‖ PD, 256, "pqvote/vote")`` with pycryptodome."""
    msg = (bytes([VENDOR_IDS[vendor]]) + int(nonce).to_bytes(8, "little") + bytes(descriptor)
           + bytes([1 if vote else 0]) + bytes(digest))
    return _kmac(bytes(k_att), msg, VOTE_S)


def software_digest(proof: bytes) -> bytes:
    """SHA3-256 over the bytes as the core receives them: whole 8-byte beats, at least one
    (an empty proof is one zero beat carrying ``last``)."""
    received = bytes(proof) + bytes(-len(proof) % 8) if proof else bytes(8)
    return SHA3_256.new(received).digest()


def software_mint(vendor, minter_key: bytes, descriptor: bytes) -> bytes:
    """Mint a proof (SPEC §3.1) with pqcrypto + pycryptodome.

    ``minter_key`` is the core's encapsulation key (KEM vendors) or the SLH-DSA signing key
    (``riscv``).
    """
    m = _pqc(vendor)
    if vendor == "riscv":
        body = m.sign(minter_key, descriptor, context=PROOF_S)
    else:
        ct, k = m.encaps(minter_key)
        body = ct + _kmac(k, descriptor, PROOF_S)
    return body + bytes(FRAMES[vendor] * FRAME_LEN - len(body))


class SoftwareSource:
    """The software vendor: an independent validator for every vendor (pqcrypto + pycryptodome)."""
    name = "software"

    def _check_key(self, vendor, key) -> bool:
        if len(key) != KEY_LEN[vendor]:
            return False
        if vendor == "intel":
            # FIPS 203 §7.3 decapsulation input check: H(ek) stored in dk matches ek.
            ek, h = key[768:768 + 800], key[768 + 800:768 + 832]
            return hmac.compare_digest(SHA3_256.new(ek).digest(), h)
        return True

    def _verdict(self, vendor, key, descriptor, body) -> bool:
        m = _pqc(vendor)
        if vendor == "riscv":
            try:
                m.verify(key, descriptor, body[:SIG_LEN], context=PROOF_S)
            except Exception:
                return False
            return True
        ct, tag = body[:CT_LEN[vendor]], body[CT_LEN[vendor]:CT_LEN[vendor] + TAG_LEN]
        k = m.decaps(key, ct)          # implicit rejection inside
        return hmac.compare_digest(_kmac(k, descriptor, PROOF_S), tag)

    def validate(self, vendor, key, k_att, descriptor, nonce, proof) -> Result:
        if vendor not in VENDOR_IDS:
            raise ValueError(f"Unknown vendor {vendor!r}")
        proof = bytes(proof)
        digest = software_digest(proof)
        if key is None or k_att is None:
            return Result(False, Status.NO_KEY, bytes(32), digest)
        key = bytes(key)
        if not self._check_key(vendor, key):
            status, vote = Status.BAD_KEY, False
        elif len(proof) != FRAMES[vendor] * FRAME_LEN:
            status, vote = Status.BAD_LENGTH, False
        else:
            body_len = SIG_LEN if vendor == "riscv" else CT_LEN[vendor] + TAG_LEN
            body, padding = proof[:body_len], proof[body_len:]
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
    """The landed RTL cores under Verilator, driven by cocotb through ``sim.runner``.

    ``validate_batch`` takes ``(vendor, key, k_att, descriptor, nonce, proof)`` tuples and
    returns :class:`Result` objects with the measured ``cycles``. One request answered by
    several vendors (what ``consensus.cluster.run_request`` sends) runs in the cluster
    co-simulation ``sim.tb_cluster`` — all landed cores side by side in one model; other
    batches run per vendor core through ``backends.rtl``. Vendors without a landed core raise
    :class:`LookupError`.
    """
    name = "rtl"

    @staticmethod
    def landed() -> dict:
        try:
            from hdl.cores import CORES
        except ImportError:
            return {}
        return dict(CORES)

    def validate(self, vendor, key, k_att, descriptor, nonce, proof) -> Result:
        return self.validate_batch([(vendor, key, k_att, descriptor, nonce, proof)])[0]

    def validate_batch(self, requests) -> list:
        cores = self.landed()
        missing = sorted({r[0] for r in requests} - set(cores))
        if missing:
            raise LookupError(f"no landed RTL core for {', '.join(missing)}")
        one_request = (len({(bytes(r[3]), r[4]) for r in requests}) == 1
                       and len({r[0] for r in requests}) == len(requests)
                       and all(r[1] is not None and r[2] is not None for r in requests))
        if one_request:
            return self._cluster(sorted(cores), requests)
        return self._per_vendor(requests)

    @staticmethod
    def _cluster(vendors, requests):
        import tempfile
        from sim.tb_cluster import run_cluster
        validators = [{"name": r[0], "vendor": r[0], "key": bytes(r[1]), "k_att": bytes(r[2]),
                       "slot": vendors.index(r[0])} for r in requests]
        req = {"nonce": int(requests[0][4]), "descriptor": bytes(requests[0][3]),
               "proofs": {r[0]: bytes(r[5]) for r in requests}, "faults": {},
               "deadline": 10 ** 9}
        with tempfile.TemporaryDirectory(prefix="pqvote-cluster-") as tmp:
            [rec] = run_cluster(tmp, vendors=tuple(vendors), validators=validators,
                                requests=[req])
        status = {"ok": 0, "bad_length": 1, "no_key": 2, "bad_key": 3}
        out = []
        for r in requests:
            resp = rec["responses"][r[0]]
            out.append(Result(bool(resp["vote"]), status[resp["status"]],
                              bytes.fromhex(resp["attestation"]),
                              bytes.fromhex(resp["proof_digest"]), resp["cycles"]))
        return out

    @staticmethod
    def _per_vendor(requests):
        from golden.proof import Request
        from backends.rtl import validate_rtl
        by_vendor = {}
        for i, r in enumerate(requests):
            by_vendor.setdefault(r[0], []).append(i)
        out = [None] * len(requests)
        for vendor, idx in by_vendor.items():
            reqs = [Request(*[requests[i][k] for k in range(4)], int(requests[i][4]),
                            bytes(requests[i][5])) for i in idx]
            for i, resp in zip(idx, validate_rtl(vendor, reqs)):
                if resp.get("status") == "error":
                    raise RuntimeError(f"rtl {vendor}: {resp.get('error')}")
                status = {"ok": 0, "bad_length": 1, "no_key": 2, "bad_key": 3}[resp["status"]]
                out[i] = Result(bool(resp["vote"]), status, bytes.fromhex(resp["attestation"]),
                                bytes.fromhex(resp["proof_digest"]), resp.get("cycles"))
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
            if vendor not in VENDOR_IDS:
                raise ValueError(f"unknown vendor {vendor!r} in backend {spec!r}")
            chosen[vendor] = name
        else:
            default = part
    out = {}
    for vendor in VENDOR_IDS:
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
