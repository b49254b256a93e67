# amaranth: UnusedElaboratable=no
"""Sha512: Amaranth-simulator unit tests and the cocotb bench under Verilator."""

import hashlib
import os
import random

import pytest
from amaranth.back import verilog
from amaranth.sim import Simulator

from golden import sha512 as gs
from hdl.sha512 import Sha512


def _words(msg):
    blocks = gs.blocks(msg)
    return [(w, int(b == len(blocks) - 1 and j == 15))
            for b, B in enumerate(blocks) for j, w in enumerate(B)]


def test_hash_and_trace():
    dut = Sha512()
    msgs = [b"", b"abc", random.Random(1).randbytes(111), random.Random(2).randbytes(112),
            random.Random(3).randbytes(300)]
    results = []

    async def testbench(ctx):
        for msg in msgs:
            traces = [trace for _, trace, _ in gs.sha512_trace(msg)]
            block, prev = -1, None
            words = _words(msg)
            k = 0
            while True:
                if k < len(words):
                    ctx.set(dut.i.payload, {"data": words[k][0], "last": words[k][1]})
                ctx.set(dut.i.valid, k < len(words))
                ctx.set(dut.o.ready, 1)
                if ctx.get(dut.running):
                    r = ctx.get(dut.round)
                    block += r == 0 and prev != 0
                    prev = r
                    st = ctx.get(dut.state)
                    assert tuple(st[j] for j in range(8)) == traces[block][r], f"round {r}"
                else:
                    prev = None
                if k < len(words) and ctx.get(dut.i.ready):
                    k += 1
                if ctx.get(dut.o.valid):
                    H = ctx.get(dut.o.payload)
                    results.append(gs.digest_bytes([H[j] for j in range(8)]))
                    await ctx.tick()
                    break
                await ctx.tick()
            ctx.set(dut.i.valid, 0)

    sim = Simulator(dut)
    sim.add_clock(1e-6)
    sim.add_testbench(testbench)
    sim.run()
    assert results == [hashlib.sha512(m).digest() for m in msgs]


def test_verilog_size():
    """Named intermediates keep the Verilog small."""
    assert len(verilog.convert(Sha512(), name="top")) < 300_000


# ---- cocotb bench under Verilator ---------------------------------------------------------

_CASES = "60" if os.environ.get("PQVOTE_FULL") == "1" else "14"


def test_cocotb_trace():
    from sim.runner import run_cocotb
    assert run_cocotb(name="sha512", top=Sha512, module="sim.tb_sha512",
                      env={"SHA512_CASES": _CASES}) == 6


def test_cocotb_negative_control():
    """One wrong expected state bit in one round must fail the bench."""
    from sim.runner import run_cocotb
    with pytest.raises(AssertionError, match=r"4 of \d cocotb tests failed"):
        run_cocotb(name="sha512", top=Sha512, module="sim.tb_sha512",
                   env={"SHA512_CASES": 4, "SHA512_CORRUPT": 1})
