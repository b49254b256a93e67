"""Shared checks of a whole KEM core (``intel``, ``amd``, ``arm``): the exact latency of
latency_targets.toml, the core bench on a constant-time scenario, and ``pqvote validate
--backend rtl`` against the golden model. Each vendor's test file supplies its scenario."""

import json
import random
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def latency_exact(vendor):
    """The exact latency of ``vendor`` in latency_targets.toml (asserted by the core bench)."""
    with open(ROOT / "latency_targets.toml", "rb") as f:
        return tomllib.load(f)[vendor]["latency_exact"]


def run_core_bench(vendor, name, scenario, tmp_path):
    """Run ``sim.tb_kem_core`` on ``hdl.cores.CORES[vendor]`` (build ``name``) with
    ``scenario``; record and return its metrics (``latency``, ``key_load``, ``timed``)."""
    from hdl.cores import CORES
    from sim.results import record
    from sim.runner import run_cocotb

    (tmp_path / "scenario.json").write_text(json.dumps(scenario))
    metrics = tmp_path / "metrics.json"
    run_cocotb(name=name, top=CORES[vendor], module="sim.tb_kem_core",
               env={"KEM_SCENARIO": tmp_path / "scenario.json", "KEM_METRICS": metrics,
                    "KEM_LATENCY_EXACT": latency_exact(vendor)})
    data = json.loads(metrics.read_text())
    record(vendor, latency=data["latency"], key_load=data["key_load"])
    assert data["latency"] == latency_exact(vendor)
    return data


def check_validate_rtl(vendor, seed, tmp_path, capsys):
    """``pqvote validate --backend rtl``: a valid, a tampered and a second valid request of
    ``vendor`` answered by its core equal the golden model's responses, with one latency."""
    from golden import proof as gp
    from pqvote.cli import main

    rng = random.Random(seed)
    public, secret = gp.reference(vendor).keygen()
    k_att = rng.randbytes(32)
    lines, expect = [], []
    for name in ("valid", "tampered", "valid2"):
        d = rng.randbytes(24)
        p = bytearray(gp.mint(vendor, public, d))
        if name == "tampered":
            p[rng.randrange(gp.BODY_LEN[vendor])] ^= 1 << rng.randrange(8)
        req = gp.request_json(vendor, secret, k_att, d, rng.getrandbits(64), bytes(p))
        lines.append(json.dumps(req))
        g = gp.validate(vendor, secret, k_att, d, req["nonce"], bytes(p))
        expect.append((name, gp.response_json(vendor, g)))
    path = tmp_path / "requests.jsonl"
    path.write_text("\n".join(lines) + "\n")
    assert main(["validate", "--backend", "rtl", str(path)]) == 0
    out = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert len(out) == len(expect)
    for (name, want), got in zip(expect, out):
        for field in ("vote", "attestation", "proof_digest", "status"):
            assert got[field] == want[field], (name, field)
    assert [a["vote"] for a in out] == [True, False, True]
    assert len({a["cycles"] for a in out}) == 1
