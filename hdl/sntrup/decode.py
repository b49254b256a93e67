"""The radix decoder: spec ``Decode(S, M)`` as a program of splits, one split per cycle.

The program is :func:`golden.sntrup.decode_schedule` (levels from the top of the radix
tree down; the bottom level in descending index), held in a ROM. Each split computes::

    r = bytes(S[offset : offset + nbytes]) + 2^(8 nbytes) * R2[src]
    R[2i] = r mod ma,   R[2i+1] = (r div ma) mod mb,   canonical &= (r div ma) < mb

with ``r div ma`` by a reciprocal (``floor(r * magic / 2^shift)``, exact for every ``r``
the program can produce: ``magic = ceil(2^shift / ma)`` with
``shift = bitlen(r_max) + bitlen(ma)``), so no general divider. The top value is a split
with ``R2 = 0`` and ``mb = 1``; an odd element is copied. The upper levels' values go to a
value memory (one word per pair); the bottom level is emitted on ``o_coeff``, top coefficient
first (``R[n-1], R[n-2], ..., R[0]``), at most one coefficient per cycle.

Pipeline of a split (one issue per cycle; a split waits, by a gap the program computes,
until the value it reads has been written — only short levels and the bottom level's first
split wait; a bottom split follows the previous one after one cycle so that its two
coefficients leave one per cycle). One adder, multiplier, shifter or memory per stage, so
that each fits a 125 MHz clock on ECP5::

    A: program word (prefetched from the ROM) → value-memory and byte-lane read addresses
    B: byte lanes and value memory read                 │ register
    B2: r = bytes + (R2 << 8 nbytes)                    │ register
    C: four partial products of r * magic               │ register
    C2: prod = their sum                                │ register (DSP output)
    D: quot = prod >> shift                             │ register
    F: quot * ma                                        │ register
    G: lo = r - quot * ma; hi = quot (- mb)             │ register (DSP output)
    E: write the pair, or emit hi then lo

The product registers of the five multiplications are, on ECP5, the MULT18X18D's own
(:func:`hdl.target.registered_product`) and their operands flip-flops: the path through a
DSP is one wire from a register and the multiplication, never a route out of the DSP
column (nor, into it, logic that the placer cannot put beside the column).

The byte string arrives on ``i`` as little-endian 64-bit words (byte ``8k + j`` in bits
``8j+7 .. 8j`` of word ``k``) into eight byte-lane memories, so a split reads its two
bytes in one cycle whatever their alignment.
"""

from amaranth.hdl import Module, Signal, Cat, Const, Mux, unsigned
from amaranth.lib import data, memory, stream, wiring
from amaranth.lib.wiring import In, Out

from golden.sntrup import decode_schedule
from hdl.target import registered_product


__all__ = ["RadixDecoder", "decoder_program"]

_R_BITS = 30                # every split's r is below 2^30 (checked per program)
_PP = 17                    # partial products of at most 17 x 17 bits (one DSP each)
#: a value written by the split issued in cycle t can be read by a split issued in t + 9
#: (stages B, B2, C, C2, D, F, G, E, then the write)
ISSUE_TO_READ = 9


def decoder_program(moduli):
    """The ROM words of the decoder for ``Decode(., moduli)`` and the layout's widths.

    Returns ``(top, ops, words)``; ``words[k]`` is a dict of the fields of op ``k`` (op 0
    is the top value), with the reciprocal, the value-memory addresses and the minimum
    number of idle cycles before the op may issue.
    """
    top, ops = decode_schedule(moduli)
    # value-memory word addresses: level L (the top) at 0, then each level below it
    levels = sorted({o["level"] for o in ops}, reverse=True)
    top_level = levels[0] + 1 if ops else 0
    count = {top_level: 1}
    for o in ops:
        count[o["level"]] = max(count.get(o["level"], 0), 2 * o["i"] + (1 if o["copy"] else 2))
    base, addr = {}, 0
    for lvl in [top_level] + levels:
        if lvl == 0:
            continue
        base[lvl] = addr
        addr += (count[lvl] + 1) // 2
    depth = max(addr, 1)

    def reciprocal(ma, r_max):
        n = r_max.bit_length()
        shift = n + ma.bit_length()
        magic = -(-(1 << shift) // ma)
        assert magic * ma - (1 << shift) <= (1 << (shift - n))      # exact for r < 2^n
        return magic, shift

    words = []
    off, nbytes, mtop = top
    r_max = (1 << (8 * nbytes)) - 1
    magic, shift = reciprocal(mtop, r_max)
    words.append({"copy": 0, "nosrc": 1, "bottom": int(top_level == 0), "offset": off,
                  "nbytes": nbytes, "ma": mtop, "mb": 1, "magic": magic, "shift": shift,
                  "src": 0, "src_hi": 0, "dst": base.get(top_level, 0), "gap": 0})
    prev = None
    for o in ops:
        lvl = o["level"]
        gap = 0
        if prev is not None and prev["level"] == lvl == 0:
            gap = 1                              # two coefficients per bottom split
        w = {"copy": int(o["copy"]), "nosrc": 0, "bottom": int(lvl == 0),
             "src": base[lvl + 1] + (o["src"] >> 1), "src_hi": o["src"] & 1,
             "dst": 0 if lvl == 0 else base[lvl] + o["i"], "gap": gap,
             "offset": 0, "nbytes": 0, "ma": 1, "mb": 1, "magic": 0, "shift": 0}
        if not o["copy"]:
            r_max = ((1 << (8 * o["nbytes"])) * o["m2"]) - 1
            assert r_max < 1 << _R_BITS
            assert (r_max // o["ma"]) < 2 * o["mb"]          # one subtraction reduces quot
            magic, shift = reciprocal(o["ma"], r_max)
            w.update(offset=o["byte_offset"], nbytes=o["nbytes"], ma=o["ma"], mb=o["mb"],
                     magic=magic, shift=shift)
        words.append(w)
        prev = o
    # a split reads its R2 value only once the split that wrote it is through the pipeline:
    # wait exactly as long as that needs (long levels, read in the order they were written,
    # need no wait; short ones and the bottom level's first split do)
    for w in words:
        # byte-lane rows: byte offset + b (b = 0, 1) is in lane (offset + b) mod 8, row
        # (offset + b) // 8; lane 0 is the only one whose row can be the next one
        w["row"], w["row1"] = w["offset"] >> 3, (w["offset"] + 1) >> 3
    writer = {w["dst"]: k for k, w in enumerate(words) if not w["bottom"]}
    issue_at = [0]
    for k, w in enumerate(words[1:], start=1):
        at = issue_at[-1] + 1 + w["gap"]
        if not w["nosrc"]:
            at = max(at, issue_at[writer[w["src"]]] + ISSUE_TO_READ)
        w["gap"] = at - issue_at[-1] - 1
        issue_at.append(at)
    return top, ops, words, depth


def _layout(words, depth, nbytes_total):
    return data.StructLayout({
        "copy": unsigned(1), "nosrc": unsigned(1), "bottom": unsigned(1),
        "offset": range(max(nbytes_total, 2)), "nbytes": unsigned(2),
        "row": range((nbytes_total + 8) // 8), "row1": range((nbytes_total + 8) // 8),
        "ma": unsigned(max(w["ma"] for w in words).bit_length()),
        "mb": unsigned(max(w["mb"] for w in words).bit_length()),
        "magic": unsigned(max(w["magic"] for w in words).bit_length()),
        "shift": unsigned(max(w["shift"] for w in words).bit_length()),
        "src": range(depth), "src_hi": unsigned(1), "dst": range(depth),
        "gap": unsigned(max(max(w["gap"] for w in words).bit_length(), 1)),
    })


class RadixDecoder(wiring.Component):
    """Spec ``Decode(S, moduli)`` with the canonical-encoding flag.

    Parameters
    ----------
    moduli : list of int
        The moduli ``M`` (``[1541] * 653`` for Rounded, ``[4621] * 653`` for Rq).

    Members
    -------
    i : ``In(stream.Signature(unsigned(64)))``
        The encoded bytes as little-endian words, ``ceil(nbytes / 8)`` of them; decoding
        starts after the last one. Not ready while decoding.
    o_valid, o_coeff : ``Out(1)``, ``Out(unsigned(value_bits))``
        ``R[n-1], ..., R[0]``, one per cycle at most, without back-pressure (the consumer,
        the multiplier array, takes a coefficient in every cycle ``o_valid`` is high).
    done : ``Out(1)``
        Level: the last coefficient has been emitted (until the next ``start`` of input).
    canonical : ``Out(1)``
        Meaningful while ``done``: ``Encode(R, moduli)`` equals the input bytes.
    """

    def __init__(self, *, moduli):
        moduli = list(moduli)
        if len(moduli) < 2 or not all(isinstance(m, int) and 2 <= m < 16384 for m in moduli):
            raise ValueError(f"Moduli must be at least two integers in 2..16383, not {moduli!r}")
        self._moduli = moduli
        self._top, self._ops, self._words, self._depth = decoder_program(moduli)
        self._nbytes = self._top[0] + self._top[1]
        self._nwords = (self._nbytes + 7) // 8
        self._value_bits = (max(moduli) - 1).bit_length()
        self._cycles = None
        super().__init__({
            "i": In(stream.Signature(unsigned(64))),
            "o_valid": Out(1),
            "o_coeff": Out(unsigned(self._value_bits)),
            "done": Out(1),
            "canonical": Out(1),
        })

    @property
    def moduli(self):
        return list(self._moduli)

    @property
    def nbytes(self):
        return self._nbytes

    @property
    def nwords(self):
        return self._nwords

    @property
    def program_length(self):
        return len(self._words)

    def elaborate(self, platform):
        m = Module()
        words = self._words
        layout = _layout(words, self._depth, self._nbytes)
        nwords = self._nwords

        # --- byte lanes (byte 8k + j in lane j, row k) -------------------------------------
        lanes = []
        for j in range(8):
            mem = memory.Memory(shape=unsigned(8), depth=nwords, init=[])
            m.submodules[f"lane{j}"] = mem
            lanes.append((mem.write_port(), mem.read_port()))
        wrow = Signal(range(nwords + 1))
        loading = Signal(init=1)
        m.d.comb += self.i.ready.eq(loading)
        for j, (wp, _) in enumerate(lanes):
            m.d.comb += [wp.addr.eq(wrow), wp.data.eq(self.i.payload[8 * j:8 * j + 8]),
                         wp.en.eq(self.i.valid & loading)]

        # --- program ROM, prefetched: `op` (a register) is op `pc`, the ROM's output op
        # `pc + 1`, so no block-RAM output feeds the issue logic or an address -------------
        rom = memory.Memory(shape=layout, depth=len(words),
                            init=[{k: w[k] for k in layout.members} for w in words])
        m.submodules.program = rom
        rom_rd = rom.read_port()
        op = Signal(layout)
        pc = Signal(range(len(words) + 2))
        running = Signal()
        gap_max = (1 << layout.members["gap"].width) - 1
        gap = Signal(range(gap_max + 1))      # idle cycles since the last issue (saturating)
        issue = Signal()
        m.d.comb += issue.eq(running & (pc < len(words)) & (gap >= op.gap))
        m.d.comb += rom_rd.addr.eq(Mux(running, Mux(issue, pc + 2, pc + 1), 1))
        with m.If(~running | issue):          # op 0 while idle (the flip-flops' synchronous
            # set/reset), the ROM output otherwise
            m.d.sync += op.eq(Mux(running, rom_rd.data,
                                  layout.const({k: words[0][k] for k in layout.members})))

        # --- value memory (one word per pair: lo in [0:14], hi in [14:28]) ----------------
        vmem = memory.Memory(shape=unsigned(28), depth=self._depth, init=[])
        m.submodules.values = vmem
        v_rd = vmem.read_port()
        v_wr = vmem.write_port()
        m.d.comb += v_rd.addr.eq(op.src)
        for j, (_, rp) in enumerate(lanes):
            # the row of byte offset or offset + 1 if lane j holds one of them (the program
            # stores both rows, so no adder sits in front of the lane memories)
            m.d.comb += rp.addr.eq(op.row1 if j == 0 else op.row)

        # stage B inputs (registered op fields of the issued split)
        b_valid = Signal()
        b_op = Signal(layout)
        m.d.sync += [b_valid.eq(issue), b_op.eq(op)]
        lane_data = Signal(data.ArrayLayout(unsigned(8), 8))
        m.d.comb += [lane_data[j].eq(rp.data) for j, (_, rp) in enumerate(lanes)]
        byte0 = Signal(8)
        byte1 = Signal(8)
        m.d.comb += [byte0.eq(lane_data[b_op.offset[:3]]), byte1.eq(lane_data[(b_op.offset + 1)[:3]])]
        # stage B2: the value memory's output registered first (block-RAM clock-to-output),
        # then R2 and the bytes assembled into r
        b2_valid = Signal()
        b2_op = Signal(layout)
        b2_bytes = Signal(16)
        b2_vals = Signal(28)
        m.d.sync += [b2_valid.eq(b_valid), b2_op.eq(b_op), b2_bytes.eq(Cat(byte0, byte1)),
                     b2_vals.eq(v_rd.data)]
        r2 = Signal(14)
        m.d.comb += r2.eq(Mux(b2_op.nosrc, 0, Mux(b2_op.src_hi, b2_vals[14:28], b2_vals[:14])))
        r_b = Signal(_R_BITS)
        with m.Switch(b2_op.nbytes):
            with m.Case(0):
                m.d.comb += r_b.eq(r2)
            with m.Case(1):
                m.d.comb += r_b.eq(Cat(b2_bytes[:8], r2))
            with m.Default():
                m.d.comb += r_b.eq(Cat(b2_bytes, r2))
        # stage C: r * magic as four partial products of at most 17 x 17 bits (one DSP each),
        # from the registers c_r and c_op.magic into the product registers of stage C2: on
        # ECP5 the DSP's own (hdl.target.registered_product), so the only wire of the
        # multiplication's path is the one into the DSP
        c_valid = Signal()
        c_op = Signal(layout)
        c_r = Signal(_R_BITS)
        m.d.sync += [c_valid.eq(b2_valid), c_op.eq(b2_op), c_r.eq(r_b)]
        magic = c_op.magic
        assert len(magic) <= 2 * _PP and _R_BITS <= 2 * _PP
        halves_r = {"l": c_r[:_PP], "h": c_r[_PP:]}
        halves_m = {"l": magic[:_PP], "h": magic[_PP:]}
        c2_pp = {}
        for a, av in halves_r.items():
            for b, bv in halves_m.items():
                c2_pp[a + b] = registered_product(m, av, bv, name=f"c2_pp_{a}{b}", platform=platform)
        # stage C2: prod = (hh << 2*17 | ll) + (lh << 17) + (hl << 17), one carry-save level
        # and one adder
        c2_valid = Signal()
        c2_op = Signal(layout)
        c2_r = Signal(14)                     # lo needs only the low bits: lo < ma < 2^14
        m.d.sync += [c2_valid.eq(c_valid), c2_op.eq(c_op), c2_r.eq(c_r[:14])]
        width = _R_BITS + layout.members["magic"].width
        x = Signal(width)
        y = Signal(width)
        z = Signal(width)
        m.d.comb += [x.eq(Cat(c2_pp["ll"], Const(0, 2 * _PP - len(c2_pp["ll"])), c2_pp["hh"])),
                     y.eq(c2_pp["lh"] << _PP), z.eq(c2_pp["hl"] << _PP)]
        csa_s = Signal(width)
        csa_c = Signal(width)
        m.d.comb += [csa_s.eq(x ^ y ^ z), csa_c.eq(((x & y) | (x & z) | (y & z)) << 1)]
        prod = Signal(width)
        m.d.comb += prod.eq(csa_s + csa_c)
        # stage D: the quotient (a variable shift, alone in its stage)
        d_valid = Signal()
        d_op = Signal(layout)
        d_r = Signal(14)
        d_prod = Signal.like(prod)
        m.d.sync += [d_valid.eq(c2_valid), d_op.eq(c2_op), d_r.eq(c2_r), d_prod.eq(prod)]
        quot = Signal(17)
        m.d.comb += quot.eq(d_prod >> d_op.shift)
        # stage F: quot * ma (one DSP, operands and product registered as in stage C)
        f_valid = Signal()
        f_op = Signal(layout)
        f_r = Signal(14)
        f_quot = Signal(17)
        m.d.sync += [f_valid.eq(d_valid), f_op.eq(d_op), f_r.eq(d_r), f_quot.eq(quot)]
        qm = registered_product(m, f_quot, f_op.ma, name="g_qm", platform=platform)
        # stage G: lo = r - quot * ma, the reduction of the quotient into hi
        g_valid = Signal()
        g_op = Signal(layout)
        g_r = Signal(14)
        g_quot = Signal(17)
        g_qm = Signal(14)
        m.d.sync += [g_valid.eq(f_valid), g_op.eq(f_op), g_r.eq(f_r), g_quot.eq(f_quot)]
        m.d.comb += g_qm.eq(qm[:14])
        lo = Signal(14)
        hi = Signal(14)
        reduced = Signal()
        m.d.comb += [
            lo.eq(Mux(g_op.copy, g_r, g_r - g_qm)),
            reduced.eq(~g_op.copy & (g_quot >= g_op.mb)),
            hi.eq(Mux(reduced, g_quot - g_op.mb, g_quot)),
        ]
        # stage E
        e_valid = Signal()
        e_op = Signal(layout)
        e_lo = Signal(14)
        e_hi = Signal(14)
        m.d.sync += [e_valid.eq(g_valid), e_op.eq(g_op), e_lo.eq(lo), e_hi.eq(hi)]
        canonical = Signal(init=1)
        with m.If(g_valid & reduced):
            m.d.sync += canonical.eq(0)
        m.d.comb += [v_wr.addr.eq(e_op.dst), v_wr.data.eq(Cat(e_lo, e_hi)),
                     v_wr.en.eq(e_valid & ~e_op.bottom)]
        pending_lo = Signal()                 # the lo half of a bottom split, next cycle
        lo_hold = Signal(14)
        emit = Signal()
        m.d.comb += emit.eq(e_valid & e_op.bottom)
        with m.If(emit):
            m.d.comb += [self.o_valid.eq(1), self.o_coeff.eq(Mux(e_op.copy, e_lo, e_hi))]
            m.d.sync += [pending_lo.eq(~e_op.copy), lo_hold.eq(e_lo)]
        with m.Elif(pending_lo):
            m.d.comb += [self.o_valid.eq(1), self.o_coeff.eq(lo_hold)]
            m.d.sync += pending_lo.eq(0)

        # --- control ---------------------------------------------------------------------
        last_out = Signal()                   # the final coefficient leaves this cycle
        m.d.comb += last_out.eq((pc == len(words)) & ~b_valid & ~b2_valid & ~c_valid & ~c2_valid & ~d_valid & ~f_valid & ~g_valid
                                & self.o_valid & ~(emit & ~e_op.copy))
        done = Signal()
        m.d.comb += [self.done.eq(done), self.canonical.eq(canonical)]
        with m.If(self.i.valid & loading):
            m.d.sync += [wrow.eq(wrow + 1), done.eq(0)]
            with m.If(wrow == 0):
                m.d.sync += canonical.eq(1)
            with m.If(wrow == nwords - 1):
                m.d.sync += [loading.eq(0), running.eq(1), pc.eq(0), gap.eq(gap_max), wrow.eq(0)]
        with m.If(issue):
            m.d.sync += [pc.eq(pc + 1), gap.eq(0)]
        with m.Elif(running & (gap != gap_max)):
            m.d.sync += gap.eq(gap + 1)
        with m.If(running & last_out):
            m.d.sync += [running.eq(0), loading.eq(1), done.eq(1)]
        return m
