"""Streamlined NTRU Prime sntrup653 KEM, written from the NTRU Prime round-3 specification.

Parameters ``p = 653``, ``q = 4621``, ``w = 288``; the ring is
``R = Z[x]/(x^p - x - 1)``, ``Rq = R/q`` (coefficients held centred in
``-(q-1)/2 .. (q-1)/2``) and ``R3 = R/3`` (coefficients in ``-1, 0, 1``).

Byte formats (the ``pqcrypto.kem.sntrup_653`` / NIST KAT formats):

* ``pk`` (994 B) = ``Encode(h + (q-1)/2, q)``.
* ``sk`` (1518 B) = ``Small(f)`` (164) ‖ ``Small(1/g mod 3)`` (164) ‖ ``pk`` (994)
  ‖ ``rho`` (164, random bytes) ‖ ``cache = Hash4(pk)`` (32).
* ``ct`` (897 B) = ``Encode((c + (q-1)/2)/3, (q+2)/3)`` (865) ‖ ``HashConfirm(r, pk)`` (32).

``Hash_b(x)`` is the first 32 bytes of ``SHA-512(b ‖ x)`` (one prefix byte ``b``), computed
with :mod:`golden.sha512`, the model of the hardware SHA-512 block.

The model follows the decapsulation datapath stage by stage (:func:`rounded_decode`,
:func:`rq_mult_small` / :func:`horner_product` (the multiplier array), :func:`r3_from_rq`, :func:`r3_mult`, :func:`weight_w_mask`,
:func:`round_rq`, :func:`rounded_encode`, :func:`hash_confirm`, :func:`hash_session`), so a
hardware stage can be compared on its own. :func:`decaps_trace` returns every intermediate.
"""

import secrets

from golden import exact_bytes
from golden.sha512 import sha512

P = 653
Q = 4621
W = 288
Q12 = (Q - 1) // 2            # 2310
ROUNDED_M = (Q + 2) // 3      # 1541: a rounded coefficient (c + Q12)/3 lies in 0..1540

SMALL_BYTES = (P + 3) // 4    # 164
HASH_BYTES = 32


def _encode_len(M):
    """Number of bytes :func:`encode` produces for a list of moduli ``M``."""
    return len(encode([0] * len(M), M))


def encode(R, M):
    """Spec ``Encode``: pack integers ``0 <= R[i] < M[i]`` into bytes (radix mixing).

    Pairs of neighbours are merged into one value modulo ``M[i]*M[i+1]``; while that
    modulus is at least 2^14 its low byte is emitted. The merged list is encoded
    recursively; a single value is emitted byte by byte while its modulus exceeds 1.
    """
    if len(M) == 0:
        return b""
    if len(M) == 1:
        r, m = R[0], M[0]
        out = bytearray()
        while m > 1:
            out.append(r & 0xFF)
            r >>= 8
            m = (m + 255) >> 8
        return bytes(out)
    out = bytearray()
    R2, M2 = [], []
    for i in range(0, len(M) - 1, 2):
        m = M[i] * M[i + 1]
        r = R[i] + M[i] * R[i + 1]
        while m >= 16384:
            out.append(r & 0xFF)
            r >>= 8
            m = (m + 255) >> 8
        R2.append(r)
        M2.append(m)
    if len(M) & 1:
        R2.append(R[-1])
        M2.append(M[-1])
    return bytes(out) + encode(R2, M2)


def decode(S, M):
    """Spec ``Decode``: the inverse of :func:`encode`; every output is reduced mod ``M[i]``.

    For a byte string that no ``encode`` produced, the result is still well defined
    (each recovered value is taken modulo its own modulus).
    """
    return decode_checked(S, M)[0]


def decode_checked(S, M):
    """:func:`decode` that also reports whether ``S`` is the canonical encoding.

    Returns ``(R, canonical)``. ``canonical`` is true iff no split of the radix tree had to
    reduce: at every split ``r div M[i] < M[i+1]``, and the top value is below its modulus.
    Then (and only then) ``encode(R, M) == S``; the hardware uses this flag instead of
    re-encoding the ciphertext.
    """
    if len(M) == 0:
        return [], True
    if len(M) == 1:
        r = int.from_bytes(bytes(S), "little")
        return [r % M[0]], r < M[0]
    k = 0
    bottom, M2 = [], []
    for i in range(0, len(M) - 1, 2):
        m, r, t = M[i] * M[i + 1], 0, 1
        while m >= 16384:
            r += S[k] * t
            t <<= 8
            k += 1
            m = (m + 255) >> 8
        bottom.append((r, t))
        M2.append(m)
    if len(M) & 1:
        M2.append(M[-1])
    R2, canonical = decode_checked(S[k:], M2)
    R = []
    for i in range(0, len(M) - 1, 2):
        r, t = bottom[i // 2]
        r += t * R2[i // 2]
        canonical &= r // M[i] < M[i + 1]
        R.append(r % M[i])
        R.append((r // M[i]) % M[i + 1])
    if len(M) & 1:
        R.append(R2[-1])
    return R, canonical


def decode_schedule(M):
    """The radix tree of ``Decode(S, M)`` unrolled into the hardware decoder's program.

    Returns ``(top, ops)``. ``top = (byte_offset, nbytes, modulus)`` is the single value at
    the top of the tree. ``ops`` lists the splits in execution order: levels from the top
    down, the odd element's copy first, then pairs in descending index, so the bottom level
    emits ``R[n-1], R[n-2], ..., R[0]``. Each op is a dict: ``level``, ``i`` (pair index),
    ``src`` (index in the level above), ``m2`` (the modulus of ``R2[src]``), ``copy`` (odd
    element: ``R[2i] = R2[src]``), and for a split ``byte_offset``, ``nbytes``, ``ma``, ``mb``:
    ``r = bytes + 2^(8 nbytes) R2[src]``, ``R[2i] = r mod ma``, ``R[2i+1] = (r div ma) mod mb``.
    """
    levels = []
    moduli = [list(M)]          # moduli[level]: the moduli of that level's values
    cur = list(M)
    pos = 0
    while len(cur) > 1:
        pairs, nxt = [], []
        for i in range(0, len(cur) - 1, 2):
            m, k = cur[i] * cur[i + 1], 0
            while m >= 16384:
                k += 1
                m = (m + 255) >> 8
            pairs.append({"byte_offset": pos, "nbytes": k, "ma": cur[i], "mb": cur[i + 1]})
            pos += k
            nxt.append(m)
        if len(cur) & 1:
            nxt.append(cur[-1])
        levels.append((len(cur), pairs))
        moduli.append(nxt)
        cur = nxt
    m, nbytes = cur[0], 0
    while m > 1:
        nbytes += 1
        m = (m + 255) >> 8
    top = (pos, nbytes, cur[0])
    ops = []
    for level in range(len(levels) - 1, -1, -1):
        n, pairs = levels[level]
        above = moduli[level + 1]
        if n & 1:
            ops.append({"level": level, "i": n // 2, "src": n // 2, "copy": True,
                        "m2": above[n // 2]})
        for i in range(len(pairs) - 1, -1, -1):
            ops.append(dict(pairs[i], level=level, i=i, src=i, copy=False, m2=above[i]))
    return top, ops


def decode_by_schedule(S, M):
    """Run :func:`decode_schedule`'s program as the hardware does.

    Returns ``(R, canonical, emitted)``; ``emitted`` is the bottom level in the order the
    decoder emits it (descending index). Equal to :func:`decode_checked`.
    """
    top, ops = decode_schedule(M)
    off, nbytes, mtop = top
    r = int.from_bytes(bytes(S[off:off + nbytes]), "little")
    canonical = r < mtop
    values = {(ops[0]["level"] + 1 if ops else 0, 0): r % mtop}
    emitted = []
    for op in ops:
        lvl, i = op["level"], op["i"]
        r2 = values[(lvl + 1, op["src"])]
        if op["copy"]:
            values[(lvl, 2 * i)] = r2
            lo_hi = [r2]
        else:
            r = int.from_bytes(bytes(S[op["byte_offset"]:op["byte_offset"] + op["nbytes"]]),
                               "little") + (r2 << (8 * op["nbytes"]))
            quot = r // op["ma"]
            canonical &= quot < op["mb"]
            values[(lvl, 2 * i)] = r % op["ma"]
            values[(lvl, 2 * i + 1)] = quot % op["mb"]
            lo_hi = [values[(lvl, 2 * i + 1)], values[(lvl, 2 * i)]]
        if lvl == 0:
            emitted.extend(lo_hi)
    R = [values[(0, j)] for j in range(len(M))]
    return R, canonical, emitted


RQ_BYTES = _encode_len([Q] * P)                  # 994
ROUNDED_BYTES = _encode_len([ROUNDED_M] * P)     # 865
PK_BYTES = RQ_BYTES
SK_BYTES = 2 * SMALL_BYTES + PK_BYTES + SMALL_BYTES + HASH_BYTES   # 1518
CT_BYTES = ROUNDED_BYTES + HASH_BYTES            # 897
SS_BYTES = HASH_BYTES

# sk field offsets
SK_F = 0
SK_V = SMALL_BYTES
SK_PK = 2 * SMALL_BYTES
SK_RHO = SK_PK + PK_BYTES
SK_CACHE = SK_RHO + SMALL_BYTES


# --------------------------------------------------------------------------------------
# Field and ring arithmetic
# --------------------------------------------------------------------------------------

def fq_freeze(x):
    """Centred representative of ``x mod q`` in ``-(q-1)/2 .. (q-1)/2``."""
    return (x + Q12) % Q - Q12


def f3_freeze(x):
    """Centred representative of ``x mod 3`` in ``-1 .. 1``."""
    return (x + 1) % 3 - 1


def _kronecker_mul(a, b, slot):
    """Integer-polynomial product of non-negative coefficient lists ``a``, ``b``.

    Every product coefficient must be below ``2^slot`` (Kronecker substitution).
    """
    nbytes = slot // 8
    A = int.from_bytes(b"".join(x.to_bytes(nbytes, "little") for x in a), "little")
    B = int.from_bytes(b"".join(x.to_bytes(nbytes, "little") for x in b), "little")
    n = len(a) + len(b) - 1
    raw = (A * B).to_bytes(n * nbytes, "little")
    return [int.from_bytes(raw[nbytes * i:nbytes * (i + 1)], "little") for i in range(n)]


def reduce_xp_x_1(c):
    """Reduce an integer polynomial of degree ``<= 2p-2`` modulo ``x^p - x - 1``.

    ``x^k = x^(k-p) * (x + 1)`` for ``k >= p``, folded from the top coefficient down.
    """
    c = list(c) + [0] * (2 * P - 1 - len(c))
    for k in range(2 * P - 2, P - 1, -1):
        c[k - P + 1] += c[k]
        c[k - P] += c[k]
    return c[:P]


def poly_mul_schoolbook(a, b):
    """Plain product in ``Z[x]/(x^p - x - 1)`` (reference for the fast multipliers)."""
    c = [0] * (2 * P - 1)
    for i, ai in enumerate(a):
        if ai:
            for j, bj in enumerate(b):
                c[i + j] += ai * bj
    return reduce_xp_x_1(c)


def horner_step(acc, a_j, s):
    """One step of the multiplier array: ``acc <- x*acc + a_j*s`` in ``Z[x]/(x^p - x - 1)``.

    Exact integers (no reduction), as the array's accumulators hold them: lane ``i``
    receives lane ``i-1``; the top lane wraps into lanes 0 and 1 (``x^p = x + 1``).
    """
    n = len(acc)
    top = acc[n - 1]
    out = [top] + list(acc[:n - 1])
    out[1] += top
    return [x + a_j * si for x, si in zip(out, s)]


def horner_operand(s):
    """The small operand as the multiplier array holds it: ``-1, 0, 1`` unchanged, the value
    ``2`` of an invalid Small field (3) as ``0``. A key holding such a field is rejected at
    load; its products then only have to finish on time."""
    return [x if -1 <= x <= 1 else 0 for x in s]


def horner_product(a, s, trace=None):
    """``a * s`` in ``Z[x]/(x^n - x - 1)`` (``n = len(s)``) by Horner over ``a``, top first.

    Exact integer coefficients; with a list ``trace``, the accumulators after every step
    are appended to it (what the array holds after each cycle).
    """
    acc = [0] * len(s)
    for a_j in reversed(list(a)):
        acc = horner_step(acc, a_j, s)
        if trace is not None:
            trace.append(acc)
    return acc


def rq_mult_small(a, s):
    """``a * s`` in ``Rq`` for ``a`` in Rq and small ``s`` (coefficients -1, 0, 1, or 2 as a
    Small decoding may give); result centred."""
    a_nn = [x % Q for x in a]
    pos = [x if x > 0 else 0 for x in s]
    neg = [-x if x < 0 else 0 for x in s]
    prod_pos = _kronecker_mul(a_nn, pos, 32)
    prod_neg = _kronecker_mul(a_nn, neg, 32)
    c = reduce_xp_x_1([u - v for u, v in zip(prod_pos, prod_neg)])
    return [fq_freeze(x) for x in c]


def r3_mult(a, b):
    """``a * b`` in ``R3``; result in ``-1 .. 1``."""
    c = _kronecker_mul([x % 3 for x in a], [x % 3 for x in b], 16)
    return [f3_freeze(x) for x in reduce_xp_x_1(c)]


def drain_reduce(x, mode):
    """What the reducer makes of one exact coefficient drained from the multiplier array.

    ``"E"``: ``c·f`` → ``e`` (Rq_mult3 then R3_fromRq); ``"R3"``: ``e·v`` → ``F3_freeze``;
    ``"ROUND"``: ``h·r`` → the rounded Rq coefficient.
    """
    if mode == "E":
        return f3_freeze(fq_freeze(3 * fq_freeze(x)))
    if mode == "R3":
        return f3_freeze(x)
    if mode == "ROUND":
        y = fq_freeze(x)
        return y - f3_freeze(y)
    raise ValueError(f"Reduce mode must be 'E', 'R3' or 'ROUND', not {mode!r}")


def rq_mult3(a):
    """``3 * a`` in ``Rq``."""
    return [fq_freeze(3 * x) for x in a]


def r3_from_rq(a):
    """Map centred Rq coefficients to R3 (``F3_freeze`` of the centred integer)."""
    return [f3_freeze(x) for x in a]


def round_rq(a):
    """Round each centred coefficient to the nearest multiple of 3."""
    return [x - f3_freeze(x) for x in a]


def weight_w_mask(r):
    """0 when ``r`` has exactly ``w`` non-zero coefficients, -1 otherwise (spec Weightw_mask)."""
    weight = sum(1 for x in r if x != 0)
    return 0 if weight == W else -1


# --------------------------------------------------------------------------------------
# Encodings
# --------------------------------------------------------------------------------------

def small_encode(f):
    """Four coefficients per byte, each as ``f_i + 1`` in two bits, low bits first."""
    out = bytearray()
    for i in range(0, P, 4):
        byte = 0
        for j, x in enumerate(f[i:i + 4]):
            byte |= (x + 1) << (2 * j)
        out.append(byte)
    return bytes(out)


def small_decode(s):
    """Inverse of :func:`small_encode`: two-bit field ``b`` -> ``b - 1`` (so 3 gives 2)."""
    return [((s[i >> 2] >> (2 * (i & 3))) & 3) - 1 for i in range(P)]


def rq_encode(a):
    return encode([x + Q12 for x in a], [Q] * P)


def rq_decode(b):
    return [x - Q12 for x in decode(b, [Q] * P)]


def rounded_encode(a):
    """Encode a rounded Rq element (every coefficient a multiple of 3)."""
    return encode([(x + Q12) // 3 for x in a], [ROUNDED_M] * P)


def rounded_decode(b):
    return [3 * x - Q12 for x in decode(b, [ROUNDED_M] * P)]


def rounded_decode_checked(b):
    """``(rounded_decode(b), canonical)``: ``canonical`` iff ``rounded_encode`` gives ``b`` back."""
    R, canonical = decode_checked(b, [ROUNDED_M] * P)
    return [3 * x - Q12 for x in R], canonical


# --------------------------------------------------------------------------------------
# Hashes
# --------------------------------------------------------------------------------------

def hash_prefix(b, x):
    """``Hash_b(x)``: first 32 bytes of SHA-512 of the prefix byte ``b`` then ``x``."""
    return sha512(bytes([b]) + bytes(x))[:HASH_BYTES]


def hash_confirm(r_enc, cache):
    """``HashConfirm(r, pk) = Hash_2(Hash_3(r) ‖ Hash_4(pk))``, with ``cache = Hash_4(pk)``."""
    return hash_prefix(2, hash_prefix(3, r_enc) + cache)


def hash_session(b, y, z):
    """``HashSession(b, y, z) = Hash_b(Hash_3(y) ‖ z)``."""
    return hash_prefix(b, hash_prefix(3, y) + z)


# --------------------------------------------------------------------------------------
# KEM
# --------------------------------------------------------------------------------------

def split_sk(sk):
    """Return ``(f_bytes, v_bytes, pk, rho, cache)``."""
    sk = bytes(sk)
    return (sk[SK_F:SK_V], sk[SK_V:SK_PK], sk[SK_PK:SK_RHO],
            sk[SK_RHO:SK_CACHE], sk[SK_CACHE:SK_BYTES])


def check_sk(sk):
    """Structural checks the sk format allows.

    Length 1518; ``f`` and ``v`` are valid Small encodings (no two-bit field equal to 3,
    unused bits of the final byte zero); ``f`` has weight ``w``; the cached hash equals
    ``Hash_4(pk)``. (``rho`` is arbitrary bytes.)
    """
    sk = bytes(sk)
    if len(sk) != SK_BYTES:
        return False
    f_b, v_b, pk, _rho, cache = split_sk(sk)
    for field in (f_b, v_b):
        if field[-1] >> (2 * (P % 4 or 4)):
            return False
        if any(x == 2 for x in small_decode(field)):
            return False
    if sum(1 for x in small_decode(f_b) if x) != W:
        return False
    return hash_prefix(4, pk) == cache


def zdecrypt(c, f, v):
    """Spec ``Decrypt``: ``e = 3fc`` in Rq, lifted to R3; ``r = e * v`` in R3 if it has
    weight ``w``, else the fixed vector ``(1, ..., 1, 0, ..., 0)`` of weight ``w``."""
    cf = rq_mult_small(c, f)
    cf3 = rq_mult3(cf)
    e = r3_from_rq(cf3)
    ev = r3_mult(e, v)
    mask = weight_w_mask(ev)
    if mask == 0:
        r = ev
    else:
        r = [1] * W + [0] * (P - W)
    return r, {"cf": cf, "cf3": cf3, "e": e, "ev": ev, "weight_mask": mask}


def zencrypt(r, h):
    """Spec ``Encrypt``: ``Round(h * r)``."""
    return round_rq(rq_mult_small(h, r))


def decaps_trace(sk, c):
    """Decapsulate and return ``(K, trace)``, ``trace`` a dict of every intermediate."""
    sk = exact_bytes(sk, SK_BYTES, "sntrup653 sk")
    c = exact_bytes(c, CT_BYTES, "sntrup653 ciphertext")
    f_b, v_b, pk, rho, cache = split_sk(sk)
    f = small_decode(f_b)
    v = small_decode(v_b)
    c_poly, canonical = rounded_decode_checked(c[:ROUNDED_BYTES])
    r, trace = zdecrypt(c_poly, f, v)
    r_enc = small_encode(r)
    h = rq_decode(pk)
    c_new_poly = zencrypt(r, h)
    c_new = rounded_encode(c_new_poly) + hash_confirm(r_enc, cache)
    ok = c_new == c                     # Ciphertexts_diff_mask == 0
    k_in = r_enc if ok else rho         # implicit rejection: rho replaces r
    K = hash_session(1 if ok else 0, k_in, c)
    trace.update(c=c_poly, canonical=canonical, r=r, r_enc=r_enc, h=h,
                 c_new_poly=c_new_poly, c_new=c_new, ok=ok, K=K)
    return K, trace


def decaps(sk, c):
    """sntrup653 decapsulation with implicit rejection; returns the 32-byte session key."""
    return decaps_trace(sk, c)[0]


def short_random(rng):
    """Spec ``Short_random``: ``p`` random 32-bit words, the first ``w`` forced even and the
    rest ``≡ 1 mod 4``, sorted; coefficient ``i`` is ``(L_i mod 4) - 1``."""
    raw = rng(4 * P)
    L = [int.from_bytes(raw[4 * i:4 * i + 4], "little") for i in range(P)]
    L = [x & ~1 for x in L[:W]] + [(x & ~3) | 1 for x in L[W:]]
    L.sort()
    return [(x & 3) - 1 for x in L]


def encaps(pk, rng=None):
    """sntrup653 encapsulation. ``rng(n) -> n bytes`` (default :func:`secrets.token_bytes`).

    Returns ``(ct, K)``.
    """
    if rng is None:
        rng = secrets.token_bytes
    pk = bytes(pk)
    if len(pk) != PK_BYTES:
        raise ValueError(f"sntrup653 pk must be {PK_BYTES} bytes, not {len(pk)}")
    r = short_random(rng)
    r_enc = small_encode(r)
    h = rq_decode(pk)
    c = rounded_encode(zencrypt(r, h)) + hash_confirm(r_enc, hash_prefix(4, pk))
    return c, hash_session(1, r_enc, c)
