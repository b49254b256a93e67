"""Harness tops: thin Amaranth wrappers that give a block ports Verilator can take.

:class:`EngineHarness` puts an algorithm engine at the top level with ``abort`` renamed
``cancel`` (``abort`` is a reserved word in Verilator's C++ model, so it cannot be a
top-level port); every other member keeps its name. :func:`forward` connects the members
of an inner component to the harness's own. :func:`simulate` runs a block under the
Amaranth simulator with the testbenches of a unit test.
"""

from amaranth.hdl import Module
from amaranth.lib import wiring
from amaranth.sim import Simulator

__all__ = ["forward", "EngineHarness", "simulate", "stream_put", "stream_get", "hash_words_in",
           "hash_words_out", "latency_monitor", "cycles_until"]


def simulate(dut, *testbenches, background=(), period=1e-6):
    """Run ``dut`` in the Amaranth simulator with a clock of ``period`` until the
    ``testbenches`` return (the ``background`` ones run alongside and are dropped then)."""
    sim = Simulator(dut)
    sim.add_clock(period)
    for bench in testbenches:
        sim.add_testbench(bench)
    for bench in background:
        sim.add_testbench(bench, background=True)
    sim.run()


async def hash_words_in(ctx, port, msg, mode, *, gap=0):
    """Offer ``msg`` to a hash-service input stream ``port`` as words of up to 8 bytes (an
    empty message is one empty word) in sponge ``mode``, ``gap`` idle cycles between words;
    returns the number of words."""
    words = [msg[i:i + 8] for i in range(0, len(msg), 8)] or [b""]
    for i, w in enumerate(words):
        ctx.set(port.payload, {"data": int.from_bytes(w, "little"), "nbytes": len(w),
                               "last": i == len(words) - 1, "mode": mode})
        ctx.set(port.valid, 1)
        await ctx.tick().until(port.ready)
        ctx.set(port.valid, 0)
        if i != len(words) - 1:
            for _ in range(gap):
                await ctx.tick()
    return len(words)


async def hash_words_out(ctx, port, stop, *, words=4):
    """Take ``words`` 64-bit output words from the stream ``port`` (``stop`` raised with the
    last); returns their bytes and the cycles it took."""
    out, n = [], 0
    ctx.set(port.ready, 1)
    while len(out) < words:
        await ctx.delay(1e-9)
        if ctx.get(port.valid):
            out.append(ctx.get(port.payload))
            ctx.set(stop, len(out) == words)
        await ctx.tick()
        n += 1
    ctx.set(stop, 0)
    ctx.set(port.ready, 0)
    return b"".join(x.to_bytes(8, "little") for x in out), n


async def stream_put(ctx, port, payload):
    """Offer ``payload`` on the stream ``port`` and return after the edge that takes it."""
    ctx.set(port.payload, payload)
    ctx.set(port.valid, 1)
    await ctx.tick().until(port.ready)
    ctx.set(port.valid, 0)


async def stream_get(ctx, port):
    """Take one payload from the stream ``port`` (``ready`` high until it comes)."""
    ctx.set(port.ready, 1)
    await ctx.tick().until(port.valid)
    payload = ctx.get(port.payload)
    ctx.set(port.ready, 0)
    return payload


def forward(m, inner, outer_of):
    """Connect every member of ``inner`` to the harness member ``outer_of(name)``."""
    for name, member in inner.signature.members.items():
        outer = outer_of(name)
        if member.is_port:
            if member.flow == wiring.In:
                m.d.comb += getattr(inner, name).eq(outer)
            else:
                m.d.comb += outer.eq(getattr(inner, name))
        else:
            wiring.connect(m, getattr(inner, name), wiring.flipped(outer))


def _top_name(name):
    return "cancel" if name == "abort" else name


class EngineHarness(wiring.Component):
    """``engine`` at the top level, ``abort`` renamed ``cancel``.

    Parameters
    ----------
    engine : wiring.Component
        The engine (a KEM engine or the signature engine).
    """

    def __init__(self, engine):
        self._engine = engine
        super().__init__(wiring.Signature({_top_name(n): mem
                                           for n, mem in engine.signature.members.items()}))

    def elaborate(self, platform):
        m = Module()
        m.submodules.engine = e = self._engine
        forward(m, e, lambda name: getattr(self, _top_name(name)))
        return m


async def cycles_until(ctx, signal):
    """Wait (a clock edge at a time) until ``signal`` is high in the current cycle; returns
    the edges waited."""
    edges = 0
    while True:
        await ctx.delay(1e-9)
        if ctx.get(signal):
            return edges
        await ctx.tick()
        edges += 1


def latency_monitor(first_valid, first_ready, end_valid, out, *, skew=0):
    """A background testbench for :func:`simulate` that appends to ``out``, per request, the
    clock edges from the first handshake of ``first_valid``/``first_ready`` (plus ``skew``)
    to the first edge at which ``end_valid`` is seen."""
    async def monitor(ctx):
        cycle, first = 0, None
        async for _, _, fv, fr, ev in ctx.tick().sample(first_valid, first_ready, end_valid):
            cycle += 1
            if first is None and fv and fr:
                first = cycle + skew
            if first is not None and ev:
                out.append(cycle - first)
                first = None
    return monitor
