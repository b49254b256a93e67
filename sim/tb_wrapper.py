"""cocotb bench of the flat wrapper ``<vendor>_quantum_validator_asic`` around a
``ValidatorShell`` with the stand-in engine of ``sim/shell_engine.py``.

Environment: ``PQVOTE_VENDOR``, ``PQVOTE_SEED``, ``PQVOTE_CASES`` (requests per scenario,
default 6).

The proof goes in one 1024-byte frame per handshake (``frame_last`` on the final frame);
responses are compared with ``sim.shell_engine.ShellModel`` (digest and attestation from
``golden.proof``). A monitor measures the latency from the cycle after the first frame handshake (when its
first beat can enter the core) to ``resp_valid``; without idle cycles it must stay within
a few cycles of the proof's beat count plus the shell's fixed tail, which shows that the
frames stream at one beat per cycle.
"""

import os
from collections import deque

import cocotb
from cocotb.triggers import ReadOnly, RisingEdge, with_timeout

from golden.proof import FRAME_BYTES, KEY_LEN, Status
from hdl.validator import KeyStatus
from sim.results import record
from sim.tb_common import (CLOCK_NS, TB, Handshake, check_response, value, wait_key_checked,
                           words_le)
from sim.tb_shell import Scenario, rand_bytes
from sim.shell_engine import SHELL_TAIL_MAX, KeyModel, ShellModel

BEATS = FRAME_BYTES // 8


class FlatCore:
    """Drives a core through its ``<vendor>_quantum_validator_asic`` flat ports: key load,
    request, whole 8192-bit frames (random idle cycles before the request and each frame
    with ``idle_prob``), and the response (random back-pressure with ``stall_prob``)."""

    def __init__(self, tb, *, idle_prob=0.0, stall_prob=0.0):
        dut = self.dut = tb.dut
        self.tb, self.stall_prob = tb, stall_prob
        self.key = Handshake(dut.clk, dut.key_valid, dut.key_ready, rng=tb.rng)
        self.req = Handshake(dut.clk, dut.req_valid, dut.req_ready, rng=tb.rng,
                             idle_prob=idle_prob)
        self.frame = Handshake(dut.clk, dut.frame_valid, dut.frame_ready, rng=tb.rng,
                               idle_prob=idle_prob)
        dut.resp_ready.value = 0

    async def load_key(self, key, k_att, *, timeout_cycles=20_000):
        """Load the algorithm key then K_att; returns the key status once checking ended."""
        words = words_le(key) + words_le(k_att)
        await self.key.offer_all([[(self.dut.key_data, w), (self.dut.key_last, int(n == len(words) - 1))]
                                  for n, w in enumerate(words)], timeout_cycles=timeout_cycles)
        return (await wait_key_checked(self.dut.clk, self.dut.key_status,
                                       timeout_cycles=timeout_cycles, what="wrapper")).value

    async def request(self, descriptor, nonce, proof, *, timeout_cycles=100_000):
        """Send the request and the proof's frames; returns the TB cycle after the last frame."""
        await self.req.offer([(self.dut.tcp_descriptor, int.from_bytes(descriptor, "little")),
                              (self.dut.nonce, nonce)], timeout_cycles=timeout_cycles)
        nframes = len(proof) // FRAME_BYTES
        await self.frame.offer_all(
            [[(self.dut.delegated_quantum_proof,
               int.from_bytes(proof[f * FRAME_BYTES:(f + 1) * FRAME_BYTES], "little")),
              (self.dut.frame_last, int(f == nframes - 1))] for f in range(nframes)],
            timeout_cycles=timeout_cycles)
        return self.tb.cycle

    async def response(self, *, timeout_cycles=200_000):
        """``(vote, status, attestation, digest, cycle)`` of the next response."""
        async def wait():
            dut, rng = self.dut, self.tb.rng
            while True:
                stall = self.stall_prob and rng.random() < self.stall_prob
                dut.resp_ready.value = 0 if stall else 1
                await ReadOnly()
                if not stall and value(dut.resp_valid):
                    got = (bool(value(dut.quantum_consensus_vote)), Status(value(dut.status)),
                           value(dut.quantum_signature).to_bytes(32, "little"),
                           value(dut.proof_digest).to_bytes(32, "little"), self.tb.cycle)
                    await RisingEdge(dut.clk)
                    dut.resp_ready.value = 0
                    return got
                await RisingEdge(dut.clk)
        return await with_timeout(wait(), timeout_cycles * CLOCK_NS, "ns")


class WrapperTB(TB):
    def __init__(self, dut, *, idle_prob=0.0, stall_prob=0.0):
        super().__init__(dut)
        self.vendor = os.environ.get("PQVOTE_VENDOR", "riscv")
        self.core = FlatCore(self, idle_prob=idle_prob, stall_prob=stall_prob)
        self.model = ShellModel(self.vendor)
        self.scen = Scenario(self.vendor, self.rng)
        self.keym = None
        self.expected = deque()
        self.latencies = []            # first frame handshake + 1 to resp_valid
        cocotb.start_soon(self._monitor())

    async def _monitor(self):
        dut = self.dut
        clock, first = 0, None
        while True:
            await RisingEdge(self.clk)
            await ReadOnly()
            clock += 1
            if value(dut.frame_valid) and value(dut.frame_ready) and first is None:
                first = clock + 1          # its first beat can enter the core next cycle
            if first is not None and value(dut.resp_valid):
                self.latencies.append(clock - first)
                first = None

    async def load_key(self):
        key, k_att = rand_bytes(self.rng, KEY_LEN[self.vendor]), rand_bytes(self.rng, 32)
        status = await self.core.load_key(key, k_att, timeout_cycles=10_000)
        self.keym = KeyModel(self.vendor, KeyModel.stream(key, k_att))
        assert status == KeyStatus.OK.value

    async def send(self, kind, frames=None):
        rng = self.rng
        descriptor = rand_bytes(rng, 24)
        nonce = rng.getrandbits(64)
        beats = self.scen.proof(kind if kind in Scenario.KINDS else "valid",
                                self.keym.kacc if self.keym else 0, descriptor)
        if frames is not None:           # whole frames only on the flat port
            beats = (beats + [0] * (frames * BEATS))[:frames * BEATS]
        else:
            beats = beats + [0] * (-len(beats) % BEATS)
        self.expected.append((kind, self.model.response(self.keym, descriptor, nonce, beats)))
        await self.core.request(descriptor, nonce, b"".join(w.to_bytes(8, "little") for w in beats))

    async def recv(self, *, timeout_cycles=200_000):
        got = (await self.core.response(timeout_cycles=timeout_cycles))[:4]
        kind, want = self.expected.popleft()
        check_response(kind, got, want)
        return kind, got

    async def run(self, plan):
        async def produce():
            for item in plan:
                await self.send(*item)
        producer = cocotb.start_soon(produce())
        results = [await self.recv() for _ in plan]
        await producer
        return results


@cocotb.test()
@cocotb.parametrize(idle_prob=[0.0, 0.5], stall_prob=[0.0, 0.5])
async def frames(dut, idle_prob, stall_prob):
    """Valid / invalid / padding-error proofs of the right frame count, and proofs with one
    frame too few or too many, back to back; constant latency without idle and stall."""
    tb = WrapperTB(dut, idle_prob=idle_prob, stall_prob=stall_prob)
    await tb.reset()
    await tb.load_key()
    n = int(os.environ.get("PQVOTE_CASES", "6"))
    frames_ok = tb.scen.g["beats"] // BEATS
    plan = [("valid",), ("invalid",), ("pad",)] * (n // 2) + [("valid",)] * (n % 2)
    plan += [("short", frames_ok - 1) if frames_ok > 1 else ("short", 0),
             ("long", frames_ok + 1), ("valid",)]
    plan = [p for p in plan if p[1:] != (0,)]
    tb.rng.shuffle(plan)
    res = await tb.run(plan)
    for (kind, got) in res:
        if kind in ("short", "long"):
            assert got[1] == Status.BAD_LENGTH
        else:
            assert got[1] == Status.OK and got[0] == (kind == "valid")
    if idle_prob == 0 and stall_prob == 0:
        ok = {lat for (kind, got), lat in zip(res, tb.latencies) if got[1] == Status.OK}
        assert len(ok) == 1, f"latency depends on the data: {sorted(ok)}"
        lat = ok.pop()
        # one beat per cycle across frames: the shell's own tail (the digest's last block,
        # then both attestations at 3 permutations each) is < SHELL_TAIL_MAX cycles, as
        # in the shell bench (tests/test_shell_rtl.py)
        assert lat < tb.scen.g["beats"] + SHELL_TAIL_MAX, lat
        record(f"wrapper_{tb.vendor}", latency_cycles=lat, frames=frames_ok)
        dut._log.info("wrapper latency %d cycles (%d frames)", lat, frames_ok)


@cocotb.test()
async def no_key(dut):
    tb = WrapperTB(dut)
    await tb.reset()
    res = await tb.run([("valid",), ("long", tb.scen.g["beats"] // BEATS + 1)])
    assert [got[1] for _, got in res] == [Status.NO_KEY] * 2
