# amaranth: UnusedElaboratable=no
"""Width converters and memory-port signatures of hdl/stream_util.py (Amaranth simulator)."""

import random

import pytest
from amaranth.hdl import Module
from amaranth.lib import memory, stream, wiring
from amaranth.sim import Simulator

from hdl.stream_util import (SymbolsToWords, WordsToSymbols, connect_read_port,
                             connect_write_port, read_port_signature, write_port_signature)
from sim.harness import cycles_until, simulate


def _bits_to_symbols(words, width):
    value = sum(w << (64 * k) for k, w in enumerate(words))
    n = 64 * len(words) // width
    return [(value >> (width * j)) & ((1 << width) - 1) for j in range(n)]


def _run(dut, inputs, n_out, *, rng, stall_in, stall_out, after_input=None):
    """Feed ``inputs`` to ``dut.i`` and collect ``n_out`` beats of ``dut.o``, with random
    idle cycles on both sides; returns the outputs and the cycle each input was taken."""
    out = []
    taken = []

    async def producer(ctx):
        cycle = 0
        for x in inputs:
            while rng.random() < stall_in:
                await ctx.tick()
                cycle += 1
            ctx.set(dut.i.payload, x)
            ctx.set(dut.i.valid, 1)
            cycle += await cycles_until(ctx, dut.i.ready)
            taken.append(cycle)
            await ctx.tick()
            cycle += 1
            ctx.set(dut.i.valid, 0)
        if after_input is not None:
            await after_input(ctx)

    async def consumer(ctx):
        while len(out) < n_out:
            ready = rng.random() >= stall_out
            ctx.set(dut.o.ready, ready)
            await ctx.delay(1e-9)
            if ready and ctx.get(dut.o.valid):
                out.append(ctx.get(dut.o.payload))
            await ctx.tick()

    sim = Simulator(dut)
    sim.add_clock(1e-6)
    sim.add_testbench(producer)
    sim.add_testbench(consumer)
    sim.run_until(1e-6 * 20_000)
    return out, taken


@pytest.mark.parametrize("width", [12, 13, 64, 80, 96, 100])
@pytest.mark.parametrize("stall", [0.0, 0.4])
def test_words_to_symbols(width, stall):
    rng = random.Random(width)
    words = [rng.getrandbits(64) for _ in range(width)]     # a whole number of symbols
    expected = _bits_to_symbols(words, width)
    out, taken = _run(WordsToSymbols(width=width), words, len(expected), rng=rng,
                      stall_in=stall, stall_out=stall)
    assert out == expected
    if width >= 64 and stall == 0:
        assert taken == list(range(len(words))), "a word per cycle, no stall"


@pytest.mark.parametrize("width", [10, 12, 64, 80])
def test_symbols_to_words(width):
    rng = random.Random(100 + width)
    n = 64                                                    # a whole number of words
    symbols = [rng.getrandbits(width) for _ in range(n)]
    value = sum(s << (width * j) for j, s in enumerate(symbols))
    expected = [(value >> (64 * k)) & ((1 << 64) - 1) for k in range(width * n // 64)]
    out, _ = _run(SymbolsToWords(width=width), symbols, len(expected), rng=rng,
                  stall_in=0.3, stall_out=0.3)
    assert out == expected


def test_symbols_to_words_flush():
    """Three 12-bit symbols, then flush: one zero-padded word."""
    dut = SymbolsToWords(width=12)
    symbols = [0xABC, 0x123, 0xFED]

    async def flush(ctx):
        ctx.set(dut.flush, 1)
        await ctx.tick()
        ctx.set(dut.flush, 0)

    out, _ = _run(dut, symbols, 1, rng=random.Random(1), stall_in=0, stall_out=0,
                  after_input=flush)
    assert out == [0xFED123ABC]


class _RoundTrip(wiring.Component):
    """words → ``width``-bit symbols → words."""

    i: wiring.In(stream.Signature(64))
    o: wiring.Out(stream.Signature(64))

    def __init__(self, width):
        self._width = width
        super().__init__()

    def elaborate(self, platform):
        m = Module()
        m.submodules.a = a = WordsToSymbols(width=self._width)
        m.submodules.b = b = SymbolsToWords(width=self._width)
        wiring.connect(m, wiring.flipped(self.i), a.i)
        wiring.connect(m, a.o, b.i)
        wiring.connect(m, b.o, wiring.flipped(self.o))
        return m


@pytest.mark.parametrize("width", [13, 80])
def test_round_trip(width):
    rng = random.Random(7)
    words = [rng.getrandbits(64) for _ in range(width)]
    out, _ = _run(_RoundTrip(width), words, len(words), rng=rng, stall_in=0.2, stall_out=0.2)
    assert out == words


def test_start_drops_held_bits():
    """One word, then ``start``: the next symbols come from the following words only."""
    rng = random.Random(8)
    dut = WordsToSymbols(width=80)
    words = [rng.getrandbits(64) for _ in range(5)]
    out = []

    async def bench(ctx):
        ctx.set(dut.o.ready, 1)
        for n, w in enumerate([rng.getrandbits(64)] + words):
            ctx.set(dut.i.payload, w)
            ctx.set(dut.i.valid, 1)
            await ctx.delay(1e-9)
            if ctx.get(dut.o.valid):
                out.append(ctx.get(dut.o.payload))
            await ctx.tick()
            ctx.set(dut.i.valid, 0)
            if n == 0:
                ctx.set(dut.start, 1)
                await ctx.tick()
                ctx.set(dut.start, 0)

    simulate(dut, bench)
    assert out == _bits_to_symbols(words, 80)


def test_memory_ports():
    """A block written against the port signatures, connected to a lib.memory."""
    sig_r = read_port_signature(4, 8)
    sig_w = write_port_signature(4, 8)
    assert set(sig_r.members) == {"addr", "data"}
    assert set(sig_w.members) == {"en", "addr", "data"}

    class Copier(wiring.Component):
        """Copies word a to word a + 8 (synchronous read: one cycle of latency)."""

        def __init__(self):
            super().__init__({"rd": wiring.Out(sig_r), "wr": wiring.Out(sig_w),
                              "a": wiring.In(4), "go": wiring.In(1)})

        def elaborate(self, platform):
            m = Module()
            from amaranth.hdl import Signal
            pending = Signal()
            dst = Signal(4)
            m.d.comb += self.rd.addr.eq(self.a)
            m.d.sync += [pending.eq(self.go), dst.eq(self.a + 8)]
            m.d.comb += [self.wr.en.eq(pending), self.wr.addr.eq(dst),
                         self.wr.data.eq(self.rd.data)]
            return m

    class Top(wiring.Component):
        def __init__(self):
            super().__init__({"a": wiring.In(4), "go": wiring.In(1),
                              "peek": wiring.In(4), "seen": wiring.Out(8)})

        def elaborate(self, platform):
            m = Module()
            m.submodules.mem = mem = memory.Memory(shape=8, depth=16, init=list(range(100, 116)))
            m.submodules.cp = cp = Copier()
            connect_read_port(m, cp.rd, mem.read_port())
            connect_write_port(m, cp.wr, mem.write_port())
            peek = mem.read_port(domain="comb")
            m.d.comb += [cp.a.eq(self.a), cp.go.eq(self.go), peek.addr.eq(self.peek),
                         self.seen.eq(peek.data)]
            return m

    dut = Top()

    async def bench(ctx):
        ctx.set(dut.a, 3)
        ctx.set(dut.go, 1)
        await ctx.tick()
        ctx.set(dut.go, 0)
        await ctx.tick()
        await ctx.tick()
        ctx.set(dut.peek, 11)
        await ctx.delay(1e-9)
        assert ctx.get(dut.seen) == 103

    simulate(dut, bench)


def test_parameters():
    with pytest.raises(ValueError, match="Symbol width must be a positive integer, not 0"):
        WordsToSymbols(width=0)
    with pytest.raises(ValueError, match="Symbol width must be a positive integer, not 'x'"):
        SymbolsToWords(width="x")


@pytest.mark.parametrize("p_valid, p_ready", [(1.0, 1.0), (0.7, 0.5), (0.3, 0.9), (1.0, 0.2)])
def test_register_slice(p_valid, p_ready):
    """Every word comes out once, in order, whatever the two sides do; i.ready and o.valid
    do not move with the other side's signals in the same cycle (registers); with both sides
    always willing the slice passes one word per cycle, one cycle late."""
    from hdl.stream_util import RegisterSlice
    dut = RegisterSlice(16)
    rnd = random.Random(f"{p_valid}-{p_ready}")
    words = [rnd.randrange(1 << 16) for _ in range(300)]
    got, handshakes = [], []

    async def testbench(ctx):
        k, cycle = 0, 0
        while len(got) < len(words):
            assert cycle < 5000
            offer = k < len(words) and rnd.random() < p_valid
            ready = rnd.random() < p_ready
            seen = []
            for other in (0, 1):                  # the other side's signals, both ways
                ctx.set(dut.i.valid, other)
                ctx.set(dut.o.ready, other)
                seen.append((ctx.get(dut.i.ready), ctx.get(dut.o.valid), ctx.get(dut.o.payload)))
            assert seen[0] == seen[1], f"cycle {cycle}: a combinational path through the slice"
            ctx.set(dut.i.valid, offer)
            ctx.set(dut.i.payload, words[k] if offer else 0)
            ctx.set(dut.o.ready, ready)
            if offer and ctx.get(dut.i.ready):
                handshakes.append(cycle)
                k += 1
            if ready and ctx.get(dut.o.valid):
                got.append(ctx.get(dut.o.payload))
            await ctx.tick()
            cycle += 1
        return cycle

    simulate(dut, testbench)
    assert got == words
    if p_valid == p_ready == 1.0:
        assert handshakes == list(range(len(words)))
