"""Golden sntrup653 model against the NIST round-3 KAT and ``pqcrypto.kem.sntrup_653``."""

import hashlib
import json
import os
import random
from pathlib import Path

import pytest

import golden.sntrup as sntrup

import pqcrypto.kem.sntrup_653 as pqc  # a pinned dependency: a missing one must fail, not skip

VECTORS = Path(__file__).resolve().parent / "vectors"
FULL = os.environ.get("PQVOTE_FULL") == "1"
RANDOM_PAIRS = 500 if FULL else 50


def _kat_cases():
    with open(VECTORS / "sntrup653_kat.json") as f:
        return json.load(f)["cases"]


KAT = _kat_cases()


def _h(b, x):
    """``Hash_b`` recomputed independently of the model."""
    return hashlib.sha512(bytes([b]) + x).digest()[:32]


def _rng(seed):
    r = random.Random(seed)
    return lambda n: r.randbytes(n)


def _flip(ct, rnd):
    t = bytearray(ct)
    i = rnd.randrange(len(t))
    t[i] ^= 1 << rnd.randrange(8)
    return bytes(t)


# --- sizes and building blocks -----------------------------------------------------------------

def test_sizes():
    assert (sntrup.PK_BYTES, sntrup.SK_BYTES, sntrup.CT_BYTES) == (
        pqc.PUBLIC_KEY_SIZE, pqc.SECRET_KEY_SIZE, pqc.CIPHERTEXT_SIZE)
    assert (sntrup.RQ_BYTES, sntrup.ROUNDED_BYTES, sntrup.SMALL_BYTES) == (994, 865, 164)


def test_multipliers_match_schoolbook():
    rnd = random.Random(653)
    for _ in range(3):
        a = [rnd.randrange(-sntrup.Q12, sntrup.Q12 + 1) for _ in range(sntrup.P)]
        s = [rnd.randrange(-1, 2) for _ in range(sntrup.P)]
        ref = sntrup.poly_mul_schoolbook(a, s)
        assert sntrup.rq_mult_small(a, s) == [sntrup.fq_freeze(x) for x in ref]
        assert sntrup.r3_mult(s, a) == [sntrup.f3_freeze(x) for x in ref]


def test_reduction_identity():
    # x^(p-1) * x = x^p = x + 1
    a = [0] * sntrup.P
    a[sntrup.P - 1] = 1
    x = [0, 1] + [0] * (sntrup.P - 2)
    assert sntrup.rq_mult_small(a, x) == [1, 1] + [0] * (sntrup.P - 2)


def test_encode_decode_roundtrip():
    rnd = random.Random(1)
    for M in ([sntrup.Q] * sntrup.P, [sntrup.ROUNDED_M] * sntrup.P, [5, 7, 300, 20000, 3]):
        R = [rnd.randrange(m) for m in M]
        assert sntrup.decode(sntrup.encode(R, M), M) == R
    pk = bytes.fromhex(KAT[0]["pk"])
    assert sntrup.rq_encode(sntrup.rq_decode(pk)) == pk
    r = sntrup.short_random(_rng(2))
    assert sntrup.small_decode(sntrup.small_encode(r)) == r
    assert sum(1 for x in r if x) == sntrup.W


# --- KAT ---------------------------------------------------------------------------------------

@pytest.mark.parametrize("case", KAT, ids=lambda c: f"count{c['count']}")
def test_kat_decaps(case):
    sk, ct, ss = (bytes.fromhex(case[k]) for k in ("sk", "ct", "ss"))
    K, trace = sntrup.decaps_trace(sk, ct)
    assert K == ss
    assert trace["ok"] and trace["weight_mask"] == 0
    assert sntrup.check_sk(sk)
    assert sk[sntrup.SK_PK:sntrup.SK_RHO] == bytes.fromhex(case["pk"])


def test_kat_encaps_roundtrip():
    case = KAT[1]
    pk, sk = bytes.fromhex(case["pk"]), bytes.fromhex(case["sk"])
    ct, K = sntrup.encaps(pk, _rng(3))
    assert sntrup.decaps(sk, ct) == K
    assert sntrup.encaps(pk, _rng(3)) == (ct, K)          # deterministic in rng


# --- against pqcrypto --------------------------------------------------------------------------

def test_random_keys_vs_pqcrypto():
    rnd = random.Random(0x5A7)
    for _ in range(RANDOM_PAIRS):
        pk, sk = pqc.keygen()
        assert sntrup.check_sk(sk)
        # pqcrypto encaps -> golden decaps
        ct, ss = pqc.encaps(pk)
        assert sntrup.decaps(sk, ct) == ss
        # golden encaps -> pqcrypto decaps
        ct2, K2 = sntrup.encaps(pk, _rng(rnd.getrandbits(64)))
        assert pqc.decaps(sk, ct2) == K2
        # tampered ciphertext: implicit rejection, same key as pqcrypto
        bad = _flip(ct, rnd)
        K, trace = sntrup.decaps_trace(sk, bad)
        assert not trace["ok"]
        assert K == pqc.decaps(sk, bad)
        rho = sk[sntrup.SK_RHO:sntrup.SK_CACHE]
        assert K == _h(0, _h(3, rho) + bad)


@pytest.mark.parametrize("where", ["rounded", "confirm"])
def test_tamper_each_part(where):
    pk, sk = pqc.keygen()
    ct, _ = pqc.encaps(pk)
    rnd = random.Random(where)
    lo, hi = (0, sntrup.ROUNDED_BYTES) if where == "rounded" else (sntrup.ROUNDED_BYTES,
                                                                  sntrup.CT_BYTES)
    for _ in range(4):
        t = bytearray(ct)
        t[rnd.randrange(lo, hi)] ^= 1 << rnd.randrange(8)
        K, trace = sntrup.decaps_trace(sk, bytes(t))
        assert not trace["ok"] and K == pqc.decaps(sk, bytes(t))


@pytest.mark.parametrize("fill", [b"\x00", b"\xff", b"\x5a"])
def test_degenerate_ciphertexts_vs_pqcrypto(fill):
    # all-0xFF decodes to out-of-range radix values (reduced modulo M in Decode)
    pk, sk = pqc.keygen()
    ct = fill * sntrup.CT_BYTES
    K, trace = sntrup.decaps_trace(sk, ct)
    assert not trace["ok"]
    assert K == pqc.decaps(sk, ct)


def test_weight_failure_uses_default_r():
    # a random Rounded part almost never decrypts to weight w
    pk, sk = pqc.keygen()
    ct = random.Random(7).randbytes(sntrup.CT_BYTES)
    K, trace = sntrup.decaps_trace(sk, ct)
    assert trace["weight_mask"] == -1
    assert trace["r"] == [1] * sntrup.W + [0] * (sntrup.P - sntrup.W)
    assert K == pqc.decaps(sk, ct)


# --- key checks --------------------------------------------------------------------------------

def test_check_sk_rejects():
    sk = bytes.fromhex(KAT[0]["sk"])
    assert sntrup.check_sk(sk)
    assert not sntrup.check_sk(sk[:-1])
    assert not sntrup.check_sk(sk + b"\0")
    bad_cache = bytearray(sk)
    bad_cache[-1] ^= 1
    assert not sntrup.check_sk(bytes(bad_cache))
    bad_pk = bytearray(sk)
    bad_pk[sntrup.SK_PK] ^= 1                     # cache no longer matches pk
    assert not sntrup.check_sk(bytes(bad_pk))
    bad_small = bytearray(sk)
    bad_small[0] |= 3                             # two-bit field 3 is not a Small value
    assert not sntrup.check_sk(bytes(bad_small))
    bad_pad = bytearray(sk)
    bad_pad[sntrup.SK_V - 1] |= 0x04              # unused bits of f's final byte
    assert not sntrup.check_sk(bytes(bad_pad))
    bad_weight = bytearray(sk)
    f = sntrup.small_decode(sk[:sntrup.SMALL_BYTES])
    i = f.index(0)
    f[i] = 1
    bad_weight[:sntrup.SMALL_BYTES] = sntrup.small_encode(f)
    assert not sntrup.check_sk(bytes(bad_weight))


def test_bad_lengths_raise():
    sk = bytes.fromhex(KAT[0]["sk"])
    with pytest.raises(ValueError):
        sntrup.decaps(sk, b"\0" * (sntrup.CT_BYTES - 1))
    with pytest.raises(ValueError):
        sntrup.decaps(sk[:-1], b"\0" * sntrup.CT_BYTES)


# --- stages the hardware computes differently ----------------------------------------------------

def test_horner_product_is_the_ring_product():
    rnd = random.Random(11)
    for weight in (sntrup.W, sntrup.P):
        a = [rnd.randrange(-sntrup.Q12, sntrup.Q12 + 1) for _ in range(sntrup.P)]
        s = [0] * sntrup.P
        for i in rnd.sample(range(sntrup.P), weight):
            s[i] = rnd.choice((-1, 1))
        exact = sntrup.horner_product(a, s)
        assert exact == sntrup.poly_mul_schoolbook(a, s)
        assert [sntrup.fq_freeze(x) for x in exact] == sntrup.rq_mult_small(a, s)
        # the array's 23-bit accumulators hold every partial sum exactly
        trace = []
        sntrup.horner_product([sntrup.Q12] * sntrup.P, [1] * weight + [0] * (sntrup.P - weight), trace)
        assert max(abs(x) for acc in trace for x in acc) < 2 ** 22


def test_horner_small_ring():
    # the same recurrence in a toy ring x^7 - x - 1 (the unit benches use small p)
    a, s = [3, -1, 4, 1, -5, 9, 2], [1, 0, -1, 1, 0, 0, -1]
    c = [0] * 13
    for i, x in enumerate(a):
        for j, y in enumerate(s):
            c[i + j] += x * y
    for k in range(12, 6, -1):
        c[k - 6] += c[k]
        c[k - 7] += c[k]
    assert sntrup.horner_product(a, s) == c[:7]


def _canonical_by_reencoding(b):
    return sntrup.rounded_encode(sntrup.rounded_decode(b)) == b


@pytest.mark.parametrize("kind", ["valid", "tampered", "ff", "random"])
def test_canonical_flag_equals_reencoding(kind):
    """The decoder's no-reduction flag is exactly 'encode(decode(b)) == b'."""
    rnd = random.Random(kind)
    case = KAT[0]
    b = bytes.fromhex(case["ct"])[:sntrup.ROUNDED_BYTES]
    for n in range(20):
        if kind == "tampered":
            t = bytearray(b)
            t[rnd.randrange(len(t))] ^= 1 << rnd.randrange(8)
            x = bytes(t)
        elif kind == "ff":
            x = bytes([0xFF]) * (sntrup.ROUNDED_BYTES - n) + rnd.randbytes(n)
        elif kind == "random":
            x = rnd.randbytes(sntrup.ROUNDED_BYTES)
        else:
            x = b
        c, canonical = sntrup.rounded_decode_checked(x)
        assert c == sntrup.rounded_decode(x)
        assert canonical == _canonical_by_reencoding(x)
    if kind == "ff":
        assert not sntrup.rounded_decode_checked(b"\xff" * sntrup.ROUNDED_BYTES)[1]


def test_ok_is_canonical_and_coefficients_and_confirm():
    """The comparison the core makes (flag + coefficients + confirm) equals the byte compare."""
    pk, sk = pqc.keygen()
    ct, _ = pqc.encaps(pk)
    rnd = random.Random(4)
    cases = [ct, b"\xff" * sntrup.CT_BYTES] + [_flip(ct, rnd) for _ in range(6)]
    for x in cases:
        K, t = sntrup.decaps_trace(sk, x)
        confirm = sntrup.hash_confirm(t["r_enc"], sk[sntrup.SK_CACHE:])
        core_ok = (t["canonical"] and t["c_new_poly"] == t["c"]
                   and confirm == x[sntrup.ROUNDED_BYTES:])
        assert core_ok == t["ok"]
    assert sntrup.decaps_trace(sk, ct)[1]["ok"]


def test_drain_reduce_gives_the_stage_outputs():
    """Exact array products + the reducer = the decapsulation's stage outputs."""
    case = KAT[2]
    sk, ct = bytes.fromhex(case["sk"]), bytes.fromhex(case["ct"])
    _, t = sntrup.decaps_trace(sk, ct)
    f = sntrup.small_decode(sk[:sntrup.SMALL_BYTES])
    v = sntrup.small_decode(sk[sntrup.SK_V:sntrup.SK_PK])
    assert [sntrup.drain_reduce(x, "E") for x in sntrup.horner_product(t["c"], f)] == t["e"]
    assert [sntrup.drain_reduce(x, "R3") for x in sntrup.horner_product(t["e"], v)] == t["ev"]
    assert [sntrup.drain_reduce(x, "ROUND")
            for x in sntrup.horner_product(t["h"], t["r"])] == t["c_new_poly"]
    with pytest.raises(ValueError, match="Reduce mode must be"):
        sntrup.drain_reduce(0, "Q")


@pytest.mark.parametrize("moduli", ["rounded", "rq", "mixed"])
def test_decode_schedule_runs_like_decode(moduli):
    """The decoder's unrolled program gives decode_checked's values and flag; the bottom
    level comes out top coefficient first."""
    M = {"rounded": [sntrup.ROUNDED_M] * sntrup.P, "rq": [sntrup.Q] * sntrup.P,
         "mixed": [5, 7, 300, 20000, 3, 1541, 4621]}[moduli]
    top, ops = sntrup.decode_schedule(M)
    assert sum(1 for o in ops if not o["copy"]) == len(M) - 1     # each split adds one value
    n = top[0] + top[1]
    assert n == len(sntrup.encode([0] * len(M), M))
    rnd = random.Random(moduli)
    for t in range(12):
        b = (sntrup.encode([rnd.randrange(m) for m in M], M) if t % 3 == 0
             else rnd.randbytes(n) if t % 3 == 1 else b"\xff" * n)
        R, canonical, emitted = sntrup.decode_by_schedule(b, M)
        assert (R, canonical) == sntrup.decode_checked(b, M)
        assert emitted == R[::-1]
        assert canonical == (t % 3 == 0 or sntrup.encode(R, M) == b)
