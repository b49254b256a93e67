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


def _refill(m, i, shifted, left, unit, levels):
    """The buffer after a cycle: ``shifted`` (what the consumer left, ``left`` units of
    ``unit`` bits) with the word on ``i`` appended above it when one is taken; ``levels``
    are the fill levels at which a word can arrive. Returns (next buffer, next count)."""
    new_buf = Signal.like(shifted)
    cnt_next = Signal.like(left)
    m.d.comb += [new_buf.eq(shifted), cnt_next.eq(left)]
    with m.If(i.valid & i.ready):
        with m.Switch(left):
            for v in levels:
                with m.Case(v):
                    m.d.comb += new_buf.eq(shifted | (i.payload << (unit * v)))
        m.d.comb += cnt_next.eq(left + 64 // unit)
    return new_buf, cnt_next


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
    below q are packed 8 to a word and written at ``base .. base+31``. After the 32nd word
    ``stop`` pulses (the sponge drops the rest of its output) and ``done`` pulses with it.
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
        cnt = Signal(range(17))            # bytes in buf
        pk = [Signal(12, name=f"pk_{j}") for j in range(LANES)]
        pcnt = Signal(range(LANES))
        m.d.comb += self.busy.eq(busy)

        # consume 3 bytes → two candidates
        take = Signal()
        m.d.comb += take.eq(busy & (cnt >= 3))
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

        left = Signal(range(17))
        m.d.comb += left.eq(Mux(take, cnt - 3, cnt))
        shifted = Signal(128)
        m.d.comb += shifted.eq(Mux(take, buf >> 24, buf))
        new_buf, cnt_next = _refill(m, self.i, shifted, left, 8, range(9))
        m.d.sync += buf.eq(new_buf)

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
        m.d.comb += [
            self.wr.en.eq(full),
            self.wr.addr.eq(base + widx),
            self.wr.data.eq(Cat(*ext[:LANES])),
        ]
        last = Signal()
        m.d.comb += last.eq(full & (widx == WORDS - 1))
        m.d.comb += [self.done.eq(last), self.stop.eq(last)]
        busy_next = Signal()
        m.d.comb += busy_next.eq(busy & ~last)
        with m.If(self.start):
            # buf must hold zeros above cnt: new words are OR-ed in at cnt
            m.d.sync += [base.eq(self.base), widx.eq(0), pcnt.eq(0), buf.eq(0)]
            m.d.comb += [busy_next.eq(1), cnt_next.eq(0)]
        m.d.sync += [busy.eq(busy_next), cnt.eq(cnt_next)]
        # ready = busy & (bytes left after this cycle's take <= 8), a function of busy and
        # cnt only: registered, computed from their next values (the sponge's output
        # handshake then starts at a flip-flop)
        left_next = Signal.like(left)
        m.d.comb += left_next.eq(Mux(cnt_next >= 3, cnt_next - 3, cnt_next))
        ready = Signal()
        m.d.sync += ready.eq(busy_next & (left_next <= 8))
        m.d.comb += self.i.ready.eq(ready)
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
        cnt = Signal(range(129))           # bits in buf (multiple of 16)
        m.d.comb += self.busy.eq(busy)

        need = Signal(range(49))
        m.d.comb += need.eq(Mux(eta3, 48, 32))
        emit = Signal()
        m.d.comb += emit.eq(busy & (cnt >= need))
        left = Signal(range(129))
        m.d.comb += left.eq(Mux(emit, cnt - need, cnt))
        shifted = Signal(128)
        m.d.comb += shifted.eq(Mux(emit, Mux(eta3, buf >> 48, buf >> 32), buf))
        new_buf, cnt_next = _refill(m, self.i, shifted, left, 1, range(0, 65, 16))
        m.d.sync += buf.eq(new_buf)

        for k in range(LANES):
            # η = 3: bits 6k .. 6k+5;  η = 2: bits 4k .. 4k+3
            x3 = _popcount(m, buf[6 * k:6 * k + 3], name=f"x3_{k}")
            y3 = _popcount(m, buf[6 * k + 3:6 * k + 6], name=f"y3_{k}")
            x2 = _popcount(m, buf[4 * k:4 * k + 2], name=f"x2_{k}")
            y2 = _popcount(m, buf[4 * k + 2:4 * k + 4], name=f"y2_{k}")
            x = Signal(range(4), name=f"x_{k}")
            y = Signal(range(4), name=f"y_{k}")
            m.d.comb += [x.eq(Mux(eta3, x3, x2)), y.eq(Mux(eta3, y3, y2))]
            m.d.comb += self.wr.data[k].eq(Mux(x >= y, x - y, Q + x - y))
        m.d.comb += [self.wr.en.eq(emit), self.wr.addr.eq(base + widx)]
        last = Signal()
        m.d.comb += last.eq(emit & (widx == WORDS - 1))
        m.d.comb += [self.done.eq(last), self.stop.eq(last)]
        with m.If(emit):
            m.d.sync += widx.eq(widx + 1)
        busy_next = Signal()
        eta3_next = Signal()
        m.d.comb += [busy_next.eq(busy & ~last), eta3_next.eq(eta3)]
        with m.If(self.start):
            m.d.sync += [base.eq(self.base), widx.eq(0), buf.eq(0)]
            m.d.comb += [busy_next.eq(1), eta3_next.eq(self.eta3), cnt_next.eq(0)]
        m.d.sync += [busy.eq(busy_next), eta3.eq(eta3_next), cnt.eq(cnt_next)]
        # ready = busy & (bits left after this cycle's output word <= 64), registered from
        # the next values of busy, η and cnt (the sponge's handshake starts at a flip-flop)
        need_next = Signal.like(need)
        left_next = Signal.like(left)
        m.d.comb += [need_next.eq(Mux(eta3_next, 48, 32)),
                     left_next.eq(Mux(cnt_next >= need_next, cnt_next - need_next, cnt_next))]
        ready = Signal()
        m.d.sync += ready.eq(busy_next & (left_next <= 64))
        m.d.comb += self.i.ready.eq(ready)
        return m
