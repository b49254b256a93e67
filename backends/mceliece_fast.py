"""A fast software decapsulator for Classic McEliece mceliece348864 (round 4).

The same standard decapsulation as :mod:`golden.mceliece` and the arm core — support from
the Beneš control bits, double syndrome with ``w_i = g(alpha_i)^-2``, Berlekamp–Massey with
fixed-size arrays, the locator evaluated at every support element, the weight-``t`` and
syndrome re-encoding checks, then ``K = SHAKE256(1 ‖ e ‖ C)`` or, with implicit rejection,
``SHAKE256(0 ‖ s ‖ C)`` — reorganised for a general-purpose CPU: everything that depends on
the secret key only is computed once per key (:class:`PreparedKey`), and what remains per
ciphertext is table look-ups and XORs of packed Python integers.

Per key (about a second, once, when a node loads its key):

* ``alpha`` from the control bits and ``w_i`` (the key-load stages of ``golden.mceliece``);
* the syndrome contribution of every position, ``R_i = (w_i alpha_i^j)_{j<2t}``, packed in
  one integer (16-bit lanes), and for each of the 96 ciphertext bytes and each byte value
  the XOR of the rows its one bits select: the syndrome of ``v = (C0, 0 … 0)`` is 96 XORs;
* ``z^b alpha_i^k`` for ``k <= t``, ``b < m``, packed over the ``n`` support elements: the
  locator's values at all of them are the XOR of the tables its coefficients' one bits
  select (about ``t m / 2`` XORs of 7 KB integers) instead of ``n t`` field products.

Per ciphertext what is left in interpreted code is Berlekamp–Massey (``2t`` iterations over
``t + 1`` coefficients, in the log domain). A decapsulation takes about 1.5 ms against
16 ms for the reference implementation's.

**Not constant time.** The time depends on the ciphertext and on the secret key (the
Berlekamp–Massey discrepancies, the number of locator roots, Python's integer arithmetic).
It serves the software nodes (``consensus.sources.SoftwareSource``), which are not the
hardened path; the arm core (hdl/mceliece) is the constant-time one (docs/scaling.md).

It is checked bit for bit against ``pqcrypto.kem.mceliece_348864`` and the round-4 KAT
(tests/test_mceliece_fast.py).
"""

import collections
import functools
import hashlib
import operator
import struct
import threading
from itertools import repeat

from golden import mceliece as mc

__all__ = ["PreparedKey", "prepare", "decaps"]

_T, _N, _Q1 = mc.T, mc.N, mc.Q - 1
_LANE = 16                                  # bits per packed field element
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
        iterations, the top coefficient of ``B`` dropped on each shift).

        Only coefficients that can be non-zero are touched: ``deg C <= L``, and ``B`` is
        non-zero only in ``lo .. hi`` (``x^k`` times an earlier ``C``)."""
        S = struct.unpack(f"<{2 * _T}H", S_packed.to_bytes(4 * _T, "little"))
        log_s_rev = [_LOG[x] for x in reversed(S)]
        exp, log, xor, add = _EXP, _LOG, operator.xor, operator.add
        C = [1] + [0] * _T
        log_c = [0] + [_ZLOG] * _T
        log_b = [_ZLOG, 0] + [_ZLOG] * (_T - 1)
        lo, hi = 1, 1                                   # B_i = 0 outside lo .. hi
        L, log_b_scalar = 0, 0
        last = 2 * _T - 1
        for r in range(2 * _T):
            # d = sum_{i <= min(r, L)} C_i S_{r-i}
            d = functools.reduce(xor, map(exp.__getitem__,
                                          map(add, log_c[:L + 1], log_s_rev[last - r:])), 0)
            if d:
                log_d = log[d]
                log_f = (log_d - log_b_scalar) % _Q1    # f = d / b
                grow = 2 * L <= r
                if grow:
                    log_prev, deg_prev = list(log_c), L
                if lo <= hi:                            # C = C + f B
                    part = list(map(xor, C[lo:hi + 1], map(
                        exp.__getitem__, map(add, log_b[lo:hi + 1], repeat(log_f)))))
                    C[lo:hi + 1] = part
                    log_c[lo:hi + 1] = map(log.__getitem__, part)
                if grow:
                    L, log_b, log_b_scalar = r + 1 - L, log_prev, log_d
                    lo, hi = 0, deg_prev
            log_b = [_ZLOG] + log_b[:_T]                # B = x B
            lo, hi = lo + 1, min(hi + 1, _T)
        return C

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
        pk = _CACHE.get(sk)
        if pk is not None:
            _CACHE.move_to_end(sk)
            return pk
    pk = PreparedKey(sk)
    with _LOCK:
        _CACHE[sk] = pk
        while len(_CACHE) > _CACHE_SIZE:
            _CACHE.popitem(last=False)
    return pk


def decaps(sk, ct) -> bytes:
    """mceliece348864 decapsulation (``pqcrypto.kem.mceliece_348864.decaps``'s result)."""
    return prepare(sk).decaps(ct)
