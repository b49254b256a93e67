"""RTL cluster co-simulation: the landed validator cores side by side in one Verilator model.

:class:`ClusterTop` instantiates one core per slot (``hdl.cores.CORES[vendor]()``) and
exposes each core's ports with a ``c<slot>_`` prefix (``c0_i_key__payload``, …). The cocotb
test :func:`cluster_requests` (which also drives a single core, ports unprefixed) runs a
list of requests; each request names the slots that
answer it, with the key, ``K_att`` and proof of each. A slot whose key differs from the
loaded one loads it first (all such slots concurrently); a slot without a key answers from a
reset core. Then every named slot gets the request and the proof stream at the same cycle,
and the bench records each core's response with two figures:

``cycles``
    the core's latency (SPEC §4): from the first accepted proof beat to the response
    becoming valid (``sim.tb_common.CoreDriver``, as in every core bench);
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
    @cocotb.test()
    async def cluster_requests(dut):
        import random

        from sim.tb_common import TB, CoreDriver

        with open(os.environ["PQVOTE_CLUSTER"]) as f:
            conf = json.load(f)
        stall = float(os.environ.get("PQVOTE_STALL", "0"))
        idle = float(os.environ.get("PQVOTE_IDLE", "0"))
        tb = TB(dut)
        rng = random.Random(tb.rng.random())
        await tb.reset()
        slots = [CoreDriver(tb, prefix, rng=rng, idle_prob=idle, req_idle_prob=0.0,
                            stall_prob=stall) for prefix in conf["prefixes"]]

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
                vote, status, att, pd, cycles, arrival = await t
                responses[str(i)] = {"vote": vote, "status": status.label,
                                     "attestation": att.hex(), "proof_digest": pd.hex(),
                                     "cycles": cycles, "arrival": arrival,
                                     "key_load_cycles": key_cycles.get(i)}
            records.append({"nonce": req["nonce"], "slots": responses})
        with open(os.environ["PQVOTE_CLUSTER_OUT"], "w") as f:
            json.dump(records, f)
        assert len(records) == len(conf["requests"])
