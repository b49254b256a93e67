"""Cluster backend: requests through the landed cores side by side in one Verilator run.

The model is ``sim.tb_cluster.ClusterTop`` (one slot per vendor), built once per set of
vendors and reused — or, for a single vendor, its core itself (``hdl.cores.CORES[vendor]``,
the same model the core's own bench and ``backends.rtl`` build). :func:`simulate_cluster`
runs a whole batch of requests in one simulation and returns, per request and slot, the core's response with its SPEC §4
latency (``cycles``) and its arrival cycle (``arrival``). It decides nothing: the
consensus layer turns these responses into votes.
"""

import json
import os
import tempfile

__all__ = ["simulate_cluster"]


def simulate_cluster(*, vendors, requests, stall=0.0, idle=0.0, name="cluster"):
    """Run ``requests`` through the cluster of ``vendors`` (one slot per entry).

    ``requests``: dicts ``nonce`` (int), ``descriptor`` (24 bytes) and ``slots`` — slot index →
    ``(key, k_att, proof)`` (``key`` or ``k_att`` ``None``: the core has no key). Returns one
    dict per request: slot index → response dict ``vote, status, attestation,
    proof_digest`` (hex), ``cycles``, ``arrival``, ``key_load_cycles``.
    """
    from hdl.cores import CORES
    from sim.runner import run_cocotb
    from sim.tb_cluster import ClusterTop

    vendors = tuple(vendors)
    if len(vendors) == 1:
        [vendor] = vendors
        name, top, prefixes = f"core-{vendor}", CORES[vendor], [""]
    else:
        name = f"{name}-{'-'.join(vendors)}"
        top = lambda: ClusterTop(vendors=vendors)           # noqa: E731
        prefixes = [f"c{i}_" for i in range(len(vendors))]
    conf = {"vendors": list(vendors), "prefixes": prefixes, "requests": []}
    for r in requests:
        slots = {}
        for i, (key, k_att, proof) in r["slots"].items():
            if not 0 <= i < len(vendors):
                raise ValueError(f"slot {i} outside a cluster of {len(vendors)}")
            slots[str(i)] = {"key": key.hex() if key is not None else None,
                             "k_att": k_att.hex() if k_att is not None else None,
                             "proof": bytes(proof).hex()}
        conf["requests"].append({"nonce": int(r["nonce"]), "descriptor": bytes(r["descriptor"]).hex(),
                                 "slots": slots})
    with tempfile.TemporaryDirectory(prefix="pqvote-cluster-") as tmp:
        inp, out = os.path.join(tmp, "cluster-in.json"), os.path.join(tmp, "cluster-out.json")
        with open(inp, "w") as f:
            json.dump(conf, f)
        run_cocotb(name=name, top=top, module="sim.tb_cluster",
                   env={"PQVOTE_CLUSTER": inp, "PQVOTE_CLUSTER_OUT": out,
                        "PQVOTE_STALL": stall, "PQVOTE_IDLE": idle})
        with open(out) as f:
            records = json.load(f)
    return [{int(i): resp for i, resp in rec["slots"].items()} for rec in records]
