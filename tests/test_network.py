"""The networked cluster against real node processes on 127.0.0.1.

Four ``pqvote node`` processes (software backend) serve the validators over mutual TLS;
further ``intel`` nodes run the fault drills (``--misbehave``). A node is killed (down),
stopped with SIGSTOP (slow) and resumed. Each fault kind is counted with its outcome, and
the fault table of ``network.client`` is checked row by row: what the link showed, what
the collector refused and why, what was decided.
"""

import json
import signal
import socket
import ssl
import subprocess
import sys
import threading
import time

import pytest

from consensus.cluster import Core, run_request
from consensus.collector import Collector, ml_dsa_44_signer
from consensus.store import AlreadyDecided, Store
from consensus.votes import check_certificate, check_evidence
from golden.proof import attestation
from network.arbiter import reconcile
from network.client import NetworkSource
from network.protocol import MAX_BODY
from network.tls import TlsFiles
from pqvote.cli import main
from pqvote.commands import load_cluster, mint_proofs

D = bytes(range(100, 124))
DEADLINE = 2.5          # seconds per node: the stopped-node case waits for it


class NodeProc:
    """A ``pqvote node`` process listening on a free port of 127.0.0.1."""

    def __init__(self, keys, name, log, *extra):
        self.name, self.log = name, log
        self.out = open(log, "w")
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "pqvote.cli", "node", "--keys", str(keys), "--name", name,
             "--listen", "127.0.0.1:0", *extra],
            stdout=self.out, stderr=subprocess.STDOUT)
        self.port = None

    def ready(self, timeout=60):
        end = time.monotonic() + timeout
        while time.monotonic() < end:
            for line in self._read().splitlines():
                if '"listening"' in line:
                    self.port = json.loads(line)["port"]
                    return self
            if self.proc.poll() is not None:
                raise RuntimeError(f"node {self.name} exited: {self._read()}")
            time.sleep(0.05)
        raise TimeoutError(f"node {self.name} did not start")

    @property
    def address(self):
        return f"127.0.0.1:{self.port}"

    def _read(self):
        with open(self.log) as f:
            return f.read()

    def lines(self):
        return [json.loads(x) for x in self._read().splitlines() if x.strip()]

    def stop(self):
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGCONT)
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.out.close()


@pytest.fixture(scope="module")
def net(tmp_path_factory):
    root = tmp_path_factory.mktemp("net")
    keys = root / "keys"
    assert main(["keygen", "--out", str(keys)]) == 0
    cluster = load_cluster(keys)
    proofs = mint_proofs(load_cluster(keys, need_secrets=False, need_minter=True), D)
    nodes = {v: NodeProc(keys, v, root / f"{v}.log") for v in ("intel", "amd", "arm", "riscv")}
    drills = {k: NodeProc(keys, "intel", root / f"intel-{k}.log", "--misbehave", k)
              for k in ("garbage", "drop", "equivocate", "corrupt", "byzantine", "split")}
    # one slot, and the golden model (tens of ms a request): concurrent requests overlap
    drills["busy"] = NodeProc(keys, "intel", root / "intel-busy.log", "--max-inflight", "1",
                              "--backend", "golden")
    drills["victim"] = NodeProc(keys, "intel", root / "intel-victim.log")   # to be killed
    # the golden model cannot answer within the node's own 10 ms timeout: 503 timeout
    drills["timeout"] = NodeProc(keys, "intel", root / "intel-timeout.log", "--timeout",
                                 "0.01", "--backend", "golden")
    try:
        for n in list(nodes.values()) + list(drills.values()):
            n.ready()
        yield {"root": root, "keys": keys, "cluster": cluster, "proofs": proofs,
               "nodes": nodes, "drills": drills}
    finally:
        for n in list(nodes.values()) + list(drills.values()):
            n.stop()


def _addresses(net, **override):
    out = {name: n.address for name, n in net["nodes"].items()}
    out.update(override)
    return out


def _decide(net, nonce, addresses=None, *, collector=None, deadline=DEADLINE, per_node=4):
    cluster = net["cluster"]
    vs = cluster.validators
    with NetworkSource(addresses or _addresses(net), TlsFiles.of(net["keys"], "collector"),
                       per_node=per_node) as source:
        col = collector or Collector(vs, attest=attestation)
        out = run_request(vs, {v.name: Core(None, source) for v in vs.validators},
                          nonce=nonce, descriptor=D, proofs=net["proofs"], deadline=deadline,
                          collector=col)
    return out


def _reasons(out, name):
    return [reason for v, counted, reason, _ in out.received
            if getattr(v, "validator", None) == name or
            (not hasattr(v, "validator") and name == "?")]


# -- the honest cluster --------------------------------------------------------------------

def test_honest_cluster_accepts_with_signed_certificate(net):
    cluster = net["cluster"]
    col = Collector(cluster.validators, attest=attestation,
                    sign=ml_dsa_44_signer(cluster.collector_sk))
    out = _decide(net, 1, collector=col)
    d = out.decision
    assert d.outcome == "accepted" and d.yes >= 3
    assert check_certificate(d.certificate, cluster.validators) is None
    for name, r in out.responses.items():
        assert r["fault"] is None and r["link"] is None and r["vote"] is True, name
        assert r["status"] == "ok"
        assert 0 < r["arrival"] < DEADLINE
    # each node wrote one JSON log line for the request, naming the collector as its peer
    for name, node in net["nodes"].items():
        [line] = [x for x in node.lines() if x.get("nonce") == 1]
        assert line["status"] == 200 and line["peer"] == "collector" and line["vote"] is True
        assert line["path"] == "/v1/validate" and line["ms"] > 0


def test_decide_network_cli_stores_and_verifies(net, tmp_path, capsys):
    keys = net["keys"]
    proofs = tmp_path / "proofs.json"
    assert main(["mint", "--keys", str(keys), "--descriptor", D.hex(), "--out",
                 str(proofs)]) == 0
    db = tmp_path / "cli.db"
    argv = ["decide", "--network", "--keys", str(keys), "--proofs", str(proofs),
            "--db", str(db), "--deadline", str(DEADLINE)]
    argv += [f"--node={name}={n.address}" for name, n in net["nodes"].items()]
    capsys.readouterr()
    assert main(argv) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["outcome"] == "accepted" and report["certificate"]["signature"]
    cert = tmp_path / "cert.json"
    cert.write_text(json.dumps(report))
    assert main(["verify-cert", "--keys", str(keys), str(cert)]) == 0
    with Store(db) as store:
        assert store.decision(report["nonce"])["outcome"] == "accepted"
        assert len(store.votes(report["nonce"])) == 4
    # a node without an address, and --fault / --backend, are refused on one line
    code = main(argv[:-4] + argv[-3:])
    err = capsys.readouterr().err
    assert code == 2 and "no network address for" in err and err.count("\n") == 1
    assert main(argv + ["--fault", "intel:silent"]) == 2
    assert "--fault does not apply" in capsys.readouterr().err


# -- faults, each against real processes ----------------------------------------------------

def test_fault_matrix(net):
    """Each fault kind once (nonces 10…): the link's fault label, the collector's refusal
    reason, the decision; the other three nodes are honest."""
    drills, nodes = net["drills"], net["nodes"]
    table = {}

    def case(kind, nonce, addresses, **kw):
        out = _decide(net, nonce, addresses, **kw)
        r = out.responses["intel"]
        # Arrival order against the other three nodes is not fixed: "withdrawn" (an
        # equivocation before the decision withdraws the counted vote; after it, the counted
        # vote stands) and "closed" (a valid vote after the quorum) depend on it.
        reasons = sorted({reason for v, counted, reason, _ in out.received
                          if not counted and getattr(v, "validator", "intel") == "intel"}
                         - {"withdrawn", "closed"})
        table[kind] = (r["fault"], r["link"], reasons, out.decision.outcome,
                       [e.validator for e in out.evidence])
        return out

    for n, kind in enumerate(("garbage", "drop", "equivocate", "corrupt", "byzantine")):
        case(kind, 10 + n, _addresses(net, intel=drills[kind].address))
    out = case("equivocate", 12, _addresses(net, intel=drills["equivocate"].address))
    [ev] = out.evidence
    assert check_evidence(ev, net["cluster"].validators) is None
    assert {ev.first.vote, ev.second.vote} == {True, False}
    withdrawn = any(r == "withdrawn" for _, _, r, _ in out.received)
    assert out.decision.excluded == (("intel",) if withdrawn else ())

    # a node stopped (SIGSTOP): no answer by the deadline; resumed, it answers again
    intel = nodes["intel"]
    intel.proc.send_signal(signal.SIGSTOP)
    try:
        t0 = time.monotonic()
        out = case("stopped", 20, _addresses(net))
        waited = time.monotonic() - t0
    finally:
        intel.proc.send_signal(signal.SIGCONT)
    assert DEADLINE * 0.9 < waited < DEADLINE + 5
    assert out.decision.latency < DEADLINE      # decided by the other three, not the clock
    assert _decide(net, 21).responses["intel"]["fault"] is None

    # a node process killed (SIGKILL): it answered before, now nothing listens there
    victim = drills["victim"]
    assert _decide(net, 22, _addresses(net, intel=victim.address)).responses["intel"][
        "fault"] is None
    victim.proc.kill()
    victim.proc.wait()
    case("down", 24, _addresses(net, intel=victim.address))

    # a node whose validation outlasts its own per-request timeout answers 503 timeout
    case("timeout", 23, _addresses(net, intel=drills["timeout"].address))
    [line] = [x for x in drills["timeout"].lines() if x.get("nonce") == 23]
    assert line["status"] == 503 and line["error"] == "timeout"

    # busy: a node with one validation slot, asked for 6 requests at once by a collector
    # that does not bound itself (per_node=6): the rest are answered 503 at once
    busy = drills["busy"]
    cluster = net["cluster"]
    with NetworkSource({"intel": busy.address}, TlsFiles.of(net["keys"], "collector"),
                       per_node=6) as source:
        v = cluster.validators["intel"]
        got = source.gather([(v, 30 + i, D, net["proofs"]["intel"], DEADLINE)
                             for i in range(6)])
    links = sorted(str(g.link) for g in got)
    assert links.count("busy") >= 1 and links.count("None") >= 1, links
    assert all(g.fault == "silent" for g in got if g.link == "busy")
    busy_lines = [x for x in busy.lines() if x.get("error") == "busy"]
    assert len(busy_lines) == links.count("busy") and all(x["status"] == 503
                                                         for x in busy_lines)

    assert table == {
        "garbage": ("corrupt", None, ["malformed"], "accepted", []),
        "drop": ("silent", "dropped", [], "accepted", []),
        "equivocate": ("equivocate", None, ["equivocation"], "accepted", ["intel"]),
        "corrupt": (None, None, ["invalid_attestation"], "accepted", []),
        "byzantine": (None, None, [], "accepted", []),
        "stopped": ("late", "timeout", [], "accepted", []),
        "down": ("silent", "down", [], "accepted", []),
        "timeout": ("late", "timeout", [], "accepted", []),
    }
    print(json.dumps(table, indent=1))


def test_two_nodes_down_is_no_quorum(net):
    """Two of four silent: the remaining two cannot reach q = 3; the deadline decides
    no_quorum (fail closed) and the collector counts both as missed."""
    with socket.socket() as a, socket.socket() as b:
        a.bind(("127.0.0.1", 0))
        b.bind(("127.0.0.1", 0))
        down = {"intel": f"127.0.0.1:{a.getsockname()[1]}",
                "amd": f"127.0.0.1:{b.getsockname()[1]}"}
    col = Collector(net["cluster"].validators, attest=attestation)
    out = _decide(net, 40, _addresses(net, **down), collector=col, deadline=0.8)
    assert out.decision.outcome == "no_quorum" and out.decision.certificate is None
    assert col.counters["intel"]["missed"] == 1 and col.counters["amd"]["missed"] == 1


# -- two collectors, one truth --------------------------------------------------------------

def test_two_collectors_store_arbitrates_and_equivocation_becomes_evidence(net, tmp_path):
    """A node that gives two collectors different votes (``--misbehave split``): both
    collectors decide, the store keeps the first commit and refuses the second; the loser
    reconciles and the node ends up as evidence with its two signed votes."""
    cluster = net["cluster"]
    vs = cluster.validators
    addresses = _addresses(net, intel=net["drills"]["split"].address)
    db = tmp_path / "shared.db"
    Store(db).close()
    results, barrier = {}, threading.Barrier(2)

    def collector(tag):
        col = Collector(vs, attest=attestation, sign=ml_dsa_44_signer(cluster.collector_sk))
        out = _decide(net, 50, addresses, collector=col)
        d = out.decision
        with Store(db) as store:
            barrier.wait()
            try:
                store.record(nonce=50, descriptor=D, opened_at=d.opened_at, deadline=DEADLINE,
                             decision=d, votes=out.received, evidence=out.evidence)
                results[tag] = ("stored", out)
            except AlreadyDecided:
                results[tag] = ("lost", out, reconcile(col, store, 50))

    threads = [threading.Thread(target=collector, args=(t,)) for t in "ab"]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    kinds = sorted(r[0] for r in results.values())
    assert kinds == ["lost", "stored"]
    [lost] = [r for r in results.values() if r[0] == "lost"]
    [ev] = lost[2]
    assert ev.validator == "intel" and {ev.first.vote, ev.second.vote} == {True, False}
    assert check_evidence(ev, vs) is None
    with Store(db) as store:
        assert store.nonces() == [50]
        [stored_ev] = store.evidence(50)
        assert stored_ev == ev
        stored = store.certificate(50)
    assert check_certificate(stored, vs) is None


# -- the node's limits and transport security --------------------------------------------

def _raw_context(net, name):
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.load_verify_locations(str(net["keys"] / "tls" / "ca.pem"))
    if name:
        ctx.load_cert_chain(str(net["keys"] / "tls" / f"{name}.pem"),
                            str(net["keys"] / "tls" / f"{name}.key"))
    return ctx


def _http(net, port, request: bytes, cert="collector", server_name="amd"):
    with socket.create_connection(("127.0.0.1", port), timeout=5) as raw:
        with _raw_context(net, cert).wrap_socket(raw, server_hostname=server_name) as s:
            s.sendall(request)
            data = b""
            while True:
                chunk = s.recv(65536)
                if not chunk:
                    break
                data += chunk
    if not data:        # TLS 1.3: a refused client certificate ends the connection
        raise ConnectionResetError("the node closed the connection without an answer")
    head, _, body = data.partition(b"\r\n\r\n")
    return int(head.split()[1]), body


def _post(body: bytes):
    return (b"POST /v1/validate HTTP/1.1\r\nHost: amd\r\nConnection: close\r\n"
            b"Content-Type: application/json\r\nContent-Length: "
            + str(len(body)).encode() + b"\r\n\r\n" + body)


def test_node_limits_health_and_logs(net):
    amd = net["nodes"]["amd"]
    status, body = _http(net, amd.port, b"GET /health HTTP/1.1\r\nHost: amd\r\n"
                         b"Connection: close\r\n\r\n")
    health = json.loads(body)
    assert status == 200 and health["validator"] == "amd" and health["key"] == "ok"
    assert health["tls"]["hybrid_pq"] == (ssl.OPENSSL_VERSION_INFO[:2] >= (3, 5))
    status, body = _http(net, amd.port, _post(b"x" * (MAX_BODY + 1)))
    assert status == 413
    status, body = _http(net, amd.port, _post(b'{"nonce": 1, "nonce": 2}'))
    assert status == 400 and "duplicate key 'nonce'" in json.loads(body)["error"]
    status, body = _http(net, amd.port, _post(json.dumps(
        {"nonce": 1, "descriptor": "00" * 23, "proof": ""}).encode()))
    assert status == 400 and "descriptor: expected 24 bytes" in json.loads(body)["error"]
    lines = amd.lines()
    assert lines[0]["event"] == "listening"
    assert {x["status"] for x in lines if x.get("path") == "/v1/validate"} >= {400, 413}


def test_mutual_tls_refuses_strangers(net):
    amd = net["nodes"]["amd"]
    # no client certificate, or a node's certificate (not a collector's): no handshake
    for cert in (None, "intel"):
        with pytest.raises((ssl.SSLError, ConnectionResetError, BrokenPipeError)):
            _http(net, amd.port, b"GET /health HTTP/1.1\r\nHost: amd\r\n\r\n", cert=cert)
    # the collector expects the validator it names at that address: amd's node is not intel
    got = _decide(net, 60, _addresses(net, intel=amd.address))
    assert got.responses["intel"]["fault"] == "silent"
    assert got.responses["intel"]["link"].startswith("tls")
    assert got.decision.outcome == "accepted"


def test_load_tool_smoke(tmp_path):
    """``make load`` in miniature (its own four nodes, six requests, one tampered): every
    request stored and certified by a signed Merkle root, the figures reported; negative
    control: a stored root with one signature byte flipped fails the tool's check."""
    import sqlite3
    from tools import load
    args = load.build_parser().parse_args([
        "--requests", "6", "--descriptors", "1", "--tamper-every", "3", "--workers", "2",
        "--batch", "2", "--processes", "", "--seal-size", "4", "--workdir", str(tmp_path)])
    args.loadavg = None
    r = load.run(args)
    assert (r["stored"], r["lost"], r["error_count"]) == (6, 0, 0), r
    assert r["outcomes"] == {"accepted": 4, "rejected": 2}
    assert r["certificates_unsigned"] == 0 and r["certificates_invalid"] == 0
    assert 2 <= r["signatures"] <= 6
    assert r["decisions_per_s"] > 0 and r["latency_ms"]["p99"] >= r["latency_ms"]["p50"] > 0
    assert all(a == {"answered": 6, "missed": 0} for a in r["node_answers"].values())
    cluster = load_cluster(tmp_path / "keys", need_core_keys=False)
    db = tmp_path / "load.db"
    with sqlite3.connect(db) as con:
        [(bid, body)] = con.execute("SELECT id, body FROM batches LIMIT 1").fetchall()
        root = json.loads(body)
        root["signature"] = f"{int(root['signature'][:2], 16) ^ 1:02x}" + root["signature"][2:]
        con.execute("UPDATE batches SET body = ? WHERE id = ?", (json.dumps(root), bid))
        [(size,)] = con.execute("SELECT count(*) FROM batch_members WHERE batch = ?", (bid,))
    _, _, unsigned, invalid = load.verify_store(db, cluster.validators, cluster.collector_pk)
    assert (unsigned, invalid) == (0, size)


def test_tls_files_and_a_stranger_cluster(net, tmp_path):
    """keygen's TLS files (keys 0600, roles in the certificates); a collector of another
    cluster (another CA) is refused by every node, and refuses them."""
    import stat
    from cryptography import x509
    from cryptography.x509.oid import ExtendedKeyUsageOID
    tls = net["keys"] / "tls"
    for name in ("ca", "intel", "amd", "arm", "riscv", "collector"):
        assert stat.S_IMODE((tls / f"{name}.key").stat().st_mode) == 0o600, name
    intel = x509.load_pem_x509_certificate((tls / "intel.pem").read_bytes())
    assert list(intel.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value) == \
        [ExtendedKeyUsageOID.SERVER_AUTH]
    assert intel.extensions.get_extension_for_class(
        x509.SubjectAlternativeName).value.get_values_for_type(x509.DNSName) == ["intel"]
    collector = x509.load_pem_x509_certificate((tls / "collector.pem").read_bytes())
    assert list(collector.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value) \
        == [ExtendedKeyUsageOID.CLIENT_AUTH]

    other = tmp_path / "other"
    assert main(["keygen", "--out", str(other)]) == 0
    with NetworkSource(_addresses(net), TlsFiles.of(other, "collector")) as source:
        v = net["cluster"].validators["amd"]
        [got] = source.gather([(v, 70, D, net["proofs"]["amd"], DEADLINE)])
    assert got.fault == "silent" and got.link.startswith("tls"), got
    assert not any(x.get("nonce") == 70 for x in net["nodes"]["amd"].lines())


def test_decide_network_cli_loses_to_a_stored_decision(net, tmp_path, capsys, monkeypatch):
    """The CLI's side of the arbitration: another collector stored nonce 80 first (here
    between this command's own check and its commit); the command exits 2 on one line
    naming the equivocating node, whose two votes are then stored as evidence."""
    keys, vs = net["keys"], net["cluster"].validators
    split = net["drills"]["split"].address
    db = tmp_path / "race.db"
    first = _decide(net, 80, _addresses(net, intel=split))
    with Store(db) as store:
        d = first.decision
        store.record(nonce=80, descriptor=D, opened_at=d.opened_at, deadline=DEADLINE,
                     decision=d, votes=first.received, evidence=first.evidence)
    proofs = tmp_path / "proofs.json"       # the same request: the same proofs
    proofs.write_text(json.dumps({"format": "pqvote-proofs/1", "descriptor": D.hex(),
                                  "proofs": {v: p.hex() for v, p in net["proofs"].items()}}))
    monkeypatch.setattr(Store, "has_decision", lambda self, nonce: False)
    capsys.readouterr()
    argv = ["decide", "--network", "--keys", str(keys), "--proofs", str(proofs), "--db",
            str(db), "--nonce", "80", "--deadline", str(DEADLINE)]
    argv += [f"--node={name}={a}" for name, a in _addresses(net, intel=split).items()]
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert "request 80 already" in err and "equivocation recorded: intel" in err
    assert err.count("\n") == 1
    with Store(db) as store:
        [ev] = store.evidence(80)
        assert ev.validator == "intel" and check_evidence(ev, vs) is None
        assert store.decision(80)["outcome"] == first.decision.outcome


def test_node_batches_requests_for_a_batch_source(net):
    """A node whose source answers a batch at once (the RTL source: one simulation per
    batch) gives requests that arrive while one batch runs to the next one; every answer
    is its own request's attested vote."""
    import asyncio
    import io

    import aiohttp
    from aiohttp.test_utils import TestServer

    from consensus.sources import SoftwareSource
    from consensus.votes import Vote, attestation_valid
    from network.node import Node
    from network.protocol import VALIDATE, request_body

    class BatchSource:
        """Answers a batch at once, slowly (a stand-in for a simulation start)."""
        def __init__(self):
            self._software = SoftwareSource()

        def validate(self, *call):
            return self._software.validate(*call)

        def validate_batch(self, calls):
            time.sleep(0.2)
            return [self._software.validate(*c) for c in calls]

    cluster = net["cluster"]
    amd = cluster.validators["amd"]
    node = Node(name="amd", vendor="amd", key=cluster.core_keys["amd"], k_att=amd.k_att,
                source=BatchSource(), max_inflight=8, log=io.StringIO())

    async def ask_six():
        server = TestServer(node.app())
        await server.start_server()
        try:
            async with aiohttp.ClientSession() as session:
                async def one(n):
                    async with session.post(server.make_url(VALIDATE),
                                            data=request_body(n, D, net["proofs"]["amd"])) as r:
                        return r.status, await r.read()
                return await asyncio.gather(*(one(90 + n) for n in range(6)))
        finally:
            await server.close()

    answers = asyncio.run(ask_six())
    node.close()
    assert sum(node.batch_sizes) == 6 and max(node.batch_sizes) > 1, node.batch_sizes
    for n, (status, body) in enumerate(answers):
        vote = Vote.from_json(json.loads(body)["vote"])
        assert status == 200 and vote.nonce == 90 + n and vote.vote is True
        assert attestation_valid(attestation, amd, vote)


# -- validator-set epochs over the network ---------------------------------------------------

def test_decide_network_follows_the_validator_set_epochs(net, tmp_path, cli):
    """``decide --network`` asks the validators of the store's current epoch: riscv is
    retired by a 3-of-4 decision of the nodes (riscv down) and replaced by a riscv-b node
    with a fresh K_att and TLS certificate; the next decision asks riscv-b, never the
    retired node, and its certificate names epoch 1 and verifies, as the change's epoch-0
    certificate still does. The retired node cannot stand in for riscv-b (its certificate
    names riscv), an address for it is refused, and so is a request of the closed epoch."""
    import shutil
    keys, nodes = net["keys"], net["nodes"]
    db = tmp_path / "epochs.db"

    def decide(proofs, *extra, **addresses):
        argv = ["decide", "--network", "--keys", keys, "--proofs", proofs, "--db", db,
                "--deadline", DEADLINE, *extra]
        return cli(*argv, *(f"--node={n}={a}" for n, a in addresses.items()))

    def mint(descriptor, out):
        assert cli("mint", "--keys", keys, "--descriptor", descriptor, "--out", out)[0] == 0
        return out

    with socket.socket() as closed:
        closed.bind(("127.0.0.1", 0))
        down = f"127.0.0.1:{closed.getsockname()[1]}"
    genesis = {n: p.address for n, p in nodes.items()}

    # epoch 0: the change is proposed and decided by intel, amd and arm (riscv down)
    code, out, err = cli("epoch", "propose", "--keys", keys, "--db", db, "--retire", "riscv",
                         "--add", "riscv-b:riscv", "--out", tmp_path / "change.json")
    assert code == 0, err
    assert (keys / "tls" / "riscv-b.pem").is_file() and (keys / "riscv-b.katt").is_file()
    proofs = mint(json.loads(out)["descriptor"], tmp_path / "change-proofs.json")
    code, out, err = decide(proofs, **dict(genesis, riscv=down))
    assert code == 0, err
    change_report = json.loads(out)
    assert change_report["tally"]["yes"] == 3 and change_report["certificate"]["epoch"] == 0
    assert change_report["responses"]["riscv"]["link"] == "down"
    (tmp_path / "change-decision.json").write_text(out)
    code, out, err = cli("epoch", "apply", "--keys", keys, "--db", db, "--change",
                         tmp_path / "change.json", "--nonce", change_report["nonce"])
    assert code == 0, err
    assert json.loads(out)["epoch"] == 1

    # the replacement's node: found in the store's history, its own fresh K_att
    shutil.copy(keys / "riscv.key", keys / "riscv-b.key")
    replacement = NodeProc(keys, "riscv-b", tmp_path / "riscv-b.log", "--db", str(db))
    try:
        replacement.ready()
        current = {n: genesis[n] for n in ("intel", "amd", "arm")}
        current["riscv-b"] = replacement.address
        proofs = mint(D.hex(), tmp_path / "proofs.json")
        code, out, err = decide(proofs, **current)
        assert code == 0, err
        report = json.loads(out)
        nonce = report["nonce"]
        assert report["outcome"] == "accepted" and report["certificate"]["epoch"] == 1
        assert sorted(report["responses"]) == ["amd", "arm", "intel", "riscv-b"]
        assert all(r["vote"] is True and r["fault"] is None
                   for r in report["responses"].values())
        assert {v["validator"] for v in report["votes"]} == {"amd", "arm", "intel", "riscv-b"}
        assert {v["reason"] for v in report["votes"] if not v["counted"]} <= {"closed"}
        [line] = [x for x in replacement.lines() if x.get("nonce") == nonce]
        assert line["status"] == 200 and line["vote"] is True
        assert not any(x.get("nonce") == nonce for x in nodes["riscv"].lines())
        (tmp_path / "epoch1.json").write_text(out)
        code, out, _ = cli("verify-cert", "--keys", keys, "--db", db, tmp_path / "epoch1.json")
        assert code == 0 and "epoch 1" in out, out
        code, out, _ = cli("verify-cert", "--keys", keys, "--db", db,
                           tmp_path / "change-decision.json")
        assert code == 0, out                           # the old epoch's certificate
        # relabelled as epoch 0, the epoch-1 certificate is refused
        (tmp_path / "relabel.json").write_text(json.dumps(dict(report["certificate"],
                                                               epoch=0)))
        code, out, _ = cli("verify-cert", "--keys", keys, "--db", db, tmp_path / "relabel.json")
        assert code == 1 and "lies after epoch 0" in out

        # the retired node at riscv-b's address with intel down: two votes, no quorum
        code, out, err = decide(proofs, "--deadline", "1", **dict(
            current, intel=down, **{"riscv-b": genesis["riscv"]}))
        assert code == 1, err
        refused = json.loads(out)
        assert refused["outcome"] == "no_quorum" and refused["tally"]["yes"] == 2
        assert refused["responses"]["riscv-b"]["link"].startswith("tls")
        assert refused["certificate"] is None
    finally:
        replacement.stop()

    # one-line refusals: an address for the retired validator, a request of epoch 0
    code, _, err = decide(proofs, **dict(current, riscv=genesis["riscv"]))
    assert code == 2 and "validator 'riscv' is retired" in err and err.count("\n") == 1
    code, _, err = decide(proofs, "--nonce", "0", **current)
    assert code == 2 and "lies before validator-set epoch 1" in err and err.count("\n") == 1
    code, _, err = cli("node", "--keys", keys, "--name", "nobody", "--db", db)
    assert code == 2 and "no validator named 'nobody'" in err and err.count("\n") == 1
