"""``pqvote validate --backend golden``: answers, order, and one-line errors (SPEC §3.3)."""

import json
import random

import pytest
from pqcrypto.kem import mceliece_348864, ml_kem_512, sntrup_653
from pqcrypto.sign import slh_dsa_shake_128s as slh

from golden import proof as gp
from pqvote.cli import main


@pytest.fixture(scope="module")
def batch(tmp_path_factory):
    rng = random.Random(7)
    ek, dk = ml_kem_512.keygen()
    pk, sk = slh.keygen()
    k_att = rng.randbytes(32)
    d = rng.randbytes(24)
    ct, K = ml_kem_512.encaps(ek)
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
    return path, (dk, k_att, d, good_intel, pk, sig)


def test_batch_answers_every_line_in_order(batch, capsys):
    path, (dk, k_att, d, good_intel, pk, sig) = batch
    assert main(["validate", "--backend", "golden", str(path)]) == 1
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


def test_stdin_and_missing_file(batch, capsys, monkeypatch):
    import io
    path, _ = batch
    monkeypatch.setattr("sys.stdin", io.StringIO(path.read_text().splitlines()[0] + "\n"))
    assert main(["validate", "-"]) == 0
    assert json.loads(capsys.readouterr().out)["vote"] is True
    assert main(["validate", str(path) + ".missing"]) == 2
    assert "cannot read" in capsys.readouterr().err
