"""The behavioural DP16KD and MULT18X18D models (sim/models/) against a Python model.

A small design (sim/dp16kd_probe.py) whose memories map to ECP5 block RAM in the modes
pqvote's cores use — 36-bit pseudo dual port (write + read port), 18-bit true dual port
ROM with contents (two read ports, READBEFOREWRITE), a read port transparent to a write
port, a narrow 4-bit ROM — and an unsigned and a signed 18 × 18 product is synthesised
with ``synth_ecp5``; its netlist runs ``sim/tb_dp16kd.py`` under Verilator with the models,
every read and product compared on every cycle.
The same bench passes on the RTL, and fails when one expected value is corrupted.
"""

import re

import pytest

DESIGN = "dp16kd_probe"


@pytest.fixture(scope="module")
def netlist(tmp_path_factory):
    from sim.dp16kd_probe import Dp16kdProbe
    from tools.synth import synthesize

    workdir = tmp_path_factory.mktemp("dp16kd")
    figures = synthesize(DESIGN, Dp16kdProbe, workdir)
    return workdir / f"{DESIGN}_netlist.v", figures


def _modes(netlist_text):
    """(DATA_WIDTH_A, DATA_WIDTH_B, WRITEMODE_A, has contents) of every DP16KD in a netlist."""
    modes = []
    for params in re.findall(r"DP16KD\s+#\((.*?)\)\s*\S+\s*\(", netlist_text, re.S):
        p = dict(re.findall(r"\.(\w+)\(([^()]*)\)", params))
        width = lambda k: int(p[k].split("'d")[-1])
        init = any(int(v.split("'h")[-1], 16) for k, v in p.items() if k.startswith("INITVAL"))
        modes.append((width("DATA_WIDTH_A"), width("DATA_WIDTH_B"),
                      p.get("WRITEMODE_A", '"NORMAL"').strip('"'), init))
    return modes


def test_probe_maps_to_block_ram(netlist):
    """Every memory of the probe is block RAM, in the modes the cores use."""
    path, figures = netlist
    modes = _modes(path.read_text())
    assert figures["dp16kd"] == len(modes) >= 6
    assert modes.count((36, 36, "NORMAL", False)) >= 3          # the 96-bit RAM
    assert any(m[:2] == (18, 18) and m[3] for m in modes)       # the ζ-like ROM
    assert any(m[3] and min(m[:2]) < 9 for m in modes)          # the 4-bit ROM
    assert figures["mult18x18d"] == 2


def _run(netlist, **env):
    from sim.netlist import netlist_build
    from sim.runner import run_cocotb

    verilog, args = netlist_build(netlist, netlist.parent)
    return run_cocotb(name="dp16kd-netlist", top=None, module="sim.tb_dp16kd", toplevel=DESIGN,
                      verilog=verilog, build_args=args, cxx_opt="-O0", env=env)


def test_netlist_with_model_matches(netlist):
    assert _run(netlist[0]) == 1


def test_netlist_negative_control(netlist):
    with pytest.raises(AssertionError, match="1 of 1 cocotb tests failed"):
        _run(netlist[0], DP16KD_CORRUPT=1)


def test_rtl_matches():
    """The bench's Python model is the RTL's meaning: the same bench on the Amaranth Verilog."""
    from sim.dp16kd_probe import Dp16kdProbe
    from sim.runner import run_cocotb

    assert run_cocotb(name="dp16kd-rtl", top=Dp16kdProbe, module="sim.tb_dp16kd", cxx_opt="-O0") == 1
