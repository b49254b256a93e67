"""Modular arithmetic over q = 3329 and the coefficient word layout of the ML-KEM core.

A *polynomial word* holds 8 consecutive coefficients (12 bits each, ``0 .. q-1``);
a polynomial is 32 words. Helpers here return named combinational ``Signal``\\ s so that
unrolled lanes stay small in the generated Verilog.
"""

from amaranth.hdl import Signal, Mux, unsigned
from amaranth.lib import data

from golden.mlkem import Q

__all__ = ["LANES", "WORDS", "PolyWord", "BARRETT_K", "BARRETT_M", "barrett_py",
           "mod_add", "mod_sub", "barrett", "compress_params", "compress"]

LANES = 8                  # coefficients per memory word
WORDS = 256 // LANES       # words per polynomial
PolyWord = data.ArrayLayout(unsigned(12), LANES)

# Barrett reduction of x < 2^25: t = (x * M) >> K, r = x - t*q in [0, 2q), one correction.
BARRETT_K = 26
BARRETT_M = (1 << BARRETT_K) // Q


def barrett_py(x):
    """Bit-exact model of :func:`barrett` (for x < 2^25)."""
    r = x - ((x * BARRETT_M) >> BARRETT_K) * Q
    return r - Q if r >= Q else r


def mod_add(m, a, b, *, name):
    """(a + b) mod q for a, b in 0..q-1."""
    s = Signal(13, name=f"{name}_s")
    r = Signal(12, name=name)
    m.d.comb += s.eq(a + b)
    m.d.comb += r.eq(Mux(s >= Q, s - Q, s))
    return r


def mod_sub(m, a, b, *, name):
    """(a - b) mod q for a, b in 0..q-1."""
    s = Signal(13, name=f"{name}_s")
    r = Signal(12, name=name)
    m.d.comb += s.eq(a + Q - b)
    m.d.comb += r.eq(Mux(s >= Q, s - Q, s))
    return r


def barrett(m, x, *, name):
    """x mod q for x < 2^25 (Barrett, k = 26)."""
    t = Signal(unsigned(25 + 15 - BARRETT_K), name=f"{name}_t")
    r0 = Signal(13, name=f"{name}_r0")
    r = Signal(12, name=name)
    m.d.comb += t.eq((x * BARRETT_M) >> BARRETT_K)
    m.d.comb += r0.eq(x - t * Q)
    m.d.comb += r.eq(Mux(r0 >= Q, r0 - Q, r0))
    return r


def compress_params(d):
    """(M, S) with ``((x << (d+1)) + q) * M >> S == Compress_d(x)`` for every x in 0..q-1
    (before the final ``mod 2^d``), found and checked exhaustively."""
    for s in range(8, 48):
        mul = -(-(1 << s) // (2 * Q))
        if all(((((x << (d + 1)) + Q) * mul) >> s) == (((x << (d + 1)) + Q) // (2 * Q))
               for x in range(Q)):
            return mul, s
    raise ValueError(f"no reciprocal for Compress_{d}")   # pragma: no cover


_COMPRESS = {d: compress_params(d) for d in (1, 4, 10)}


def compress(m, x, d, *, name):
    """Compress_d(x) (FIPS 203 §4.2.1) for x in 0..q-1, d in {1, 4, 10}."""
    mul, s = _COMPRESS[d]
    n = Signal(range((Q << (d + 1)) + Q + 1), name=f"{name}_n")
    p = Signal(unsigned(len(n) + mul.bit_length()), name=f"{name}_p")
    r = Signal(d, name=name)
    m.d.comb += n.eq((x << (d + 1)) + Q)
    m.d.comb += p.eq(n * mul)
    m.d.comb += r.eq(p >> s)
    return r
