"""Golden ML-KEM-512 model against FIPS 203 vectors (NIST ACVP, C2SP/CCTV) and pqcrypto."""

import hashlib
import json
import os
import random
import types
from pathlib import Path

import pytest

import golden.mlkem as mlkem

import pqcrypto.kem.ml_kem_512 as pqc  # a pinned dependency: a missing one must fail, not skip

VECTORS = Path(__file__).resolve().parent / "vectors"
FULL = os.environ.get("PQVOTE_FULL") == "1"
RANDOM_PAIRS = 1000 if FULL else 200


def _cases(name):
    with open(VECTORS / name) as f:
        return json.load(f)["cases"]


def _case_id(c):
    return str(c.get("tcId", c.get("name")))


ALL_CASES = _cases("mlkem512_decaps_acvp.json") + _cases("mlkem512_decaps_cctv.json")


@pytest.fixture
def hashlib_keccak(monkeypatch):
    """Run the model on hashlib's SHA-3 for the bulk random tests (speed only).

    The Keccak model itself is checked against hashlib / pycryptodome in its own tests, and
    every vector test below runs on :mod:`golden.keccak`.
    """
    shim = types.SimpleNamespace(
        sha3_256=lambda m: hashlib.sha3_256(m).digest(),
        sha3_512=lambda m: hashlib.sha3_512(m).digest(),
        shake128=lambda m, n: hashlib.shake_128(m).digest(n),
        shake256=lambda m, n: hashlib.shake_256(m).digest(n),
    )
    monkeypatch.setattr(mlkem, "keccak", shim)
    mlkem.expand_a.cache_clear()
    yield
    mlkem.expand_a.cache_clear()


# --- constants ------------------------------------------------------------------------------

def test_constants():
    assert mlkem.ZETAS[0] == 1 and mlkem.ZETAS[1] == 1729 and mlkem.ZETAS[127] == 2154
    assert mlkem.GAMMAS[0] == 17 and mlkem.GAMMAS[127] * 17 % mlkem.Q == 1
    assert mlkem.N_INV == 3303 and 128 * mlkem.N_INV % mlkem.Q == 1
    assert (mlkem.EK_LEN, mlkem.DK_LEN, mlkem.CT_LEN) == (800, 1632, 768)
    assert pow(17, 128, mlkem.Q) == mlkem.Q - 1       # ζ is a primitive 256th root of unity


# --- vectors --------------------------------------------------------------------------------

@pytest.mark.parametrize("case", ALL_CASES, ids=_case_id)
def test_decaps_vectors(case):
    dk, c, k = (bytes.fromhex(case[f]) for f in ("dk", "c", "k"))
    assert mlkem.check_dk(dk)
    assert mlkem.decaps(dk, c) == k
    _, _, _, z = mlkem.split_dk(dk)
    assert (k == mlkem.J(z + c)) == case["implicit_rejection"]


@pytest.mark.parametrize("case", [c for c in ALL_CASES if "m" in c], ids=_case_id)
def test_encaps_vectors(case):
    ek, m, c, k = (bytes.fromhex(case[f]) for f in ("ek", "m", "c", "k"))
    assert mlkem.encaps(ek, m) == (c, k)
    if "dk" in case:
        assert bytes.fromhex(case["dk"])[768:1568] == ek


# --- building blocks ------------------------------------------------------------------------

def test_ntt_round_trip():
    rng = random.Random(1)
    for _ in range(20):
        f = [rng.randrange(mlkem.Q) for _ in range(256)]
        assert mlkem.intt(mlkem.ntt(f)) == f
        assert mlkem.ntt(mlkem.intt(f)) == f


def test_ntt_multiplication_is_negacyclic_convolution():
    rng = random.Random(2)
    q = mlkem.Q
    f = [rng.randrange(q) for _ in range(256)]
    g = [rng.randrange(q) for _ in range(256)]
    h = [0] * 256
    for i in range(256):
        for j in range(256):
            if i + j < 256:
                h[i + j] += f[i] * g[j]
            else:
                h[i + j - 256] -= f[i] * g[j]
    h = [x % q for x in h]
    assert mlkem.intt(mlkem.multiply_ntts(mlkem.ntt(f), mlkem.ntt(g))) == h


def test_compress_decompress():
    q = mlkem.Q
    for d in (1, 4, 10, 11):
        for x in range(q):
            y = mlkem.compress(d, x)
            assert 0 <= y < 2 ** d
            # |Decompress(Compress(x)) - x| mod± q <= round(q / 2^(d+1))
            err = (mlkem.decompress(d, y) - x) % q
            assert min(err, q - err) <= (q + 2 ** (d + 1) - 1) // 2 ** (d + 1)
        for y in range(2 ** d):
            assert mlkem.compress(d, mlkem.decompress(d, y)) == y


def test_byte_encode_decode():
    rng = random.Random(3)
    for d in (1, 4, 10, 12):
        m = mlkem.Q if d == 12 else 2 ** d
        F = [rng.randrange(m) for _ in range(256)]
        B = mlkem.byte_encode(d, F)
        assert len(B) == 32 * d and mlkem.byte_decode(d, B) == F
    # ByteDecode_12 reduces mod q
    assert mlkem.byte_decode(12, b"\xff" * 384)[0] == 4095 % mlkem.Q


def test_cbd_range_and_sample_ntt():
    rng = random.Random(4)
    for eta in (2, 3):
        f = mlkem.cbd_from_bytes(eta, rng.randbytes(64 * eta))
        assert all(min(a, mlkem.Q - a) <= eta for a in f)
    a = mlkem.sample_ntt(rng.randbytes(34))
    assert len(a) == 256 and all(0 <= x < mlkem.Q for x in a)
    # the stream sampler rejects candidates >= q: 0xFFFFFF gives none, then two from 0x000000
    assert mlkem.sample_ntt_stream(b"\xff\xff\xff" + b"\0" * 384)[:2] == [0, 0]


def test_keygen_consistency():
    rng = random.Random(5)
    for _ in range(3):
        d, z = rng.randbytes(32), rng.randbytes(32)
        ek, dk = mlkem.keygen(d, z)
        assert len(ek) == 800 and len(dk) == 1632 and mlkem.check_dk(dk) and mlkem.check_ek(ek)
        assert dk[768:1568] == ek and dk[-32:] == z
        c, k = mlkem.encaps(ek, rng.randbytes(32))
        assert mlkem.decaps(dk, c) == k
        assert pqc.decaps(dk, c) == k                      # pqcrypto agrees with our keys


def test_input_checks():
    ek, dk = mlkem.keygen(bytes(32), bytes(32))
    bad = bytearray(dk)
    bad[768 + 800] ^= 1                                    # H(ek) byte
    assert not mlkem.check_dk(bytes(bad))
    bad = bytearray(dk)
    bad[800] ^= 1                                          # ek byte, H(ek) unchanged
    assert not mlkem.check_dk(bytes(bad))
    assert not mlkem.check_dk(dk[:-1])
    with pytest.raises(ValueError):
        mlkem.decaps(bytes(bad), bytes(768))
    with pytest.raises(ValueError):
        mlkem.decaps(dk, bytes(767))
    with pytest.raises(ValueError):
        mlkem.encaps(b"\xff" * 800)                        # coefficients >= q: modulus check


# --- random key pairs against pqcrypto -------------------------------------------------------

def test_random_pairs_against_pqcrypto(hashlib_keccak):
    rng = random.Random(6)
    for _ in range(RANDOM_PAIRS):
        ek, dk = pqc.keygen()
        assert mlkem.check_dk(dk)
        c, k = pqc.encaps(ek)
        assert mlkem.decaps(dk, c) == k
        # tamper one bit in a random place: implicit rejection, same K as pqcrypto
        t = bytearray(c)
        t[rng.randrange(768)] ^= 1 << rng.randrange(8)
        t = bytes(t)
        k_bad = mlkem.decaps(dk, t)
        assert k_bad == pqc.decaps(dk, t) == mlkem.J(dk[-32:] + t)
        # golden encaps decapsulated by pqcrypto
        c2, k2 = mlkem.encaps(ek)
        assert pqc.decaps(dk, c2) == k2
