"""Golden mceliece348864 (round 4) model against the round-4 KAT and
``pqcrypto.kem.mceliece_348864``."""

import hashlib
import json
import os
import random
from pathlib import Path

import pytest

import golden.mceliece as mc

import pqcrypto.kem.mceliece_348864 as pqc  # a pinned dependency: a missing one must fail, not skip

VECTORS = Path(__file__).resolve().parent / "vectors"
FULL = os.environ.get("PQVOTE_FULL") == "1"
KEYPAIRS = 6 if FULL else 3
CTS_PER_KEY = 8 if FULL else 3


def _kat_cases():
    with open(VECTORS / "mceliece348864_kat.json") as f:
        return json.load(f)["cases"]


KAT = _kat_cases()


def _rng(seed):
    r = random.Random(seed)
    return lambda n: r.randbytes(n)


def _reject_key(sk, c):
    """``H(0, s, C)`` recomputed independently of the model."""
    return hashlib.shake_256(b"\0" + sk[mc.SK_S:] + c).digest(32)


@pytest.fixture(scope="module")
def keypairs():
    return [pqc.keygen() for _ in range(KEYPAIRS)]


# --- field, support --------------------------------------------------------------------------

def test_sizes():
    assert (mc.PK_BYTES, mc.SK_BYTES, mc.CT_BYTES) == (
        pqc.PUBLIC_KEY_SIZE, pqc.SECRET_KEY_SIZE, pqc.CIPHERTEXT_SIZE)
    assert (mc.COND_BYTES, mc.SK_S, mc.SYND_BYTES) == (5888, 6056, 96)


def test_gf_tables():
    rnd = random.Random(12)
    assert len(set(mc.GF_EXP[:mc.Q - 1])) == mc.Q - 1      # GF_GENERATOR is primitive
    assert mc.gf_mul_slow(1 << 11, 2) == (1 << 3) | 1       # z^12 = z^3 + 1
    for _ in range(2000):
        a, b = rnd.randrange(mc.Q), rnd.randrange(mc.Q)
        assert mc.gf_mul(a, b) == mc.gf_mul_slow(a, b)
    for a in range(1, mc.Q):
        assert mc.gf_mul(a, mc.gf_inv(a)) == 1
    assert mc.gf_inv(0) == 0


def test_controlbits_identity_and_single_swaps():
    zero = bytes(mc.COND_BYTES)
    assert mc.controlbit_permutation(zero) == list(range(mc.Q))
    assert mc.support_from_controlbits(zero)[:3] == (0, 1 << 11, 1 << 10)
    # first layer swaps neighbours (gap 1), the middle layer swaps at distance 2^(m-1)
    first = bytearray(zero)
    first[0] = 1
    assert mc.controlbit_permutation(bytes(first))[:2] == [1, 0]
    middle = bytearray(zero)
    k = (mc.M_BITS - 1) * (mc.Q // 2)
    middle[k >> 3] |= 1 << (k & 7)
    pi = mc.controlbit_permutation(bytes(middle))
    assert pi[0] == mc.Q // 2 and pi[mc.Q // 2] == 0


def test_bm_finds_locator():
    case = KAT[0]
    sk = bytes.fromhex(case["sk"])
    _, _, g_bytes, cb, _ = mc.split_sk(sk)
    g, alpha = mc.goppa_from_sk(g_bytes), mc.support_from_controlbits(cb)
    rnd = random.Random(5)
    for w in (1, 17, mc.T):
        e = sorted(rnd.sample(range(mc.N), w))
        C, L = mc.berlekamp_massey(mc.double_syndrome(e, g, alpha))
        assert L == w
        sigma_w = C[:L + 1][::-1]                 # x^L C(1/x): roots at the error positions
        assert all(mc.poly_eval(sigma_w, alpha[i]) == 0 for i in e)
    assert mc.error_from_locator(mc.error_locator(C, L), alpha) == set(e)


# --- KAT ---------------------------------------------------------------------------------------

@pytest.mark.parametrize("case", KAT, ids=lambda c: f"count{c['count']}")
def test_kat_decaps(case):
    sk, ct, ss = (bytes.fromhex(case[k]) for k in ("sk", "ct", "ss"))
    K, trace = mc.decaps_trace(sk, ct)
    assert K == ss
    assert trace["ok"] and trace["L"] == mc.T and len(trace["e"]) == mc.T
    assert mc.check_sk(sk)


def test_kat_encaps_roundtrip():
    case = KAT[0]
    pk, sk = bytes.fromhex(case["pk"]), bytes.fromhex(case["sk"])
    ct, K = mc.encaps(pk, _rng(1))
    assert mc.decaps(sk, ct) == K
    assert mc.encaps(pk, _rng(1)) == (ct, K)              # deterministic in rng


def test_kat_tampered():
    case = KAT[0]
    sk, ct = bytes.fromhex(case["sk"]), bytes.fromhex(case["ct"])
    bad = bytearray(ct)
    bad[40] ^= 0x10
    K, trace = mc.decaps_trace(sk, bytes(bad))
    assert not trace["ok"]
    assert K == _reject_key(sk, bytes(bad)) == pqc.decaps(sk, bytes(bad))


# --- against pqcrypto --------------------------------------------------------------------------

def test_random_keys_vs_pqcrypto(keypairs):
    rnd = random.Random(0x348864)
    valid = 0
    for pk, sk in keypairs:
        assert mc.check_sk(sk)
        for _ in range(CTS_PER_KEY):
            # pqcrypto encaps -> golden decaps
            ct, ss = pqc.encaps(pk)
            K, trace = mc.decaps_trace(sk, ct)
            assert trace["ok"] and K == ss
            valid += 1
            # golden encaps -> pqcrypto decaps
            ct2, K2 = mc.encaps(pk, _rng(rnd.getrandbits(64)))
            assert pqc.decaps(sk, ct2) == K2
            # one flipped bit: t+1 or t-1 errors -> implicit rejection with s
            bad = bytearray(ct)
            bad[rnd.randrange(mc.CT_BYTES)] ^= 1 << rnd.randrange(8)
            bad = bytes(bad)
            K, trace = mc.decaps_trace(sk, bad)
            assert not trace["ok"]
            assert K == pqc.decaps(sk, bad) == _reject_key(sk, bad)
    assert valid >= 5


@pytest.mark.parametrize("weight", [0, 1, mc.T - 1, mc.T + 1, 2 * mc.T])
def test_wrong_weight_rejected(keypairs, weight):
    pk, sk = keypairs[0]
    rnd = random.Random(weight)
    ct = mc.encode(rnd.sample(range(mc.N), weight), pk)
    K, trace = mc.decaps_trace(sk, ct)
    assert not trace["ok"]
    assert K == pqc.decaps(sk, ct) == _reject_key(sk, ct)


def test_errors_in_identity_part_only(keypairs):
    # every error among the first mt positions: C0 is e itself
    pk, sk = keypairs[0]
    e = random.Random(9).sample(range(mc.MT), mc.T)
    ct = mc.encode(e, pk)
    assert ct == mc.vector_bytes(e, mc.MT)
    K, trace = mc.decaps_trace(sk, ct)
    assert trace["ok"] and K == pqc.decaps(sk, ct)


@pytest.mark.parametrize("fill", [b"\x00", b"\xff"])
def test_degenerate_ciphertexts(keypairs, fill):
    _, sk = keypairs[0]
    ct = fill * mc.CT_BYTES
    assert mc.decaps(sk, ct) == pqc.decaps(sk, ct) == _reject_key(sk, ct)


# --- key checks --------------------------------------------------------------------------------

def test_check_sk_rejects():
    sk = bytes.fromhex(KAT[0]["sk"])
    assert mc.check_sk(sk)
    assert not mc.check_sk(sk[:-1])
    assert not mc.check_sk(sk + b"\0")
    bad_c = bytearray(sk)
    bad_c[mc.SK_C + 4] = 1                        # pivot word must be 2^32 - 1
    assert not mc.check_sk(bytes(bad_c))
    bad_g = bytearray(sk)
    bad_g[mc.SK_G + 1] |= 0x10                    # g_0 wider than 12 bits
    assert not mc.check_sk(bytes(bad_g))
    # g with a root at alpha_0: g_0 set to g(alpha_0) with g_0 cleared
    root = mc.with_support_root(sk)
    assert root != sk and not mc.check_sk(root)


def test_bad_lengths_raise():
    sk = bytes.fromhex(KAT[0]["sk"])
    with pytest.raises(ValueError):
        mc.decaps(sk, b"\0" * (mc.CT_BYTES + 32))      # a round-3 sized ciphertext
    with pytest.raises(ValueError):
        mc.decaps(sk[:-1], b"\0" * mc.CT_BYTES)


# --- the hardware-shaped stages ------------------------------------------------------------------

def _kat_key():
    sk = bytes.fromhex(KAT[0]["sk"])
    _, _, g_bytes, cb, _ = mc.split_sk(sk)
    return sk, mc.goppa_from_sk(g_bytes), mc.support_from_controlbits(cb), cb


def test_stage_support_layers():
    _, _, alpha, cb = _kat_key()
    layers = mc.controlbit_layers(cb)
    assert len(layers) == 2 * mc.M_BITS - 1
    assert layers[-1] == mc.controlbit_permutation(cb)
    assert tuple(mc.bitrev_m(x) for x in layers[-1][:mc.N]) == alpha
    assert len(set(layers[-1])) == mc.Q


def test_stage_weights_and_syndrome():
    _, g, alpha, _ = _kat_key()
    g_at, w = mc.support_weights(g, alpha)
    rnd = random.Random(3)
    for i in rnd.sample(range(mc.N), 50):
        assert g_at[i] == mc.poly_eval(g, alpha[i]) != 0
        assert mc.gf_mul(w[i], mc.gf_sq(g_at[i])) == 1
    bits = rnd.sample(range(mc.MT), 200)
    assert mc.syndrome_w(bits, alpha, w) == mc.double_syndrome(bits, g, alpha)
    assert all(mc.GF_INV[a] == mc.gf_inv(a) for a in range(mc.Q))


@pytest.mark.parametrize("weight", [0, 1, 40, mc.T - 1, mc.T])
def test_stage_bm_ct_equals_bm(weight):
    _, g, alpha, _ = _kat_key()
    e = sorted(random.Random(weight).sample(range(mc.N), weight))
    S = mc.double_syndrome(e, g, alpha)
    C_ref, L_ref = mc.berlekamp_massey(S)
    C, L, trace = mc.berlekamp_massey_ct(S)
    assert L == L_ref == weight and len(trace) == 2 * mc.T
    assert C == C_ref[:mc.T + 1] and not any(C_ref[mc.T + 1:])
    roots = [i for i, a in enumerate(alpha) if mc.locator_eval(C, a) == 0]
    assert roots == e if weight == mc.T else len(roots) <= weight or 0 in alpha


def test_stage_trace_valid_kat():
    sk, ct = bytes.fromhex(KAT[0]["sk"]), bytes.fromhex(KAT[0]["ct"])
    K, tr = mc.decaps_trace(sk, ct)
    assert tr["ok"] and tr["b"] == 1 and len(tr["e"]) == mc.T
    assert [i for i, x in enumerate(tr["evals"]) if x == 0] == tr["e"]
    assert tr["S_e"] == tr["S"] and tr["bm"][-1][1] == mc.T
    assert K == mc.hash_session(1, tr["hashed"], ct)
    assert sum(bin(x).count("1") for x in tr["hashed"]) == mc.T


def _random_ct_cases(keypairs, seed):
    """Ciphertexts that must be rejected: weights t-1 and t+1, random 96-byte strings."""
    rnd = random.Random(seed)
    pk, sk = keypairs[0]
    cases = [mc.encode(rnd.sample(range(mc.N), w), pk) for w in (mc.T - 1, mc.T + 1)]
    cases += [rnd.randbytes(mc.CT_BYTES) for _ in range(4 if FULL else 2)]
    return sk, cases


def test_non_t_weight_and_random_strings_vs_pqcrypto(keypairs):
    sk, cases = _random_ct_cases(keypairs, 0x96)
    for ct in cases:
        K, tr = mc.decaps_trace(sk, ct)
        assert not tr["ok"] and tr["b"] == 0 and tr["hashed"] == sk[mc.SK_S:]
        assert K == pqc.decaps(sk, ct) == _reject_key(sk, ct)
        # the decision of the staged decoder agrees with the spec-form one
        _, _, g_bytes, cb, _ = mc.split_sk(sk)
        g, alpha = mc.goppa_from_sk(g_bytes), mc.support_from_controlbits(cb)
        C, L = mc.berlekamp_massey(mc.double_syndrome(mc.bits_of(ct), g, alpha))
        sigma = mc.error_locator(C, L)
        e = mc.error_from_locator(sigma, alpha) if sigma is not None else set()
        assert not (len(e) == mc.T and mc.double_syndrome(sorted(e), g, alpha) == tr["S"])


def test_weight_t_minus_1_locator_has_t_minus_1_roots(keypairs):
    pk, sk = keypairs[0]
    e = sorted(random.Random(63).sample(range(mc.N), mc.T - 1))
    K, tr = mc.decaps_trace(sk, mc.encode(e, pk))
    assert tr["L"] == mc.T - 1 and not tr["ok"]
    assert set(e) <= set(tr["e"]) and len(tr["e"]) <= mc.T
