"""Per-block benches of the ML-KEM datapath under Verilator (harness ``MlKemBlocks`` of
tests/test_mlkem_rtl.py: an ``NttUnit`` with ports ``ntt_*``, a ``BaseMulUnit`` with
``bm_*``, a ``RejectionSampler`` with ``rej_*`` and a ``CbdSampler`` with ``cbd_*``).

The bench owns the coefficient memory as the engine's work memory behaves (read latency
2, writes landing a cycle later, random data for a read in its word's landing cycle, two
write ports) and compares the NTT / NTT⁻¹ state after every stage with
:func:`golden.mlkem.ntt_stage` / :func:`golden.mlkem.intt_stage`, the base multiplier with
:func:`golden.mlkem.multiply_ntts`, and the samplers' output with
:func:`golden.mlkem.sample_ntt` / :func:`golden.mlkem.cbd_from_bytes` (random input stalls).
"""

import os
import random

import cocotb
from cocotb.triggers import ReadOnly, RisingEdge

from golden import keccak, mlkem
from hdl.mlkem.ntt import NTT_CYCLES
from sim.tb_common import TB, value

CORRUPT = os.environ.get("MLKEM_BLOCKS_CORRUPT") == "1"


def pack(coeffs):
    return sum(c << (12 * k) for k, c in enumerate(coeffs))


def unpack(v):
    return [(v >> (12 * k)) & 0xFFF for k in range(8)]


def poly_of(mem, base):
    return sum((unpack(mem[base + w]) for w in range(32)), [])


def idle(dut):
    for name in ("ntt_start", "bm_start", "rej_start", "cbd_start", "rej_i__valid", "cbd_i__valid"):
        getattr(dut, name).value = 0


async def start(dut, *, seed):
    """Every unit idle, reset; the bench's clock and a seeded generator."""
    tb = TB(dut)
    idle(dut)
    await tb.reset()
    return tb, random.Random(seed)


async def clock_unit(tb, start, reads, writes, done, *, cycles, each_cycle=None):
    """Clock a unit launched by ``start`` (dropped after the first edge) while the bench
    acts as its memories: every read port — ``(data, addr, mem)`` — gets the word it
    addressed two cycles before (read latency 2: the block RAM and its output register),
    every write port — ``(en, addr, data, mem)`` — writes, landing a cycle later (the work
    memory's write register); a read in the cycle its word's write lands gets random data. ``each_cycle`` runs after the writes of each cycle. Returns
    the cycle of ``done``."""
    data = [0] * len(reads)
    pending = [0] * len(reads)
    landing = []                         # writes presented in the previous cycle
    for cycle in range(cycles):
        await RisingEdge(tb.clk)
        start.value = 0
        for (handle, _, _), v in zip(reads, data):
            handle.value = v
        await ReadOnly()
        data = pending
        # a read of a word in the cycle its write lands gets random data: the work memory's
        # banks carry no_rw_check (hdl/mlkem/workmem.py), the block RAM leaves it undefined
        pending = [tb.rng.getrandbits(96)
                   if any(m is mem and a == value(addr) for m, a, _ in landing)
                   else mem[value(addr)] for _, addr, mem in reads]
        for mem, a, d in landing:
            mem[a] = d
        landing = [(mem, value(addr), value(wdata)) for en, addr, wdata, mem in writes
                   if value(en)]
        if value(done):                  # the unit's last write lands in the next cycle
            for mem, a, d in landing:
                mem[a] = d
        if each_cycle:
            each_cycle()
        if value(done):
            return cycle
    raise AssertionError(f"no done within {cycles} cycles")


@cocotb.test()
async def test_ntt_every_stage(dut):
    tb, rng = await start(dut, seed=40)
    for inverse in (0, 1, 0, 1):
        f = [rng.randrange(mlkem.Q) for _ in range(256)]
        mem = [0] * 64
        mem[32:64] = [pack(f[8 * w:8 * w + 8]) for w in range(32)]
        dut.ntt_start.value = 1
        dut.ntt_inverse.value = inverse
        dut.ntt_base.value = 32
        expected = f
        stage = 0

        landed = [False]                 # a stage's last write has landed (a cycle later)

        def check_stage():
            nonlocal expected, stage
            now = landed[0] or (value(dut.ntt_stage_done) and value(dut.ntt_done))
            landed[0] = bool(value(dut.ntt_stage_done)) and not value(dut.ntt_done)
            if now:
                expected = (mlkem.intt_stage if inverse else mlkem.ntt_stage)(expected, stage)
                got = poly_of(mem, 32)
                if CORRUPT and stage == 3:
                    got[17] ^= 1
                assert got == expected, f"inverse={inverse}: stage {stage} differs"
                stage += 1
        cycle = await clock_unit(
            tb, dut.ntt_start,
            [(dut.ntt_rd0__data, dut.ntt_rd0__addr, mem),
             (dut.ntt_rd1__data, dut.ntt_rd1__addr, mem)],
            [(dut.ntt_wr0__en, dut.ntt_wr0__addr, dut.ntt_wr0__data, mem),
             (dut.ntt_wr1__en, dut.ntt_wr1__addr, dut.ntt_wr1__data, mem)],
            dut.ntt_done, cycles=400, each_cycle=check_stage)
        # ``done`` in cycle S + 122 for ``start`` in cycle S: NTT_CYCLES = 123, both counted
        assert stage == 7 and cycle + 2 == NTT_CYCLES, (stage, cycle)
        await RisingEdge(tb.clk)


@cocotb.test()
async def test_basemul(dut):
    tb, rng = await start(dut, seed=41)
    P = [[rng.randrange(mlkem.Q) for _ in range(256)] for _ in range(4)]
    kmem = [0] * 64 + [0] * 64
    wmem = [0] * 128
    for w in range(32):
        kmem[w], kmem[32 + w] = pack(P[0][8 * w:8 * w + 8]), pack(P[1][8 * w:8 * w + 8])
        wmem[w], wmem[32 + w] = pack(P[2][8 * w:8 * w + 8]), pack(P[3][8 * w:8 * w + 8])
    for name, v in (("a0", 0), ("a1", 32), ("b0", 0), ("b1", 32), ("dst", 64)):
        getattr(dut, f"bm_{name}").value = v
    dut.bm_start.value = 1
    await clock_unit(
        tb, dut.bm_start,
        [(dut.bm_rd_a__data, dut.bm_rd_a__addr, kmem),
         (dut.bm_rd_b__data, dut.bm_rd_b__addr, wmem)],
        [(dut.bm_wr__en, dut.bm_wr__addr, dut.bm_wr__data, wmem)], dut.bm_done, cycles=200)
    expected = mlkem.poly_add(mlkem.multiply_ntts(P[0], P[2]), mlkem.multiply_ntts(P[1], P[3]))
    assert poly_of(wmem, 64) == expected


async def _sampler(dut, tb, prefix, out_bytes, *, eta3=None, stall_prob=0.3):
    words = [int.from_bytes(out_bytes[i:i + 8], "little") for i in range(0, len(out_bytes), 8)]
    mem = [0] * 64
    getattr(dut, f"{prefix}_base").value = 32
    if eta3 is not None:
        dut.cbd_eta3.value = eta3
    getattr(dut, f"{prefix}_start").value = 1
    await RisingEdge(tb.clk)
    getattr(dut, f"{prefix}_start").value = 0
    valid, payload, ready = (getattr(dut, f"{prefix}_i__{n}") for n in ("valid", "payload", "ready"))
    wi = 0
    for _ in range(5000):
        offer = tb.rng.random() >= stall_prob
        valid.value = int(offer)
        payload.value = words[wi]
        await ReadOnly()
        took = offer and value(ready)
        if value(getattr(dut, f"{prefix}_wr__en")):
            mem[value(getattr(dut, f"{prefix}_wr__addr"))] = value(getattr(dut, f"{prefix}_wr__data"))
        done = value(getattr(dut, f"{prefix}_done"))
        if done:
            assert value(getattr(dut, f"{prefix}_stop"))
        await RisingEdge(tb.clk)
        wi += took
        if done:
            break
    valid.value = 0
    return poly_of(mem, 32)


@cocotb.test()
async def test_samplers(dut):
    tb, rng = await start(dut, seed=42)
    for _ in range(3):
        seed = rng.randbytes(34)
        got = await _sampler(dut, tb, "rej", keccak.shake128(seed, 168 * 6))
        assert got == mlkem.sample_ntt(seed)
    for eta in (2, 3, 2):
        out = rng.randbytes(64 * eta)
        got = await _sampler(dut, tb, "cbd", out + bytes(64), eta3=int(eta == 3))
        assert got == mlkem.cbd_from_bytes(eta, out)
