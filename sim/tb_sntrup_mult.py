"""cocotb bench for :class:`hdl.sntrup.HornerArray` (p = 653) under Verilator.

The three sntrup653 products run back to back as the engine schedules them: ``c·f``
(``c`` a decoded ciphertext polynomial, ``f`` a key's Small ``f``), ``e·v`` (R3 by R3) and
``h·r`` (``h`` from pk, ``r`` of weight ``w``), with the next small operand shifted in while
the previous product drains. After **every** step all 653 accumulators are compared with
:func:`golden.sntrup.horner_product`'s trace; the drained coefficients, reduced as the
reducer will, must equal ``rq_mult_small`` / ``r3_mult``.

Environment: ``PQVOTE_SEED``, ``SNTRUP_CORRUPT=1`` (negative control: one expected
accumulator in the middle of ``e·v`` is wrong, the bench must fail), ``SNTRUP_P`` (the
array's lane count, 653 by default; for a small ring the operands are random, ``f`` holds
two invalid Small fields (3, adding nothing: ``horner_operand``) and only the exact
products are compared), ``SNTRUP_REGISTERED=1`` (the array registers its inputs: each
operation and operand load takes effect one edge later, so every accumulator is checked one
cycle later).
"""

import os

import cocotb
from cocotb.triggers import ReadOnly, RisingEdge

import golden.sntrup as sntrup
from hdl.sntrup import HornerOp
from sim.results import record
from sim.tb_common import TB

P = int(os.environ.get("SNTRUP_P", sntrup.P))
FULL = P == sntrup.P
CORRUPT = os.environ.get("SNTRUP_CORRUPT") == "1"
LAG = 1 if os.environ.get("SNTRUP_REGISTERED") == "1" else 0
WIDTH = 23


def signed(v, bits):
    return v - (1 << bits) if v >> (bits - 1) else v


def lanes(v):
    mask = (1 << WIDTH) - 1
    return [signed((v >> (WIDTH * i)) & mask, WIDTH) for i in range(P)]


def codes(v):
    return [(v >> (2 * i)) & 3 for i in range(P)]


def small(rng, weight):
    s = [0] * P
    for i in rng.sample(range(P), weight):
        s[i] = rng.choice((-1, 1))
    return s


@cocotb.test()
async def test_products(dut):
    tb = TB(dut)
    rng = tb.rng
    dut.op.value = HornerOp.IDLE.value
    dut.s_load.value = 0
    await tb.reset()
    f = small(rng, sntrup.W if FULL else P // 2)
    v = [rng.randrange(-1, 2) for _ in range(P)]
    c = [3 * rng.randrange(sntrup.ROUNDED_M) - sntrup.Q12 for _ in range(P)]
    h = [rng.randrange(-sntrup.Q12, sntrup.Q12 + 1) for _ in range(P)]
    if FULL:
        e = sntrup.r3_from_rq(sntrup.rq_mult3(sntrup.rq_mult_small(c, f)))
    else:
        e = [rng.randrange(-1, 2) for _ in range(P)]
        for i in rng.sample(range(P), 2):
            f[i] = 2                                 # invalid Small field 3
    r = small(rng, sntrup.W if FULL else P // 2)
    products = [("c*f", c, f, "q"), ("e*v", e, v, "3"), ("h*r", h, r, "q")]

    for k in range(P):                               # f at key load, top coefficient first
        dut.s_load.value = 1
        dut.s_in.value = f[P - 1 - k] + 1
        await RisingEdge(tb.clk)
    dut.s_load.value = 0
    for _ in range(LAG):                             # the last load still under way
        await RisingEdge(tb.clk)
    steps_checked = 0
    for n, (name, a, s, mod) in enumerate(products):
        trace = []
        product = sntrup.horner_product(a, sntrup.horner_operand(s), trace)
        if CORRUPT and n == 1:
            trace[P // 2][P // 6] += 1
        # cycle j drives step j and sees the accumulators after step j - 1 - LAG
        for j in range(P + 1 + LAG):
            dut.op.value = HornerOp.STEP.value if j < P else HornerOp.IDLE.value
            dut.a.value = a[P - 1 - j] if j < P else 0
            await ReadOnly()
            if j == 0:
                assert codes(int(dut.s_codes.value)) == [x + 1 for x in s], f"{name}: operand"
            if j > LAG:
                k = j - 1 - LAG
                got = lanes(int(dut.acc.value))
                if got != trace[k]:
                    bad = next(i for i in range(P) if got[i] != trace[k][i])
                    assert False, (f"{name} step {k} lane {bad}: {got[bad]} != {trace[k][bad]}")
                steps_checked += 1
            await RisingEdge(tb.clk)
        nxt = products[n + 1][2] if n + 1 < len(products) else [0] * P
        out = []
        for j in range(P + LAG):
            dut.op.value = HornerOp.DRAIN.value if j < P else HornerOp.IDLE.value
            dut.s_load.value = int(j < P)
            dut.s_in.value = nxt[P - 1 - j] + 1 if j < P else 0
            await ReadOnly()
            if j >= LAG:
                out.append(signed(int(dut.o_coeff.value), WIDTH))
            await RisingEdge(tb.clk)
        dut.op.value = HornerOp.IDLE.value
        dut.s_load.value = 0
        assert out == product[::-1], f"{name}: drained coefficients"
        if FULL and mod == "q":
            assert [sntrup.fq_freeze(x) for x in out[::-1]] == sntrup.rq_mult_small(a, s)
        elif FULL:
            assert [sntrup.f3_freeze(x) for x in out[::-1]] == sntrup.r3_mult(a, s)
        await ReadOnly()
        assert all(x == 0 for x in lanes(int(dut.acc.value))), f"{name}: array not empty"
        await RisingEdge(tb.clk)
    assert steps_checked == 3 * P
    record("sntrup_mult", product_steps=P, product_with_drain_cycles=2 * P)
