"""golden.sha512 against hashlib and pycryptodome: every padding boundary, random inputs."""

import hashlib
import random

import pytest
from Crypto.Hash import SHA512

from golden import sha512 as gs

# Every length 0..300 crosses the one/two/three-block padding boundaries (111/112, 239/240);
# the rest sit around further multiples of 128 and the 112-byte length-field boundary.
AROUND = sorted({n + d for base in (128, 256, 384, 512, 896, 1024)
                 for n in (base - 17, base - 16, base) for d in (-1, 0, 1)})
LENGTHS = list(range(301)) + [n for n in AROUND if n > 300]


@pytest.mark.parametrize("chunk", range(0, len(LENGTHS), 40))
def test_digest_matches_hashlib_and_pycryptodome(chunk):
    for n in LENGTHS[chunk:chunk + 40]:
        m = random.Random(n).randbytes(n)
        ref = hashlib.sha512(m).digest()
        assert gs.sha512(m) == ref, f"length {n}"
        assert SHA512.new(m).digest() == ref


@pytest.mark.parametrize("n", [0, 111, 112, 127, 128, 239, 240])
def test_padding_block_count(n):
    # §5.1.2: one 0x80 byte and the 16-byte length must fit after the message
    assert len(gs.pad(b"\0" * n)) == 128 * ((n + 17 + 127) // 128)
    assert len(gs.blocks(b"\0" * n)) == (n + 17 + 127) // 128


def test_constants():
    # FIPS 180-4 §4.2.3 / §5.3.5 spot values; the full tables are covered by the digests.
    assert gs.K[0] == 0x428A2F98D728AE22 and gs.K[79] == 0x6C44198C4A475817
    assert gs.IV[0] == 0x6A09E667F3BCC908 and gs.IV[7] == 0x5BE0CD19137E2179
    assert len(gs.K) == 80 and len(set(gs.K)) == 80


def test_trace_is_consistent():
    rng = random.Random(5)
    m = rng.randbytes(300)
    H = gs.IV
    per_block = gs.sha512_trace(m)
    assert len(per_block) == 3
    for M, trace, H_next in per_block:
        assert len(trace) == 81 and trace[0] == H
        W = gs.message_schedule(M)
        for t in range(80):
            assert trace[t + 1] == gs.sha512_round(trace[t], gs.K[t], W[t])
            # the shift-register structure the hardware relies on
            assert trace[t + 1][1:4] == trace[t][0:3] and trace[t + 1][5:8] == trace[t][4:7]
        assert H_next == gs.compress(H, M)
        H = H_next
    assert gs.digest_bytes(H) == hashlib.sha512(m).digest()


def test_schedule_window():
    M = [random.Random(9).getrandbits(64) for _ in range(16)]
    W = gs.message_schedule(M)
    for t in range(16, 80):
        assert W[t] == gs.schedule_step(W[t - 16:t])


def test_bad_block_length():
    with pytest.raises(ValueError, match="A SHA-512 block must be 128 bytes, not 127"):
        gs.block_words(b"\0" * 127)
