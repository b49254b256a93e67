# amaranth: UnusedElaboratable=no
"""KeccakP1600: Amaranth-simulator unit tests and the cocotb bench under Verilator."""

import os
import random

import pytest
from amaranth.back import verilog
from sim.harness import simulate

from golden.keccak import keccak_f1600, keccak_f1600_trace
from hdl.keccak import KeccakP1600, KeccakState


def _run(dut, testbench):
    simulate(dut, testbench)


def _lanes(value):
    return [int(value[k]) for k in range(25)]


@pytest.mark.parametrize("rpc", [1, 2])
def test_trace_every_cycle(rpc):
    """The state register equals the golden trace on every cycle of every round."""
    dut = KeccakP1600(rounds_per_cycle=rpc)
    rng = random.Random(rpc)
    states = [[0] * 25] + [[rng.getrandbits(64) for _ in range(25)] for _ in range(2)]

    async def testbench(ctx):
        for A in states:
            trace = keccak_f1600_trace(A)
            ctx.set(dut.i.payload, KeccakState.const(A))
            ctx.set(dut.i.valid, 1)
            await ctx.tick().until(dut.i.ready)
            ctx.set(dut.i.valid, 0)
            for cycle in range(1, 24 // rpc + 1):
                assert ctx.get(dut.busy)
                assert ctx.get(dut.round) == cycle * rpc
                assert _lanes(ctx.get(dut.state)) == trace[cycle * rpc], f"cycle {cycle}"
                assert ctx.get(dut.o.valid) == (cycle == 24 // rpc)
                if cycle < 24 // rpc:
                    await ctx.tick()
            assert _lanes(ctx.get(dut.o.payload)) == trace[24]
            # hold the output for a few cycles (back-pressure), then take it
            for _ in range(3):
                await ctx.tick()
                assert ctx.get(dut.o.valid)
                assert _lanes(ctx.get(dut.o.payload)) == trace[24]
            ctx.set(dut.o.ready, 1)
            await ctx.tick()
            ctx.set(dut.o.ready, 0)
            assert not ctx.get(dut.o.valid)
            assert not ctx.get(dut.busy)

    _run(dut, testbench)


@pytest.mark.parametrize("rpc", [1, 2])
def test_back_to_back(rpc):
    """Feeding o back into i in the handshake cycle gives one permutation per 24/rpc cycles."""
    dut = KeccakP1600(rounds_per_cycle=rpc)
    A = [random.Random(7).getrandbits(64) for _ in range(25)]

    async def testbench(ctx):
        ctx.set(dut.i.payload, KeccakState.const(A))
        ctx.set(dut.i.valid, 1)
        await ctx.tick()
        expect = keccak_f1600(A)
        for n in range(4):
            cycles = 1
            while not ctx.get(dut.o.valid):
                ctx.set(dut.i.valid, 0)
                await ctx.tick()
                cycles += 1
            assert cycles == 24 // rpc
            assert _lanes(ctx.get(dut.o.payload)) == expect
            ctx.set(dut.i.payload, ctx.get(dut.o.payload))
            ctx.set(dut.i.valid, 1)
            ctx.set(dut.o.ready, 1)
            assert ctx.get(dut.i.ready)
            await ctx.tick()
            ctx.set(dut.o.ready, 0)
            expect = keccak_f1600(expect)

    _run(dut, testbench)


@pytest.mark.parametrize("rpc", [1, 2])
def test_cancel(rpc):
    """cancel empties the permutation; a state offered in the cancel cycle is taken."""
    dut = KeccakP1600(rounds_per_cycle=rpc)
    rng = random.Random(3)
    A, B = ([rng.getrandbits(64) for _ in range(25)] for _ in range(2))

    async def testbench(ctx):
        ctx.set(dut.i.payload, KeccakState.const(A))
        ctx.set(dut.i.valid, 1)
        await ctx.tick()
        ctx.set(dut.i.valid, 0)
        await ctx.tick().repeat(5)
        ctx.set(dut.cancel, 1)                  # cancel alone
        assert ctx.get(dut.i.ready)
        await ctx.tick()
        ctx.set(dut.cancel, 0)
        assert not ctx.get(dut.busy)
        ctx.set(dut.i.valid, 1)                # start A, cancel it while starting B
        await ctx.tick()
        await ctx.tick().repeat(3)
        ctx.set(dut.i.payload, KeccakState.const(B))
        ctx.set(dut.cancel, 1)
        await ctx.tick()
        ctx.set(dut.cancel, 0)
        ctx.set(dut.i.valid, 0)
        trace = keccak_f1600_trace(B)
        for cycle in range(1, 24 // rpc + 1):
            assert _lanes(ctx.get(dut.state)) == trace[cycle * rpc]
            await ctx.tick()
        assert ctx.get(dut.o.valid)

    _run(dut, testbench)


@pytest.mark.parametrize("rpc", [0, 3, 1.0, "1"])
def test_bad_parameter(rpc):
    with pytest.raises(ValueError, match=r"Round count per cycle must be 1 or 2, not"):
        KeccakP1600(rounds_per_cycle=rpc)


@pytest.mark.parametrize("rpc", [1, 2])
def test_verilog_size(rpc):
    """Named intermediates keep the Verilog linear in the number of rounds."""
    text = verilog.convert(KeccakP1600(rounds_per_cycle=rpc), name="top")
    assert len(text) < 600_000 * rpc


# ---- cocotb bench under Verilator ---------------------------------------------------------

_CASES = "200" if os.environ.get("PQVOTE_FULL") == "1" else "30"


@pytest.mark.parametrize("rpc", [1, 2])
def test_cocotb_trace(rpc):
    from sim.runner import run_cocotb
    assert run_cocotb(name=f"keccak-r{rpc}", top=lambda: KeccakP1600(rounds_per_cycle=rpc),
                      module="sim.tb_keccak",
                      env={"KECCAK_RPC": rpc, "KECCAK_CASES": _CASES}) == 6


def test_cocotb_negative_control():
    """A single wrong expected bit in the trace must fail the bench."""
    from sim.runner import run_cocotb
    with pytest.raises(AssertionError, match=r"4 of \d cocotb tests failed"):
        run_cocotb(name="keccak-r1", top=lambda: KeccakP1600(rounds_per_cycle=1),
                   module="sim.tb_keccak",
                   env={"KECCAK_RPC": 1, "KECCAK_CASES": 6, "KECCAK_CORRUPT": 1})
