# amaranth: UnusedElaboratable=no
"""hdl.target: the generic forms of the technology-dependent blocks (their ECP5 forms run
with the cell models in the benches of the blocks that use them)."""

import random

import pytest
from amaranth.hdl import Module, ResetInserter, Signal

from hdl.target import ECP5, Target, registered_product
from sim.harness import simulate


def test_registered_product_one_edge_later_and_reset_free():
    """The product of the operands of the last edge, every cycle, at full width; an
    enclosing ResetInserter leaves its register alone (as the DSP's own is)."""
    a, b, rst = Signal(17), Signal(13), Signal()
    inner = Module()
    prod = registered_product(inner, a, b, name="prod", platform=None)
    assert len(prod) == 30
    m = Module()
    m.submodules.inner = ResetInserter(rst)(inner)
    rnd = random.Random(3)
    seq = [(rnd.randrange(1 << 17), rnd.randrange(1 << 13), rnd.randrange(4) == 0)
           for _ in range(200)] + [((1 << 17) - 1, (1 << 13) - 1, 0)] * 3

    async def testbench(ctx):
        for n, (x, y, r) in enumerate(seq):
            ctx.set(a, x)
            ctx.set(b, y)
            ctx.set(rst, r)
            await ctx.tick()
            assert ctx.get(prod) == x * y, f"cycle {n}"

    simulate(m, testbench)


def test_registered_product_bad_widths():
    m = Module()
    with pytest.raises(ValueError, match=r"Operands must be 1 to 18 bits wide, not 19 and 4"):
        registered_product(m, Signal(19), Signal(4), name="p", platform=ECP5)


def test_target_family():
    assert ECP5.family == "ecp5"
    with pytest.raises(ValueError, match=r"Family must be 'ecp5', not 'ice40'"):
        Target(family="ice40")
