"""cocotb bench for :class:`hdl.keccak.KeccakP1600` under Verilator.

The state register (debug port ``state``) and round counter (``round``) are compared with
:func:`golden.keccak.keccak_f1600_trace` on every cycle from the accepting cycle to the
output handshake; ``o`` must become valid exactly ``24 / rounds_per_cycle`` cycles after
``i`` is accepted. Inputs get random idle cycles and the output random back-pressure;
a new state is offered while the previous result is taken, so back-to-back starts are
exercised too.

Environment: ``KECCAK_RPC`` (1 or 2), ``KECCAK_CASES``, ``PQVOTE_SEED``,
``KECCAK_CORRUPT=1`` (negative control: one expected lane is wrong, the bench must fail).
"""

import os

import cocotb
from cocotb.triggers import ReadOnly, RisingEdge, with_timeout

from golden.keccak import keccak_f1600_trace
from hdl.keccak import KeccakState
from sim.results import record
from sim.tb_common import TB, CLOCK_NS, value

RPC = int(os.environ.get("KECCAK_RPC", "1"))
CASES = int(os.environ.get("KECCAK_CASES", "40"))
CORRUPT = os.environ.get("KECCAK_CORRUPT") == "1"


def lanes(v):
    bits = KeccakState.from_bits(v)
    return [bits[k] for k in range(25)]


async def run_cases(tb, *, idle_prob, stall_prob, cancel_prob=0.0):
    dut = tb.dut
    steps = 24 // RPC
    rng = tb.rng
    states = [[0] * 25, [(1 << 64) - 1] * 25]
    states += [[rng.getrandbits(64) for _ in range(25)] for _ in range(CASES - 2)]
    traces = [keccak_f1600_trace(A) for A in states]
    if CORRUPT:
        traces[3][7 * RPC][12] ^= 1 << 33      # one wrong expected bit mid-permutation

    cur = None            # [case index, cycles since acceptance]
    nxt = 0               # next case to offer
    offering = False
    finished = 0
    back_to_back = 0
    latencies = set()
    cancelled = 0
    dut.i__valid.value = 0
    dut.o__ready.value = 0
    dut.cancel.value = 0
    while finished + cancelled < len(states):
        # drive (we are just after a rising edge)
        if not offering and nxt < len(states) and rng.random() >= idle_prob:
            dut.i__payload.value = KeccakState.const(states[nxt]).as_value().value
            offering = True
        dut.i__valid.value = int(offering)
        take = cur is not None and cur[1] == steps and rng.random() >= stall_prob
        cancel = cur is not None and not take and rng.random() < cancel_prob
        dut.o__ready.value = int(take)
        dut.cancel.value = int(cancel)
        await ReadOnly()
        # sample and check
        if cur is not None:
            case, k = cur
            expect = traces[case][k * RPC]
            assert value(dut.busy) == 1
            assert value(dut.round) == k * RPC, f"case {case} cycle {k}: round"
            got = lanes(value(dut.state))
            for lane in range(25):
                assert got[lane] == expect[lane], (
                    f"case {case} cycle {k} (after {k * RPC} rounds) lane {lane}: "
                    f"{got[lane]:#018x} != {expect[lane]:#018x}")
            assert value(dut.o__valid) == (k == steps), f"case {case} cycle {k}: o.valid"
            if k == steps:
                latencies.add(k)
                assert lanes(value(dut.o__payload)) == traces[case][24]
                if take:
                    cur = None
                    finished += 1
            if cancel:
                assert value(dut.i__ready) == 1
                cur = None
                cancelled += 1
        else:
            assert value(dut.busy) == 0 and value(dut.o__valid) == 0
        if offering and value(dut.i__ready):
            assert cur is None, "input accepted while the permutation is busy"
            if take:
                back_to_back += 1
            cur = [nxt, 0]
            nxt += 1
            offering = False
        await RisingEdge(tb.clk)
        if cur is not None and cur[1] < steps:
            cur[1] += 1
    dut.i__valid.value = 0
    dut.o__ready.value = 0
    dut.cancel.value = 0
    assert latencies == {steps} or cancel_prob
    return back_to_back, finished


@cocotb.test()
@cocotb.parametrize(idle_prob=[0.0, 0.5], stall_prob=[0.0, 0.5])
async def test_trace(dut, idle_prob, stall_prob):
    tb = TB(dut)
    dut.i__valid.value = 0           # a failed earlier test may have left it high
    dut.o__ready.value = 0
    dut.cancel.value = 0
    await tb.reset()
    b2b, _ = await with_timeout(run_cases(tb, idle_prob=idle_prob, stall_prob=stall_prob),
                                CASES * 200 * CLOCK_NS, "ns")
    if idle_prob == 0 and stall_prob == 0:
        assert b2b == CASES - 1        # every later case started in the handshake cycle
        record("keccak", **{f"permutation_cycles_r{RPC}": 24 // RPC},
               **({"permutation_cycles": 24} if RPC == 1 else {}))


@cocotb.test(skip=CORRUPT)
@cocotb.parametrize(idle_prob=[0.0, 0.5])
async def test_cancel(dut, idle_prob):
    """Random cancels (one per ~30 cycles) while running or holding the result; a state
    offered in the cancel cycle is taken; the state is still checked every cycle."""
    tb = TB(dut)
    dut.i__valid.value = 0
    dut.o__ready.value = 0
    dut.cancel.value = 0
    await tb.reset()
    _, finished = await with_timeout(
        run_cases(tb, idle_prob=idle_prob, stall_prob=0.5, cancel_prob=1 / 30),
        CASES * 200 * CLOCK_NS, "ns")
    assert 0 < finished < CASES          # some cases ran to the end, some were cancelled
