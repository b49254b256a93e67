# amaranth: UnusedElaboratable=no
"""GF(2^12) blocks of the mceliece348864 core (hdl/mceliece/gf.py) in the Amaranth simulator
against the golden tables: the inverse ROM and the squarer exhaustively, the multiplier on
every ``a`` against random and extreme ``b``."""

import random

import pytest
from amaranth.hdl import Module
from amaranth.lib import wiring
from amaranth.lib.wiring import In, Out
from amaranth.sim import Simulator

import golden.mceliece as mc
from hdl.mceliece.gf import GfInverse, gf_mul, gf_sq, reduction_map, square_map


class GfBench(wiring.Component):
    """The three blocks side by side: ``mul = a b``, ``sq = a^2`` (combinational),
    ``inv`` = inverse of the previous cycle's ``a``."""
    a: In(12)
    b: In(12)
    mul: Out(12)
    sq: Out(12)
    inv: Out(12)

    def elaborate(self, platform):
        m = Module()
        m.submodules.inverse = inverse = GfInverse()
        m.d.comb += [inverse.a.eq(self.a), self.inv.eq(inverse.o),
                     self.mul.eq(gf_mul(m, self.a, self.b, name="p")),
                     self.sq.eq(gf_sq(m, self.a, name="s"))]
        return m


def run_bench(expect_inv=mc.GF_INV, seed=12):
    """Every ``a`` once (with a random ``b``), then extreme ``b``; returns the mismatches."""
    dut = GfBench()
    rnd = random.Random(seed)
    stimuli = [(a, rnd.randrange(mc.Q)) for a in range(mc.Q)]
    stimuli += [(rnd.randrange(mc.Q), b) for b in (0, 1, 2, mc.Q - 1, 1 << 11) for _ in range(8)]
    bad = []

    async def tb(ctx):
        for a, b in stimuli:
            ctx.set(dut.a, a)
            ctx.set(dut.b, b)
            if ctx.get(dut.mul) != mc.gf_mul(a, b):
                bad.append(("mul", a, b, ctx.get(dut.mul)))
            if ctx.get(dut.sq) != mc.gf_sq(a):
                bad.append(("sq", a, ctx.get(dut.sq)))
            await ctx.tick()
            if ctx.get(dut.inv) != expect_inv[a]:
                bad.append(("inv", a, ctx.get(dut.inv)))

    sim = Simulator(dut)
    sim.add_clock(1e-8)
    sim.add_testbench(tb)
    sim.run()
    return bad


def test_maps_from_golden():
    assert reduction_map()[12] == (1 << 3) | 1                     # z^12 = z^3 + 1
    assert all(square_map()[i] == mc.gf_sq(1 << i) for i in range(12))


def test_gf_blocks_exhaustive():
    assert run_bench() == []


def test_gf_bench_negative_control():
    wrong = list(mc.GF_INV)
    wrong[1234] ^= 1
    assert run_bench(expect_inv=wrong) == [("inv", 1234, mc.GF_INV[1234])]
