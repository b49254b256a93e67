"""Helpers shared by the cocotb benches: clock/reset, stream drivers, cycle counting, and the
driver of a whole validator core (:class:`CoreDriver`: key load, request, proof, response).

Stream ports are reached by Amaranth's flattened names: a stream member ``i`` of a
component becomes ``i__payload``, ``i__valid`` and ``i__ready`` in the Verilog.
Handshakes are sampled after ``await ReadOnly()``; writes happen only after the next
``RisingEdge``.

Speed: Python runs only when something it waits for changes, not on every clock edge.
The cycle counter is the simulation time in clock periods; a wait for ``ready``, ``valid``
or a key status is a value-change trigger followed by ``ReadOnly`` in that time step. Every
signal the DUT drives changes in the time step of a rising edge and every signal Python
drives is written right after one, so this samples the same values at the same edges as
polling every cycle would — the benches' exact latencies are the proof — while Verilator
runs free in between (``make bench-rtl``, docs/interfaces.md).

Payloads are integers packed with the Amaranth layout (``layout.const({...}).as_value().value``
/ ``layout.from_bits(v)``).
"""

import os
import random

import cocotb
from cocotb.clock import Clock
from cocotb.triggers import (First, ReadOnly, RisingEdge, SimTimeoutError, ValueChange,
                             with_timeout)
from cocotb.utils import get_sim_time

from golden.keccak import words_le

CLOCK_NS = 10


def value(sig):
    """Integer value of a handle (1-bit or vector)."""
    v = sig.value
    return v.to_unsigned() if hasattr(v, "to_unsigned") else int(v)


def seed_from_env(default=1):
    return int(os.environ.get("PQVOTE_SEED", default))


class TB:
    """Clock, reset and a cycle counter for a DUT with ``clk``/``rst``."""

    def __init__(self, dut, *, seed=None):
        self.dut = dut
        self.clk = dut.clk
        self.rng = random.Random(seed_from_env() if seed is None else seed)
        Clock(dut.clk, CLOCK_NS, unit="ns").start()

    @property
    def cycle(self):
        """Rising edges so far: the simulation time in whole clock periods (no coroutine
        runs on every edge to count them)."""
        return int(get_sim_time("ns")) // CLOCK_NS

    async def reset(self, cycles=2):
        self.dut.rst.value = 1
        for _ in range(cycles):
            await RisingEdge(self.clk)
        self.dut.rst.value = 0
        await RisingEdge(self.clk)

    async def cycles(self, n):
        for _ in range(n):
            await RisingEdge(self.clk)


class Handshake:
    """A ``valid``/``ready`` handshake over plain ports (a stream's, or the flat wrapper's
    ``key_valid``/``req_valid``/``frame_valid``): :meth:`offer` drives ``fields`` — a list
    of ``(handle, value)`` — with ``valid`` and returns once the beat is accepted (just
    after the edge); random idle cycles before each beat with ``idle_prob``. ``valid``
    never waits for ``ready``."""

    def __init__(self, clk, valid, ready, *, rng=None, idle_prob=0.0):
        self.clk, self.valid, self.ready = clk, valid, ready
        self.rng = rng or random.Random(0)
        self.idle_prob = idle_prob
        self.valid.value = 0

    async def _beat(self, fields):
        while self.idle_prob and self.rng.random() < self.idle_prob:
            self.valid.value = 0
            await RisingEdge(self.clk)
        for handle, v in fields:
            handle.value = v
        self.valid.value = 1
        await ReadOnly()
        while not value(self.ready):        # woken when ready changes, not every edge
            await RisingEdge(self.ready)
            await ReadOnly()
        await RisingEdge(self.clk)

    async def offer(self, fields, *, timeout_cycles=1_000_000):
        """One beat; ``SimTimeoutError`` when it is not taken within ``timeout_cycles``."""
        await self.offer_all([fields], timeout_cycles=timeout_cycles)

    async def offer_all(self, beats, *, timeout_cycles=1_000_000):
        """The beats one after the other (``valid`` stays high between back-to-back
        beats), under one timeout of ``timeout_cycles`` plus one cycle a beat — one timer
        for a whole proof keeps long streams cheap to simulate."""
        beats = list(beats)

        async def stream():
            for fields in beats:
                await self._beat(fields)
        try:
            await with_timeout(stream(), (timeout_cycles + len(beats)) * CLOCK_NS, "ns")
        finally:
            self.valid.value = 0


class _StreamPort:
    """The ``<prefix>__payload/valid/ready`` handles of one stream port."""

    def __init__(self, dut, prefix, clk, rng):
        self.payload = getattr(dut, f"{prefix}__payload")
        self.valid = getattr(dut, f"{prefix}__valid")
        self.ready = getattr(dut, f"{prefix}__ready")
        self.clk = clk
        self.rng = rng or random.Random(0)


class StreamDriver(Handshake):
    """Drives ``<prefix>__payload/valid`` (see :class:`Handshake`)."""

    def __init__(self, dut, prefix, clk, *, rng=None, idle_prob=0.0):
        self.payload = getattr(dut, f"{prefix}__payload")
        super().__init__(clk, getattr(dut, f"{prefix}__valid"), getattr(dut, f"{prefix}__ready"),
                         rng=rng, idle_prob=idle_prob)

    async def send(self, payload, *, timeout_cycles=1_000_000):
        """Offer one beat and return once it has been accepted (just after the edge)."""
        await self.offer([(self.payload, payload)], timeout_cycles=timeout_cycles)

    async def send_all(self, payloads, *, timeout_cycles=1_000_000):
        """Offer the payloads back to back (one timeout for the stream, see
        :meth:`Handshake.offer_all`)."""
        await self.offer_all([[(self.payload, p)] for p in payloads],
                             timeout_cycles=timeout_cycles)


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
        if not self.stall_prob:
            self.ready.value = 1
            await ReadOnly()
            while not value(self.valid):
                await RisingEdge(self.valid)
                await ReadOnly()
            beat = value(self.payload)
            await RisingEdge(self.clk)
            self.ready.value = 0
            return beat
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


def word(data, last):
    """One ``hdl.stream_util.Word`` payload (64 data bits, ``last``) as an integer."""
    from hdl.stream_util import Word
    return Word.const({"data": data, "last": last}).as_value().value


def stream_words(words):
    """``Word`` payloads of 64-bit integers, ``last`` on the final one."""
    return [word(w, n == len(words) - 1) for n, w in enumerate(words)]


def key_words(key, k_att):
    """The key-load stream of a validator core (SPEC §4): the algorithm key, zero-padded to
    whole words, then ``K_att``; ``last`` on the final word (``hdl.validator.Word``)."""
    return stream_words(words_le(key) + words_le(k_att))


def proof_words(proof):
    """The proof stream: 64-bit words, ``last`` on the final one; an empty proof is one zero
    word."""
    return stream_words(words_le(proof) or [0])


async def wait_key_checked(clk, status, *, timeout_cycles, what="core"):
    """Wait (from a writable phase) until the ``KeyStatus`` output ``status`` leaves
    ``LOADING``; returns the status in the cycle it did, and leaves at the next edge."""
    from hdl.validator import KeyStatus

    async def checked():                    # woken when the status changes, not every edge
        await ReadOnly()
        while value(status) == KeyStatus.LOADING.value:
            await ValueChange(status)
            await ReadOnly()
    try:
        await with_timeout(checked(), timeout_cycles * CLOCK_NS, "ns")
    except SimTimeoutError:
        raise AssertionError(f"{what}: key load did not finish in {timeout_cycles} cycles") from None
    got = KeyStatus(value(status))
    await RisingEdge(clk)
    return got


def check_response(what, got, want):
    """Compare a response ``got`` = ``(vote, status, attestation, digest)`` with ``want``:
    the digest first (it depends on the received bytes only), then status, vote and
    attestation; the assertion names ``what`` and the field."""
    vote, status, att, pd = want
    assert got[3] == pd, f"{what}: digest {got[3].hex()}, expected {pd.hex()}"
    assert got[1] == status, f"{what}: status {got[1]!r}, expected {status!r}"
    assert int(got[0]) == int(vote), f"{what}: vote {int(got[0])}, expected {int(vote)}"
    assert got[2] == att, f"{what}: attestation {got[2].hex()}, expected {att.hex()}"


class CoreDriver:
    """Drives one validator core (``hdl.validator.ValidatorShell`` ports, each name prefixed
    with ``prefix``: ``i_key``, ``o_key_status``, ``i_req``, ``i_proof``, ``o_resp``) and
    measures, per request, with the cycle counter of ``tb``:

    ``cycles``   the core's latency (SPEC §4): first accepted proof beat → response valid;
    ``arrival``  request offered → response taken.

    Every wait is bounded by ``timeout_cycles``.
    """

    def __init__(self, tb, prefix="", *, rng=None, idle_prob=0.0, stall_prob=0.0,
                 req_idle_prob=None, timeout_cycles=2_000_000):
        dut, p, rng = tb.dut, prefix, rng or tb.rng
        self.tb, self.prefix, self.clk = tb, prefix, tb.clk
        self.timeout_cycles = timeout_cycles
        self.key = StreamDriver(dut, p + "i_key", tb.clk, rng=rng)
        self.req = StreamDriver(dut, p + "i_req", tb.clk, rng=rng,
                                idle_prob=idle_prob if req_idle_prob is None else req_idle_prob)
        self.proof = StreamDriver(dut, p + "i_proof", tb.clk, rng=rng, idle_prob=idle_prob)
        self.resp = StreamSink(dut, p + "o_resp", tb.clk, rng=rng, stall_prob=stall_prob)
        self.status = getattr(dut, p + "o_key_status")
        self.loaded = None          # (key, k_att) loaded, or None
        self._marks = {}
        cocotb.start_soon(self._monitor())

    async def _monitor(self):
        marks = (("offered", self.req.valid, None),
                 ("first_beat", self.proof.valid, self.proof.ready),
                 ("resp_valid", self.resp.valid, None),
                 ("taken", self.resp.valid, self.resp.ready))
        # the marks depend only on these: look when one of them changes (module docstring)
        changes = [ValueChange(sig) for sig in (self.req.valid, self.proof.valid,
                                                self.proof.ready, self.resp.valid,
                                                self.resp.ready)]
        while True:
            await First(*changes)
            await ReadOnly()
            for mark, valid, ready in marks:
                if (mark not in self._marks and value(valid)
                        and (ready is None or value(ready))
                        and (mark == "offered" or "offered" in self._marks)):
                    self._marks[mark] = self.tb.cycle

    async def load_key(self, key, k_att):
        """Load ``key ‖ K_att`` and wait until the core has checked it; returns the cycles."""
        start = self.tb.cycle
        await self.key.send_all(key_words(key, k_att), timeout_cycles=self.timeout_cycles)
        await wait_key_checked(self.clk, self.status, timeout_cycles=self.timeout_cycles,
                               what=self.prefix or "core")
        self.loaded = (key, k_att)
        return self.tb.cycle - start

    async def run(self, descriptor, nonce, proof):
        """One request; returns ``(vote, status, attestation, digest, cycles, arrival)``."""
        from golden.proof import Status
        from hdl.validator import Request, Response
        self._marks = {}
        payload = Request.const({"descriptor": int.from_bytes(descriptor, "little"),
                                 "nonce": nonce}).as_value().value
        await self.req.send(payload, timeout_cycles=self.timeout_cycles)
        sender = cocotb.start_soon(self.proof.send_all(proof_words(proof),
                                                       timeout_cycles=self.timeout_cycles))
        raw = await self.resp.recv(timeout_cycles=self.timeout_cycles)
        await sender
        r = Response.from_bits(raw)
        m = self._marks
        return (bool(r.vote), Status(int(r.status)), int(r.attestation).to_bytes(32, "little"),
                int(r.digest).to_bytes(32, "little"), m["resp_valid"] - m["first_beat"],
                m["taken"] - m["offered"])


class KemEngineTB(TB):
    """Clock, reset and the ports of a KEM engine (``hdl.validator.KemEngineSignature``) on
    a bench harness, which renames ``abort`` to ``cancel`` (a reserved word in Verilator's
    C++ model): :class:`StreamDriver` ``key`` and ``ct``, :class:`StreamSink` ``k``;
    ``start`` and ``cancel`` held low until :meth:`pulse`."""

    def __init__(self, dut, *, seed=None):
        super().__init__(dut, seed=seed)
        self.key = StreamDriver(dut, "key", dut.clk, rng=self.rng)
        self.ct = StreamDriver(dut, "ct", dut.clk, rng=self.rng)
        self.k = StreamSink(dut, "k", dut.clk, rng=self.rng)
        dut.start.value = 0
        dut.cancel.value = 0

    async def pulse(self, name):
        """Raise the input ``name`` (``start``, ``cancel``) for one cycle."""
        getattr(self.dut, name).value = 1
        await RisingEdge(self.clk)
        getattr(self.dut, name).value = 0

    async def send_bytes(self, driver, data, *, timeout_cycles=1_000_000):
        """``data`` as little-endian 64-bit words on ``driver``, ``last`` on the final one;
        returns the cycle count just after the final word was taken."""
        await driver.send_all(stream_words(words_le(data)), timeout_cycles=timeout_cycles)
        return self.cycle
