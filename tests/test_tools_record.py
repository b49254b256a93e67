"""``tools.record``: the one helper that merges a measurement into a committed results file,
used by ``tools.synth --record`` and ``tools.latency --record``."""

import json
import time

from tools import latency, synth
from tools.record import record


def test_merge_keeps_other_entries_and_replaces_one(tmp_path):
    path = tmp_path / "results" / "x.json"
    record(path, ("designs", "a"), {"luts": 1}, seed=1, command="c1", header={"device": "d"})
    record(path, ("designs", "b"), {"luts": 2}, seed=2, command="c2", tools={"t": "1"})
    record(path, ("designs", "a"), {"luts": 3}, seed=3, command="c3")
    data = json.loads(path.read_text())
    today = time.strftime("%Y-%m-%d")
    assert data == {"device": "d", "designs": {
        "a": {"luts": 3, "seed": 3, "command": "c3", "date": today},
        "b": {"luts": 2, "seed": 2, "command": "c2", "tools": {"t": "1"}, "date": today}}}
    assert path.read_text() == json.dumps(data, indent=2, sort_keys=True) + "\n"


def test_synth_and_latency_record_through_it(tmp_path, monkeypatch):
    monkeypatch.setattr(synth, "RECORD", tmp_path / "synth.json")
    monkeypatch.setattr(synth, "tool_versions", lambda: {"yosys": "v"})
    monkeypatch.setattr(latency, "RECORD", tmp_path / "latency.json")
    monkeypatch.setenv("PQVOTE_SEED", "7")
    synth.record({"design": "top", "trellis_comb": 10}, seed=1, command="make synth")
    latency.record("intel", {"latency": 5})
    s = json.loads((tmp_path / "synth.json").read_text())
    assert s["device"] == synth.DEVICE and s["budget"] == synth.BUDGET
    assert s["designs"]["top"]["trellis_comb"] == 10 and s["designs"]["top"]["tools"] == {"yosys": "v"}
    lat = json.loads((tmp_path / "latency.json").read_text())
    assert lat["intel"]["latency"] == 5 and lat["intel"]["seed"] == 7
    assert lat["intel"]["command"] == "make latency LATENCY_ARGS=--record"
