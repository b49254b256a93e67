"""Runs a file of JSON Lines requests through one validator core (SPEC §3.3, RTL backend).

Environment: ``PQVOTE_REQUESTS`` (a JSON Lines file of parsed, single-vendor requests),
``PQVOTE_RESPONSES`` (where to write one JSON response per request, in order),
``PQVOTE_STALL`` (response back-pressure probability, default 0), ``PQVOTE_METRICS``
(optional: a JSON file for the simulated cycles and the wall time of the simulation).
The key (algorithm key then K_att) is loaded whenever it differs from the loaded one.
``cycles`` in a response is the core's latency: from the first accepted proof beat to
the response becoming valid. Key-load cycles are reported as ``key_load_cycles``.
"""

import json
import os
import time

import cocotb
from cocotb.utils import get_sim_time

from golden.proof import VENDORS
from sim.tb_common import CLOCK_NS, TB, CoreDriver, key_words, proof_words  # noqa: F401


class CoreTB(TB):
    """Clock, reset and a :class:`~sim.tb_common.CoreDriver` for a ``ValidatorShell``-shaped
    core with unprefixed ports."""

    def __init__(self, dut, *, idle_prob=0.0, stall_prob=0.0, seed=None):
        super().__init__(dut, seed=seed)
        self.core = CoreDriver(self, idle_prob=idle_prob, stall_prob=stall_prob)
        self.key, self.req, self.proof, self.resp = (self.core.key, self.core.req,
                                                     self.core.proof, self.core.resp)

    @property
    def loaded(self):
        return self.core.loaded

    @loaded.setter
    def loaded(self, value):
        self.core.loaded = value

    async def load_key(self, key, k_att, *, timeout_cycles=2_000_000):
        """Load a key and wait until the core has finished checking it; returns cycles."""
        self.core.timeout_cycles = timeout_cycles
        return await self.core.load_key(key, k_att)

    async def run(self, descriptor, nonce, proof, *, timeout_cycles=2_000_000):
        """One request; returns ``(vote, status, attestation, digest, cycles)``."""
        self.core.timeout_cycles = timeout_cycles
        return (await self.core.run(descriptor, nonce, proof))[:5]


@cocotb.test()
async def validate_file(dut):
    started = time.time()
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
    if os.environ.get("PQVOTE_METRICS"):
        with open(os.environ["PQVOTE_METRICS"], "w") as f:
            json.dump({"sim_cycles": int(get_sim_time("ns")) // CLOCK_NS, "started": started,
                       "finished": time.time(), "requests": len(out)}, f)
    assert len(out) == len(requests)
    assert all(o["vendor"] in VENDORS for o in out)
