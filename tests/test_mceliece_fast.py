"""The fast mceliece348864 decapsulator (``backends.mceliece_fast``) against
``pqcrypto.kem.mceliece_348864.decaps`` and the round-4 KAT: bit for bit on valid, tampered
and random ciphertexts, errors of every weight around ``t``, and keys whose Goppa polynomial
or support is not a generated one; stage by stage against ``golden.mceliece``."""

import json
import os
import random
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings, strategies as st

import golden.mceliece as mc
import pqcrypto.kem.mceliece_348864 as pqc  # a pinned dependency: a missing one must fail, not skip
from backends import mceliece_fast as mf
from consensus.sources import SoftwareSource
from golden.proof import mint_kem, pad_proof

VECTORS = Path(__file__).resolve().parent / "vectors"
SEED = int(os.environ.get("PQVOTE_SEED", "348864"))
FULL = os.environ.get("PQVOTE_FULL") == "1"
EXAMPLES = 60 if FULL else 15
SETTINGS = settings(max_examples=EXAMPLES, deadline=None,
                    suppress_health_check=[HealthCheck.function_scoped_fixture])


@pytest.fixture(scope="module")
def key():
    pk, sk = pqc.keygen()
    return pk, sk, mf.prepare(sk)


def _kat():
    with open(VECTORS / "mceliece348864_kat.json") as f:
        return json.load(f)["cases"]


@pytest.mark.parametrize("case", _kat(), ids=lambda c: f"count{c['count']}")
def test_kat(case):
    sk, ct, ss = (bytes.fromhex(case[k]) for k in ("sk", "ct", "ss"))
    assert mf.decaps(sk, ct) == ss
    e = mf.PreparedKey(sk).decode(ct)
    assert e is not None and len(e) == mc.T


def test_valid_tampered_random(key):
    pk, sk, prepared = key
    rnd = random.Random(SEED)
    for _ in range(6):
        ct, ss = pqc.encaps(pk)
        assert prepared.decaps(ct) == ss
        bad = bytearray(ct)
        bad[rnd.randrange(mc.CT_BYTES)] ^= 1 << rnd.randrange(8)
        assert prepared.decaps(bytes(bad)) == pqc.decaps(sk, bytes(bad))
        junk = rnd.randbytes(mc.CT_BYTES)
        assert prepared.decaps(junk) == pqc.decaps(sk, junk)
    for fill in (0x00, 0xff):
        ct = bytes([fill]) * mc.CT_BYTES
        assert prepared.decaps(ct) == pqc.decaps(sk, ct)


@SETTINGS
@given(ct=st.binary(min_size=mc.CT_BYTES, max_size=mc.CT_BYTES))
def test_property_any_ciphertext(key, ct):
    _, sk, prepared = key
    assert prepared.decaps(ct) == pqc.decaps(sk, ct)


@SETTINGS
@given(weight=st.sampled_from([0, 1, mc.T - 2, mc.T - 1, mc.T, mc.T, mc.T, mc.T + 1,
                               mc.T + 2, 2 * mc.T]),
       seed=st.integers(0, 2**32 - 1))
def test_property_error_weights(key, weight, seed):
    """``C = H e`` for an ``e`` of the given weight: decoded (weight ``t``) or implicitly
    rejected, exactly as the reference does."""
    pk, sk, prepared = key
    e = random.Random(seed).sample(range(mc.N), weight)
    ct = mc.encode(e, pk)
    K = prepared.decaps(ct)
    assert K == pqc.decaps(sk, ct)
    assert (prepared.decode(ct) == sorted(e)) == (weight == mc.T)


@SETTINGS
@given(seed=st.integers(0, 2**32 - 1), flips=st.integers(1, 3))
def test_property_tampered(key, seed, flips):
    pk, sk, prepared = key
    rnd = random.Random(seed)
    ct = bytearray(mc.encode(rnd.sample(range(mc.N), mc.T), pk))
    for _ in range(flips):
        ct[rnd.randrange(mc.CT_BYTES)] ^= 1 << rnd.randrange(8)
    assert prepared.decaps(bytes(ct)) == pqc.decaps(sk, bytes(ct))


@settings(max_examples=4 if not FULL else 12, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(seed=st.integers(0, 2**32 - 1))
def test_property_odd_keys(key, seed):
    """A key the generator would not make — random Goppa coefficients (often with a root
    in the support: ``w_i = 0``), random control bits — still decapsulates as the
    reference does (the shell's key check, not the decapsulator, rejects such keys)."""
    pk, sk, _ = key
    rnd = random.Random(seed)
    odd = bytearray(sk)
    odd[mc.SK_G:mc.SK_ALPHA] = b"".join(rnd.randrange(mc.Q).to_bytes(2, "little")
                                        for _ in range(mc.T))
    if rnd.random() < 0.5:
        odd[mc.SK_ALPHA:mc.SK_S] = rnd.randbytes(mc.COND_BYTES)
    odd = bytes(odd)
    prepared = mf.PreparedKey(odd)
    for ct in (mc.encode(rnd.sample(range(mc.N), mc.T), pk), rnd.randbytes(mc.CT_BYTES)):
        assert prepared.decaps(ct) == pqc.decaps(odd, ct)


def test_stages_match_golden(key):
    """Syndrome, Berlekamp–Massey and the locator's values are the golden model's."""
    pk, sk, prepared = key
    e = sorted(random.Random(SEED).sample(range(mc.N), mc.T))
    ct = mc.encode(e, pk)
    _, trace = mc.decaps_trace(sk, ct)
    S = prepared.syndrome(ct)
    assert [(S >> (16 * j)) & 0xffff for j in range(2 * mc.T)] == trace["S"]
    C = prepared.berlekamp_massey(S)
    assert C == trace["C"]
    values = prepared.roots(C)
    assert [(values >> (16 * i)) & 0xffff for i in range(mc.N)] == trace["evals"]
    assert prepared.decode(ct) == e == trace["e"]


@SETTINGS
@given(S=st.lists(st.integers(0, mc.GF_MASK), min_size=2 * mc.T, max_size=2 * mc.T))
def test_property_berlekamp_massey_any_syndrome(S):
    """Any syndrome, not only a ciphertext's: the packed Berlekamp–Massey (including the
    correction when ``B``'s top coefficient is shifted out) is the golden model's."""
    packed = sum(x << (16 * j) for j, x in enumerate(S))
    assert mf.PreparedKey.berlekamp_massey(packed) == mc.berlekamp_massey_ct(S)[0]


def test_negative_control(key):
    """The comparison can fail: one wrong syndrome row in the tables and a valid
    ciphertext whose error touches it no longer gives the reference's key."""
    pk, sk, _ = key
    broken = mf.PreparedKey(sk)
    ct, ss = pqc.encaps(pk)
    i = mc.bits_of(ct)[0]
    p, bit = divmod(i, 8)
    broken._byte_synd[p] = [x ^ (1 << 16) if (v >> bit) & 1 else x
                            for v, x in enumerate(broken._byte_synd[p])]
    assert broken.decaps(ct) != ss == pqc.decaps(sk, ct)


def test_bad_lengths():
    with pytest.raises(ValueError, match="sk must be 6492 bytes, not 5"):
        mf.PreparedKey(bytes(5))
    _, sk = pqc.keygen()
    with pytest.raises(ValueError, match="ciphertext must be 96 bytes, not 95"):
        mf.decaps(sk, bytes(95))


def test_software_source_uses_it(key, monkeypatch):
    """The software vendor's arm verdict goes through the fast decapsulator and agrees
    with the golden model's vote on a minted and a tampered proof."""
    from golden.proof import validate
    pk, sk, _ = key
    calls = []
    real = mf.decaps
    monkeypatch.setattr(mf, "decaps", lambda *a: calls.append(1) or real(*a))
    ct, ss = pqc.encaps(pk)
    d, k_att = bytes(range(24)), bytes(32)
    good = mint_kem("arm", ss, ct, d)
    bad = pad_proof(bytes([ct[0] ^ 1]) + ct[1:] + good[mc.CT_BYTES:mc.CT_BYTES + 32], "arm")
    for proof, vote in ((good, True), (bad, False)):
        r = SoftwareSource().validate("arm", sk, k_att, d, 7, proof)
        g = validate("arm", sk, k_att, d, 7, proof)
        assert (r.vote, r.attestation, r.digest) == (vote, bytes(g.attestation),
                                                      bytes(g.digest))
        assert bool(g.vote) == vote
    assert len(calls) == 2
