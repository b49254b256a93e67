"""Helpers shared by the cocotb benches: clock/reset, stream drivers, cycle counting.

Stream ports are reached by Amaranth's flattened names: a stream member ``i`` of a
component becomes ``i__payload``, ``i__valid`` and ``i__ready`` in the Verilog.
Handshakes are sampled after ``await ReadOnly()``; writes happen only after the next
``RisingEdge``. Payloads are integers packed with the Amaranth layout
(``layout.const({...}).as_value().value`` / ``layout.from_bits(v)``).
"""

import os
import random

import cocotb
from cocotb.clock import Clock
from cocotb.triggers import ReadOnly, RisingEdge, with_timeout

CLOCK_NS = 10


def value(sig):
    """Integer value of a handle (1-bit or vector)."""
    v = sig.value
    return v.to_unsigned() if hasattr(v, "to_unsigned") else int(v)


def seed_from_env(default=1):
    return int(os.environ.get("PQVOTE_SEED", default))


class TB:
    """Clock, reset and a free-running cycle counter for a DUT with ``clk``/``rst``."""

    def __init__(self, dut, *, seed=None):
        self.dut = dut
        self.clk = dut.clk
        self.rng = random.Random(seed_from_env() if seed is None else seed)
        self.cycle = 0
        Clock(dut.clk, CLOCK_NS, unit="ns").start()
        cocotb.start_soon(self._count())

    async def _count(self):
        while True:
            await RisingEdge(self.clk)
            self.cycle += 1

    async def reset(self, cycles=2):
        self.dut.rst.value = 1
        for _ in range(cycles):
            await RisingEdge(self.clk)
        self.dut.rst.value = 0
        await RisingEdge(self.clk)

    async def cycles(self, n):
        for _ in range(n):
            await RisingEdge(self.clk)


class _StreamPort:
    """The ``<prefix>__payload/valid/ready`` handles of one stream port."""

    def __init__(self, dut, prefix, clk, rng):
        self.payload = getattr(dut, f"{prefix}__payload")
        self.valid = getattr(dut, f"{prefix}__valid")
        self.ready = getattr(dut, f"{prefix}__ready")
        self.clk = clk
        self.rng = rng or random.Random(0)


class StreamDriver(_StreamPort):
    """Drives ``<prefix>__payload/valid``; ``valid`` never waits for ``ready``."""

    def __init__(self, dut, prefix, clk, *, rng=None, idle_prob=0.0):
        super().__init__(dut, prefix, clk, rng)
        self.idle_prob = idle_prob
        self.valid.value = 0

    async def send(self, payload, *, timeout_cycles=1_000_000):
        """Offer one beat and return once it has been accepted (just after the edge)."""
        while self.idle_prob and self.rng.random() < self.idle_prob:
            self.valid.value = 0
            await RisingEdge(self.clk)
        self.payload.value = payload
        self.valid.value = 1
        await with_timeout(self._wait_ready(), timeout_cycles * CLOCK_NS, "ns")
        await RisingEdge(self.clk)
        self.valid.value = 0

    async def _wait_ready(self):
        while True:
            await ReadOnly()
            if value(self.ready):
                return
            await RisingEdge(self.clk)

    async def send_all(self, payloads, **kw):
        for p in payloads:
            await self.send(p, **kw)


class StreamSink(_StreamPort):
    """Accepts beats from ``<prefix>__payload/valid/ready`` with random back-pressure."""

    def __init__(self, dut, prefix, clk, *, rng=None, stall_prob=0.0):
        super().__init__(dut, prefix, clk, rng)
        self.stall_prob = stall_prob
        self.ready.value = 0

    async def recv(self, *, timeout_cycles=1_000_000):
        """Wait for one beat, accept it and return its payload as an integer."""
        return await with_timeout(self._recv(), timeout_cycles * CLOCK_NS, "ns")

    async def _recv(self):
        while True:
            stall = self.stall_prob and self.rng.random() < self.stall_prob
            self.ready.value = 0 if stall else 1
            await ReadOnly()
            if not stall and value(self.valid):
                beat = value(self.payload)
                await RisingEdge(self.clk)
                self.ready.value = 0
                return beat
            await RisingEdge(self.clk)


def words_le(data, nbytes=8):
    """Split a byte string into little-endian integers of ``nbytes`` (final one zero-padded)."""
    data = bytes(data)
    data += b"\0" * (-len(data) % nbytes)
    return [int.from_bytes(data[i:i + nbytes], "little") for i in range(0, len(data), nbytes)]
