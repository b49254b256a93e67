"""Base-case multiply-accumulate unit (FIPS 203 Algorithms 11 and 12).

Computes ``dst = a0 ∘ b0 + a1 ∘ b1`` for NTT-domain polynomials, one word (4 coefficient
pairs) per cycle, alternating between the two terms.
"""

from amaranth.hdl import Module, Signal, Mux, unsigned
from amaranth.lib import memory, wiring
from amaranth.lib.wiring import In, Out

from golden.mlkem import GAMMAS
from hdl.mlkem.arith import (check_addr_width, LANES, WORDS, PolyWord, BARRETT_STAGES, mod_add,
                             barrett_pipe, count_flag, delay)
from hdl.stream_util import read_port_signature, write_port_signature
from hdl.target import registered_product

__all__ = ["BaseMulUnit", "BASEMUL_CYCLES"]

# counter value of a read's address → the write of its word: address register 1, memory 2,
# operand register 1, products 1, a1·b1 mod q 3, γ·(a1·b1 mod q) 1, + a0·b0 1, mod q 3,
# accumulate 1
PIPE_DEPTH = 1 + 2 + 1 + 1 + BARRETT_STAGES + 1 + 1 + BARRETT_STAGES + 1      # 14
_LAST = 2 * WORDS + PIPE_DEPTH - 1           # counter value of the last write
BASEMUL_CYCLES = _LAST + 2                    # start pulse → done pulse, both counted (79)


class BaseMulUnit(wiring.Component):
    """``dst = a0 ∘ b0 + a1 ∘ b1`` over 128 base-case products each.

    Per pair ``i`` with ``γ = ζ^(2·BitRev7(i)+1)``:
    ``c0 = a0·b0 + γ·(a1·b1 mod q)``, ``c1 = a0·b1 + a1·b0`` (mod q), then the two terms
    are added. Cycle ``2w + t`` addresses word ``w`` of ``a_t`` (port ``rd_a``) and of ``b_t``
    (port ``rd_b``); word ``w`` of ``dst`` is written 12 cycles after its second read.
    Both read ports have a latency of 2 (the block RAM and its output register).

    Timing: ``start`` → ``done`` pulse after :data:`BASEMUL_CYCLES` = 79 cycles (both counted). The base
    addresses are sampled at ``start``; ``dst`` may equal ``b0`` or ``b1`` (each word is
    written after both of its reads).

    Members
    -------
    start : ``In(1)``; a0, a1, b0, b1, dst : ``In(addr_width)``  base addresses
    busy, done : ``Out(1)``
    rd_a : ``Out(read_port_signature(addr_width, PolyWord))``   read port (a), latency 2
    rd_b : ``Out(read_port_signature(addr_width, PolyWord))``   read port (b), latency 2
    wr : ``Out(write_port_signature(addr_width, PolyWord))``
    """

    def __init__(self, *, addr_width):
        check_addr_width(addr_width)
        self._addr_width = addr_width
        aw = addr_width
        super().__init__({
            "start": In(1),
            "a0": In(aw), "a1": In(aw), "b0": In(aw), "b1": In(aw), "dst": In(aw),
            "busy": Out(1), "done": Out(1),
            "rd_a": Out(read_port_signature(aw, PolyWord)),
            "rd_b": Out(read_port_signature(aw, PolyWord)),
            "wr": Out(write_port_signature(aw, PolyWord)),
        })

    def elaborate(self, platform):
        m = Module()
        aw = self._addr_width

        # 4 gammas per word: GAMMA_ROM[w] = γ_{4w} .. γ_{4w+3}
        rom_init = [sum(GAMMAS[4 * w + k] << (12 * k) for k in range(4)) for w in range(WORDS)]
        m.submodules.gamma_rom = gamma_rom = memory.Memory(
            shape=unsigned(48), depth=WORDS, init=rom_init, attrs={"rom_style": "block"})
        gamma_rd = gamma_rom.read_port()

        busy = Signal()
        cnt = Signal(range(_LAST + 1))
        a0, a1, b0, b1, dst = (Signal(aw, name=n) for n in ("ra0", "ra1", "rb0", "rb1", "rdst"))
        with m.If(self.start):
            m.d.sync += [busy.eq(1), cnt.eq(0), a0.eq(self.a0), a1.eq(self.a1),
                         b0.eq(self.b0), b1.eq(self.b1), dst.eq(self.dst)]
        with m.Elif(busy):
            m.d.sync += cnt.eq(cnt + 1)
            with m.If(cnt == _LAST):
                m.d.sync += busy.eq(0)
        # `done` (busy, cnt = last): a flip-flop set a cycle ahead (count_flag)
        done = count_flag(m, busy, self.start, cnt, _LAST, name="done")
        m.d.comb += [self.busy.eq(busy), self.done.eq(done)]

        # address stage (registered): word w of term t
        issue = Signal()
        t0 = cnt[0]
        w0 = cnt[1:6]
        m.d.comb += issue.eq(busy & (cnt < 2 * WORDS))
        ra = Signal(aw)
        rb = Signal(aw)
        gaddr = Signal(5)
        m.d.sync += [ra.eq(Mux(t0, a1, a0) + w0), rb.eq(Mux(t0, b1, b0) + w0), gaddr.eq(w0)]
        m.d.comb += [self.rd_a.addr.eq(ra), self.rd_b.addr.eq(rb), gamma_rd.addr.eq(gaddr)]

        # pipeline control: valid, term, word; c = 0 is the cycle the addresses are on the ports
        v0, tt0, ww0 = Signal(), Signal(), Signal(5)
        m.d.sync += [v0.eq(issue), tt0.eq(t0), ww0.eq(w0)]
        D = PIPE_DEPTH - 1                       # cycle of the write, counted from c = 0
        t_acc = delay(m, tt0, D - 1, name="ta")
        v_acc = delay(m, v0, D - 1, name="va")

        # c2: operands (data two cycles after the address) into registers
        A = Signal(PolyWord)
        B = Signal(PolyWord)
        m.d.sync += [A.eq(self.rd_a.data), B.eq(self.rd_b.data)]
        res = []
        for k in range(LANES // 2):
            x0, x1, y0, y1 = A[2 * k], A[2 * k + 1], B[2 * k], B[2 * k + 1]
            # c3: the four products
            p00, p11, p01, p10 = (
                registered_product(m, u, v, name=f"p{nm}_{k}", platform=platform)
                for nm, u, v in (("00", x0, y0), ("11", x1, y1), ("01", x0, y1), ("10", x1, y0)))
            # c4: a1·b1 mod q (c4..c6);  c1 = a0·b1 + a1·b0 has 4 cycles to spare, so its
            # products (c4) and its Barrett quotient pass fabric registers: the wires from
            # the DSP column end at flip-flops (sum c5, mod q c6..c9)
            r11 = barrett_pipe(m, p11, name=f"r11_{k}", platform=platform)
            p01f = Signal.like(p01, name=f"p01f_{k}")
            p10f = Signal.like(p10, name=f"p10f_{k}")
            s1 = Signal(25, name=f"s1_{k}")
            m.d.sync += [p01f.eq(p01), p10f.eq(p10), s1.eq(p01f + p10f)]
            c1r = barrett_pipe(m, s1, name=f"c1r_{k}", platform=platform, t_reg=True)
            # c7: γ·(a1·b1 mod q); γ: ROM data at c1, registered, used at c7
            gamma = delay(m, gamma_rd.data[12 * k:12 * k + 12], 6, name=f"gamma_{k}")
            tg = registered_product(m, r11, gamma, name=f"tg_{k}", platform=platform)
            # c8: c0 = a0·b0 + γ·a1·b1, then mod q (c9..c11)
            s0 = Signal(25, name=f"s0_{k}")
            m.d.sync += s0.eq(delay(m, p00, 4, name=f"p00_{k}") + tg)
            c0r = barrett_pipe(m, s0, name=f"c0r_{k}", platform=platform)
            res += [c0r, delay(m, c1r, 2, name=f"c1r_{k}")]

        # c12: accumulate the two terms; c13: write
        hold = [Signal(12, name=f"hold_{j}") for j in range(LANES)]
        with m.If(v_acc & ~t_acc):
            m.d.sync += [hold[j].eq(res[j]) for j in range(LANES)]
        for j in range(LANES):
            acc = Signal(12, name=f"acc_{j}")
            m.d.sync += acc.eq(mod_add(m, hold[j], res[j], name=f"sum_{j}"))
            m.d.comb += self.wr.data[j].eq(acc)
        # the write port from flip-flops: enable and address computed a cycle ahead (from the
        # accumulation stage's valid, term and word), so the engine's write multiplexer and
        # bank steering start at registers
        w_acc = delay(m, ww0, D - 1, name="wa")
        wen = Signal()
        waddr = Signal(aw)
        m.d.sync += [wen.eq(v_acc & t_acc), waddr.eq(dst + w_acc)]
        m.d.comb += [self.wr.en.eq(wen), self.wr.addr.eq(waddr)]
        return m
