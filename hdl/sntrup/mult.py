"""The sntrup multiplier array: ``p`` lanes computing ``a * s`` in ``Z[x]/(x^p - x - 1)``.

One operand is small (a Small coefficient, ``s_i = code_i - 1`` with the 2-bit field
``code_i`` of the Small encoding, so ``-1, 0, 1`` and ``2`` for the invalid field 3) and is
held in the lanes; the other, ``a`` (13-bit signed: an Rq coefficient or an R3 one), is
broadcast one coefficient per cycle, top coefficient first. Each step is one Horner step
(:func:`golden.sntrup.horner_step`)::

    acc <- x * acc + a_j * s          acc_i <- acc_{i-1} + s_i * a_j
                                      acc_0 <- acc_{p-1} + s_0 * a_j
                                      acc_1 <- acc_0 + acc_{p-1} + s_1 * a_j   (x^p = x + 1)

so after ``p`` steps ``acc = a * s`` exactly (integer coefficients, no reduction: the
accumulators are ``acc_width``-bit two's complement, exact while every partial sum stays
below ``2^(acc_width-1)``; docs/sntrup.md gives the bound). No lane multiplies: it adds
``0``, ``±a_j`` or ``2 a_j``, formed bit by bit from ``a_j`` and the lane's 2-bit code (one
LUT4 a bit, the ``+1`` of ``-a_j = ~a_j + 1`` entering as a carry) into one adder.

A drain shifts the accumulators up without the wrap (``acc_0 <- 0``) and presents
``acc_{p-1}`` on ``o_coeff`` first, so ``p`` drains read the product top coefficient first and
leave the array at zero for the next product; ``CLEAR`` zeroes every accumulator at once
(a product cancelled half-way). The small-operand chain shifts up
independently (``code_0 <- s_in``), so the next operand loads, top coefficient first,
while the current product drains.
"""

from amaranth.hdl import C, Cat, Module, Signal, Mux, signed, unsigned
from amaranth.lib import data, enum, wiring
from amaranth.lib.wiring import In, Out


__all__ = ["HornerOp", "HornerArray"]


class HornerOp(enum.Enum, shape=2):
    """What the array does in a cycle."""
    IDLE = 0
    STEP = 1     # acc <- x * acc + a * s
    DRAIN = 2    # acc_i <- acc_{i-1}, acc_0 <- 0  (top leaves the array)
    CLEAR = 3    # acc <- 0 in one cycle (a cancelled product; a synchronous reset)


class HornerArray(wiring.Component):
    """``p`` Horner lanes with exact accumulators (docs/sntrup.md, "The multiplier array").

    Parameters
    ----------
    p : int
        Number of lanes, the ring degree (653 for sntrup653; small values for unit tests).
    acc_width : int
        Accumulator width in bits (two's complement); 23 covers every sntrup653 product.

    Members
    -------
    op : ``In(HornerOp)``
        The operation applied at the next clock edge.
    a : ``In(signed(13))``
        The broadcast coefficient ``a_j`` of a ``STEP``.
    s_load : ``In(1)``
        Shift ``s_in`` into the small-operand chain at the next edge (independent of ``op``).
    s_in : ``In(2)``
        Small code ``s + 1`` entering lane 0 (an operand is loaded top coefficient first).
    o_coeff : ``Out(signed(acc_width))``
        ``acc_{p-1}``, the coefficient the next ``DRAIN`` removes.
    acc : ``Out(data.ArrayLayout(signed(acc_width), p))``
        Debug: every accumulator (``acc[i]`` is the coefficient of ``x^i``).
    s_codes : ``Out(data.ArrayLayout(unsigned(2), p))``
        Debug: the small-operand chain.
    """

    def __init__(self, *, p=653, acc_width=23):
        if not isinstance(p, int) or p < 3:
            raise ValueError(f"Lane count must be an integer of at least 3, not {p!r}")
        if not isinstance(acc_width, int) or not 15 <= acc_width <= 32:
            raise ValueError(f"Accumulator width must be an integer in 15..32, not {acc_width!r}")
        self._p = p
        self._acc_width = acc_width
        super().__init__({
            "op": In(HornerOp),
            "a": In(signed(13)),
            "s_load": In(1),
            "s_in": In(2),
            "o_coeff": Out(signed(acc_width)),
            "acc": Out(data.ArrayLayout(signed(acc_width), p)),
            "s_codes": Out(data.ArrayLayout(unsigned(2), p)),
        })

    @property
    def p(self):
        return self._p

    @property
    def acc_width(self):
        return self._acc_width

    def elaborate(self, platform):
        m = Module()
        p, width = self._p, self._acc_width

        acc = [Signal(signed(width), name=f"acc{i}") for i in range(p)]
        code = [Signal(2, name=f"s{i}") for i in range(p)]

        step = Signal()
        drain = Signal()
        clear = Signal()
        m.d.comb += [step.eq(self.op == HornerOp.STEP), drain.eq(self.op == HornerOp.DRAIN),
                     clear.eq(self.op == HornerOp.CLEAR)]

        # The broadcast operand, 0 during a drain: a drain is then a step that adds nothing
        # (every lane but the two wrap lanes), so no lane needs a second input multiplexer.
        a = Signal(signed(13))
        m.d.comb += a.eq(Mux(step, self.a, 0))
        a2 = Signal(signed(15))              # a_b and a_{b-1} for each bit of 2a
        m.d.comb += a2.eq(a)

        # wrap of x^p = x + 1 into lanes 0 and 1 (only on a step)
        lane1_in = Signal(signed(width))
        m.d.comb += lane1_in.eq(Mux(drain, acc[0], acc[0] + acc[p - 1]))
        lane0_in = Signal(signed(width))
        m.d.comb += lane0_in.eq(Mux(drain, 0, acc[p - 1]))

        for i in range(p):
            # s_i * a_j as "t + neg": t is ~a (code 0: -a = ~a + 1), 0, a or 2a, bit by bit a
            # function of (a_b, a_{b-1}, code) — one LUT4 per bit — and neg enters as the
            # carry into an extra low bit of the adder (1 + neg carries exactly neg).
            t = Signal(signed(15), name=f"t{i}")
            neg = Signal(name=f"neg{i}")
            m.d.comb += neg.eq(code[i] == 0)
            m.d.comb += t.eq(Mux(code[i][1], Mux(code[i][0], a2 << 1, a2),
                                 Mux(code[i][0], 0, ~a2)))
            prev = lane0_in if i == 0 else lane1_in if i == 1 else acc[i - 1]
            wide = Signal(signed(width + 1), name=f"wide{i}")
            m.d.comb += wide.eq(Cat(C(1, 1), prev).as_signed() + Cat(neg, t).as_signed())
            with m.If(clear):
                m.d.sync += acc[i].eq(0)
            with m.Elif(step | drain):
                m.d.sync += acc[i].eq(wide[1:])

        with m.If(self.s_load):
            m.d.sync += code[0].eq(self.s_in)
            m.d.sync += [code[i].eq(code[i - 1]) for i in range(1, p)]

        m.d.comb += self.o_coeff.eq(acc[p - 1])
        m.d.comb += [self.acc[i].eq(acc[i]) for i in range(p)]
        m.d.comb += [self.s_codes[i].eq(code[i]) for i in range(p)]
        return m
