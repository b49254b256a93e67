"""The pqvote proof, digest and attestation model (SPEC §3), and the JSON Lines format.

Everything a validator core computes around its algorithm lives here: the proof tag a
minter attaches, the proof digest over the received bytes, the attestation of a vote,
and :func:`validate`, the golden model of a whole core. Algorithms plug in from their own
modules (``golden.mlkem``, ``golden.sntrup``, ``golden.mceliece``, ``golden.slhdsa``),
imported lazily so that one missing model does not stop the others.
"""

import enum
import importlib
import json
import re
from dataclasses import dataclass

from golden.keccak import kmac256, sha3_256

FRAME_BYTES = 1024
BEAT_BYTES = 8
DESCRIPTOR_BYTES = 24
KATT_BYTES = 32
TAG_BYTES = 32
PROOF_CUSTOMIZATION = b"pqvote/proof"
VOTE_CUSTOMIZATION = b"pqvote/vote"
CONTEXT = b"pqvote/proof"   # SLH-DSA context string of the riscv proof

VENDORS = {"intel": 0, "amd": 1, "arm": 2, "riscv": 3}
FAMILIES = {"intel": "lattice", "amd": "lattice", "arm": "code", "riscv": "hash"}
FRAMES = {"intel": 1, "amd": 1, "arm": 1, "riscv": 8}
# Bytes of the algorithm key loaded into the core (dk / sk / sk / pk).
KEY_LEN = {"intel": 1632, "amd": 1518, "arm": 6492, "riscv": 32}
# Algorithm proof object (ciphertext or signature) inside the body.
OBJECT_LEN = {"intel": 768, "amd": 897, "arm": 96, "riscv": 7856}
# Body = object ‖ tag for the KEM vendors, the signature for riscv.
BODY_LEN = {v: OBJECT_LEN[v] + (0 if v == "riscv" else TAG_BYTES) for v in VENDORS}
ALGORITHM = {"intel": "mlkem", "amd": "sntrup", "arm": "mceliece", "riscv": "slhdsa"}
# The independent reference implementation of each vendor's algorithm (keygen, encaps /
# decaps or sign / verify): the golden models are checked against it, and proofs are minted
# with it.
REFERENCE = {"intel": "pqcrypto.kem.ml_kem_512", "amd": "pqcrypto.kem.sntrup_653",
             "arm": "pqcrypto.kem.mceliece_348864", "riscv": "pqcrypto.sign.slh_dsa_shake_128s"}


class Status(enum.IntEnum):
    """Response status; values are the hardware's 2-bit status code."""
    OK = 0          # vote is the algorithm verdict and the padding check
    BAD_LENGTH = 1  # the proof does not have frames × 1024 bytes
    NO_KEY = 2      # no key loaded: vote 0, attestation all zero
    BAD_KEY = 3     # the key was rejected by the core's key checks: vote 0, attested

    @property
    def label(self):
        return self.name.lower()


def proof_len(vendor):
    return FRAMES[vendor] * FRAME_BYTES


def algorithm(vendor):
    """The golden algorithm module of a vendor (``golden.mlkem`` for ``intel``, …)."""
    return importlib.import_module(f"golden.{ALGORITHM[vendor]}")


def reference(vendor):
    """The reference implementation module of a vendor (``pqcrypto.kem.ml_kem_512``, …)."""
    return importlib.import_module(REFERENCE[vendor])


def received_bytes(proof):
    """The bytes a core receives for ``proof``: whole 64-bit beats, so a proof whose
    length is not a multiple of 8 is zero-padded, and an empty one is one zero beat."""
    proof = bytes(proof)
    if not proof:
        return bytes(BEAT_BYTES)
    return proof + bytes(-len(proof) % BEAT_BYTES)


def proof_tag(K, descriptor):
    """tag = KMAC256(key=K, data=D, L=256, S="pqvote/proof") (SPEC §3.1)."""
    return kmac256(K, descriptor, 32, PROOF_CUSTOMIZATION)


def proof_digest(proof):
    """PD = SHA3-256 over every received byte, padding included (SPEC §3.2)."""
    return sha3_256(received_bytes(proof))


def attestation(k_att, vendor, nonce, descriptor, vote, pd):
    """A = KMAC256(K_att, id ‖ N ‖ D ‖ vote ‖ PD, 256, "pqvote/vote") (SPEC §3.2)."""
    vendor_id = VENDORS[vendor] if isinstance(vendor, str) else int(vendor)
    msg = (bytes([vendor_id]) + int(nonce).to_bytes(8, "little") + bytes(descriptor)
           + bytes([1 if vote else 0]) + bytes(pd))
    return kmac256(k_att, msg, 32, VOTE_CUSTOMIZATION)


def pad_proof(body, vendor):
    """Body followed by zero padding to frames × 1024 bytes."""
    body = bytes(body)
    if len(body) > proof_len(vendor):
        raise ValueError(f"{vendor} proof body is {len(body)} bytes, more than {proof_len(vendor)}")
    return body + bytes(proof_len(vendor) - len(body))


def mint_kem(vendor, K, ct, descriptor):
    """proof = ct ‖ KMAC256(K, D) ‖ 0… (SPEC §3.1) from an encapsulation (ct, K)."""
    return pad_proof(bytes(ct) + proof_tag(K, descriptor), vendor)


def mint_signature(sig):
    """proof = sig ‖ 0… for the riscv vendor."""
    return pad_proof(sig, "riscv")


def mint(vendor, minter_key, descriptor):
    """A proof for ``descriptor`` (SPEC §3.1) from the reference implementation:
    ``minter_key`` is the encapsulation key (KEM vendors) or the SLH-DSA signing key
    (``riscv``)."""
    m = reference(vendor)
    if vendor == "riscv":
        return mint_signature(m.sign(minter_key, descriptor, context=CONTEXT))
    ct, K = m.encaps(minter_key)
    return mint_kem(vendor, K, ct, descriptor)


def slh_message(descriptor, ctx=CONTEXT):
    """FIPS 205 §10.2 pure interface: M' = 0x00 ‖ len(ctx) ‖ ctx ‖ M."""
    return bytes([0, len(ctx)]) + bytes(ctx) + bytes(descriptor)


def check_key(vendor, key):
    """The core's key-load checks: False for a key the core would report as BAD."""
    if len(key) != KEY_LEN[vendor]:
        return False
    check = getattr(algorithm(vendor), {"intel": "check_dk", "riscv": "check_pk"}.get(vendor, "check_sk"), None)
    return True if check is None else bool(check(key))


def verdict(vendor, key, descriptor, body):
    """The algorithm's verdict on a body (ct ‖ tag, or a signature), without padding checks."""
    if vendor == "riscv":
        return bool(algorithm(vendor).verify(key, descriptor, body, CONTEXT))
    ct, tag = body[:OBJECT_LEN[vendor]], body[OBJECT_LEN[vendor]:]
    K = algorithm(vendor).decaps(key, ct)
    return proof_tag(K, descriptor) == tag


@dataclass(frozen=True)
class Result:
    vote: bool
    status: Status
    attestation: bytes
    digest: bytes


def validate(vendor, key, k_att, descriptor, nonce, proof):
    """The golden model of a whole validator core (SPEC §3.2, docs/interfaces.md).

    ``key``/``k_att`` of ``None`` mean no key is loaded. Status priority:
    NO_KEY > BAD_KEY > BAD_LENGTH > OK; the vote is 0 unless the status is OK.
    """
    proof = bytes(proof)
    pd = proof_digest(proof)
    if key is None or k_att is None:
        return Result(False, Status.NO_KEY, bytes(32), pd)
    if not check_key(vendor, key):
        status = Status.BAD_KEY
    elif len(proof) != proof_len(vendor):
        status = Status.BAD_LENGTH
    else:
        status = Status.OK
    vote = False
    if status == Status.OK:
        body = proof[:BODY_LEN[vendor]]
        padding_ok = not any(proof[BODY_LEN[vendor]:])
        vote = verdict(vendor, key, descriptor, body) and padding_ok
    return Result(vote, status, attestation(k_att, vendor, nonce, descriptor, vote, pd), pd)


# ---------------------------------------------------------------------------------------
# JSON Lines (SPEC §3.3)

class RequestError(ValueError):
    """A request line that cannot be validated; the message names what is wrong."""


@dataclass(frozen=True)
class Request:
    vendor: str
    key: bytes | None
    attestation_key: bytes | None
    descriptor: bytes
    nonce: int
    proof: bytes


_HEX = re.compile(r"(?:[0-9a-fA-F]{2})*")


def strict_hex(text, what, size=None, *, error=ValueError) -> bytes:
    """``text`` as bytes: an even number of hex digits and nothing else (``bytes.fromhex``
    would also take whitespace), ``size`` bytes if given. Every hex field of pqvote's
    formats (requests, votes, certificates, the node's wire format) is read with it; it
    raises ``error`` with a one-line message naming ``what``."""
    if not isinstance(text, str):
        raise error(f"{what}: expected a hex string, got {type(text).__name__}")
    if not _HEX.fullmatch(text):
        raise error(f"{what}: not valid hex (an even number of 0-9a-f digits)")
    raw = bytes.fromhex(text)
    if size is not None and len(raw) != size:
        raise error(f"{what}: expected {size} bytes, got {len(raw)}")
    return raw


def _hex_field(obj, name, *, size=None, optional=False):
    if name not in obj or obj[name] is None:
        if optional:
            return None
        raise RequestError(f"missing field {name!r}")
    return strict_hex(obj[name], name, size, error=RequestError)


def parse_request(line):
    """Parse one JSON Lines request; raises :class:`RequestError` naming the problem.

    A missing (or null/empty) ``key`` means "no key loaded" and is answered with status
    ``no_key``; a key of the wrong size is an error of the request line.
    """
    try:
        obj = json.loads(line)
    except json.JSONDecodeError as e:
        raise RequestError(f"bad JSON: {e.msg} at column {e.colno}") from None
    if not isinstance(obj, dict):
        raise RequestError("bad request: expected a JSON object")
    vendor = obj.get("vendor")
    if vendor not in VENDORS:
        raise RequestError(f"unknown vendor {vendor!r} (expected one of {', '.join(VENDORS)})")
    key = _hex_field(obj, "key", optional=True) or None
    if key is not None and len(key) != KEY_LEN[vendor]:
        raise RequestError(f"key: expected {KEY_LEN[vendor]} bytes for {vendor}, got {len(key)}")
    k_att = _hex_field(obj, "attestation_key", optional=True) or None
    if k_att is not None and len(k_att) != KATT_BYTES:
        raise RequestError(f"attestation_key: expected {KATT_BYTES} bytes, got {len(k_att)}")
    if (key is None) != (k_att is None):
        raise RequestError("key and attestation_key must be given together")
    descriptor = _hex_field(obj, "descriptor", size=DESCRIPTOR_BYTES)
    nonce = obj.get("nonce")
    if isinstance(nonce, bool) or not isinstance(nonce, int) or not 0 <= nonce < 1 << 64:
        raise RequestError(f"nonce: expected an unsigned 64-bit integer, got {nonce!r}")
    proof = _hex_field(obj, "proof")
    return Request(vendor, key, k_att, descriptor, nonce, proof)


def response_json(vendor, result, cycles=None):
    return {"vendor": vendor, "vote": bool(result.vote), "attestation": result.attestation.hex(),
            "proof_digest": result.digest.hex(), "status": Status(result.status).label,
            "cycles": cycles}


def error_json(lineno, message, vendor=None):
    return {"vendor": vendor, "vote": False, "attestation": None, "proof_digest": None,
            "status": "error", "error": f"line {lineno}: {message}", "cycles": None}


def request_json(vendor, key, k_att, descriptor, nonce, proof):
    return {"vendor": vendor, "key": key.hex() if key else None,
            "attestation_key": k_att.hex() if k_att else None,
            "descriptor": bytes(descriptor).hex(), "nonce": int(nonce), "proof": bytes(proof).hex()}
