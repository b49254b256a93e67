"""The LUT-level census (tools/depth.py) on small hand-written ECP5 netlists."""

import json

import pytest

from tools.depth import Census, main


def _cell(kind, **ports):
    """A cell with its ports: names starting with ``o_`` are outputs (prefix dropped)."""
    conns, dirs = {}, {}
    for name, bits in ports.items():
        out = name.startswith("o_")
        port = name[2:] if out else name
        conns[port] = bits
        dirs[port] = "output" if out else "input"
    return {"type": kind, "connections": conns, "port_directions": dirs}


def _netlist(cells, nets):
    return {"modules": {"top": {"attributes": {"top": 1}, "cells": cells,
                                "netnames": {n: {"bits": [b]} for n, b in nets.items()}}}}


def _chain_netlist():
    # q0 -> lut a -> lut b -> ff1.DI; q0 -> pfumx -> ff2.CE;
    # q0 -> ccu0 (LUT inputs) -> ccu1 (CIN) -> ccu2 (CIN) -> S -> lut c -> ff3.DI
    cells = {
        "ff0": _cell("TRELLIS_FF", DI=[9], o_Q=[1]),
        "a": _cell("LUT4", A=[1], B=["0"], o_Z=[2]),
        "b": _cell("LUT4", A=[2], B=[1], o_Z=[3]),
        "ff1": _cell("TRELLIS_FF", DI=[3], o_Q=[4]),
        "mux": _cell("PFUMX", ALUT=[1], BLUT=[1], C0=[1], o_Z=[5]),
        "ff2": _cell("TRELLIS_FF", DI=[4], CE=[5], o_Q=[6]),
        "ccu0": _cell("CCU2C", A0=[1], CIN=["0"], o_COUT=[10], o_S0=[11]),
        "ccu1": _cell("CCU2C", A0=["0"], CIN=[10], o_COUT=[12], o_S0=[13]),
        "ccu2": _cell("CCU2C", A0=["0"], CIN=[12], o_COUT=[14], o_S0=[15]),
        "c": _cell("LUT4", A=[15], o_Z=[16]),
        "ff3": _cell("TRELLIS_FF", DI=[16], o_Q=[9]),
    }
    nets = {"q0": 1, "n_a": 2, "n_b": 3, "q1": 4, "n_mux": 5, "sum2": 15, "n_c": 16, "q3": 9}
    return _netlist(cells, nets)


def test_levels_luts_muxes_and_carries():
    census = Census(_chain_netlist(), carry=0.1)
    by_end = {(c, p): census.level(b) for c, p, b in census.endpoints}
    assert by_end[("ff1", "DI")] == 2.0                # two LUT4
    assert by_end[("ff2", "CE")] == 0.5                # a PFUMX
    assert by_end[("ff2", "DI")] == 0.0                # straight from a flip-flop
    assert by_end[("ff3", "DI")] == pytest.approx(2.2)  # carry entry 1, two steps 0.1, a LUT
    assert census.deep(2.1)[0][1] == "ff3"
    chain = census.chain(16)
    assert [kind for _, _, kind in chain] == ["LUT4", "CCU2C", "CCU2C", "CCU2C", "start"]
    assert chain[-1][1] == "q0"


def test_combinational_loop_is_reported():
    cells = {"x": _cell("LUT4", A=[2], o_Z=[1]), "y": _cell("LUT4", A=[1], o_Z=[2]),
             "ff": _cell("TRELLIS_FF", DI=[1], o_Q=[3])}
    census = Census(_netlist(cells, {"x": 1, "y": 2}))
    with pytest.raises(ValueError, match="combinational loop"):
        census.histogram()


def test_cli(tmp_path, capsys):
    path = tmp_path / "top.json"
    path.write_text(json.dumps(_chain_netlist()))
    assert main([str(path), "--at-least", "2", "--trace", "ff3"]) == 0
    out = capsys.readouterr().out
    assert "ff3.DI" in out and "ff1.DI" in out and "ff2.CE" not in out
    assert "chain into ff3.DI" in out
    assert main([str(tmp_path / "missing.json")]) == 2
    assert "cannot read" in capsys.readouterr().err
