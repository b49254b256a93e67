# amaranth: UnusedElaboratable=no
"""KeccakSponge / KmacAdapter / Kmac256: Amaranth-simulator unit tests and cocotb benches."""

import hashlib
import os
import random

import pytest
from amaranth.hdl import Module, unsigned
from amaranth.lib import stream, wiring
from amaranth.lib.wiring import In, Out
from amaranth.sim import Simulator
from Crypto.Hash import KMAC256, cSHAKE256

from golden import keccak as gk
from hdl.sponge import (KeccakSponge, KmacAdapter, Kmac256, SpongeMode, SpongeIn, MsgWord,
                        RATE_BYTES, DOMAIN)


def reference(mode, msg, outlen):
    """The golden model's output for ``mode``, cross-checked with hashlib where it exists
    (cSHAKE256 mode is the bare sponge with ``0x04`` padding; KMAC checks it end to end)."""
    out = gk.sponge(RATE_BYTES[mode], DOMAIN[mode], msg, outlen)
    if mode is SpongeMode.SHA3_256:
        assert out[:32] == hashlib.sha3_256(msg).digest()[:outlen]
    elif mode is SpongeMode.SHA3_512:
        assert out[:64] == hashlib.sha3_512(msg).digest()[:outlen]
    elif mode is SpongeMode.SHAKE128:
        assert out == hashlib.shake_128(msg).digest(outlen)
    elif mode is SpongeMode.SHAKE256:
        assert out == hashlib.shake_256(msg).digest(outlen)
    return out


def words_of(msg):
    """(data, nbytes, last) words of a message; an empty message is one empty word."""
    words = []
    for off in range(0, max(len(msg), 1), 8):
        chunk = msg[off:off + 8]
        words.append((int.from_bytes(chunk, "little"), len(chunk), off + 8 >= len(msg)))
    return words


def _run(dut, *testbenches, deadline=None):
    sim = Simulator(dut)
    sim.add_clock(1e-6)
    for tb in testbenches:
        sim.add_testbench(tb)
    if deadline is None:
        sim.run()
    else:
        sim.run_until(deadline * 1e-6)


def sponge_testbenches(dut, jobs, *, rng, idle_prob=0.0, stall_prob=0.0, late_stop=False,
                       results=None):
    """A producer and a consumer testbench running ``jobs`` = [(mode, msg, outlen)]."""
    results = [] if results is None else results

    async def producer(ctx):
        for mode, msg, _ in jobs:
            for data, nbytes, last in words_of(msg):
                while rng.random() < idle_prob:
                    await ctx.tick()
                ctx.set(dut.i.payload, SpongeIn.const(
                    {"data": data, "nbytes": nbytes, "last": last, "mode": mode}))
                ctx.set(dut.i.valid, 1)
                await ctx.tick().until(dut.i.ready)
                ctx.set(dut.i.valid, 0)

    async def consumer(ctx):
        for mode, msg, outlen in jobs:
            nwords = (outlen + 7) // 8
            out = b""
            for w in range(nwords):
                while rng.random() < stall_prob:
                    await ctx.tick()
                ctx.set(dut.o.ready, 1)
                while not ctx.get(dut.o.valid):
                    await ctx.tick()
                out += ctx.get(dut.o.payload).to_bytes(8, "little")
                early = w == nwords - 1 and not late_stop
                ctx.set(dut.stop, early)
                await ctx.tick()
                ctx.set(dut.o.ready, 0)
                ctx.set(dut.stop, 0)
            if late_stop:
                for _ in range(rng.randrange(4)):
                    await ctx.tick()
                ctx.set(dut.stop, 1)
                await ctx.tick()
                ctx.set(dut.stop, 0)
            results.append(out[:outlen])
            assert out[:outlen] == reference(mode, msg, outlen), (mode, len(msg), outlen)

    return producer, consumer


BOUNDARY = [0, 1, 7, 8, 9, 71, 72, 73, 135, 136, 137, 167, 168, 169, 271, 272, 273]


@pytest.mark.parametrize("mode", list(SpongeMode))
def test_boundary_lengths(mode):
    rng = random.Random(int(mode.value))
    rate = {SpongeMode.SHA3_512: 72, SpongeMode.SHAKE128: 168}.get(mode, 136)
    jobs = [(mode, rng.randbytes(n), rng.choice([8, 32, rate + 8])) for n in BOUNDARY]
    dut = KeccakSponge()
    results = []
    _run(dut, *sponge_testbenches(dut, jobs, rng=rng, results=results))
    assert len(results) == len(jobs)


def test_cshake256_vs_pycryptodome():
    """cSHAKE256 mode with the client-side bytepad(encode_string(N) ‖ encode_string(S))
    prefix equals pycryptodome's cSHAKE256 (N empty)."""
    rng = random.Random(9)
    jobs, expect = [], []
    for S, n, outlen in [(b"pqvote", 0, 32), (b"x" * 140, 100, 200), (b"\x00", 136, 64)]:
        X = rng.randbytes(n)
        prefix = gk.bytepad(gk.encode_string(b"") + gk.encode_string(S), 136)
        jobs.append((SpongeMode.CSHAKE256, prefix + X, outlen))
        expect.append(cSHAKE256.new(data=X, custom=S).read(outlen))
    dut = KeccakSponge()
    results = []
    _run(dut, *sponge_testbenches(dut, jobs, rng=rng, results=results))
    assert results == expect


@pytest.mark.parametrize("rpc,idle_prob,stall_prob,late_stop", [
    (1, 0.5, 0.5, False), (1, 0.3, 0.0, True), (1, 0.0, 0.0, True),
    (2, 0.0, 0.5, True), (2, 0.5, 0.5, False), (2, 0.0, 0.0, True)])
def test_mixed_random(rpc, idle_prob, stall_prob, late_stop):
    """Modes interleaved back to back, random idle and back-pressure, long outputs."""
    rng = random.Random(hash((rpc, idle_prob, stall_prob, late_stop)) & 0xFFFF)
    jobs = []
    for _ in range(10):
        mode = rng.choice(list(SpongeMode))
        jobs.append((mode, rng.randbytes(rng.randrange(300)), rng.randrange(1, 400)))
    dut = KeccakSponge(rounds_per_cycle=rpc)
    results = []
    _run(dut, *sponge_testbenches(dut, jobs, rng=rng, idle_prob=idle_prob,
                                  stall_prob=stall_prob, late_stop=late_stop, results=results))
    assert len(results) == len(jobs)


def test_stop_during_repermute():
    """Reading exactly one rate block starts a re-permutation; a stop that arrives during
    it discards the result and the next message still comes out right."""
    rng = random.Random(11)
    jobs = []
    for mode in SpongeMode:
        jobs += [(mode, rng.randbytes(rng.randrange(200)), RATE_BYTES[mode]) for _ in range(2)]
    dut = KeccakSponge()
    results = []
    _run(dut, *sponge_testbenches(dut, jobs, rng=rng, late_stop=True, results=results))
    assert len(results) == len(jobs)


def _timed_sponge(rpc, jobs, last=None):
    """Cycle of the first output word of every job (no idle, no back-pressure)."""
    dut = KeccakSponge(rounds_per_cycle=rpc)
    first = []
    rng = random.Random(0)
    producer, consumer = sponge_testbenches(dut, jobs, rng=rng)
    cycle = [0]

    async def timer(ctx):
        was_valid = False
        while True:
            await ctx.tick()
            cycle[0] += 1
            valid = ctx.get(dut.o.valid)
            if valid and not was_valid and len(first) < len(jobs):
                first.append(cycle[0])
            if last is not None and valid and ctx.get(dut.o.ready):
                last.append(cycle[0])
            was_valid = valid and not ctx.get(dut.stop)

    sim = Simulator(dut)
    sim.add_clock(1e-6)
    sim.add_testbench(producer)
    sim.add_testbench(consumer)
    sim.add_testbench(timer, background=True)
    sim.run()
    return first


@pytest.mark.parametrize("rpc", [1, 2])
def test_squeeze_throughput(rpc):
    """Long outputs: a rate block of r words read one per cycle, then the permutation
    again: r + 24/rpc cycles per block."""
    for mode in (SpongeMode.SHAKE128, SpongeMode.SHAKE256):
        rw = RATE_BYTES[mode] // 8
        blocks = 4
        hs = []
        first = _timed_sponge(rpc, [(mode, b"abc", blocks * rw * 8)], hs)
        cycles = hs[-1] - first[0] + 1
        assert cycles == (blocks - 1) * (rw + 24 // rpc) + rw, (mode, cycles)


@pytest.mark.parametrize("rpc", [1, 2])
def test_back_to_back_short(rpc):
    """One-block SHAKE256 messages (8 of 17 words) with 16-byte outputs: 17 + 24/rpc + 3
    cycles per message (the second output word read with stop, the state cleared, 17
    rotations — 8 words and 9 zero words — then the permutation; the next message's first
    word waits in the input register meanwhile)."""
    jobs = [(SpongeMode.SHAKE256, bytes([n]) * 64, 16) for n in range(6)]
    first = _timed_sponge(rpc, jobs)
    periods = [b - a for a, b in zip(first, first[1:])]
    assert periods == [17 + 24 // rpc + 3] * (len(jobs) - 1)


@pytest.mark.parametrize("rpc", [1, 2])
def test_first_output(rpc):
    """A one-block message of n words offered one per cycle from cycle t on an idle sponge
    gives its first output word in cycle t + r + 24/rpc + 1 (r rotations, whatever n)."""
    for mode, n in [(SpongeMode.SHA3_512, 8), (SpongeMode.SHAKE256, 5), (SpongeMode.SHAKE128, 1)]:
        rw = RATE_BYTES[mode] // 8
        first = _timed_sponge(rpc, [(mode, b"\x11" * (8 * n - 1), 8)])
        # the producer offers the first word in cycle 0; the timer counts from cycle 1
        assert first[0] == rw + 24 // rpc + 1, (mode, first)


@pytest.mark.parametrize("rpc", [1, 2])
def test_long_message_throughput(rpc):
    """Absorbing r lanes by rotation, then permuting: r + 24/rpc cycles per block with
    words offered one per cycle (the input register holds the next block's first word
    while the permutation runs)."""
    blocks = 4
    for mode in [SpongeMode.SHAKE128, SpongeMode.SHA3_512]:
        rate = RATE_BYTES[mode]
        # the second message has 2*blocks blocks and starts after the stop of the first
        jobs = [(mode, b"\xa5" * (rate - 1), 8), (mode, b"\x5a" * (rate * 2 * blocks - 1), 8)]
        first = _timed_sponge(rpc, jobs)
        per_block = rate // 8 + 24 // rpc
        # + 2: the first message's stop cycle and the clear cycle
        assert first[1] - first[0] == per_block * 2 * blocks + 2, mode


def test_bad_parameter():
    with pytest.raises(ValueError, match=r"Round count per cycle must be 1 or 2, not 3"):
        KeccakSponge(rounds_per_cycle=3)
    with pytest.raises(TypeError, match=r"Customization must be bytes, not 'x'"):
        KmacAdapter(customization="x")


@pytest.mark.parametrize("rpc", [1, 2])
def test_kmac256(rpc):
    rng = random.Random(rpc)
    dut = Kmac256(customization=b"pqvote/vote", rounds_per_cycle=rpc)
    cases = [(rng.randbytes(32), rng.randbytes(n)) for n in [0, 1, 5, 6, 7, 8, 13, 14, 66, 135, 136, 200]]

    async def producer(ctx):
        for key, msg in cases:
            ctx.set(dut.key, int.from_bytes(key, "little"))
            for data, nbytes, last in words_of(msg):
                while rng.random() < 0.3:
                    await ctx.tick()
                ctx.set(dut.i.payload, MsgWord.const({"data": data, "nbytes": nbytes, "last": last}))
                ctx.set(dut.i.valid, 1)
                await ctx.tick().until(dut.i.ready)
                ctx.set(dut.i.valid, 0)
            # the key stays until the tag is out
            await ctx.tick().until(dut.o.valid & dut.o.ready)

    async def consumer(ctx):
        for key, msg in cases:
            ctx.set(dut.o.ready, 1)
            tag, = await ctx.tick().sample(dut.o.payload).until(dut.o.valid)
            ctx.set(dut.o.ready, 0)
            expect = KMAC256.new(key=key, data=msg, mac_len=32, custom=b"pqvote/vote").digest()
            assert tag.to_bytes(32, "little") == expect, len(msg)
            assert expect == gk.kmac256(key, msg, 32, S=b"pqvote/vote")

    _run(dut, producer, consumer)


def test_two_instances():
    """Two sponges in one design run independently at the same time."""
    m = Module()
    m.submodules.a = a = KeccakSponge()
    m.submodules.b = b = KeccakSponge(rounds_per_cycle=2)
    rng = random.Random(5)
    jobs_a = [(SpongeMode.SHA3_256, rng.randbytes(n), 32) for n in (0, 100, 200)]
    jobs_b = [(SpongeMode.SHAKE256, rng.randbytes(n), 200) for n in (50, 136, 300)]
    ra, rb = [], []
    _run(m, *sponge_testbenches(a, jobs_a, rng=random.Random(1), idle_prob=0.2, results=ra),
         *sponge_testbenches(b, jobs_b, rng=random.Random(2), stall_prob=0.2, results=rb))
    assert len(ra) == len(rb) == 3


# ---- cocotb benches under Verilator ---------------------------------------------------------

_CASES = "60" if os.environ.get("PQVOTE_FULL") == "1" else "10"


class SpongeTrio(wiring.Component):
    """Bench top: a 1-round sponge, a 2-round sponge and a Kmac256, side by side."""

    i_a: In(stream.Signature(SpongeIn))
    o_a: Out(stream.Signature(unsigned(64)))
    stop_a: In(1)
    i_b: In(stream.Signature(SpongeIn))
    o_b: Out(stream.Signature(unsigned(64)))
    stop_b: In(1)
    key_k: In(256)
    i_k: In(stream.Signature(MsgWord))
    o_k: Out(stream.Signature(unsigned(256)))

    def elaborate(self, platform):
        m = Module()
        m.submodules.a = a = KeccakSponge(rounds_per_cycle=1)
        m.submodules.b = b = KeccakSponge(rounds_per_cycle=2)
        m.submodules.k = k = Kmac256(customization=b"pqvote/vote")
        for suffix, sponge in (("a", a), ("b", b)):
            wiring.connect(m, wiring.flipped(getattr(self, f"i_{suffix}")), sponge.i)
            wiring.connect(m, sponge.o, wiring.flipped(getattr(self, f"o_{suffix}")))
            m.d.comb += sponge.stop.eq(getattr(self, f"stop_{suffix}"))
        wiring.connect(m, wiring.flipped(self.i_k), k.i)
        wiring.connect(m, k.o, wiring.flipped(self.o_k))
        m.d.comb += k.key.eq(self.key_k)
        return m


def test_cocotb_trio():
    """All modes on both sponges at once (1 and 2 rounds/cycle), KMAC256, throughput."""
    from sim.runner import run_cocotb
    run_cocotb(name="sponge-trio", top=SpongeTrio, module="sim.tb_sponge",
               env={"SPONGE_TOP": "trio", "SPONGE_CASES": _CASES})


def test_cocotb_negative_control():
    from sim.runner import run_cocotb
    with pytest.raises(AssertionError, match="1 of 1 cocotb tests failed"):
        run_cocotb(name="sponge-trio", top=SpongeTrio, module="sim.tb_sponge",
                   testcase="test_negative_control",
                   env={"SPONGE_TOP": "trio", "SPONGE_CORRUPT": 1})
