# amaranth: UnusedElaboratable=no
"""The flat wrapper ``<vendor>_quantum_validator_asic``: Amaranth-simulator tests (one frame)
and the cocotb bench under Verilator (riscv geometry: 8 frames)."""

import os
import random

import pytest
from amaranth.back import verilog
from amaranth.hdl import Fragment

from golden.proof import KEY_LEN, Status, pad_proof
from hdl.cores import CORES, shell_core
from hdl.validator import KeyStatus, ValidatorShell
from hdl.wrapper import make_asic_wrapper
from sim.harness import latency_monitor, simulate
from sim.runner import run_cocotb
from sim.shell_engine import KeyModel, ShellModel, ShellTestEngine, mint_body

FULL = os.environ.get("PQVOTE_FULL", "") not in ("", "0")


def _shell(vendor):
    return lambda: ValidatorShell(vendor=vendor, engine=ShellTestEngine())


def _beats(proof):
    return [int.from_bytes(proof[i:i + 8], "little") for i in range(0, len(proof), 8)]


def simulate_wrapper(dut, key_stream, requests):
    """``requests``: ``(descriptor, nonce, beats)`` with whole frames; returns
    ``[(response, latency)]``, latency counted from the cycle after the first frame
    handshake to the first cycle ``resp_valid`` is seen."""
    out = []
    lat = []

    async def put(ctx, valid, ready, fields):
        for port, v in fields:
            ctx.set(port, v)
        ctx.set(valid, 1)
        await ctx.tick().until(ready)
        ctx.set(valid, 0)

    async def testbench(ctx):
        ctx.set(dut.resp_ready, 1)
        for w, last in key_stream:
            await put(ctx, dut.key_valid, dut.key_ready, [(dut.key_data, w), (dut.key_last, last)])
        while ctx.get(dut.key_status) == KeyStatus.LOADING.value:
            await ctx.tick()
        assert ctx.get(dut.key_status) == KeyStatus.OK.value
        for D, N, beats in requests:
            await put(ctx, dut.req_valid, dut.req_ready,
                      [(dut.tcp_descriptor, int.from_bytes(D, "little")), (dut.nonce, N)])
            nframes = len(beats) // 128
            for f in range(nframes):
                flat = sum(w << (64 * k) for k, w in enumerate(beats[128 * f:128 * (f + 1)]))
                await put(ctx, dut.frame_valid, dut.frame_ready,
                          [(dut.delegated_quantum_proof, flat), (dut.frame_last, f == nframes - 1)])
            while not ctx.get(dut.resp_valid):
                await ctx.tick()
            out.append((ctx.get(dut.quantum_consensus_vote), Status(ctx.get(dut.status)),
                        ctx.get(dut.quantum_signature).to_bytes(32, "little"),
                        ctx.get(dut.proof_digest).to_bytes(32, "little")))
            await ctx.tick()

    simulate(dut, testbench, background=[
        latency_monitor(dut.frame_valid, dut.frame_ready, dut.resp_valid, lat, skew=1)])
    return list(zip(out, lat))


@pytest.mark.parametrize("vendor", ["amd"] + (["intel"] if FULL else []))
def test_one_frame(vendor):
    """Valid, invalid and two-frame (BAD_LENGTH) proofs through the flat ports; the
    latency equals the shell's own."""
    rng = random.Random(5)
    key = bytes(rng.getrandbits(8) for _ in range(KEY_LEN[vendor]))
    stream = KeyModel.stream(key, bytes(rng.getrandbits(8) for _ in range(32)))
    km = KeyModel(vendor, stream)
    reqs = []
    for kind in ("valid", "invalid", "long", "valid"):
        D = bytes(rng.getrandbits(8) for _ in range(24))
        N = rng.getrandbits(64)
        beats = _beats(pad_proof(mint_body(vendor, km.kacc, D, rng, valid=kind != "invalid"),
                                 vendor))
        if kind == "long":
            beats += [rng.getrandbits(64) for _ in range(128)]
        reqs.append((D, N, beats))
    dut = make_asic_wrapper(vendor, _shell(vendor))
    assert type(dut).__name__ == f"{vendor}_quantum_validator_asic" == dut.name
    res = simulate_wrapper(dut, stream, reqs)
    model = ShellModel(vendor)
    for (D, N, beats), (got, _) in zip(reqs, res):
        vote, status, att, pd = model.response(km, D, N, beats)
        assert got == (int(vote), status, att, pd)
    assert [g[1] for g, _ in res] == [Status.OK, Status.OK, Status.BAD_LENGTH, Status.OK]
    assert [g[0] for g, _ in res] == [1, 0, 0, 1]
    assert res[0][1] == res[1][1] == res[3][1]

    # the same requests straight into the shell: same latency
    from tests.test_shell_rtl import simulate
    shell_out, _ = simulate(_shell(vendor)(), vendor, stream, [reqs[0]])
    assert shell_out[0][0] == res[0][0]
    assert shell_out[0][1] == res[0][1], (shell_out[0][1], res[0][1])


def test_ports_and_registry():
    dut = make_asic_wrapper("riscv", _shell("riscv"))
    text = verilog.convert(dut, name=dut.name)
    assert "module riscv_quantum_validator_asic" in text
    for port in ("tcp_descriptor", "delegated_quantum_proof", "quantum_consensus_vote",
                 "quantum_signature", "frame_valid", "frame_ready", "frame_last",
                 "req_valid", "req_ready", "resp_valid", "resp_ready", "nonce",
                 "key_data", "key_valid", "key_ready", "key_last", "status"):
        assert f" {port};" in text or f"] {port};" in text, port
    assert "input [8191:0] delegated_quantum_proof" in text
    assert "output [255:0] quantum_signature" in text
    assert "input [191:0] tcp_descriptor" in text
    factory = shell_core("amd", ShellTestEngine)
    core = factory(latency=5, digest_rounds_per_cycle=1)
    assert core.vendor == "amd" and core.digest_rounds_per_cycle == 1
    Fragment.get(core, None)
    factory = shell_core("intel", "sim.shell_engine:ShellTestEngine")
    core = factory()
    assert isinstance(core, ValidatorShell)
    Fragment.get(core, None)
    with pytest.raises(ValueError, match=r"Engine path must have the form"):
        shell_core("intel", "sim.shell_engine.ShellTestEngine")()
    for vendor, f in CORES.items():
        assert f.vendor == vendor
    # engine defaults: the arm core's engine hashes on the shell's permutation unless the
    # factory's own argument says otherwise
    factory = shell_core("amd", ShellTestEngine, engine_defaults={"latency": 7})
    core = factory()
    assert core.engine._latency == 7
    Fragment.get(core, None)
    core = factory(latency=3)
    assert core.engine._latency == 3
    Fragment.get(core, None)
    assert CORES["arm"].engine_defaults == {"shared_hash": True}


@pytest.mark.parametrize("vendor", ["riscv"] + (["intel"] if FULL else []))
def test_wrapper_cocotb(vendor):
    env = {"PQVOTE_VENDOR": vendor, "PQVOTE_CASES": 12 if FULL else 4}
    assert run_cocotb(name=f"wrapper-{vendor}", top=lambda: make_asic_wrapper(vendor, _shell(vendor)),
                      module="sim.tb_wrapper", env=env) == 5
