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

Pipeline of a split (one issue per cycle; a level's first split waits until the level
above is written, a bottom split follows the previous one after one cycle so that its two
coefficients leave one per cycle)::

    A: program ROM word → value-memory and byte-lane read addresses
    B: r = bytes + (R2 << 8 nbytes)                     │ register
    C: prod = r * magic                                 │ register (DSP)
    D: quot = prod >> shift; lo = r - quot * ma; hi = quot (- mb)   │ register
    E: write the pair, or emit hi then lo

The byte string arrives on ``i`` as little-endian 64-bit words (byte ``8k + j`` in bits
``8j+7 .. 8j`` of word ``k``) into eight byte-lane memories, so a split reads its two
bytes in one cycle whatever their alignment.
"""

from amaranth.hdl import Module, Signal, Cat, Const, Mux, unsigned
from amaranth.lib import data, memory, stream, wiring
from amaranth.lib.wiring import In, Out

from golden.sntrup import decode_schedule


__all__ = ["RadixDecoder", "decoder_program"]

_R_BITS = 30                # every split's r is below 2^30 (checked per program)


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
        if prev is None or prev["level"] != lvl:
            gap = 4                              # the level above must be written first
        elif lvl == 0:
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
    return top, ops, words, depth


def _layout(words, depth, nbytes_total):
    return data.StructLayout({
        "copy": unsigned(1), "nosrc": unsigned(1), "bottom": unsigned(1),
        "offset": range(max(nbytes_total, 2)), "nbytes": unsigned(2),
        "ma": unsigned(max(w["ma"] for w in words).bit_length()),
        "mb": unsigned(max(w["mb"] for w in words).bit_length()),
        "magic": unsigned(max(w["magic"] for w in words).bit_length()),
        "shift": unsigned(max(w["shift"] for w in words).bit_length()),
        "src": range(depth), "src_hi": unsigned(1), "dst": range(depth), "gap": unsigned(3),
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

        # --- program ROM (sync read of the op at pc; addr runs one ahead on issue) --------
        rom = memory.Memory(shape=layout, depth=len(words),
                            init=[{k: w[k] for k in layout.members} for w in words])
        m.submodules.program = rom
        rom_rd = rom.read_port()
        op = rom_rd.data
        pc = Signal(range(len(words) + 1))
        running = Signal()
        gap = Signal(3)                       # idle cycles since the last issue (saturating)
        issue = Signal()
        m.d.comb += issue.eq(running & (pc < len(words)) & (gap >= op.gap))
        m.d.comb += rom_rd.addr.eq(Mux(issue, pc + 1, Mux(running, pc, 0)))

        # --- value memory (one word per pair: lo in [0:14], hi in [14:28]) ----------------
        vmem = memory.Memory(shape=unsigned(28), depth=self._depth, init=[])
        m.submodules.values = vmem
        v_rd = vmem.read_port()
        v_wr = vmem.write_port()
        m.d.comb += v_rd.addr.eq(op.src)
        for j, (_, rp) in enumerate(lanes):
            # the lane holding byte offset + ((j - offset) mod 8), if that is offset or offset+1
            m.d.comb += rp.addr.eq((op.offset + ((j - op.offset) & 7)) >> 3)

        # stage B inputs (registered op fields of the issued split)
        b_valid = Signal()
        b_op = Signal(layout)
        m.d.sync += [b_valid.eq(issue), b_op.eq(op)]
        lane_data = Signal(data.ArrayLayout(unsigned(8), 8))
        m.d.comb += [lane_data[j].eq(rp.data) for j, (_, rp) in enumerate(lanes)]
        byte0 = Signal(8)
        byte1 = Signal(8)
        m.d.comb += [byte0.eq(lane_data[b_op.offset[:3]]), byte1.eq(lane_data[(b_op.offset + 1)[:3]])]
        r2 = Signal(14)
        m.d.comb += r2.eq(Mux(b_op.nosrc, 0, Mux(b_op.src_hi, v_rd.data[14:28], v_rd.data[:14])))
        r_b = Signal(_R_BITS)
        with m.Switch(b_op.nbytes):
            with m.Case(0):
                m.d.comb += r_b.eq(r2)
            with m.Case(1):
                m.d.comb += r_b.eq(Cat(byte0, r2))
            with m.Default():
                m.d.comb += r_b.eq(Cat(byte0, byte1, r2))
        # stage C
        c_valid = Signal()
        c_op = Signal(layout)
        c_r = Signal(_R_BITS)
        m.d.sync += [c_valid.eq(b_valid), c_op.eq(b_op), c_r.eq(r_b)]
        prod = Signal(_R_BITS + layout.members["magic"].width)
        m.d.comb += prod.eq(c_r * c_op.magic)
        # stage D
        d_valid = Signal()
        d_op = Signal(layout)
        d_r = Signal(_R_BITS)
        d_prod = Signal.like(prod)
        m.d.sync += [d_valid.eq(c_valid), d_op.eq(c_op), d_r.eq(c_r), d_prod.eq(prod)]
        quot = Signal(17)
        m.d.comb += quot.eq(d_prod >> d_op.shift)
        lo = Signal(14)
        hi = Signal(14)
        reduced = Signal()
        m.d.comb += [
            lo.eq(Mux(d_op.copy, d_r, d_r - quot * d_op.ma)),
            reduced.eq(~d_op.copy & (quot >= d_op.mb)),
            hi.eq(Mux(reduced, quot - d_op.mb, quot)),
        ]
        # stage E
        e_valid = Signal()
        e_op = Signal(layout)
        e_lo = Signal(14)
        e_hi = Signal(14)
        m.d.sync += [e_valid.eq(d_valid), e_op.eq(d_op), e_lo.eq(lo), e_hi.eq(hi)]
        canonical = Signal(init=1)
        with m.If(d_valid & reduced):
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
        m.d.comb += last_out.eq((pc == len(words)) & ~b_valid & ~c_valid & ~d_valid
                                & self.o_valid & ~(emit & ~e_op.copy))
        done = Signal()
        m.d.comb += [self.done.eq(done), self.canonical.eq(canonical)]
        with m.If(self.i.valid & loading):
            m.d.sync += [wrow.eq(wrow + 1), done.eq(0)]
            with m.If(wrow == 0):
                m.d.sync += canonical.eq(1)
            with m.If(wrow == nwords - 1):
                m.d.sync += [loading.eq(0), running.eq(1), pc.eq(0), gap.eq(7), wrow.eq(0)]
        with m.If(issue):
            m.d.sync += [pc.eq(pc + 1), gap.eq(0)]
        with m.Elif(running & (gap != 7)):
            m.d.sync += gap.eq(gap + 1)
        with m.If(running & last_out):
            m.d.sync += [running.eq(0), loading.eq(1), done.eq(1)]
        return m
