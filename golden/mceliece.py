"""Classic McEliece mceliece348864 KEM (round 4), written from the Classic McEliece
cryptosystem specification.

Parameters ``m = 12``, ``n = 3488``, ``t = 64``; field ``GF(2^12) = F2[z]/(z^12 + z^3 + 1)``
(a field element is an integer whose bit ``j`` is the coefficient of ``z^j``).

Byte formats (the round-4 KAT / ``pqcrypto.kem.mceliece_348864`` formats):

* ``sk`` (6492 B) = ``delta`` (32) ‖ ``c`` (8: the pivot word, ``2^32 - 1`` little-endian
  for the non-``f`` parameter sets) ‖ ``g`` (``t`` × 2 B: ``g_0 .. g_{t-1}`` of the monic
  Goppa polynomial ``g = x^t + Σ g_i x^i``, little-endian 16-bit words, 12 bits used)
  ‖ ``alpha`` as Beneš control bits (``(2m-1) 2^(m-1)`` bits = 5888 B) ‖ ``s`` (``n/8`` = 436).
* ``pk`` (261120 B) = the ``mt × k`` matrix ``T`` of ``H = (I_mt | T)``, row by row, each
  row ``k/8 = 340`` bytes.
* ``ct`` (96 B) = ``C0 = H e`` (``mt`` bits). Round 4 has no confirmation hash.

Bits of byte strings are little-endian: bit ``i`` of a vector is bit ``i mod 8`` of byte
``i // 8``. ``H(x) = SHAKE256(x, 32)``; the session key is ``H(b ‖ e ‖ C)`` with the one
byte ``b = 1`` after a successful decoding and ``H(0 ‖ s ‖ C)`` otherwise.

The model is split like the decapsulation datapath: :func:`support_from_controlbits`
(Beneš network -> support), :func:`double_syndrome`, :func:`berlekamp_massey`,
:func:`error_from_locator` (root finding at the support), the re-encoding check and the
final hash. :func:`decaps_trace` returns every intermediate value.
"""

import functools
import secrets

from golden import exact_bytes
from golden.keccak import shake256

M_BITS = 12
N = 3488
T = 64
Q = 1 << M_BITS               # field size 4096
FIELD_POLY = (1 << 12) | (1 << 3) | 1   # f(z) = z^12 + z^3 + 1
GF_MASK = Q - 1

MT = M_BITS * T               # 768 rows of H
K_DIM = N - MT                # 2720
SYND_BYTES = MT // 8          # 96
ROW_BYTES = K_DIM // 8        # 340
COND_BITS = (2 * M_BITS - 1) << (M_BITS - 1)   # 47104
COND_BYTES = COND_BITS // 8   # 5888
N_BYTES = N // 8              # 436

PK_BYTES = MT * ROW_BYTES     # 261120
CT_BYTES = SYND_BYTES         # 96
SS_BYTES = 32

# sk field offsets
SK_DELTA = 0
SK_C = 32
SK_G = 40
SK_ALPHA = SK_G + 2 * T       # 168
SK_S = SK_ALPHA + COND_BYTES  # 6056
SK_BYTES = SK_S + N_BYTES     # 6492
PIVOTS_NON_F = (1 << 32) - 1  # c = (mt-32, ..., mt-1) as a 64-bit word for the non-f sets

# --------------------------------------------------------------------------------------
# GF(2^12)
# --------------------------------------------------------------------------------------


def gf_mul_slow(a, b):
    """Shift-and-add product modulo ``z^12 + z^3 + 1`` (builds the tables)."""
    r = 0
    while b:
        if b & 1:
            r ^= a
        b >>= 1
        a <<= 1
        if a & Q:
            a ^= FIELD_POLY
    return r


def _build_tables():
    # Smallest generator of the multiplicative group (order 4095 = 3^2 * 5 * 7 * 13).
    for gen in range(2, Q):
        exp = [1]
        for _ in range(Q - 2):
            exp.append(gf_mul_slow(exp[-1], gen))
        if len(set(exp)) == Q - 1:
            break
    log = [0] * Q
    for i, x in enumerate(exp):
        log[x] = i
    return gen, tuple(exp + exp), tuple(log)


GF_GENERATOR, GF_EXP, GF_LOG = _build_tables()   # GF_EXP doubled: index up to 2*(q-2)


def gf_mul(a, b):
    if a == 0 or b == 0:
        return 0
    return GF_EXP[GF_LOG[a] + GF_LOG[b]]


def gf_inv(a):
    """``a^(q-2)``: the inverse, and 0 for 0 (as a constant-time exponentiation gives)."""
    if a == 0:
        return 0
    return GF_EXP[(Q - 1 - GF_LOG[a]) % (Q - 1)]


def gf_sq(a):
    return gf_mul(a, a)


def bitrev_m(x):
    """Reverse the ``m = 12`` low bits of ``x``."""
    return int(f"{x:012b}"[::-1], 2)


# --------------------------------------------------------------------------------------
# Support from the Beneš control bits
# --------------------------------------------------------------------------------------

def controlbit_permutation(cb):
    """The permutation ``pi`` of ``{0 .. 2^m - 1}`` defined by the control bits.

    The network has ``2m - 1`` layers of ``2^(m-1)`` conditional swaps; layer ``i`` swaps
    positions ``pos`` and ``pos + gap`` (``gap = 2^min(i, 2m-2-i)``,
    ``pos = (j mod gap) + 2 gap floor(j / gap)``) when control bit ``i 2^(m-1) + j`` is 1.
    Applied to the identity list, the result lists ``pi(0), pi(1), ...``.
    """
    cb = bytes(cb)
    half = Q // 2
    pi = list(range(Q))
    for layer in range(2 * M_BITS - 1):
        gap = 1 << min(layer, 2 * M_BITS - 2 - layer)
        base = layer * half
        for j in range(half):
            k = base + j
            if (cb[k >> 3] >> (k & 7)) & 1:
                pos = (j % gap) + 2 * gap * (j // gap)
                pi[pos], pi[pos + gap] = pi[pos + gap], pi[pos]
    return pi


@functools.lru_cache(maxsize=8)
def support_from_controlbits(cb):
    """``alpha_i = Σ_j pi(i)_j z^(m-1-j)`` for ``i < n`` (bit-reversed ``pi(i)``)."""
    pi = controlbit_permutation(cb)
    return tuple(bitrev_m(pi[i]) for i in range(N))


# --------------------------------------------------------------------------------------
# Polynomials over GF(2^12) (coefficient lists, constant term first)
# --------------------------------------------------------------------------------------

def poly_eval(p, x):
    """Horner evaluation of ``p`` at ``x``."""
    acc = 0
    if x == 0:
        return p[0]
    lx = GF_LOG[x]
    for coef in reversed(p):
        acc = (GF_EXP[GF_LOG[acc] + lx] if acc else 0) ^ coef
    return acc


def goppa_from_sk(g_bytes):
    """Monic ``g`` of degree ``t``: ``[g_0, ..., g_{t-1}, 1]`` (12 bits of each word used)."""
    g = [int.from_bytes(g_bytes[2 * i:2 * i + 2], "little") & GF_MASK for i in range(T)]
    return g + [1]


def double_syndrome(bits, g, alpha):
    """``S_j = Σ_i v_i alpha_i^j / g(alpha_i)^2`` for ``j = 0 .. 2t-1``.

    ``bits`` is an iterable of the positions ``i`` with ``v_i = 1``.
    """
    S = [0] * (2 * T)
    for i in bits:
        a = alpha[i]
        w = gf_inv(gf_sq(poly_eval(g, a)))     # 1 / g(alpha_i)^2
        if w == 0:
            continue
        if a == 0:
            S[0] ^= w
            continue
        lw, la = GF_LOG[w], GF_LOG[a]
        for j in range(2 * T):
            S[j] ^= GF_EXP[(lw + j * la) % (Q - 1)]
    return S


def berlekamp_massey(S):
    """Shortest LFSR ``C(x) = 1 + C_1 x + ... + C_L x^L`` generating ``S``; returns ``(C, L)``.

    With ``e`` errors (``e <= t``) at ``X_1 .. X_e``, ``C(x) = Π (1 - X_k x)``.
    """
    size = len(S) + 1
    C = [1] + [0] * (size - 1)
    B = [1] + [0] * (size - 1)
    L, b, shift = 0, 1, 1
    for r in range(len(S)):
        d = S[r]
        for i in range(1, L + 1):
            d ^= gf_mul(C[i], S[r - i])
        if d == 0:
            shift += 1
            continue
        coef = gf_mul(d, gf_inv(b))
        prev = list(C)
        for i in range(size - shift):
            C[i + shift] ^= gf_mul(coef, B[i])
        if 2 * L <= r:
            L, B, b, shift = r + 1 - L, prev, d, 1
        else:
            shift += 1
    return C, L


def error_locator(C, L):
    """The locator ``sigma(x) = x^t C(1/x)`` (degree ``t``), whose roots are the ``X_k``.

    ``None`` when the LFSR is longer than ``t`` (more than ``t`` errors).
    """
    if L > T or any(C[T + 1:]):
        return None
    return [C[T - i] for i in range(T + 1)]


def error_from_locator(sigma, alpha):
    """Root finding: ``e_i = 1`` iff ``sigma(alpha_i) = 0``; returns the set of positions."""
    return {i for i, a in enumerate(alpha) if poly_eval(sigma, a) == 0}


# --------------------------------------------------------------------------------------
# Bit vectors
# --------------------------------------------------------------------------------------

def bits_of(b):
    """Positions of the one bits of a little-endian bit string."""
    x = int.from_bytes(bytes(b), "little")
    out = []
    while x:
        low = x & -x
        out.append(low.bit_length() - 1)
        x ^= low
    return out


def vector_bytes(positions, nbits):
    x = 0
    for i in positions:
        x |= 1 << i
    return x.to_bytes(nbits // 8, "little")


# --------------------------------------------------------------------------------------
# KEM
# --------------------------------------------------------------------------------------

def split_sk(sk):
    """Return ``(delta, c, g_bytes, controlbits, s)``."""
    sk = bytes(sk)
    return (sk[SK_DELTA:SK_C], sk[SK_C:SK_G], sk[SK_G:SK_ALPHA],
            sk[SK_ALPHA:SK_S], sk[SK_S:SK_BYTES])


def check_sk(sk):
    """Structural checks the sk format allows.

    Length 6492; pivot word ``c = 2^32 - 1`` (non-``f`` set); every ``g_i`` fits 12 bits
    (``g`` is then monic of degree ``t`` by construction); the support taken from the
    control bits is ``n`` distinct field elements (the network yields a permutation);
    ``g`` has no root in the support. Irreducibility of ``g`` is not checked.
    """
    sk = bytes(sk)
    if len(sk) != SK_BYTES:
        return False
    _delta, c, g_bytes, cb, _s = split_sk(sk)
    if int.from_bytes(c, "little") != PIVOTS_NON_F:
        return False
    if any(int.from_bytes(g_bytes[2 * i:2 * i + 2], "little") >> M_BITS for i in range(T)):
        return False
    alpha = support_from_controlbits(cb)
    if len(set(alpha)) != N:
        return False
    g = goppa_from_sk(g_bytes)
    return all(poly_eval(g, a) != 0 for a in alpha)


def with_support_root(sk):
    """``sk`` with ``g_0`` replaced so that ``g(alpha_0) = 0``: a key that only the last
    check of :func:`check_sk` refuses (the key-check tests use it)."""
    _, _, g_bytes, cb, _ = split_sk(sk)
    g = goppa_from_sk(g_bytes)
    g[0] = 0
    g0 = poly_eval(g, support_from_controlbits(cb)[0])
    bad = bytearray(sk)
    bad[SK_G:SK_G + 2] = g0.to_bytes(2, "little")
    return bytes(bad)


# --------------------------------------------------------------------------------------
# The decoder as the hardware computes it (hdl/mceliece): one function per stage
# --------------------------------------------------------------------------------------

#: ``GF_INV[a] = a^(q-2)`` (0 for 0): the inverse ROM of the hardware.
GF_INV = tuple(gf_inv(a) for a in range(Q))


def controlbit_layers(cb):
    """The Beneš network layer by layer: ``[pi after layer 0, ..., pi after layer 2m-2]``."""
    cb = bytes(cb)
    half = Q // 2
    pi = list(range(Q))
    out = []
    for layer in range(2 * M_BITS - 1):
        gap = 1 << min(layer, 2 * M_BITS - 2 - layer)
        for j in range(half):
            k = layer * half + j
            if (cb[k >> 3] >> (k & 7)) & 1:
                pos = (j % gap) + 2 * gap * (j // gap)
                pi[pos], pi[pos + gap] = pi[pos + gap], pi[pos]
        out.append(list(pi))
    return out


def goppa_horner(g, a):
    """``g(a)`` by Horner from the leading coefficient, the order the hardware uses:
    ``acc = 1; acc = acc a + g_k`` for ``k = t-1 .. 0``."""
    acc = 1
    for k in range(T - 1, -1, -1):
        acc = gf_mul(acc, a) ^ g[k]
    return acc


@functools.lru_cache(maxsize=8)
def _support_weights(g, alpha):
    g_at = tuple(goppa_horner(g, a) for a in alpha)
    return g_at, tuple(gf_sq(GF_INV[x]) for x in g_at)


def support_weights(g, alpha):
    """Per-support table of the key load: ``(g(alpha_i), w_i = g(alpha_i)^-2)`` for ``i < n``.

    ``w_i = GF_INV[g(alpha_i)]^2`` (0 when ``alpha_i`` is a root of ``g``: the key is then
    rejected, see :func:`check_sk`)."""
    return _support_weights(tuple(g), tuple(alpha))


def syndrome_w(bits, alpha, w):
    """``S_j = Σ_{i in bits} w_i alpha_i^j``, ``j = 0 .. 2t-1``: the chain each hardware unit
    runs (``X = w_i``; ``S_j ^= X``; ``X = X alpha_i``)."""
    S = [0] * (2 * T)
    for i in bits:
        x, a = w[i], alpha[i]
        for j in range(2 * T):
            S[j] ^= x
            x = gf_mul(x, a)
    return S


def berlekamp_massey_ct(S):
    """Berlekamp–Massey with fixed-size arrays, as the hardware runs it: ``2t`` iterations,
    ``C`` and ``B`` of ``t + 1`` coefficients, no data-dependent branch.

    Iteration ``r``: ``d = Σ_{i=0..t} C_i S_{r-i}`` (``S_k = 0`` for ``k < 0``);
    ``f = d / b``; ``C = C + f B``; when ``d != 0`` and ``2L <= r`` also ``B = C_old``,
    ``b = d``, ``L = r + 1 - L``; then ``B = x B`` (the top coefficient drops out).
    Equal to :func:`berlekamp_massey` whenever ``L <= t``. Returns ``(C, L, trace)``,
    ``trace[r] = (d, L after r)``.
    """
    C = [1] + [0] * T
    B = [0, 1] + [0] * (T - 1)
    L, b = 0, 1
    trace = []
    for r in range(2 * T):
        d = 0
        for i in range(T + 1):
            if r - i >= 0:
                d ^= gf_mul(C[i], S[r - i])
        f = gf_mul(d, GF_INV[b])
        grow = d != 0 and 2 * L <= r
        prev = list(C)
        C = [c ^ gf_mul(f, bi) for c, bi in zip(C, B)]
        if grow:
            L, B, b = r + 1 - L, prev, d
        B = [0] + B[:T]
        trace.append((d, L))
    return C, L, trace


def locator_eval(C, a):
    """``sigma(a) = a^t C(1/a)`` by Horner over ``C_0 .. C_t`` (``acc = C_0``;
    ``acc = acc a + C_k``), the evaluation each hardware unit runs."""
    acc = C[0]
    for k in range(1, T + 1):
        acc = gf_mul(acc, a) ^ C[k]
    return acc


def decode(c0, g, alpha):
    """Spec ``Decode(C0, Γ')``: the weight-``t`` error ``e`` with ``H e = C0``, or ``None``.

    Staged like the hardware: ``w_i = g(alpha_i)^-2``; ``S`` = double syndrome of
    ``v = (C0, 0, ..., 0)``; :func:`berlekamp_massey_ct` gives ``C``; ``sigma(alpha_i)``
    at every support element; ``e_i = 1`` iff it is 0; ``e`` is accepted iff ``wt(e) = t``
    and its double syndrome ``S_e`` equals ``S`` (equivalent to ``H e = C0``: ``v + e``
    is then a codeword at distance ``t``).
    Returns ``(e_positions | None, trace)``; the trace holds every stage.
    """
    g_at, w = support_weights(g, alpha)
    v_bits = bits_of(c0)
    S = syndrome_w(v_bits, alpha, w)
    C, L, bm = berlekamp_massey_ct(S)
    evals = [locator_eval(C, a) for a in alpha]
    e = [i for i, x in enumerate(evals) if x == 0]
    S_e = syndrome_w(e, alpha, w)
    ok = len(e) == T and S_e == S
    sigma = [C[T - i] for i in range(T + 1)]
    trace = {"alpha": alpha, "g_at": g_at, "w": w, "S": S, "C": C, "L": L, "bm": bm,
             "sigma": sigma, "evals": evals, "e": e, "S_e": S_e, "ok": ok}
    return (e if ok else None), trace


def hash_session(b, e_bytes, c):
    """``K = H(b, e, C) = SHAKE256(b ‖ e ‖ C, 32)``."""
    return shake256(bytes([b]) + bytes(e_bytes) + bytes(c), SS_BYTES)


def decaps_trace(sk, c):
    """Decapsulate and return ``(K, trace)``."""
    sk = exact_bytes(sk, SK_BYTES, "mceliece348864 sk")
    c = exact_bytes(c, CT_BYTES, "mceliece348864 ciphertext")
    _delta, _c, g_bytes, cb, s = split_sk(sk)
    g = goppa_from_sk(g_bytes)
    alpha = support_from_controlbits(cb)
    e, trace = decode(c, g, alpha)
    if e is not None:
        K = hash_session(1, vector_bytes(e, N), c)
    else:
        K = hash_session(0, s, c)          # implicit rejection with s
    # what the hardware hashes after the decoder: b, then e (accepted) or s (rejected)
    trace.update(g=g, K=K, b=int(e is not None),
                 hashed=vector_bytes(e, N) if e is not None else bytes(s))
    return K, trace


def decaps(sk, c):
    """mceliece348864 (round 4) decapsulation with implicit rejection; 32-byte key."""
    return decaps_trace(sk, c)[0]


def fixed_weight(rng):
    """Spec ``FixedWeight``: ``tau = 2t`` 16-bit little-endian words from ``rng``, low ``m``
    bits each; the first ``t`` values below ``n`` are the error positions; start again if
    there are fewer than ``t`` or they are not distinct."""
    tau = 2 * T
    while True:
        raw = rng(2 * tau)
        d = [int.from_bytes(raw[2 * j:2 * j + 2], "little") & GF_MASK for j in range(tau)]
        a = [x for x in d if x < N][:T]
        if len(a) == T and len(set(a)) == T:
            return a


def encode(e_positions, pk):
    """``C0 = H e`` with ``H = (I_mt | T)``; ``T`` row ``i`` is ``pk[340 i : 340 (i+1)]``."""
    e = 0
    for i in e_positions:
        e |= 1 << i
    e_tail = e >> MT
    out = 0
    for row in range(MT):
        t_row = int.from_bytes(pk[row * ROW_BYTES:(row + 1) * ROW_BYTES], "little")
        bit = ((e >> row) & 1) ^ ((t_row & e_tail).bit_count() & 1)
        out |= bit << row
    return out.to_bytes(SYND_BYTES, "little")


def encaps(pk, rng=None):
    """mceliece348864 (round 4) encapsulation; ``rng(n) -> n bytes``. Returns ``(ct, K)``."""
    if rng is None:
        rng = secrets.token_bytes
    pk = bytes(pk)
    if len(pk) != PK_BYTES:
        raise ValueError(f"mceliece348864 pk must be {PK_BYTES} bytes, not {len(pk)}")
    e = fixed_weight(rng)
    c = encode(e, pk)
    return c, hash_session(1, vector_bytes(e, N), c)
