# amaranth: UnusedElaboratable=no
"""mceliece348864 core (`arm`): the decapsulation engine under Verilator against the golden
trace (support, weights, syndrome, Berlekamp–Massey, error vector, decoder verdict, K)."""

import json
import os
import random
from pathlib import Path

import pytest

import golden.mceliece as mc
from sim.harness import EngineHarness as _EngineHarness
from tests.kem_core import check_validate_rtl, run_core_bench

import pqcrypto.kem.mceliece_348864 as pqc  # a pinned dependency: a missing one must fail, not skip

VECTORS = Path(__file__).resolve().parent / "vectors"
FULL = os.environ.get("PQVOTE_FULL") == "1"


def EngineHarness():
    """The McEliece engine as a Verilator top (``abort`` renamed ``cancel``)."""
    from hdl.mceliece.engine import McElieceEngine
    return _EngineHarness(McElieceEngine())


# --- cases with their golden trace ----------------------------------------------------------

def _key_expect(name, sk, trace=True):
    _, _, g_bytes, cb, _ = mc.split_sk(sk)
    g, alpha = mc.goppa_from_sk(g_bytes), mc.support_from_controlbits(cb)
    g_at, w = mc.support_weights(g, alpha)
    return {"name": name, "sk": sk.hex(), "key_ok": int(mc.check_sk(sk)), "trace": trace,
            "alpha": list(alpha), "g_at": list(g_at), "w": list(w), "cases": []}


def _ct_expect(name, sk, ct):
    K, tr = mc.decaps_trace(sk, ct)
    e = int.from_bytes(mc.vector_bytes(tr["e"], mc.N), "little")
    e_words = [(e >> (64 * k)) & ((1 << 64) - 1) for k in range(-(-mc.N // 64))]
    return {"name": name, "ct": ct.hex(), "K": K.hex(), "S": tr["S"], "C": tr["C"],
            "L": tr["L"], "e_words": e_words, "roots": len(tr["e"]), "ok": int(tr["ok"])}


def engine_cases(rng):
    with open(VECTORS / "mceliece348864_kat.json") as f:
        kat = json.load(f)["cases"][0]
    sk, ct = bytes.fromhex(kat["sk"]), bytes.fromhex(kat["ct"])
    assert mc.decaps(sk, ct) == bytes.fromhex(kat["ss"])
    keys = []
    k = _key_expect("kat", sk)
    flipped = bytearray(ct)
    flipped[rng.randrange(mc.CT_BYTES)] ^= 1 << rng.randrange(8)
    for name, c in (("valid", ct), ("flip", bytes(flipped)),
                    ("random", rng.randbytes(mc.CT_BYTES))):
        k["cases"].append(_ct_expect(name, sk, c))
    k["abort_at"] = [100, 6050]
    keys.append(k)
    for n in range(2 if FULL else 1):
        pk, sk2 = pqc.keygen()
        k = _key_expect(f"pqc{n}", sk2, trace=n == 0)
        c, ss = pqc.encaps(pk)
        assert mc.decaps(sk2, c) == ss
        k["cases"].append(_ct_expect("valid", sk2, c))
        for w in (mc.T - 1, mc.T + 1):
            c = mc.encode(rng.sample(range(mc.N), w), pk)
            k["cases"].append(_ct_expect(f"weight{w}", sk2, c))
            assert k["cases"][-1]["K"] == pqc.decaps(sk2, c).hex()
        keys.append(k)
    bad = mc.with_support_root(sk)
    k = _key_expect("root-in-support", bad, trace=False)
    assert k["key_ok"] == 0
    k["cases"].append(_ct_expect("valid", bad, ct))
    keys.append(k)
    return keys


def _run(tmp_path, testcase=None, env=None, keys=None):
    from sim.runner import run_cocotb
    cases = tmp_path / "cases.json"
    cases.write_text(json.dumps(keys or engine_cases(random.Random(348864))))
    run_cocotb(name="mceliece-engine", top=EngineHarness, module="sim.tb_mceliece_engine",
               testcase=testcase, env={"MCELIECE_CASES": cases, **(env or {})})


def test_engine_bench(tmp_path):
    _run(tmp_path)


def test_engine_bench_negative_control(tmp_path):
    """The stage comparison fails when one expected syndrome value is corrupted."""
    kat = engine_cases(random.Random(1))[0]
    kat.update(cases=kat["cases"][:1], trace=False, abort_at=[])
    with pytest.raises(AssertionError, match="1 of 1 cocotb tests failed") as failure:
        _run(tmp_path, keys=[kat], env={"MCELIECE_CORRUPT": 1})
    log = Path(str(failure.value).rsplit("log: ", 1)[1].rstrip(")"))
    assert "mismatches: ['syndrome']" in log.read_text()


# --- the whole `arm` core and its flat wrapper ---------------------------------------------------

def _bad_key(sk, rng):
    """One of the golden check_sk classes, chosen by ``rng``: pivot word, a g coefficient
    wider than 12 bits, g with a root in the support."""
    kind = rng.randrange(3)
    bad = bytearray(sk)
    if kind == 0:
        bad[mc.SK_C + rng.randrange(4, 8)] ^= 1 << rng.randrange(8)
    elif kind == 1:
        bad[mc.SK_G + 2 * rng.randrange(mc.T) + 1] |= 0x10 << rng.randrange(4)
    else:
        bad = bytearray(mc.with_support_root(sk))
    assert not mc.check_sk(bytes(bad))
    return bytes(bad)


def _scenario(rng):
    """The constant-time scenario of the whole core (sim/kem_scenario.py) with the golden
    model's responses: two keys, no key, a rejected key, every tamper class, wrong lengths."""
    from golden import proof
    from sim.kem_scenario import kem_scenario

    def keypair():
        return pqc.keygen()

    def encaps(pk, D):
        c, K = mc.encaps(pk, lambda n: rng.randbytes(n))
        return proof.mint_kem("arm", K, c, D)

    return kem_scenario("arm", rng, keypair=keypair, encaps=encaps, bad_key=_bad_key,
                        valid_per_key=1)


def test_core_bench(tmp_path):
    """The whole ``arm`` core against the golden model: vote, status, attestation, digest;
    one exact latency for two keys, no key, a rejected key and every tamper class."""
    run_core_bench("arm", "mceliece-core", _scenario(random.Random(40)), tmp_path)


def test_wrapper_bench(tmp_path):
    """The seed-compatible flat wrapper ``arm_quantum_validator_asic`` of the real core."""
    from sim.runner import run_cocotb
    from hdl.cores import CORES
    from hdl.wrapper import make_asic_wrapper

    scenario = [r for r in _scenario(random.Random(41)) if r["timed"]][:6]
    (tmp_path / "scenario.json").write_text(json.dumps(scenario))
    run_cocotb(name="mceliece-wrapper", top=lambda: make_asic_wrapper("arm", CORES["arm"]),
               module="sim.tb_kem_wrapper",
               env={"KEM_SCENARIO": tmp_path / "scenario.json", "KEM_KEY_LOAD_CYCLES": 100_000})


def test_validate_rtl_backend(tmp_path, capsys):
    """``pqvote validate --backend rtl`` answers ``arm`` requests from the core (the model of
    the core bench), equal to the golden model, with one latency."""
    check_validate_rtl("arm", 9, tmp_path, capsys)
