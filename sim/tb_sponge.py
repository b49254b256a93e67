"""cocotb benches for :class:`hdl.sponge.KeccakSponge` and KMAC256 under Verilator.

Two tops are used (``SPONGE_TOP``):

``single``
    one ``KeccakSponge(rounds_per_cycle=1)`` with ports ``i``, ``o``, ``stop``;
``trio``
    ``KeccakSponge(rounds_per_cycle=1)`` on ``i_a``/``o_a``/``stop_a``,
    ``KeccakSponge(rounds_per_cycle=2)`` on ``i_b``/``o_b``/``stop_b`` and
    ``Kmac256(customization=KMAC_S)`` on ``key_k``/``i_k``/``o_k`` (see ``tests/test_sponge_rtl.py``).

Every output is compared with :mod:`golden.keccak` (itself checked against pycryptodome),
KMAC256 directly with ``Crypto.Hash.KMAC256``. Inputs get random idle cycles, outputs
random back-pressure. The client raises ``stop`` in the handshake cycle of its last word
(or, with ``late``, a few cycles later), as a hardware client would.

Environment: ``SPONGE_TOP``, ``SPONGE_CASES`` (random messages per test), ``PQVOTE_SEED``,
``SPONGE_CORRUPT=1`` (negative control: one expected output byte is wrong).
"""

import os

import cocotb
from cocotb.triggers import ReadOnly, RisingEdge, with_timeout
from Crypto.Hash import KMAC256

from golden import keccak as gk
from hdl.sponge import SpongeIn, SpongeMode, MsgWord, RATE_BYTES, DOMAIN
from sim.results import record
from sim.tb_common import TB, CLOCK_NS, StreamDriver, value

TOP = os.environ.get("SPONGE_TOP", "single")
CASES = int(os.environ.get("SPONGE_CASES", "12"))
CORRUPT = os.environ.get("SPONGE_CORRUPT") == "1"
KMAC_S = b"pqvote/vote"
BOUNDARY = [0, 1, 7, 8, 9, 71, 72, 73, 135, 136, 137, 167, 168, 169, 271, 272, 273]
TIMEOUT_NS = 2_000_000 * CLOCK_NS


def reference(mode, msg, outlen):
    return gk.sponge(RATE_BYTES[mode], DOMAIN[mode], msg, outlen)


def message_words(msg):
    """(data, nbytes, last) per word; an empty message is one word with nbytes = 0."""
    out = []
    for off in range(0, max(len(msg), 1), 8):
        chunk = msg[off:off + 8]
        out.append((int.from_bytes(chunk, "little"), len(chunk), off + 8 >= len(msg)))
    return out


class SpongePort:
    """Driver and client for one sponge: ``i``, ``o`` and ``stop`` under a name suffix."""

    def __init__(self, tb, suffix="", *, idle_prob=0.0, stall_prob=0.0):
        dut = tb.dut
        self.tb = tb
        self.src = StreamDriver(dut, f"i{suffix}", tb.clk, rng=tb.rng, idle_prob=idle_prob)
        self.o_valid = getattr(dut, f"o{suffix}__valid")
        self.o_ready = getattr(dut, f"o{suffix}__ready")
        self.o_payload = getattr(dut, f"o{suffix}__payload")
        self.stop = getattr(dut, f"stop{suffix}")
        self.stall_prob = stall_prob
        self.rng = tb.rng
        self.o_ready.value = 0
        self.stop.value = 0
        self.first_valid = []          # TB cycle of each message's first output word

    async def send(self, mode, msg):
        for data, nbytes, last in message_words(msg):
            await self.src.send(SpongeIn.const(
                {"data": data, "nbytes": nbytes, "last": last, "mode": mode}).as_value().value)

    async def read(self, nwords, rate_words, *, late=False):
        """Read ``nwords`` output words of one message, then stop."""
        clk = self.tb.clk
        words = []
        for w in range(nwords):
            final = w == nwords - 1 and not late
            while self.stall_prob and self.rng.random() < self.stall_prob:
                await RisingEdge(clk)
            if final and w % rate_words == 0:
                # the word may follow a permutation: wait for it before raising stop
                while True:
                    await ReadOnly()
                    if value(self.o_valid):
                        break
                    await RisingEdge(clk)
                if w == 0:
                    self.first_valid.append(self.tb.cycle)
                await RisingEdge(clk)
            self.o_ready.value = 1
            self.stop.value = int(final)
            while True:
                await ReadOnly()
                if value(self.o_valid):
                    break
                assert not final, "output word within a rate block not valid at once"
                await RisingEdge(clk)
            if w == 0 and not (final and w % rate_words == 0):
                self.first_valid.append(self.tb.cycle)
            words.append(value(self.o_payload))
            self.last_handshake = self.tb.cycle
            await RisingEdge(clk)
            self.o_ready.value = 0
            self.stop.value = 0
        if late:
            for _ in range(self.rng.randrange(4)):
                await RisingEdge(clk)
            self.stop.value = 1
            await RisingEdge(clk)
            self.stop.value = 0
        return b"".join(x.to_bytes(8, "little") for x in words)


async def run_jobs(port, jobs, *, late_prob=0.0, corrupt=False):
    """Send ``jobs`` = [(mode, msg, outlen)] back to back and check every output."""
    async def producer():
        for mode, msg, _ in jobs:
            await port.send(mode, msg)

    cocotb.start_soon(producer())
    for n, (mode, msg, outlen) in enumerate(jobs):
        late = port.rng.random() < late_prob
        got = await port.read((outlen + 7) // 8, RATE_BYTES[mode] // 8, late=late)
        expect = reference(mode, msg, outlen)
        if corrupt and n == len(jobs) // 2:
            expect = bytes([expect[0] ^ 1]) + expect[1:]
        assert got[:outlen] == expect, (
            f"job {n}: {mode.name} len={len(msg)} outlen={outlen}: "
            f"got {got[:outlen].hex()} expected {expect.hex()}")


def boundary_jobs(rng, modes):
    jobs = []
    for mode in modes:
        rate = RATE_BYTES[mode]
        for n in BOUNDARY:
            outlen = rng.choice([8, 32, 64, rate, rate + 8, 2 * rate + 5])
            jobs.append((mode, rng.randbytes(n), outlen))
    return jobs


def random_jobs(rng, count):
    jobs = []
    for _ in range(count):
        mode = rng.choice(list(SpongeMode))
        jobs.append((mode, rng.randbytes(rng.randrange(0, 600)), rng.randrange(1, 480)))
    return jobs


async def start(dut):
    tb = TB(dut)
    for name in ("i", "i_a", "i_b", "i_k"):
        if hasattr(dut, f"{name}__valid"):
            getattr(dut, f"{name}__valid").value = 0
    await tb.reset()
    return tb


def rounds_of(suffix):
    """Rounds per cycle of the sponge on ports with ``suffix``."""
    return 2 if suffix == "_b" else 1


SPONGES = [""] if TOP == "single" else ["_a", "_b"]


@cocotb.test()
@cocotb.parametrize(idle_prob=[0.0, 0.5], stall_prob=[0.0, 0.5])
async def test_boundary_lengths(dut, idle_prob, stall_prob):
    """Every mode at the boundary message lengths, outputs up to 2 rate blocks, on every
    sponge at once."""
    tb = await start(dut)
    tasks = []
    for suffix in SPONGES:
        port = SpongePort(tb, suffix, idle_prob=idle_prob, stall_prob=stall_prob)
        jobs = boundary_jobs(tb.rng, list(SpongeMode))
        tasks.append(cocotb.start_soon(run_jobs(port, jobs, late_prob=0.2)))
    for task in tasks:
        await with_timeout(task, TIMEOUT_NS, "ns")


@cocotb.test()
@cocotb.parametrize(idle_prob=[0.0, 0.5], stall_prob=[0.0, 0.5])
async def test_random(dut, idle_prob, stall_prob):
    """Random modes, lengths 0..599 bytes, outputs 1..479 bytes, on every sponge at once."""
    tb = await start(dut)
    tasks = []
    for suffix in SPONGES:
        port = SpongePort(tb, suffix, idle_prob=idle_prob, stall_prob=stall_prob)
        jobs = random_jobs(tb.rng, CASES)
        tasks.append(cocotb.start_soon(run_jobs(port, jobs, late_prob=0.3)))
    for task in tasks:
        await with_timeout(task, TIMEOUT_NS, "ns")


@cocotb.test(skip=not CORRUPT)
async def test_negative_control(dut):
    """One wrong expected byte: this test must fail."""
    tb = await start(dut)
    port = SpongePort(tb, SPONGES[-1])
    jobs = random_jobs(tb.rng, 4)
    await with_timeout(run_jobs(port, jobs, corrupt=True), TIMEOUT_NS, "ns")


@cocotb.test(skip=CORRUPT)
async def test_throughput(dut):
    """Long-message absorb rate and back-to-back short-message period, measured."""
    tb = await start(dut)
    blocks = 8
    for suffix in SPONGES:
        rpc = rounds_of(suffix)
        port = SpongePort(tb, suffix)
        metrics = {}
        for mode in SpongeMode:
            rate = RATE_BYTES[mode]
            # message 2 has `blocks` blocks; its first word waits in the input register
            # until message 1 is stopped (16-byte outputs: the stop comes with the second
            # word, one cycle after the first) and the state is cleared
            jobs = [(mode, tb.rng.randbytes(rate - 1), 16),
                    (mode, tb.rng.randbytes(blocks * rate - 1), 16)]
            port.first_valid.clear()
            await with_timeout(run_jobs(port, jobs), TIMEOUT_NS, "ns")
            cycles = port.first_valid[1] - port.first_valid[0] - 1
            per_block = rate // 8 + 24 // rpc    # r rotations, then the permutation
            # + 2: the stop (with the second output word of message 1) and the clear cycle
            assert cycles <= blocks * per_block + 2, (mode, cycles)
            metrics[f"sponge_r{rpc}_{mode.name.lower()}_bytes_per_cycle"] = round(
                blocks * rate / cycles, 3)
            metrics[f"sponge_r{rpc}_{mode.name.lower()}_cycles_per_block"] = cycles / blocks
        # squeeze rate: 8 rate blocks of SHAKE output read without back-pressure
        for mode in (SpongeMode.SHAKE128, SpongeMode.SHAKE256):
            rate = RATE_BYTES[mode]
            port.first_valid.clear()
            await with_timeout(run_jobs(port, [(mode, b"", blocks * rate)]), TIMEOUT_NS, "ns")
            cycles = port.last_handshake - port.first_valid[0] + 1
            rw = rate // 8
            per_block = rw + 24 // rpc    # the permutation starts after the block's last word
            assert cycles == (blocks - 1) * per_block + rw, cycles
            metrics[f"sponge_r{rpc}_{mode.name.lower()}_squeeze_bytes_per_cycle"] = round(
                blocks * rate / cycles, 3)
        # SLH-DSA-like traffic: 64-byte SHAKE256 messages, 16-byte outputs
        jobs = [(SpongeMode.SHAKE256, tb.rng.randbytes(64), 16) for _ in range(8)]
        port.first_valid.clear()
        await with_timeout(run_jobs(port, jobs), TIMEOUT_NS, "ns")
        periods = {b - a for a, b in zip(port.first_valid, port.first_valid[1:])}
        # stop, clear, 17 rotations (8 words, 9 zero words), the permutation
        assert periods == {17 + 24 // rpc + 3}, periods
        metrics[f"sponge_r{rpc}_shake256_64B_16B_period_cycles"] = 17 + 24 // rpc + 3
        record("keccak", **metrics)


@cocotb.test(skip=TOP != "trio" or CORRUPT)
@cocotb.parametrize(idle_prob=[0.0, 0.5], stall_prob=[0.0, 0.5])
async def test_kmac256(dut, idle_prob, stall_prob):
    """Kmac256 (adapter + sponge) against pycryptodome's KMAC256."""
    tb = await start(dut)
    rng = tb.rng
    src = StreamDriver(dut, "i_k", tb.clk, rng=rng, idle_prob=idle_prob)
    dut.o_k__ready.value = 0
    lengths = [0, 1, 5, 6, 7, 8, 9, 13, 14, 66, 135, 136, 137] + [
        rng.randrange(300) for _ in range(CASES)]
    cases = [(rng.randbytes(32), rng.randbytes(n)) for n in lengths]
    latencies = []

    async def producer():
        for key, msg in cases:
            dut.key_k.value = int.from_bytes(key, "little")
            for data, nbytes, last in message_words(msg):
                await src.send(MsgWord.const(
                    {"data": data, "nbytes": nbytes, "last": last}).as_value().value)
            while True:          # the key stays until the tag is out
                await ReadOnly()
                if value(dut.o_k__valid) and value(dut.o_k__ready):
                    break
                await RisingEdge(tb.clk)
            await RisingEdge(tb.clk)

    async def consumer():
        for key, msg in cases:
            while True:
                stall = rng.random() < stall_prob
                dut.o_k__ready.value = int(not stall)
                await ReadOnly()
                if not stall and value(dut.o_k__valid):
                    break
                await RisingEdge(tb.clk)
            tag = value(dut.o_k__payload).to_bytes(32, "little")
            await RisingEdge(tb.clk)
            dut.o_k__ready.value = 0
            expect = KMAC256.new(key=key, data=msg, mac_len=32, custom=KMAC_S).digest()
            assert tag == expect, f"KMAC256 len={len(msg)}: {tag.hex()} != {expect.hex()}"

    cocotb.start_soon(producer())
    await with_timeout(consumer(), TIMEOUT_NS, "ns")


@cocotb.test(skip=TOP != "trio" or CORRUPT)
async def test_kmac256_latency(dut):
    """Cycles from the first message word offered to the tag, constant block absorbed."""
    tb = await start(dut)
    src = StreamDriver(dut, "i_k", tb.clk, rng=tb.rng)
    dut.o_k__ready.value = 1
    metrics = {}
    for n in (24, 66):
        await tb.cycles(60)            # the adapter pushes the constant block meanwhile
        key, msg = tb.rng.randbytes(32), tb.rng.randbytes(n)
        dut.key_k.value = int.from_bytes(key, "little")

        async def producer():
            for data, nbytes, last in message_words(msg):
                await src.send(MsgWord.const(
                    {"data": data, "nbytes": nbytes, "last": last}).as_value().value)

        t0 = tb.cycle
        cocotb.start_soon(producer())

        async def wait_tag():
            while True:
                await ReadOnly()
                if value(dut.o_k__valid):
                    return
                await RisingEdge(tb.clk)

        await with_timeout(wait_tag(), 10_000 * CLOCK_NS, "ns")
        cycles = tb.cycle - t0
        tag = value(dut.o_k__payload).to_bytes(32, "little")
        assert tag == KMAC256.new(key=key, data=msg, mac_len=32, custom=KMAC_S).digest()
        await RisingEdge(tb.clk)
        metrics[f"kmac256_r1_latency_{n}B_cycles"] = cycles
    record("keccak", **metrics)
