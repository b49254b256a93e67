"""cocotb bench for :class:`sim.dp16kd_probe.Dp16kdProbe`: its RTL, or its ECP5 netlist
with the behavioural block-RAM and multiplier models of ``sim/models/``.

Random writes, reads and ROM addresses every cycle (addresses drawn from a narrow window
half of the time, so a read often meets a write to the same word); every read port is
compared on every cycle with a Python model of the memories: synchronous reads, the
96-bit RAM's read enable holding the data, old data when reading the word being written,
new data through the transparent byte port, the ROM contents; and both products (operands
biased to the extremes: 0, 2^17 - 1, 2^17, 2^18 - 1) on the same cycle.

Environment: ``DP16KD_CYCLES`` (default 3000), ``PQVOTE_SEED``, ``DP16KD_CORRUPT=1``
(negative control: one expected read is wrong, the bench must fail).
"""

import os

import cocotb
from cocotb.triggers import ReadOnly, RisingEdge, Timer

from sim.dp16kd_probe import NIB_INIT, ROM_INIT, SHAPES
from sim.tb_common import TB, value

CYCLES = int(os.environ.get("DP16KD_CYCLES", "3000"))
CORRUPT = os.environ.get("DP16KD_CORRUPT") == "1"


def _addr(rng, depth):
    """A random address, from a window of four words half of the time (collisions)."""
    return rng.randrange(min(4, depth)) if rng.random() < 0.5 else rng.randrange(depth)


def _operand(rng):
    return rng.choice((0, (1 << 17) - 1, 1 << 17, (1 << 18) - 1)) if rng.random() < 0.3 else rng.getrandbits(18)


def _signed(v, bits):
    return v - (1 << bits) if v >> (bits - 1) else v


@cocotb.test()
async def test_memories(dut):
    tb = TB(dut)
    rng = tb.rng
    for name in ("ram_we", "ram_ren", "byte_we"):
        getattr(dut, name).value = 0
    await tb.reset()
    ram = [0] * SHAPES["ram"][0]
    byte = [0] * SHAPES["byte"][0]
    ram_q = None            # the 96-bit read port's data (None: not read yet)
    checked = 0
    for cycle in range(CYCLES):
        x = {
            "ram_we": int(rng.random() < 0.5), "ram_waddr": _addr(rng, 96),
            "ram_wdata": rng.getrandbits(96), "ram_ren": int(rng.random() < 0.8),
            "ram_raddr": _addr(rng, 96),
            "rom_addr_a": rng.randrange(128), "rom_addr_b": rng.randrange(128),
            "byte_we": int(rng.random() < 0.5), "byte_waddr": _addr(rng, 512),
            "byte_wdata": rng.getrandbits(8), "byte_raddr": _addr(rng, 512),
            "nib_addr": rng.randrange(1024),
            "mul_a": _operand(rng), "mul_b": _operand(rng),
        }
        if rng.random() < 0.2:
            x["ram_raddr"] = x["ram_waddr"]          # read the word being written
        if rng.random() < 0.2:
            x["byte_raddr"] = x["byte_waddr"]
        for k, v in x.items():
            getattr(dut, k).value = v
        await ReadOnly()
        # the products are combinational: this cycle's operands
        sa, sb = _signed(x["mul_a"], 18), _signed(x["mul_b"], 18)
        for port, want in (("mul_p", x["mul_a"] * x["mul_b"]), ("smul_p", (sa * sb) % (1 << 36))):
            got = value(getattr(dut, port))
            assert got == want, f"cycle {cycle}: {port} = {got:#x}, expected {want:#x} (inputs {x})"
            checked += 1
        await RisingEdge(tb.clk)
        await ReadOnly()
        # the model: reads take the data before this edge's write (transparent byte port:
        # after it)
        if x["ram_ren"]:
            ram_q = ram[x["ram_raddr"]]
        expect = {
            "rom_data_a": ROM_INIT[x["rom_addr_a"]],
            "rom_data_b": ROM_INIT[x["rom_addr_b"]],
            "nib_data": NIB_INIT[x["nib_addr"]],
            "byte_rdata": (x["byte_wdata"] if x["byte_we"] and x["byte_waddr"] == x["byte_raddr"]
                           else byte[x["byte_raddr"]]),
        }
        if ram_q is not None:
            expect["ram_rdata"] = ram_q
        if CORRUPT and cycle == CYCLES // 2:
            expect["rom_data_b"] ^= 1 << 5
        for port, want in expect.items():
            got = value(getattr(dut, port))
            assert got == want, f"cycle {cycle}: {port} = {got:#x}, expected {want:#x} (inputs {x})"
            checked += 1
        if x["ram_we"]:
            ram[x["ram_waddr"]] = x["ram_wdata"]
        if x["byte_we"]:
            byte[x["byte_waddr"]] = x["byte_wdata"]
        await Timer(1, "ns")
    dut._log.info(f"{checked} reads compared over {CYCLES} cycles")
