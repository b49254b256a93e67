"""``make load``: a bounded loopback load test of the networked cluster.

Starts four ``pqvote node`` processes (one per vendor, ``--backend software`` by default)
on 127.0.0.1, then decides ``--requests`` requests through them with the network collector
(``network.client.NetworkSource`` + ``consensus.cluster.run_requests``): ``--workers``
threads, each with its own collector and store connection on one SQLite database, each
deciding ``--batch`` requests at a time. Every decision is certified by the collector's
ML-DSA-44 signature: by default one signature over the Merkle root of a batch of stored
certificates (``consensus.merkle``, sealed by one thread), or one per certificate
(``--sign each``). Afterwards every request must have exactly one stored decision, and every
certificate must verify (``check_batch_certificate`` / ``check_certificate``): otherwise
the run fails.

Requests cycle through ``--descriptors`` minted descriptors, each under its own nonce; one
in ``--tamper-every`` carries tampered proofs (a flipped byte in every vendor's proof: the
cores reject it). Nodes validate every request in full (no result is cached).

Figures: decisions per second (stored and certified, over the wall time of the run),
latency from a batch being sent to each of its decisions being stored and certified
(p50 / p99), the collector's own decision latency (the quorum vote's arrival), what each
node answered, and the CPU each process spent (its workers included): the CPU per decision
does not depend on what else the machine runs, decisions per second does.
``--record`` writes them to ``results/load.json`` with the command.
"""

import argparse
import json
import os
import queue
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

from consensus.cluster import Ask, Core, run_requests
from consensus.collector import Collector, ml_dsa_44_signer
from consensus.sources import software_attestation
from consensus.store import Store
from consensus.merkle import BatchRoot, batch_certificate, check_batch_certificate, seal_batch
from consensus.votes import Certificate, check_certificate
from network.client import NetworkSource
from network.tls import TlsFiles, key_exchange
from pqvote.cli import main as pqvote
from pqvote.commands import load_cluster, mint_proofs

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "results" / "load.json"


def _start_nodes(keys, workdir, backend, inflight, processes, timeout):
    procs = {}
    for name in ("intel", "amd", "arm", "riscv"):
        log = open(workdir / f"{name}.log", "w")
        procs[name] = (subprocess.Popen(
            [sys.executable, "-m", "pqvote.cli", "node", "--keys", str(keys), "--name", name,
             "--listen", "127.0.0.1:0", "--backend", _backend(backend, name),
             "--max-inflight", str(inflight), "--timeout", str(timeout),
             "--processes", str(processes.get(name, 0))],
            stdout=log, stderr=subprocess.STDOUT), log, workdir / f"{name}.log")
    addresses, end = {}, time.monotonic() + 60
    while len(addresses) < len(procs):
        if time.monotonic() > end:
            raise TimeoutError("nodes did not start")
        for name, (proc, _, path) in procs.items():
            if name in addresses:
                continue
            if proc.poll() is not None:
                raise RuntimeError(f"node {name} exited: {path.read_text()}")
            for line in path.read_text().splitlines():
                if '"listening"' in line:
                    addresses[name] = f"127.0.0.1:{json.loads(line)['port']}"
        time.sleep(0.05)
    return procs, addresses


def _cpu_seconds(pid):
    """User + system CPU seconds of process ``pid`` and its live descendants (a node's
    worker processes), from Linux /proc."""
    stats = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue
            stats[int(entry.name)] = (int(fields[1]), int(fields[11]) + int(fields[12]))
    tree, total = {pid}, 0
    changed = True
    while changed:
        changed = False
        for p, (ppid, _) in stats.items():
            if ppid in tree and p not in tree:
                tree.add(p)
                changed = True
    for p in tree:
        total += stats.get(p, (0, 0))[1]
    return total / os.sysconf("SC_CLK_TCK")


def _stop_nodes(procs):
    for proc, log, _ in procs.values():
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
    for proc, log, _ in procs.values():
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        log.close()


def _backend(spec, name) -> str:
    """Node ``name``'s backend from ``"software"`` or ``"software,intel=rtl"``."""
    default, chosen = "software", {}
    for part in filter(None, spec.split(",")):
        key, sep, value = part.partition("=")
        if sep:
            chosen[key.strip()] = value.strip()
        else:
            default = part.strip()
    return chosen.get(name, default)


def _processes(spec) -> dict:
    """``"arm=2,riscv=1"`` → ``{"arm": 2, "riscv": 1}`` (worker processes per node)."""
    out = {}
    for part in filter(None, (spec or "").split(",")):
        name, _, n = part.partition("=")
        out[name.strip()] = int(n)
    return out


def _tampered(proofs):
    out = {}
    for vendor, p in proofs.items():
        b = bytearray(p)
        b[len(b) // 3] ^= 0x01
        out[vendor] = bytes(b)
    return out


def _percentile(xs, p):
    xs = sorted(xs)
    k = min(len(xs) - 1, max(0, round(p / 100 * (len(xs) - 1))))
    return xs[k]


def run(args) -> dict:
    with tempfile.TemporaryDirectory(prefix="pqvote-load-") as tmp:
        work = Path(args.workdir or tmp)
        keys = work / "keys"
        with open(os.devnull, "w") as null:
            stdout, sys.stdout = sys.stdout, null
            try:
                if pqvote(["keygen", "--out", str(keys)]) != 0:
                    raise RuntimeError("keygen failed")
            finally:
                sys.stdout = stdout
        cluster = load_cluster(keys, need_core_keys=False)
        minter = load_cluster(keys, need_secrets=False, need_minter=True)
        t0 = time.monotonic()
        minted = [(bytes([i]) * 24, mint_proofs(minter, bytes([i]) * 24))
                  for i in range(1, args.descriptors + 1)]
        print(f"minted {len(minted)} descriptors in {time.monotonic() - t0:.1f} s",
              file=sys.stderr)
        asks = []
        for n in range(args.requests):
            descriptor, proofs = minted[n % len(minted)]
            if args.tamper_every and n % args.tamper_every == args.tamper_every - 1:
                proofs = _tampered(proofs)
            asks.append(Ask(nonce=n + 1, descriptor=descriptor, proofs=proofs,
                            deadline=args.deadline))
        procs, addresses = _start_nodes(keys, work, args.backend, args.inflight,
                                        _processes(args.processes), args.node_timeout)
        db = work / "load.db"
        Store(db).close()
        vs = cluster.validators
        jobs = queue.Queue()
        for i in range(0, len(asks), args.batch):
            jobs.put(asks[i:i + args.batch])
        latencies, decision_latencies, errors = [], [], []
        answered = {v.name: {"answered": 0, "missed": 0} for v in vs.validators}
        lock = threading.Lock()
        stop_at = None

        signer = ml_dsa_44_signer(cluster.collector_sk)
        sent_at = {}                    # nonce → when its batch was sent (batch signing)
        workers_done = threading.Event()

        def worker(source):
            col = Collector(vs, attest=software_attestation,
                            sign=None if args.sign == "batch" else signer)
            cores = {v.name: Core(None, source) for v in vs.validators}
            with Store(db) as store:
                while time.monotonic() < stop_at:
                    try:
                        batch = jobs.get_nowait()
                    except queue.Empty:
                        return
                    sent = time.monotonic()
                    try:
                        outs = run_requests(vs, cores, batch, collector=col)
                        for ask, out in zip(batch, outs):
                            d = out.decision
                            store.record(nonce=ask.nonce, descriptor=ask.descriptor,
                                         opened_at=d.opened_at, deadline=ask.deadline,
                                         decision=d, votes=out.received,
                                         evidence=out.evidence, proofs=ask.proofs)
                            done = time.monotonic()
                            with lock:
                                if args.sign == "batch" and d.certificate is not None:
                                    sent_at[ask.nonce] = sent   # certified when sealed
                                else:
                                    latencies.append(done - sent)
                                decision_latencies.append(d.latency)
                                for name, r in out.responses.items():
                                    answered[name]["answered" if r["fault"] is None
                                                   else "missed"] += 1
                    except Exception as e:          # counted: the run then fails
                        with lock:
                            errors.append(f"{type(e).__name__}: {e}")

        def sealer():
            """Batch certificates (consensus.merkle): every stored, not yet sealed
            certificate goes into a signed Merkle root once ``--seal-size`` of them wait or
            the oldest has waited ``--seal-wait`` seconds."""
            with Store(db) as store:
                first_seen = None
                while True:
                    nonces = store.unbatched(limit=args.seal_size)
                    now = time.monotonic()
                    if not nonces:
                        if workers_done.is_set():
                            return
                        first_seen = None
                        time.sleep(0.01)
                        continue
                    first_seen = first_seen or now
                    if len(nonces) < args.seal_size and now - first_seen < args.seal_wait \
                            and not workers_done.is_set():
                        time.sleep(0.01)
                        continue
                    try:
                        root, _ = seal_batch([store.certificate(n) for n in nonces], signer)
                        store.record_batch(root, nonces)
                    except Exception as e:          # counted: the run then fails
                        with lock:
                            errors.append(f"sealing: {type(e).__name__}: {e}")
                        return
                    done, first_seen = time.monotonic(), None
                    with lock:
                        sealed.append(len(nonces))
                        latencies.extend(done - sent_at.pop(n) for n in nonces)

        sealed = []
        try:
            with NetworkSource(addresses, TlsFiles.of(keys, "collector"),
                               per_node=args.inflight) as source:
                health = source.health()
                begin, cpu0 = time.monotonic(), time.process_time()
                base = {name: _cpu_seconds(p.pid) for name, (p, _, _) in procs.items()}
                stop_at = begin + args.max_seconds
                threads = [threading.Thread(target=worker, args=(source,))
                           for _ in range(args.workers)]
                seal = threading.Thread(target=sealer) if args.sign == "batch" else None
                for t in threads + [seal] * bool(seal):
                    t.start()
                for t in threads:
                    t.join()
                workers_done.set()
                if seal:
                    seal.join()
                wall = time.monotonic() - begin
                cpu = {name: round(_cpu_seconds(p.pid) - base[name], 2)
                       for name, (p, _, _) in procs.items()}
                cpu["collector"] = round(time.process_time() - cpu0, 2)
        finally:
            _stop_nodes(procs)

        stored, outcomes, unsigned, invalid = verify_store(db, vs, cluster.collector_pk,
                                                           args.sign)
        lost = sorted(set(a.nonce for a in asks) - set(stored))
        result = {
            "command": "make load  # python -m tools.load " + " ".join(
                f"--{k.replace('_', '-')} {v}" for k, v in sorted(vars(args).items())
                if k not in ("record", "record_to", "loadavg", "workdir")),
            "machine": {"cpus": os.cpu_count(), "loadavg_before": args.loadavg,
                        "python": sys.version.split()[0], "tls": key_exchange()["openssl"]},
            "nodes": 4, "backend": args.backend, "workers": args.workers,
            "batch": args.batch, "max_inflight_per_node": args.inflight,
            "requests": len(asks), "stored": len(stored), "lost": len(lost),
            "errors": errors[:5], "error_count": len(errors),
            "signing": ("one ML-DSA-44 signature per batch of certificates (Merkle root, "
                        f"up to {args.seal_size}, sealed within {args.seal_wait} s)"
                        if args.sign == "batch" else "one ML-DSA-44 signature per certificate"),
            "signatures": len(sealed) if args.sign == "batch" else sum(outcomes.get(o, 0)
                                                                      for o in ("accepted",
                                                                                "rejected")),
            "outcomes": outcomes, "certificates_unsigned": unsigned,
            "certificates_invalid": invalid,
            "wall_s": round(wall, 3),
            "decisions_per_s": round(len(stored) / wall, 1),
            "latency_ms": {"p50": round(_percentile(latencies, 50) * 1e3, 1),
                           "p99": round(_percentile(latencies, 99) * 1e3, 1),
                           "mean": round(statistics.fmean(latencies) * 1e3, 1)}
            if latencies else None,
            "collector_decision_latency_ms": {
                "p50": round(_percentile(decision_latencies, 50) * 1e3, 1),
                "p99": round(_percentile(decision_latencies, 99) * 1e3, 1)}
            if decision_latencies else None,
            "node_answers": answered,
            "cpu_s": cpu,
            "cpu_ms_per_decision": round(sum(cpu.values()) / max(1, len(stored)) * 1e3, 1),
            "cpu_cores_used": round(sum(cpu.values()) / wall, 2),
            "bound_on_2_idle_cores_per_s": round(2 * len(stored) / max(sum(cpu.values()),
                                                                        1e-9), 1),
            "health": {k: {"key": h.get("key"), "backend": h.get("backend")}
                       for k, h in health.items()},
        }
        return result


def verify_store(db, vs, collector_pk, sign="batch"):
    """``(stored nonces, outcomes, unsigned, invalid)`` of the database ``db``: every
    decision's certificate checked on its own (``check_batch_certificate`` for batch
    signing, ``check_certificate`` for one signature per certificate)."""
    with Store(db) as store:
        stored = store.nonces()
        outcomes, unsigned, invalid = {}, 0, 0
        for nonce in stored:
            o = store.decision(nonce)["outcome"]
            outcomes[o] = outcomes.get(o, 0) + 1
            if o == "no_quorum":
                continue
            if sign == "batch":
                found = store.batch_of(nonce)
                if found is None:
                    unsigned += 1
                    continue
                root, position, members = found
                bc = batch_certificate(BatchRoot.from_json(root),
                                       [Certificate.from_json(m) for m in members], position)
                if check_batch_certificate(bc, vs, attest=software_attestation,
                                           collector_pk=collector_pk):
                    invalid += 1
                continue
            cert = store.certificate(nonce)
            if cert is None or not cert.signature:
                unsigned += 1
            elif check_certificate(cert, vs, attest=software_attestation,
                                   collector_pk=collector_pk):
                invalid += 1
    return stored, outcomes, unsigned, invalid


def build_parser():
    p = argparse.ArgumentParser(prog="python -m tools.load", description=__doc__.splitlines()[0])
    p.add_argument("--requests", type=int, default=2000)
    p.add_argument("--workers", type=int, default=6, help="collector threads")
    p.add_argument("--batch", type=int, default=8, help="requests per run_requests call")
    p.add_argument("--inflight", type=int, default=8,
                   help="each node's --max-inflight, and the collector's bound per node")
    p.add_argument("--deadline", type=float, default=5.0, help="seconds per node")
    p.add_argument("--node-timeout", type=float, default=10.0,
                   help="each node's --timeout (an RTL node needs about a simulation's start)")
    p.add_argument("--descriptors", type=int, default=4, help="minted descriptors cycled")
    p.add_argument("--tamper-every", type=int, default=10,
                   help="one request in N carries tampered proofs (0: none)")
    p.add_argument("--backend", default="software", metavar="SPEC",
                   help="the nodes' backend: software, golden or rtl, or per node: "
                        "software,intel=rtl (a node with worker processes must not be rtl)")
    p.add_argument("--processes", default="", metavar="NAME=N,…",
                   help="worker processes per node (pqvote node --processes), e.g. arm=2; "
                        "default none: every node validates in its own process (with the "
                        "fast McEliece decapsulator no node needs more than a share of one "
                        "core, and handing requests to workers costs more than it gains)")
    p.add_argument("--sign", choices=("batch", "each"), default="batch",
                   help="batch: one collector signature over a Merkle root of many "
                        "certificates (consensus.merkle); each: one per certificate")
    p.add_argument("--seal-size", type=int, default=64, help="certificates per signed root")
    p.add_argument("--seal-wait", type=float, default=0.5,
                   help="longest wait of a stored certificate for its signed root (s)")
    p.add_argument("--max-seconds", type=float, default=300.0,
                   help="stop taking new batches after this long (the run is bounded)")
    p.add_argument("--workdir", metavar="DIR",
                   help="keep the cluster, logs and database here (default: a temporary "
                        "directory, removed)")
    p.add_argument("--record", action="store_true", help=f"write {RESULTS.relative_to(ROOT)}")
    p.add_argument("--record-to", metavar="FILE", help="write the figures to FILE instead")
    return p


def main(argv=None):
    args = build_parser().parse_args(argv)
    args.loadavg = [round(x, 2) for x in os.getloadavg()]
    result = run(args)
    print(json.dumps(result, indent=2))
    ok = (result["lost"] == 0 and result["error_count"] == 0
          and result["certificates_unsigned"] == 0 and result["certificates_invalid"] == 0)
    if args.record or args.record_to:
        Path(args.record_to or RESULTS).write_text(json.dumps(result, indent=2) + "\n")
    if not ok:
        print("load: FAILED (lost, errors or bad certificates above)", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
