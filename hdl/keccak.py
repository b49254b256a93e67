"""Keccak-p[1600, 24] permutation (FIPS 202 §3.3), one or two rounds per clock.

The state is 25 lanes of 64 bits, lane ``(x, y)`` at index ``x + 5*y`` (FIPS 202 §3.1.2
with ``w = 64``), declared once as :data:`KeccakState`. Round constants and rho offsets
come from :mod:`golden.keccak`, so the hardware and the model share their tables.

Datapath (one clock, ``rounds_per_cycle = 1``)::

                 i.payload ──┐
                             ├─ mux ─ theta ─ rho/pi ─ chi ─ iota ─► state (register) ─► o.payload
     state (register) ───────┘   (first round computed on i.payload in the accept cycle)
"""

from amaranth.hdl import Module, Signal, Mux, unsigned
from amaranth.lib import data, memory, stream, wiring
from amaranth.lib.wiring import In, Out

from golden.keccak import ROUND_CONSTANTS, RHO_OFFSETS


__all__ = ["KeccakState", "KeccakP1600", "keccak_round", "column_parity", "theta_d",
           "round_constant_words"]


#: The Keccak-f[1600] state: lane ``(x, y)`` at index ``x + 5*y``.
KeccakState = data.ArrayLayout(unsigned(64), 25)


def round_constant_words(rpc):
    """The round constants packed per clock: entry ``k`` holds the ``rpc`` constants used in
    clock ``k`` of a 24-round permutation (round ``k * rpc + j`` in bits ``64 j`` up)."""
    return [sum(ROUND_CONSTANTS[k * rpc + j] << (64 * j) for j in range(rpc))
            for k in range(24 // rpc)]


def column_parity(m, A, *, prefix):
    """Add theta's column parities ``C[x] = A[x,0] ^ A[x,1] ^ ... ^ A[x,4]`` to ``m``;
    returns 5 named 64-bit signals."""
    C = [Signal(64, name=f"{prefix}_c{x}") for x in range(5)]
    for x in range(5):
        m.d.comb += C[x].eq(A[x] ^ A[x + 5] ^ A[x + 10] ^ A[x + 15] ^ A[x + 20])
    return C


def theta_d(m, C, *, prefix):
    """Add theta's ``D[x] = C[x-1] ^ rot(C[x+1], 1)`` to ``m``; returns 5 named 64-bit
    signals."""
    D = [Signal(64, name=f"{prefix}_d{x}") for x in range(5)]
    for x in range(5):
        m.d.comb += D[x].eq(C[(x - 1) % 5] ^ C[(x + 1) % 5].rotate_left(1))
    return D


def keccak_round(m, A, rc, *, prefix, C=None, D=None):
    """Add one Keccak round ``Rnd(A, ir) = iota(chi(pi(rho(theta(A)))), ir)`` to ``m``.

    Every step output is a named combinational ``Signal`` so that chained rounds stay
    linear in size.

    Parameters
    ----------
    m : Module
        Module the combinational logic is added to.
    A : list of 25 Values
        Round input, 64-bit lanes, index ``x + 5*y``.
    rc : Value
        64-bit round constant of this round.
    prefix : str
        Signal name prefix (for example ``"r0"``).
    C : list of 5 Values, optional
        The column parities of ``A`` when the caller already has them (for example in a
        register, computed from the previous round's output); computed from ``A``
        otherwise.
    D : list of 5 Values, optional
        Theta's ``D[x] = C[x-1] ^ rot(C[x+1], 1)`` of ``A`` when the caller holds them
        (then ``C`` is not used): each theta output bit is then one XOR of two inputs.

    Returns
    -------
    list of 25 Signals
        Round output lanes.
    """
    # theta: C[x] = A[x,0] ^ ... ^ A[x,4];  D[x] = C[x-1] ^ rot(C[x+1], 1)
    if D is None:
        if C is None:
            C = column_parity(m, A, prefix=f"{prefix}_theta")
        D = theta_d(m, C, prefix=f"{prefix}_theta")
    # rho and pi: B[y, 2x+3y] = rot(A[x,y] ^ D[x], r[x,y])
    B = [Signal(64, name=f"{prefix}_pi_b{i}") for i in range(25)]
    for y in range(5):
        for x in range(5):
            src = x + 5 * y
            dst = y + 5 * ((2 * x + 3 * y) % 5)
            m.d.comb += B[dst].eq((A[src] ^ D[x]).rotate_left(RHO_OFFSETS[src]))
    # chi: A'[x,y] = B[x,y] ^ (~B[x+1,y] & B[x+2,y]);  iota: A'[0,0] ^= RC[ir]
    out = [Signal(64, name=f"{prefix}_chi_a{i}") for i in range(25)]
    for y in range(5):
        for x in range(5):
            chi = B[x + 5 * y] ^ (~B[(x + 1) % 5 + 5 * y] & B[(x + 2) % 5 + 5 * y])
            if x == 0 and y == 0:
                chi = chi ^ rc
            m.d.comb += out[x + 5 * y].eq(chi)
    return out


class KeccakP1600(wiring.Component):
    """Keccak-p[1600, 24] permutation (FIPS 202 §3.3), one or two rounds per clock.

    The first round is computed on ``i.payload`` in the cycle ``i`` is accepted, so ``o``
    becomes valid ``24 // rounds_per_cycle`` cycles after the accepting cycle (24 or 12).
    ``o.payload`` is the state register; it holds the result until ``o`` is accepted.
    A new state is accepted when the permutation is empty, or in the same cycle as ``o``
    is accepted (``i.ready`` follows ``o.ready`` combinationally then), so a client can
    feed the output back with back-to-back permutations and no idle cycle. ``cancel``
    discards the state held (running or finished); a state offered on ``i`` in the same
    cycle is accepted.

    Parameters
    ----------
    rounds_per_cycle : int
        1 or 2 rounds per clock.

    Members
    -------
    i : ``In(stream.Signature(KeccakState))``
        State to permute.
    o : ``Out(stream.Signature(KeccakState))``
        Permuted state, valid 24 // ``rounds_per_cycle`` cycles after ``i`` is accepted.
    cancel : ``In(1)``
        Discard the state held; the permutation is empty from the next cycle unless ``i``
        is accepted in this one.
    state : ``Out(KeccakState)``
        Debug: the state register (equal to ``o.payload``).
    round : ``Out(range(25))``
        Debug: the number of rounds already applied to ``state`` while ``busy``
        (``state == keccak_f1600_trace(A)[round]``).
    busy : ``Out(1)``
        Debug: the permutation holds a state (running or waiting for ``o.ready``).
    """

    def __init__(self, *, rounds_per_cycle=1):
        if rounds_per_cycle not in (1, 2) or not isinstance(rounds_per_cycle, int):
            raise ValueError(f"Round count per cycle must be 1 or 2, not {rounds_per_cycle!r}")
        self._rounds_per_cycle = rounds_per_cycle
        super().__init__({
            "i": In(stream.Signature(KeccakState)),
            "o": Out(stream.Signature(KeccakState)),
            "cancel": In(1),
            "state": Out(KeccakState),
            "round": Out(range(25)),
            "busy": Out(1),
        })

    @property
    def rounds_per_cycle(self):
        return self._rounds_per_cycle

    @property
    def cycles(self):
        """Cycles from ``i`` accepted to ``o`` valid."""
        return 24 // self._rounds_per_cycle

    def elaborate(self, platform):
        m = Module()
        rpc = self._rounds_per_cycle
        steps = 24 // rpc

        state = Signal(KeccakState)
        step = Signal(range(steps + 1))       # clocks done; rounds done = step * rpc
        # control registers (kept as flip-flops so the 1600-bit input select is shallow)
        busy = Signal()                       # a state is held (running or done)
        running = Signal()                    # rounds remain to be applied
        done = Signal()                       # the result is held in `state`
        hold = Signal()                       # round input is the state register
        accept = Signal()

        m.d.comb += [
            hold.eq(running & ~self.cancel),
            self.o.valid.eq(done),
            self.o.payload.eq(state),
            self.i.ready.eq(~busy | (done & self.o.ready) | self.cancel),
            accept.eq(self.i.valid & self.i.ready),
            self.state.eq(state),
            self.round.eq(step * rpc),
            self.busy.eq(busy),
        ]

        # Round constants: entry k holds the rpc constants used in clock k.
        rc_init = round_constant_words(rpc)
        m.submodules.rc_rom = rc_rom = memory.Memory(
            shape=unsigned(64 * rpc), depth=steps, init=rc_init)
        rc_rd = rc_rom.read_port(domain="comb")   # combinational read (no latency)
        m.d.comb += rc_rd.addr.eq(Mux(hold, step, 0))

        # Round input: the accepted state in the accept cycle, else the state register.
        a_in = [Signal(64, name=f"a_in{k}") for k in range(25)]
        for k in range(25):
            m.d.comb += a_in[k].eq(Mux(hold, state[k], self.i.payload[k]))
        lanes = a_in
        for j in range(rpc):
            lanes = keccak_round(m, lanes, rc_rd.data[64 * j:64 * (j + 1)], prefix=f"r{j}")

        with m.If(accept):
            m.d.sync += busy.eq(1), step.eq(1), running.eq(steps > 1), done.eq(steps == 1)
            m.d.sync += [state[k].eq(lanes[k]) for k in range(25)]
        with m.Elif(self.cancel):
            m.d.sync += busy.eq(0), running.eq(0), done.eq(0)
        with m.Elif(running):
            m.d.sync += step.eq(step + 1)
            m.d.sync += [state[k].eq(lanes[k]) for k in range(25)]
            with m.If(step == steps - 1):
                m.d.sync += running.eq(0), done.eq(1)
        with m.Elif(done & self.o.ready):
            m.d.sync += busy.eq(0), done.eq(0)
        return m
