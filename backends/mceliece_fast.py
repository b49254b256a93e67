"""A fast software decapsulator for Classic McEliece mceliece348864 (round 4).

The same standard decapsulation as :mod:`golden.mceliece` and the arm core — support from
the Beneš control bits, double syndrome with ``w_i = g(alpha_i)^-2``, Berlekamp–Massey with
fixed-size arrays, the locator evaluated at every support element, the weight-``t`` and
syndrome re-encoding checks, then ``K = SHAKE256(1 ‖ e ‖ C)`` or, with implicit rejection,
``SHAKE256(0 ‖ s ‖ C)`` — reorganised for a general-purpose CPU: everything that depends on
the secret key only is computed once per key (:class:`PreparedKey`), and what remains per
ciphertext is table look-ups and XORs of packed Python integers.

Per key (a fraction of a second, once, when a node loads its key):

* ``alpha`` from the control bits and ``w_i`` (the key-load stages of ``golden.mceliece``);
* the syndrome contribution of every position, ``R_i = (w_i alpha_i^j)_{j<2t}``, packed in
  one integer (16-bit lanes), and for each of the 96 ciphertext bytes and each byte value
  the XOR of the rows its one bits select: the syndrome of ``v = (C0, 0 … 0)`` is 96 XORs;
* ``z^b alpha_i^k`` for ``k <= t``, ``b < m``, packed over the ``n`` support elements: the
  locator's values at all of them are the XOR of the tables its coefficients' one bits
  select (about ``t m / 2`` XORs of 7 KB integers) instead of ``n t`` field products.

Per ciphertext, Berlekamp–Massey runs on the same packed integers (the discrepancies come
from the product ``C(x) S(x)`` kept beside ``C``, so each of the ``2t`` steps is one scalar
times a packed vector). A decapsulation takes about 1 ms of CPU against 16 ms for the
reference implementation's (``pqcrypto``), measured on this project's 2-core machine.

**Not constant time.** The time depends on the ciphertext and on the secret key (the
Berlekamp–Massey discrepancies, the number of locator roots, Python's integer arithmetic).
It serves the software nodes (``consensus.sources.SoftwareSource``), which are not the
hardened path; the arm core (hdl/mceliece) is the constant-time one (docs/scaling.md).

It is checked bit for bit against ``pqcrypto.kem.mceliece_348864`` and the round-4 KAT
(tests/test_mceliece_fast.py).

Why ``backends/`` and not ``golden/``: the golden model mirrors the hardware stage by stage
so that a failing core can be compared stage by stage; this module is organised for a CPU
instead and is not a model of anything the RTL computes. It is an implementation behind a
vote source, as the RTL backends are: ``consensus.sources`` uses it, and it takes its
constants and the key-load stages from ``golden.mceliece``. A prepared key holds about
15 MB of tables; :func:`prepare` keeps the latest four.
"""

import collections
import functools
import hashlib
import operator
import struct
import threading

from golden import mceliece as mc

__all__ = ["PreparedKey", "prepare", "decaps"]

_T, _N, _Q1 = mc.T, mc.N, mc.Q - 1
# Packed vectors: field elements in 16-bit lanes of one Python integer (lane i = bits
# 16 i .. 16 i + 15), so that XOR acts on all of them at once.
# Log domain with a sentinel for 0: _LOG[0] = _ZLOG, and every _EXP index that involves
# _ZLOG is at least _ZLOG, where _EXP holds 0, so a product with a zero factor is 0.
_ZLOG = 2 * _Q1
_LOG = (_ZLOG,) + tuple(mc.GF_LOG[1:])
_EXP = tuple(mc.GF_EXP[:2 * _Q1]) + (0,) * (2 * _ZLOG + 1 - 2 * _Q1)


def _lanes(count, value):
    """``value`` repeated in ``count`` 16-bit lanes."""
    return int.from_bytes(struct.pack(f"<{count}H", *([value] * count)), "little")


_LOW12 = _lanes(_N, mc.GF_MASK)             # 0x0fff per lane
_BIT12 = _lanes(_N, 1 << mc.M_BITS)         # 0x1000 per lane
_LOW1 = _lanes(_N, 1)


def _pack(values):
    return int.from_bytes(struct.pack(f"<{len(values)}H", *values), "little")


def _times_z(x):
    """Every lane of packed ``x`` times ``z`` modulo ``z^12 + z^3 + 1``."""
    x <<= 1
    top = (x >> mc.M_BITS) & _LOW1          # the z^12 coefficient of each lane
    return (x & _LOW12) ^ top ^ (top << 3)  # z^12 = z^3 + 1


# Berlekamp–Massey state, packed in 32-bit lanes (room for a 23-bit carry-less product):
# lanes 0 .. t hold C (or B), lane t+1 is a gap the shift of B drops its top into, lanes
# t+2 .. t+1+2t hold D_C = C S (or D_B = B S) modulo x^2t.
_W = 32
_D_LANE = _T + 2
_LANES = _D_LANE + 2 * _T
_D_MASK = (1 << (_W * 2 * _T)) - 1


def _lanes32(value, lanes=range(_LANES)):
    return sum(value << (_W * i) for i in lanes)


_R12 = _lanes32(mc.GF_MASK)
_R11 = _lanes32(0x7ff)
_R2 = _lanes32(0x3)
_KEEP = _lanes32(0xffffffff, [*range(_T + 1), *range(_D_LANE, _LANES)])


def _scale(f, x):
    """Every 32-bit lane of ``x`` (a field element each) times the field element ``f``."""
    p = 0
    while f:
        low = f & -f
        p ^= x << (low.bit_length() - 1)        # carry-less: up to 23 bits a lane
        f ^= low
    h = (p >> mc.M_BITS) & _R11                 # z^(12+k) = z^k (z^3 + 1), twice
    p = (p & _R12) ^ h ^ (h << 3)
    h = (p >> mc.M_BITS) & _R2
    return (p & _R12) ^ h ^ (h << 3)


class PreparedKey:
    """Everything of one secret key that does not depend on the ciphertext.

    Parameters
    ----------
    sk : bytes
        The 6492-byte mceliece348864 secret key (standard format, ``golden.mceliece``).
    """

    def __init__(self, sk):
        sk = bytes(sk)
        if len(sk) != mc.SK_BYTES:
            raise ValueError(f"mceliece348864 sk must be {mc.SK_BYTES} bytes, not {len(sk)}")
        _delta, _c, g_bytes, cb, s = mc.split_sk(sk)
        self._s = s
        alpha = mc.support_from_controlbits(cb)
        _g_at, w = mc.support_weights(mc.goppa_from_sk(g_bytes), alpha)
        log_alpha = [_LOG[a] for a in alpha]

        # R_i = (w_i alpha_i^j)_{j < 2t}: the double-syndrome row of position i.
        rows = []
        for a, la, wi in zip(alpha, log_alpha, w):
            if wi == 0:
                rows.append(0)
            elif a == 0:
                rows.append(wi)                       # alpha^0 = 1, alpha^j = 0 after
            else:
                lw = _LOG[wi]
                rows.append(_pack([_EXP[(lw + j * la) % _Q1] for j in range(2 * _T)]))
        self._rows = rows
        # byte p of C0 with value x: the XOR of the rows of its one bits
        self._byte_synd = []
        for p in range(mc.SYND_BYTES):
            table = [0] * 256
            for x in range(1, 256):
                low = x & -x
                table[x] = table[x ^ low] ^ rows[8 * p + low.bit_length() - 1]
            self._byte_synd.append(table)

        # V[k][b] = (z^b alpha_i^k)_{i < n}, packed: sigma(alpha_i) for all i at once.
        self._powers = []
        for k in range(_T + 1):
            p = _pack([1 if k == 0 else (0 if a == 0 else _EXP[(k * la) % _Q1])
                       for a, la in zip(alpha, log_alpha)])
            per_bit = []
            for _ in range(mc.M_BITS):
                per_bit.append(p)
                p = _times_z(p)
            self._powers.append(per_bit)

    # -- stages (each as in golden.mceliece.decode) --------------------------------------

    def syndrome(self, c0):
        """``S`` of ``v = (C0, 0, …, 0)``, packed (lane ``j`` = ``S_j``)."""
        return functools.reduce(operator.xor, map(list.__getitem__, self._byte_synd, c0), 0)

    @staticmethod
    def berlekamp_massey(S_packed):
        """``C`` of ``golden.mceliece.berlekamp_massey_ct`` (fixed-size arrays, ``2t``
        iterations, the top coefficient of ``B`` dropped on each shift), on packed vectors.

        Beside ``C`` and ``B`` it keeps their products with ``S(x) = sum_j S_j x^j``,
        ``D_C = C S`` and ``D_B = B S`` (mod ``x^2t``): the discrepancy of iteration ``r``
        is coefficient ``r`` of ``D_C``, so every step is a scalar times a packed vector:
        ``C = C + f B`` gives ``D_C = D_C + f D_B``; ``B = x B`` gives ``D_B = x D_B``,
        less ``B_t x^(t+1) S`` when the shift drops a non-zero ``B_t``.
        """
        S = struct.unpack(f"<{2 * _T}H", S_packed.to_bytes(4 * _T, "little"))
        s32 = int.from_bytes(struct.pack(f"<{2 * _T}I", *S), "little")
        shift = _W * _D_LANE                            # where D starts
        x_c = 1 | (s32 << shift)                        # C = 1, D_C = S
        x_b = (1 << _W) | (((s32 << _W) & _D_MASK) << shift)        # B = x, D_B = x S
        x_s = ((s32 << (_W * (_T + 1))) & _D_MASK) << shift        # x^(t+1) S
        L, log_b = 0, 0
        for r in range(2 * _T):
            d = (x_c >> (shift + _W * r)) & mc.GF_MASK   # d = sum_i C_i S_(r-i)
            if d:
                log_d = _LOG[d]
                product = _scale(_EXP[(log_d - log_b) % _Q1], x_b)     # f B, f = d / b
                if 2 * L <= r:
                    x_b, x_c = x_c, x_c ^ product
                    L, log_b = r + 1 - L, log_d
                else:
                    x_c ^= product
            top = (x_b >> (_W * _T)) & mc.GF_MASK         # B_t, dropped by the shift
            x_b = (x_b << _W) & _KEEP                      # B = x B
            if top:
                x_b ^= _scale(top, x_s)
        return [(x_c >> (_W * i)) & mc.GF_MASK for i in range(_T + 1)]

    def roots(self, C):
        """Packed ``sigma(alpha_i) = sum_k C_k alpha_i^(t-k)`` for every ``i < n``."""
        acc = 0
        powers = self._powers
        for k, c in enumerate(C):
            per_bit = powers[_T - k]
            while c:
                low = c & -c
                acc ^= per_bit[low.bit_length() - 1]
                c ^= low
        return acc

    def decode(self, c0):
        """The error positions ``e`` (sorted) when decoding succeeds, else ``None``."""
        S = self.syndrome(c0)
        values = self.roots(self.berlekamp_massey(S))
        zero = ((values + _LOW12) & _BIT12) ^ _BIT12    # bit 12 of lane i: sigma(alpha_i) = 0
        if zero.bit_count() != _T:
            return None
        # lane i is bytes 2i, 2i+1; its bit 12 is bit 4 of byte 2i + 1
        flags = zero.to_bytes(2 * _N, "little")[1::2]
        e, i = [], -1
        for _ in range(_T):
            i = flags.find(0x10, i + 1)
            e.append(i)
        rows = self._rows
        S_e = functools.reduce(operator.xor, (rows[i] for i in e), 0)
        return e if S_e == S else None

    def decaps(self, ct):
        """``K = Decaps(sk, ct)`` (32 bytes), implicit rejection included."""
        ct = bytes(ct)
        if len(ct) != mc.CT_BYTES:
            raise ValueError(f"mceliece348864 ciphertext must be {mc.CT_BYTES} bytes, "
                             f"not {len(ct)}")
        e = self.decode(ct)
        if e is None:
            return hashlib.shake_256(b"\x00" + self._s + ct).digest(mc.SS_BYTES)
        bits = 0
        for i in e:
            bits |= 1 << i
        return hashlib.shake_256(b"\x01" + bits.to_bytes(mc.N_BYTES, "little")
                                 + ct).digest(mc.SS_BYTES)


_CACHE = collections.OrderedDict()
_CACHE_SIZE = 4
_LOCK = threading.Lock()


def prepare(sk) -> PreparedKey:
    """The :class:`PreparedKey` of ``sk``, from a small cache of the latest keys."""
    sk = bytes(sk)
    with _LOCK:
        prepared = _CACHE.get(sk)
        if prepared is not None:
            _CACHE.move_to_end(sk)
            return prepared
    prepared = PreparedKey(sk)
    with _LOCK:
        _CACHE[sk] = prepared
        while len(_CACHE) > _CACHE_SIZE:
            _CACHE.popitem(last=False)
    return prepared


def decaps(sk, ct) -> bytes:
    """mceliece348864 decapsulation (``pqcrypto.kem.mceliece_348864.decaps``'s result)."""
    return prepare(sk).decaps(ct)
