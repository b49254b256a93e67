"""The Xilinx figures (tools/synth_xilinx.py) and their table beside the published designs
(tools/report.py), on synthetic inputs: no synthesis runs here."""

from tools.report import ANCHORS, ASSUMED_MHZ, xilinx_table
from tools.synth_xilinx import figures_from_cells


def test_figures_from_cells():
    cells = {"LUT1": 2, "LUT3": 10, "LUT6": 100, "INV": 1, "RAM64M": 3, "SRLC32E": 5,
             "FDRE": 40, "FDSE": 2, "CARRY4": 7, "RAMB18E1": 3, "RAMB36E1": 2, "DSP48E1": 9,
             "MUXF7": 4}
    f = figures_from_cells(cells)
    assert f["lut"] == 113                       # LUT1-6 and INV
    assert f["lutram"] == 3 * 4 + 5              # RAM64M takes 4 LUTs, an SRL one
    assert f["lut_total"] == 130
    assert f["ff"] == 42 and f["carry4"] == 7 and f["muxf7"] == 4
    assert (f["ramb18"], f["ramb36"], f["bram36"]) == (3, 2, 3.5)
    assert f["dsp48e1"] == 9


def test_xilinx_table_rows():
    xilinx = {"target": {"family": "Xilinx 7-series"},
              "designs": {"intel_validator": {"lut_total": 12345, "ff": 6789, "bram36": 11.5, "dsp48e1": 72}}}
    latency = {"intel": {"latency": 2000}, "riscv": {"latency_mean": 1234.5}}
    text = xilinx_table(xilinx, latency)
    lines = text.splitlines()
    intel = next(line for line in lines if line.startswith("| `intel_validator`"))
    assert "| 12,345 | 6,789 | 11.5 | 72 | 2,000 | 20.0 |" in intel
    assert f"{2000 / ASSUMED_MHZ:.1f}" == "20.0"
    assert "Xing & Li" in intel
    riscv = next(line for line in lines if line.startswith("| `riscv_validator`"))
    assert "1,234 (mean)" in riscv or "1,235 (mean)" in riscv
    assert "| - | - | - | - |" in riscv                     # not synthesised: shown as -
    # every anchor appears once, with its published figures
    for a in ANCHORS:
        assert sum(a["label"] in line for line in lines) == 1
