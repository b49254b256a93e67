"""``pqvote keygen / mint / decide / verify-cert / proofs get`` end to end, and bad input."""

import hashlib
import json
import os
import shutil
import stat

import pytest

D = bytes(range(24)).hex()          # conftest.CLI_DESCRIPTOR: what `cluster` minted for


@pytest.fixture
def work(cluster, tmp_path):
    """A private copy of the cluster (so each test has its own database)."""
    keys, proofs = cluster
    mine = tmp_path / "keys"
    shutil.copytree(keys, mine)
    return mine, proofs, tmp_path


def _digest(path):
    return hashlib.sha256(path.read_bytes()).hexdigest() if path.exists() else None


def test_keygen_layout_and_modes(cluster, cli, tmp_path):
    keys, _ = cluster
    conf = json.loads((keys / "cluster.json").read_text())
    assert [v["vendor"] for v in conf["validators"]] == ["intel", "amd", "arm", "riscv"]
    assert conf["rule"] == "ge_3_4"
    assert stat.S_IMODE(keys.stat().st_mode) == 0o700
    assert stat.S_IMODE((keys / "minter").stat().st_mode) == 0o700
    secret = [f"{v}.key" for v in ("intel", "amd", "arm")] + \
        [f"{v}.katt" for v in ("intel", "amd", "arm", "riscv")] + \
        ["collector.sk", "minter/riscv.sk", "minter/intel.ek"]
    for name in secret:
        assert stat.S_IMODE((keys / name).stat().st_mode) == 0o600, name
    sizes = {"intel.key": 1632, "amd.key": 1518, "arm.key": 6492, "riscv.key": 32,
             "minter/arm.ek": 261120, "collector.pk": 1312}
    for name, size in sizes.items():
        assert (keys / name).stat().st_size == size
    # refuses to overwrite, refuses an unsafe rule
    before = {p: _digest(p) for p in keys.rglob("*") if p.is_file()}
    code, _, err = cli("keygen", "--out", keys)
    assert code == 2 and "refusing to overwrite" in err and err.count("\n") == 1
    assert before == {p: _digest(p) for p in keys.rglob("*") if p.is_file()}
    code, _, err = cli("keygen", "--out", tmp_path / "k2", "--rule", "2")
    assert code == 2 and "below the safe bound" in err
    code, _, err = cli("keygen", "--out", tmp_path / "k3", "--rule", "majority")
    assert code == 2 and "Quorum rule" in err
    code, _, err = cli("keygen", "--out", tmp_path / "k4", "--rule", "unanimous")
    assert code == 2 and "could block" in err and err.count("\n") == 1
    assert not any((tmp_path / k).exists() for k in ("k2", "k3", "k4"))


@pytest.mark.parametrize("backend", ["software", "golden"])
def test_decide_accept_verify_and_proof_store(work, cli, backend):
    keys, proofs, tmp = work
    code, out, err = cli("decide", "--keys", keys, "--proofs", proofs,
                         "--backend", backend)
    assert code == 0, err
    report = json.loads(out)
    assert report["outcome"] == "accepted" and report["nonce"] == 1
    assert report["tally"]["quorum"] == 3 and len(report["certificate"]["votes"]) == 3
    assert all(r["status"] == "ok" and r["vote"] for r in report["responses"].values())
    (tmp / "report.json").write_text(out)
    code, out, _ = cli("verify-cert", "--keys", keys, tmp / "report.json")
    assert code == 0 and out.startswith("valid")
    # the certificate alone also verifies; a tampered one does not
    cert = report["certificate"]
    (tmp / "cert.json").write_text(json.dumps(cert))
    assert cli("verify-cert", "--keys", keys, tmp / "cert.json")[0] == 0
    for mutate in (lambda c: c["votes"].pop(),
                   lambda c: c.update(nonce=c["nonce"] + 1),
                   lambda c: c["votes"][0].update(vote=False),
                   lambda c: c.update(signature="00" * 2420),
                   lambda c: c.update(outcome="rejected")):
        bad = json.loads(json.dumps(cert))
        mutate(bad)
        (tmp / "bad.json").write_text(json.dumps(bad))
        code, out, _ = cli("verify-cert", "--keys", keys, tmp / "bad.json")
        assert code == 1 and out.startswith("invalid")
    # the proof store returns the proofs of the accepted descriptor
    code, out, _ = cli("proofs", "get", D, "--keys", keys)
    assert code == 0
    assert json.loads(out)["proofs"] == json.loads(proofs.read_text())["proofs"]
    # the next request gets the next nonce
    code, out, _ = cli("decide", "--keys", keys, "--proofs", proofs, "--backend", backend)
    assert code == 0 and json.loads(out)["nonce"] == 2


@pytest.mark.parametrize("faults,outcome", [
    (["intel:byzantine"], "accepted"),
    (["amd:corrupt"], "accepted"),
    (["arm:silent"], "accepted"),
    (["riscv:late"], "accepted"),
    (["intel:replay"], "accepted"),
    (["arm:equivocate"], "accepted"),
    (["intel:silent", "amd:late"], "no_quorum"),
    (["intel:byzantine", "riscv:byzantine"], "rejected"),
])
def test_decide_with_faults(work, cli, faults, outcome):
    keys, proofs, tmp = work
    argv = ["decide", "--keys", keys, "--proofs", proofs, "--backend", "software"]
    for f in faults:
        argv += ["--fault", f]
    code, out, err = cli(*argv)
    report = json.loads(out)
    assert report["outcome"] == outcome, err
    assert code == (0 if outcome == "accepted" else 1)
    if "arm:equivocate" in faults:
        assert [e["validator"] for e in report["evidence"]] == ["arm"]
        assert report["counters"]["arm"]["equivocations"] == 1
    if outcome != "accepted":
        code, _, err = cli("proofs", "get", D, "--keys", keys)
        assert code == 1 and "no accepted proofs" in err


def test_decide_invalid_proof_rejected(work, cli):
    keys, proofs, tmp = work
    obj = json.loads(proofs.read_text())
    for vendor in obj["proofs"]:
        p = bytearray.fromhex(obj["proofs"][vendor])
        p[3] ^= 1
        obj["proofs"][vendor] = p.hex()
    (tmp / "bad.json").write_text(json.dumps(obj))
    code, out, _ = cli("decide", "--keys", keys, "--proofs", tmp / "bad.json",
                       "--backend", "software")
    report = json.loads(out)
    assert code == 1 and report["outcome"] == "rejected"
    (tmp / "r.json").write_text(out)
    assert cli("verify-cert", "--keys", keys, tmp / "r.json")[0] == 0


def _bad_input_cases(keys, proofs, tmp):
    obj = json.loads(proofs.read_text())
    files = {
        "badhex.json": dict(obj, descriptor="zz" * 24),
        "short.json": dict(obj, descriptor="00" * 23),
        "vendor.json": dict(obj, proofs=dict(obj["proofs"], sparc="00")),
        "missing.json": dict(obj, proofs={"intel": obj["proofs"]["intel"]}),
        "proofhex.json": dict(obj, proofs=dict(obj["proofs"], intel="0g")),
    }
    for name, o in files.items():
        (tmp / name).write_text(json.dumps(o))
    (tmp / "notjson.json").write_text("{")
    base = ["decide", "--keys", keys, "--backend", "software"]
    cases = [base + ["--proofs", tmp / n] for n in list(files) + ["notjson.json", "nope.json"]]
    cases += [base + ["--proofs", proofs, "--fault", "sparc:silent"],
              base + ["--proofs", proofs, "--fault", "intel:nap"],
              base + ["--proofs", proofs, "--fault", "intel"],
              base + ["--proofs", proofs, "--nonce", "1"],          # already decided
              base + ["--proofs", proofs, "--nonce", str(1 << 64)],
              ["decide", "--keys", keys, "--proofs", proofs, "--backend", "fpga"],
              ["mint", "--keys", keys, "--descriptor", "xyz"],
              ["mint", "--keys", keys, "--descriptor", "00" * 25],
              ["mint", "--keys", keys, "--descriptor", D, "--out", proofs],
              ["proofs", "get", "nothex", "--keys", keys],
              ["proofs", "get", D, "--db", tmp / "none.db"],
              ["verify-cert", "--keys", keys, tmp / "nope.json"],
              ["verify-cert", "--keys", keys, tmp / "notjson.json"],
              ["mint", "--keys", tmp / "nodir", "--descriptor", D],
              ["mint", "--keys", keys, "--descriptor", D, "--out", tmp / "no" / "such.json"],
              ["mint", "--keys", keys, "--descriptor", " " + D[1:]],
              ["proofs", "get", D[:20] + " " + D[21:], "--keys", keys]]
    cases += [base + ["--proofs", proofs, "--deadline", t] for t in ("nan", "inf", "-1", "0")]
    cases += [base + ["--proofs", proofs, "--nonce", "-1"]]
    # strictly read JSON: each file is a bad proofs file and a bad certificate
    text = proofs.read_text()
    strict = {
        "utf8.json": text.encode()[:-2] + b"\xff}",
        "dupkey.json": (text.rstrip()[:-1] + ', "descriptor": "' + D + '"}').encode(),
        "unknown.json": json.dumps(dict(obj, note="x")).encode(),
        "spacehex.json": json.dumps(dict(obj, descriptor=D[:10] + " " + D[11:])).encode(),
        "nested.json": b"[" * 200_000 + b"]" * 200_000,
        "bigint.json": b'{"descriptor": ' + b"9" * 5000 + b"}",
        "nan.json": b'{"descriptor": NaN}',
    }
    for name, data in strict.items():
        (tmp / name).write_bytes(data)
        cases += [base + ["--proofs", tmp / name]]
        if name not in ("unknown.json", "spacehex.json"):    # JSON, just not a certificate
            cases += [["verify-cert", "--keys", keys, tmp / name]]
    return cases


def test_bad_input_one_line_error_nothing_touched(work, cli):
    keys, proofs, tmp = work
    assert cli("decide", "--keys", keys, "--proofs", proofs,
               "--backend", "software")[0] == 0
    db = keys / "pqvote.db"
    before = _digest(db)
    for argv in _bad_input_cases(keys, proofs, tmp):
        code, out, err = cli(*argv)
        assert code == 2, (argv, code, out, err)
        assert err.startswith("pqvote: ") and err.count("\n") == 1, (argv, err)
        assert _digest(db) == before, argv
    # broken key files
    for name, damage in (("intel.katt", "delete"), ("amd.key", "truncate"),
                         ("collector.sk", "truncate"), ("cluster.json", "garbage")):
        path = keys / name
        saved = path.read_bytes()
        if damage == "delete":
            path.unlink()
        elif damage == "truncate":
            path.write_bytes(saved[:-1])
        else:
            path.write_text("{not json")
        code, _, err = cli("decide", "--keys", keys, "--proofs", proofs)
        assert code == 2 and err.count("\n") == 1, (name, err)
        assert _digest(db) == before
        path.write_bytes(saved)
        os.chmod(path, 0o600)
    # cluster.json: unknown fields, an unsafe power distribution
    path = keys / "cluster.json"
    saved = path.read_bytes()
    conf = json.loads(saved)
    heavy = json.loads(saved)
    heavy["validators"][0]["power"] = 10
    for name, bad in (("unknown", dict(conf, extra=1)),
                      ("entry", dict(conf, validators=[dict(conf["validators"][0], x=1)]
                                     + conf["validators"][1:])),
                      ("could block", heavy)):
        path.write_text(json.dumps(bad))
        code, _, err = cli("decide", "--keys", keys, "--proofs", proofs)
        assert code == 2 and err.count("\n") == 1 and \
            (name in err or "unknown field" in err), (name, err)
        assert _digest(db) == before
        path.write_bytes(saved)
        os.chmod(path, 0o600)


@pytest.mark.parametrize("nonce", [1 << 63, (1 << 64) - 1, 0])
def test_decide_full_uint64_nonce_range(work, cli, nonce):
    """Nonces ≥ 2^63 are stored (SQLite integers are signed) and read back; nonce 0 with a
    replaying core stores the replayed vote's nonce 2^64 − 1."""
    from consensus.store import Store
    keys, proofs, tmp = work
    argv = ["decide", "--keys", keys, "--proofs", proofs, "--backend", "software",
            "--nonce", nonce]
    if nonce == 0:
        argv += ["--fault", "intel:replay"]
    code, out, err = cli(*argv)
    assert code == 0, err
    assert json.loads(out)["nonce"] == nonce
    with Store(keys / "pqvote.db") as s:
        assert s.has_decision(nonce) and s.nonces() == [nonce]
        assert s.certificate(nonce).nonce == nonce
        if nonce == 0:
            assert {v.nonce for v, *_ in s.votes(0)} == {0, (1 << 64) - 1}
    code, _, err = cli(*argv)
    assert code == 2 and "already decided" in err
    if nonce == (1 << 64) - 1:     # no next nonce after the largest one
        code, _, err = cli("decide", "--keys", keys, "--proofs", proofs,
                           "--backend", "software")
        assert code == 2 and "no next nonce" in err and err.count("\n") == 1


def test_internal_errors_exit_3(work, cli, monkeypatch, tmp_path):
    """A backend or program failure is exit 3 with one line, never 1 ("rejected") or a
    traceback, and stores nothing."""
    import consensus.cluster
    import pqvote.cli
    keys, proofs, tmp = work

    def broken(*a, **k):
        raise RuntimeError("simulated\nbackend failure")
    monkeypatch.setattr(consensus.cluster, "run_request", broken)
    code, out, err = cli("decide", "--keys", keys, "--proofs", proofs,
                         "--backend", "software")
    assert code == 3 and out == "" and err.count("\n") == 1
    assert err.startswith("pqvote: internal error: backend failed: RuntimeError: simulated")
    from consensus.store import Store
    with Store(keys / "pqvote.db") as s:
        assert s.nonces() == []
    monkeypatch.setattr(pqvote.cli, "validate", broken)
    req = tmp / "r.jsonl"
    req.write_text(json.dumps({"vendor": "intel", "descriptor": D, "nonce": 1, "proof": ""})
                   + "\n{\n")
    code, out, err = cli("validate", req)
    lines = [json.loads(x) for x in out.splitlines()]
    assert code == 3 and err == "" and len(lines) == 2
    assert lines[0]["error"].startswith("line 1: internal error: RuntimeError: simulated")
    assert lines[1]["error"].startswith("line 2: bad JSON")


def test_corrupt_database(work, cli):
    keys, proofs, tmp = work
    db = tmp / "corrupt.db"
    db.write_bytes(b"this is not a database" * 100)
    before = _digest(db)
    code, _, err = cli("decide", "--keys", keys, "--proofs", proofs,
                       "--backend", "software", "--db", db)
    assert code == 2 and "database" in err and err.count("\n") == 1
    code, _, err = cli("proofs", "get", D, "--db", db)
    assert code == 2 and err.count("\n") == 1
    assert _digest(db) == before


def test_rtl_backend_without_landed_core_is_an_error(work, cli, monkeypatch):
    """A vendor whose core is not in the registry (here: taken out of it) is bad input for
    ``--backend …=rtl``, refused before anything is stored."""
    import hdl.cores
    keys, proofs, tmp = work
    monkeypatch.delitem(hdl.cores.CORES, "amd")
    code, _, err = cli("decide", "--keys", keys, "--proofs", proofs,
                       "--backend", "golden,amd=rtl")
    assert code == 2 and "no landed RTL core for amd" in err
    assert not (keys / "pqvote.db").exists()


def test_decide_rtl_backend_for_landed_cores(work, cli):
    """`--backend software,<landed>=rtl`: the landed cores answer from the RTL cluster model
    (the same build as tests/test_consensus_rtl.py)."""
    from consensus.sources import RtlSource
    landed = sorted(RtlSource.landed())
    assert landed, "the intel and riscv cores are expected in hdl.cores.CORES"
    keys, proofs, tmp = work
    spec = "software," + ",".join(f"{v}=rtl" for v in landed)
    code, out, err = cli("decide", "--keys", keys, "--proofs", proofs,
                         "--backend", spec)
    assert code == 0, err
    report = json.loads(out)
    assert report["outcome"] == "accepted"
    for v in landed:
        assert report["responses"][v]["vote"] and report["responses"][v]["cycles"] > 0
    (tmp / "rtl.json").write_text(out)
    assert cli("verify-cert", "--keys", keys, tmp / "rtl.json")[0] == 0
