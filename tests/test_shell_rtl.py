# amaranth: UnusedElaboratable=no
"""ValidatorShell: Amaranth-simulator unit tests and the cocotb bench under Verilator, with
the stand-in engines of ``sim/shell_engine.py`` (a signature engine and a KEM engine)."""

import json
import os
import random
import re

import pytest
from amaranth.lib import wiring
from amaranth.lib.wiring import In, Out

from golden.proof import KEY_LEN, Status, VENDORS, pad_proof
from hdl.validator import (EngineSignature, KemEngineSignature, KeyStatus, ValidatorShell,
                           engine_kind, shell_geometry)
from sim.harness import (cycles_until, hash_words_in, hash_words_out, latency_monitor, simulate as run_simulation, stream_get,
                         stream_put)
from sim.runner import run_cocotb
from sim.shell_engine import (SHELL_TAIL_MAX, KeyModel, ShellKemEngine, ShellModel, ShellTestEngine,
                              mint_body)

FULL = os.environ.get("PQVOTE_FULL", "") not in ("", "0")


def _beats(proof):
    return [int.from_bytes(proof[i:i + 8], "little") for i in range(0, len(proof), 8)]


def simulate(dut, vendor, key_stream, requests, *, extra=None):
    """Run ``requests`` (``(descriptor, nonce, beats)``) after loading ``key_stream``
    (or no key if ``None``); returns ``[(response, latency)]`` and the key-load cycles."""
    out = []
    info = {}
    latencies = []

    async def testbench(ctx):
        ctx.set(dut.o_resp.ready, 1)
        if key_stream is not None:
            t = 0
            for w, last in key_stream:
                await stream_put(ctx, dut.i_key, {"data": w, "last": last})
                t += 1
            while ctx.get(dut.o_key_status) == KeyStatus.LOADING:
                await ctx.tick()
                t += 1
            info["key_cycles"] = t
            info["key_status"] = ctx.get(dut.o_key_status)
        for descriptor, nonce, beats in requests:
            await stream_put(ctx, dut.i_req, {"descriptor": int.from_bytes(descriptor, "little"),
                                       "nonce": nonce})
            for i, w in enumerate(beats):
                await stream_put(ctx, dut.i_proof, {"data": w, "last": i == len(beats) - 1})
            while not ctx.get(dut.o_resp.valid):
                await ctx.tick()
            r = ctx.get(dut.o_resp.payload)
            out.append(((int(r.vote), Status(int(r.status)),
                         int(r.attestation).to_bytes(32, "little"),
                         int(r.digest).to_bytes(32, "little")), None))
            await ctx.tick()

    # latency: clock edges from the first proof handshake to the first edge at which
    # o_resp.valid is seen (the cocotb benches count the same way)
    monitor = latency_monitor(dut.i_proof.valid, dut.i_proof.ready, dut.o_resp.valid, latencies)
    run_simulation(dut, testbench, background=[monitor] + ([extra] if extra is not None else []))
    assert len(latencies) == len(out)
    return [(r, lat) for (r, _), lat in zip(out, latencies)], info


def _engine(kem, **kwargs):
    return ShellKemEngine(**kwargs) if kem else ShellTestEngine(**kwargs)


def _scenario(vendor, seed, kinds, *, kem=False):
    rng = random.Random(seed)
    key = bytes(rng.getrandbits(8) for _ in range(KEY_LEN[vendor]))
    k_att = bytes(rng.getrandbits(8) for _ in range(32))
    stream = KeyModel.stream(key, k_att)
    km = KeyModel(vendor, stream)
    reqs = []
    for kind in kinds:
        D = bytes(rng.getrandbits(8) for _ in range(24))
        N = rng.getrandbits(64)
        beats = _beats(pad_proof(mint_body(vendor, km.kacc, D, rng, valid=kind != "invalid",
                                           kem=kem), vendor))
        if kind == "short":         # ends inside the body: the engine is aborted mid-body
            beats = beats[:len(beats) // 3]
        elif kind == "long":
            beats = beats + [rng.getrandbits(64) for _ in range(3)]
        reqs.append((D, N, beats))
    return stream, km, reqs


@pytest.mark.parametrize("vendor,kem", [(v, False) for v in VENDORS] +
                         [(v, True) for v in VENDORS if v != "riscv"])
def test_every_geometry(vendor, kem):
    """One valid and one invalid request for each vendor's key/body/frame geometry, with a
    signature engine and (KEM vendors) a KEM engine: the shell checks the tag."""
    stream, km, reqs = _scenario(vendor, 1, ["valid", "invalid"], kem=kem)
    dut = ValidatorShell(vendor=vendor, engine=_engine(kem))
    assert dut.kem == kem
    out, info = simulate(dut, vendor, stream, reqs)
    assert info["key_status"] == KeyStatus.OK
    model = ShellModel(vendor, kem=kem)
    for (D, N, beats), (got, _) in zip(reqs, out):
        vote, status, att, pd = model.response(km, D, N, beats)
        assert got == (int(vote), status, att, pd)
    assert [g[0] for g, _ in out] == [1, 0]
    assert out[0][1] == out[1][1]


@pytest.mark.parametrize("gap,kem", [(1, False), (3, False), (2, True)])
def test_engine_backpressure(gap, kem):
    """An engine that takes a word only every gap+1 cycles slows the intake, not the
    result; the latency stays data-independent."""
    vendor = "amd"
    kinds = ["valid", "short", "invalid", "long", "valid"]
    stream, km, reqs = _scenario(vendor, 2, kinds, kem=kem)
    dut = ValidatorShell(vendor=vendor, engine=_engine(kem, body_gap=gap))
    out, _ = simulate(dut, vendor, stream, reqs)
    model = ShellModel(vendor, kem=kem)
    for (D, N, beats), (got, _) in zip(reqs, out):
        vote, status, att, pd = model.response(km, D, N, beats)
        assert got == (int(vote), status, att, pd)
    assert [got[:2] for got, _ in out] == [
        (1, Status.OK), (0, Status.BAD_LENGTH), (0, Status.OK), (0, Status.BAD_LENGTH),
        (1, Status.OK)]
    assert len({lat for (got, lat) in out if got[1] == Status.OK}) == 1
    g = shell_geometry(vendor)
    assert out[0][1] > g["object_words" if kem else "body_words"] * (gap + 1)


@pytest.mark.parametrize("kem", [False, True])
def test_tail(kem):
    """The shell's tail: cycles from the engine's verdict (signature) or ``K`` (KEM) becoming
    valid to ``o_resp.valid``, with an engine slow enough that the digest and both
    attestations are done first. Recorded for docs/interfaces.md and the README."""
    vendor = "amd"
    stream, km, reqs = _scenario(vendor, 5, ["valid", "invalid"], kem=kem)
    dut = ValidatorShell(vendor=vendor, engine=_engine(kem, latency=200))
    engine = dut.engine
    tails = []

    async def watch(ctx):
        t_eng = None
        cycle = 0
        port = engine.k if kem else engine.result
        async for _, _, ev, rv in ctx.tick().sample(port.valid, dut.o_resp.valid):
            cycle += 1
            if t_eng is None and ev:
                t_eng = cycle
            if t_eng is not None and rv:
                tails.append(cycle - t_eng)
                t_eng = None

    out, _ = simulate(dut, vendor, stream, reqs, extra=watch)
    assert [g[0] for g, _ in out] == [1, 0]
    assert len(set(tails)) == 1 and len(tails) == 2, tails
    assert tails[0] == (26 if kem else 1), tails


def test_digest_rounds_per_cycle():
    """With 2 rounds per cycle the digest takes the proof at one beat per cycle; with 1
    it back-pressures (24 cycles per 17-beat block). Both give the same response. The
    engine here answers early, so the response waits for the attestor: the final block's
    permutation and the six of the two attestations (12 cycles each) after the final beat."""
    vendor = "amd"
    stream, km, reqs = _scenario(vendor, 3, ["valid"])
    lat = {}
    results = {}
    for rpc in (1, 2):
        dut = ValidatorShell(vendor=vendor, engine=ShellTestEngine(),
                             digest_rounds_per_cycle=rpc)
        out, _ = simulate(dut, vendor, stream, reqs)
        results[rpc] = out[0][0]
        lat[rpc] = out[0][1]
    assert results[1] == results[2]
    beats = shell_geometry(vendor)["beats"]
    assert beats + 6 * 12 < lat[2] < beats + SHELL_TAIL_MAX, lat
    assert lat[1] > beats * 24 // 17, lat


def test_no_key_and_lengths():
    """NO_KEY after reset, whatever the proof length."""
    vendor = "intel"
    _, _, reqs = _scenario(vendor, 4, ["valid"])
    D, N, beats = reqs[0]
    reqs = [(D, N, beats), (D, N + 1, beats[:5]), (D, N + 2, beats + [1, 2, 3])]
    dut = ValidatorShell(vendor=vendor, engine=ShellTestEngine())
    out, _ = simulate(dut, vendor, None, reqs)
    model = ShellModel(vendor)
    for (D, N, b), (got, _) in zip(reqs, out):
        assert got == (0, Status.NO_KEY, bytes(32), model.response(None, D, N, b)[3])


def test_parameters():
    engine = ShellTestEngine()
    with pytest.raises(ValueError, match=r"Vendor must be one of .*, not 'ibm'"):
        ValidatorShell(vendor="ibm", engine=engine)
    with pytest.raises(ValueError, match=r"Round count per cycle must be 1 or 2, not 3"):
        ValidatorShell(vendor="intel", engine=engine, digest_rounds_per_cycle=3)

    class Partial(wiring.Component):
        key: In(1)

        def elaborate(self, platform):
            raise NotImplementedError

    with pytest.raises(TypeError, match=r"EngineSignature; member 'key' is missing or differs"):
        ValidatorShell(vendor="intel", engine=Partial())

    class HalfKem(wiring.Component):
        key: In(1)
        ct: In(1)

        def elaborate(self, platform):
            raise NotImplementedError

    with pytest.raises(TypeError, match=r"KemEngineSignature; member 'key' is missing"):
        ValidatorShell(vendor="intel", engine=HalfKem())
    with pytest.raises(TypeError, match=r"Engine must be a wiring.Component"):
        ValidatorShell(vendor="intel", engine=object())
    assert ShellTestEngine().signature == EngineSignature
    assert ShellKemEngine().signature == KemEngineSignature
    assert engine_kind(ShellKemEngine()) == "kem"
    assert engine_kind(ShellTestEngine()) == "signature"
    assert list(KemEngineSignature.members) == ["key", "key_done", "key_ok", "start", "ct",
                                                 "abort", "k"]


# ---- cocotb under Verilator ----------------------------------------------------------------

def _top(vendor, kem):
    return lambda: ValidatorShell(vendor=vendor, engine=_engine(kem))


def _engine_name(kem):
    return "kem" if kem else "signature"


@pytest.mark.parametrize("vendor,kem", [("amd", True)] + ([("intel", True), ("arm", True),
                                                           ("riscv", False)] if FULL else []))
def test_shell_cocotb(vendor, kem):
    env = {"PQVOTE_VENDOR": vendor, "PQVOTE_ENGINE": _engine_name(kem),
           "PQVOTE_CASES": 24 if FULL else 8}
    assert run_cocotb(name=f"shell-{vendor}-{_engine_name(kem)}", top=_top(vendor, kem),
                      module="sim.tb_shell", env=env) >= 7


def test_shell_cocotb_negative_control():
    """A corrupted expected attestation makes the bench, and so pytest, fail."""
    with pytest.raises(AssertionError, match="1 of 1 cocotb tests failed"):
        run_cocotb(name="shell-amd-kem", top=_top("amd", True), module="sim.tb_shell",
                   testcase="no_key", env={"PQVOTE_VENDOR": "amd", "PQVOTE_ENGINE": "kem",
                                           "SHELL_CORRUPT": "1"})


def test_kmac_kept_states():
    """The attestor's KMAC structure (constant prefix state, key block, final block) is
    KMAC256 for every message length it may be given."""
    from golden.keccak import kmac256
    from golden.proof import PROOF_CUSTOMIZATION, VOTE_CUSTOMIZATION
    from hdl.attestor import ATTEST_MSG_BYTES, final_block, kmac256_kept
    rng = random.Random(6)
    for n in (0, 24, ATTEST_MSG_BYTES, 132):
        key, msg = rng.randbytes(32), rng.randbytes(n)
        for s in (PROOF_CUSTOMIZATION, VOTE_CUSTOMIZATION):
            assert kmac256_kept(key, msg, s) == kmac256(key, msg, 32, s)
    with pytest.raises(ValueError, match="Message must be at most 132 bytes, not 133"):
        final_block(bytes(133))


# ---- constant-time evidence: the KEM core bench and its negative control ------------------

def _stub_scenario(vendor, seed):
    """The KEM constant-time scenario (sim/kem_scenario.py) for a shell around
    :class:`ShellKemEngine`, with :class:`ShellModel` responses."""
    from golden.proof import OBJECT_LEN, proof_tag
    from sim.kem_scenario import kem_scenario
    from sim.shell_engine import kem_k

    rng = random.Random(seed)
    model = ShellModel(vendor, kem=True)

    def keypair():
        key = rng.randbytes(KEY_LEN[vendor])
        return key, key              # the stand-in's K depends on the key itself

    def encaps(key, D):
        kacc = KeyModel(vendor, KeyModel.stream(key, bytes(32))).kacc
        ct = rng.randbytes(OBJECT_LEN[vendor])
        return pad_proof(ct + proof_tag(kem_k(kacc, ct), D), vendor)

    def bad_key(key, rng):
        return bytes(len(key))       # fold 0: rejected by the stand-in

    def expected(key, k_att, D, nonce, proof):
        km = None if key is None else KeyModel(vendor, KeyModel.stream(key, k_att))
        return model.response(km, D, nonce, _beats(proof))

    return kem_scenario(vendor, rng, keypair=keypair, encaps=encaps, bad_key=bad_key,
                        expected=expected)


def _run_kem_core(tmp_path, *, leak):
    path = tmp_path / "scenario.json"
    path.write_text(json.dumps(_stub_scenario("amd", 40)))
    # K comes 201 cycles after the last ct word: later than the shell is ready for it (the
    # digest and both attestations end about 115 cycles after it), so the engine's timing
    # is not hidden behind them
    name = "shell-amd-kem-slow-leak" if leak else "shell-amd-kem-slow"
    return run_cocotb(name=name, top=lambda: ValidatorShell(
                          vendor="amd", engine=ShellKemEngine(latency=200, leak=leak)),
                      module="sim.tb_kem_core", env={"KEM_SCENARIO": path})


def test_kem_core_bench_constant_time(tmp_path):
    """The KEM core bench on a constant-time stand-in engine: every class, one latency."""
    assert _run_kem_core(tmp_path, leak=False) == 3


def test_kem_core_bench_negative_control(tmp_path):
    """A deliberately data-dependent engine (3 more cycles when the ciphertext's fold is
    odd) makes the KEM core bench's latency assertion fail — and only that assertion."""
    with pytest.raises(AssertionError, match=r"2 of 3 cocotb tests failed") as err:
        _run_kem_core(tmp_path, leak=True)
    log = re.search(r"\(log: (.*)\)", str(err.value)).group(1)
    with open(log) as f:
        text = f.read()
    assert text.count("AssertionError: latency depends on the request") == 2, text
    assert "AssertionError: request" not in text          # every value check still passed


# ---- the shell's parts, each driven alone ----------------------------------------------------

def _put_stream(ctx, port, payloads):
    """A coroutine offering ``payloads`` on ``port``, each held until it is taken."""
    async def run():
        for p in payloads:
            ctx.set(port.payload, p)
            ctx.set(port.valid, 1)
            await ctx.tick().until(port.ready)
        ctx.set(port.valid, 0)
    return run()


def test_proof_intake_alone():
    """ProofIntake (amd, KEM engine): the engine gets exactly the 113 ct words with the final
    word masked past byte 897, the tag is bytes 897..928, the digest side gets every beat;
    then a proof with a non-zero padding byte and a short one."""
    from golden.proof import OBJECT_LEN, TAG_BYTES
    from hdl.validator import ProofIntake
    vendor = "amd"
    g = shell_geometry(vendor)
    rng = random.Random(60)
    body = rng.randbytes(OBJECT_LEN[vendor] + TAG_BYTES)
    good = _beats(pad_proof(body, vendor))
    padded = list(good)
    padded[-3] |= 1 << 40
    short = good[:50]
    dut = ProofIntake(vendor=vendor, kem=True)
    seen = []

    async def bench(ctx):
        ctx.set(dut.o_engine.ready, 1)
        ctx.set(dut.o_digest.ready, 1)
        for beats in (good, padded, short):
            eng, dig = [], []
            ctx.set(dut.start, 1)
            await ctx.tick()
            ctx.set(dut.start, 0)
            n = 0
            aborted = False
            while len(dig) < len(beats):
                if n < len(beats):
                    ctx.set(dut.i.payload, {"data": beats[n], "last": n == len(beats) - 1})
                    ctx.set(dut.i.valid, 1)
                await ctx.delay(1e-9)
                took = ctx.get(dut.i.valid) and ctx.get(dut.i.ready)
                if ctx.get(dut.o_engine.valid):
                    eng.append((ctx.get(dut.o_engine.payload.data),
                                ctx.get(dut.o_engine.payload.last)))
                if ctx.get(dut.o_digest.valid):
                    dig.append(ctx.get(dut.o_digest.payload.data))
                aborted |= bool(ctx.get(dut.abort))
                await ctx.tick()
                if took:
                    n += 1
                    if n == len(beats):
                        ctx.set(dut.i.valid, 0)
            await ctx.tick()
            aborted |= bool(ctx.get(dut.abort))
            seen.append((eng, dig, ctx.get(dut.tag).to_bytes(32, "little"),
                         ctx.get(dut.bad_len), ctx.get(dut.pad_err), aborted))

    run_simulation(dut, bench)
    ct_words = _beats(body[:OBJECT_LEN[vendor]] + bytes(-OBJECT_LEN[vendor] % 8))
    eng, dig, tag, bad_len, pad_err, aborted = seen[0]
    assert eng == [(w, int(i == g["object_words"] - 1)) for i, w in enumerate(ct_words)]
    assert dig == good and tag == body[OBJECT_LEN[vendor]:]
    assert (bad_len, pad_err, aborted) == (0, 0, False)
    assert seen[1][4] == 1 and seen[1][3] == 0
    assert seen[2][3] == 1 and seen[2][5] and seen[2][1] == short


def test_proof_intake_skid():
    """The intake's engine side through its skid register: under random engine
    back-pressure the engine still gets exactly the ct words in order, and within any cycle
    the intake's own ``i.ready`` and its tag do not change with the engine's ``ready`` (the
    timing contract the skid exists for; a fork that waited on the engine fails it)."""
    from golden.proof import OBJECT_LEN, TAG_BYTES
    from hdl.validator import ProofIntake
    vendor = "arm"
    g = shell_geometry(vendor)
    rng = random.Random(61)
    body = rng.randbytes(OBJECT_LEN[vendor] + TAG_BYTES)
    beats = _beats(pad_proof(body, vendor))
    dut = ProofIntake(vendor=vendor, kem=True)
    got = {}

    async def bench(ctx):
        ctx.set(dut.o_digest.ready, 1)
        ctx.set(dut.start, 1)
        await ctx.tick()
        ctx.set(dut.start, 0)
        eng, n, probes = [], 0, 0
        while n < len(beats) or len(eng) < g["object_words"]:
            if n < len(beats):
                ctx.set(dut.i.payload, {"data": beats[n], "last": n == len(beats) - 1})
                ctx.set(dut.i.valid, 1)
            else:
                ctx.set(dut.i.valid, 0)
            # the same cycle seen with the engine refusing and taking
            ctx.set(dut.o_engine.ready, 0)
            await ctx.delay(1e-9)
            ready0 = ctx.get(dut.i.ready)
            ctx.set(dut.o_engine.ready, 1)
            await ctx.delay(1e-9)
            assert ctx.get(dut.i.ready) == ready0
            probes += 1
            take = rng.random() < 0.4
            ctx.set(dut.o_engine.ready, take)
            await ctx.delay(1e-9)
            took = ctx.get(dut.i.valid) and ctx.get(dut.i.ready)
            if take and ctx.get(dut.o_engine.valid):
                eng.append((ctx.get(dut.o_engine.payload.data),
                            ctx.get(dut.o_engine.payload.last)))
            await ctx.tick()
            n += bool(took)
        got["eng"], got["tag"] = eng, ctx.get(dut.tag).to_bytes(32, "little")
        got["probes"] = probes

    run_simulation(dut, bench)
    ct_words = _beats(body[:OBJECT_LEN[vendor]] + bytes(-OBJECT_LEN[vendor] % 8))
    assert got["eng"] == [(w, int(i == g["object_words"] - 1)) for i, w in enumerate(ct_words)]
    assert got["tag"] == body[OBJECT_LEN[vendor]:]
    assert got["probes"] > len(beats)


async def _attestor_request(ctx, dut, k_att, D, nonce, tag, proof):
    """Attestor bench prelude: ``K_att`` kept (if given), then a request whose proof beats
    are all taken."""
    if k_att is not None:
        ctx.set(dut.i_katt.payload, int.from_bytes(k_att, "little"))
        ctx.set(dut.i_katt.valid, 1)
        await ctx.tick().until(dut.i_katt.ready)
        ctx.set(dut.i_katt.valid, 0)
        await ctx.tick().until(~dut.katt_busy)
    ctx.set(dut.descriptor, int.from_bytes(D, "little"))
    ctx.set(dut.nonce, nonce)
    ctx.set(dut.tag, int.from_bytes(tag, "little"))
    ctx.set(dut.ok, 1)
    ctx.set(dut.start, 1)
    await ctx.tick()
    ctx.set(dut.start, 0)
    beats = _beats(proof)
    await _put_stream(ctx, dut.i_digest, [{"data": w, "last": i == len(beats) - 1}
                                          for i, w in enumerate(beats)])


def test_attestor_alone():
    """Attestor (amd, KEM): K_att kept at key load; a valid and a wrong K each give the
    golden digest, vote and attestation, the response 26 cycles after K (taken into a
    register, then its block and the tag's final block permuted)."""
    from golden.proof import Status, attestation, proof_digest, proof_tag
    from hdl.attestor import Attestor
    vendor = "amd"
    rng = random.Random(61)
    k_att, K, D = rng.randbytes(32), rng.randbytes(32), rng.randbytes(24)
    proof = rng.randbytes(1024)
    dut = Attestor(vendor=vendor, kem=True)
    out = []

    async def bench(ctx):
        for n, k in enumerate((K, bytes(32))):
            await _attestor_request(ctx, dut, k_att if n == 0 else None, D, 77,
                                    proof_tag(K, D), proof)
            for _ in range(100):                # K well after both attestations
                await ctx.tick()
            await stream_put(ctx, dut.i_k, int.from_bytes(k, "little"))
            ctx.set(dut.o.ready, 1)
            cycles = 1 + await cycles_until(ctx, dut.o.valid)
            r = ctx.get(dut.o.payload)
            out.append((*_values(r), cycles))
            await ctx.tick()
            ctx.set(dut.o.ready, 0)

    run_simulation(dut, bench)
    pd = proof_digest(proof)
    for (vote, att, digest, cycles), expect in zip(out, (1, 0)):
        assert (vote, digest) == (expect, pd)
        assert att == attestation(k_att, vendor, 77, D, expect, pd)
        assert cycles == 26, cycles


def _values(r):
    """An attestor response as (vote, attestation, digest), the last two as bytes."""
    return (int(r.vote), int(r.attestation).to_bytes(32, "little"),
            int(r.digest).to_bytes(32, "little"))


async def _take_response(ctx, dut):
    """Take the attestor's response, read in the cycle it is taken (after a tag check its
    vote is the comparison of the state with the tag, valid until then)."""
    ctx.set(dut.o.ready, 1)
    await cycles_until(ctx, dut.o.valid)
    r = ctx.get(dut.o.payload)
    await ctx.tick()
    ctx.set(dut.o.ready, 0)
    return r


def _expected_accepts(beats, rounds):
    """Cycles (from the first beat offered) in which the attestor takes each of ``beats``
    beats offered back to back: a beat goes into the word register (wq) and from there
    into the block buffer a cycle later, 17 per block; a block is permuted from the cycle
    after its last beat goes in (the first) or after the previous permutation (the others,
    collected meanwhile), and in that cycle the next block may begin. While the buffer
    waits full, wq holds one beat more."""
    if rounds == 2:                      # 12 cycles per permutation: never a wait
        return list(range(beats))
    out = []
    for i in range(beats):
        j, r = divmod(i - 35, 17)
        out.append(i if i < 35 else 42 + 24 * j + r)
    return out


@pytest.mark.parametrize("rounds", [1, 2])
def test_attestor_schedule(rounds):
    """The attestor's cycle contract, measured: beats offered one per cycle are taken as
    ``_expected_accepts`` says (128 and, at 1 round per cycle, 1,024 beats: the proof
    sizes); a hash-service job
    whose final word comes while the state is idle (McEliece's 533 bytes, a word every
    other cycle) gives its first output word 27 (15) cycles after that word (two of them
    the hash-service word register's and the block's word register's); the response
    follows K by 49 (25) cycles. Every value is checked against the golden model."""
    import hashlib
    from golden.proof import attestation, proof_digest, proof_tag
    from hdl.attestor import Attestor
    from hdl.sponge import SpongeMode
    vendor = "arm"
    rng = random.Random(64)
    k_att, K, D = rng.randbytes(32), rng.randbytes(32), rng.randbytes(24)
    msg = rng.randbytes(533)
    perm = 24 // rounds
    for nbeats in (128, 1024) if rounds == 1 else (128,):
        proof = rng.randbytes(8 * nbeats)
        dut = Attestor(vendor=vendor, kem=True, rounds_per_cycle=rounds, hash_service=True)
        got = {}

        async def bench(ctx):
            ctx.set(dut.i_katt.payload, int.from_bytes(k_att, "little"))
            ctx.set(dut.i_katt.valid, 1)
            await ctx.tick().until(dut.i_katt.ready)
            ctx.set(dut.i_katt.valid, 0)
            ctx.set(dut.descriptor, int.from_bytes(D, "little"))
            ctx.set(dut.nonce, 79)
            ctx.set(dut.tag, int.from_bytes(proof_tag(K, D), "little"))
            ctx.set(dut.ok, 1)
            ctx.set(dut.start, 1)
            await ctx.tick()
            ctx.set(dut.start, 0)
            accepts, cycle = [], 0
            beats = _beats(proof)
            for i, w in enumerate(beats):
                ctx.set(dut.i_digest.payload, {"data": w, "last": i == len(beats) - 1})
                ctx.set(dut.i_digest.valid, 1)
                while True:
                    await ctx.delay(1e-9)
                    took = ctx.get(dut.i_digest.ready)
                    await ctx.tick()
                    cycle += 1
                    if took:
                        accepts.append(cycle - 1)
                        break
            ctx.set(dut.i_digest.valid, 0)
            got["accepts"] = accepts
            # a hash job at the McEliece engine's pace: one word every other cycle
            await hash_words_in(ctx, dut.hash.i, msg, SpongeMode.SHAKE256, gap=1)
            ctx.set(dut.hash.o.ready, 1)
            got["hash_cycles"] = 1 + await cycles_until(ctx, dut.hash.o.valid)
            got["hash"], _ = await hash_words_out(ctx, dut.hash.o, dut.hash.stop)
            await stream_put(ctx, dut.i_k, int.from_bytes(K, "little"))
            ctx.set(dut.o.ready, 1)
            got["tail"] = 1 + await cycles_until(ctx, dut.o.valid)
            r = ctx.get(dut.o.payload)
            got["out"] = _values(r)

        run_simulation(dut, bench)
        pd = proof_digest(proof)
        assert got["accepts"] == _expected_accepts(nbeats, rounds)
        assert got["hash"] == hashlib.shake_256(msg).digest(32)
        assert got["hash_cycles"] == perm + 3
        assert got["tail"] == 2 * perm + 2
        assert got["out"] == (1, attestation(k_att, vendor, 79, D, 1, pd), pd)


@pytest.mark.parametrize("rounds,kem", [(1, True), (2, True), (1, False)])
def test_attestor_random_timing(rounds, kem):
    """The attestor under random idle cycles on every input, for proof lengths around the
    block boundaries (16, 17, 18, 34, 35, 51 beats and 1: a final block of padding alone, a
    final block of one word, blocks completed while the state permutes or is idle) and a
    skipped request:
    digest, vote and attestation equal the golden model's, with the key changed between
    requests."""
    from golden.proof import attestation, proof_digest, proof_tag
    from hdl.attestor import Attestor
    vendor = "intel" if kem else "riscv"
    rng = random.Random(65 + rounds + 2 * kem)
    dut = Attestor(vendor=vendor, kem=kem, rounds_per_cycle=rounds)
    cases = []
    for n, nbeats in enumerate((16, 17, 18, 34, 35, 1, 51)):
        K, D = rng.randbytes(32), rng.randbytes(24)
        valid = rng.random() < 0.5
        cases.append({"k_att": rng.randbytes(32) if n % 3 == 0 else None, "D": D,
                      "N": rng.getrandbits(64), "proof": rng.randbytes(8 * nbeats),
                      "K": K if valid else rng.randbytes(32), "tag": proof_tag(K, D),
                      "verdict": int(valid), "ok": int(rng.random() < 0.8),
                      "skip": n == 2})
    out = []

    async def idle(ctx):
        while rng.random() < 0.4:
            await ctx.tick()

    async def bench(ctx):
        for c in cases:
            if c["k_att"] is not None:
                await idle(ctx)
                await stream_put(ctx, dut.i_katt, int.from_bytes(c["k_att"], "little"))
            ctx.set(dut.descriptor, int.from_bytes(c["D"], "little"))
            ctx.set(dut.nonce, c["N"])
            ctx.set(dut.ok, c["ok"])
            ctx.set(dut.skip, 0)
            if kem:
                ctx.set(dut.tag, int.from_bytes(c["tag"], "little"))
            ctx.set(dut.start, 1)
            await ctx.tick()
            ctx.set(dut.start, 0)
            beats = _beats(c["proof"])
            for i, w in enumerate(beats):
                await idle(ctx)
                await stream_put(ctx, dut.i_digest, {"data": w, "last": i == len(beats) - 1})
            for _ in range(rng.randrange(0, 150)):
                await ctx.tick()
            if c["skip"]:
                ctx.set(dut.skip, 1)
            elif kem:
                await stream_put(ctx, dut.i_k, int.from_bytes(c["K"], "little"))
            else:
                await stream_put(ctx, dut.i_verdict, c["verdict"])
            await idle(ctx)
            r = await _take_response(ctx, dut)
            out.append(_values(r))

    run_simulation(dut, bench)
    k_att = None
    for c, got in zip(cases, out, strict=True):
        k_att = c["k_att"] if c["k_att"] is not None else k_att
        pd = proof_digest(c["proof"])
        vote = 0 if c["skip"] else c["ok"] & c["verdict"]
        assert got == (vote, attestation(k_att, vendor, c["N"], c["D"], vote, pd), pd)


@pytest.mark.parametrize("rounds", [1, 2])
def test_attestor_hash_service(rounds):
    """Attestor hash service (arm, KEM): between the attestations and K the engine's
    messages are hashed on the attestor's permutation — SHAKE256 at every padding boundary
    (empty, partial final word, one byte short of a block, a whole block, McEliece's 533
    bytes) and one SHA3-256 — the first four output words equal hashlib's, each job costs
    the same cycles for every message of its length, and the digest, vote and attestation
    of the request are unchanged."""
    import hashlib
    from golden.proof import attestation, proof_digest, proof_tag
    from hdl.attestor import Attestor
    from hdl.sponge import SpongeMode
    vendor = "arm"
    rng = random.Random(63)
    k_att, K, D = rng.randbytes(32), rng.randbytes(32), rng.randbytes(24)
    proof = rng.randbytes(152)
    jobs = [(n, SpongeMode.SHAKE256) for n in (0, 5, 8, 135, 136, 137, 272, 533)]
    jobs += [(533, SpongeMode.SHAKE256), (41, SpongeMode.SHA3_256)]
    messages = [(rng.randbytes(n), mode) for n, mode in jobs]
    dut = Attestor(vendor=vendor, kem=True, rounds_per_cycle=rounds, hash_service=True)
    got, cycles, out = [], [], []

    async def bench(ctx):
        await _attestor_request(ctx, dut, k_att, D, 78, proof_tag(K, D), proof)
        for msg, mode in messages:
            n = await hash_words_in(ctx, dut.hash.i, msg, mode)
            digest, n_out = await hash_words_out(ctx, dut.hash.o, dut.hash.stop)
            got.append(digest)
            cycles.append(n + n_out)
        await stream_put(ctx, dut.i_k, int.from_bytes(K, "little"))
        r = await _take_response(ctx, dut)
        out.append(_values(r))

    run_simulation(dut, bench)
    for (msg, mode), digest in zip(messages, got):
        want = (hashlib.sha3_256(msg).digest() if mode == SpongeMode.SHA3_256
                else hashlib.shake_256(msg).digest(32))
        assert digest == want, (len(msg), mode)
    assert cycles[jobs.index((533, SpongeMode.SHAKE256))] == cycles[-2]
    pd = proof_digest(proof)
    assert out == [(1, attestation(k_att, vendor, 78, D, 1, pd), pd)]


def test_attestor_hash_service_needs_kem():
    from hdl.attestor import Attestor
    with pytest.raises(ValueError, match="KEM engine"):
        Attestor(vendor="riscv", kem=False, hash_service=True)
    with pytest.raises(TypeError, match="bool"):
        Attestor(vendor="arm", kem=True, hash_service=1)


def test_key_loader_alone():
    """KeyLoader (amd: 190 key words, the last with 6 bytes): a good stream, a stream that ends
    inside the algorithm key (completed with zero words), one with a non-zero padding byte;
    the engine side always gets 190 words, last on the final one, and K_att is handed over."""
    from hdl.validator import KeyLoader
    vendor = "amd"
    g = shell_geometry(vendor)
    rng = random.Random(62)
    key, k_att = rng.randbytes(KEY_LEN[vendor]), rng.randbytes(32)
    good = [w for w, _ in KeyModel.stream(key, k_att)]
    padded = list(good)
    padded[g["key_words"] - 1] |= 1 << 60
    streams = {"good": good, "short": good[:20], "padding": padded}
    dut = KeyLoader(vendor=vendor)
    seen = {}

    async def bench(ctx):
        ctx.set(dut.enable, 1)
        ctx.set(dut.o_alg.ready, 1)
        ctx.set(dut.o_katt.ready, 1)
        for name, words in streams.items():
            alg, katt = [], None
            ctx.set(dut.alg_done, 0)
            for i, w in enumerate(words):
                ctx.set(dut.i.payload, {"data": w, "last": i == len(words) - 1})
                ctx.set(dut.i.valid, 1)
                await ctx.delay(1e-9)
                while not ctx.get(dut.i.ready):
                    await ctx.tick()
                    await ctx.delay(1e-9)
                if ctx.get(dut.o_alg.valid):
                    alg.append((ctx.get(dut.o_alg.payload.data), ctx.get(dut.o_alg.payload.last)))
                await ctx.tick()
            ctx.set(dut.i.valid, 0)
            for _ in range(300):
                await ctx.delay(1e-9)
                if ctx.get(dut.o_alg.valid):
                    alg.append((ctx.get(dut.o_alg.payload.data), ctx.get(dut.o_alg.payload.last)))
                if ctx.get(dut.o_katt.valid):
                    katt = ctx.get(dut.o_katt.payload).to_bytes(32, "little")
                    ctx.set(dut.alg_done, 1)
                    ctx.set(dut.alg_ok, 1)
                if ctx.get(dut.status) != KeyStatus.LOADING and katt is not None:
                    break
                await ctx.tick()
            await ctx.tick()
            seen[name] = (alg, katt, ctx.get(dut.status))

    run_simulation(dut, bench)
    kw = g["key_words"]
    alg, katt, status = seen["good"]
    assert alg == [(w, int(i == kw - 1)) for i, w in enumerate(good[:kw])]
    assert katt == k_att and status == KeyStatus.OK
    alg, _, status = seen["short"]
    assert alg == [(w, int(i == kw - 1)) for i, w in enumerate(good[:20] + [0] * (kw - 20))]
    assert status == KeyStatus.BAD
    assert seen["padding"][2] == KeyStatus.BAD
