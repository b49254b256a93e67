"""Golden SLH-DSA-SHAKE-128s verification against NIST ACVP vectors and ``pqcrypto``.

The model runs on the project's own SHAKE (``golden.keccak``), about 2 s per verification in
pure Python, so the default run uses a few key pairs; ``PQVOTE_FULL=1`` runs 50 key pairs
with 6 tampered signatures each, rotating over every tamper class (about 15 minutes). ``PQVOTE_SLHDSA_PAIRS`` overrides the count.
"""

import hashlib
import json
import os
import random
from pathlib import Path

import pytest

from golden import slhdsa
from golden.slhdsa import N, SIG_LEN

import pqcrypto.sign.slh_dsa_shake_128s as pqslh  # a pinned dependency: a missing one must fail, not skip

VECTORS = Path(__file__).resolve().parent / "vectors" / "slhdsa_shake128s_sigver_acvp.json"

FULL = os.environ.get("PQVOTE_FULL", "") not in ("", "0")
PAIRS = int(os.environ.get("PQVOTE_SLHDSA_PAIRS", 50 if FULL else 4))
CTX = b"pqvote/proof"


def fast_hasher():
    """A Hasher on hashlib's SHAKE256 -- only for the tests of call/permutation *counts*."""
    return slhdsa.Hasher(shake256=lambda m, n: hashlib.shake_256(m).digest(n))


def pq_verify(pk, msg, sig, ctx):
    try:
        pqslh.verify(pk, msg, sig, context=ctx)
        return True
    except Exception:
        return False


def flip(sig, byte, bit=0):
    b = bytearray(sig)
    b[byte] ^= 1 << bit
    return bytes(b)


# --- tamper classes: (name, function(sig, msg, ctx, rng) -> (sig, msg, ctx)) ----------------
def _block_flip(block):
    def f(sig, msg, ctx, rng):
        return flip(sig, N * block + rng.randrange(N), rng.randrange(8)), msg, ctx
    return f


TAMPERS = [("R", _block_flip(slhdsa.SIG_R))]
for _i in range(slhdsa.K):
    # FORS tree i: its secret value or one of its 12 auth nodes
    TAMPERS.append((f"fors{_i}-sk", _block_flip(slhdsa.SIG_FORS + _i * (slhdsa.A + 1))))
    TAMPERS.append((f"fors{_i}-auth", _block_flip(slhdsa.SIG_FORS + _i * (slhdsa.A + 1) + 1
                                                  + (_i % slhdsa.A))))
for _j in range(slhdsa.D):
    _base = slhdsa.SIG_HT + _j * slhdsa.XMSS_SIG_BLOCKS
    TAMPERS.append((f"ht{_j}-wots", _block_flip(_base + (5 * _j + 3) % slhdsa.LEN)))
    TAMPERS.append((f"ht{_j}-auth", _block_flip(_base + slhdsa.LEN + (_j + 4) % slhdsa.HP)))
TAMPERS += [
    ("message", lambda s, m, c, r: (s, m + b"\0" if not m else flip(m, r.randrange(len(m))), c)),
    ("context", lambda s, m, c, r: (s, m, c[:-1] if c else b"x")),
    ("short", lambda s, m, c, r: (s[:-1], m, c)),
    ("long", lambda s, m, c, r: (s + b"\0", m, c)),
]


@pytest.fixture(scope="module")
def key_pairs():
    """``PAIRS`` random key pairs, each with a message, a context and a pqcrypto signature."""
    rng = random.Random(205)
    out = []
    for p in range(PAIRS):
        pk, sk = pqslh.keygen()
        msg = rng.randbytes(rng.choice([0, 1, 24, 100, 300]))
        ctx = [b"", CTX, rng.randbytes(rng.randrange(1, 256))][p % 3]
        sig = pqslh.sign(sk, msg, context=ctx)
        out.append((pk, msg, ctx, sig))
    return out


# --- structure ------------------------------------------------------------------------------
def test_parameters():
    assert (slhdsa.LEN1, slhdsa.LEN2, slhdsa.LEN, SIG_LEN) == (32, 3, 35, pqslh.SIGNATURE_SIZE)
    assert slhdsa.PK_LEN == pqslh.PUBLIC_KEY_SIZE
    assert slhdsa.SIG_HT + slhdsa.D * slhdsa.XMSS_SIG_BLOCKS == SIG_LEN // N


def test_adrs_layout():
    a = slhdsa.Adrs(layer=0x01020304, tree=0x05060708090A0B0C, type=3, keypair=0x1FF,
                    word6=7, word7=0xABCDE)
    b = a.to_bytes()
    assert len(b) == 32
    assert b[0:4] == bytes([1, 2, 3, 4])
    assert b[4:8] == bytes(4) and b[8:16] == bytes(range(5, 13))
    assert b[16:20] == (3).to_bytes(4, "big") and b[20:24] == (0x1FF).to_bytes(4, "big")
    assert b[24:28] == (7).to_bytes(4, "big") and b[28:32] == (0xABCDE).to_bytes(4, "big")
    a.set_type_and_clear(slhdsa.WOTS_PK)
    assert (a.type, a.keypair, a.word6, a.word7, a.layer) == (1, 0, 0, 0, 0x01020304)


def test_base_2b():
    assert slhdsa.base_2b(bytes([0x12, 0x34]), 4, 4) == [1, 2, 3, 4]
    assert slhdsa.base_2b(bytes([0xFF, 0xF0, 0x01]), 12, 2) == [0xFFF, 0x001]
    x = random.Random(1).randbytes(21)
    v = int.from_bytes(x, "big") >> 0
    assert slhdsa.base_2b(x, 12, 14) == [(v >> (168 - 12 * (i + 1))) & 0xFFF for i in range(14)]


def test_wots_digits_checksum():
    # all-zero message: every chain runs 15 steps; checksum 32*15 = 480 = 0x1E0 -> <<4 -> 0x1E00
    assert slhdsa.wots_digits(bytes(16)) == [0] * 32 + [1, 14, 0]
    assert slhdsa.wots_digits(b"\xff" * 16) == [15] * 32 + [0, 0, 0]
    assert slhdsa.wots_chain_lengths(b"\xff" * 16) == [0] * 32 + [15] * 3


def test_split_digest():
    digest = bytes(range(30))
    md, idx_tree, idx_leaf = slhdsa.split_digest(digest)
    assert md == bytes(range(21))
    assert idx_tree == int.from_bytes(bytes(range(21, 28)), "big") % (1 << 54)
    assert idx_leaf == int.from_bytes(bytes([28, 29]), "big") % (1 << 9)


def test_message_prime():
    assert slhdsa.message_prime(b"M", b"ab") == b"\x00\x02abM"
    with pytest.raises(ValueError):
        slhdsa.message_prime(b"", bytes(256))
    assert slhdsa.verify(bytes(32), b"", bytes(SIG_LEN), bytes(256)) is False


# --- NIST ACVP --------------------------------------------------------------------------
def _acvp_cases():
    return json.loads(VECTORS.read_text())["cases"]


@pytest.mark.parametrize("case", _acvp_cases(), ids=lambda c: f"tc{c['tcId']}")
def test_acvp(case):
    pk, msg, sig, ctx = (bytes.fromhex(case[f]) for f in ("pk", "message", "signature", "context"))
    assert slhdsa.verify(pk, msg, sig, ctx) is case["valid"]


# --- pqcrypto cross-check -------------------------------------------------------------------
def test_random_key_pairs_valid(key_pairs):
    for pk, msg, ctx, sig in key_pairs:
        assert pq_verify(pk, msg, sig, ctx)
        assert slhdsa.verify(pk, msg, sig, ctx) is True


def test_random_key_pairs_tampered(key_pairs):
    """Each key pair gets tampered signatures; the model must agree with pqcrypto (reject)."""
    rng = random.Random(20505)
    per_pair = 6 if FULL else 2      # rotating, so the pairs together cover every class
    for p, (pk, msg, ctx, sig) in enumerate(key_pairs):
        picks = [TAMPERS[(p * per_pair + q) * 7 % len(TAMPERS)] for q in range(per_pair)]
        for name, tamper in picks:
            s2, m2, c2 = tamper(sig, msg, ctx, rng)
            expected = pq_verify(pk, m2, s2, c2)
            assert expected is False, name
            assert slhdsa.verify(pk, m2, s2, c2) is expected, name


def test_another_key_rejects(key_pairs):
    (pk0, msg0, ctx0, sig0), (pk1, *_) = key_pairs[0], key_pairs[1]
    assert slhdsa.verify(pk1, msg0, sig0, ctx0) is pq_verify(pk1, msg0, sig0, ctx0) is False


def test_every_tamper_class_fast_hash(key_pairs):
    """The whole tamper table on one key pair, with hashlib's SHAKE (checks the model's
    structure -- which block feeds which hash -- quickly; the SHAKE model itself is covered
    by the tests above)."""
    rng = random.Random(7)
    pk, msg, ctx, sig = key_pairs[0]
    assert slhdsa.verify(pk, msg, sig, ctx, hasher=fast_hasher()) is True
    for name, tamper in TAMPERS:
        s2, m2, c2 = tamper(sig, msg, ctx, rng)
        assert slhdsa.verify(pk, m2, s2, c2, hasher=fast_hasher()) is False, name


# --- counts -----------------------------------------------------------------------------
def test_hash_counts(key_pairs):
    """F/H/T/H_msg calls and Keccak permutations of one verification (the core's workload)."""
    for pk, msg, ctx, sig in key_pairs:
        hasher = fast_hasher()
        hasher_trace = slhdsa.Hasher(trace=True,
                                     shake256=lambda m, n: hashlib.shake_256(m).digest(n))
        assert slhdsa.verify(pk, msg, sig, ctx, hasher=hasher)
        slhdsa.verify(pk, msg, sig, ctx, hasher=hasher_trace)
        # FORS: k leaves + k*a nodes; each XMSS layer: h' nodes
        assert hasher.calls["H"] == slhdsa.K * slhdsa.A + slhdsa.D * slhdsa.HP == 231
        assert hasher.calls["T"] == 1 + slhdsa.D and hasher.calls["H_msg"] == 1
        # chain steps: sum over layers of sum(w-1-digit); the layer messages are in the trace
        t_inputs = [data for fn, _, data, _ in hasher_trace.trace if fn == "T"]
        t_outputs = [out for fn, _, _, out in hasher_trace.trace if fn == "T"]
        assert [len(x) for x in t_inputs] == [48 + 14 * N] + [48 + 35 * N] * 7
        # layer-j WOTS+ signs the FORS pk (j = 0) or the previous layer's root
        roots = [t_outputs[0]]
        h_outs = [out for fn, _, _, out in hasher_trace.trace if fn == "H"]
        roots += [h_outs[slhdsa.K * slhdsa.A + slhdsa.HP * (j + 1) - 1] for j in range(6)]
        steps = sum(sum(slhdsa.wots_chain_lengths(r)) for r in roots)
        assert hasher.calls["F"] == slhdsa.K + steps
        # permutations: 1-block F/H, T_k 3 blocks (272 B), T_len 5 blocks (608 B)
        msg_len = 2 + len(ctx) + len(msg)
        assert hasher.permutations == (slhdsa.hash_permutations(48 + msg_len, 30)
                                       + hasher.calls["F"] + 231 + 3 + 7 * 5)
