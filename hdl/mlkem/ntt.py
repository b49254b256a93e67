"""NTT / NTT⁻¹ unit with eight butterflies (FIPS 203 Algorithms 9 and 10).

Works in place on one polynomial (32 words of 8 coefficients, :data:`~hdl.mlkem.arith.PolyWord`)
in a memory owned by the client, through two synchronous read ports and two write ports.
Each cycle reads two words, runs 8 butterflies and, 9 cycles later, writes both words back.
"""

from amaranth.hdl import Module, Signal, Mux, Cat, unsigned
from amaranth.lib import memory, wiring
from amaranth.lib.wiring import In, Out

from golden.mlkem import ZETAS
from hdl.mlkem.arith import (check_addr_width, LANES, WORDS, PolyWord, SHOUP_SHIFT, SHOUP_STAGES,
                             count_flag, mod_add_pre, mod_sub_pre, minus_q, plus_q, mulmod_pipe,
                             shoup_const, delay)
from hdl.stream_util import read_port_signature, write_port_signature

__all__ = ["NttUnit", "NTT_CYCLES", "PIPE_DEPTH", "WRITE_LATENCY", "ISSUE_ORDER", "stage_pairs",
           "stage_hazard_free"]

ITERS = WORDS // 2                      # 16 word pairs per stage
STAGES = 7
PIPE_DEPTH = 9                          # read address → write of the same words
NTT_CYCLES = STAGES * ITERS + PIPE_DEPTH + 2   # start pulse → done pulse, both counted (123)

#: Issue order of the word pairs within a stage, by log2(len): bit ``b`` of the pair index is
#: bit ``ISSUE_ORDER[log_len][b]`` of the stage's issue counter. With these orders every pair a
#: stage reads was written by the previous stage at least one cycle before (the pipeline is
#: ``PIPE_DEPTH`` deep), so the stages follow one another without a bubble
#: (:func:`stage_hazard_free` checks it, for the pipeline and the memory's write latency);
#: in the natural order the deepest pipeline that allows this is 7.
ISSUE_ORDER = {7: (0, 3, 1, 2), 6: (1, 3, 0, 2), 5: (1, 2, 0, 3),
               4: (0, 1, 2, 3), 3: (0, 1, 2, 3), 2: (0, 1, 2, 3), 1: (0, 1, 2, 3)}

#: Cycles from a pair's write being presented to the memory holding it: the engine's work
#: memory registers its writes (:class:`hdl.mlkem.workmem.WorkMemory`).
WRITE_LATENCY = 1


def stage_log_len(stage, inverse):
    """log2(len) of stage ``stage`` (0..6): NTT 7..1, NTT⁻¹ 1..7."""
    return stage + 1 if inverse else 7 - stage


def stage_pairs(stage, inverse):
    """The word pairs ``(a, b)`` of ``stage`` in issue order (Python model of the unit's
    address stage)."""
    ll = stage_log_len(stage, inverse)
    lw = max(ll - 3, 0)
    out = []
    for j in range(ITERS):
        i = sum(((j >> src) & 1) << b for b, src in enumerate(ISSUE_ORDER[ll]))
        wa = ((i >> lw) << (lw + 1)) | (i & ((1 << lw) - 1))
        out.append((wa, wa + (1 << lw)))
    return out


def stage_hazard_free(inverse, depth=PIPE_DEPTH + WRITE_LATENCY):
    """Whether, with no bubble between stages, every word a stage reads was written by the
    previous stage (``depth`` cycles after its read address, in the memory at the end of
    that cycle) in an earlier cycle (reads are not transparent)."""
    for s in range(STAGES - 1):
        written = {}
        for n, (a, b) in enumerate(stage_pairs(s, inverse)):
            written[a] = written[b] = n + depth          # cycle of the write, issue 0 at 0
        for n, (a, b) in enumerate(stage_pairs(s + 1, inverse)):
            if max(written[a], written[b]) >= ITERS + n:
                return False
    return True


class NttUnit(wiring.Component):
    """In-place NTT or NTT⁻¹ (without the final 128⁻¹ scale) of one polynomial.

    Eight butterfly lanes: Cooley–Tukey ``(a + ζb, a − ζb)`` for the NTT,
    Gentleman–Sande ``(a + b, ζ(b − a))`` for NTT⁻¹; each product ζ·b reduced by Shoup's
    method (:func:`hdl.mlkem.arith.mulmod_pipe`: the table holds ζ's quotient constant
    beside ζ, so the quotient is a product of the same operand, not of the product).
    Stage ``s`` reads the word pairs ``(a, a + len/8)`` (or, for len ≤ 4, the adjacent
    pair ``(2i, 2i+1)`` with butterflies inside each word), 16 pairs per stage in the order
    :data:`ISSUE_ORDER`, one pair per cycle for all 112 pairs: the next stage's reads start
    while the previous stage's writes drain, never reading a word before it is written
    (:func:`stage_hazard_free`). The result after stage ``s`` equals
    :func:`golden.mlkem.ntt_stage` / :func:`golden.mlkem.intt_stage`.

    Pipeline (:data:`PIPE_DEPTH` = 9 cycles from a pair's read address to its write, the
    address itself registered one cycle before): memory (2) → lane operands → NTT⁻¹'s
    ``b − a`` / ``a + b`` → product and quotient (two DSPs) → quotient register → t·q →
    select → butterfly → write.

    Timing: ``start`` (one cycle, with ``inverse`` and ``base``) → ``done`` (one-cycle pulse)
    after :data:`NTT_CYCLES` = 123 cycles, for every input. ``stage_done`` pulses in the cycle
    the last write of each stage is presented (the memory holds that stage's result after
    the clock edge, and no write of the next stage has happened yet). ``base``, ``inverse``
    and ``quiet`` are sampled at ``start``, which is taken when the unit is idle or in the
    cycle after ``issued``.

    Members
    -------
    start : ``In(1)``, inverse : ``In(1)``, base : ``In(addr_width)``, quiet : ``In(1)``
        Start a transform of the polynomial at words ``base .. base+31`` (``quiet``: its
        last write does not pulse ``done``).
    busy : ``Out(1)``
        A transform is being issued or written.
    reading : ``Out(1)``
        The read ports carry an address this cycle (the memory's read port is the unit's).
    issued : ``Out(1)``
        A pulse one cycle before the transform's last read address: a ``start`` in the next
        cycle begins another transform (of an independent polynomial) with no idle cycle,
        while this one's pipeline drains.
    done : ``Out(1)``, stage_done : ``Out(1)``
    rd0, rd1 : ``Out(read_port_signature(addr_width, PolyWord))``
        Two read ports of the work memory, latency 2 (``data`` two cycles after ``addr``:
        the block RAM and its output register).
    wr0, wr1 : ``Out(write_port_signature(addr_width, PolyWord))``
        Two write ports; both words are written in the same cycle (``en`` equal).
    """

    def __init__(self, *, addr_width):
        check_addr_width(addr_width)
        self._addr_width = addr_width
        super().__init__({
            "start": In(1), "inverse": In(1), "base": In(addr_width), "quiet": In(1),
            "busy": Out(1), "reading": Out(1), "issued": Out(1), "done": Out(1),
            "stage_done": Out(1),
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

        # two copies of the ζ table with two read ports each (block RAM: a DP16KD has two);
        # an entry is ζ and, above it, its Shoup quotient constant (hdl.mlkem.arith.mulmod_pipe)
        zeta_rd = []
        entries = [z | (shoup_const(z) << 12) for z in ZETAS]
        for c in range(2):
            rom = memory.Memory(shape=unsigned(12 + SHOUP_SHIFT), depth=128, init=entries,
                                attrs={"rom_style": "block"})
            m.submodules[f"zeta_rom{c}"] = rom
            zeta_rd += [rom.read_port(), rom.read_port()]

        issuing = Signal()
        inverse = Signal()                     # of the transform being issued
        quiet = Signal()
        base = Signal(aw)
        last_issue = STAGES * ITERS - 1
        cnt = Signal(range(last_issue + 1))

        cnt_next = Signal.like(cnt)
        inv_next = Signal()
        m.d.comb += [cnt_next.eq(cnt), inv_next.eq(inverse)]
        with m.If(self.start):
            m.d.sync += [issuing.eq(1), base.eq(self.base), quiet.eq(self.quiet)]
            m.d.comb += [cnt_next.eq(0), inv_next.eq(self.inverse)]
        with m.Elif(issuing):
            m.d.comb += cnt_next.eq(cnt + 1)
            with m.If(cnt == last_issue):
                m.d.sync += issuing.eq(0)
        m.d.sync += [cnt.eq(cnt_next), inverse.eq(inv_next)]
        # the next transform may start in the cycle of this one's last issue; `issued`
        # (issuing, cnt = last − 1) is a flip-flop set a cycle ahead (count_flag)
        issued = count_flag(m, issuing, self.start, cnt, last_issue - 1, name="issued")
        m.d.comb += self.issued.eq(issued)

        # --- address stage: pair n = cnt of the transform (stage n // 16), registered -------
        # everything the address stage needs of pair n — the stage's log len and ζ-index base,
        # the pair's word addresses (a = block·2·Lw + offset, b = a + Lw, Lw = 2^lw words) and
        # block indices (coefficient j // 2len per lane pair g = 0..3) — is a register loaded a
        # cycle ahead from a table of the position of the next pair (`pn`, a counter of its
        # own: cnt + 1 while issuing) and the direction, or from the transform's first pair at
        # a start. The table's inputs are flip-flops (8 bits), so the address stage is one
        # adder from flip-flops and the tables are not behind the counter's next-value logic.
        issue = Signal()
        m.d.comb += issue.eq(issuing)
        j = cnt[:4]
        pn = Signal(range(last_issue + 2))
        with m.If(self.start):
            m.d.sync += pn.eq(1)
        with m.Elif(issuing):
            m.d.sync += pn.eq(pn + 1)
        log_len = Signal(range(8))
        zbase = Signal(8)                      # NTT: 128/len;  NTT⁻¹: 256/len − 1
        wa = Signal(5)
        wb = Signal(5)
        blk = [Signal(7, name=f"blk_{g}") for g in range(4)]

        def fields(pos, inv):
            # the pair from the module's own model, so the table and the hazard check agree
            ll = stage_log_len(pos // ITERS, inv)
            a, b = stage_pairs(pos // ITERS, inv)[pos % ITERS]
            if ll >= 3:
                bl = [a >> (ll - 2)] * 4
            elif ll == 2:
                bl = [a, a, b, b]
            else:
                bl = [2 * a, 2 * a + 1, 2 * b, 2 * b + 1]
            zb = ((256 >> ll) - 1) if inv else (128 >> ll)
            return ([log_len.eq(ll), zbase.eq(zb), wa.eq(a), wb.eq(b)] +
                    [blk[g].eq(bl[g]) for g in range(4)])

        with m.If(self.start):
            with m.If(self.inverse):
                m.d.sync += fields(0, 1)
            with m.Else():
                m.d.sync += fields(0, 0)
        with m.Elif(issuing):
            with m.Switch(Cat(pn, inverse)):
                for pos in range(1, last_issue + 1):
                    for inv in (0, 1):
                        with m.Case(pos | (inv << pn.shape().width)):
                            m.d.sync += fields(pos, inv)
        ra = Signal(aw)
        rb = Signal(aw)
        m.d.sync += [ra.eq(base + wa), rb.eq(base + wb)]
        m.d.comb += [self.rd0.addr.eq(ra), self.rd1.addr.eq(rb)]
        for g in range(4):
            # NTT: ζ index 128/len + blk;  NTT⁻¹: 256/len − 1 − blk
            zidx = Signal(7, name=f"zidx_{g}")
            m.d.sync += zidx.eq(Mux(inverse, zbase - blk[g], zbase + blk[g]))
            m.d.comb += zeta_rd[g].addr.eq(zidx)

        # control down the pipeline: valid, log len, the two word addresses, last pair of a
        # stage, last pair of a transform that reports done, NTT⁻¹; cycle c = 0 is the one in
        # which the read addresses are on the ports (transforms may follow one another)
        def ctl_regs(c):
            return (Signal(name=f"v{c}"), Signal(range(8), name=f"ll{c}"),
                    Signal(aw, name=f"a{c}"), Signal(aw, name=f"b{c}"),
                    Signal(name=f"last{c}"), Signal(name=f"end{c}"), Signal(name=f"inv{c}"))
        first = ctl_regs(0)
        m.d.sync += [first[0].eq(issue), first[1].eq(log_len), first[4].eq(j == ITERS - 1),
                     first[5].eq(issue & (cnt == last_issue) & ~quiet), first[6].eq(inverse)]
        ctl = [(first[0], first[1], ra, rb, first[4], first[5], first[6])]
        for c in range(1, PIPE_DEPTH + 1):
            regs = ctl_regs(c)
            m.d.sync += [r.eq(p) for r, p in zip(regs, ctl[-1])]
            ctl.append(regs)
        m.d.comb += [self.reading.eq(ctl[0][0]),
                     self.busy.eq(issuing | Cat(*(c[0] for c in ctl)).any())]

        # --- c2: the words (read latency 2) into lane operands -----------------------------
        ll2 = ctl[2][1]
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

        xs_c = [Signal(12, name=f"xc_{k}") for k in range(LANES)]
        ys_c = [Signal(12, name=f"yc_{k}") for k in range(LANES)]

        def lanes(mode):
            m.d.comb += [xs_c[k].eq(src[w][j_]) for k, ((w, j_), _) in enumerate(perm[mode])]
            m.d.comb += [ys_c[k].eq(src[w][j_]) for k, (_, (w, j_)) in enumerate(perm[mode])]
        with m.If(ll2 >= 3):
            lanes("wide")
        with m.Elif(ll2 == 2):
            lanes("len4")
        with m.Else():
            lanes("len2")
        # with a − q and b + q for the one-chain modular add and subtract of c3
        xmq = [Signal(14, name=f"xmq_{k}") for k in range(LANES)]
        ypq = [Signal(13, name=f"ypq_{k}") for k in range(LANES)]
        for k in range(LANES):
            m.d.sync += [xs[k].eq(xs_c[k]), ys[k].eq(ys_c[k]),
                         xmq[k].eq(minus_q(m, xs_c[k], name=f"xmqc_{k}")),
                         ypq[k].eq(plus_q(m, ys_c[k], name=f"ypqc_{k}"))]
        # ζ: ROM data at c1, registered at c2, used at c4
        zetas = [delay(m, zeta_rd[g].data, 3, name=f"zeta_{g}") for g in range(4)]

        # --- c3: NTT⁻¹'s b − a and a + b ---------------------------------------------------
        mul_in = [Signal(12, name=f"mi_{k}") for k in range(LANES)]
        A4 = [Signal(12, name=f"a4_{k}") for k in range(LANES)]
        for k in range(LANES):
            diff = mod_sub_pre(m, ys[k], ypq[k], xs[k], name=f"d_{k}")    # b − a  (NTT⁻¹)
            summ = mod_add_pre(m, xs[k], xmq[k], ys[k], name=f"s_{k}")    # a + b  (NTT⁻¹)
            m.d.sync += [mul_in[k].eq(Mux(ctl[3][6], diff, ys[k])),
                         A4[k].eq(Mux(ctl[3][6], summ, xs[k]))]

        # --- c4: ζb and its Shoup quotient (two DSPs); c5: the quotient register; c6, c7: t·q,
        # ζb mod q -------------------------------------------------------------------------
        R8 = []
        A8 = []
        for k in range(LANES):
            z = zetas[k // 2]
            R8.append(mulmod_pipe(m, mul_in[k], z[:12], z[12:], name=f"red_{k}", platform=platform))
            A7 = delay(m, A4[k], SHOUP_STAGES - 1, name=f"a_{k}")
            A8k = [Signal(12, name=f"a8_{k}"), Signal(14, name=f"a8m_{k}"), Signal(13, name=f"a8p_{k}")]
            m.d.sync += [A8k[0].eq(A7), A8k[1].eq(minus_q(m, A7, name=f"a7m_{k}")),
                         A8k[2].eq(plus_q(m, A7, name=f"a7p_{k}"))]
            A8.append(A8k)

        # --- c8: butterfly outputs ---------------------------------------------------------
        OX = [Signal(12, name=f"ox_{k}") for k in range(LANES)]
        OY = [Signal(12, name=f"oy_{k}") for k in range(LANES)]
        for k in range(LANES):
            a, a_mq, a_pq = A8[k]
            plus = mod_add_pre(m, a, a_mq, R8[k], name=f"ap_{k}")     # a + ζb
            minus = mod_sub_pre(m, a, a_pq, R8[k], name=f"am_{k}")    # a − ζb
            m.d.sync += [OX[k].eq(Mux(ctl[8][6], a, plus)),
                         OY[k].eq(Mux(ctl[8][6], R8[k], minus))]

        # --- c9: back to words, write ------------------------------------------------------
        vD, llD, aD, bD, lastD, endD, _ = ctl[PIPE_DEPTH]
        W = (self.wr0.data, self.wr1.data)
        for mode, cond in (("wide", llD >= 3), ("len4", llD == 2), ("len2", llD == 1)):
            with m.If(cond):
                for k, ((wx, jx), (wy, jy)) in enumerate(perm[mode]):
                    m.d.comb += [W[wx][jx].eq(OX[k]), W[wy][jy].eq(OY[k])]
        m.d.comb += [self.wr0.en.eq(vD), self.wr1.en.eq(vD), self.wr0.addr.eq(aD),
                     self.wr1.addr.eq(bD),
                     self.stage_done.eq(vD & lastD),
                     self.done.eq(vD & endD)]
        return m
