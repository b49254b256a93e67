"""RTL cluster co-simulation: the landed validator cores side by side in one Verilator model,
with the consensus collector deciding from their responses as they arrive.

:class:`ClusterTop` instantiates one core per slot (``hdl.cores.CORES[vendor]()``) and
exposes each core's ports with a ``c<slot>_`` prefix (``c0_i_key__payload``, …). The cocotb
test :func:`cluster_requests` loads every slot's key, then runs each request: the RTL cores
get the request and proof streams concurrently; validators whose vendor has no RTL slot are
answered by a Python vote source (``software`` by default). Each response passes through the
request's fault injection (``consensus.sources.inject``: byzantine, corrupt, silent, late,
replay, equivocate) and is handed to a :class:`consensus.collector.Collector` at the cycle it
arrives; the collector's clock is the simulation's cycle count. Late messages are stamped
``deadline + 1`` (the bench does not spend idle cycles waiting for a deadline).

Environment: ``PQVOTE_CLUSTER`` (input JSON, see :func:`write_cluster_input`),
``PQVOTE_CLUSTER_OUT`` (output JSON: one record per request), ``PQVOTE_STALL`` (response
back-pressure probability), ``PQVOTE_IDLE`` (idle probability on the proof streams).

From pytest, :func:`run_cluster` builds the model once and runs a whole batch.
"""

import json
import os

from amaranth.hdl import Module
from amaranth.lib import wiring
from amaranth.lib.wiring import In

__all__ = ["ClusterTop", "run_cluster", "write_cluster_input"]


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


# -- pytest side ------------------------------------------------------------------------------

def write_cluster_input(path, *, validators, requests, python_source="software", rule="gt_2_3"):
    """Write the bench input.

    ``validators``: dicts ``name, vendor, key (bytes or None), k_att (bytes), slot`` (the
    RTL slot index, or ``None`` for the Python source); ``requests``: dicts ``nonce,
    descriptor, proofs {vendor: bytes}, faults {name: kind}, deadline`` (cycles after
    opening)."""
    obj = {"rule": rule, "python_source": python_source,
           "validators": [dict(v, key=v["key"].hex() if v["key"] is not None else None,
                               k_att=v["k_att"].hex()) for v in validators],
           "requests": [dict(r, descriptor=r["descriptor"].hex(),
                             proofs={k: p.hex() for k, p in r["proofs"].items()})
                        for r in requests]}
    with open(path, "w") as f:
        json.dump(obj, f)


def run_cluster(tmp_dir, *, vendors, validators, requests, python_source="software",
                rule="gt_2_3", stall=0.0, idle=0.0, name="cluster"):
    """Build the cluster of ``vendors`` (once) and run ``requests``; returns the records."""
    from sim.runner import run_cocotb
    tmp_dir = os.fspath(tmp_dir)
    inp = os.path.join(tmp_dir, "cluster-in.json")
    out = os.path.join(tmp_dir, "cluster-out.json")
    write_cluster_input(inp, validators=validators, requests=requests,
                        python_source=python_source, rule=rule)
    run_cocotb(name=f"{name}-{'-'.join(vendors)}", top=lambda: ClusterTop(vendors=vendors),
               module="sim.tb_cluster",
               env={"PQVOTE_CLUSTER": inp, "PQVOTE_CLUSTER_OUT": out,
                    "PQVOTE_STALL": stall, "PQVOTE_IDLE": idle})
    with open(out) as f:
        return json.load(f)


# -- cocotb side ------------------------------------------------------------------------------

try:
    import cocotb
except ImportError:         # imported by pytest without a simulator: only the pytest side
    cocotb = None

if cocotb is not None:
    from cocotb.triggers import ReadOnly, RisingEdge

    class _Slot:
        """The drivers of one core slot."""

        def __init__(self, tb, index, rng, stall, idle):
            from sim.tb_common import StreamDriver, StreamSink
            dut, p = tb.dut, f"c{index}_"
            self.dut, self.prefix, self.clk = dut, p, tb.clk
            self.key = StreamDriver(dut, p + "i_key", tb.clk, rng=rng)
            self.req = StreamDriver(dut, p + "i_req", tb.clk, rng=rng)
            self.proof = StreamDriver(dut, p + "i_proof", tb.clk, rng=rng, idle_prob=idle)
            self.resp = StreamSink(dut, p + "o_resp", tb.clk, rng=rng, stall_prob=stall)
            self.status = getattr(dut, p + "o_key_status")

        async def load_key(self, key, k_att, timeout_cycles=2_000_000):
            from sim.tb_common import value
            from sim.tb_validate import key_words
            await self.key.send_all(key_words(key, k_att))
            for _ in range(timeout_cycles):
                await ReadOnly()
                if value(self.status) != 1:          # KeyStatus.LOADING
                    break
                await RisingEdge(self.clk)
            else:
                raise AssertionError(f"{self.prefix}: key load did not finish")
            await RisingEdge(self.clk)

    @cocotb.test()
    async def cluster_requests(dut):
        import random

        from consensus.collector import (Collector, Counted, Decided, EvidenceFound, Open,
                                         Receive, Refused, Tick)
        from consensus.sources import Result, inject, make_sources, software_attestation
        from consensus.votes import Validator, ValidatorSet, Vote
        from golden.proof import Status, attestation, proof_digest
        from hdl.validator import Request, Response
        from sim.tb_common import TB
        from sim.tb_validate import proof_words

        with open(os.environ["PQVOTE_CLUSTER"]) as f:
            conf = json.load(f)
        stall = float(os.environ.get("PQVOTE_STALL", "0"))
        idle = float(os.environ.get("PQVOTE_IDLE", "0"))
        tb = TB(dut)
        rng = random.Random(tb.rng.random())
        await tb.reset()

        entries = conf["validators"]
        vs = ValidatorSet([Validator(e["name"], e["vendor"], bytes.fromhex(e["k_att"]))
                           for e in entries], conf["rule"])
        keys = {e["name"]: bytes.fromhex(e["key"]) if e["key"] else None for e in entries}
        slots = {e["name"]: _Slot(tb, e["slot"], rng, stall, idle)
                 for e in entries if e["slot"] is not None}
        python = make_sources(conf["python_source"])
        # Keys: all slots load concurrently.
        loads = [cocotb.start_soon(slots[n].load_key(keys[n], vs[n].k_att))
                 for n in slots if keys[n] is not None]
        for t in loads:
            await t

        collector = Collector(vs, attest=attestation)
        previous = {}            # validator → its genuine vote to the previous request
        records = []
        for req in conf["requests"]:
            nonce, descriptor = req["nonce"], bytes.fromhex(req["descriptor"])
            proofs = {k: bytes.fromhex(p) for k, p in req["proofs"].items()}
            faults = req.get("faults", {})
            opened = tb.cycle
            deadline = opened + req["deadline"]
            digests = {v.name: proof_digest(proofs[v.vendor]) for v in vs.validators}
            effects = collector.step(Open(nonce, descriptor, at=opened, deadline=deadline,
                                          digests=digests))
            received, late, responses, genuine = [], [], {}, {}

            def deliver(vote, at):
                eff = collector.step(Receive(vote, at=at))
                effects.extend(eff)
                for e in eff:
                    if isinstance(e, Counted):
                        received.append(dict(e.vote.to_json(), counted=True, reason=None, at=at))
                    elif isinstance(e, Refused):
                        received.append(dict(e.vote.to_json(), counted=False, reason=e.reason,
                                             at=at))

            def respond(v, result, cycles):
                honest = Vote(v.name, nonce, descriptor, bool(result.vote), result.digest,
                              result.attestation)
                genuine[v.name] = honest
                kind = faults.get(v.name)
                earlier = previous.get(v.name)
                if kind == "replay" and earlier is None:
                    r = python[v.vendor].validate(v.vendor, keys[v.name], v.k_att, descriptor,
                                                  nonce - 1, proofs[v.vendor])
                    earlier = Vote(v.name, nonce - 1, descriptor, bool(r.vote), r.digest,
                                   r.attestation)
                responses[v.name] = {"vote": bool(result.vote),
                                     "status": Status(int(result.status)).label,
                                     "attestation": result.attestation.hex(),
                                     "proof_digest": result.digest.hex(),
                                     "cycles": cycles, "fault": kind,
                                     "rtl": v.name in slots}
                at = tb.cycle
                for j, msg in enumerate(inject(kind, honest, k_att=v.k_att, vendor=v.vendor,
                                               earlier=earlier, attest=software_attestation)):
                    if msg.late:
                        late.append(msg.vote)
                    else:
                        deliver(msg.vote, at + j)

            async def run_slot(v):
                slot = slots[v.name]
                payload = Request.const({"descriptor": int.from_bytes(descriptor, "little"),
                                         "nonce": nonce}).as_value().value
                await slot.req.send(payload, timeout_cycles=2_000_000)
                start = tb.cycle
                sender = cocotb.start_soon(slot.proof.send_all(proof_words(proofs[v.vendor]),
                                                               timeout_cycles=2_000_000))
                raw = await slot.resp.recv(timeout_cycles=2_000_000)
                await sender
                r = Response.from_bits(raw)
                result = Result(bool(r.vote), int(r.status),
                                int(r.attestation).to_bytes(32, "little"),
                                int(r.digest).to_bytes(32, "little"))
                respond(v, result, tb.cycle - start)

            tasks = [cocotb.start_soon(run_slot(v)) for v in vs.validators if v.name in slots]
            for i, v in enumerate(vs.validators):
                if v.name not in slots:
                    await RisingEdge(tb.clk)
                    respond(v, python[v.vendor].validate(v.vendor, keys[v.name], v.k_att,
                                                         descriptor, nonce, proofs[v.vendor]),
                            None)
            for t in tasks:
                await t
            for vote in late:
                deliver(vote, deadline + 1)
            effects.extend(collector.step(Tick(max(tb.cycle, deadline + 2))))
            previous = genuine
            decided = [e.decision for e in effects if isinstance(e, Decided)]
            assert len(decided) == 1, f"request {nonce}: {len(decided)} decisions"
            records.append({"nonce": nonce, "decision": decided[0].to_json(),
                            "evidence": [e.evidence.to_json() for e in effects
                                         if isinstance(e, EvidenceFound)],
                            "received": received, "responses": responses,
                            "counters": collector.counters})
        with open(os.environ["PQVOTE_CLUSTER_OUT"], "w") as f:
            json.dump(records, f)
        assert len(records) == len(conf["requests"])
