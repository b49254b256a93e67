"""RTL cluster co-simulation, one core: a batch of requests through one validator core.

``backends.cluster`` runs this bench once per vendor of a batch, on the core's own model
(``hdl.cores.CORES[vendor]``). For each request the bench loads the request's key first if
it differs from the loaded one (a request without a key answers from a reset core), then
offers the request and its proof, and records the core's response with two figures:

``cycles``
    the core's latency (SPEC §4): from the first accepted proof beat to the response
    becoming valid (``sim.tb_common.CoreDriver``, as in every core bench);
``arrival``
    cycles from the request being offered to the core until its response is taken: when
    the response reaches whoever collects the votes.

The bench decides nothing: the vote collector runs in ``consensus`` on these responses
(``consensus.sources.RtlSource`` turns its records into votes).

Environment: ``PQVOTE_CLUSTER`` (input JSON: ``{"requests": [{nonce, descriptor, key,
k_att, proof}]}``, hex strings), ``PQVOTE_CLUSTER_OUT`` (output JSON: one response per
request), ``PQVOTE_STALL`` (response back-pressure probability), ``PQVOTE_IDLE`` (idle
probability on the proof stream).
"""

import json
import os

try:
    import cocotb
except ImportError:         # imported without a simulator
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
        core = CoreDriver(tb, "", rng=rng, idle_prob=idle, req_idle_prob=0.0, stall_prob=stall)

        records = []
        for req in conf["requests"]:
            wanted = (bytes.fromhex(req["key"]), bytes.fromhex(req["k_att"])) \
                if req.get("key") and req.get("k_att") else None
            key_cycles = None
            if wanted is None and core.loaded is not None:
                await tb.reset()        # "no key": nothing of an earlier key survives
                core.loaded = None
            elif wanted is not None and core.loaded != wanted:
                key_cycles = await core.load_key(*wanted)
            vote, status, att, pd, cycles, arrival = await core.run(
                bytes.fromhex(req["descriptor"]), req["nonce"], bytes.fromhex(req["proof"]))
            records.append({"vote": vote, "status": status.label, "attestation": att.hex(),
                            "proof_digest": pd.hex(), "cycles": cycles, "arrival": arrival,
                            "key_load_cycles": key_cycles})
        with open(os.environ["PQVOTE_CLUSTER_OUT"], "w") as f:
            json.dump(records, f)
        assert len(records) == len(conf["requests"])
