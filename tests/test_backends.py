"""``backends.rtl`` through ``pqvote validate --backend rtl``: a batch of requests for a
landed core answered in one simulation, every answer equal to the golden model's, the
latency constant for a KEM core, bad lines answered in place."""

import json
import random

import pytest

import golden.proof as gp
from hdl.cores import CORES
from pqvote.cli import main

VENDOR = "intel"
pytestmark = pytest.mark.skipif(VENDOR not in CORES, reason="the intel core has not landed")


def test_validate_rtl_backend_matches_golden(tmp_path, capsys):
    rng = random.Random(8)
    public, secret = gp.reference(VENDOR).keygen()
    k_att = rng.randbytes(32)
    bad_key = bytearray(secret)
    bad_key[gp.KEY_LEN[VENDOR] - 40] ^= 1              # H(ek) no longer matches ek
    lines, expect = [], []
    for name in ("valid", "tampered", "padding", "bad_key", "no_key", "short", "valid2"):
        d = rng.randbytes(24)
        proof = bytearray(gp.mint(VENDOR, public, d))
        key = secret
        if name == "tampered":
            proof[rng.randrange(gp.BODY_LEN[VENDOR])] ^= 1
        elif name == "padding":
            proof[-1] = 1
        elif name == "short":
            proof = proof[:-8]
        key = {"bad_key": bytes(bad_key), "no_key": None}.get(name, key)
        req = gp.request_json(VENDOR, key, k_att if key else None, d, rng.getrandbits(64),
                              bytes(proof))
        lines.append(json.dumps(req))
        g = gp.validate(VENDOR, key, k_att if key else None, d, req["nonce"], bytes(proof))
        expect.append((name, gp.response_json(VENDOR, g)))
    lines.insert(3, "{not json")
    path = tmp_path / "requests.jsonl"
    path.write_text("\n".join(lines) + "\n")
    code = main(["validate", "--backend", "rtl", str(path)])
    out = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert code == 2 and len(out) == len(lines)      # 2: a bad line (bad input)
    assert out[3]["status"] == "error" and "line 4" in out[3]["error"]
    answers = out[:3] + out[4:]
    for (name, want), got in zip(expect, answers):
        for field in ("vote", "attestation", "proof_digest", "status"):
            assert got[field] == want[field], (name, field)
        assert isinstance(got["cycles"], int) and got["cycles"] > 0, name
    assert [a["vote"] for a in answers] == [n.startswith("valid") for n, _ in expect]
    # constant time: one latency for every full-length proof, whatever the key
    full = {a["cycles"] for (n, _), a in zip(expect, answers) if n != "short"}
    assert len(full) == 1, full
