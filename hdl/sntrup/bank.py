"""The sntrup R/3 lane bank: ``p`` lanes computing ``e * v`` in ``Z3[x]/(x^p - x - 1)``.

``e * v`` has both operands in R/3, so a lane needs only its sum mod 3: two flip-flops and
a few LUT4s, against the 12 carry cells of a :class:`~hdl.sntrup.mult.HornerArray` lane.
With its own bank the product runs while the R/q array is still draining ``c * f``: each
``e_j`` leaves the reducer top coefficient first, which is the Horner order, and goes
straight into the bank as a step (docs/sntrup.md, "Cycle budget by stage").

``v`` is key-only: it is shifted in once at key load (``s_load``/``s_in``, Small codes, top
coefficient first) and stays. Each step is a Horner step mod 3
(:func:`golden.sntrup.horner_step` reduced mod 3)::

    acc_i <- acc_{i-1} + v_i * e_j         acc_0 <- acc_{p-1} + v_0 * e_j
                                           acc_1 <- acc_0 + acc_{p-1} + v_1 * e_j

A drain shifts the sums up without the wrap (``acc_0 <- 0``) and presents ``acc_{p-1}``,
centred (``-1, 0, 1``), on ``o_coeff``; ``p`` drains read ``e * v`` top coefficient first and
leave the bank at zero. ``CLEAR`` zeroes every sum in one cycle.

The engine's form is ``registered=True, root=True`` (as :class:`~hdl.sntrup.mult.HornerArray`):
the operation, ``e`` and the load of ``v`` pass one central register, then one copy per group
of lanes, so no lane is written from the logic that presents them (the broadcast reaches 653
lanes across the die); everything takes effect two clock edges after it is presented.
"""

from amaranth.hdl import Module, Mux, Signal, signed, unsigned
from amaranth.lib import data, wiring
from amaranth.lib.wiring import In, Out

from hdl.sntrup.mult import HornerOp, LaneBroadcast


__all__ = ["R3Bank"]


def _add3(x, u):
    """``(x + u) mod 3`` for ``x`` in 0..2 (2 bits) and ``u`` in -1..1."""
    t = x + u
    return Mux(t == 3, 0, Mux(t == -1, 2, t))[:2]


class R3Bank(LaneBroadcast, wiring.Component):
    """``p`` Horner lanes mod 3 with a fixed small operand (docs/sntrup.md).

    Parameters
    ----------
    p : int
        Number of lanes (653 for sntrup653; small values for unit tests).
    registered : bool
        Register ``op``, ``e`` and the load (``s_load``, ``s_in``) once per group of
        ``lanes_per_copy`` lanes: everything takes effect one clock edge later than it is
        presented.
    root : bool
        With ``registered``: the inputs pass one central register before the copies;
        everything then takes effect two clock edges after it is presented.
    lanes_per_copy : int
        With ``registered``: lanes served by one copy of the broadcast (``e``, the sums'
        enable and synchronous reset, the chain's shift enable).

    Members
    -------
    op : ``In(HornerOp)``
        The operation applied at the next clock edge (``STEP``, ``DRAIN``, ``CLEAR``, ``IDLE``;
        ``registered``/``root`` delay it by one/two edges).
    e : ``In(signed(2))``
        The broadcast coefficient ``e_j`` (``-1, 0, 1``) of a ``STEP``.
    s_load, s_in : ``In(1)``, ``In(2)``
        Shift the Small code ``s_in`` (``v_i + 1``) into lane 0 at the next edge (``delay``
        edges later).
    o_coeff : ``Out(signed(2))``
        ``acc_{p-1}`` centred, the coefficient the next ``DRAIN`` removes.
    acc : ``Out(data.ArrayLayout(unsigned(2), p))``
        Debug: every sum mod 3 (``0 .. 2``).
    """

    def __init__(self, *, p=653, registered=False, root=False, lanes_per_copy=16):
        if not isinstance(p, int) or p < 3:
            raise ValueError(f"Lane count must be an integer of at least 3, not {p!r}")
        self._broadcast_options(registered, root, lanes_per_copy)
        self._p = p
        super().__init__({
            "op": In(HornerOp),
            "e": In(signed(2)),
            "s_load": In(1),
            "s_in": In(2),
            "o_coeff": Out(signed(2)),
            "acc": Out(data.ArrayLayout(unsigned(2), p)),
        })

    @property
    def p(self):
        return self._p

    def elaborate(self, platform):
        m = Module()
        p = self._p
        acc = [Signal(2, name=f"acc{i}") for i in range(p)]
        en = [Signal(name=f"en{i}") for i in range(p)]      # v_i = 0 unless en
        pos = [Signal(name=f"pos{i}") for i in range(p)]    # then +1 if pos else -1

        # the broadcast: ``e`` (0 unless a step: a drain is a step that adds nothing), the
        # sums' enable (a step or a drain), their synchronous reset and the operand load
        drain, lane_ctl, s_code = self._broadcast(m, self.e, "e", p, platform)

        wrap = Signal(2)                                  # acc_{p-1} on a step, 0 on a drain
        m.d.comb += wrap.eq(Mux(drain, 0, acc[p - 1]))
        lane1_in = Signal(2)
        m.d.comb += lane1_in.eq(_add3(acc[0], Mux(wrap == 2, -1, wrap)))
        for i in range(p):
            e, update, clear, _ = lane_ctl[i]
            prev = wrap if i == 0 else lane1_in if i == 1 else acc[i - 1]
            u = Signal(signed(2), name=f"u{i}")
            m.d.comb += u.eq(Mux(en[i], Mux(pos[i], e, -e), 0))
            with m.If(clear):
                m.d.sync += acc[i].eq(0)
            with m.Elif(update):
                m.d.sync += acc[i].eq(_add3(prev, u))

        # ``v``'s chain shifts under its group's copy of the load
        for i in range(p):
            with m.If(lane_ctl[i][3]):
                if i == 0:
                    m.d.sync += [en[0].eq(~s_code[0]), pos[0].eq(s_code[1])]
                else:
                    m.d.sync += [en[i].eq(en[i - 1]), pos[i].eq(pos[i - 1])]

        top = acc[p - 1]
        m.d.comb += self.o_coeff.eq(Mux(top == 2, -1, top))
        m.d.comb += [self.acc[i].eq(acc[i]) for i in range(p)]
        return m
