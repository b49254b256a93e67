# amaranth: UnusedElaboratable=no
"""sntrup engine blocks: Amaranth-simulator unit tests (small rings) and cocotb benches under
Verilator (p = 653), against the golden model's stage functions."""

import random

import pytest
from amaranth.sim import Simulator

import golden.sntrup as sntrup
from hdl.sntrup import HornerArray, HornerOp
from hdl.sntrup.reduce import Reducer, ReduceMode


def _run(dut, testbench):
    sim = Simulator(dut)
    sim.add_clock(1e-6)
    sim.add_testbench(testbench)
    sim.run()


def _small(rnd, p, weight, *, twos=0):
    s = [0] * p
    for i in rnd.sample(range(p), weight):
        s[i] = rnd.choice((-1, 1))
    for i in rnd.sample(range(p), twos):
        s[i] = 2
    return s


@pytest.mark.parametrize("p", [7, 11, 17])
def test_horner_array_small_ring(p):
    """Every step equals golden.sntrup.horner_step; the drain returns the product top first
    and leaves zeros; the next operand loads during the drain."""
    rnd = random.Random(p)
    dut = HornerArray(p=p, acc_width=23)
    cases = [(_small(rnd, p, p // 2, twos=1), [rnd.randrange(-2310, 2311) for _ in range(p)]),
             (_small(rnd, p, p), [rnd.randrange(-1, 2) for _ in range(p)]),
             ([2] * p, [-2310] * p)]

    async def testbench(ctx):
        for k in range(p):                       # load the first operand, top first
            ctx.set(dut.s_load, 1)
            ctx.set(dut.s_in, cases[0][0][p - 1 - k] + 1)
            await ctx.tick()
        ctx.set(dut.s_load, 0)
        for n, (s, a) in enumerate(cases):
            assert [ctx.get(dut.s_codes[i]) for i in range(p)] == [x + 1 for x in s]
            trace = []
            product = sntrup.horner_product(a, s, trace)
            assert product == sntrup.horner_product(s, a)        # commutative ring
            for j in range(p):
                ctx.set(dut.op, HornerOp.STEP)
                ctx.set(dut.a, a[p - 1 - j])
                await ctx.tick()
                assert [ctx.get(dut.acc[i]) for i in range(p)] == trace[j], f"case {n} step {j}"
            nxt = cases[n + 1][0] if n + 1 < len(cases) else [0] * p
            out = []
            for j in range(p):
                ctx.set(dut.op, HornerOp.DRAIN)
                ctx.set(dut.s_load, 1)
                ctx.set(dut.s_in, nxt[p - 1 - j] + 1)
                out.append(ctx.get(dut.o_coeff))
                await ctx.tick()
            ctx.set(dut.op, HornerOp.IDLE)
            ctx.set(dut.s_load, 0)
            assert out == product[::-1]
            assert all(ctx.get(dut.acc[i]) == 0 for i in range(p))

    _run(dut, testbench)


@pytest.mark.parametrize("kw, msg", [
    ({"p": 2}, r"Lane count must be an integer of at least 3, not 2"),
    ({"p": 7.0}, r"Lane count must be an integer of at least 3, not 7.0"),
    ({"acc_width": 14}, r"Accumulator width must be an integer in 15..32, not 14"),
])
def test_horner_bad_parameters(kw, msg):
    with pytest.raises(ValueError, match=msg):
        HornerArray(**kw)


def _reducer_inputs(rnd):
    """Extremes of every mode's input range and random values."""
    lim = 2 ** 22 - 1
    e_in = [-lim, lim, 0, 1, -1, sntrup.Q12, -sntrup.Q12, sntrup.Q, -sntrup.Q, 3 * sntrup.Q + 5]
    e_in += [rnd.randrange(-lim, lim + 1) for _ in range(300)]
    e_in += [k * sntrup.Q + d for k in range(-900, 900, 37) for d in (-2311, -2310, 2310, 2311)]
    r3_in = list(range(-1306, 1307, 7)) + [-1306, 1306]
    return [(x, "E") for x in e_in] + [(x, "ROUND") for x in e_in] + [(x, "R3") for x in r3_in]


def test_reducer_matches_drain_reduce():
    """Every mode against golden.sntrup.drain_reduce, one input per cycle, fixed latency."""
    dut = Reducer()
    inputs = _reducer_inputs(random.Random(3))
    got = []

    async def testbench(ctx):
        for n in range(len(inputs) + Reducer.LATENCY):
            if n < len(inputs):
                x, mode = inputs[n]
                ctx.set(dut.i.payload, {"x": x, "mode": ReduceMode[mode]})
            ctx.set(dut.i.valid, n < len(inputs))
            if n >= Reducer.LATENCY:
                assert ctx.get(dut.o.valid)
                got.append(ctx.get(dut.o.payload))
            else:
                assert not ctx.get(dut.o.valid)
            await ctx.tick()

    _run(dut, testbench)
    assert got == [sntrup.drain_reduce(x, mode) for x, mode in inputs]


# ---- cocotb bench under Verilator (p = 653) -----------------------------------------------

def test_cocotb_horner_array():
    from sim.runner import run_cocotb
    assert run_cocotb(name="sntrup-mult", top=lambda: HornerArray(p=sntrup.P),
                      module="sim.tb_sntrup_mult") == 1


def test_cocotb_horner_negative_control():
    """One wrong expected accumulator in one step must fail the bench."""
    from sim.runner import run_cocotb
    with pytest.raises(AssertionError, match=r"1 of 1 cocotb tests failed"):
        run_cocotb(name="sntrup-mult", top=lambda: HornerArray(p=sntrup.P),
                   module="sim.tb_sntrup_mult", env={"SNTRUP_CORRUPT": 1})
