"""``make bench-rtl``: how fast the RTL backend (``pqvote validate --backend rtl``) simulates.

For every landed core, the requests of ``make latency`` (valid and invalid proofs under two
keys; the key loads included) run through one Verilator simulation, with the model already
built. Reported per core: simulated clock cycles per second of the simulation proper,
requests per second end to end, and the start-up (the call until the first simulated
cycle: process start, imports, model load). ``--record LABEL`` merges the figures under
``LABEL`` into ``results/rtl_speed.json``.
"""

import argparse
import json
import os
import random
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
RECORD = ROOT / "results" / "rtl_speed.json"


def bench(vendor, count):
    """Figures of one core: ``count`` requests per key, two keys."""
    from backends.rtl import available_cores, validate_rtl
    from sim.runner import build
    from tools.latency import make_requests

    build(f"core-{vendor}", available_cores()[vendor])      # the model is not timed
    items = make_requests(vendor, random.Random(2026), count)
    with tempfile.TemporaryDirectory(prefix="pqvote-bench-") as tmp:
        metrics = Path(tmp) / "metrics.json"
        t0 = time.time()
        responses = validate_rtl(vendor, [r for r, _ in items], metrics=metrics)
        wall = time.time() - t0
        m = json.loads(metrics.read_text())
    if len(responses) != len(items):
        raise SystemExit(f"{vendor}: {len(responses)} responses to {len(items)} requests")
    sim_s = m["finished"] - m["started"]
    return {"requests": len(items), "sim_cycles": m["sim_cycles"],
            "wall_s": round(wall, 2), "startup_s": round(m["started"] - t0, 2),
            "sim_s": round(sim_s, 2), "cycles_per_s": round(m["sim_cycles"] / sim_s),
            "requests_per_s": round(len(items) / wall, 2)}


def main(argv=None):
    from backends.rtl import available_cores

    parser = argparse.ArgumentParser(prog="python -m tools.bench_rtl",
                                     description=__doc__.split("\n\n")[0])
    parser.add_argument("vendors", nargs="*", help="cores (default: every landed core)")
    parser.add_argument("--count", type=int, default=4, help="requests per key (default 4)")
    parser.add_argument("--record", metavar="LABEL",
                        help=f"merge the figures under LABEL into {RECORD.relative_to(ROOT)}")
    args = parser.parse_args(argv)
    vendors = args.vendors or list(available_cores())
    unknown = [v for v in vendors if v not in available_cores()]
    if unknown:
        parser.error(f"no RTL core for {unknown[0]!r} (landed: {', '.join(available_cores())})")
    print(f"{'core':6} {'requests':>8} {'cycles':>10} {'sim s':>7} {'cycles/s':>10} "
          f"{'start s':>7} {'req/s':>6}")
    rows = {}
    for vendor in vendors:
        f = rows[vendor] = bench(vendor, args.count)
        print(f"{vendor:6} {f['requests']:>8} {f['sim_cycles']:>10} {f['sim_s']:>7} "
              f"{f['cycles_per_s']:>10} {f['startup_s']:>7} {f['requests_per_s']:>6}", flush=True)
    if args.record:
        data = json.loads(RECORD.read_text()) if RECORD.exists() else {}
        command = "python -m tools.bench_rtl " + " ".join(argv if argv is not None else sys.argv[1:])
        entry = data.setdefault(args.record, {})
        entry.update(rows)
        entry["_run"] = {"command": command, "date": time.strftime("%Y-%m-%d"),
                         "cpus": os.cpu_count(), "loadavg_before": list(os.getloadavg())}
        RECORD.parent.mkdir(parents=True, exist_ok=True)
        RECORD.write_text(json.dumps(data, indent=2, sort_keys=True) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
