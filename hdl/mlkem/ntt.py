"""NTT / NTT⁻¹ unit with eight butterflies (FIPS 203 Algorithms 9 and 10).

Works in place on one polynomial (32 words of 8 coefficients, :data:`~hdl.mlkem.arith.PolyWord`)
in a memory owned by the client, through two synchronous read ports and two write ports.
Each cycle reads two words, runs 8 butterflies and, 4 cycles later, writes both words back.
"""

from amaranth.hdl import Module, Signal, Mux, Cat, unsigned
from amaranth.lib import memory, wiring
from amaranth.lib.wiring import In, Out

from golden.mlkem import ZETAS
from hdl.mlkem.arith import check_addr_width, LANES, WORDS, PolyWord, mod_add, mod_sub, barrett
from hdl.stream_util import read_port_signature, write_port_signature

__all__ = ["NttUnit", "NTT_CYCLES", "STAGE_CYCLES", "PIPE_DEPTH"]

PIPE_DEPTH = 4                          # read issue → write of the same words
ITERS = WORDS // 2                      # 16 word pairs per stage
STAGE_CYCLES = ITERS + PIPE_DEPTH       # 20: a stage drains before the next one reads
NTT_CYCLES = 7 * STAGE_CYCLES + 1       # start pulse → done pulse


def stage_log_len(stage, inverse):
    """log2(len) of stage ``stage`` (0..6): NTT 7..1, NTT⁻¹ 1..7."""
    return stage + 1 if inverse else 7 - stage


class NttUnit(wiring.Component):
    """In-place NTT or NTT⁻¹ (without the final 128⁻¹ scale) of one polynomial.

    Eight butterfly lanes: Cooley–Tukey ``(a + ζb, a − ζb)`` for the NTT,
    Gentleman–Sande ``(a + b, ζ(b − a))`` for NTT⁻¹; products reduced by Barrett.
    Stage ``s`` reads the word pairs ``(a, a + len/8)`` (or, for len ≤ 4, the adjacent
    pair ``(2i, 2i+1)`` with butterflies inside each word), 16 pairs per stage, then waits
    for its last write before the next stage reads. The result after stage ``s`` equals
    :func:`golden.mlkem.ntt_stage` / :func:`golden.mlkem.intt_stage`.

    Timing: ``start`` (one cycle, with ``inverse`` and ``base``) → ``done`` (one-cycle pulse)
    after :data:`NTT_CYCLES` = 141 cycles, for every input. ``stage_done`` pulses in the cycle
    the last write of each stage is presented (the memory holds that stage's result after
    the clock edge). ``base`` and ``inverse`` are sampled at ``start``.

    Members
    -------
    start : ``In(1)``, inverse : ``In(1)``, base : ``In(addr_width)``
        Start a transform of the polynomial at words ``base .. base+31``.
    busy : ``Out(1)``, done : ``Out(1)``, stage_done : ``Out(1)``
    rd0, rd1 : ``Out(read_port_signature(addr_width, PolyWord))``
        Two read ports of the work memory (synchronous: ``data`` one cycle after ``addr``).
    wr0, wr1 : ``Out(write_port_signature(addr_width, PolyWord))``
        Two write ports; both words are written in the same cycle (``en`` equal).
    """

    def __init__(self, *, addr_width):
        check_addr_width(addr_width)
        self._addr_width = addr_width
        super().__init__({
            "start": In(1), "inverse": In(1), "base": In(addr_width),
            "busy": Out(1), "done": Out(1), "stage_done": Out(1),
            "rd0": Out(read_port_signature(addr_width, PolyWord)),
            "rd1": Out(read_port_signature(addr_width, PolyWord)),
            "wr0": Out(write_port_signature(addr_width, PolyWord)),
            "wr1": Out(write_port_signature(addr_width, PolyWord)),
        })

    @property
    def addr_width(self):
        return self._addr_width

    def elaborate(self, platform):
        m = Module()
        aw = self._addr_width

        # two copies of the ζ table with two read ports each (block RAM: a DP16KD has two)
        zeta_rd = []
        for c in range(2):
            rom = memory.Memory(shape=unsigned(12), depth=128, init=ZETAS,
                                attrs={"rom_style": "block"})
            m.submodules[f"zeta_rom{c}"] = rom
            zeta_rd += [rom.read_port(), rom.read_port()]   # sync, aligned with rd0.data

        busy = Signal()
        inverse = Signal()
        base = Signal(aw)
        stage = Signal(range(7))
        cnt = Signal(range(STAGE_CYCLES))
        m.d.comb += self.busy.eq(busy)

        with m.If(self.start):
            m.d.sync += [busy.eq(1), inverse.eq(self.inverse), base.eq(self.base),
                         stage.eq(0), cnt.eq(0)]
        with m.Elif(busy):
            m.d.sync += cnt.eq(cnt + 1)
            with m.If(cnt == STAGE_CYCLES - 1):
                m.d.sync += cnt.eq(0)
                m.d.sync += stage.eq(stage + 1)
                with m.If(stage == 6):
                    m.d.sync += busy.eq(0)
        m.d.comb += self.done.eq(busy & (stage == 6) & (cnt == STAGE_CYCLES - 1))
        m.d.comb += self.stage_done.eq(busy & (cnt == STAGE_CYCLES - 1))

        # --- c0: addresses and zeta indices ------------------------------------------------
        issue = Signal()
        m.d.comb += issue.eq(busy & (cnt < ITERS))
        i = cnt[:4]
        log_len = Signal(range(8))
        m.d.comb += log_len.eq(Mux(inverse, stage + 1, 7 - stage))
        lw = Signal(range(5))                  # log2(len / 8), 0 for len <= 8
        m.d.comb += lw.eq(Mux(log_len >= 3, log_len - 3, 0))
        wa = Signal(5)
        wb = Signal(5)
        with m.Switch(lw):
            for v in range(5):
                with m.Case(v):
                    # a = block·2·Lw + offset, b = a + Lw  (Lw = 2^v words)
                    m.d.comb += wa.eq(((i >> v) << (v + 1)) | (i & ((1 << v) - 1)))
                    m.d.comb += wb.eq((((i >> v) << (v + 1)) | (i & ((1 << v) - 1))) + (1 << v))
        m.d.comb += [
            self.rd0.addr.eq(base + wa),
            self.rd1.addr.eq(base + wb),
        ]
        # block index (coefficient j // 2len) per lane pair g = 0..3
        blk = [Signal(7, name=f"blk_{g}") for g in range(4)]
        with m.Switch(log_len):
            for ll in range(1, 8):
                with m.Case(ll):
                    if ll >= 3:
                        b = wa >> (ll - 2)      # word a // (2·len/8)
                        m.d.comb += [blk[g].eq(b) for g in range(4)]
                    elif ll == 2:
                        m.d.comb += [blk[0].eq(wa), blk[1].eq(wa), blk[2].eq(wb), blk[3].eq(wb)]
                    else:
                        m.d.comb += [blk[0].eq(2 * wa), blk[1].eq(2 * wa + 1),
                                     blk[2].eq(2 * wb), blk[3].eq(2 * wb + 1)]
        for g in range(4):
            # NTT: ζ index 128/len + blk;  NTT⁻¹: 256/len − 1 − blk
            zidx = Signal(7, name=f"zidx_{g}")
            m.d.comb += zidx.eq(Mux(inverse, (256 >> log_len) - 1 - blk[g],
                                    (128 >> log_len) + blk[g]))
            m.d.comb += zeta_rd[g].addr.eq(zidx)

        def control_stage(c, prev):
            """The pipeline's control in stage ``c``: valid, log len, the two word addresses."""
            regs = (Signal(name=f"v{c}"), Signal(range(8), name=f"ll{c}"),
                    Signal(aw, name=f"a{c}"), Signal(aw, name=f"b{c}"))
            m.d.sync += [r.eq(p) for r, p in zip(regs, prev)]
            return regs

        # --- c1: lane operands, products ---------------------------------------------------
        v1, ll1, a1, b1 = control_stage(1, (issue, log_len, self.rd0.addr, self.rd1.addr))
        X, Y = self.rd0.data, self.rd1.data
        xs = [Signal(12, name=f"x_{k}") for k in range(LANES)]
        ys = [Signal(12, name=f"y_{k}") for k in range(LANES)]
        # lane → (word, index) for x and y, per mode
        perm = {
            "wide": [((0, k), (1, k)) for k in range(8)],
            "len4": [((0, k), (0, k + 4)) for k in range(4)] + [((1, k), (1, k + 4)) for k in range(4)],
            "len2": [((0, 0), (0, 2)), ((0, 1), (0, 3)), ((0, 4), (0, 6)), ((0, 5), (0, 7)),
                     ((1, 0), (1, 2)), ((1, 1), (1, 3)), ((1, 4), (1, 6)), ((1, 5), (1, 7))],
        }
        src = (X, Y)

        def lanes(mode):
            m.d.comb += [xs[k].eq(src[w][j]) for k, ((w, j), _) in enumerate(perm[mode])]
            m.d.comb += [ys[k].eq(src[w][j]) for k, (_, (w, j)) in enumerate(perm[mode])]
        with m.If(ll1 >= 3):
            lanes("wide")
        with m.Elif(ll1 == 2):
            lanes("len4")
        with m.Else():
            lanes("len2")

        v2, ll2, a2, b2 = control_stage(2, (v1, ll1, a1, b1))
        P = [Signal(24, name=f"p_{k}") for k in range(LANES)]
        A2 = [Signal(12, name=f"a2_{k}") for k in range(LANES)]
        for k in range(LANES):
            zeta = zeta_rd[k // 2].data
            diff = mod_sub(m, ys[k], xs[k], name=f"d_{k}")      # b − a  (NTT⁻¹)
            summ = mod_add(m, xs[k], ys[k], name=f"s_{k}")      # a + b  (NTT⁻¹)
            mul_in = Signal(12, name=f"mi_{k}")
            m.d.comb += mul_in.eq(Mux(inverse, diff, ys[k]))
            m.d.sync += [P[k].eq(zeta * mul_in), A2[k].eq(Mux(inverse, summ, xs[k]))]

        # --- c2: Barrett -------------------------------------------------------------------
        v3, ll3, a3, b3 = control_stage(3, (v2, ll2, a2, b2))
        R3 = [Signal(12, name=f"r3_{k}") for k in range(LANES)]
        A3 = [Signal(12, name=f"a3_{k}") for k in range(LANES)]
        for k in range(LANES):
            r = barrett(m, P[k], name=f"red_{k}")
            m.d.sync += [R3[k].eq(r), A3[k].eq(A2[k])]

        # --- c3: butterfly outputs ---------------------------------------------------------
        v4, ll4, a4, b4 = control_stage(4, (v3, ll3, a3, b3))
        OX = [Signal(12, name=f"ox_{k}") for k in range(LANES)]
        OY = [Signal(12, name=f"oy_{k}") for k in range(LANES)]
        for k in range(LANES):
            plus = mod_add(m, A3[k], R3[k], name=f"ap_{k}")     # a + ζb
            minus = mod_sub(m, A3[k], R3[k], name=f"am_{k}")    # a − ζb
            m.d.sync += [OX[k].eq(Mux(inverse, A3[k], plus)),
                         OY[k].eq(Mux(inverse, R3[k], minus))]

        # --- c4: back to words, write ------------------------------------------------------
        W = (self.wr0.data, self.wr1.data)
        for mode, cond in (("wide", ll4 >= 3), ("len4", ll4 == 2), ("len2", ll4 == 1)):
            with m.If(cond):
                for k, ((wx, jx), (wy, jy)) in enumerate(perm[mode]):
                    m.d.comb += [W[wx][jx].eq(OX[k]), W[wy][jy].eq(OY[k])]
        m.d.comb += [self.wr0.en.eq(v4), self.wr1.en.eq(v4), self.wr0.addr.eq(a4),
                     self.wr1.addr.eq(b4)]
        return m
