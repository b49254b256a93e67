"""Runner self-test: a registered adder stream, and a bench that must fail on demand."""

import os

import cocotb
from cocotb.triggers import RisingEdge

from sim.tb_common import TB, StreamDriver, StreamSink


@cocotb.test()
async def test_increment(dut):
    tb = TB(dut)
    src = StreamDriver(dut, "i", dut.clk, rng=tb.rng, idle_prob=0.3)
    dst = StreamSink(dut, "o", dut.clk, rng=tb.rng, stall_prob=0.3)
    await tb.reset()
    values = [tb.rng.getrandbits(16) for _ in range(50)]
    corrupt = os.environ.get("SMOKE_CORRUPT") == "1"

    async def feed():
        for v in values:
            await src.send(v)

    cocotb.start_soon(feed())
    for n, v in enumerate(values):
        got = await dst.recv(timeout_cycles=1000)
        expected = (v + 1) & 0xFFFF
        if corrupt and n == 7:
            expected ^= 1
        assert got == expected, f"beat {n}: got {got:#x}, expected {expected:#x}"
    await RisingEdge(dut.clk)
