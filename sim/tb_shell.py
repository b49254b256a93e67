"""cocotb bench of ``ValidatorShell`` with a stand-in engine of ``sim/shell_engine.py``.

Environment: ``PQVOTE_VENDOR`` (the shell's vendor), ``PQVOTE_ENGINE`` (``kem`` for the
KEM engine, else the signature engine), ``PQVOTE_SEED``, ``PQVOTE_CASES`` (requests per
scenario, default 12), ``SHELL_CORRUPT=1`` (negative control: one expected attestation bit
is flipped, the bench must fail).

Driver → DUT → monitor → scoreboard: a producer task loads keys and sends requests and
proofs (random idle cycles on every input), a consumer takes the responses (random
back-pressure) and compares vote, status, attestation and digest with
``sim.shell_engine.ShellModel`` — whose tag, digest and attestation are
``golden.proof.proof_tag``, ``golden.proof.proof_digest`` and ``golden.proof.attestation``. A monitor measures each
request's latency (first accepted proof beat to ``o_resp.valid``).
"""

import os
import random
from collections import deque

import cocotb
from cocotb.triggers import ReadOnly, RisingEdge, with_timeout

from golden.keccak import words_le
from golden.proof import BODY_LEN, KEY_LEN, Status
from hdl.validator import KeyStatus, Request, Response, shell_geometry
from sim.results import record
from sim.tb_common import (CLOCK_NS, TB, StreamDriver, StreamSink, check_response, value,
                           wait_key_checked, word)
from sim.shell_engine import KeyModel, ShellModel, mint_body


def rand_bytes(rng, n):
    return bytes(rng.getrandbits(8) for _ in range(n))


class Scenario:
    """Builds requests of a given kind for a vendor and a loaded key model."""

    KINDS = ("valid", "invalid", "pad", "short", "long")

    def __init__(self, vendor, rng, *, kem=False):
        self.vendor = vendor
        self.rng = rng
        self.kem = kem
        self.g = shell_geometry(vendor)

    def proof(self, kind, kacc, descriptor):
        """Proof beats (64-bit ints) of a request of ``kind``."""
        rng, g = self.rng, self.g
        body = mint_body(self.vendor, kacc, descriptor, rng, valid=kind != "invalid",
                         kem=self.kem)
        beats = words_le(body) + [0] * (g["beats"] - g["body_words"])
        if kind == "pad":
            # one non-zero padding byte, anywhere after the body (also inside the final
            # body word when it is partial)
            pos = rng.randrange(BODY_LEN[self.vendor], 8 * g["beats"])
            beats[pos // 8] |= (rng.randrange(1, 256)) << (8 * (pos % 8))
        elif kind == "short":
            beats = beats[:rng.choice([1, g["body_words"] - 1, g["body_words"],
                                       rng.randrange(1, g["beats"]), g["beats"] - 1])]
        elif kind == "long":
            beats = beats + [rng.getrandbits(64) for _ in range(rng.choice([1, 2, 17, 40]))]
        return beats


class ShellTB(TB):
    """Drivers, monitor and scoreboard of a ``ValidatorShell``-shaped DUT."""

    def __init__(self, dut, *, idle_prob=0.0, stall_prob=0.0, seed=None):
        super().__init__(dut, seed=seed)
        self.vendor = os.environ.get("PQVOTE_VENDOR", "amd")
        self.key = StreamDriver(dut, "i_key", dut.clk, rng=self.rng, idle_prob=idle_prob)
        self.req = StreamDriver(dut, "i_req", dut.clk, rng=self.rng, idle_prob=idle_prob)
        self.proof = StreamDriver(dut, "i_proof", dut.clk, rng=self.rng, idle_prob=idle_prob)
        self.resp = StreamSink(dut, "o_resp", dut.clk, rng=self.rng, stall_prob=stall_prob)
        kem = os.environ.get("PQVOTE_ENGINE") == "kem"
        self.model = ShellModel(self.vendor, kem=kem)
        self.scen = Scenario(self.vendor, self.rng, kem=kem)
        self.keym = None                  # KeyModel of the loaded key, None after reset
        self.expected = deque()
        self.latencies = []
        self._first_beat = None
        self._clock = 0
        self.corrupt = os.environ.get("SHELL_CORRUPT") == "1"
        cocotb.start_soon(self._monitor())

    async def _monitor(self):
        dut = self.dut
        while True:
            await RisingEdge(self.clk)
            await ReadOnly()
            self._clock += 1
            if (self._first_beat is None and value(dut.i_proof__valid)
                    and value(dut.i_proof__ready)):
                self._first_beat = self._clock
            if self._first_beat is not None and value(dut.o_resp__valid):
                self.latencies.append(self._clock - self._first_beat)
                self._first_beat = None

    async def reset(self, cycles=2):
        await super().reset(cycles)
        self.keym = None
        await ReadOnly()
        assert value(self.dut.o_key_status) == KeyStatus.NONE.value
        await RisingEdge(self.clk)

    async def load_key(self, words, *, timeout_cycles=100_000):
        """Send key words ``[(data, last)]``; wait for the key check; check the status."""
        await self.key.send_all([word(d, l) for d, l in words],
                                timeout_cycles=timeout_cycles + 3 * len(words))
        model = KeyModel(self.vendor, words)
        got = await wait_key_checked(self.clk, self.dut.o_key_status,
                                     timeout_cycles=timeout_cycles, what="shell")
        want = KeyStatus.OK if model.status == "ok" else KeyStatus.BAD
        assert got == want, f"key status {got}, expected {want}"
        self.keym = model
        return model

    async def load_random_key(self):
        key = bytearray(rand_bytes(self.rng, KEY_LEN[self.vendor]))
        return await self.load_key(KeyModel.stream(bytes(key), rand_bytes(self.rng, 32)))

    async def send(self, kind, *, timeout_cycles=100_000):
        """Send one request of ``kind`` and queue its expected response."""
        rng = self.rng
        descriptor = rand_bytes(rng, 24)
        nonce = rng.getrandbits(64)
        kacc = self.keym.kacc if self.keym is not None else 0
        beats = self.scen.proof(kind, kacc, descriptor)
        exp = self.model.response(self.keym, descriptor, nonce, beats)
        self.expected.append((kind, exp))
        await self.req.send(Request.const({"descriptor": int.from_bytes(descriptor, "little"),
                                           "nonce": nonce}).as_value().value,
                            timeout_cycles=timeout_cycles)
        await self.proof.send_all([word(b, n == len(beats) - 1) for n, b in enumerate(beats)],
                                  timeout_cycles=timeout_cycles + 3 * len(beats))

    async def check_one(self, *, timeout_cycles=100_000):
        raw = await self.resp.recv(timeout_cycles=timeout_cycles)
        kind, (vote, status, att, pd) = self.expected.popleft()
        r = Response.from_bits(raw)
        got = (int(r.vote), Status(int(r.status)), int(r.attestation).to_bytes(32, "little"),
               int(r.digest).to_bytes(32, "little"))
        if self.corrupt:
            att = bytes([att[0] ^ 1]) + att[1:]
        check_response(kind, got, (vote, status, att, pd))
        return kind, got

    async def run(self, plan, *, timeout_cycles=200_000):
        """Run ``plan``: a list of request kinds and ``("key", words)`` / ``("random_key",)``
        items, back to back; returns ``[(kind, response)]`` in order."""
        results = []
        requests = sum(1 for p in plan if isinstance(p, str))

        async def produce():
            for item in plan:
                if isinstance(item, str):
                    await self.send(item, timeout_cycles=timeout_cycles)
                elif item[0] == "key":
                    while self.expected:                 # keys load between requests
                        await RisingEdge(self.clk)
                    await self.load_key(item[1])
                else:
                    while self.expected:
                        await RisingEdge(self.clk)
                    await self.load_random_key()

        async def consume():
            while len(results) < requests:
                while not self.expected:
                    await RisingEdge(self.clk)
                results.append(await self.check_one(timeout_cycles=timeout_cycles))

        producer = cocotb.start_soon(produce())
        await with_timeout(consume(), timeout_cycles * max(requests, 1) * CLOCK_NS, "ns")
        await producer
        return results


def cases():
    return int(os.environ.get("PQVOTE_CASES", "12"))


@cocotb.test()
async def no_key(dut):
    """Right after reset: NO_KEY, vote 0, zero attestation, digest still correct."""
    tb = ShellTB(dut)
    await tb.reset()
    res = await tb.run(["valid", "short", "long", "pad"])
    assert all(r[1][1] == Status.NO_KEY for r in res)


@cocotb.test()
@cocotb.parametrize(idle_prob=[0.0, 0.5], stall_prob=[0.0, 0.5])
async def verdicts(dut, idle_prob, stall_prob):
    """Valid / invalid / padding-error / short / long requests back to back, two keys;
    with no idle and no stall every OK-status request has the same latency."""
    tb = ShellTB(dut, idle_prob=idle_prob, stall_prob=stall_prob)
    await tb.reset()
    n = cases()
    kinds = ["valid", "invalid", "pad"] * n + ["short", "long"] * (n // 2)
    tb.rng.shuffle(kinds)
    plan = [("random_key",)] + kinds[:len(kinds) // 2] + [("random_key",)] + kinds[len(kinds) // 2:]
    tb.latencies.clear()
    res = await tb.run(plan)
    assert len(tb.latencies) == len(res)
    votes = [r[1][0] for r in res if r[0] == "valid"]
    assert votes and all(votes), "every valid request votes 1"
    assert not any(r[1][0] for r in res if r[0] != "valid")
    if idle_prob == 0 and stall_prob == 0:
        ok = {lat for (kind, got), lat in zip(res, tb.latencies) if got[1] == Status.OK}
        assert len(ok) == 1, f"OK-status latency depends on the data: {sorted(ok)}"
        record(f"shell_{tb.vendor}", latency_cycles=ok.pop(),
               requests_checked=len(res), beats=tb.scen.g["beats"])
        dut._log.info("latency %s cycles over %d requests", tb.latencies[0], len(res))


@cocotb.test()
async def bad_keys(dut):
    """BAD_KEY (attested, vote 0) for a wrong word count, non-zero key padding and a key
    the engine rejects; a good key afterwards brings OK back; latency unchanged."""
    tb = ShellTB(dut)
    await tb.reset()
    g = shell_geometry(tb.vendor)
    rng = tb.rng

    def stream(words):
        return [(w, i == len(words) - 1) for i, w in enumerate(words)]

    good = [w for w, _ in KeyModel.stream(rand_bytes(rng, KEY_LEN[tb.vendor]),
                                          rand_bytes(rng, 32))]
    bad_streams = {
        "one_word_short": stream(good[:-1]),
        "one_word_long": stream(good + [rng.getrandbits(64)]),
        "alg_key_short": stream(good[:g["key_words"] - 1]),
        "single_word": stream(good[:1]),
        "zero_key": stream([0] * g["key_words"] + good[g["key_words"]:]),  # engine: kacc = 0
    }
    if g["key_rem"]:
        padded = list(good)
        padded[g["key_words"] - 1] |= 1 << (8 * g["key_rem"] + rng.randrange(8 * (8 - g["key_rem"])))
        bad_streams["key_padding"] = stream(padded)
    plan = []
    for name, words in bad_streams.items():
        plan += [("key", words), "valid", "short"]
    plan += [("key", stream(good)), "valid", "invalid"]
    res = await tb.run(plan)
    statuses = [r[1][1] for r in res]
    assert statuses[:-2] == [Status.BAD_KEY] * (len(res) - 2), statuses
    assert statuses[-2:] == [Status.OK, Status.OK] and res[-2][1][0] == 1
    lat = {lat for (kind, _), lat in zip(res, tb.latencies) if kind == "valid"}
    assert len(lat) == 1, f"BAD_KEY latency differs from OK latency: {sorted(lat)}"


@cocotb.test()
async def key_between_requests(dut):
    """Key words offered while a request is in flight wait until its response is taken."""
    tb = ShellTB(dut)
    await tb.reset()
    await tb.load_random_key()
    first = tb.keym
    words = KeyModel.stream(rand_bytes(tb.rng, KEY_LEN[tb.vendor]), rand_bytes(tb.rng, 32))
    sender = cocotb.start_soon(tb.send("valid"))
    await RisingEdge(tb.clk)
    # offer the new key as soon as the request is accepted
    for _ in range(100):
        await ReadOnly()
        if value(dut.i_req__valid) and value(dut.i_req__ready):
            break
        await RisingEdge(tb.clk)
    await RisingEdge(tb.clk)
    loader = cocotb.start_soon(tb.key.send_all([word(d, l) for d, l in words]))
    await sender
    await tb.check_one()           # answered under the first key
    await loader
    await wait_key_checked(tb.clk, dut.o_key_status, timeout_cycles=10_000, what="shell")
    tb.keym = KeyModel(tb.vendor, words)
    assert tb.keym.kacc != first.kacc
    sender = cocotb.start_soon(tb.send("valid"))
    kind, got = await tb.check_one()
    await sender
    assert got[0] == 1 and got[1] == Status.OK
