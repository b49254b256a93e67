"""RTL cluster co-simulation: the landed validator cores side by side in one Verilator model.

:class:`ClusterTop` instantiates one core per slot (``hdl.cores.CORES[vendor]()``) and
exposes each core's ports with a ``c<slot>_`` prefix (``c0_i_key__payload``, …). The cocotb
test :func:`cluster_requests` runs a list of requests; each request names the slots that
answer it, with the key, ``K_att`` and proof of each. A slot whose key differs from the
loaded one loads it first (all such slots concurrently); a slot without a key answers from a
reset core. Then every named slot gets the request and the proof stream at the same cycle,
and the bench records each core's response with two figures:

``cycles``
    the core's latency (SPEC §4): from the first accepted proof beat to the response
    becoming valid — the same figure as ``sim.tb_validate``;
``arrival``
    cycles from the request being offered to the core until its response is taken: when
    the response reaches whoever collects the votes.

The bench decides nothing: the vote collector runs in ``consensus`` on these responses
(``backends.cluster`` runs this bench, ``consensus.sources.RtlSource`` turns its records
into votes).

Environment: ``PQVOTE_CLUSTER`` (input JSON, see ``backends.cluster``),
``PQVOTE_CLUSTER_OUT`` (output JSON: one record per request), ``PQVOTE_STALL`` (response
back-pressure probability), ``PQVOTE_IDLE`` (idle probability on the proof streams).
"""

import json
import os

from amaranth.hdl import Module
from amaranth.lib import wiring
from amaranth.lib.wiring import In

__all__ = ["ClusterTop"]


class ClusterTop(wiring.Component):
    """Validator cores side by side (no shared logic: each core is independent).

    Parameters
    ----------
    vendors : tuple of str
        One slot per entry, built with ``hdl.cores.CORES[vendor]()``.

    Members
    -------
    c<i>_i_key, c<i>_o_key_status, c<i>_i_req, c<i>_i_proof, c<i>_o_resp
        The ports of slot ``i``'s core (see ``hdl.validator.ValidatorShell``).
    """

    def __init__(self, *, vendors):
        from hdl.cores import CORES
        vendors = tuple(vendors)
        if not vendors:
            raise ValueError("A cluster needs at least one core")
        missing = [v for v in vendors if v not in CORES]
        if missing:
            raise ValueError(f"No landed core for {', '.join(missing)}")
        self._vendors = vendors
        self._cores = [CORES[v]() for v in vendors]
        members = {}
        for i, core in enumerate(self._cores):
            for name, member in core.signature.members.items():
                members[f"c{i}_{name}"] = member
        super().__init__(members)

    @property
    def vendors(self):
        return self._vendors

    def elaborate(self, platform):
        m = Module()
        for i, core in enumerate(self._cores):
            m.submodules[f"c{i}"] = core
            for name, member in core.signature.members.items():
                outer, inner = getattr(self, f"c{i}_{name}"), getattr(core, name)
                if member.is_signature:
                    if member.flow == In:
                        wiring.connect(m, wiring.flipped(outer), inner)
                    else:
                        wiring.connect(m, inner, wiring.flipped(outer))
                elif member.flow == In:
                    m.d.comb += inner.eq(outer)
                else:
                    m.d.comb += outer.eq(inner)
        return m


# -- cocotb side ------------------------------------------------------------------------------

try:
    import cocotb
except ImportError:         # imported without a simulator: only the harness top
    cocotb = None

if cocotb is not None:
    from cocotb.triggers import ReadOnly, RisingEdge

    TIMEOUT = 2_000_000     # cycles any one wait may take

    class _Slot:
        """The drivers of one core slot and a monitor of its handshakes."""

        def __init__(self, tb, index, rng, stall, idle):
            from sim.tb_common import StreamDriver, StreamSink
            dut, p = tb.dut, f"c{index}_"
            self.tb, self.prefix, self.clk = tb, p, tb.clk
            self.key = StreamDriver(dut, p + "i_key", tb.clk, rng=rng)
            self.req = StreamDriver(dut, p + "i_req", tb.clk, rng=rng)
            self.proof = StreamDriver(dut, p + "i_proof", tb.clk, rng=rng, idle_prob=idle)
            self.resp = StreamSink(dut, p + "o_resp", tb.clk, rng=rng, stall_prob=stall)
            self.status = getattr(dut, p + "o_key_status")
            self.loaded = None
            self._marks = {}
            cocotb.start_soon(self._monitor())

        async def _monitor(self):
            from sim.tb_common import value
            marks = (("offered", self.req.valid, None),
                     ("first_beat", self.proof.valid, self.proof.ready),
                     ("resp_valid", self.resp.valid, None),
                     ("taken", self.resp.valid, self.resp.ready))
            while True:
                await RisingEdge(self.clk)
                await ReadOnly()
                for mark, valid, ready in marks:
                    if (mark not in self._marks and value(valid)
                            and (ready is None or value(ready))
                            and (mark == "offered" or "offered" in self._marks)):
                        self._marks[mark] = self.tb.cycle

        async def load_key(self, key, k_att):
            """Load ``key ‖ K_att`` and wait until the core has checked it; returns cycles."""
            from hdl.validator import KeyStatus
            from sim.tb_common import value
            from sim.tb_validate import key_words
            start = self.tb.cycle
            await self.key.send_all(key_words(key, k_att), timeout_cycles=TIMEOUT)
            for _ in range(TIMEOUT):
                await ReadOnly()
                if value(self.status) != KeyStatus.LOADING.value:
                    break
                await RisingEdge(self.clk)
            else:
                raise AssertionError(f"{self.prefix}: key load did not finish")
            await RisingEdge(self.clk)
            self.loaded = (key, k_att)
            return self.tb.cycle - start

        async def run(self, descriptor, nonce, proof):
            """One request; returns the response record."""
            from golden.proof import Status
            from hdl.validator import Request, Response
            from sim.tb_validate import proof_words
            self._marks = {}
            payload = Request.const({"descriptor": int.from_bytes(descriptor, "little"),
                                     "nonce": nonce}).as_value().value
            await self.req.send(payload, timeout_cycles=TIMEOUT)
            sender = cocotb.start_soon(self.proof.send_all(proof_words(proof),
                                                           timeout_cycles=TIMEOUT))
            raw = await self.resp.recv(timeout_cycles=TIMEOUT)
            await sender
            r = Response.from_bits(raw)
            marks = self._marks
            return {"vote": bool(r.vote), "status": Status(int(r.status)).label,
                    "attestation": int(r.attestation).to_bytes(32, "little").hex(),
                    "proof_digest": int(r.digest).to_bytes(32, "little").hex(),
                    "cycles": marks["resp_valid"] - marks["first_beat"],
                    "arrival": marks["taken"] - marks["offered"]}

    @cocotb.test()
    async def cluster_requests(dut):
        import random

        from sim.tb_common import TB

        with open(os.environ["PQVOTE_CLUSTER"]) as f:
            conf = json.load(f)
        stall = float(os.environ.get("PQVOTE_STALL", "0"))
        idle = float(os.environ.get("PQVOTE_IDLE", "0"))
        tb = TB(dut)
        rng = random.Random(tb.rng.random())
        await tb.reset()
        slots = [_Slot(tb, i, rng, stall, idle) for i in range(len(conf["vendors"]))]

        records = []
        for req in conf["requests"]:
            asked = {int(i): a for i, a in req["slots"].items()}
            wanted = {i: (bytes.fromhex(a["key"]), bytes.fromhex(a["k_att"]))
                      if a.get("key") and a.get("k_att") else None for i, a in asked.items()}
            if any(w is None and slots[i].loaded is not None for i, w in wanted.items()):
                # "no key": reset the cores so that nothing of an earlier key survives
                await tb.reset()
                for s in slots:
                    s.loaded = None
            loads = {i: cocotb.start_soon(slots[i].load_key(*w)) for i, w in wanted.items()
                     if w is not None and slots[i].loaded != w}
            key_cycles = {i: await t for i, t in loads.items()}
            descriptor = bytes.fromhex(req["descriptor"])
            tasks = {i: cocotb.start_soon(slots[i].run(descriptor, req["nonce"],
                                                       bytes.fromhex(a["proof"])))
                     for i, a in asked.items()}
            responses = {}
            for i, t in tasks.items():
                responses[str(i)] = dict(await t, key_load_cycles=key_cycles.get(i))
            records.append({"nonce": req["nonce"], "slots": responses})
        with open(os.environ["PQVOTE_CLUSTER_OUT"], "w") as f:
            json.dump(records, f)
        assert len(records) == len(conf["requests"])
