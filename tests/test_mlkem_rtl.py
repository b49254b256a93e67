# amaranth: UnusedElaboratable=no
"""ML-KEM-512 core (`intel`): Amaranth-simulator unit tests of the datapath blocks and
cocotb benches (decapsulation engine alone; whole core) under Verilator."""

import json
import os
import random
import tomllib
from pathlib import Path

import pytest
from amaranth.hdl import Module
from amaranth.lib import wiring
from amaranth.sim import Simulator

import golden.mlkem as g
from golden import keccak, proof
from hdl.mlkem.arith import barrett_py, compress_params
from hdl.mlkem.ntt import NttUnit, NTT_CYCLES
from hdl.mlkem.basemul import BaseMulUnit, BASEMUL_CYCLES
from hdl.mlkem.samplers import RejectionSampler, CbdSampler
from sim.kem_scenario import kem_scenario

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
    sim = Simulator(dut)
    sim.add_clock(1e-8)
    sim.add_testbench(tb)
    sim.run()


# --- arithmetic -----------------------------------------------------------------------------

def test_barrett_and_compress_constants():
    assert all(barrett_py(x) == x % g.Q for x in range(0, 1 << 25, 101))
    assert barrett_py((1 << 25) - 1) == ((1 << 25) - 1) % g.Q
    for d in (1, 4, 10):
        mul, s = compress_params(d)
        for x in range(g.Q):
            assert ((((x << (d + 1)) + g.Q) * mul) >> s) % (1 << d) == g.compress(d, x)


# --- NTT unit: every stage against the golden model -------------------------------------------

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
            ctx.set(dut.start, 1)
            ctx.set(dut.inverse, inverse)
            ctx.set(dut.base, base)
            cycles, stages = 0, []
            while True:
                ra0, ra1 = ctx.get(dut.rd_addr0), ctx.get(dut.rd_addr1)
                we = ctx.get(dut.wr_en)
                wa0, wa1 = ctx.get(dut.wr_addr0), ctx.get(dut.wr_addr1)
                wd0 = ctx.get(dut.wr_data0.as_value())
                wd1 = ctx.get(dut.wr_data1.as_value())
                sd, done = ctx.get(dut.stage_done), ctx.get(dut.done)
                await ctx.tick()
                cycles += 1
                ctx.set(dut.start, 0)
                r0, r1 = mem[ra0], mem[ra1]         # synchronous, read-before-write
                if we:
                    mem[wa0], mem[wa1] = wd0, wd1
                ctx.set(dut.rd_data0.as_value(), r0)
                ctx.set(dut.rd_data1.as_value(), r1)
                if sd:
                    stages.append(words_poly(mem, base))
                if done:
                    break
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
            ctx.set(dut.start, 1)
            ctx.set(dut.inverse, inverse)
            ctx.set(dut.base, 0)
            while True:
                ra0, ra1 = ctx.get(dut.rd_addr0), ctx.get(dut.rd_addr1)
                we = ctx.get(dut.wr_en)
                wa0, wa1 = ctx.get(dut.wr_addr0), ctx.get(dut.wr_addr1)
                wd0 = ctx.get(dut.wr_data0.as_value())
                wd1 = ctx.get(dut.wr_data1.as_value())
                done = ctx.get(dut.done)
                await ctx.tick()
                ctx.set(dut.start, 0)
                r0, r1 = mem[ra0], mem[ra1]
                if we:
                    mem[wa0], mem[wa1] = wd0, wd1
                ctx.set(dut.rd_data0.as_value(), r0)
                ctx.set(dut.rd_data1.as_value(), r1)
                if done:
                    break

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
        while True:
            ka, wb = ctx.get(dut.ka_addr), ctx.get(dut.wb_addr)
            we, wa = ctx.get(dut.wr_en), ctx.get(dut.wr_addr)
            wd = ctx.get(dut.wr_data.as_value())
            done = ctx.get(dut.done)
            await ctx.tick()
            cycles += 1
            ctx.set(dut.start, 0)
            ctx.set(dut.ka_data.as_value(), kmem[ka])
            ctx.set(dut.wb_data.as_value(), wmem[wb])
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
                we, wa = ctx.get(dut.wr_en), ctx.get(dut.wr_addr)
                wd = ctx.get(dut.wr_data.as_value())
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


def _forward(m, inner, outer_of):
    """Connect every member of ``inner`` to the harness member ``outer_of(name)``."""
    for name, member in inner.signature.members.items():
        outer = outer_of(name)
        if member.is_port:
            if member.flow == wiring.In:
                m.d.comb += getattr(inner, name).eq(outer)
            else:
                m.d.comb += outer.eq(getattr(inner, name))
        else:
            wiring.connect(m, getattr(inner, name), wiring.flipped(outer))


class EngineHarness(wiring.Component):
    """The engine with ``abort`` renamed ``cancel`` (``abort`` is a reserved word in
    Verilator's C++ model, so it cannot be a top-level port)."""

    def __init__(self):
        from hdl.mlkem.engine import MlKemEngine
        self._engine = MlKemEngine()
        members = {("cancel" if n == "abort" else n): mem
                   for n, mem in self._engine.signature.members.items()}
        super().__init__(wiring.Signature(members))

    def elaborate(self, platform):
        m = Module()
        m.submodules.engine = e = self._engine
        _forward(m, e, lambda name: getattr(self, "cancel" if name == "abort" else name))
        return m


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
            _forward(m, u, lambda name, prefix=prefix: getattr(self, f"{prefix}_{name}"))
        return m


def test_blocks_bench():
    from sim.runner import run_cocotb
    run_cocotb(name="mlkem-blocks", top=MlKemBlocks, module="sim.tb_mlkem_blocks")


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
    run_cocotb(name="mlkem-engine", top=EngineHarness, module="sim.tb_mlkem_engine",
               env={"MLKEM_CASES": tmp_path / "cases.json", "MLKEM_METRICS": metrics})
    data = json.loads(metrics.read_text())
    assert data["cases"] == len(cases) >= len(_vector_cases()) == 27
    record("intel", engine_cycles=data["engine_cycles"], engine_tail=data["engine_tail"],
           engine_key_load=data["key_load"])


# --- cocotb: the whole core (ValidatorShell + engine) ----------------------------------------

def _latency_exact():
    """The exact ``intel`` latency of latency_targets.toml (asserted by the core bench)."""
    with open(Path(__file__).resolve().parent.parent / "latency_targets.toml", "rb") as f:
        return tomllib.load(f)["intel"]["latency_exact"]


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

    def expected(key, k_att, D, nonce, proof_bytes):
        r = proof.validate("intel", key, k_att, D, nonce, proof_bytes)
        return r.vote, r.status, r.attestation, r.digest

    return kem_scenario("intel", rng, keypair=keypair, encaps=encaps, bad_key=bad_key,
                        expected=expected,
                        ct_regions={"c1": (0, g.C1_LEN), "c2": (g.C1_LEN, g.CT_LEN)})


def test_engine_bench_negative_control(tmp_path):
    """The decapsulation bench fails when one expected K is corrupted."""
    from sim.runner import run_cocotb

    cases = _engine_cases(random.Random(21), 0)[:3]
    (tmp_path / "cases.json").write_text(json.dumps(cases))
    with pytest.raises(AssertionError, match="1 of 1 cocotb tests failed"):
        run_cocotb(name="mlkem-engine", top=EngineHarness, module="sim.tb_mlkem_engine",
                   testcase="test_decaps_cases",
                   env={"MLKEM_CASES": tmp_path / "cases.json", "MLKEM_CORRUPT": 1})


def test_core_bench(tmp_path):
    """The whole ``intel`` core against the golden model; one exact latency for two valid
    keys, no key, a rejected key and every tamper class (latency_targets.toml)."""
    from sim.runner import run_cocotb
    from sim.results import record
    from hdl.cores import CORES

    rng = random.Random(30)
    scenario = _scenario(rng)
    (tmp_path / "scenario.json").write_text(json.dumps(scenario))
    metrics = tmp_path / "metrics.json"
    run_cocotb(name="mlkem-core", top=CORES["intel"], module="sim.tb_kem_core",
               env={"KEM_SCENARIO": tmp_path / "scenario.json", "KEM_METRICS": metrics,
                    "KEM_LATENCY_EXACT": _latency_exact()})
    data = json.loads(metrics.read_text())
    record("intel", latency=data["latency"], key_load=data["key_load"])
    assert data["latency"] == _latency_exact()
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
               module="sim.tb_mlkem_wrapper", env={"MLKEM_SCENARIO": tmp_path / "scenario.json"})


def test_parameter_checks():
    from hdl.mlkem.engine import MlKemEngine
    for cls in (NttUnit, BaseMulUnit, RejectionSampler, CbdSampler):
        with pytest.raises(ValueError, match="Address width must be an integer >= 5"):
            cls(addr_width=3)
    with pytest.raises(ValueError, match="Round count per cycle must be 1 or 2"):
        MlKemEngine(rounds_per_cycle=3)
