"""Constant-time scenarios for a KEM validator core (SPEC §4; the core bench
``sim/tb_kem_core.py`` runs them).

A scenario is a list of requests, each with the key the core must have loaded (or none),
the proof, and the response expected from the model. It covers what the constant-time
obligation is about: two valid keys, no key (``NO_KEY``), a rejected key (``BAD_KEY``),
and every tamper class of a full-length proof — ciphertext regions, tag, padding, another
descriptor, a proof minted for another key. All those requests are ``timed``: the bench
asserts they share one latency (and, when given, the exact figure of latency_targets.toml).
Wrong-length proofs (``BAD_LENGTH``) are included but not timed: their beat count differs.
"""

import json

from golden.proof import OBJECT_LEN, TAG_BYTES, Status, proof_len, validate

__all__ = ["kem_scenario", "read_scenario", "request_key", "expected_response"]


def kem_scenario(vendor, rng, *, keypair, encaps, bad_key, expected=None, ct_regions=None,
                 valid_per_key=2):
    """Requests of a KEM core's constant-time scenario.

    Parameters
    ----------
    vendor : str
        A KEM vendor of ``golden.proof.VENDORS``.
    rng : random.Random
        Source of descriptors, nonces, attestation keys and tamper positions.
    keypair : callable
        ``keypair() -> (ek, key)``: a fresh encapsulation key and the core's key.
    encaps : callable
        ``encaps(ek, descriptor) -> proof``: a valid proof for ``descriptor``.
    bad_key : callable
        ``bad_key(key, rng) -> key``: a key of the right length the core must reject.
    expected : callable, optional
        ``expected(key, k_att, descriptor, nonce, proof) -> (vote, status, attestation,
        digest)``; ``key`` is ``None`` for no key. Default: the golden model
        (``golden.proof.validate``).
    ct_regions : dict, optional
        Name → ``(lo, hi)`` byte ranges of the ciphertext to tamper with separately
        (default: the whole ciphertext).
    """
    if expected is None:
        def expected(key, k_att, D, nonce, proof):
            r = validate(vendor, key, k_att, D, nonce, proof)
            return r.vote, r.status, r.attestation, r.digest
    obj = OBJECT_LEN[vendor]
    regions = dict(ct_regions or {"ct": (0, obj)})
    regions["tag"] = (obj, obj + TAG_BYTES)
    regions["padding"] = (obj + TAG_BYTES, proof_len(vendor))
    ek_a, key_a = keypair()
    ek_b, key_b = keypair()
    k_att_a, k_att_b = rng.randbytes(32), rng.randbytes(32)
    reqs = []

    def add(name, key, k_att, D, proof, *, timed=True):
        nonce = rng.getrandbits(64)
        vote, status, att, pd = expected(key, k_att if key is not None else None, D, nonce,
                                         proof)
        reqs.append({
            "name": name, "key": key.hex() if key is not None else "",
            "k_att": k_att.hex() if key is not None else "",
            "key_status": None if key is None else ("bad" if status == Status.BAD_KEY
                                                    else "ok"),
            "D": D.hex(), "nonce": nonce, "proof": proof.hex(), "timed": timed,
            "expected": {"vote": bool(vote), "status": Status(status).name,
                         "attestation": att.hex(), "digest": pd.hex()}})

    def fresh(ek):
        D = rng.randbytes(24)
        return D, encaps(ek, D)

    D, p = fresh(ek_a)
    add("no key", None, None, D, p)
    bad = bad_key(key_a, rng)
    D, p = fresh(ek_a)
    add("rejected key", bad, k_att_a, D, p)
    for key, ek, k_att, who in ((key_a, ek_a, k_att_a, "A"), (key_b, ek_b, k_att_b, "B")):
        for i in range(valid_per_key):
            D, p = fresh(ek)
            add(f"valid, key {who} #{i}", key, k_att, D, p)
        for name, (lo, hi) in regions.items():
            D, p = fresh(ek)
            p = bytearray(p)
            p[rng.randrange(lo, hi)] ^= 1 << rng.randrange(8)
            add(f"tampered {name}, key {who}", key, k_att, D, bytes(p))
        D, p = fresh(ek)
        add(f"other descriptor, key {who}", key, k_att, rng.randbytes(24), p)
    D, p = fresh(ek_b)
    add("minted for key B, key A loaded", key_a, k_att_a, D, p)
    D, p = fresh(ek_a)
    add("short proof", key_a, k_att_a, D, p[:-8], timed=False)
    add("long proof", key_a, k_att_a, D, p + bytes(8), timed=False)
    D, p = fresh(ek_a)
    add("valid after a wrong length", key_a, k_att_a, D, p)
    D, p = fresh(ek_a)
    add("rejected key again", bad, k_att_a, D, p)
    D, p = fresh(ek_a)
    add("valid after reload", key_a, k_att_a, D, p)
    return reqs


def read_scenario(path):
    """The requests of a scenario file written as JSON (the benches get its path from
    ``KEM_SCENARIO``)."""
    with open(path) as f:
        return json.load(f)


def request_key(req):
    """``(key, k_att)`` a request wants loaded, as bytes; ``(None, None)``: no key."""
    if not req["key"]:
        return None, None
    return bytes.fromhex(req["key"]), bytes.fromhex(req["k_att"])


def expected_response(req):
    """The model's ``(vote, status, attestation, digest)`` for a request."""
    exp = req["expected"]
    return (bool(exp["vote"]), Status[exp["status"]], bytes.fromhex(exp["attestation"]),
            bytes.fromhex(exp["digest"]))
