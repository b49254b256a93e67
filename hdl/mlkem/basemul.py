"""Base-case multiply-accumulate unit (FIPS 203 Algorithms 11 and 12).

Computes ``dst = a0 ∘ b0 + a1 ∘ b1`` for NTT-domain polynomials, one word (4 coefficient
pairs) per cycle, alternating between the two terms.
"""

from amaranth.hdl import Module, Signal, Mux, unsigned
from amaranth.lib import memory, wiring
from amaranth.lib.wiring import In, Out

from golden.mlkem import GAMMAS
from hdl.mlkem.arith import check_addr_width, LANES, WORDS, PolyWord, mod_add, barrett
from hdl.stream_util import read_port_signature, write_port_signature

__all__ = ["BaseMulUnit", "BASEMUL_CYCLES"]

PIPE_DEPTH = 5
_LAST = 2 * WORDS + PIPE_DEPTH - 1           # counter value of the last write
BASEMUL_CYCLES = _LAST + 2                    # start pulse → done pulse, both counted (70)


class BaseMulUnit(wiring.Component):
    """``dst = a0 ∘ b0 + a1 ∘ b1`` over 128 base-case products each.

    Per pair ``i`` with ``γ = ζ^(2·BitRev7(i)+1)``:
    ``c0 = a0·b0 + γ·(a1·b1 mod q)``, ``c1 = a0·b1 + a1·b0`` (mod q), then the two terms
    are added. Cycle ``2w + t`` reads word ``w`` of ``a_t`` (port ``ka``) and of ``b_t``
    (port ``wb``); word ``w`` of ``dst`` is written 5 cycles after its second read.

    Timing: ``start`` → ``done`` pulse after :data:`BASEMUL_CYCLES` = 70 cycles (both counted). The base
    addresses are sampled at ``start``; ``dst`` may equal ``b0`` or ``b1`` (each word is
    written after both of its reads).

    Members
    -------
    start : ``In(1)``; a0, a1, b0, b1, dst : ``In(addr_width)``  base addresses
    busy, done : ``Out(1)``
    rd_a : ``Out(read_port_signature(addr_width, PolyWord))``   synchronous read port (a)
    rd_b : ``Out(read_port_signature(addr_width, PolyWord))``   synchronous read port (b)
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
        m.d.comb += [self.busy.eq(busy), self.done.eq(busy & (cnt == _LAST))]

        # c0: read word w of term t
        issue = Signal()
        t0 = cnt[0]
        w0 = cnt[1:6]
        m.d.comb += issue.eq(busy & (cnt < 2 * WORDS))
        m.d.comb += [
            self.rd_a.addr.eq(Mux(t0, a1, a0) + w0),
            self.rd_b.addr.eq(Mux(t0, b1, b0) + w0),
            gamma_rd.addr.eq(w0),
        ]

        # pipeline control: valid, term, word
        v = [Signal(name=f"v{s}") for s in range(1, 6)]
        t = [Signal(name=f"t{s}") for s in range(1, 6)]
        w = [Signal(5, name=f"w{s}") for s in range(1, 6)]
        m.d.sync += [v[0].eq(issue), t[0].eq(t0), w[0].eq(w0)]
        for s in range(1, 5):
            m.d.sync += [v[s].eq(v[s - 1]), t[s].eq(t[s - 1]), w[s].eq(w[s - 1])]

        A, B = self.rd_a.data, self.rd_b.data
        res = []
        for k in range(LANES // 2):
            x0, x1, y0, y1 = A[2 * k], A[2 * k + 1], B[2 * k], B[2 * k + 1]
            # c1 → c2: the four products
            p00 = Signal(24, name=f"p00_{k}")
            p11 = Signal(24, name=f"p11_{k}")
            p01 = Signal(24, name=f"p01_{k}")
            p10 = Signal(24, name=f"p10_{k}")
            gamma2 = Signal(12, name=f"gamma2_{k}")
            m.d.sync += [p00.eq(x0 * y0), p11.eq(x1 * y1), p01.eq(x0 * y1), p10.eq(x1 * y0),
                         gamma2.eq(gamma_rd.data[12 * k:12 * k + 12])]
            # c2 → c3: reduce a1·b1 and a0·b1 + a1·b0
            r11 = barrett(m, p11, name=f"r11_{k}")
            s1 = Signal(25, name=f"s1_{k}")
            m.d.comb += s1.eq(p01 + p10)
            c1r = barrett(m, s1, name=f"c1r_{k}")
            r11_3 = Signal(12, name=f"r11_3_{k}")
            c1_3 = Signal(12, name=f"c1_3_{k}")
            p00_3 = Signal(24, name=f"p00_3_{k}")
            gamma3 = Signal(12, name=f"gamma3_{k}")
            m.d.sync += [r11_3.eq(r11), c1_3.eq(c1r), p00_3.eq(p00), gamma3.eq(gamma2)]
            # c3 → c4: γ·(a1·b1 mod q)
            tg = Signal(24, name=f"tg_{k}")
            c1_4 = Signal(12, name=f"c1_4_{k}")
            p00_4 = Signal(24, name=f"p00_4_{k}")
            m.d.sync += [tg.eq(r11_3 * gamma3), c1_4.eq(c1_3), p00_4.eq(p00_3)]
            # c4 → c5: c0 = a0·b0 + γ·a1·b1 mod q
            s0 = Signal(25, name=f"s0_{k}")
            m.d.comb += s0.eq(p00_4 + tg)
            c0r = barrett(m, s0, name=f"c0r_{k}")
            c0_5 = Signal(12, name=f"c0_5_{k}")
            c1_5 = Signal(12, name=f"c1_5_{k}")
            m.d.sync += [c0_5.eq(c0r), c1_5.eq(c1_4)]
            res += [c0_5, c1_5]

        # c5: accumulate the two terms and write
        hold = [Signal(12, name=f"hold_{j}") for j in range(LANES)]
        with m.If(v[4] & ~t[4]):
            m.d.sync += [hold[j].eq(res[j]) for j in range(LANES)]
        for j in range(LANES):
            m.d.comb += self.wr.data[j].eq(mod_add(m, hold[j], res[j], name=f"acc_{j}"))
        m.d.comb += [self.wr.en.eq(v[4] & t[4]), self.wr.addr.eq(dst + w[4])]
        return m

