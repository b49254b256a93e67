"""``make latency``: measure every landed core's latency in simulation and compare it
with ``latency_targets.toml``.

For each core in ``hdl.cores.CORES`` a batch of requests — valid proofs and invalid ones
(tampered body, wrong tag/signature, non-zero padding), under two different keys — runs
through one Verilator simulation (``backends.rtl``). Every response is checked against the
golden model; the KEM cores must show one latency for all of them (constant time), the
``riscv`` core reports the mean over random messages and the worst case. The permutation
figures come from the Keccak bench. Exits non-zero on a miss or a mismatch. With
``--record`` the figures are merged into the committed ``results/latency.json`` (read by
``python -m tools.report``).
"""

import os
import random
import subprocess
import sys
import tomllib
from pathlib import Path

from golden import proof as gp
from sim import results
from tools import record as results_file

ROOT = Path(__file__).resolve().parent.parent
TARGETS = ROOT / "latency_targets.toml"


def make_requests(vendor, rng, count):
    """(request, label) pairs: valid and invalid proofs under two keys."""
    reqs = []
    for _ in range(2):
        k_att = rng.randbytes(32)
        public, secret = gp.reference(vendor).keygen()
        key, minter = (public, secret) if vendor == "riscv" else (secret, public)
        for n in range(count):
            d = rng.randbytes(24)
            proof = bytearray(gp.mint(vendor, minter, d))
            label = "valid"
            if n % 2:
                pos = rng.randrange(gp.BODY_LEN[vendor])
                proof[pos] ^= 1 << rng.randrange(8)
                label = "tampered"
            elif n % 4 == 2:
                proof[-1] = 1
                label = "padding"
            reqs.append((gp.Request(vendor, key, k_att, d, rng.getrandbits(64), bytes(proof)), label))
    return reqs


def measure(vendor, count):
    from backends.rtl import validate_rtl

    rng = random.Random(int(os.environ.get("PQVOTE_SEED", "2026")))
    items = make_requests(vendor, rng, count)
    responses = validate_rtl(vendor, [r for r, _ in items])
    ok_cycles, valid_cycles = [], []
    for (req, label), resp in zip(items, responses):
        golden = gp.validate(vendor, req.key, req.attestation_key, req.descriptor, req.nonce, req.proof)
        expect = gp.response_json(vendor, golden)
        for field in ("vote", "attestation", "proof_digest", "status"):
            if resp[field] != expect[field]:
                raise SystemExit(f"{vendor}: {label} request: {field} is {resp[field]!r}, "
                                 f"golden model says {expect[field]!r}")
        if label == "valid" and not resp["vote"]:
            raise SystemExit(f"{vendor}: a valid proof was rejected")
        ok_cycles.append(resp["cycles"])
        if label == "valid":
            valid_cycles.append(resp["cycles"])
    key_loads = [r["key_load_cycles"] for r in responses if r.get("key_load_cycles")]
    figures = {"requests": len(items), "key_load": max(key_loads) if key_loads else None,
               "latency_min": min(ok_cycles), "latency_max": max(ok_cycles),
               "latency_mean": round(sum(valid_cycles) / len(valid_cycles), 1),
               "latency_worst": max(ok_cycles)}
    if vendor != "riscv":
        if len(set(ok_cycles)) != 1:
            raise SystemExit(f"{vendor}: latency is not constant: {sorted(set(ok_cycles))}")
        figures["latency"] = ok_cycles[0]
    results.record(f"latency-{vendor}", **figures)
    return figures


RECORD = ROOT / "results" / "latency.json"


def record(vendor, figures):
    """Merge one core's figures into the committed ``results/latency.json``."""
    results_file.record(RECORD, (vendor,), figures,
                        seed=int(os.environ.get("PQVOTE_SEED", "2026")),
                        command="make latency LATENCY_ARGS=--record")


def main(argv=None):
    from hdl.cores import CORES

    argv = sys.argv[1:] if argv is None else argv
    keep = "--record" in argv

    targets = tomllib.loads(TARGETS.read_text())
    count = int(os.environ.get("PQVOTE_LATENCY_CASES", "8"))
    rows, miss = [], False
    subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider",
                    str(ROOT / "tests" / "test_keccak_rtl.py")], check=True, cwd=ROOT)
    keccak = results.load("keccak")
    for name, metric in (("permutation", "permutation_cycles_r1"), ("permutation_2x", "permutation_cycles_r2")):
        rows.append(("keccak", name, keccak.get(metric), targets["keccak"][name]))
    for vendor in gp.VENDORS:
        metric = "latency_mean" if vendor == "riscv" else "latency"
        if vendor not in CORES:
            rows.append((vendor, metric, None, targets[vendor][metric]))
            continue
        figures = measure(vendor, count)
        if keep:
            record(vendor, figures)
        rows.append((vendor, metric, figures[metric], targets[vendor][metric]))
        if vendor == "riscv":
            rows.append((vendor, "latency_worst", figures["latency_worst"], None))
        rows.append((vendor, "key_load", figures["key_load"], None))
    print(f"\n{'block':8} {'metric':16} {'measured':>10} {'target':>8} {'stretch':>8}  result")
    for block, metric, got, tgt in rows:
        if tgt is None:
            print(f"{block:8} {metric:16} {got if got is not None else '-':>10} {'':>8} {'':>8}  (reported)")
            continue
        if got is None:
            verdict = "not landed" if block != "keccak" else "MISSING"
            miss |= block == "keccak"
        else:
            verdict = "ok" if got <= tgt["target"] else "MISS"
            miss |= got > tgt["target"]
            if verdict == "ok" and got > tgt["stretch"]:
                verdict = "ok (above stretch)"
        print(f"{block:8} {metric:16} {got if got is not None else '-':>10} "
              f"{tgt['target']:>8} {tgt['stretch']:>8}  {verdict}")
    return 1 if miss else 0


if __name__ == "__main__":
    sys.exit(main())
