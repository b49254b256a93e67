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

from amaranth.hdl import C, Cat, Instance, Module, Signal, Mux, signed, unsigned
from amaranth.lib import data, enum, wiring
from amaranth.lib.wiring import In, Out

from hdl.target import family, register_copy


__all__ = ["HornerOp", "HornerArray"]


class HornerOp(enum.Enum, shape=2):
    """What the array does in a cycle."""
    IDLE = 0
    STEP = 1     # acc <- x * acc + a * s
    DRAIN = 2    # acc_i <- acc_{i-1}, acc_0 <- 0  (top leaves the array)
    CLEAR = 3    # acc <- 0 in one cycle (a cancelled product; a synchronous reset)


class LaneBroadcast:
    """What the multiplier array and the R/3 bank share: their input-register options and
    the broadcast of the operation, the operand and the operand load to the lanes.

    ``registered``: the broadcast (operand, sums' enable, synchronous clear, load) passes
    one register per group of ``lanes_per_copy`` lanes (``register_copy``: kept apart by
    yosys), so each group is driven from flip-flops beside it; ``root`` adds one central
    register in front of the copies. An input then applies ``delay`` edges later.
    """

    def _broadcast_options(self, registered, root, lanes_per_copy):
        if not isinstance(lanes_per_copy, int) or lanes_per_copy < 1:
            raise ValueError(f"Lanes per copy must be a positive integer, not {lanes_per_copy!r}")
        if root and not registered:
            raise ValueError("A central input register (root) needs registered=True")
        self._registered = bool(registered)
        self._root = bool(root)
        self._lanes_per_copy = lanes_per_copy

    @property
    def registered(self):
        return self._registered

    @property
    def root(self):
        return self._root

    @property
    def lanes_per_copy(self):
        return self._lanes_per_copy

    @property
    def delay(self):
        """Extra clock edges between presenting an input and the edge that applies it."""
        return int(self._registered) + int(self._root)

    def _broadcast(self, m, operand, name, p, platform):
        """The lanes' control: ``(drain, lane_ctl, s_code)``, ``lane_ctl[i]`` lane ``i``'s
        ``(operand, update, clear, s_load)`` (the operand 0 unless a step: a drain is a step
        that adds nothing), ``drain`` the operation being a drain as the lanes see it and
        ``s_code`` lane 0's load input, both as late as the lanes' control."""
        width = len(operand)
        op, x_op = self.op, operand
        s_load_in, s_in = self.s_load, self.s_in
        if self._root:
            # the central register: the operation, operand and load as presented, decoded
            # after it
            op, x_op = Signal(HornerOp, name="op_r"), Signal(signed(width), name=f"{name}_r")
            s_load_in, s_in = Signal(name="s_load_r"), Signal(2, name="s_in_r")
            m.d.sync += [op.eq(self.op), x_op.eq(operand), s_load_in.eq(self.s_load),
                         s_in.eq(self.s_in)]
        x_in = Signal(signed(width), name=f"{name}_in")
        update_in = Signal(name="update_in")   # the sums' enable: a step or a drain
        clear_in = Signal(name="clear_in")
        m.d.comb += [x_in.eq(Mux(op == HornerOp.STEP, x_op, 0)),
                     update_in.eq((op == HornerOp.STEP) | (op == HornerOp.DRAIN)),
                     clear_in.eq(op == HornerOp.CLEAR)]
        drain = Signal(name="drain")
        if self._registered:
            m.d.sync += drain.eq(op == HornerOp.DRAIN)
            groups = []
            for g in range(0, p, self._lanes_per_copy):
                copy = register_copy(m, Cat(x_in, update_in, clear_in, s_load_in),
                                     name=f"ctl{g // self._lanes_per_copy}", platform=platform)
                groups.append((copy[:width].as_signed(), copy[width], copy[width + 1],
                               copy[width + 2]))
            lane_ctl = [groups[i // self._lanes_per_copy] for i in range(p)]
            s_code = Signal(2, name="s_in_q")             # lane 0's input, as late as the load
            m.d.sync += s_code.eq(s_in)
        else:
            m.d.comb += drain.eq(op == HornerOp.DRAIN)
            lane_ctl = [(x_in, update_in, clear_in, s_load_in)] * p
            s_code = s_in
        return drain, lane_ctl, s_code


class HornerArray(LaneBroadcast, wiring.Component):
    """``p`` Horner lanes with exact accumulators (docs/sntrup.md, "The multiplier array").

    Parameters
    ----------
    p : int
        Number of lanes, the ring degree (653 for sntrup653; small values for unit tests).
    acc_width : int
        Accumulator width in bits (two's complement); 23 covers every sntrup653 product.
    registered : bool
        Register ``op``, ``a`` and the operand load (``s_load``, ``s_in``) at the input:
        everything the array is told then takes effect one clock edge later than it is
        presented, and every lane's broadcast operand, enable, reset and the small-operand
        chain's shift enable come straight from flip-flops (the engine's form, for the clock:
        the broadcast reaches 653 lanes).
    root : bool
        With ``registered``: the inputs pass one central register before the copies, so
        every copy is written from a flip-flop and not from the logic that presents the
        operation (the copies sit along the lanes, across the die); everything then takes
        effect two clock edges after it is presented.
    lanes_per_copy : int
        With ``registered``: the input registers (``a``, the accumulators' enable and
        synchronous reset, the chain's shift enable) are copied once per group of this many
        lanes, so no flip-flop drives more than one group (``a``'s sign bit reaches 11 carry
        halves a lane). In the ECP5 form the copies are ``TRELLIS_FF`` cells, which yosys
        does not merge.

    Members
    -------
    op : ``In(HornerOp)``
        The operation applied at the next clock edge (``delay`` edges later).
    a : ``In(signed(13))``
        The broadcast coefficient ``a_j`` of a ``STEP``.
    s_load : ``In(1)``
        Shift ``s_in`` into the small-operand chain at the next edge (``delay`` edges later,
        as ``op``; the two are independent).
    s_in : ``In(2)``
        Small code ``s + 1`` entering lane 0 (an operand is loaded top coefficient first).
    o_coeff : ``Out(signed(acc_width))``
        ``acc_{p-1}``, the coefficient the next ``DRAIN`` removes.
    acc : ``Out(data.ArrayLayout(signed(acc_width), p))``
        Debug: every accumulator (``acc[i]`` is the coefficient of ``x^i``).
    s_codes : ``Out(data.ArrayLayout(unsigned(2), p))``
        Debug: the small-operand chain.
    """

    def __init__(self, *, p=653, acc_width=23, registered=False, root=False, lanes_per_copy=16):
        if not isinstance(p, int) or p < 3:
            raise ValueError(f"Lane count must be an integer of at least 3, not {p!r}")
        if not isinstance(acc_width, int) or not 15 <= acc_width <= 32:
            raise ValueError(f"Accumulator width must be an integer in 15..32, not {acc_width!r}")
        self._broadcast_options(registered, root, lanes_per_copy)
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
        # the small operand of a lane as (en, pos): s = 0 unless en, then +1 if pos else -1
        # (Small code 0 -> (1, 0), 1 -> (0, 0), 2 -> (1, 1); the invalid field 3 -> (0, 1):
        # adds nothing, a key holding it is rejected at load)
        en = [Signal(name=f"en{i}") for i in range(p)]
        pos = [Signal(name=f"pos{i}") for i in range(p)]

        # The broadcast operand is 0 during a drain: a drain is then a step that adds nothing
        # (every lane but the two wrap lanes), so no lane needs a second input multiplexer.
        drain, lane_ctl, s_code = self._broadcast(m, self.a, "a", p, platform)

        # wrap of x^p = x + 1 into lanes 0 and 1 (only on a step)
        lane1_in = Signal(signed(width))
        m.d.comb += lane1_in.eq(Mux(drain, acc[0], acc[0] + acc[p - 1]))
        lane0_in = Signal(signed(width))
        m.d.comb += lane0_in.eq(Mux(drain, 0, acc[p - 1]))

        lane_add = _lane_add_ecp5 if family(platform) == "ecp5" else _lane_add
        for i in range(p):
            a, update, clear, _ = lane_ctl[i]
            prev = lane0_in if i == 0 else lane1_in if i == 1 else acc[i - 1]
            total = lane_add(m, f"lane{i}", prev, a, en[i], pos[i])
            with m.If(clear):
                m.d.sync += acc[i].eq(0)
            with m.Elif(update):
                m.d.sync += acc[i].eq(total)

        # the small-operand chain shifts under its group's copy of the load
        for i in range(p):
            with m.If(lane_ctl[i][3]):
                if i == 0:
                    m.d.sync += [en[0].eq(~s_code[0]), pos[0].eq(s_code[1])]
                else:
                    m.d.sync += [en[i].eq(en[i - 1]), pos[i].eq(pos[i - 1])]

        m.d.comb += self.o_coeff.eq(acc[p - 1])
        m.d.comb += [self.acc[i].eq(acc[i]) for i in range(p)]
        m.d.comb += [self.s_codes[i].eq(Cat(~en[i], pos[i])) for i in range(p)]
        return m


# A lane adds s_i * a_j to its input as "prev + t + neg": t is a bit by bit (~a_b for -1, a_b
# for +1, 0) and neg = (s_i = -1) enters as the carry into an extra low bit of the adder
# (prev || 1) + (t || neg), whose low bit carries exactly neg (-a = ~a + 1).

def _lane_add(m, name, prev, a, en, pos):
    """Generic lane adder (yosys maps it to a carry chain plus one LUT per term bit)."""
    width = len(prev)
    t = Signal(signed(13), name=f"{name}_t")
    neg = Signal(name=f"{name}_neg")
    m.d.comb += [t.eq(Mux(en, Mux(pos, a, ~a), 0)), neg.eq(en & ~pos)]
    wide = Signal(signed(width + 1), name=f"{name}_wide")
    m.d.comb += wide.eq(Cat(C(1, 1), prev).as_signed() + Cat(neg, t).as_signed())
    return wide[1:]


def _ccu2c_init(fn):
    """INIT of an ECP5 CCU2C half whose LUT4 computes ``fn(A, B, C, D)``.

    The half's sum is ``LUT4 ^ carry_in``; its carry out is ``carry_in`` when the LUT4 is 1,
    else ``LUT2(A, B)`` whose table is ``INIT[3:0]`` (the LUT4's entries for ``C = D = 0``).
    """
    return sum(fn(k & 1, (k >> 1) & 1, (k >> 2) & 1, (k >> 3) & 1) << k for k in range(16))


#: bit b of a lane: A = prev_b, B = a_b, C = en, D = pos; propagate prev_b ^ t_b with
#: t_b = en & (pos ? a_b : ~a_b). For C = D = 0 it is A, so the generate LUT2 is A = prev_b:
#: correct, because the generate matters only when prev_b = t_b.
_TERM_INIT = _ccu2c_init(lambda A, B, C, D: A ^ (C & (1 ^ B ^ D)))
#: the extra low half: A = en, B = pos, C = D = 1; propagate 0, generate en & ~pos (= neg),
#: so its carry out is neg whatever the carry in.
_INJECT_INIT = _ccu2c_init(lambda A, B, C, D: 0 if C & D else A & (1 ^ B))


def _lane_add_ecp5(m, name, prev, a, en, pos):
    """The same adder as ECP5 CCU2C cells, the term formation inside their LUT4s.

    ``width + 1`` halves (the low one injects ``neg``), ``ceil((width + 1) / 2)`` cells, no
    LUT outside the carry chain: 12 CCU2C for a 23-bit lane instead of 12 CCU2C + 17 LUT4.
    """
    width = len(prev)
    halves = [(en, pos, C(1, 1), C(1, 1), _INJECT_INIT)]
    halves += [(prev[b], a[min(b, 12)], en, pos, _TERM_INIT) for b in range(width)]
    if len(halves) % 2:
        halves.append((C(0, 1), C(0, 1), C(0, 1), C(0, 1), 0))
    ncells = len(halves) // 2
    sums = Signal(2 * ncells, name=f"{name}_s")
    carry = Signal(ncells + 1, name=f"{name}_c")
    m.d.comb += carry[0].eq(0)
    for k in range(ncells):
        (a0, b0, c0, d0, init0), (a1, b1, c1, d1, init1) = halves[2 * k], halves[2 * k + 1]
        m.submodules[f"{name}_cc{k}"] = Instance(
            "CCU2C",
            p_INIT0=C(init0, 16), p_INIT1=C(init1, 16), p_INJECT1_0="NO", p_INJECT1_1="NO",
            i_CIN=carry[k], i_A0=a0, i_B0=b0, i_C0=c0, i_D0=d0, i_A1=a1, i_B1=b1, i_C1=c1, i_D1=d1,
            o_S0=sums[2 * k], o_S1=sums[2 * k + 1], o_COUT=carry[k + 1])
    return sums[1:width + 1]
