"""Measured figures (cycle counts, throughput) written by benches, read by reports.

Each bench writes ``build/results/<bench>.json``; ``make latency`` and the ``make sim``
summary read them. Values come from simulation only.
"""

import json
import os
from pathlib import Path

RESULTS = Path(__file__).resolve().parent.parent / "build" / "results"


def record(bench, **metrics):
    """Merge ``metrics`` into ``build/results/<bench>.json``."""
    RESULTS.mkdir(parents=True, exist_ok=True)
    path = RESULTS / f"{bench}.json"
    data = load(bench)
    data.update(metrics)
    tmp = path.with_suffix(f".tmp{os.getpid()}")
    tmp.write_text(json.dumps(data, indent=2, sort_keys=True) + "\n")
    tmp.replace(path)


def load(bench):
    path = RESULTS / f"{bench}.json"
    return json.loads(path.read_text()) if path.exists() else {}


def load_all():
    if not RESULTS.exists():
        return {}
    return {p.stem: json.loads(p.read_text()) for p in sorted(RESULTS.glob("*.json"))}
