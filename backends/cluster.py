"""Cluster backend: a batch of requests through the landed cores, one core model per vendor.

The cores share no logic and no clock domain matters between them, so each vendor's
requests run in one simulation of that vendor's core — the model its own bench and
``backends.rtl`` build (``hdl.cores.CORES[vendor]``, built once and reused). A joint model
of all cores would only add a Verilator build that no other bench shares.
:func:`simulate_cluster` returns, per request and slot, the core's response with its
SPEC §4 latency (``cycles``) and its arrival cycle (``arrival``: request offered → response
taken). It decides nothing: the consensus layer turns these responses into votes.
"""

import json
import os
import tempfile

__all__ = ["simulate_cluster"]


def simulate_cluster(*, vendors, requests, stall=0.0, idle=0.0):
    """Run ``requests`` through the cores of ``vendors`` (one slot per entry).

    ``requests``: dicts ``nonce`` (int), ``descriptor`` (24 bytes) and ``slots`` — slot index →
    ``(key, k_att, proof)`` (``key`` or ``k_att`` ``None``: the core has no key). Returns one
    dict per request: slot index → response dict ``vote, status, attestation,
    proof_digest`` (hex), ``cycles``, ``arrival``, ``key_load_cycles``.
    """
    from hdl.cores import CORES

    vendors = tuple(vendors)
    missing = sorted({v for v in vendors if v not in CORES})
    if missing:
        raise ValueError(f"No landed core for {', '.join(missing)}")
    for r in requests:
        for i in r["slots"]:
            if not 0 <= i < len(vendors):
                raise ValueError(f"slot {i} outside a cluster of {len(vendors)}")
    out = [{} for _ in requests]
    for slot, vendor in enumerate(vendors):
        asked = [n for n, r in enumerate(requests) if slot in r["slots"]]
        if not asked:
            continue
        records = _simulate_core(vendor, CORES[vendor], [requests[n] for n in asked], slot,
                                 stall, idle)
        for n, record in zip(asked, records):
            out[n][slot] = record
    return out


def _simulate_core(vendor, top, requests, slot, stall, idle):
    """Slot ``slot``'s part of ``requests`` on one simulation of ``vendor``'s core ``top``."""
    from sim.runner import run_cocotb

    conf = {"requests": []}
    for r in requests:
        key, k_att, proof = r["slots"][slot]
        conf["requests"].append({"nonce": int(r["nonce"]), "descriptor": bytes(r["descriptor"]).hex(),
                                 "key": key.hex() if key is not None else None,
                                 "k_att": k_att.hex() if k_att is not None else None,
                                 "proof": bytes(proof).hex()})
    with tempfile.TemporaryDirectory(prefix="pqvote-cluster-") as tmp:
        inp, out = os.path.join(tmp, "cluster-in.json"), os.path.join(tmp, "cluster-out.json")
        with open(inp, "w") as f:
            json.dump(conf, f)
        run_cocotb(name=f"core-{vendor}", top=top, module="sim.tb_cluster",
                   env={"PQVOTE_CLUSTER": inp, "PQVOTE_CLUSTER_OUT": out,
                        "PQVOTE_STALL": stall, "PQVOTE_IDLE": idle})
        with open(out) as f:
            return json.load(f)
