"""golden.keccak against pycryptodome: every mode, random inputs and rate boundaries."""

import random

import pytest
from Crypto.Hash import KMAC256, SHA3_256, SHA3_512, SHAKE128, SHAKE256, cSHAKE256

from golden import keccak as gk

BOUNDARIES = [0, 1, 7, 8, 9, 71, 72, 73, 135, 136, 137, 167, 168, 169, 271, 272, 273, 1024]


@pytest.mark.parametrize("n", BOUNDARIES + [random.Random(n).randrange(2000) for n in range(6)])
def test_modes_match_pycryptodome(n):
    rng = random.Random(n)
    m = rng.randbytes(n)
    assert gk.sha3_256(m) == SHA3_256.new(m).digest()
    assert gk.sha3_512(m) == SHA3_512.new(m).digest()
    assert gk.shake128(m, 500) == SHAKE128.new(m).read(500)
    assert gk.shake256(m, 300) == SHAKE256.new(m).read(300)
    assert gk.cshake256(m, 64, S=b"pqvote") == cSHAKE256.new(m, custom=b"pqvote").read(64)
    key = rng.randbytes(32)
    for S in (b"", b"pqvote/vote", b"pqvote/proof"):
        assert gk.kmac256(key, m, 32, S) == KMAC256.new(key=key, data=m, mac_len=32, custom=S).digest()


def test_round_constants_and_offsets():
    # FIPS 202 Table 2 (rho offsets) spot values and the first/last round constants.
    assert gk.ROUND_CONSTANTS[0] == 0x0000000000000001
    assert gk.ROUND_CONSTANTS[23] == 0x8000000080008008
    assert gk.RHO_OFFSETS[1] == 1 and gk.RHO_OFFSETS[2] == 62 and gk.RHO_OFFSETS[24] == 14
    assert sorted(gk.PI_SOURCE) == list(range(25))


@pytest.mark.parametrize("seed", range(20))
def test_unrolled_permutation_equals_the_step_functions(seed):
    rng = random.Random(seed)
    A = [rng.getrandbits(64) for _ in range(25)]
    stepwise = list(A)
    for ir in range(24):
        stepwise = gk.iota(gk.chi(gk.pi(gk.rho(gk.theta(stepwise)))), ir)
    assert gk.keccak_f1600(A) == stepwise
    last12 = list(A)
    for ir in range(12, 24):   # Keccak-p[1600, 12] runs round indices 12..23
        last12 = gk.keccak_round(last12, ir)
    assert gk.keccak_f1600(A, rounds=12) == last12


def test_trace_ends_in_the_permutation():
    A = [random.Random(5).getrandbits(64) for _ in range(25)]
    trace = gk.keccak_f1600_trace(A)
    assert len(trace) == 25 and trace[0] == A and trace[-1] == gk.keccak_f1600(A)
    # Keccak-f[1600] of the zero state, first lane (a well-known value).
    assert gk.keccak_f1600([0] * 25)[0] == 0xF1258F7940E1DDE7


def test_encodings():
    assert gk.left_encode(0) == b"\x01\x00"
    assert gk.right_encode(256) == b"\x01\x00\x02"
    assert gk.left_encode(136) == b"\x01\x88"
    assert len(gk.kmac256_prefix_block(b"pqvote/vote")) == 136
    assert gk.kmac256_key_block(bytes(32))[:5] == b"\x01\x88\x02\x01\x00"
