"""GF(2^12) arithmetic for the mceliece348864 core: multiplier, squarer, inverse.

The field is ``F2[z]/(z^12 + z^3 + 1)`` (``golden.mceliece.FIELD_POLY``); an element is a
12-bit value whose bit ``j`` is the coefficient of ``z^j``.

* :func:`gf_mul` — combinational product: the 23-bit carry-less product ``p`` (144 partial
  products), then ``p mod f`` by folding ``z^12 = z^3 + 1`` twice.
* :func:`gf_sq` — combinational square, a linear map of the input bits (XORs only).
* :class:`GfInverse` — ``a^(q-2)`` (0 for 0) from a 4096 × 12 ROM holding
  ``golden.mceliece.GF_INV``, synchronous read: the inverse of the address presented in
  one cycle is on ``o`` in the next. Three DP16KD on an ECP5.
"""

from amaranth.hdl import Module, Signal, Cat, Mux
from amaranth.lib import memory, wiring
from amaranth.lib.wiring import In, Out

from golden.mceliece import M_BITS, GF_INV, Q, gf_mul_slow

__all__ = ["M_BITS", "gf_mul", "gf_sq", "GfInverse", "reduction_map", "square_map"]


def reduction_map():
    """``REDUCE[k]`` = ``z^k mod f`` for ``k = 0 .. 2m-2`` (as field elements)."""
    out = []
    for k in range(2 * M_BITS - 1):
        x = 1 << k if k < M_BITS else gf_mul_slow(1 << (k - M_BITS + 1), 1 << (M_BITS - 1))
        out.append(x)
    return tuple(out)


def square_map():
    """``SQUARE[i]`` = ``(z^i)^2 = z^(2i) mod f`` for ``i = 0 .. m-1``."""
    return tuple(reduction_map()[2 * i] for i in range(M_BITS))


def _linear(m, terms, rows, *, name):
    """``out_j = XOR of terms[k] over k with bit j of rows[k]``, as a named signal."""
    out = Signal(M_BITS, name=name)
    bits = []
    for j in range(M_BITS):
        acc = 0
        for k, row in enumerate(rows):
            if (row >> j) & 1:
                acc = acc ^ terms[k]
        bits.append(acc)
    m.d.comb += out.eq(Cat(*bits))
    return out


def gf_mul(m, a, b, *, name):
    """``a b`` in GF(2^12), combinational; returns a 12-bit signal named ``name``.

    Written word-wise (shifted partial products, two folds of ``z^12 = z^3 + 1``) so the
    Verilog stays small; synthesis sees the same AND/XOR network as the bit-level form.
    """
    # p = Σ_i b_i a z^i  (carry-less product, 23 bits)
    p = Signal(2 * M_BITS - 1, name=f"{name}_p")
    acc = 0
    for i in range(M_BITS):
        acc = acc ^ Mux(b[i], a << i, 0)
    m.d.comb += p.eq(acc)
    # fold z^(12+k) = z^(3+k) + z^k twice: 23 -> 15 -> 12 bits
    r1 = Signal(M_BITS + 3, name=f"{name}_r1")
    m.d.comb += r1.eq(p[:M_BITS] ^ p[M_BITS:] ^ (p[M_BITS:] << 3))
    r = Signal(M_BITS, name=name)
    m.d.comb += r.eq(r1[:M_BITS] ^ r1[M_BITS:] ^ (r1[M_BITS:] << 3))
    return r


def gf_sq(m, a, *, name):
    """``a^2`` in GF(2^12), combinational (a linear map: XORs only)."""
    return _linear(m, [a[i] for i in range(M_BITS)], square_map(), name=name)


class GfInverse(wiring.Component):
    """Inverse in GF(2^12) from a ROM (``golden.mceliece.GF_INV``), ``0 -> 0``.

    Members
    -------
    a : ``In(12)``    element to invert
    o : ``Out(12)``   ``a^-1`` of the ``a`` of the previous cycle (read latency 1)
    en : ``In(1)``    read enable (``o`` holds while low)
    """

    a: In(M_BITS)
    en: In(1, init=1)
    o: Out(M_BITS)

    def elaborate(self, platform):
        m = Module()
        m.submodules.rom = rom = memory.Memory(shape=M_BITS, depth=Q, init=GF_INV)
        rd = rom.read_port()
        m.d.comb += [rd.addr.eq(self.a), rd.en.eq(self.en), self.o.eq(rd.data)]
        return m
