"""The wire format between the collector and a validator node (HTTP/1.1 over mutual TLS).

``POST /v1/validate`` — body, JSON (at most :data:`MAX_BODY` bytes)::

    {"nonce": <uint64>, "descriptor": "<24 bytes hex>", "proof": "<hex>"}

The node answers with its own key and attestation key (the collector never sends keys):

* ``200``, ``application/x-ndjson``: one line per vote message,
  ``{"vote": <Vote JSON>, "status": "ok"|"bad_key"|…, "cycles": <int or null>}``. A correct
  node sends exactly one line; a second, different vote is equivocation.
* ``400`` bad request, ``413`` body too large, ``503`` busy (every validation slot taken:
  the node answers at once instead of queueing) or timed out; body ``{"error": "…"}``.

``GET /health`` — ``{"status": "ok", "validator", "vendor", "backend", "key",
"inflight", "max_inflight", "tls"}``.
"""

import binascii

from consensus.jsonin import JsonInputError, loads
from golden.proof import DESCRIPTOR_BYTES, VENDORS, proof_len, strict_hex

__all__ = ["MISBEHAVIOURS", "DEFAULT_INFLIGHT", "DEFAULT_TIMEOUT", "MAX_BODY", "VALIDATE", "HEALTH", "RequestError", "parse_request", "request_body",
           "LINE_TYPE"]

VALIDATE = "/v1/validate"
HEALTH = "/health"
LINE_TYPE = "application/x-ndjson"
#: The largest request body: the largest proof in hex, the descriptor and the field names.
MAX_BODY = 2 * max(proof_len(v) for v in VENDORS) + 2 * DESCRIPTOR_BYTES + 256
_FIELDS = ("nonce", "descriptor", "proof")
#: Fault drills of ``pqvote node --misbehave`` (``network.node``).
MISBEHAVIOURS = ("byzantine", "corrupt", "equivocate", "garbage", "drop", "split")
#: A node's validations at a time, and seconds to read and answer one request.
DEFAULT_INFLIGHT = 4
DEFAULT_TIMEOUT = 10.0


class RequestError(ValueError):
    """A request body that is not a validation request (the message names what is wrong)."""


def _hex(obj, name, size=None) -> bytes:
    return strict_hex(obj[name], name, size, error=RequestError)


def parse_request(body: bytes):
    """``(nonce, descriptor, proof)`` from a request body; :class:`RequestError` otherwise."""
    try:
        obj = loads(body)
    except JsonInputError as e:
        raise RequestError(f"body: {e}") from None
    if not isinstance(obj, dict):
        raise RequestError("body must be a JSON object")
    unknown = sorted(set(obj) - set(_FIELDS))
    if unknown:
        raise RequestError(f"unknown field {unknown[0]!r}")
    missing = [k for k in _FIELDS if k not in obj]
    if missing:
        raise RequestError(f"missing field {missing[0]!r}")
    nonce = obj["nonce"]
    if isinstance(nonce, bool) or not isinstance(nonce, int) or not 0 <= nonce < 1 << 64:
        raise RequestError(f"nonce must be an unsigned 64-bit integer, not {nonce!r}")
    return nonce, _hex(obj, "descriptor", DESCRIPTOR_BYTES), _hex(obj, "proof")


def request_body(nonce: int, descriptor: bytes, proof: bytes) -> bytes:
    """The JSON body of a validation request (``json.dumps`` gives the same bytes; hex needs
    no escaping, so the 16 KB of a riscv proof are not scanned again)."""
    return b'{"nonce": %d, "descriptor": "%s", "proof": "%s"}' % (
        int(nonce), binascii.hexlify(bytes(descriptor)), binascii.hexlify(bytes(proof)))
