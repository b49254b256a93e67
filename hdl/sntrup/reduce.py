"""The reducer between the multiplier array's drain and the rest of the engine.

Every coefficient leaving :class:`hdl.sntrup.mult.HornerArray` is an exact integer; the
reducer maps it, one per cycle, to what the next stage needs (golden:
:func:`golden.sntrup.drain_reduce`):

* ``E``:     ``c·f`` → ``e = F3_freeze(Fq_freeze(3 * Fq_freeze(x)))``  (Rq_mult3, R3_fromRq)
* ``R3``:    ``e·v`` → ``F3_freeze(x)``
* ``ROUND``: ``h·r`` → ``Round(Fq_freeze(x)) = y - F3_freeze(y)``

``Fq_freeze`` divides by the constant ``q`` with one multiplication by a reciprocal
(``floor(y * 14871127 / 2^36) = floor(y / 4621)`` for every ``0 <= y < 2^24``), so no
general divider; ``F3_freeze`` sums base-4 digits (``4 = 1 mod 3``).

Pipeline (fixed latency, no back-pressure)::

    x ─► +OFFSET ─► y │ ─► y * MAGIC │ ─► rem = y - (prod >> 36) * q ─► Fq │ ─► mode select ─► o
        stage 1            stage 2             stage 3                        stage 4
"""

from amaranth.hdl import Module, Signal, Cat, Mux, signed, unsigned
from amaranth.lib import data, enum, wiring
from amaranth.lib.wiring import In, Out

from golden.sntrup import Q, Q12


__all__ = ["ReduceMode", "ReduceIn", "Reducer", "f3_freeze"]

_MAGIC = 14871127           # ceil(2^36 / q)
_SHIFT = 36
_Y_BITS = 24
#: makes ``x + OFFSET`` non-negative for every 23-bit ``x`` and ``= x + Q12 (mod q)``
_OFFSET = Q12 + Q * ((1 << 22) // Q + 1)
assert (_OFFSET - Q12) % Q == 0 and _OFFSET >= 1 << 22 and (1 << 22) + _OFFSET < 1 << _Y_BITS
assert all(((y * _MAGIC) >> _SHIFT) == y // Q
           for j in range((1 << _Y_BITS) // Q + 2) for y in (j * Q - 1, j * Q) if 0 <= y < 1 << _Y_BITS)


class ReduceMode(enum.Enum, shape=2):
    """What a drained coefficient becomes."""
    E = 0        # e = F3(Fq(3 Fq(x)))
    R3 = 1       # F3(x)
    ROUND = 2    # Fq(x) - F3(Fq(x))


#: One coefficient into the reducer.
ReduceIn = data.StructLayout({"x": signed(23), "mode": ReduceMode})


def _mod3(m, u, *, name):
    """``u mod 3`` for an unsigned value, by base-4 digit sums (``4 = 1 mod 3``)."""
    width = len(u)
    digits = [u[k:k + 2] for k in range(0, width, 2)]
    s1 = Signal(range(3 * len(digits) + 1), name=f"{name}_s1")
    m.d.comb += s1.eq(sum(digits))
    d2 = [s1[k:k + 2] for k in range(0, len(s1), 2)]
    s2 = Signal(range(3 * len(d2) + 1), name=f"{name}_s2")
    m.d.comb += s2.eq(sum(d2))
    r = Signal(2, name=f"{name}_r")
    with m.Switch(s2):
        for v in range(1 << len(s2)):
            with m.Case(v):
                m.d.comb += r.eq(v % 3)
    return r


def f3_freeze(m, v, *, name):
    """``F3_freeze(v)`` (centred, ``-1 .. 1``) for a signed ``v`` with ``|v| < 3 * 2^12``."""
    u = Signal(15, name=f"{name}_u")
    m.d.comb += u.eq(v + 1 + 3 * (1 << 12))          # >= 0, same residue as v + 1
    r = _mod3(m, u, name=name)
    out = Signal(signed(2), name=f"{name}_f3")
    m.d.comb += out.eq(r - 1)                        # (v + 1) mod 3 - 1
    return out


class Reducer(wiring.Component):
    """Reduces one drained coefficient per cycle; ``o`` follows ``i`` by :attr:`LATENCY` cycles.

    Members
    -------
    i_valid, i : ``In(1)``, ``In(ReduceIn)``
        An exact coefficient and what to make of it (no back-pressure: one per cycle).
    o_valid, o_coeff : ``Out(1)``, ``Out(signed(13))``
        The reduced coefficient (an Rq value, or ``-1 .. 1`` for ``E`` and ``R3``).
    """

    i_valid: In(1)
    i: In(ReduceIn)
    o_valid: Out(1)
    o_coeff: Out(signed(13))

    LATENCY = 4

    def elaborate(self, platform):
        m = Module()

        # stage 1: y = x + OFFSET
        y1 = Signal(unsigned(_Y_BITS))
        x1 = Signal(signed(23))
        mode1 = Signal(ReduceMode)
        v1 = Signal()
        m.d.sync += [y1.eq(self.i.x + _OFFSET), x1.eq(self.i.x),
                     mode1.eq(self.i.mode), v1.eq(self.i_valid)]

        # stage 2: quotient estimate by the reciprocal
        quot2 = Signal(unsigned(_Y_BITS - 12))
        y2 = Signal(unsigned(_Y_BITS))
        x2 = Signal(signed(23))
        mode2 = Signal(ReduceMode)
        v2 = Signal()
        prod = Signal(unsigned(_Y_BITS + 24))
        m.d.comb += prod.eq(y1 * _MAGIC)
        m.d.sync += [quot2.eq(prod[_SHIFT:]), y2.eq(y1), x2.eq(x1), mode2.eq(mode1), v2.eq(v1)]

        # stage 3: Fq = y - quot * q - Q12
        fq3 = Signal(signed(13))
        x3 = Signal(signed(23))
        mode3 = Signal(ReduceMode)
        v3 = Signal()
        rem = Signal(unsigned(13))
        m.d.comb += rem.eq(y2 - quot2 * Q)
        m.d.sync += [fq3.eq(rem - Q12), x3.eq(x2),
                     mode3.eq(mode2), v3.eq(v2)]

        # stage 4: mode select
        t = Signal(signed(15))                           # 3 * Fq, then one correction into Fq
        m.d.comb += t.eq(fq3 * 3)
        fq_t = Signal(signed(13))
        m.d.comb += fq_t.eq(Mux(t > Q12, t - Q, Mux(t < -Q12, t + Q, t)))
        f3_in = Signal(signed(15))
        with m.Switch(mode3):
            with m.Case(ReduceMode.E):
                m.d.comb += f3_in.eq(fq_t)
            with m.Case(ReduceMode.R3):
                m.d.comb += f3_in.eq(x3)                 # |x| <= 2 * 653 for e·v
            with m.Default():
                m.d.comb += f3_in.eq(fq3)
        f3 = f3_freeze(m, f3_in, name="f3")
        out = Signal(signed(13))
        m.d.sync += [out.eq(Mux(mode3 == ReduceMode.ROUND, fq3 - f3, f3)), self.o_valid.eq(v3)]
        m.d.comb += self.o_coeff.eq(out)
        return m
