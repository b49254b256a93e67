"""``make bench-store``: the decision store at 10^6 decisions, on SQLite and PostgreSQL, and
batch against single certificates.

For each store (a file in ``--dir``; a local PostgreSQL 16 server started from the
``pgserver`` wheel with its data in ``--dir``):

1. **population**: ``--rows`` decisions written with ``DecisionStore.record_many``
   (``--chunk`` decisions per transaction), each as a collector at scale writes it with batch
   certificates: the request, 4 votes (3 counted, 1 late), the certificate entry (3 votes, no
   own signature), the decision record, and one 1,024-byte proof (an ML-KEM-512 proof frame)
   under a random 24-byte descriptor; one signed batch root per 1,024 certificates. Rows/s
   counts every row inserted.
2. **lookups**: ``--lookups`` random stored keys each for ``proofs(descriptor)``,
   ``certificate(nonce)`` and ``decision(nonce)``; p50 / p99 / max in µs.
3. **commit path**: ``--commits`` more decisions through ``record`` (one durable
   transaction each: SQLite ``synchronous=FULL``, PostgreSQL ``synchronous_commit=on``),
   each with a signed single certificate and all four proofs (11,264 bytes), into the
   populated store.
4. **sizes**: bytes per table (SQLite ``dbstat``, PostgreSQL ``pg_total_relation_size``,
   indexes included), per decision and per proof.

Then **certificates**: size and verification time per decision of a single certificate
against a batch certificate for several batch sizes (standalone, and amortised when a
verifier checks a whole batch: one signature for all).

The attestations and the signatures in the populated rows are real for one template
decision; every row is a copy of it with its own nonce and descriptor (a store does not
verify what it keeps, and the sizes are those of real rows). Results go to ``--out`` with
the command line, the machine and the versions.
"""

import argparse
import dataclasses
import json
import os
import platform
import random
import shutil
import sqlite3
import statistics
import sys
import time
from pathlib import Path

from consensus.collector import Collector, Decision, Open, Receive, ml_dsa_44_signer
from consensus.merkle import (batch_certificate, check_batch_certificate, leaf_hash,
                              merkle_path, seal_batch)
from consensus.sources import software_attestation as att
from consensus.store import open_store
from consensus.votes import (Validator, ValidatorSet, Vote, certificate_signing_bytes,
                             check_certificate)

PROOF_LEN = 1024
FULL_PROOFS = {"intel": 1024, "amd": 1024, "arm": 1024, "riscv": 8192}
BATCH = 1024


def _template(seed):
    """A real decision (attested votes, ML-DSA-44 signature) and the cluster it came from."""
    from pqcrypto.sign import ml_dsa_44
    rng = random.Random(seed)
    pk, sk = ml_dsa_44.keygen()
    vs = ValidatorSet([Validator(v, v, rng.randbytes(32)) for v in
                       ("intel", "amd", "arm", "riscv")], collector_pk=pk)
    col = Collector(vs, attest=att, sign=ml_dsa_44_signer(sk))
    d = rng.randbytes(24)
    col.step(Open(1, d, at=0.0, deadline=100.0))
    received = []
    for i, v in enumerate(vs.validators):
        pd = rng.randbytes(32)
        vote = Vote(v.name, 1, d, True, pd, att(v.k_att, v.vendor, 1, d, True, pd))
        col.step(Receive(vote, at=1.0 + i))
        received.append((vote, i < 3, None if i < 3 else "closed", 1.0 + i))
    return vs, sk, col.decision(1), received


def _item(template, received, nonce, descriptor, *, signed, proofs):
    cert = dataclasses.replace(template.certificate, nonce=nonce, descriptor=descriptor,
                               votes=tuple(dataclasses.replace(v, nonce=nonce,
                                                               descriptor=descriptor)
                                           for v in template.certificate.votes))
    if not signed:
        cert = dataclasses.replace(cert, signature=b"")
    dec = dataclasses.replace(template, nonce=nonce, descriptor=descriptor, certificate=cert)
    votes = [(dataclasses.replace(v, nonce=nonce, descriptor=descriptor), c, r, at)
             for v, c, r, at in received]
    return dict(nonce=nonce, descriptor=descriptor, opened_at=0.0, deadline=100.0,
                decision=dec, votes=votes, proofs=proofs)


def _percentiles(samples):
    s = sorted(samples)
    pick = lambda q: s[min(len(s) - 1, int(q * len(s)))]        # noqa: E731
    return {"p50_us": round(pick(0.50) * 1e6, 1), "p99_us": round(pick(0.99) * 1e6, 1),
            "max_us": round(s[-1] * 1e6, 1), "mean_us": round(statistics.fmean(s) * 1e6, 1)}


def _sizes(store):
    if store.name == "sqlite":
        store._db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        rows = store._db.execute("SELECT name, SUM(pgsize) FROM dbstat GROUP BY name").fetchall()
        by_object = dict(rows)
        tables = {}
        for table in ("requests", "votes", "certificates", "decisions", "proofs", "batches",
                      "batch_members", "evidence", "epochs"):
            idx = store._db.execute("SELECT name FROM sqlite_master WHERE tbl_name = ? AND "
                                    "type = 'index'", (table,)).fetchall()
            autos = [n for n in by_object if n.startswith(f"sqlite_autoindex_{table}_")]
            tables[table] = by_object.get(table, 0) + sum(by_object.get(n, 0) for (n,) in idx) \
                + sum(by_object[n] for n in autos)
        total = os.path.getsize(store._path)
    else:
        tables = {}
        for table in ("requests", "votes", "certificates", "decisions", "proofs", "batches",
                      "batch_members", "evidence", "epochs"):
            tables[table] = store._one("SELECT pg_total_relation_size(?::regclass)", (table,))[0]
        total = store._one("SELECT pg_database_size(current_database())")[0]
    return total, tables


def bench_store(kind, directory, args, template, received, sk, rng):
    out = {"store": kind}
    directory.mkdir(parents=True, exist_ok=True)
    pg = None
    if kind == "sqlite":
        target = str(directory / "bench.db")
        for suffix in ("", "-wal", "-shm"):
            Path(target + suffix).unlink(missing_ok=True)
    else:
        from tools.pglocal import local_postgres
        pg_cm = local_postgres(directory / "pg")
        pg = pg_cm.__enter__()
        target = pg.new_database("bench")
        out["server"] = "PostgreSQL 16.2 (pgserver 0.1.4 wheel), defaults, Unix socket"
    try:
        store = open_store(target)
        descriptors = []
        n, rows, t0 = args.rows, 0, time.perf_counter()
        sign = ml_dsa_44_signer(sk)
        nonce = 1
        while nonce <= n:
            chunk = []
            for _ in range(min(args.chunk, n - nonce + 1)):
                d = rng.randbytes(24)
                descriptors.append(d)
                chunk.append(_item(template, received, nonce, d, signed=False,
                                   proofs={"intel": d[:8] * (PROOF_LEN // 8)}))
                nonce += 1
            store.record_many(chunk)
            rows += len(chunk) * (1 + len(received) + 1 + 1 + 1)
            # one signed root per BATCH certificates (the signature is real, over the chunk)
            for i in range(0, len(chunk), BATCH):
                part = [c["decision"].certificate for c in chunk[i:i + BATCH]]
                root, _ = seal_batch(part, sign)
                store.record_batch(root, [c.nonce for c in part])
                rows += 1 + len(part)
            done = nonce - 1
            if done % (args.chunk * 20) == 0 or done == n:
                el = time.perf_counter() - t0
                print(f"  {kind}: {done:,} decisions, {rows / el:,.0f} rows/s", flush=True)
        elapsed = time.perf_counter() - t0
        out["population"] = {"decisions": n, "rows": rows, "seconds": round(elapsed, 1),
                             "rows_per_s": round(rows / elapsed),
                             "decisions_per_s": round(n / elapsed),
                             "decisions_per_transaction": args.chunk}
        look = {}
        picks = [rng.randrange(n) for _ in range(args.lookups)]
        for name, call in (("proofs_by_descriptor", lambda i: store.proofs(descriptors[i])),
                           ("certificate_by_nonce", lambda i: store.certificate(i + 1)),
                           ("decision_by_nonce", lambda i: store.decision(i + 1))):
            samples = []
            for i in picks:
                t = time.perf_counter()
                found = call(i)
                samples.append(time.perf_counter() - t)
                assert found, (name, i)
            look[name] = _percentiles(samples)
        out["lookups"] = dict(look, count=args.lookups)
        full = {v: bytes([7]) * size for v, size in FULL_PROOFS.items()}
        samples, t0 = [], time.perf_counter()
        for k in range(args.commits):
            item = _item(template, received, n + 1 + k, rng.randbytes(24), signed=True,
                         proofs=full)
            t = time.perf_counter()
            store.record(**item)
            samples.append(time.perf_counter() - t)
        elapsed = time.perf_counter() - t0
        out["commit_path"] = dict(_percentiles(samples), decisions=args.commits,
                                  decisions_per_s=round(args.commits / sum(samples)),
                                  note="record(): one durable transaction per decision, "
                                       "signed certificate, 4 proofs (11,264 bytes)")
        total, tables = _sizes(store)
        decisions = n + args.commits
        out["bytes"] = {"database": total, "per_decision": round(total / decisions),
                        "tables": tables,
                        "proofs_per_proof": round(tables["proofs"] / (n + 4 * args.commits)),
                        "proof_payload": PROOF_LEN}
        store.close()
    finally:
        if pg is not None:
            pg_cm.__exit__(None, None, None)
        if kind == "sqlite" and not args.keep:
            for suffix in ("", "-wal", "-shm"):
                Path(target + suffix).unlink(missing_ok=True)
    return out


def bench_certificates(vs, sk, template, sizes, repeat, rng):
    """Size and verification time per decision: single certificate vs batch certificate."""
    sign = ml_dsa_44_signer(sk)
    certs = []
    for k in range(max(sizes)):
        d = rng.randbytes(24)
        item = _item(template, [], k + 1, d, signed=True, proofs=None)
        c = item["decision"].certificate
        # real attestations for this nonce and descriptor
        votes = tuple(Vote(v.validator, c.nonce, d, True, v.proof_digest,
                           att(vs[v.validator].k_att, vs[v.validator].vendor, c.nonce, d, True,
                               v.proof_digest)) for v in c.votes)
        c = dataclasses.replace(c, votes=votes)
        if k < repeat:          # single certificates are timed on the first `repeat`
            c = dataclasses.replace(c, signature=sign(certificate_signing_bytes(c)))
        certs.append(c)
    single = certs[0]
    t = time.perf_counter()
    for c in certs[:repeat]:
        assert check_certificate(c, vs, attest=att) is None
    single_s = (time.perf_counter() - t) / repeat
    t = time.perf_counter()
    for c in certs[:repeat]:
        assert check_certificate(c, vs, attest=att, check_signature=False) is None
    entry_s = (time.perf_counter() - t) / repeat
    out = {"single": {"bytes_json": len(json.dumps(single.to_json())),
                      "signature_bytes": len(single.signature),
                      "verify_us": round(single_s * 1e6, 1)},
           "entry_checks_without_signature_us": round(entry_s * 1e6, 1),
           "batches": []}
    for size in sizes:
        root, members = seal_batch(certs[:size], sign)
        sample = members[:min(size, repeat)]
        t = time.perf_counter()
        for bc in sample:
            assert check_batch_certificate(bc, vs, attest=att) is None
        alone = (time.perf_counter() - t) / len(sample)
        # amortised: the root signature once, then each member's entry and path
        from pqcrypto.sign import ml_dsa_44
        from consensus.merkle import batch_root_signing_bytes, root_from_path
        t = time.perf_counter()
        for _ in range(20):
            ml_dsa_44.verify(vs.collector_pk, batch_root_signing_bytes(root), root.signature)
        sig_s = (time.perf_counter() - t) / 20
        t = time.perf_counter()
        for bc in sample:
            assert check_certificate(bc.entry, vs, attest=att, check_signature=False) is None
            assert root_from_path(leaf_hash(bc.entry), bc.index, size, bc.path) == root.root
        per = (time.perf_counter() - t) / len(sample)
        sizes_json = [len(json.dumps(bc.to_json())) for bc in members]
        out["batches"].append({
            "batch_size": size, "path_hashes": len(members[-1].path),
            "bytes_json_mean": round(statistics.fmean(sizes_json)),
            # the signed root sent or stored once per batch instead of once per decision
            "bytes_json_amortised": round(statistics.fmean(sizes_json)
                                          - len(json.dumps(root.to_json()))
                                          + len(json.dumps(root.to_json())) / size),
            "verify_alone_us": round(alone * 1e6, 1),
            "verify_amortised_us": round((per + sig_s / size) * 1e6, 1)})
    return out


def main(argv=None):
    p = argparse.ArgumentParser(prog="python -m tools.bench_store", description=__doc__
                                .splitlines()[0])
    p.add_argument("--rows", type=int, default=1_000_000, help="decisions to populate")
    p.add_argument("--chunk", type=int, default=4096, help="decisions per transaction")
    p.add_argument("--lookups", type=int, default=10_000)
    p.add_argument("--commits", type=int, default=1_000)
    p.add_argument("--stores", default="sqlite,postgresql")
    p.add_argument("--dir", default="build/bench-store")
    p.add_argument("--out", default="results/store_bench.json")
    p.add_argument("--keep", action="store_true", help="keep the SQLite file")
    p.add_argument("--seed", type=int, default=int(os.environ.get("PQVOTE_SEED", "1")))
    args = p.parse_args(argv)
    rng = random.Random(args.seed)
    vs, sk, template, received = _template(args.seed)
    result = {"command": "python -m tools.bench_store " + " ".join(argv or sys.argv[1:]),
              "machine": {"cpus": os.cpu_count(), "python": platform.python_version(),
                          "sqlite": sqlite3.sqlite_version, "platform": platform.platform()},
              "date": time.strftime("%Y-%m-%d", time.gmtime())}
    print("certificates: single vs batch", flush=True)
    result["certificates"] = bench_certificates(vs, sk, template, [1, 16, 256, 1024, 4096],
                                                200, rng)
    result["stores"] = []
    for kind in args.stores.split(","):
        print(f"store {kind}: {args.rows:,} decisions", flush=True)
        result["stores"].append(bench_store(kind, Path(args.dir) / kind, args, template,
                                            received, sk, rng))
        Path(args.out).parent.mkdir(parents=True, exist_ok=True)
        Path(args.out).write_text(json.dumps(result, indent=2) + "\n")
    shutil.rmtree(Path(args.dir), ignore_errors=True)
    print(json.dumps(result, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
