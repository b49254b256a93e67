"""RTL backend of ``pqvote validate``: one Verilator simulation per vendor core."""

import json
import tempfile
from pathlib import Path

from golden.proof import request_json


def available_cores():
    from hdl.cores import CORES
    return CORES


def validate_rtl(vendor, requests, *, stall_prob=0.0, metrics=None):
    """Run parsed requests (all for ``vendor``) through its core; returns response dicts.

    ``metrics`` names a JSON file for the simulation's own figures (simulated cycles, wall
    time of the simulation proper), used by ``make bench-rtl``."""
    from sim.runner import run_cocotb

    cores = available_cores()
    if vendor not in cores:
        raise KeyError(f"no RTL core for vendor {vendor!r} (landed: {', '.join(sorted(cores)) or 'none'})")
    with tempfile.TemporaryDirectory(prefix="pqvote-rtl-") as tmp:
        req_path, resp_path = Path(tmp) / "requests.jsonl", Path(tmp) / "responses.jsonl"
        with open(req_path, "w") as f:
            for r in requests:
                f.write(json.dumps(request_json(r.vendor, r.key, r.attestation_key,
                                                r.descriptor, r.nonce, r.proof)) + "\n")
        # the registry's factory depends on hdl/ and golden/ only: a model built from the
        # same sources is reused without converting the core to Verilog again
        run_cocotb(name=f"core-{vendor}", top=cores[vendor], module="sim.tb_validate",
                   source_key=f"core-{vendor}",
                   env={"PQVOTE_REQUESTS": req_path, "PQVOTE_RESPONSES": resp_path,
                        "PQVOTE_STALL": stall_prob,
                        **({"PQVOTE_METRICS": metrics} if metrics else {})})
        return [json.loads(line) for line in resp_path.read_text().splitlines()]
