"""``pqvote validate --backend golden``: answers, order, one-line errors (SPEC §3.3), strict
input, streaming, and the same answers for a file and stdin.

The ML-KEM key and encapsulation come from ``PQVOTE_SEED`` through the golden model's
deterministic ``keygen(d, z)`` / ``encaps(ek, m)``; the other vendors' keys come from
pqcrypto (their standards define no seeded key generation in the golden models) and are
recorded in the request file whose path a failing test prints.
"""

import io
import json
import os
import random
import subprocess
import sys
from pathlib import Path

import pytest
from pqcrypto.kem import mceliece_348864, sntrup_653
from pqcrypto.sign import slh_dsa_shake_128s as slh

from golden import mlkem
from golden import proof as gp
from pqvote.cli import MAX_LINE, main

SEED = int(os.environ.get("PQVOTE_SEED", "7"))
ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="module")
def batch(tmp_path_factory):
    rng = random.Random(SEED)
    ek, dk = mlkem.keygen(rng.randbytes(32), rng.randbytes(32))
    pk, sk = slh.keygen()
    k_att = rng.randbytes(32)
    d = rng.randbytes(24)
    ct, K = mlkem.encaps(ek, rng.randbytes(32))
    good_intel = gp.mint_kem("intel", K, ct, d)
    bad_tag = bytearray(good_intel)
    bad_tag[770] ^= 0x40
    sig = gp.mint_signature(slh.sign(sk, d, context=gp.CONTEXT))
    lines = [
        gp.request_json("intel", dk, k_att, d, 1, good_intel),
        gp.request_json("intel", dk, k_att, d, 2, bytes(bad_tag)),
        "{not json",
        gp.request_json("riscv", pk, k_att, d, 3, sig),
        {**gp.request_json("intel", dk, k_att, d, 4, good_intel), "vendor": "zilog"},
        gp.request_json("intel", dk, k_att, d, 5, good_intel[:-8]),
        gp.request_json("intel", None, None, d, 6, good_intel),
        {**gp.request_json("intel", dk, k_att, d, 7, good_intel), "key": dk[:-1].hex()},
    ]
    for n, (vendor, kem) in enumerate((("amd", sntrup_653), ("arm", mceliece_348864))):
        pk_v, sk_v = kem.keygen()
        ct_v, K_v = kem.encaps(pk_v)
        proof_v = gp.mint_kem(vendor, K_v, ct_v, d)
        lines.append(gp.request_json(vendor, sk_v, k_att, d, 8 + 2 * n, proof_v))
        lines.append(gp.request_json(vendor, sk_v, k_att, bytes(24), 9 + 2 * n, proof_v))
    path = tmp_path_factory.mktemp("cli") / "requests.jsonl"
    path.write_text("\n".join(l if isinstance(l, str) else json.dumps(l) for l in lines) + "\n")
    print(f"PQVOTE_SEED={SEED}; requests and keys in {path}")
    return path, (dk, k_att, d, good_intel, pk, sig)


def test_batch_answers_every_line_in_order(batch, capsys):
    path, (dk, k_att, d, good_intel, pk, sig) = batch
    assert main(["validate", "--backend", "golden", str(path)]) == 2, f"seed {SEED}, {path}"
    out = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert [o["status"] for o in out] == ["ok", "ok", "error", "ok", "error", "bad_length", "no_key", "error",
                                          "ok", "ok", "ok", "ok"]
    # the amd/arm proofs are valid for descriptor d, not for the all-zero descriptor
    assert [o["vote"] for o in out] == [True, False, False, True, False, False, False, False,
                                        True, False, True, False]
    assert out[0]["attestation"] == gp.attestation(k_att, "intel", 1, d, True, gp.proof_digest(good_intel)).hex()
    assert out[3]["proof_digest"] == gp.proof_digest(sig).hex()
    assert out[2]["error"].startswith("line 3: bad JSON")
    assert out[4]["error"] == "line 5: unknown vendor 'zilog' (expected one of intel, amd, arm, riscv)"
    assert out[7]["error"] == "line 8: key: expected 1632 bytes for intel, got 1631"
    assert out[6]["attestation"] == "00" * 32
    assert all(o["cycles"] is None for o in out)


def _validate(capsys, monkeypatch, data: bytes, *, stdin: bool, tmp_path=None):
    if stdin:
        monkeypatch.setattr("sys.stdin", io.TextIOWrapper(io.BytesIO(data)))
        code = main(["validate", "-"])
    else:
        path = tmp_path / "in.jsonl"
        path.write_bytes(data)
        code = main(["validate", str(path)])
    out, err = capsys.readouterr()
    return code, [json.loads(line) for line in out.splitlines()], err


def test_stdin_and_missing_file(batch, capsys, monkeypatch, tmp_path):
    path, _ = batch
    data = path.read_bytes()
    from_file = _validate(capsys, monkeypatch, data, stdin=False, tmp_path=tmp_path)
    from_stdin = _validate(capsys, monkeypatch, data, stdin=True)
    assert from_file == from_stdin and len(from_file[1]) == 12
    one = data.splitlines()[0] + b"\n"
    code, out, _ = _validate(capsys, monkeypatch, one, stdin=True)
    assert code == 0 and out[0]["vote"] is True
    assert main(["validate", str(path) + ".missing"]) == 2
    assert "cannot read" in capsys.readouterr().err


def _strict_cases(good: dict):
    """(line bytes, expected error text) for every kind of bad line."""
    g = json.dumps(good)
    deep = "[" * 100_000 + "]" * 100_000
    return [
        (b"\xff\xfe" + g.encode(), "not valid UTF-8"),
        (g.encode()[:-1] + b', "x": "\xc3"}', "not valid UTF-8"),
        (json.dumps(dict(good, vendor=[1])).encode(), "vendor: expected a string, got list"),
        (json.dumps(dict(good, vendor={})).encode(), "vendor: expected a string, got dict"),
        (b"{}", "missing field 'vendor'"),
        (deep.encode(), "nested too deeply"),
        (g.replace('"nonce": 1', '"nonce": ' + "9" * 5000).encode(), "too long"),
        (json.dumps(dict(good, nonce=1 << 64)).encode(), "unsigned 64-bit"),
        (json.dumps(dict(good, nonce=-1)).encode(), "unsigned 64-bit"),
        (json.dumps(dict(good, nonce=1.5)).encode(), "unsigned 64-bit"),
        (json.dumps(dict(good, nonce=True)).encode(), "unsigned 64-bit"),
        (g.replace('"nonce": 1', '"nonce": NaN').encode(), "NaN is not JSON"),
        (g.replace('"nonce": 1', '"nonce": 1e999').encode(), "out of range"),
        (g[:-1].encode() + b', "vendor": "amd"}', "duplicate key 'vendor'"),
        (json.dumps(dict(good, extra=1)).encode(), "unknown field 'extra'"),
        (json.dumps(dict(good, descriptor=" " + good["descriptor"][1:])).encode(),
         "descriptor: not valid hex"),
        (json.dumps(dict(good, proof=good["proof"][:10] + " " + good["proof"][10:]))
         .encode(), "proof: not valid hex"),
        (json.dumps(dict(good, proof=good["proof"][:-1])).encode(), "proof: not valid hex"),
        (json.dumps(dict(good, key=5)).encode(), "key: expected a hex string, got int"),
        (b"[1, 2]", "expected a JSON object"),
        (b'"text"', "expected a JSON object"),
        (b"{" + b" " * (MAX_LINE + 10) + b"}", f"longer than {MAX_LINE} bytes"),
    ]


def test_bad_lines_one_error_each_batch_intact(batch, capsys, monkeypatch, tmp_path):
    """Every kind of bad line between two good ones: one error answer naming the problem,
    the good lines' answers unchanged, no traceback, the same for a file and stdin."""
    path, _ = batch
    # the first request without its key (a no_key answer: no decapsulation, so fast)
    good = dict(json.loads(path.read_bytes().splitlines()[0]), key=None, attestation_key=None)
    good_line = json.dumps(good).encode()
    code, [ref], _ = _validate(capsys, monkeypatch, good_line, stdin=True)
    assert ref["status"] == "no_key"
    assert code == 0
    for bad, want in _strict_cases(good):
        data = good_line + b"\n" + bad + b"\n\n  \n" + good_line      # blank lines: no answer
        results = []
        for stdin in (False, True):
            code, out, err = _validate(capsys, monkeypatch, data, stdin=stdin, tmp_path=tmp_path)
            assert code == 2 and err == "", (want, err)
            assert len(out) == 3 and out[0] == out[2] == ref, want
            assert out[1]["status"] == "error" and out[1]["error"].startswith("line 2: "), out[1]
            assert want in out[1]["error"], (want, out[1]["error"])
            results.append(out)
        assert results[0] == results[1]


def test_answers_stream_as_lines_arrive(batch):
    """An answer is written before the next line is read: a pipe gets the first answer
    while the writer still holds the second line back."""
    path, _ = batch
    good_line = path.read_bytes().splitlines()[0]
    proc = subprocess.Popen([sys.executable, "-m", "pqvote.cli", "validate", "-"], cwd=ROOT,
                            stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE)
    try:
        proc.stdin.write(good_line + b"\n")
        proc.stdin.flush()
        first = json.loads(proc.stdout.readline())
        assert first["status"] == "ok" and first["vote"] is True
        proc.stdin.write(b"{bad\n")
        proc.stdin.close()
        second = json.loads(proc.stdout.readline())
        assert second["status"] == "error" and second["error"].startswith("line 2: bad JSON")
        assert proc.wait(timeout=60) == 2 and proc.stderr.read() == b""
    finally:
        proc.kill()
        proc.wait()
        for f in (proc.stdout, proc.stderr):
            f.close()


def test_long_line_is_not_held_in_memory(tmp_path, capsys):
    """A 64 MiB line is skipped in bounded chunks: one error answer, peak memory far below
    the line's size."""
    import resource
    path = tmp_path / "long.jsonl"
    with open(path, "wb") as f:
        f.write(b'{"proof": "')
        for _ in range(64):
            f.write(b"00" * (1 << 19))
        f.write(b'"}\n{"vendor": "intel"}\n')
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    assert main(["validate", str(path)]) == 2
    grown = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before     # KiB on Linux
    out = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert [o["error"].split(":")[0] for o in out] == ["line 1", "line 2"]
    assert "longer than" in out[0]["error"] and "missing field 'descriptor'" in out[1]["error"]
    assert grown < 16 * 1024, f"max RSS grew by {grown} KiB"
