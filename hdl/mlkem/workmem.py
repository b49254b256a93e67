"""The work memory of the ML-KEM-512 engine: two read and two write ports per cycle, in two
block-RAM banks with one read and one write port each.

A polynomial is 32 words at a base that is a multiple of 32; word ``w`` of it lies in bank
``parity(w)`` (the XOR of its five bits), at row ``address >> 1``. The NTT unit's pairs — words
``a`` and ``a + 2^v`` with bit ``v`` of ``a`` clear, and the adjacent pairs ``(2i, 2i + 1)`` —
differ in exactly one bit, so they always fall in different banks: the two reads and the two
writes of a butterfly cycle never meet in one bank, and each bank is a simple dual-port memory
(one write, one synchronous read), which yosys maps to DP16KD block RAM.

Each bank's read data goes straight into a register (read latency 2): a DP16KD's output
arrives ≈ 6 ns after the clock (speed 6), which leaves no room for the bank multiplexer and
a client's logic in the same cycle at 100 MHz. Writes are registered after the bank
steering (they take effect one cycle after they are presented), so the block RAM's write
inputs come from flip-flops too.

No client uses a word read from a row in the cycle the row is written (the write's landing
cycle, one after it is presented): the NTT unit's stages read a word only after the previous
stage's write of it has landed (:func:`hdl.mlkem.ntt.stage_hazard_free`), and the reads that
do meet a write are idle ones whose data nobody takes. The engine's addresses do not depend on
the data (its schedule is constant-time), so one run covers every input: the engine bench
(``sim/tb_mlkem_engine.py``, ``test_no_collision``) watches the banks' ports
(``raddr``/``wen``/``waddr``) and gives every colliding read random data, and K must still be
right. The banks therefore carry ``no_rw_check``: synthesis does not build the
read-during-write emulation (an address compare, a flip-flop and a 96-bit bypass per bank),
whose compare was the core's critical path.
"""

from amaranth.hdl import Module, Signal, Mux
from amaranth.lib import memory, wiring
from amaranth.lib.wiring import In

from hdl.mlkem.arith import PolyWord
from hdl.stream_util import read_port_signature, write_port_signature

__all__ = ["WorkMemory", "bank_of"]


def bank_of(addr):
    """The bank of word address ``addr`` (Python model of the banking)."""
    return bin(addr & 31).count("1") & 1


class WorkMemory(wiring.Component):
    """Two-bank polynomial memory (see the module docstring).

    Reads take two cycles (``data`` two cycles after ``addr``: the block RAM, then a
    register). A write presented in cycle ``t`` lands at the end of cycle ``t + 1``; a read
    addressed in cycle ``t + 1`` or earlier returns the old value. ``rd0`` always gets its word;
    ``rd1`` gets its word when its bank differs from ``rd0``'s (the NTT unit's pairs). A write
    on ``wr0`` always happens; one on ``wr1`` when its bank differs from ``wr0``'s (or
    ``wr0`` is idle).

    Parameters
    ----------
    depth : int
        Words (a multiple of 64: whole polynomials, an even count of them per bank pair).

    Members
    -------
    rd0, rd1 : ``In(read_port_signature(addr_width, PolyWord))``
    wr0, wr1 : ``In(write_port_signature(addr_width, PolyWord))``
    """

    def __init__(self, *, depth):
        if not isinstance(depth, int) or depth < 64 or depth % 64:
            raise ValueError(f"Depth must be a positive multiple of 64, not {depth!r}")
        self._depth = depth
        aw = (depth - 1).bit_length()
        super().__init__({
            "rd0": In(read_port_signature(aw, PolyWord)),
            "rd1": In(read_port_signature(aw, PolyWord)),
            "wr0": In(write_port_signature(aw, PolyWord)),
            "wr1": In(write_port_signature(aw, PolyWord)),
        })

    @property
    def depth(self):
        return self._depth

    def elaborate(self, platform):
        m = Module()
        rows = self._depth // 2

        def bank(addr, name):
            b = Signal(name=name)
            m.d.comb += b.eq(addr[0] ^ addr[1] ^ addr[2] ^ addr[3] ^ addr[4])
            return b

        b_r0 = bank(self.rd0.addr, "bank_r0")
        b_w0 = bank(self.wr0.addr, "bank_w0")
        b_w1 = bank(self.wr1.addr, "bank_w1")
        b_r0_q = Signal()                        # bank of rd0's word, aligned with the data
        b_r0_1 = Signal()
        m.d.sync += [b_r0_1.eq(b_r0), b_r0_q.eq(b_r0_1)]

        data = []
        for k in range(2):
            # no read-during-write emulation: no client uses a read of a row in the cycle it
            # is written (see the module docstring), so the collision may stay undefined
            mem = memory.Memory(shape=PolyWord, depth=rows, init=[],
                                attrs={"no_rw_check": 1})
            m.submodules[f"bank{k}"] = mem
            wp = mem.write_port()
            rp = mem.read_port()                 # sync, not transparent
            w0_here = Signal(name=f"w0_bank{k}")
            # the bank's ports under their own names: the engine bench watches them for
            # collisions (sim/tb_mlkem_engine.py, test_no_collision)
            raddr = Signal.like(rp.addr, name=f"raddr{k}")
            wen = Signal(name=f"wen{k}")
            waddr = Signal.like(wp.addr, name=f"waddr{k}")
            wdata = Signal(PolyWord, name=f"wdata{k}")
            m.d.comb += [
                raddr.eq(Mux(b_r0 == k, self.rd0.addr[1:], self.rd1.addr[1:])),
                w0_here.eq(self.wr0.en & (b_w0 == k)),
                rp.addr.eq(raddr),
                wp.en.eq(wen),
                wp.addr.eq(waddr),
                wp.data.eq(wdata),
            ]
            # the write, steered to its bank, is registered: the block RAM's write inputs
            # come straight from flip-flops
            m.d.sync += [
                wen.eq(w0_here | (self.wr1.en & (b_w1 == k))),
                waddr.eq(Mux(w0_here, self.wr0.addr[1:], self.wr1.addr[1:])),
                wdata.eq(Mux(w0_here, self.wr0.data, self.wr1.data)),
            ]
            q = Signal(PolyWord, name=f"data_bank{k}")       # the block RAM's output register
            m.d.sync += q.eq(rp.data)
            data.append(q)
        m.d.comb += [
            self.rd0.data.eq(Mux(b_r0_q, data[1], data[0])),
            self.rd1.data.eq(Mux(b_r0_q, data[0], data[1])),
        ]
        return m
