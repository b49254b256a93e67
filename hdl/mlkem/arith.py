"""Modular arithmetic over q = 3329 and the coefficient word layout of the ML-KEM core.

A *polynomial word* holds 8 consecutive coefficients (12 bits each, ``0 .. q-1``);
a polynomial is 32 words. Helpers here return named combinational ``Signal``\\ s so that
unrolled lanes stay small in the generated Verilog.
"""

from functools import cache

from amaranth.hdl import Const, Signal, Mux, unsigned
from amaranth.lib import data

from golden.mlkem import Q
from hdl.target import registered_product

__all__ = ["LANES", "WORDS", "PolyWord", "BARRETT_SHIFT_IN", "BARRETT_SHIFT_OUT", "BARRETT_M",
           "COMPRESS_SHIFT", "check_addr_width", "barrett_py", "csd", "const_mul", "mod_add",
           "mod_sub", "barrett", "compress_params", "compress_py", "decompress", "BARRETT_STAGES",
           "barrett_pipe", "count_flag", "SHOUP_SHIFT", "SHOUP_STAGES", "shoup_const",
           "const_mulmod_py",
           "const_mulmod_pipe", "mulmod_pipe", "delay", "mod_add_pre", "mod_sub_pre", "minus_q",
           "plus_q"]

LANES = 8                  # coefficients per memory word
WORDS = 256 // LANES       # words per polynomial
PolyWord = data.ArrayLayout(unsigned(12), LANES)

# Barrett reduction of x < 2^25 with one 18 × 14-bit multiplier (one MULT18X18D):
# t = ((x >> 7) · M) >> 18, M = ⌊2^25 / q⌋; then r = x − t·q lies in [0, 2q) (checked
# exhaustively over 0 .. 2^25 − 1), so one conditional subtraction finishes it.
BARRETT_SHIFT_IN = 7
BARRETT_SHIFT_OUT = 18
BARRETT_M = (1 << (BARRETT_SHIFT_IN + BARRETT_SHIFT_OUT)) // Q
_R_BITS = 13               # x − t·q < 2q < 2^13: computed modulo 2^13


def check_addr_width(addr_width):
    """The work/noise memory address width of a datapath block: an integer ≥ 5 (32 words)."""
    if not isinstance(addr_width, int) or addr_width < 5:
        raise ValueError(f"Address width must be an integer >= 5, not {addr_width!r}")


def barrett_py(x):
    """Bit-exact model of :func:`barrett` (for x < 2^25)."""
    t = ((x >> BARRETT_SHIFT_IN) * BARRETT_M) >> BARRETT_SHIFT_OUT
    r = (x - t * Q) % (1 << _R_BITS)
    return r - Q if r >= Q else r


def csd(c):
    """Canonical signed-digit form of ``c > 0``: a list of ``(shift, ±1)``."""
    digits = []
    k = 0
    while c:
        if c & 1:
            d = 2 - (c & 3)          # +1 or −1, so that the next digit is 0
            digits.append((k, d))
            c -= d
        c >>= 1
        k += 1
    return digits


def const_mul(m, x, c, *, name, width=None):
    """``x · c`` for a constant ``c > 0`` by shifts and adds (no multiplier block), in the
    canonical signed-digit form of ``c``. With ``width``, only the low ``width`` bits
    (``x · c mod 2^width``), with adders no wider than that."""
    w = width if width is not None else len(x) + c.bit_length()
    terms = [(x << k)[:w] if width is not None else (x << k) for k, _ in csd(c)]
    signs = [d for _, d in csd(c)]
    pos = [t for t, d in zip(terms, signs) if d > 0]
    neg = [t for t, d in zip(terms, signs) if d < 0]
    r = Signal(w, name=name)
    expr = sum(pos[1:], pos[0])
    for t in neg:
        expr = expr - t
    m.d.comb += r.eq(expr)   # exact: the product is non-negative and fits (or is taken mod 2^w)
    return r


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


def minus_q(m, a, *, name):
    """``a − q`` in 14 bits (two's complement), the operand :func:`mod_add_pre` takes."""
    r = Signal(14, name=name)
    m.d.comb += r.eq(a - Q)
    return r


def plus_q(m, a, *, name):
    """``a + q`` in 13 bits, the operand :func:`mod_sub_pre` takes."""
    r = Signal(13, name=name)
    m.d.comb += r.eq(a + Q)
    return r


def mod_add_pre(m, a, a_minus_q, b, *, name):
    """(a + b) mod q for a, b in 0..q-1, given ``a_minus_q`` = a − q (:func:`minus_q`, computed
    a cycle earlier): ``a + b`` and ``(a − q) + b`` side by side, the sign of the second
    picks — one carry chain and a multiplexer."""
    s = Signal(13, name=f"{name}_s")
    t = Signal(14, name=f"{name}_t")
    r = Signal(12, name=name)
    m.d.comb += [s.eq(a + b), t.eq(a_minus_q + b)]
    m.d.comb += r.eq(Mux(t[13], s, t))
    return r


def mod_sub_pre(m, a, a_plus_q, b, *, name):
    """(a − b) mod q for a, b in 0..q-1, given ``a_plus_q`` = a + q (:func:`plus_q`, computed a
    cycle earlier): ``a − b`` and ``(a + q) − b`` side by side, the sign of the first picks."""
    d = Signal(14, name=f"{name}_d")
    e = Signal(13, name=f"{name}_e")
    r = Signal(12, name=name)
    m.d.comb += [d.eq(a - b), e.eq(a_plus_q - b)]
    m.d.comb += r.eq(Mux(d[13], e, d))
    return r


def barrett(m, x, *, name):
    """x mod q for x < 2^25 (see :func:`barrett_py`): one multiplier for ``t``, ``t·q``
    by shifts and adds in 13 bits."""
    xh = Signal(25 - BARRETT_SHIFT_IN, name=f"{name}_xh")
    t = Signal(BARRETT_M.bit_length(), name=f"{name}_t")
    r0 = Signal(_R_BITS, name=f"{name}_r0")
    r = Signal(12, name=name)
    m.d.comb += xh.eq(x >> BARRETT_SHIFT_IN)
    m.d.comb += t.eq((xh * BARRETT_M) >> BARRETT_SHIFT_OUT)
    tq = const_mul(m, t, Q, width=_R_BITS, name=f"{name}_tq")
    m.d.comb += r0.eq(x[:_R_BITS] - tq)
    m.d.comb += r.eq(Mux(r0 >= Q, r0 - Q, r0))
    return r


#: Register stages of :func:`barrett_pipe`: x → r takes this many clock cycles.
BARRETT_STAGES = 3


def delay(m, value, n, *, name):
    """``value`` delayed by ``n`` clock cycles (a chain of named registers); ``value`` itself
    for ``n = 0``."""
    for c in range(n):
        reg = Signal.like(value, name=f"{name}_d{c + 1}")
        m.d.sync += reg.eq(value)
        value = reg
    return value


def count_flag(m, running, start, cnt, value, *, name):
    """A flip-flop that is high exactly in the cycles with ``running`` and ``cnt == value``,
    for a unit whose counter ``cnt`` restarts at 0 the cycle after ``start`` and counts up
    by one in every ``running`` cycle, ``running`` lasting at least until ``cnt == value``
    (``1 <= value``).

    It is set a cycle ahead, from ``running & ~start & cnt == value - 1``: without
    ``start`` the next cycle is still running with ``cnt == value``; with ``start`` the
    next ``cnt`` is 0. So a ``done`` or ``issued`` pulse made by it starts at a register,
    not behind the counter's compare (the sequencer's step enable it feeds is then short).
    """
    if not 1 <= value < 1 << len(cnt):
        raise ValueError(f"Flag count must be in 1..{(1 << len(cnt)) - 1}, not {value!r}")
    flag = Signal(name=name)
    m.d.sync += flag.eq(running & ~start & (cnt == value - 1))
    return flag


def barrett_pipe(m, x, *, name, platform=None, t_reg=False):
    """x mod q for x < 2^25 (the arithmetic of :func:`barrett`, bit-exact with
    :func:`barrett_py`) in :data:`BARRETT_STAGES` = 3 register stages, so that no clock
    cycle holds more than one carry chain after the multiplier:

    1. ``t = ((x >> 7)·M) >> 18`` (the MULT18X18D), and the low 13 bits of x;
    2. ``t·q mod 2^13`` by shifts and adds (two adder levels), ``x − q`` beside it;
    3. ``r0 = x − t·q`` and ``r0 − q`` side by side, the one in 0..q−1 chosen.

    The product of stage 1 is :func:`hdl.target.registered_product` (``platform``: in the
    ECP5 form its register is the MULT18X18D's own). With ``t_reg`` the quotient and x's low
    bits pass a fabric register before stage 2 (a fourth stage, where the pipeline has a
    cycle to spare), so the wire from the DSP column ends at a flip-flop.

    Returns the registered result, valid 3 cycles after ``x`` (4 with ``t_reg``)."""
    xh = Signal(25 - BARRETT_SHIFT_IN, name=f"{name}_xh")
    t = Signal(BARRETT_M.bit_length(), name=f"{name}_t")
    xl1 = Signal(_R_BITS, name=f"{name}_xl1")
    m.d.comb += xh.eq(x >> BARRETT_SHIFT_IN)
    prod = registered_product(m, xh, Const(BARRETT_M, BARRETT_M.bit_length()),
                              name=f"{name}_xm", platform=platform)
    m.d.comb += t.eq(prod >> BARRETT_SHIFT_OUT)
    m.d.sync += xl1.eq(x[:_R_BITS])
    if t_reg:
        tf = Signal.like(t, name=f"{name}_tf")
        xlf = Signal.like(xl1, name=f"{name}_xlf")
        m.d.sync += [tf.eq(t), xlf.eq(xl1)]
        t, xl1 = tf, xlf
    return _quotient_tail(m, t, xl1, name=name)


def _quotient_tail(m, t, xl, *, name):
    """The last two stages of a reduction whose quotient estimate ``t`` leaves
    ``x − t·q`` in [0, 2q): ``xl`` is x mod 2^13. Stage 1: ``t·q mod 2^13`` (with
    q = 2^12 − 2^10 + 2^8 + 1: two additions side by side, then one) and, beside it,
    ``xl − q`` from the register ``xl`` (one carry chain), so that no third adder follows
    the quotient; stage 2: ``r0 = x − t·q`` and ``r1 = r0 − q``, the one in 0..q−1 chosen.
    Returns the registered result, valid 2 cycles after ``t`` and ``xl``."""
    hi = Signal(_R_BITS, name=f"{name}_tqh")
    lo = Signal(_R_BITS, name=f"{name}_tql")
    m.d.comb += [hi.eq((t << 12) - (t << 10)), lo.eq((t << 8) + t)]
    tq = Signal(_R_BITS, name=f"{name}_tq")
    xl2 = Signal(_R_BITS, name=f"{name}_xl2")
    xl2q = Signal(_R_BITS, name=f"{name}_xl2q")
    m.d.sync += [tq.eq(hi + lo), xl2.eq(xl), xl2q.eq(xl - Q)]
    # r0 and r1 mod 2^13: r1 lies in 0..q−1 or, when r0 < q, in 2^13 − q .. 2^13 − 1
    # (bit 12 set, as q < 2^12 ≤ 2^13 − q)
    r0 = Signal(_R_BITS, name=f"{name}_r0")
    r1 = Signal(_R_BITS, name=f"{name}_r1")
    m.d.comb += [r0.eq(xl2 - tq), r1.eq(xl2q - tq)]
    r = Signal(12, name=name)
    m.d.sync += r.eq(Mux(r1[12], r0, r1))
    return r


# x·w mod q for a constant w by Shoup's method: with W = ⌊w·2^SHOUP_SHIFT / q⌋ and
# t = (x·W) >> SHOUP_SHIFT, x·w − t·q lies in [0, 2q) for every x ≤ 2^SHOUP_SHIFT (the
# estimate falls short of x·w/q by less than x / 2^SHOUP_SHIFT ≤ 1). Both products read x,
# so the quotient does not wait for the product.
SHOUP_SHIFT = 16
#: register stages of :func:`mulmod_pipe` (and :func:`const_mulmod_pipe`, which it serves)
SHOUP_STAGES = 4


def shoup_const(w):
    """W = ⌊w·2^SHOUP_SHIFT / q⌋ of a constant 0 ≤ w < q."""
    if not 0 <= w < Q:
        raise ValueError(f"Constant must be in 0..{Q - 1}, not {w!r}")
    return (w << SHOUP_SHIFT) // Q


def const_mulmod_py(x, w):
    """Bit-exact model of :func:`const_mulmod_pipe` (x < 2^12, 0 ≤ w < q)."""
    t = (x * shoup_const(w)) >> SHOUP_SHIFT
    r = (x * w - t * Q) % (1 << _R_BITS)
    return r - Q if r >= Q else r


def mulmod_pipe(m, x, w, ws, *, name, platform=None):
    """x·w mod q for 12-bit ``x`` and ``w < q`` with ``ws`` = :func:`shoup_const` of ``w``
    (both values: constants or registers, so ``w`` may come from a table), bit-exact with
    :func:`const_mulmod_py`, in :data:`SHOUP_STAGES` = 4 register stages:

    1. ``x·w`` and ``x·ws`` side by side, each in its DSP's register
       (:func:`hdl.target.registered_product`);
    2. the quotient ``t = (x·ws) >> 16`` and ``x·w mod 2^13`` into fabric registers, so the
       wire from the DSP column ends at a flip-flop, not in front of an adder;
    3. and 4. the tail of :func:`barrett_pipe` (``t·q``, ``x·w − t·q`` and its − q).

    Give ``x``, ``w`` and ``ws`` from registers. Returns the registered result, valid 4
    cycles after them."""
    if len(x) > 12 or len(w) > 12 or len(ws) > SHOUP_SHIFT:
        raise ValueError(f"Operands must be at most 12, 12 and {SHOUP_SHIFT} bits wide, not "
                         f"{len(x)}, {len(w)} and {len(ws)}")
    prod = registered_product(m, x, w, name=f"{name}_pw", platform=platform)
    quot = registered_product(m, x, ws, name=f"{name}_pt", platform=platform)
    t = Signal(12, name=f"{name}_t")
    xl = Signal(_R_BITS, name=f"{name}_xl")
    m.d.sync += [t.eq(quot >> SHOUP_SHIFT), xl.eq(prod[:_R_BITS])]
    return _quotient_tail(m, t, xl, name=name)


def const_mulmod_pipe(m, x, w, *, name, platform=None):
    """:func:`mulmod_pipe` for a constant ``0 ≤ w < q``."""
    return mulmod_pipe(m, x, Const(w, 12), Const(shoup_const(w), SHOUP_SHIFT), name=name,
                       platform=platform)


#: Compress_d(x) = ((x·A_d + B_d) >> COMPRESS_SHIFT) mod 2^d for every x in 0..q-1: one shift
#: for d = 1, 4 and 10, so a single multiplier per lane serves all three (the constants
#: differ, the datapath does not).
COMPRESS_SHIFT = 19


@cache
def compress_params(d, shift=COMPRESS_SHIFT):
    """(A, B) with ``((x·A + B) >> shift) mod 2^d == Compress_d(x)`` for every x in 0..q-1
    (FIPS 203 §4.2.1: ⌈(2^d/q)·x⌋ mod 2^d), found and checked exhaustively; B is a power of
    two where one fits."""
    want = [((x << (d + 1)) + Q) // (2 * Q) for x in range(Q)]    # before the mod 2^d
    a0 = (1 << (shift + d)) // Q
    for a in sorted(range(a0 - 3, a0 + 4), key=lambda a: (len(csd(a)), abs(a - a0))):
        lo = max((w << shift) - x * a for x, w in enumerate(want))
        hi = min(((w + 1) << shift) - x * a - 1 for x, w in enumerate(want))
        if lo <= hi and hi >= 0:
            lo = max(lo, 0)
            powers = [1 << k for k in range(shift + 1) if lo <= (1 << k) <= hi]
            return a, (powers[0] if powers else lo)
    raise ValueError(f"no reciprocal for Compress_{d}")   # pragma: no cover


def compress_py(x, d):
    """Bit-exact model of the compress datapath (:data:`COMPRESS_SHIFT`)."""
    a, b = compress_params(d)
    return ((x * a + b) >> COMPRESS_SHIFT) % (1 << d)


def decompress(m, y, d, *, name):
    """Decompress_d(y) = ⌈(q/2^d)·y⌋ = (q·y + 2^(d−1)) >> d (FIPS 203 §4.2.1), by shifts and
    adds for d = 10, by a table for small d."""
    r = Signal(12, name=name)
    if d <= 4:
        with m.Switch(y):
            for v in range(1 << d):
                with m.Case(v):
                    m.d.comb += r.eq((v * Q + (1 << (d - 1))) >> d)
    else:
        p = const_mul(m, y, Q, name=f"{name}_p")
        m.d.comb += r.eq((p + (1 << (d - 1))) >> d)
    return r
