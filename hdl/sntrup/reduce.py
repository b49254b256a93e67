"""The reducer between the multiplier array's drain and the rest of the engine.

Every coefficient leaving :class:`hdl.sntrup.mult.HornerArray` is an exact integer; the
reducer maps it, one per cycle, to what the next stage needs (golden:
:func:`golden.sntrup.drain_reduce`):

* ``E``:     ``c·f`` → ``e = F3_freeze(Fq_freeze(3 * Fq_freeze(x)))``  (Rq_mult3, R3_fromRq)
* ``ROUND``: ``h·r`` → ``Round(Fq_freeze(x)) = y - F3_freeze(y)``

(``e·v`` runs on the R/3 bank, whose lanes already hold sums mod 3.)

``Fq_freeze`` is a Barrett reduction with a short reciprocal: for ``y = x + OFFSET``
(non-negative, ``= x + Q12 mod q``) the quotient estimate
``floor(floor(y / 2^11) * 1815 / 2^12)`` is ``floor(y / q)`` or one less for every ``y`` the
array can drain (checked at import), so one 13 × 11-bit multiplication, one 11 × 13-bit
multiplication by ``q`` and one conditional subtraction give ``y mod q``.

``E`` needs no second reduction: with ``z = Fq_freeze(x)`` in ``-Q12 .. Q12``,
``Fq_freeze(3z) = 3z - k q`` for ``k`` in ``-1 .. 1`` (``k = 1`` iff ``3z > Q12``), and since
``q = 1 (mod 3)``, ``F3_freeze(3z - k q) = -k``: ``e = -1`` if ``z > Q12 / 3``, ``+1`` if
``z < -Q12 / 3``, else ``0`` (checked at import for every ``z``). ``F3_freeze(z)`` of ``ROUND``
sums the base-4 digits of ``z + Q12 + 1`` (``4 = 1 mod 3``, ``Q12 = 0 mod 3``).

Pipeline (fixed latency, no back-pressure; one adder, multiplier or table per stage, so
that every stage fits a 125 MHz clock on ECP5)::

    x ─► y = x + OFFSET │ ─► est = ((y >> 11) · 1815) >> 12 │ ─► t = est · q │ ─► rem = y − t │
         stage 1             stage 2 (DSP)                     stage 3 (DSP)    stage 4
      ─► z = rem − Q12 (− q if rem ≥ q) │ ─► u = z + Q12 + 1, e │ ─► digit sum of u │ ─► o
         stage 5                           stage 6                 stage 7             stage 8
"""

from amaranth.hdl import Module, Signal, Mux, signed, unsigned
from amaranth.lib import data, enum, wiring
from amaranth.lib.wiring import In, Out

from golden.sntrup import Q, Q12, f3_freeze, fq_freeze


__all__ = ["ReduceMode", "ReduceIn", "Reducer"]

_Y_BITS = 24
#: makes ``x + OFFSET`` non-negative for every 23-bit ``x`` and ``= x + Q12 (mod q)``
_OFFSET = Q12 + Q * ((1 << 22) // Q + 1)
_HI_SHIFT, _MU, _MU_SHIFT = 11, 1815, 12     # est = ((y >> 11) * 1815) >> 12
_EST_BITS = 11
_E_BOUND = Q12 // 3                          # |z| > 770  <=>  |3z| > Q12

assert (_OFFSET - Q12) % Q == 0 and _OFFSET >= 1 << 22 and (1 << 22) + _OFFSET < 1 << _Y_BITS


def _estimate(y):
    return ((y >> _HI_SHIFT) * _MU) >> _MU_SHIFT


# The estimate is monotone in y, so its error is largest at the first y of a quotient and
# smallest at the last: checking both ends of every quotient covers every y of the range.
assert all(0 <= y // Q - _estimate(y) <= 1 and _estimate(y) < 1 << _EST_BITS
           for k in range((_OFFSET - (1 << 22)) // Q, (_OFFSET + (1 << 22)) // Q + 1)
           for y in (max(k * Q, _OFFSET - (1 << 22)), min(k * Q + Q - 1, _OFFSET + (1 << 22) - 1)))
assert all(f3_freeze(fq_freeze(3 * z)) == (-1 if z > _E_BOUND else 1 if z < -_E_BOUND else 0)
           for z in range(-Q12, Q12 + 1))


class ReduceMode(enum.Enum, shape=1):
    """What a drained coefficient becomes."""
    E = 0        # e = F3(Fq(3 Fq(x)))
    ROUND = 1    # Fq(x) - F3(Fq(x))


#: One coefficient into the reducer.
ReduceIn = data.StructLayout({"x": signed(23), "mode": ReduceMode})


def _digit_sum(m, u, *, name):
    """Sum of the base-4 digits of an unsigned ``u`` (``= u mod 3``, modulo 3)."""
    digits = [u[k:k + 2] for k in range(0, len(u), 2)]
    s = Signal(range(3 * len(digits) + 1), name=name)
    m.d.comb += s.eq(sum(digits))
    return s


class Reducer(wiring.Component):
    """Reduces one drained coefficient per cycle; ``o`` follows ``i`` by :attr:`LATENCY` cycles.

    Members
    -------
    i_valid, i : ``In(1)``, ``In(ReduceIn)``
        An exact coefficient and what to make of it (no back-pressure: one per cycle).
    o_valid, o_coeff : ``Out(1)``, ``Out(signed(13))``
        The reduced coefficient (an Rq value, or ``-1 .. 1`` for ``E``).
    """

    i_valid: In(1)
    i: In(ReduceIn)
    o_valid: Out(1)
    o_coeff: Out(signed(13))

    LATENCY = 8

    def elaborate(self, platform):
        m = Module()

        # valid and mode travel beside the data: one register each per stage
        valid = [self.i_valid]
        mode = [self.i.mode]
        for k in range(1, self.LATENCY):
            v = Signal(name=f"v{k}")
            md = Signal(ReduceMode, name=f"mode{k}")
            m.d.sync += [v.eq(valid[-1]), md.eq(mode[-1])]
            valid.append(v)
            mode.append(md)

        # stage 1: y = x + OFFSET (non-negative, = x + Q12 mod q)
        y1 = Signal(unsigned(_Y_BITS))
        m.d.sync += y1.eq(self.i.x + _OFFSET)

        # stage 2: quotient estimate, floor(y / q) or one less
        est2 = Signal(unsigned(_EST_BITS))
        y2 = Signal(unsigned(_Y_BITS))
        prod = Signal(unsigned(_Y_BITS - _HI_SHIFT + _MU.bit_length()))
        m.d.comb += prod.eq(y1[_HI_SHIFT:] * _MU)
        m.d.sync += [est2.eq(prod[_MU_SHIFT:]), y2.eq(y1)]

        # stage 3: t = est * q
        t3 = Signal(unsigned(_Y_BITS))
        y3 = Signal(unsigned(_Y_BITS))
        m.d.sync += [t3.eq(est2 * Q), y3.eq(y2)]

        # stage 4: rem = y - t, in 0 .. 2q - 1
        rem4 = Signal(unsigned(14))
        m.d.sync += rem4.eq(y3 - t3)

        # stage 5: z = Fq_freeze(x) = (rem mod q) - Q12
        # (the compare and both differences side by side, then one multiplexer)
        wrap = Signal()
        z_hi = Signal(signed(15))
        z_lo = Signal(signed(15))
        m.d.comb += [wrap.eq(rem4 >= Q), z_hi.eq(rem4 - (Q + Q12)), z_lo.eq(rem4 - Q12)]
        z5 = Signal(signed(13))
        m.d.sync += z5.eq(Mux(wrap, z_hi, z_lo))

        # stage 6: u = z + Q12 + 1 (1 .. q, = z + 1 mod 3); e for mode E
        u6 = Signal(unsigned(13))
        z6 = Signal(signed(13))
        e6 = Signal(signed(2))
        m.d.sync += [u6.eq(z5 + (Q12 + 1)), z6.eq(z5),
                     e6.eq(Mux(z5 > _E_BOUND, -1, Mux(z5 < -_E_BOUND, 1, 0)))]

        # stage 7: digit sum of u (0 .. 21)
        s7 = Signal(range(22))
        z7 = Signal(signed(13))
        e7 = Signal(signed(2))
        m.d.sync += [s7.eq(_digit_sum(m, u6, name="u_digits")), z7.eq(z6), e7.eq(e6)]

        # stage 8: F3_freeze(z) = (u mod 3) - 1; Round(z) = z - F3_freeze(z)
        f3 = Signal(signed(2))
        with m.Switch(s7):
            for v in range(22):
                with m.Case(v):
                    m.d.comb += f3.eq(v % 3 - 1)
        out = Signal(signed(13))
        m.d.sync += [out.eq(Mux(mode[7] == ReduceMode.ROUND, z7 - f3, e7)), self.o_valid.eq(valid[7])]
        m.d.comb += self.o_coeff.eq(out)
        return m
