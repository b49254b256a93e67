# amaranth: UnusedElaboratable=no
"""ML-KEM-512 core (`intel`): Amaranth-simulator unit tests of the datapath blocks and
cocotb benches (decapsulation engine alone; whole core) under Verilator."""

import json
import os
import random
from pathlib import Path

import pytest
from amaranth.hdl import Module, Mux
from amaranth.lib import stream, wiring
from amaranth.sim import Simulator

import golden.mlkem as g
from golden import keccak, proof
from hdl.mlkem.arith import barrett_py, compress_py, csd
from hdl.mlkem.ntt import NttUnit, NTT_CYCLES
from hdl.mlkem.basemul import BaseMulUnit, BASEMUL_CYCLES
from hdl.mlkem.samplers import RejectionSampler, CbdSampler
from hdl.stream_util import Word
from sim.harness import EngineHarness as _EngineHarness, forward, hash_words_in, hash_words_out, simulate
from sim.kem_scenario import kem_scenario
from tests.kem_core import run_core_bench

import pqcrypto.kem.ml_kem_512 as pqc  # a pinned dependency: a missing one must fail, not skip

VECTORS = Path(__file__).resolve().parent / "vectors"
FULL = os.environ.get("PQVOTE_FULL") == "1"


def pack(coeffs):
    return sum(c << (12 * k) for k, c in enumerate(coeffs))


def unpack(v):
    return [(v >> (12 * k)) & 0xFFF for k in range(8)]


def poly_words(f):
    return [pack(f[8 * w:8 * w + 8]) for w in range(32)]


def words_poly(mem, base):
    return sum((unpack(mem[base + w]) for w in range(32)), [])


def _run(dut, tb):
    simulate(dut, tb, period=1e-8)


# --- arithmetic -----------------------------------------------------------------------------

def test_barrett_and_compress_constants():
    assert all(barrett_py(x) == x % g.Q for x in range(0, 1 << 25, 101))
    assert all(barrett_py(x) == x % g.Q for x in range((1 << 25) - 5000, 1 << 25))
    for d in (1, 4, 10):
        assert all(compress_py(x, d) == g.compress(d, x) for x in range(g.Q))
    for c in (g.Q, 10079, 3303, 161271, 1):
        assert sum(d << k for k, d in csd(c)) == c


def test_arith_circuits():
    """barrett, const_mul, decompress and the one-chain modular add / subtract as circuits,
    on edge and random inputs."""
    from amaranth.hdl import Signal
    from hdl.mlkem.arith import (barrett, const_mul, decompress, minus_q, mod_add_pre,
                                 mod_sub_pre, plus_q)
    m = Module()
    x = Signal(25)
    y10 = Signal(10)
    y4 = Signal(4)
    red = barrett(m, x, name="red")
    prod = const_mul(m, x, 3303, name="prod")
    low = const_mul(m, x, g.Q, width=13, name="low")
    d10 = decompress(m, y10, 10, name="d10")
    d4 = decompress(m, y4, 4, name="d4")
    rng = random.Random(5)
    xs = [0, 1, g.Q - 1, g.Q, 2 * (g.Q - 1) ** 2, (1 << 25) - 1] + \
        [rng.randrange(1 << 25) for _ in range(300)]

    a, b = Signal(12), Signal(12)
    add = mod_add_pre(m, a, minus_q(m, a, name="amq"), b, name="add")
    sub = mod_sub_pre(m, a, plus_q(m, a, name="apq"), b, name="sub")
    edges = [0, 1, g.Q // 2, g.Q - 2, g.Q - 1]
    pairs = [(u, v) for u in edges for v in edges] + \
        [(rng.randrange(g.Q), rng.randrange(g.Q)) for _ in range(500)]

    async def tb(ctx):
        for u, v in pairs:
            ctx.set(a, u)
            ctx.set(b, v)
            assert ctx.get(add) == (u + v) % g.Q
            assert ctx.get(sub) == (u - v) % g.Q
        for v in xs:
            ctx.set(x, v)
            ctx.set(y10, v % 1024)
            ctx.set(y4, v % 16)
            assert ctx.get(red) == v % g.Q
            assert ctx.get(prod) == v * 3303
            assert ctx.get(low) == (v * g.Q) % (1 << 13)
            assert ctx.get(d10) == g.decompress(10, v % 1024)
            assert ctx.get(d4) == g.decompress(4, v % 16)
    sim = Simulator(m)
    sim.add_testbench(tb)
    sim.run()


@pytest.mark.parametrize("t_reg", [False, True])
def test_barrett_pipe(t_reg):
    """The pipelined Barrett reduction: x mod q three cycles after x (four with the quotient
    register), one x per cycle, on edge and random inputs below 2^25."""
    from amaranth.hdl import Signal
    from hdl.mlkem.arith import BARRETT_STAGES, barrett_pipe
    m = Module()
    x = Signal(25)
    r = barrett_pipe(m, x, name="red", t_reg=t_reg)
    stages = BARRETT_STAGES + t_reg
    rng = random.Random(6)
    xs = [0, 1, g.Q - 1, g.Q, 2 * g.Q - 1, 2 * (g.Q - 1) ** 2, (1 << 25) - 1] + \
        [rng.randrange(1 << 25) for _ in range(500)]

    async def tb(ctx):
        for n in range(len(xs) + stages - 1):
            if n < len(xs):
                ctx.set(x, xs[n])
            await ctx.tick()
            if n + 1 >= stages:
                assert ctx.get(r) == xs[n + 1 - stages] % g.Q
    simulate(m, tb)


def test_const_mulmod_model_exhaustive():
    """Shoup's quotient leaves x·w − t·q in [0, 2q) for every 12-bit x, for every constant
    the core uses (128⁻¹ and the 128 ζ) and 64 other w in 0..q−1 (the bound holds for every
    w: the estimate falls short by less than x / 2^16), so the model is x·w mod q."""
    from hdl.mlkem.arith import SHOUP_SHIFT, const_mulmod_py, shoup_const
    rng = random.Random(8)
    ws = sorted({g.N_INV, 0, 1, g.Q - 1, *g.ZETAS, *(rng.randrange(g.Q) for _ in range(64))})
    for w in ws:
        ws_ = shoup_const(w)
        assert all(0 <= x * w - ((x * ws_) >> SHOUP_SHIFT) * g.Q < 2 * g.Q
                   for x in range(1 << 12)), w
    assert all(const_mulmod_py(v, g.N_INV) == v * g.N_INV % g.Q for v in range(1 << 12))
    with pytest.raises(ValueError, match="Constant"):
        shoup_const(g.Q)


def test_const_mulmod_pipe():
    """x·w mod q four cycles after x, one x per cycle, for 128⁻¹ and other constants."""
    from amaranth.hdl import Signal
    from hdl.mlkem.arith import SHOUP_STAGES, const_mulmod_pipe
    rng = random.Random(7)
    for w in (g.N_INV, 0, 1, g.Q - 1, 1729):
        m = Module()
        x = Signal(12)
        r = const_mulmod_pipe(m, x, w, name="cm")
        xs = [0, 1, g.Q - 1, g.Q, 4095] + [rng.randrange(1 << 12) for _ in range(200)]

        async def tb(ctx, xs=xs, x=x, r=r, w=w):
            for n in range(len(xs) + SHOUP_STAGES):
                if n < len(xs):
                    ctx.set(x, xs[n])
                await ctx.tick()
                if SHOUP_STAGES <= n + 1 < len(xs) + SHOUP_STAGES:
                    assert ctx.get(r) == xs[n + 1 - SHOUP_STAGES] * w % g.Q
        simulate(m, tb)


def test_count_flag():
    """count_flag is high exactly when running and cnt == value, for a counter restarted at
    random (also while running, as the NTT unit is) and stopping after its last count;
    a flag taken one count early is caught (negative control)."""
    from amaranth.hdl import Signal
    from hdl.mlkem.arith import count_flag
    last = 9
    with pytest.raises(ValueError, match="Flag count"):
        count_flag(Module(), Signal(), Signal(), Signal(4), 0, name="f")
    for value, early in ((1, False), (5, False), (last, False), (5, True)):
        m = Module()
        start, running, cnt = Signal(), Signal(), Signal(range(last + 1))
        with m.If(start):
            m.d.sync += [running.eq(1), cnt.eq(0)]
        with m.Elif(running):
            m.d.sync += cnt.eq(cnt + 1)
            with m.If(cnt == last):
                m.d.sync += running.eq(0)
        flag = count_flag(m, running, start, cnt, value - early, name="flag")
        rng = random.Random(value)

        seen = {"hits": 0, "mismatches": 0}

        async def tb(ctx, start=start, running=running, cnt=cnt, flag=flag, value=value,
                     seen=seen):
            for _ in range(600):
                ctx.set(start, rng.random() < 0.08)
                await ctx.tick()
                want = ctx.get(running) and ctx.get(cnt) == value
                seen["hits"] += want
                seen["mismatches"] += ctx.get(flag) != want
        simulate(m, tb)
        hits, mismatches = seen["hits"], seen["mismatches"]
        assert hits > 10
        assert (mismatches > 0) == early


# --- NTT unit: every stage against the golden model -------------------------------------------


class _WorkMemory:
    """The bench as the engine's work memory for the NTT unit: read latency 2 (the block
    RAM and its output register), writes land a cycle after they are presented, and a read
    of a word in the cycle its write lands returns random data (the banks carry
    ``no_rw_check``: the block RAM leaves that collision undefined). ``sample`` before each
    tick, ``clock`` after it."""

    def __init__(self, mem):
        self.mem = mem
        self.rng = random.Random(5)
        self.pending = (0, 0)            # the words read in the previous cycle
        self.write = None                # the write presented in the previous cycle
        self.seen = None

    def sample(self, ctx, dut):
        self.seen = (ctx.get(dut.rd0.addr), ctx.get(dut.rd1.addr), ctx.get(dut.wr0.en),
                     ctx.get(dut.wr0.addr), ctx.get(dut.wr1.addr),
                     ctx.get(dut.wr0.data.as_value()), ctx.get(dut.wr1.data.as_value()))

    def clock(self, ctx, dut):
        ra0, ra1, we, wa0, wa1, wd0, wd1 = self.seen
        ctx.set(dut.rd0.data.as_value(), self.pending[0])
        ctx.set(dut.rd1.data.as_value(), self.pending[1])
        landing = self.write[:2] if self.write else ()
        self.pending = tuple(self.rng.getrandbits(96) if ra in landing else self.mem[ra]
                             for ra in (ra0, ra1))
        self.flush()
        self.write = (wa0, wa1, wd0, wd1) if we else None

    def flush(self):
        """Let the write register's last write land."""
        if self.write:
            wa0, wa1, wd0, wd1 = self.write
            self.mem[wa0], self.mem[wa1] = wd0, wd1
            self.write = None


async def _ntt_run(ctx, dut, mem, base, inverse):
    """Run the NTT unit once on ``mem[base:base+32]``, the bench acting as the work memory
    (:class:`_WorkMemory`); → (cycles, the polynomial after each stage)."""
    ctx.set(dut.start, 1)
    ctx.set(dut.inverse, inverse)
    ctx.set(dut.base, base)
    cycles, stages = 0, []
    wm = _WorkMemory(mem)
    snapshot = False
    while True:
        wm.sample(ctx, dut)
        sd, done = ctx.get(dut.stage_done), ctx.get(dut.done)
        await ctx.tick()
        cycles += 1
        ctx.set(dut.start, 0)
        wm.clock(ctx, dut)
        if snapshot:
            stages.append(words_poly(mem, base))
        snapshot = sd
        if done:
            wm.flush()
            stages.append(words_poly(mem, base))
            return cycles, stages


def test_ntt_back_to_back():
    """A second transform started in the cycle after ``issued`` (the first one ``quiet``)
    follows with no idle cycle while the first drains: both results equal the golden
    model's, the only ``done`` is the second's, 112 cycles after the first's would be."""
    dut = NttUnit(addr_width=7)
    rng = random.Random(15)
    polys = [[rng.randrange(g.Q) for _ in range(256)] for _ in range(2)]
    mem = poly_words(polys[0]) + poly_words(polys[1]) + [0] * 64
    log = {}

    async def tb(ctx):
        ctx.set(dut.start, 1)
        ctx.set(dut.inverse, 0)
        ctx.set(dut.base, 0)
        ctx.set(dut.quiet, 1)
        wm = _WorkMemory(mem)
        cycle = 0
        dones = []
        while True:
            wm.sample(ctx, dut)
            issued, done = ctx.get(dut.issued), ctx.get(dut.done)
            if done:
                dones.append(cycle)
            await ctx.tick()
            cycle += 1
            ctx.set(dut.start, 0)
            if issued and "second" not in log:             # the second transform, NTT⁻¹
                ctx.set(dut.start, 1)
                ctx.set(dut.inverse, 1)
                ctx.set(dut.base, 32)
                ctx.set(dut.quiet, 0)
                log["second"] = cycle
            wm.clock(ctx, dut)
            if dones:
                wm.flush()
                break
        log["dones"] = dones

    _run(dut, tb)
    assert words_poly(mem, 0) == g.ntt(polys[0])
    assert g.intt_scale(words_poly(mem, 32)) == g.intt(polys[1])
    assert log["second"] == 7 * 16                          # the first's issue took 112 cycles
    assert log["dones"] == [log["second"] + NTT_CYCLES - 1]


def test_ntt_issue_order():
    """With ISSUE_ORDER the stages follow each other without a bubble: every pair a stage
    reads was written by the previous stage in an earlier cycle; every stage touches each
    word once. In the natural order a pipeline of 9 and a write register would read words
    not yet written."""
    from hdl.mlkem import ntt
    for inverse in (0, 1):
        assert ntt.stage_hazard_free(inverse)
        assert not ntt.stage_hazard_free(inverse, depth=ntt.PIPE_DEPTH + ntt.WRITE_LATENCY + 1)
        for s in range(7):
            words = sorted(w for pair in ntt.stage_pairs(s, inverse) for w in pair)
            assert words == list(range(32))
    natural = dict(ntt.ISSUE_ORDER)
    try:
        ntt.ISSUE_ORDER.update({ll: (0, 1, 2, 3) for ll in ntt.ISSUE_ORDER})
        assert ntt.stage_hazard_free(0, depth=7)
        assert not ntt.stage_hazard_free(0, depth=ntt.PIPE_DEPTH)
    finally:
        ntt.ISSUE_ORDER.update(natural)


@pytest.mark.parametrize("inverse", [0, 1])
def test_ntt_unit_per_stage(inverse):
    dut = NttUnit(addr_width=6)
    rng = random.Random(10 + inverse)
    polys = [[rng.randrange(g.Q) for _ in range(256)] for _ in range(2)]
    polys.append([g.Q - 1] * 256)                      # extreme values
    result = []

    async def tb(ctx):
        for f in polys:
            mem = [0] * 64
            base = 32
            mem[base:base + 32] = poly_words(f)
            cycles, stages = await _ntt_run(ctx, dut, mem, base, inverse)
            result.append((f, cycles, stages))

    _run(dut, tb)
    stage_fn = g.intt_stage if inverse else g.ntt_stage
    for f, cycles, stages in result:
        assert cycles == NTT_CYCLES
        assert len(stages) == 7
        x = f
        for s in range(7):
            x = stage_fn(x, s)
            assert stages[s] == x, f"stage {s} differs"
        if inverse:
            assert g.intt_scale(stages[-1]) == g.intt(f)
        else:
            assert stages[-1] == g.ntt(f)


def test_ntt_unit_round_trip():
    """NTT then NTT⁻¹ (then the 128⁻¹ scale of the final pass) gives the input back."""
    dut = NttUnit(addr_width=5)
    rng = random.Random(12)
    f = [rng.randrange(g.Q) for _ in range(256)]
    mem = poly_words(f)

    async def tb(ctx):
        for inverse in (0, 1):
            await _ntt_run(ctx, dut, mem, 0, inverse)

    _run(dut, tb)
    assert g.intt_scale(words_poly(mem, 0)) == f


# --- base multiplication ----------------------------------------------------------------------

def test_basemul_unit():
    dut = BaseMulUnit(addr_width=7)
    rng = random.Random(13)
    P = [[rng.randrange(g.Q) for _ in range(256)] for _ in range(4)]
    P[3] = [g.Q - 1] * 256
    kmem = [0] * 128
    wmem = [0] * 128
    kmem[0:32], kmem[32:64] = poly_words(P[0]), poly_words(P[1])
    wmem[0:32], wmem[64:96] = poly_words(P[2]), poly_words(P[3])
    info = {}

    async def tb(ctx):
        # dst overlaps b0: each word is written after its reads
        for name, val in (("start", 1), ("a0", 0), ("a1", 32), ("b0", 0), ("b1", 64), ("dst", 0)):
            ctx.set(getattr(dut, name), val)
        cycles = 0
        pending = (0, 0)                 # read latency 2: the words read a cycle ago
        while True:
            ka, wb = ctx.get(dut.rd_a.addr), ctx.get(dut.rd_b.addr)
            we, wa = ctx.get(dut.wr.en), ctx.get(dut.wr.addr)
            wd = ctx.get(dut.wr.data.as_value())
            done = ctx.get(dut.done)
            await ctx.tick()
            cycles += 1
            ctx.set(dut.start, 0)
            ctx.set(dut.rd_a.data.as_value(), pending[0])
            ctx.set(dut.rd_b.data.as_value(), pending[1])
            pending = (kmem[ka], wmem[wb])
            if we:
                wmem[wa] = wd
            if done:
                break
        info["cycles"] = cycles

    _run(dut, tb)
    expected = g.poly_add(g.multiply_ntts(P[0], P[2]), g.multiply_ntts(P[1], P[3]))
    assert words_poly(wmem, 0) == expected
    assert info["cycles"] == BASEMUL_CYCLES


# --- samplers: output sequence against the golden samplers ---------------------------------

def _run_sampler(dut, jobs, *, stall_prob=0.0, seed=0):
    """Run ``jobs`` = [(output bytes, start arguments)] one after another on one instance;
    returns [(polynomial, cycles)]."""
    rng = random.Random(seed)
    results = []

    async def tb(ctx):
        for out_bytes, start_args in jobs:
            words = [int.from_bytes(out_bytes[i:i + 8], "little")
                     for i in range(0, len(out_bytes), 8)]
            mem = [0] * 64
            for name, val in start_args.items():
                ctx.set(getattr(dut, name), val)
            ctx.set(dut.start, 1)
            await ctx.tick()
            ctx.set(dut.start, 0)
            wi = 0
            cycles = 0
            while True:
                offer = rng.random() >= stall_prob
                ctx.set(dut.i.valid, offer)
                ctx.set(dut.i.payload, words[wi])
                rd = ctx.get(dut.i.ready)
                we, wa = ctx.get(dut.wr.en), ctx.get(dut.wr.addr)
                wd = ctx.get(dut.wr.data.as_value())
                done, stop = ctx.get(dut.done), ctx.get(dut.stop)
                await ctx.tick()
                cycles += 1
                if rd and offer:
                    wi += 1
                if we:
                    mem[wa] = wd
                if done:
                    assert stop
                    break
            ctx.set(dut.i.valid, 0)
            await ctx.tick()
            results.append((words_poly(mem, 32), cycles))

    _run(dut, tb)
    return results


@pytest.mark.parametrize("stall_prob", [0.0, 0.4])
def test_rejection_sampler(stall_prob):
    """Several polynomials in a row on one instance (the leftover bytes of one XOF stream
    must not leak into the next), and a stream with long runs of rejections."""
    rng = random.Random(14)
    seeds = [rng.randbytes(34) for _ in range(3)]
    jobs = [(keccak.shake128(seed, 168 * 6), {"base": 32}) for seed in seeds]
    stream = b"".join(b"\xff\xff\xff" * 5 + rng.randbytes(3) for _ in range(200))
    stream = stream[:len(stream) // 8 * 8]
    jobs.append((stream, {"base": 32}))
    got = _run_sampler(RejectionSampler(addr_width=6), jobs, stall_prob=stall_prob,
                       seed=rng.random())
    for seed, (poly, _) in zip(seeds, got):
        assert poly == g.sample_ntt(seed)
    assert got[-1][0] == g.sample_ntt_stream(stream)


@pytest.mark.parametrize("eta", [2, 3])
def test_cbd_sampler(eta):
    """Several polynomials in a row on one instance; the cycle count is data-independent."""
    rng = random.Random(15 + eta)
    outs = [rng.randbytes(64 * eta) for _ in range(3)]
    got = _run_sampler(CbdSampler(addr_width=6),
                       [(out + bytes(64), {"base": 32, "eta3": eta == 3}) for out in outs])
    for out, (poly, _) in zip(outs, got):
        assert poly == g.cbd_from_bytes(eta, out)
    assert len({cycles for _, cycles in got}) == 1


# --- cocotb: the decapsulation engine alone ---------------------------------------------------

def _vector_cases():
    cases = []
    for name in ("mlkem512_decaps_acvp.json", "mlkem512_decaps_cctv.json"):
        with open(VECTORS / name) as f:
            cases += json.load(f)["cases"]
    return cases


def _engine_cases(rng, n_random):
    """Every ACVP and CCTV decapsulation case, then random pqcrypto key pairs with valid and
    tampered (implicitly rejected) ciphertexts; each with the expected K."""
    out = []
    for case in _vector_cases():
        out.append({"name": str(case.get("tcId", case.get("name"))), "dk": case["dk"],
                    "c": case["c"], "k": case["k"]})
    for _ in range(n_random):
        ek, dk = pqc.keygen()
        c, k = pqc.encaps(ek)
        for variant in ("valid", "tampered"):
            ct = bytearray(c)
            if variant == "tampered":
                ct[rng.randrange(768)] ^= 1 << rng.randrange(8)
            ct = bytes(ct)
            kk = pqc.decaps(dk, ct)
            out.append({"name": variant, "dk": dk.hex(), "c": ct.hex(), "k": kk.hex()})
    return out


def EngineHarness():
    """The ML-KEM engine as a Verilator top (``abort`` renamed ``cancel``)."""
    from hdl.mlkem.engine import MlKemEngine
    return _EngineHarness(MlKemEngine())


class MlKemBlocks(wiring.Component):
    """The datapath blocks side by side, ports prefixed ``ntt_``, ``bm_``, ``rej_``, ``cbd_``
    (one Verilator build for the per-block benches of sim/tb_mlkem_blocks.py)."""

    def __init__(self):
        self._units = {"ntt": NttUnit(addr_width=6), "bm": BaseMulUnit(addr_width=7),
                       "rej": RejectionSampler(addr_width=6), "cbd": CbdSampler(addr_width=6)}
        members = {}
        for prefix, u in self._units.items():
            for name, member in u.signature.members.items():
                members[f"{prefix}_{name}"] = member
        super().__init__(wiring.Signature(members))

    def elaborate(self, platform):
        m = Module()
        for prefix, u in self._units.items():
            m.submodules[prefix] = u
            forward(m, u, lambda name, prefix=prefix: getattr(self, f"{prefix}_{name}"))
        return m


def test_blocks_bench():
    from sim.runner import run_cocotb
    run_cocotb(name="mlkem-blocks", top=MlKemBlocks, module="sim.tb_mlkem_blocks")


def _ecp5_blocks_sources():
    """The blocks as ``tools.synth`` elaborates them: every product of the NTT unit and the
    base multiplier (and their Barrett reductions) a MULT18X18D cell with its output register
    (``hdl.target.registered_product``), run with pqvote's model of the cell. NTT: 8 lanes x
    (product, Barrett); base multiplier: 4 lane pairs x (4 products, gamma product, 3 Barrett)."""
    from sim.netlist import ecp5_dsp_sources
    return ecp5_dsp_sources(MlKemBlocks(), "mlkem-blocks-ecp5", dsp_cells=16 + 32)


def test_blocks_bench_ecp5():
    """The NTT unit's and the base multiplier's ECP5 form (DSP cells with their output
    registers) pass the blocks bench: every NTT stage and every product word against the
    golden model, with the same cycle counts as the generic form."""
    from sim.runner import run_cocotb
    verilog, args = _ecp5_blocks_sources()
    run_cocotb(name="mlkem-blocks-ecp5", top=None, module="sim.tb_mlkem_blocks",
               verilog=verilog, build_args=args)


def test_blocks_bench_negative_control():
    """The per-stage NTT comparison fails when one coefficient of one stage is corrupted."""
    from sim.runner import run_cocotb
    with pytest.raises(AssertionError, match="1 of 1 cocotb tests failed"):
        run_cocotb(name="mlkem-blocks", top=MlKemBlocks, module="sim.tb_mlkem_blocks",
                   testcase="test_ntt_every_stage", env={"MLKEM_BLOCKS_CORRUPT": 1})


def test_engine_decaps_bench(tmp_path):
    from sim.runner import run_cocotb
    from sim.results import record
    rng = random.Random(20)
    cases = _engine_cases(rng, 8 if FULL else 2)
    (tmp_path / "cases.json").write_text(json.dumps(cases))
    metrics = tmp_path / "metrics.json"
    # the schedule test watches the sequencer's step inside the engine: internals visible
    run_cocotb(name="mlkem-engine", top=EngineHarness, module="sim.tb_mlkem_engine",
               env={"MLKEM_CASES": tmp_path / "cases.json", "MLKEM_METRICS": metrics},
               internals=True)
    data = json.loads(metrics.read_text())
    assert data["cases"] == len(cases) >= len(_vector_cases()) == 27
    record("intel", engine_cycles=data["engine_cycles"], engine_tail=data["engine_tail"],
           engine_key_load=data["key_load"])


# --- cocotb: the whole core (ValidatorShell + engine) ----------------------------------------

def _scenario(rng):
    """The constant-time scenario of the whole core (sim/kem_scenario.py), with the golden
    model's responses: two valid keys, no key, a dk with a wrong H(ek), every tamper class
    (c1, c2, tag, padding, descriptor, another key) and two wrong-length proofs."""

    # keys and encapsulations from the seeded generator (FIPS 203 deterministic
    # KeyGen_internal / Encaps_internal), so a failing scenario can be reproduced
    def keypair():
        return g.keygen(rng.randbytes(32), rng.randbytes(32))

    def encaps(ek, D):
        c, k = g.encaps(ek, rng.randbytes(32))
        return proof.mint_kem("intel", k, c, D)

    def bad_key(dk, rng):
        bad = bytearray(dk)
        h = g.DK_PKE_LEN + g.EK_LEN                     # H(ek) inside dk
        bad[h + rng.randrange(32)] ^= 1 << rng.randrange(8)
        return bytes(bad)

    return kem_scenario("intel", rng, keypair=keypair, encaps=encaps, bad_key=bad_key,
                        ct_regions={"c1": (0, g.C1_LEN), "c2": (g.C1_LEN, g.CT_LEN)})


def test_engine_bench_negative_control(tmp_path):
    """The decapsulation bench fails when one expected K is corrupted."""
    from sim.runner import run_cocotb

    cases = _engine_cases(random.Random(21), 0)[:3]
    (tmp_path / "cases.json").write_text(json.dumps(cases))
    with pytest.raises(AssertionError, match="1 of 1 cocotb tests failed"):
        run_cocotb(name="mlkem-engine", top=EngineHarness, module="sim.tb_mlkem_engine",
                   testcase="test_decaps_cases", internals=True,
                   env={"MLKEM_CASES": tmp_path / "cases.json", "MLKEM_CORRUPT": 1})


@pytest.mark.parametrize("gap", [1, -1])
def test_no_collision_negative_control(tmp_path, gap):
    """The work memory's collision bench (``test_no_collision``) fails when it poisons reads
    that K needs: those one cycle after their row's write (``gap`` 1), or every read."""
    from sim.runner import run_cocotb

    cases = _engine_cases(random.Random(21), 0)
    (tmp_path / "cases.json").write_text(json.dumps(cases))
    with pytest.raises(AssertionError, match="1 of 1 cocotb tests failed"):
        run_cocotb(name="mlkem-engine", top=EngineHarness, module="sim.tb_mlkem_engine",
                   testcase="test_no_collision", internals=True,
                   env={"MLKEM_CASES": tmp_path / "cases.json", "MLKEM_POISON_GAP": gap})


def test_core_bench(tmp_path):
    """The whole ``intel`` core against the golden model; one exact latency for two valid
    keys, no key, a rejected key and every tamper class (latency_targets.toml)."""
    data = run_core_bench("intel", "mlkem-core", _scenario(random.Random(30)), tmp_path)
    assert data["timed"] >= 17


def test_wrapper_bench(tmp_path):
    """The seed-compatible flat wrapper ``intel_quantum_validator_asic`` of the real core."""
    from sim.runner import run_cocotb
    from hdl.cores import CORES
    from hdl.wrapper import make_asic_wrapper

    rng = random.Random(31)
    scenario = _scenario(rng)
    (tmp_path / "scenario.json").write_text(json.dumps(scenario))
    run_cocotb(name="mlkem-wrapper", top=lambda: make_asic_wrapper("intel", CORES["intel"]),
               module="sim.tb_kem_wrapper", env={"KEM_SCENARIO": tmp_path / "scenario.json"})


def test_parameter_checks():
    from hdl.mlkem.engine import MlKemEngine
    for cls in (NttUnit, BaseMulUnit, RejectionSampler, CbdSampler):
        with pytest.raises(ValueError, match="Address width must be an integer >= 5"):
            cls(addr_width=3)
    with pytest.raises(ValueError, match="Round count per cycle must be 1 or 2"):
        MlKemEngine(rounds_per_cycle=3)


# --- Amaranth simulator: the stream front ends alone ------------------------------------------

def _drive_words(dut, words, *, start_first=True, last=True, gaps=()):
    """Pulse ``start``, offer ``words`` on ``dut.i`` (an idle cycle before the indices in
    ``gaps``), and record every write-port beat and the ``done`` pulses."""
    writes = {name: [] for name in ("wr", "ctm", "cu") if name in dut.signature.members}
    done_at = []

    async def bench(ctx):
        cycle = 0
        if start_first:
            ctx.set(dut.start, 1)
            await ctx.tick()
            ctx.set(dut.start, 0)
        def record():
            for name in writes:
                port = getattr(dut, name)
                if ctx.get(port.en):
                    data = port.data
                    data = ctx.get(data.as_value() if hasattr(data, "as_value") else data)
                    writes[name].append((ctx.get(port.addr), data))

        for n, w in enumerate(words):
            if n in gaps:
                ctx.set(dut.i.valid, 0)
                await ctx.delay(1e-9)
                record()
                await ctx.tick()
                cycle += 1
            ctx.set(dut.i.payload, {"data": w, "last": last and n == len(words) - 1})
            ctx.set(dut.i.valid, 1)
            await ctx.delay(1e-9)
            assert ctx.get(dut.i.ready), f"word {n} not taken"
            record()
            if "done" in dut.signature.members and ctx.get(dut.done):
                done_at.append(n)
            await ctx.tick()
            cycle += 1
        ctx.set(dut.i.valid, 0)
        for _ in range(3):                 # registered write ports land after the last word
            await ctx.delay(1e-9)
            record()
            await ctx.tick()
        for name in ("rho", "h", "z"):
            if name in dut.signature.members:
                writes[name] = ctx.get(getattr(dut, name)).to_bytes(32, "little")

    simulate(dut, bench)
    return writes, done_at


def _poly_words(coeffs):
    """Pack 256 coefficients into 32 PolyWord integers (8 × 12 bits each)."""
    return [sum(c << (12 * k) for k, c in enumerate(coeffs[8 * w:8 * w + 8])) for w in range(32)]


def test_dk_decoder():
    """DkDecoder alone: ŝ ‖ t̂ decoded (mod q) into key-memory words 0..127, ρ, H(ek), z —
    also for a dk whose 12-bit values are ≥ q (every one of them reduced)."""
    from hdl.mlkem.intake import DkDecoder
    rng = random.Random(50)
    ek, dk = g.keygen(rng.randbytes(32), rng.randbytes(32))
    raw = bytearray(dk)
    raw[:g.DK_PKE_LEN] = bytes([0xFF]) * g.DK_PKE_LEN      # every coefficient 4095 ≥ q
    for key in (dk, bytes(raw)):
        dk_pke, ek_, h, z = g.split_dk(key)
        polys = [g.byte_decode(12, dk_pke[384 * i:384 * (i + 1)]) for i in range(2)]
        polys += [g.byte_decode(12, ek_[384 * i:384 * (i + 1)]) for i in range(2)]
        expected = [w for p in polys for w in _poly_words(p)]
        dut = DkDecoder()
        words = [int.from_bytes(key[i:i + 8], "little") for i in range(0, len(key), 8)]
        writes, _ = _drive_words(dut, words, gaps={5, 100})
        assert [a for a, _ in writes["wr"]] == list(range(128))
        assert [d for _, d in writes["wr"]] == expected
        assert (writes["rho"], writes["h"], writes["z"]) == (ek_[-32:], h, z)


def test_ct_intake():
    """CtIntake alone: every ct word into the ct memory, c1 as 64 raw 80-bit chunks and as
    Decompress_10 coefficient words, ``done`` with the last word, nothing taken after it."""
    from hdl.mlkem.intake import CtIntake
    rng = random.Random(51)
    ct = rng.randbytes(g.CT_LEN)
    words = [int.from_bytes(ct[i:i + 8], "little") for i in range(0, len(ct), 8)]
    dut = CtIntake()
    writes, done_at = _drive_words(dut, words, gaps={3, 79, 80})
    assert writes["ctm"] == list(enumerate(words))
    c1 = int.from_bytes(ct[:g.C1_LEN], "little")
    chunks = [(c1 >> (80 * j)) & ((1 << 80) - 1) for j in range(64)]
    assert writes["cu"] == list(enumerate(chunks))
    u = [g.decompress(10, y) for y in g.byte_decode(10, ct[:320])]
    u += [g.decompress(10, y) for y in g.byte_decode(10, ct[320:640])]
    assert writes["wr"] == list(enumerate(_poly_words(u[:256]) + _poly_words(u[256:])))
    assert done_at == [len(words) - 1]


class _FinalPassHarness(wiring.Component):
    """FinalPass with its memories (initialised with the test data). The ct memory exists
    twice, ``ct`` and ``ct_v``: ``ct_sel`` picks the one the pass reads, so a V pass can
    compare with a c2 other than the one the DEC pass decrypted (in the engine both read
    the one received ciphertext)."""

    def __init__(self, acc, noise, chunks, ct, ct_v):
        from hdl.mlkem.finalpass import FinalPass
        self._fp = FinalPass(addr_width=6)
        self._init = (acc, noise, chunks, ct, ct_v)
        super().__init__({"start": wiring.In(1), "mode": wiring.In(2), "wbase": wiring.In(6),
                          "nbase": wiring.In(6), "cbase": wiring.In(6), "clear": wiring.In(1),
                          "ct_sel": wiring.In(1),
                          "done": wiring.Out(1), "m_prime": wiring.Out(256),
                          "diff": wiring.Out(1)})

    def elaborate(self, platform):
        from amaranth.lib import memory
        from hdl.stream_util import connect_read_port
        m = Module()
        m.submodules.fp = fp = self._fp
        acc, noise, chunks, ct, ct_v = self._init
        mems = {}
        for name, width, init in (("w", 96, acc), ("n", 96, noise), ("cu", 80, chunks),
                                  ("ct", 64, ct), ("ct_v", 64, ct_v)):
            mems[name] = memory.Memory(shape=width, depth=len(init), init=init)
            m.submodules[f"mem_{name}"] = mems[name]
        # read latency 2, as in the engine: each memory's data goes into a register
        for client, name in ((fp.rd_w, "w"), (fp.rd_n, "n"), (fp.rd_cu, "cu")):
            port = mems[name].read_port()
            m.d.comb += port.addr.eq(client.addr)
            m.d.sync += client.data.eq(port.data)
        ports = [mems[name].read_port() for name in ("ct", "ct_v")]
        for port in ports:
            m.d.comb += port.addr.eq(fp.rd_ct.addr)
        # ct_sel is stable during a pass, so the data of the selected port follows its address
        m.d.sync += fp.rd_ct.data.eq(Mux(self.ct_sel, ports[1].data, ports[0].data))
        for name in ("start", "mode", "wbase", "nbase", "cbase", "clear"):
            m.d.comb += getattr(fp, name).eq(getattr(self, name))
        m.d.comb += [self.done.eq(fp.done), self.m_prime.eq(fp.m_prime), self.diff.eq(fp.diff)]
        return m


def test_final_pass():
    """FinalPass alone against the FIPS 203 formulas: m' of a DEC pass; a U pass reports no
    difference for the matching c1 chunks and a difference after one bit flip; a V pass, fed
    a c2 of its own (the harness's second ct memory), reports no difference for
    c2 = Compress_4(x + e2 + Decompress_1(m')) and a difference after one bit flip of it, or
    for the DEC pass's random c2; 36 cycles per pass whatever the data."""
    from hdl.mlkem.finalpass import PASS_CYCLES, PASS_DEC, PASS_U, PASS_V
    rng = random.Random(52)
    acc = [rng.randrange(g.Q) for _ in range(512)]             # two polynomials
    e = [rng.randrange(g.Q) for _ in range(256)]
    x = [a * g.N_INV % g.Q for a in acc]
    c2 = rng.randbytes(128)
    nib = [(c2[i // 2] >> (4 * (i % 2))) & 15 for i in range(256)]
    m_bits = [g.compress(1, (g.decompress(4, nib[i]) - x[i]) % g.Q) for i in range(256)]
    m_prime = sum(b << i for i, b in enumerate(m_bits)).to_bytes(32, "little")
    u = [g.compress(10, (x[256 + i] + e[i]) % g.Q) for i in range(256)]
    v = [g.compress(4, (x[i] + e[i] + g.decompress(1, m_bits[i])) % g.Q) for i in range(256)]
    chunks = [sum(u[8 * j + k] << (10 * k) for k in range(8)) for j in range(32)]
    v_c2 = sum(c << (4 * i) for i, c in enumerate(v)).to_bytes(128, "little")

    def pw(coeffs):
        return [sum(c << (12 * k) for k, c in enumerate(coeffs[8 * w:8 * w + 8]))
                for w in range(len(coeffs) // 8)]

    def ct_words(c2):
        # the ct memory: c1 words (not read by the final pass), then the c2 words
        return [0] * 80 + [int.from_bytes(c2[i:i + 8], "little") for i in range(0, 128, 8)]

    def run(chunks, c2_for_v):
        # the DEC pass reads c2 (m' from it); the V pass compares with c2_for_v
        dut = _FinalPassHarness(pw(acc), pw(e), chunks + [0] * 32, ct_words(c2),
                                ct_words(c2_for_v))
        out = {}

        async def bench(ctx):
            ctx.set(dut.clear, 1)
            await ctx.tick()
            ctx.set(dut.clear, 0)
            for name, mode, wbase, nbase, cbase in (("dec", PASS_DEC, 0, 0, 0),
                                                    ("u", PASS_U, 32, 0, 0),
                                                    ("v", PASS_V, 0, 0, 0)):
                ctx.set(dut.start, 1)
                ctx.set(dut.mode, mode)
                ctx.set(dut.wbase, wbase)
                ctx.set(dut.nbase, nbase)
                ctx.set(dut.cbase, cbase)
                ctx.set(dut.ct_sel, name == "v")
                await ctx.tick()
                ctx.set(dut.start, 0)
                cycles = 1
                while not ctx.get(dut.done):
                    await ctx.tick()
                    cycles += 1
                await ctx.tick()
                out[name] = (ctx.get(dut.m_prime).to_bytes(32, "little"), ctx.get(dut.diff),
                             cycles)

        simulate(dut, bench)
        return out

    out = run(chunks, v_c2)
    assert out["dec"][0] == m_prime
    assert out["u"][1] == 0, "U pass: matching chunks"
    assert out["v"][1] == 0, "V pass: c2 = Compress_4(v)"
    assert {c for _, _, c in out.values()} == {PASS_CYCLES}
    bad = list(chunks)
    bad[rng.randrange(32)] ^= 1 << rng.randrange(80)
    assert run(bad, v_c2)["u"][1] == 1, "U pass: one flipped bit"
    flipped = bytearray(v_c2)
    flipped[rng.randrange(128)] ^= 1 << rng.randrange(8)
    out = run(chunks, bytes(flipped))
    assert out["v"][1] == 1, "V pass: one flipped bit of c2"
    assert out["dec"][0] == m_prime, "the DEC pass does not read the V pass's c2"
    assert run(chunks, c2)["v"][1] == 1, "V pass: the random c2 differs from Compress_4(v)"


class _HashJobsHarness(wiring.Component):
    """HashJobs with the ct memory it reads J's message from."""

    def __init__(self, ct_words):
        from hdl.mlkem.hashjobs import HashJobs
        self._hj = HashJobs()
        self._ct = ct_words
        members = {n: mem for n, mem in self._hj.signature.members.items() if n != "rd_ct"}
        super().__init__(wiring.Signature(members))

    def elaborate(self, platform):
        from amaranth.lib import memory
        from hdl.stream_util import connect_read_port
        m = Module()
        m.submodules.hj = hj = self._hj
        m.submodules.ctm = ctm = memory.Memory(shape=64, depth=len(self._ct), init=self._ct)
        connect_read_port(m, hj.rd_ct, ctm.read_port())
        for name, member in hj.signature.members.items():
            if name == "rd_ct":
                continue
            if member.is_port:
                inner, outer = getattr(hj, name), getattr(self, name)
                m.d.comb += (inner.eq(outer) if member.flow == wiring.In else outer.eq(inner))
            else:
                wiring.connect(m, getattr(hj, name), wiring.flipped(getattr(self, name)))
        return m


def test_hash_jobs():
    """HashJobs alone: the key client's SHA3-256 (H(ek)), then J, G and a PRF job (the bench
    acting as the sampler), each against golden.mlkem."""
    from hdl.mlkem.hashjobs import JOB_G, JOB_J, JOB_PRF
    from hdl.sponge import SpongeMode
    rng = random.Random(53)
    ct = rng.randbytes(g.CT_LEN)
    ek = rng.randbytes(g.EK_LEN)
    rho, z, h, m_prime = (rng.randbytes(32) for _ in range(4))
    dut = _HashJobsHarness([int.from_bytes(ct[i:i + 8], "little") for i in range(0, 768, 8)])
    got = {}

    async def bench(ctx):
        for name, v in (("rho", rho), ("z", z), ("h", h), ("m_prime", m_prime)):
            ctx.set(getattr(dut, name), int.from_bytes(v, "little"))
        # key client: ek → SHA3-256
        ctx.set(dut.key_sel, 1)
        await hash_words_in(ctx, dut.key_i, ek, SpongeMode.SHA3_256)
        got["H"], _ = await hash_words_out(ctx, dut.key_o, dut.key_stop)
        ctx.set(dut.key_sel, 0)

        async def job(kind, n=0):
            ctx.set(dut.go, 1)
            ctx.set(dut.kind, kind)
            ctx.set(dut.n, n)
            await ctx.tick()
            ctx.set(dut.go, 0)

        for kind in (JOB_J, JOB_G):
            await job(kind)
            await ctx.tick().until(dut.done)
            await ctx.tick()
        got["J"] = ctx.get(dut.k_bar).to_bytes(32, "little")
        got["G"] = (ctx.get(dut.k_prime).to_bytes(32, "little"),
                    ctx.get(dut.r).to_bytes(32, "little"))
        # PRF(r, 7): the bench is the sampler, it reads 24 words and stops
        await job(JOB_PRF, 7)
        ctx.set(dut.sampler.ready, 1)
        words = []
        while len(words) < 24:
            await ctx.delay(1e-9)
            assert not ctx.get(dut.xof)
            if ctx.get(dut.sampler.valid):
                words.append(ctx.get(dut.sampler.payload))
                ctx.set(dut.sampler_stop, len(words) == 24)
            await ctx.tick()
        ctx.set(dut.sampler_stop, 0)
        ctx.set(dut.sampler_done, 1)
        await ctx.delay(1e-9)
        assert ctx.get(dut.done)
        await ctx.tick()
        ctx.set(dut.sampler_done, 0)
        await ctx.delay(1e-9)
        assert not ctx.get(dut.busy)
        got["PRF"] = b"".join(w.to_bytes(8, "little") for w in words)

    simulate(dut, bench)
    assert got["H"] == g.H(ek)
    assert got["J"] == g.J(z + ct)
    assert got["G"] == g.G(m_prime + h)
    k_prime, r = got["G"]
    assert got["PRF"] == keccak.shake256(r + bytes([7]), 192)


class _KeyLoadHarness(wiring.Component):
    """MlKemKeyLoader with its collaborators — the sponge arbiter (HashJobs) and the
    rejection sampler — and a key memory, wired as in the engine."""

    key: wiring.In(stream.Signature(Word))
    key_done: wiring.Out(1)
    key_ok: wiring.Out(1)
    peek: wiring.In(8)
    seen: wiring.Out(96)

    def elaborate(self, platform):
        from amaranth.lib import memory
        from hdl.mlkem.hashjobs import HashJobs, JOB_XOF
        from hdl.mlkem.keyload import MlKemKeyLoader
        m = Module()
        m.submodules.keys = keys = MlKemKeyLoader()
        m.submodules.hj = hj = HashJobs()
        m.submodules.rej = rej = RejectionSampler(addr_width=8)
        m.submodules.kr = kr = memory.Memory(shape=96, depth=256, init=[])
        w = kr.write_port()
        r = kr.read_port(domain="comb")
        wiring.connect(m, wiring.flipped(self.key), keys.key)
        wiring.connect(m, keys.key_i, hj.key_i)
        wiring.connect(m, hj.key_o, keys.key_o)
        m.d.comb += [
            self.key_done.eq(keys.key_done), self.key_ok.eq(keys.key_ok),
            hj.key_sel.eq(keys.key_sel), hj.key_stop.eq(keys.key_stop),
            hj.rho.eq(keys.rho), hj.h.eq(keys.h), hj.z.eq(keys.z),
            hj.go.eq(keys.xof_go), hj.kind.eq(JOB_XOF), hj.n.eq(keys.xof_index),
            rej.start.eq(keys.xof_go), rej.base.eq(128 + (keys.xof_index << 5)),
            rej.i.payload.eq(hj.sampler.payload), rej.i.valid.eq(hj.sampler.valid),
            hj.sampler.ready.eq(rej.i.ready), hj.sampler_stop.eq(rej.stop),
            hj.sampler_done.eq(rej.done), keys.xof_done.eq(rej.done),
            w.en.eq(keys.wr.en | rej.wr.en),
            w.addr.eq(Mux(keys.wr.en, keys.wr.addr, rej.wr.addr)),
            w.data.eq(Mux(keys.wr.en, keys.wr.data.as_value(), rej.wr.data.as_value())),
            r.addr.eq(self.peek), self.seen.eq(r.data),
        ]
        return m


def test_key_loader():
    """MlKemKeyLoader (with the sponge arbiter and the sampler, as in the engine): a dk from
    the deterministic key generation fills the key memory with ŝ, t̂ and Â = ExpandA(ρ) and
    is accepted; a dk with a wrong H(ek) and a truncated dk are rejected."""
    rng = random.Random(54)
    ek, dk = g.keygen(rng.randbytes(32), rng.randbytes(32))
    bad = bytearray(dk)
    bad[g.DK_PKE_LEN + g.EK_LEN] ^= 4
    dut = _KeyLoadHarness()
    results = []

    async def bench(ctx):
        for key in (dk, bytes(bad), dk[:800], dk):
            words = [int.from_bytes(key[i:i + 8], "little") for i in range(0, len(key), 8)]
            for n, w in enumerate(words):
                ctx.set(dut.key.payload, {"data": w, "last": n == len(words) - 1})
                ctx.set(dut.key.valid, 1)
                await ctx.tick().until(dut.key.ready)
            ctx.set(dut.key.valid, 0)
            await ctx.tick().until(dut.key_done)
            mem = []
            for a in range(256):
                ctx.set(dut.peek, a)
                await ctx.delay(1e-9)
                mem.append(ctx.get(dut.seen))
            results.append((ctx.get(dut.key_ok), mem))

    simulate(dut, bench)
    assert [ok for ok, _ in results] == [1, 0, 0, 1]
    dk_pke, ek_, _, _ = g.split_dk(dk)
    polys = [g.byte_decode(12, dk_pke[384 * i:384 * (i + 1)]) for i in range(2)]
    polys += [g.byte_decode(12, ek_[384 * i:384 * (i + 1)]) for i in range(2)]
    A = g.expand_a(ek_[-32:])
    polys += [A[i][j] for i in range(2) for j in range(2)]
    expected = [w for p in polys for w in _poly_words(p)]
    assert results[0][1] == expected
    assert results[3][1] == expected


def test_work_memory():
    """The two-bank work memory: NTT-style pairs (one bit apart) written and read through both
    ports in one cycle, single-port traffic, reads two cycles after the address (one read
    issued per cycle)."""
    from hdl.mlkem.workmem import WorkMemory, bank_of
    dut = WorkMemory(depth=192)
    rng = random.Random(9)
    model = {}
    pairs = []
    for base in range(0, 192, 32):
        for v in range(5):
            for a in range(32):
                if not a >> v & 1:
                    pairs.append((base + a, base + a + (1 << v)))
    assert all(bank_of(a) != bank_of(b) for a, b in pairs)

    async def tb(ctx):
        # single-port writes of every word, then pair writes over them
        for a in range(192):
            model[a] = [rng.randrange(g.Q) for _ in range(8)]
            ctx.set(dut.wr0.en, 1)
            ctx.set(dut.wr0.addr, a)
            ctx.set(dut.wr0.data, model[a])
            await ctx.tick()
        ctx.set(dut.wr0.en, 0)
        for a, b in rng.sample(pairs, 200):
            model[a] = [rng.randrange(g.Q) for _ in range(8)]
            model[b] = [rng.randrange(g.Q) for _ in range(8)]
            ctx.set(dut.wr0.en, 1)
            ctx.set(dut.wr1.en, 1)
            ctx.set(dut.wr0.addr, a)
            ctx.set(dut.wr1.addr, b)
            ctx.set(dut.wr0.data, model[a])
            ctx.set(dut.wr1.data, model[b])
            await ctx.tick()
        ctx.set(dut.wr0.en, 0)
        ctx.set(dut.wr1.en, 0)
        await ctx.tick()                                 # the last write lands
        prev = None                                      # the pair addressed a cycle ago
        for a, b in rng.sample(pairs, 200) + [(0, 1)]:
            ctx.set(dut.rd0.addr, b)
            ctx.set(dut.rd1.addr, a)
            await ctx.tick()
            if prev is not None:
                assert list(ctx.get(dut.rd0.data)) == model[prev[1]]
                assert list(ctx.get(dut.rd1.data)) == model[prev[0]]
            prev = (a, b)
        prev = None
        for a in list(range(192)) + [0]:
            ctx.set(dut.rd0.addr, a)
            ctx.set(dut.rd1.addr, rng.randrange(192))   # rd0 wins a shared bank
            await ctx.tick()
            if prev is not None:
                assert list(ctx.get(dut.rd0.data)) == model[prev]
            prev = a
    _run(dut, tb)
    with pytest.raises(ValueError, match="multiple of 64"):
        WorkMemory(depth=100)
