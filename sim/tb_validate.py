"""Runs a file of JSON Lines requests through one validator core (SPEC §3.3, RTL backend).

Environment: ``PQVOTE_REQUESTS`` (a JSON Lines file of parsed, single-vendor requests),
``PQVOTE_RESPONSES`` (where to write one JSON response per request, in order),
``PQVOTE_STALL`` (response back-pressure probability, default 0).
The key (algorithm key then K_att) is loaded whenever it differs from the loaded one.
``cycles`` in a response is the core's latency: from the first accepted proof beat to
the response becoming valid. Key-load cycles are reported as ``key_load_cycles``.
"""

import json
import os

import cocotb
from cocotb.triggers import ReadOnly, RisingEdge

from golden.proof import Status, VENDORS
from hdl.validator import Request, Response, Word
from sim.tb_common import TB, StreamDriver, StreamSink, value, words_le

KEY_STATUS_LOADING = 1


def key_words(key, k_att):
    """The key-load stream: the algorithm key, zero-padded to whole words, then K_att."""
    words = words_le(key) + words_le(k_att)
    return [Word.const({"data": w, "last": n == len(words) - 1}).as_value().value
            for n, w in enumerate(words)]


def proof_words(proof):
    words = words_le(proof) or [0]
    return [Word.const({"data": w, "last": n == len(words) - 1}).as_value().value
            for n, w in enumerate(words)]


class CoreTB(TB):
    """Drives a ``ValidatorShell``-shaped core and measures its latency."""

    def __init__(self, dut, *, idle_prob=0.0, stall_prob=0.0, seed=None):
        super().__init__(dut, seed=seed)
        self.key = StreamDriver(dut, "i_key", dut.clk, rng=self.rng)
        self.req = StreamDriver(dut, "i_req", dut.clk, rng=self.rng, idle_prob=idle_prob)
        self.proof = StreamDriver(dut, "i_proof", dut.clk, rng=self.rng, idle_prob=idle_prob)
        self.resp = StreamSink(dut, "o_resp", dut.clk, rng=self.rng, stall_prob=stall_prob)
        self.loaded = None
        self._first_beat = None
        self._resp_valid = None
        self._clock = 0
        cocotb.start_soon(self._monitor())

    async def _monitor(self):
        while True:
            await RisingEdge(self.clk)
            await ReadOnly()
            self._clock += 1
            if (self._first_beat is None and value(self.proof.valid)
                    and value(self.proof.ready)):
                self._first_beat = self._clock
            if (self._first_beat is not None and self._resp_valid is None
                    and value(self.dut.o_resp__valid)):
                self._resp_valid = self._clock

    async def load_key(self, key, k_att, *, timeout_cycles=2_000_000):
        """Load a key and wait until the core has finished checking it; returns cycles."""
        start = self._clock
        await self.key.send_all(key_words(key, k_att))
        for _ in range(timeout_cycles):
            await ReadOnly()
            if value(self.dut.o_key_status) != KEY_STATUS_LOADING:
                break
            await RisingEdge(self.clk)
        else:
            raise AssertionError("key load did not finish")
        self.loaded = (key, k_att)
        await RisingEdge(self.clk)
        return self._clock - start

    async def run(self, descriptor, nonce, proof, *, timeout_cycles=2_000_000):
        """One request; returns ``(vote, status, attestation, digest, cycles)``."""
        self._first_beat = self._resp_valid = None
        payload = Request.const({"descriptor": int.from_bytes(descriptor, "little"),
                                 "nonce": nonce}).as_value().value
        await self.req.send(payload, timeout_cycles=timeout_cycles)
        sender = cocotb.start_soon(self.proof.send_all(proof_words(proof),
                                                       timeout_cycles=timeout_cycles))
        raw = await self.resp.recv(timeout_cycles=timeout_cycles)
        await sender
        r = Response.from_bits(raw)
        cycles = self._resp_valid - self._first_beat
        return (bool(r.vote), Status(int(r.status)), int(r.attestation).to_bytes(32, "little"),
                int(r.digest).to_bytes(32, "little"), cycles)


@cocotb.test()
async def validate_file(dut):
    stall = float(os.environ.get("PQVOTE_STALL", "0"))
    tb = CoreTB(dut, stall_prob=stall)
    await tb.reset()
    out = []
    with open(os.environ["PQVOTE_REQUESTS"]) as f:
        requests = [json.loads(line) for line in f if line.strip()]
    for req in requests:
        key = bytes.fromhex(req["key"]) if req.get("key") else None
        k_att = bytes.fromhex(req["attestation_key"]) if req.get("attestation_key") else None
        key_cycles = None
        if key is not None and tb.loaded != (key, k_att):
            key_cycles = await tb.load_key(key, k_att)
        if key is None and tb.loaded is not None:
            # "no key": reset the core so that nothing of an earlier key survives
            await tb.reset()
            tb.loaded = None
        vote, status, att, pd, cycles = await tb.run(
            bytes.fromhex(req["descriptor"]), req["nonce"], bytes.fromhex(req["proof"]))
        out.append({"vendor": req["vendor"], "vote": vote, "attestation": att.hex(),
                    "proof_digest": pd.hex(), "status": status.label, "cycles": cycles,
                    "key_load_cycles": key_cycles})
    with open(os.environ["PQVOTE_RESPONSES"], "w") as f:
        for o in out:
            f.write(json.dumps(o) + "\n")
    assert len(out) == len(requests)
    assert all(o["vendor"] in VENDORS for o in out)
