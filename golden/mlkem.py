"""ML-KEM-512, written from FIPS 203 (August 2024).

Polynomials are lists of 256 integers in ``0 .. q-1``. The model is structured like the
``intel`` hardware: :func:`ct_butterfly` / :func:`gs_butterfly` are one butterfly unit,
:func:`ntt_stage` / :func:`intt_stage` one pass over the coefficient memory,
:func:`base_case_multiply` one base-multiplier operation, and :func:`sample_ntt_stream` /
:func:`cbd_from_bytes` are the samplers fed by the sponge. A bench whose whole-core result
differs can therefore compare a single stage.

The model owns the constants the RTL uses: :data:`ZETAS` (``ζ^BitRev7(i)``),
:data:`GAMMAS` (``ζ^(2·BitRev7(i)+1)``), :data:`N_INV` (``128^-1 mod q``).

Hash functions (FIPS 203 §4.1) come from :mod:`golden.keccak`:
``H = SHA3-256``, ``J(s) = SHAKE256(s, 32)``, ``G = SHA3-512``,
``PRF_η(s, b) = SHAKE256(s ‖ b, 64·η)``, ``XOF = SHAKE128``.
"""

import os
from functools import lru_cache

from golden import keccak

# FIPS 203 §8, Table 2: ML-KEM-512.
N = 256
Q = 3329
K = 2
ETA1 = 3
ETA2 = 2
DU = 10
DV = 4
ZETA = 17

EK_LEN = 384 * K + 32            # 800
DK_PKE_LEN = 384 * K             # 768
DK_LEN = 768 * K + 96            # 1632
CT_LEN = 32 * (DU * K + DV)      # 768
C1_LEN = 32 * DU * K             # 640
SS_LEN = 32


def bitrev7(i):
    """BitRev7(i): the 7-bit reversal of ``i`` (FIPS 203 §2.4.3)."""
    return int(f"{i:07b}"[::-1], 2)


#: ``ZETAS[i] = ζ^BitRev7(i) mod q`` for i = 0..127 (FIPS 203 §4.3, Appendix A).
ZETAS = tuple(pow(ZETA, bitrev7(i), Q) for i in range(128))
#: ``GAMMAS[i] = ζ^(2·BitRev7(i)+1) mod q`` for i = 0..127 (FIPS 203 §4.3.1, Appendix A).
GAMMAS = tuple(pow(ZETA, 2 * bitrev7(i) + 1, Q) for i in range(128))
#: ``128^-1 mod q`` = 3303, the INTT output scale (FIPS 203 Algorithm 10, line 14).
N_INV = pow(128, -1, Q)


# --- hash functions (FIPS 203 §4.1) --------------------------------------------------------

def H(s):
    return keccak.sha3_256(s)


def J(s):
    return keccak.shake256(s, 32)


def G(c):
    out = keccak.sha3_512(c)
    return out[:32], out[32:]


def PRF(eta, s, b):
    return keccak.shake256(bytes(s) + bytes([b]), 64 * eta)


# --- encoding and compression (FIPS 203 §4.2.1) --------------------------------------------

def compress(d, x):
    """Compress_d(x) = round((2^d / q) · x) mod 2^d."""
    # round(a/b) with ties up = floor((2a + b) / 2b)
    return (((x << (d + 1)) + Q) // (2 * Q)) & ((1 << d) - 1)


def decompress(d, y):
    """Decompress_d(y) = round((q / 2^d) · y)."""
    return (Q * y + (1 << (d - 1))) >> d


def byte_encode(d, F):
    """ByteEncode_d (Algorithm 5): 256 d-bit integers, least significant bit first."""
    acc = 0
    for i, a in enumerate(F):
        acc |= (a & ((1 << d) - 1)) << (d * i)
    return acc.to_bytes(32 * d, "little")


def byte_decode(d, B):
    """ByteDecode_d (Algorithm 6); for d = 12 each value is reduced mod q."""
    if len(B) != 32 * d:
        raise ValueError(f"ByteDecode_{d} needs {32 * d} bytes, not {len(B)}")
    acc = int.from_bytes(B, "little")
    m = Q if d == 12 else 1 << d
    return [((acc >> (d * i)) & ((1 << d) - 1)) % m for i in range(N)]


# --- NTT (FIPS 203 §4.3) -------------------------------------------------------------------

def ct_butterfly(a, b, zeta):
    """Cooley–Tukey butterfly of Algorithm 9: ``(a + ζb, a − ζb)`` mod q."""
    t = zeta * b % Q
    return (a + t) % Q, (a - t) % Q


def gs_butterfly(a, b, zeta):
    """Gentleman–Sande butterfly of Algorithm 10: ``(a + b, ζ(b − a))`` mod q."""
    return (a + b) % Q, zeta * (b - a) % Q


def ntt_stage(f, s):
    """Stage ``s`` (0..6) of NTT (Algorithm 9): ``len = 128 >> s``, zetas ``2^s .. 2^(s+1)-1``."""
    f = list(f)
    length = 128 >> s
    for blk, start in enumerate(range(0, N, 2 * length)):
        zeta = ZETAS[(1 << s) + blk]
        for j in range(start, start + length):
            f[j], f[j + length] = ct_butterfly(f[j], f[j + length], zeta)
    return f


def intt_stage(f, s):
    """Stage ``s`` (0..6) of NTT⁻¹ (Algorithm 10): ``len = 2 << s``, zetas counted down
    from ``127 >> s``; the final scaling by 128⁻¹ is :func:`intt_scale`."""
    f = list(f)
    length = 2 << s
    top = (128 >> s) - 1
    for blk, start in enumerate(range(0, N, 2 * length)):
        zeta = ZETAS[top - blk]
        for j in range(start, start + length):
            f[j], f[j + length] = gs_butterfly(f[j], f[j + length], zeta)
    return f


def intt_scale(f):
    return [a * N_INV % Q for a in f]


def ntt(f):
    for s in range(7):
        f = ntt_stage(f, s)
    return f


def intt(f):
    for s in range(7):
        f = intt_stage(f, s)
    return intt_scale(f)


def base_case_multiply(a0, a1, b0, b1, gamma):
    """Algorithm 12: (a0 + a1X)(b0 + b1X) mod (X² − γ)."""
    c0 = (a0 * b0 + a1 * b1 % Q * gamma) % Q
    c1 = (a0 * b1 + a1 * b0) % Q
    return c0, c1


def multiply_ntts(f, g):
    """Algorithm 11: the product of two NTT-domain polynomials."""
    h = [0] * N
    for i in range(128):
        h[2 * i], h[2 * i + 1] = base_case_multiply(f[2 * i], f[2 * i + 1],
                                                    g[2 * i], g[2 * i + 1], GAMMAS[i])
    return h


def poly_add(f, g):
    return [(a + b) % Q for a, b in zip(f, g)]


def poly_sub(f, g):
    return [(a - b) % Q for a, b in zip(f, g)]


# --- sampling (FIPS 203 §4.2.2) ------------------------------------------------------------

def sample_ntt_stream(stream):
    """SampleNTT (Algorithm 7) over an iterable of XOF output bytes.

    Each 3 bytes give two 12-bit candidates ``d1 = C0 + 256·(C1 mod 16)``,
    ``d2 = ⌊C1/16⌋ + 16·C2``; those below q are kept until 256 are collected.
    """
    a = []
    it = iter(stream)
    while len(a) < N:
        c0, c1, c2 = next(it), next(it), next(it)
        d1 = c0 + 256 * (c1 & 15)
        d2 = (c1 >> 4) + 16 * c2
        if d1 < Q:
            a.append(d1)
        if d2 < Q and len(a) < N:
            a.append(d2)
    return a


def xof_bytes(seed):
    """SHAKE128(seed) as an unbounded byte iterator (the rate-block squeeze of the sponge)."""
    nblocks = 4
    while True:
        out = keccak.shake128(seed, 168 * nblocks)
        yield from out[168 * (nblocks - 4):]
        nblocks += 4


def sample_ntt(seed):
    """SampleNTT(ρ ‖ j ‖ i) with a 34-byte seed."""
    if len(seed) != 34:
        raise ValueError(f"SampleNTT seed must be 34 bytes, not {len(seed)}")
    # 3 blocks (504 bytes, 336 candidates) almost always suffice; fall back to more.
    out = keccak.shake128(seed, 504)
    try:
        return sample_ntt_stream(out)
    except StopIteration:
        return sample_ntt_stream(xof_bytes(seed))


def cbd_from_bytes(eta, B):
    """SamplePolyCBD_η (Algorithm 8): f_i = Σ b[2iη+j] − Σ b[2iη+η+j] mod q."""
    if len(B) != 64 * eta:
        raise ValueError(f"SamplePolyCBD_{eta} needs {64 * eta} bytes, not {len(B)}")
    bits = int.from_bytes(B, "little")
    f = []
    for i in range(N):
        chunk = bits >> (2 * eta * i)
        x = bin(chunk & ((1 << eta) - 1)).count("1")
        y = bin((chunk >> eta) & ((1 << eta) - 1)).count("1")
        f.append((x - y) % Q)
    return f


@lru_cache(maxsize=64)
def expand_a(rho):
    """Â from ρ: ``Â[i][j] = SampleNTT(ρ ‖ j ‖ i)`` (Algorithm 13 lines 3–7)."""
    return tuple(tuple(tuple(sample_ntt(bytes(rho) + bytes([j, i]))) for j in range(K))
                 for i in range(K))


# --- K-PKE (FIPS 203 §5) ------------------------------------------------------------------

def sample_noise_vector(eta, seed, n):
    """K polynomials ``SamplePolyCBD_eta(PRF_eta(seed, N))`` for ``N = n, n+1, …`` (the loops
    of Algorithms 13 and 14) → (the vector, the next ``N``)."""
    return [cbd_from_bytes(eta, PRF(eta, seed, n + i)) for i in range(K)], n + K


def kpke_keygen(d):
    """K-PKE.KeyGen (Algorithm 13) → (ek_pke, dk_pke)."""
    rho, sigma = G(bytes(d) + bytes([K]))
    A = expand_a(rho)
    s, n = sample_noise_vector(ETA1, sigma, 0)
    e, n = sample_noise_vector(ETA1, sigma, n)
    s_hat = [ntt(p) for p in s]
    e_hat = [ntt(p) for p in e]
    t_hat = []
    for i in range(K):
        acc = e_hat[i]
        for j in range(K):
            acc = poly_add(acc, multiply_ntts(A[i][j], s_hat[j]))
        t_hat.append(acc)
    ek = b"".join(byte_encode(12, p) for p in t_hat) + rho
    dk = b"".join(byte_encode(12, p) for p in s_hat)
    return ek, dk


def kpke_encrypt(ek, m, r):
    """K-PKE.Encrypt (Algorithm 14) → c."""
    t_hat = [byte_decode(12, ek[384 * i:384 * (i + 1)]) for i in range(K)]
    rho = bytes(ek[384 * K:384 * K + 32])
    A = expand_a(rho)
    y, n = sample_noise_vector(ETA1, r, 0)
    e1, n = sample_noise_vector(ETA2, r, n)
    e2 = cbd_from_bytes(ETA2, PRF(ETA2, r, n))
    y_hat = [ntt(p) for p in y]
    u = []
    for i in range(K):
        # u[i] = NTT⁻¹(Σ_j Â[j][i] ∘ ŷ[j]) + e1[i]  (Âᵀ)
        acc = [0] * N
        for j in range(K):
            acc = poly_add(acc, multiply_ntts(A[j][i], y_hat[j]))
        u.append(poly_add(intt(acc), e1[i]))
    mu = [decompress(1, b) for b in byte_decode(1, m)]
    acc = [0] * N
    for j in range(K):
        acc = poly_add(acc, multiply_ntts(t_hat[j], y_hat[j]))
    v = poly_add(poly_add(intt(acc), e2), mu)
    c1 = b"".join(byte_encode(DU, [compress(DU, x) for x in p]) for p in u)
    c2 = byte_encode(DV, [compress(DV, x) for x in v])
    return c1 + c2


def kpke_decrypt(dk_pke, c):
    """K-PKE.Decrypt (Algorithm 15) → m."""
    u = [[decompress(DU, x) for x in byte_decode(DU, c[320 * i:320 * (i + 1)])]
         for i in range(K)]
    v = [decompress(DV, x) for x in byte_decode(DV, c[C1_LEN:CT_LEN])]
    s_hat = [byte_decode(12, dk_pke[384 * i:384 * (i + 1)]) for i in range(K)]
    acc = [0] * N
    for i in range(K):
        acc = poly_add(acc, multiply_ntts(s_hat[i], ntt(u[i])))
    w = poly_sub(v, intt(acc))
    return byte_encode(1, [compress(1, x) for x in w])


# --- ML-KEM (FIPS 203 §6, §7) ---------------------------------------------------------------

def keygen_internal(d, z):
    """ML-KEM.KeyGen_internal (Algorithm 16) → (ek, dk)."""
    ek, dk_pke = kpke_keygen(d)
    dk = dk_pke + ek + H(ek) + bytes(z)
    return ek, dk


def keygen(d=None, z=None):
    """ML-KEM.KeyGen (Algorithm 19); ``d``, ``z`` default to fresh random bytes."""
    d = os.urandom(32) if d is None else bytes(d)
    z = os.urandom(32) if z is None else bytes(z)
    return keygen_internal(d, z)


def encaps_internal(ek, m):
    """ML-KEM.Encaps_internal (Algorithm 17) → (K, c)."""
    k, r = G(bytes(m) + H(ek))
    return k, kpke_encrypt(ek, m, r)


def split_dk(dk):
    """dk = dk_pke ‖ ek ‖ H(ek) ‖ z (Algorithm 16 line 3)."""
    return (dk[:DK_PKE_LEN], dk[DK_PKE_LEN:DK_PKE_LEN + EK_LEN],
            dk[DK_PKE_LEN + EK_LEN:DK_PKE_LEN + EK_LEN + 32], dk[DK_PKE_LEN + EK_LEN + 32:])


def decaps_internal(dk, c):
    """ML-KEM.Decaps_internal (Algorithm 18) with implicit rejection → K."""
    dk_pke, ek, h, z = split_dk(dk)
    m_prime = kpke_decrypt(dk_pke, c)
    k_prime, r_prime = G(m_prime + h)
    k_bar = J(z + bytes(c))
    c_prime = kpke_encrypt(ek, m_prime, r_prime)
    # constant-time style: compare every byte
    diff = 0
    for a, b in zip(c, c_prime):
        diff |= a ^ b
    return k_prime if diff == 0 else k_bar


def check_ek(ek):
    """Encapsulation key check (FIPS 203 §7.2): length and modulus check."""
    if len(ek) != EK_LEN:
        return False
    t = ek[:384 * K]
    return all(byte_encode(12, byte_decode(12, t[384 * i:384 * (i + 1)])) == t[384 * i:384 * (i + 1)]
               for i in range(K))


def check_dk(dk):
    """Decapsulation key check (FIPS 203 §7.3 items 2–3): length and ``H(ek)`` in dk."""
    if len(dk) != DK_LEN:
        return False
    _, ek, h, _ = split_dk(dk)
    return H(ek) == h


def encaps(ek, m=None):
    """ML-KEM.Encaps (Algorithm 20) with the §7.2 input checks → (c, K)."""
    ek = bytes(ek)
    if not check_ek(ek):
        raise ValueError("ML-KEM-512 encapsulation key fails the FIPS 203 §7.2 check")
    m = os.urandom(32) if m is None else bytes(m)
    if len(m) != 32:
        raise ValueError(f"Encaps randomness must be 32 bytes, not {len(m)}")
    k, c = encaps_internal(ek, m)
    return c, k


def decaps(dk, c):
    """ML-KEM.Decaps (Algorithm 21) with the §7.3 input checks → K."""
    dk, c = bytes(dk), bytes(c)
    if len(c) != CT_LEN:
        raise ValueError(f"ML-KEM-512 ciphertext must be {CT_LEN} bytes, not {len(c)}")
    if not check_dk(dk):
        raise ValueError("ML-KEM-512 decapsulation key fails the FIPS 203 §7.3 check")
    return decaps_internal(dk, c)
