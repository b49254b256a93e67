"""Samplers fed by the sponge's output words: SampleNTT (FIPS 203 Algorithm 7) and
SamplePolyCBD_η (Algorithm 8). Both write a polynomial as 32 words of 8 coefficients.
"""

from amaranth.hdl import Module, Signal, Mux, Cat, unsigned
from amaranth.lib import stream, wiring
from amaranth.lib.wiring import In, Out

from golden.mlkem import Q
from hdl.mlkem.arith import check_addr_width, LANES, WORDS, PolyWord
from hdl.stream_util import write_port_signature

__all__ = ["RejectionSampler", "CbdSampler"]


def _popcount(m, bits, *, name):
    r = Signal(range(len(bits) + 1), name=name)
    m.d.comb += r.eq(sum(bits[j] for j in range(len(bits))))
    return r


def _refill(m, hs, word, shifted, left, unit, levels):
    """The buffer after a cycle: ``shifted`` (what the consumer left, ``left`` units of
    ``unit`` bits) with ``word`` appended above it when one is taken (``hs``); ``levels``
    are the fill levels at which a word can arrive."""
    new_buf = Signal.like(shifted)
    m.d.comb += new_buf.eq(shifted)
    with m.If(hs):
        with m.Switch(left):
            for v in levels:
                with m.Case(v):
                    m.d.comb += new_buf.eq(shifted | (word << (unit * v)))
    return new_buf


class _Sampler(wiring.Component):
    """The ports both samplers share: a launch (``start``, ``base`` and the sampler's own
    parameters, sampled at ``start``), the sponge's output words, the write port."""
    _params = {}

    def __init__(self, *, addr_width):
        check_addr_width(addr_width)
        self._addr_width = addr_width
        super().__init__({
            "start": In(1), **{name: In(shape) for name, shape in self._params.items()},
            "base": In(addr_width),
            "i": In(stream.Signature(unsigned(64))),
            "stop": Out(1), "done": Out(1), "busy": Out(1),
            "wr": Out(write_port_signature(addr_width, PolyWord)),
        })


class RejectionSampler(_Sampler):
    """SampleNTT over a SHAKE128 output stream (FIPS 203 Algorithm 7).

    Bytes enter a 16-byte buffer from ``i``; every cycle with 3 bytes ``C0 C1 C2`` buffered
    gives the candidates ``d1 = C0 + 256·(C1 mod 16)`` and ``d2 = ⌊C1/16⌋ + 16·C2``; those
    below q are packed 8 to a word and written at ``base .. base+31``; the write port is a
    register (a word is written in the cycle after it is complete). With the 32nd word's
    write ``stop`` pulses (the sponge drops the rest of its output) and ``done`` with it.
    The cycle count depends on the XOF output (public data: it comes from ρ).

    Members
    -------
    start : ``In(1)``, base : ``In(addr_width)``  (sampled at ``start``)
    i : ``In(stream.Signature(unsigned(64)))``   XOF output words
    stop : ``Out(1)``, done : ``Out(1)``, busy : ``Out(1)``
    wr : ``Out(write_port_signature(addr_width, PolyWord))``
    """

    def elaborate(self, platform):
        m = Module()
        aw = self._addr_width
        busy = Signal()
        base = Signal(aw)
        widx = Signal(range(WORDS + 1))
        buf = Signal(128)
        pk = [Signal(12, name=f"pk_{j}") for j in range(LANES)]
        pcnt = Signal(range(LANES))
        m.d.comb += self.busy.eq(busy)

        # The byte count is kept as ``left``, the bytes in buf after this cycle's take, and
        # ``take_r``, whether 3 bytes are taken in this cycle: both registers, computed a
        # cycle ahead from the next count, so the buffer's shift and refill position start
        # at flip-flops (``busy`` masks them once the sampler has finished)
        take_r = Signal()
        left = Signal(range(17))
        ready_r = Signal()
        take = Signal()
        m.d.comb += [take.eq(busy & take_r), self.i.ready.eq(busy & ready_r)]

        # consume 3 bytes → two candidates
        d1 = Signal(12)
        d2 = Signal(12)
        m.d.comb += [d1.eq(buf[0:12]), d2.eq(buf[12:24])]      # C0 + 256(C1 & 15), (C1 >> 4) + 16 C2
        ok1 = Signal()
        ok2 = Signal()
        m.d.comb += [ok1.eq(take & (d1 < Q)), ok2.eq(take & (d2 < Q))]
        n = Signal(range(3))
        m.d.comb += n.eq(ok1 + ok2)
        first = Signal(12)
        m.d.comb += first.eq(Mux(ok1, d1, d2))

        shifted = Signal(128)
        m.d.comb += shifted.eq(Mux(take, buf >> 24, buf))
        hs = Signal()
        m.d.comb += hs.eq(self.i.valid & self.i.ready)
        m.d.sync += buf.eq(_refill(m, hs, self.i.payload, shifted, left, 8, range(9)))

        # pack accepted candidates, 8 per word
        # ext = pk[0 .. pcnt-1] ‖ accepted candidates (at most 9 entries are ever used)
        ext = [Signal(12, name=f"ext_{j}") for j in range(LANES + 2)]
        for j in range(LANES + 2):
            if j < LANES - 1:
                m.d.comb += ext[j].eq(Mux(pcnt > j, pk[j], Mux(pcnt == j, first, d2)))
            elif j == LANES - 1:
                m.d.comb += ext[j].eq(Mux(pcnt == j, first, d2))
            else:
                m.d.comb += ext[j].eq(d2)
        total = Signal(range(LANES + 2))
        m.d.comb += total.eq(pcnt + n)
        full = Signal()
        m.d.comb += full.eq(busy & (total >= LANES))
        with m.If(full):
            m.d.sync += [pk[0].eq(ext[LANES]), pk[1].eq(ext[LANES + 1]), pcnt.eq(total - LANES),
                         widx.eq(widx + 1)]
        with m.Elif(busy):
            m.d.sync += [pk[j].eq(ext[j]) for j in range(LANES)]
            m.d.sync += pcnt.eq(total)
        # the write port, done and stop are registers: the last word is written, and done
        # and stop pulse, in the cycle after the word is complete
        last = Signal()
        last_r = Signal()
        m.d.comb += last.eq(full & (widx == WORDS - 1))
        m.d.sync += [
            self.wr.en.eq(full),
            self.wr.addr.eq(base + widx),
            self.wr.data.eq(Cat(*ext[:LANES])),
            last_r.eq(last),
        ]
        m.d.comb += [self.done.eq(last_r), self.stop.eq(last_r)]
        busy_next = Signal()
        m.d.comb += busy_next.eq(busy & ~last)
        with m.If(self.start):
            # buf must hold zeros above the count: new words are OR-ed in at ``left``
            m.d.sync += [base.eq(self.base), widx.eq(0), pcnt.eq(0), buf.eq(0)]
            m.d.comb += busy_next.eq(1)
        m.d.sync += busy.eq(busy_next)
        # the next cycle's take, left and ready (= bytes left after its take <= 8), from
        # ``left`` with the word's handshake and ``start`` in the last multiplexer levels: with
        # a word (8 bytes) there are at least 3 bytes; a start empties the buffer
        m.d.sync += [
            take_r.eq(busy & ~self.start & (hs | (left >= 3))),
            left.eq(Mux(self.start, 0,
                        Mux(hs, left + 5, Mux(busy & (left >= 3), left - 3, left)))),
            ready_r.eq(self.start | (busy & Mux(hs, left <= 3, left <= 11))),
        ]
        return m


class CbdSampler(_Sampler):
    """SamplePolyCBD_η over a SHAKE256 (PRF) output stream (FIPS 203 Algorithm 8).

    Each output word takes the next ``16·η`` bits: coefficient ``f_i`` of the word is
    ``popcount(x) − popcount(y) mod q`` for the ``η``-bit fields ``x``, ``y`` in that order.
    32 words are written at ``base .. base+31``; ``stop`` and ``done`` pulse with the last
    write. With the sponge delivering one word per cycle the unit takes one word per cycle
    for η = 3 (3 words → 4 output words) and every other cycle for η = 2; the timing does
    not depend on the data.

    Members
    -------
    start : ``In(1)``, eta3 : ``In(1)`` (η = 3, else 2), base : ``In(addr_width)``
    i : ``In(stream.Signature(unsigned(64)))``
    stop, done, busy : ``Out(1)``
    wr : ``Out(write_port_signature(addr_width, PolyWord))``
    """
    _params = {"eta3": 1}

    def elaborate(self, platform):
        m = Module()
        aw = self._addr_width
        busy = Signal()
        eta3 = Signal()
        base = Signal(aw)
        widx = Signal(range(WORDS + 1))
        buf = Signal(128)
        m.d.comb += self.busy.eq(busy)

        # As in the rejection sampler: ``emit_r`` (an output word in this cycle) and
        # ``left`` (bits in buf after it) are registers computed a cycle ahead
        emit_r = Signal()
        left = Signal(range(129))
        ready_r = Signal()
        last_r = Signal()
        emit = Signal()
        m.d.comb += [emit.eq(busy & emit_r), self.i.ready.eq(busy & ready_r)]
        shifted = Signal(128)
        m.d.comb += shifted.eq(Mux(emit, Mux(eta3, buf >> 48, buf >> 32), buf))
        hs = Signal()
        m.d.comb += hs.eq(self.i.valid & self.i.ready)
        m.d.sync += buf.eq(_refill(m, hs, self.i.payload, shifted, left, 1, range(0, 65, 16)))

        for k in range(LANES):
            # η = 3: bits 6k .. 6k+5;  η = 2: bits 4k .. 4k+3
            x3 = _popcount(m, buf[6 * k:6 * k + 3], name=f"x3_{k}")
            y3 = _popcount(m, buf[6 * k + 3:6 * k + 6], name=f"y3_{k}")
            x2 = _popcount(m, buf[4 * k:4 * k + 2], name=f"x2_{k}")
            y2 = _popcount(m, buf[4 * k + 2:4 * k + 4], name=f"y2_{k}")
            x = Signal(range(4), name=f"x_{k}")
            y = Signal(range(4), name=f"y_{k}")
            m.d.comb += [x.eq(Mux(eta3, x3, x2)), y.eq(Mux(eta3, y3, y2))]
            # x − y mod q as a table of the 4 bits of x and y (no carry chain)
            with m.Switch(Cat(x, y)):
                for xv in range(4):
                    for yv in range(4):
                        with m.Case(xv | (yv << 2)):
                            m.d.comb += self.wr.data[k].eq((xv - yv) % Q)
        m.d.comb += [self.wr.en.eq(emit), self.wr.addr.eq(base + widx)]
        last = Signal()
        m.d.comb += last.eq(emit & (widx == WORDS - 1))
        # done and stop with the last write, from a register (``last_r`` equals ``last``)
        m.d.comb += [self.done.eq(last_r), self.stop.eq(last_r)]
        widx_next = Signal.like(widx)
        m.d.comb += widx_next.eq(widx + emit)
        m.d.sync += widx.eq(widx_next)
        busy_next = Signal()
        m.d.comb += busy_next.eq(busy & ~last)
        with m.If(self.start):
            m.d.sync += [base.eq(self.base), buf.eq(0), widx.eq(0), eta3.eq(self.eta3)]
            m.d.comb += busy_next.eq(1)
        m.d.sync += busy.eq(busy_next)
        # the next cycle's emit, left, ready (= bits left after its output word <= 64) and
        # last, from ``left`` and the word index with the word's handshake and ``start`` in
        # the last multiplexer levels: with a word (64 bits) there are at least 16η bits; a
        # start empties the buffer (the next cycle emits nothing, whatever η)
        need = Signal(range(49))
        emit_next = Signal()
        m.d.comb += [need.eq(Mux(eta3, 48, 32)),
                     emit_next.eq(busy & ~self.start & (hs | (left >= need)))]
        m.d.sync += [
            emit_r.eq(emit_next),
            left.eq(Mux(self.start, 0,
                        Mux(hs, Mux(eta3, left + 16, left + 32),
                            Mux(busy & (left >= need), left - need, left)))),
            ready_r.eq(self.start | (busy & Mux(hs, left <= need, left <= need + 64))),
            last_r.eq(emit_next & (widx_next == WORDS - 1)),
        ]
        return m
