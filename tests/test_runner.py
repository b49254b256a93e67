"""The Verilator runner itself: build once, run, and fail when a bench fails."""

import pytest
from amaranth import Module, Signal, unsigned
from amaranth.lib import stream, wiring
from amaranth.lib.wiring import In, Out

from sim.runner import run_cocotb, to_verilog


class Increment(wiring.Component):
    """Registered ``o = i + 1`` on 16-bit streams (a one-entry pipeline)."""

    i: In(stream.Signature(unsigned(16)))
    o: Out(stream.Signature(unsigned(16)))

    def elaborate(self, platform):
        m = Module()
        m.d.comb += self.i.ready.eq(~self.o.valid | self.o.ready)
        with m.If(self.o.valid & self.o.ready):
            m.d.sync += self.o.valid.eq(0)
        with m.If(self.i.valid & self.i.ready):
            m.d.sync += [self.o.payload.eq(self.i.payload + 1), self.o.valid.eq(1)]
        return m


def test_verilog_is_deterministic():
    assert to_verilog(Increment) == to_verilog(Increment)


def test_bench_passes():
    assert run_cocotb(name="smoke", top=Increment, module="sim.tb_smoke") == 1


def test_negative_control_fails():
    """A corrupted expected value must make the bench, and so pytest, fail."""
    with pytest.raises(AssertionError, match="1 of 1 cocotb tests failed"):
        run_cocotb(name="smoke", top=Increment, module="sim.tb_smoke",
                   env={"SMOKE_CORRUPT": "1"})


def test_same_verilog_reuses_the_model():
    """A bench under another name whose Verilog is already built runs on that model."""
    from sim.runner import BUILD
    assert run_cocotb(name="smoke", top=Increment, module="sim.tb_smoke") == 1
    # only this bench's entries: another pytest worker may be building its own models
    def mine():
        return sorted(p.name for p in (BUILD / "sim").iterdir() if p.name.startswith("smoke"))
    before = mine()
    assert run_cocotb(name="smoke-again", top=Increment, module="sim.tb_smoke") == 1
    assert mine() == before


def test_path_with_a_space_is_one_clear_error(tmp_path, monkeypatch):
    """Verilator cannot run under a path with a space: one line saying so, before any build."""
    import sim.runner
    monkeypatch.setattr(sim.runner, "BUILD", tmp_path / "a build")
    with pytest.raises(RuntimeError, match=r"^Verilator cannot build or run under a path with a space: .*a build$"):
        sim.runner.build("space", Increment)
    assert not (tmp_path / "a build").exists()


def test_source_key_skips_the_conversion(monkeypatch):
    """With a source key, a second build from the same hdl/ and golden/ sources reuses the
    model without converting the design to Verilog again; another key converts."""
    import sim.runner
    assert run_cocotb(name="smoke", top=Increment, module="sim.tb_smoke",
                      source_key="test-smoke") == 1
    sim.runner._built.clear()

    def no_conversion(*args, **kwargs):
        raise AssertionError("converted although the sources did not change")

    monkeypatch.setattr(sim.runner, "to_verilog", no_conversion)
    assert run_cocotb(name="smoke", top=Increment, module="sim.tb_smoke",
                      source_key="test-smoke") == 1
    with pytest.raises(AssertionError, match="converted although"):
        sim.runner.build("smoke", Increment, source_key="test-smoke-other")


def test_models_show_ports_only_unless_asked():
    """Models are built with only the top module's signals public (faster to build and to
    run); ``internals=True`` keeps cocotb's every-signal-public build, as another model."""
    from sim.runner import build
    _, ports = build("smoke", Increment)
    _, internals = build("smoke", Increment, internals=True)
    assert ports != internals
    # Verilator records its command line beside the model
    assert "--public-depth 1" in (ports / "Vtop__verFiles.dat").read_text()
    assert "--public-flat-rw" in (internals / "Vtop__verFiles.dat").read_text()
