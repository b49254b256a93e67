"""Decision store: one transaction per decision, unique certificates, proof store, corrupt
databases, uint64 nonces, and crash consistency (the writer killed at every commit boundary,
and at random instants of a stream of decisions, COMMIT included).

Every test that takes ``store_target`` runs against both backends: an SQLite file and a
database on the session's local PostgreSQL server (tests/conftest.py)."""

import json
import os
import random
import signal
import time
import sqlite3
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from consensus.store import (BOUNDARIES, SCHEMA_VERSION, AlreadyDecided, Store, StoreError,
                             open_store)

ROOT = Path(__file__).resolve().parent.parent

# What both writer scripts begin with: a four-validator cluster and ``decide``, which runs
# one request through the collector (a vote a second) and returns the store record.
_PRELUDE = textwrap.dedent('''
    import os, signal, sys
    sys.path.insert(0, {root!r})
    from consensus.collector import Collector, Open, Receive, Tick, Counted, Refused, EvidenceFound
    from consensus.simulation import make_cluster
    from consensus.sources import software_attestation as att
    from consensus.store import open_store
    from consensus.votes import Vote

    vs = make_cluster(4, seed=3)

    def decide(nonce, d, values):
        col = Collector(vs, attest=att)
        col.step(Open(nonce, d, at=0.0, deadline=10.0))
        received, evidence = [], []
        for i, (v, value) in enumerate(values):
            vote = Vote(v.name, nonce, d, value, bytes(32),
                        att(v.k_att, v.vendor, nonce, d, value, bytes(32)))
            for e in col.step(Receive(vote, at=1.0 + i)):
                if isinstance(e, Counted):
                    received.append((e.vote, True, None, 1.0 + i))
                elif isinstance(e, Refused):
                    received.append((e.vote, False, e.reason, 1.0 + i))
                elif isinstance(e, EvidenceFound):
                    evidence.append(e.evidence)
        col.step(Tick(11.0))
        return dict(nonce=nonce, descriptor=d, opened_at=0.0, deadline=10.0,
                    decision=col.decision(nonce), votes=received, evidence=evidence)
''')

# Builds two decisions deterministically (the second with evidence and proofs) and records
# them; with a boundary name in argv[2] the process SIGKILLs itself there while recording
# the second.
CHILD = (_PRELUDE + textwrap.dedent('''
    a, b, c, d_ = vs.validators
    first = decide(1, bytes(24), [(a, True), (b, True), (c, True)])
    second = decide(2, bytes(range(24)), [(a, True), (a, False), (b, True), (c, True), (d_, True)])
    second["proofs"] = {{"intel": b"I" * 1024, "riscv": b"R" * 8192}}
    s = open_store(sys.argv[1])
    if not s.has_decision(1):
        s.record(**first, proofs={{"intel": b"i" * 1024}})
    point = sys.argv[2] if len(sys.argv) > 2 else None
    if point:
        def boundary(name):
            if name == point:
                os.kill(os.getpid(), signal.SIGKILL)
        s._boundary = boundary
    s.record(**second)
''')).format(root=str(ROOT))


def _child(tmp_path, db, point=None):
    script = tmp_path / "child.py"
    script.write_text(CHILD)
    args = [sys.executable, str(script), str(db)] + ([point] if point else [])
    return subprocess.run(args, capture_output=True, text=True, timeout=120)


_REFERENCES = {}


@pytest.fixture
def reference(tmp_path_factory, store_target):
    """The dump of the two decisions recorded without a crash, once per backend."""
    if store_target.kind not in _REFERENCES:
        tmp = tmp_path_factory.mktemp("ref")
        db = store_target("ref")
        r = _child(tmp, db)
        assert r.returncode == 0, r.stderr
        with open_store(db) as s:
            _REFERENCES[store_target.kind] = s.dump()
    return _REFERENCES[store_target.kind]


def _only_first(dump):
    return {t: [row for row in rows if (row[3] if t == "proofs" else row[0]) == 1]
            for t, rows in dump.items()}


def test_reference_contents(reference):
    assert [r[0] for r in reference["decisions"]] == [1, 2]
    assert [r[1] for r in reference["decisions"]] == ["accepted", "accepted"]
    assert len(reference["certificates"]) == 2
    assert len(reference["evidence"]) == 1
    assert sorted((r[0], r[1]) for r in reference["proofs"]) == \
        [(bytes(24), "intel"), (bytes(range(24)), "intel"), (bytes(range(24)), "riscv")]


@pytest.mark.parametrize("point", BOUNDARIES)
def test_crash_at_each_commit_boundary(tmp_path, store_target, reference, point):
    db = store_target("crash")
    r = _child(tmp_path, db, point)
    assert r.returncode == -signal.SIGKILL, (r.returncode, r.stderr)
    with open_store(db) as s:
        dump = s.dump()
    if point == "committed":
        assert dump == reference
    else:
        assert dump == _only_first(reference)      # nothing of the interrupted decision
    # restart: recording again completes (or is refused when it had committed) and the
    # first decision never changes
    r = _child(tmp_path, db)
    if point == "committed":
        assert r.returncode != 0 and "AlreadyDecided" in r.stderr
    else:
        assert r.returncode == 0, r.stderr
    with open_store(db) as s:
        assert s.dump() == reference


def test_unique_certificate_and_reads(tmp_path, store_target, reference):
    db = store_target("u")
    assert _child(tmp_path, db).returncode == 0
    with open_store(db) as s:
        before = s.dump()
        cert = s.certificate(2)
        assert cert.nonce == 2 and cert.outcome == "accepted"
        assert s.decision(2)["outcome"] == "accepted"
        assert [e.validator for e in s.evidence(2)] == ["intel"]
        assert s.proofs(bytes(range(24))) == {"intel": b"I" * 1024, "riscv": b"R" * 8192}
        assert s.proofs(bytes(23) + b"x") == {}
        assert len(s.votes(2)) == 5 and s.next_nonce() == 3
        # the database itself refuses a second certificate for a request
        with pytest.raises(s._integrity_errors or sqlite3.IntegrityError):
            s._exec("INSERT INTO certificates (nonce, outcome, body, signature)"
                    " VALUES (2, 'rejected', '{}', ?)", (b"",))
        assert s.dump() == before
        if store_target.kind == "sqlite":
            assert s._db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
            assert s._db.execute("PRAGMA synchronous").fetchone()[0] == 2      # FULL
        else:
            assert s._db.execute("SHOW synchronous_commit").fetchone()[0] == "on"
            assert s._db.execute("SHOW fsync").fetchone()[0] == "on"
    r = _child(tmp_path, db)
    assert r.returncode != 0 and "AlreadyDecided" in r.stderr
    with open_store(db) as s:
        assert s.dump() == before


def test_corrupt_and_missing_database(tmp_path):
    bad = tmp_path / "bad.db"
    junk = os.urandom(4096)
    bad.write_bytes(junk)
    with pytest.raises(StoreError):
        Store(bad)
    assert bad.read_bytes() == junk                 # untouched
    with pytest.raises(StoreError, match="no database"):
        Store(tmp_path / "missing.db", create=False)
    assert not (tmp_path / "missing.db").exists()


def test_already_decided_leaves_store_untouched(tmp_path, store_target):
    db = store_target("a")
    assert _child(tmp_path, db).returncode == 0
    with open_store(db) as s:
        before = s.dump()
        from consensus.collector import Decision
        dec = Decision(1, bytes(24), "no_quorum", None, 0, 0, (), 0.0, 10.0)
        with pytest.raises(AlreadyDecided):
            s.record(nonce=1, descriptor=bytes(24), opened_at=0.0, deadline=10.0, decision=dec)
        assert s.dump() == before


# -- uint64 nonces ---------------------------------------------------------------------------

def test_nonce_encoding_round_trip_and_order():
    from consensus.store import from_db, to_db
    for n in (0, 1, (1 << 63) - 1, 1 << 63, (1 << 64) - 1):
        assert from_db(to_db(n)) == n and -(1 << 63) <= to_db(n) < 1 << 63
    for bad in (-1, 1 << 64, True, 1.0):
        with pytest.raises(ValueError):
            to_db(bad)


def test_full_nonce_range_stored(store_target):
    from consensus.collector import Decision
    with open_store(store_target("n")) as s:
        assert s.next_nonce() == 1
        for n in (5, 1 << 63, 7, (1 << 64) - 2):
            dec = Decision(n, bytes(24), "no_quorum", None, 0, 0, (), 0.0, 10.0)
            s.record(nonce=n, descriptor=bytes(24), opened_at=0.0, deadline=10.0, decision=dec)
            assert s.has_decision(n) and s.decision(n)["nonce"] == n
        assert s.nonces() == [5, 7, 1 << 63, (1 << 64) - 2]
        assert s.next_nonce() == (1 << 64) - 1
        n = (1 << 64) - 1
        s.record(nonce=n, descriptor=bytes(24), opened_at=0.0, deadline=10.0,
                 decision=Decision(n, bytes(24), "no_quorum", None, 0, 0, (), 0.0, 10.0))
        with pytest.raises(StoreError, match="no next nonce"):
            s.next_nonce()
        for t in (float("nan"), float("inf")):
            with pytest.raises(ValueError, match="finite"):
                s.record(nonce=9, descriptor=bytes(24), opened_at=0.0, deadline=t,
                         decision=Decision(9, bytes(24), "no_quorum", None, 0, 0, (), 0.0, t))
        assert not s.has_decision(9)


# -- kills at random instants ------------------------------------------------------------------

# Records decisions 1, 2, … in a loop (each with votes, a certificate, evidence and proofs;
# nonces alternate below and above 2^63), printing each nonce after its COMMIT returns, until
# killed. The parent SIGKILLs it at a random instant.
STREAM = (_PRELUDE + textwrap.dedent('''
    def nonce_of(i):
        return i if i % 2 else (1 << 63) + i

    def record_of(i):
        a, b, c, e = vs.validators
        d = bytes([i % 256]) * 24
        return dict(decide(nonce_of(i), d, [(a, True), (a, False), (b, True), (c, True),
                                            (e, True)]),
                    proofs={{"intel": bytes([i % 256]) * 1024, "riscv": b"R" * 8192}})

    s = open_store(sys.argv[1])
    start = len(s.nonces()) + 1
    count = int(sys.argv[2])
    # made one at a time while writing: however fast the machine, the writer is still
    # writing when the kill comes
    records = (record_of(i) for i in range(start, start + count))
    print("ready", flush=True)
    for r in records:
        s.record(**r)
        print(r["nonce"], flush=True)
''')).format(root=str(ROOT))

KILLS = int(os.environ.get("PQVOTE_KILLS", "25"))
#: PostgreSQL: fewer kills (each costs a connection and a server-side rollback); the
#: server's own durability is PostgreSQL's, what is tested is one transaction per decision.
PG_KILLS = int(os.environ.get("PQVOTE_PG_KILLS", "10"))


def _check_whole(s, nonce):
    """Everything of a recorded decision is there, consistently."""
    d = s.decision(nonce)
    assert d is not None and d["nonce"] == nonce and d["outcome"] == "accepted"
    cert = s.certificate(nonce)
    assert cert is not None and cert.nonce == nonce and len(cert.votes) == 3
    assert len(s.votes(nonce)) == 5
    assert [e.validator for e in s.evidence(nonce)] == ["intel"]
    assert set(s.proofs(cert.descriptor)) == {"intel", "riscv"}


def test_kill_at_random_instants(tmp_path, store_target):
    """SIGKILL a writer recording a stream of decisions at random instants (sleeping a random
    0-40 ms, PostgreSQL 0-150 ms, after it starts recording: inside statements, between them
    and inside COMMIT's fsyncs), KILLS (PostgreSQL: PG_KILLS) times on one database; after each kill every decision is whole or absent,
    the ones the writer reported committed are there, and the next writer continues."""
    rng = random.Random(int(os.environ.get("PQVOTE_SEED", "7")))
    db = store_target("kill")
    script = tmp_path / "stream.py"
    script.write_text(STREAM)
    committed, partial_tails = [], 0
    kills = KILLS if store_target.kind == "sqlite" else PG_KILLS
    # a PostgreSQL commit is a round trip to the server and its fsync: a longer window so
    # that the writers make progress between kills on a loaded machine too
    window = 0.04 if store_target.kind == "sqlite" else 0.15
    for _ in range(kills):
        proc = subprocess.Popen([sys.executable, str(script), str(db), "100000"],
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        assert proc.stdout.readline() == "ready\n", proc.stderr.read()
        time.sleep(rng.random() * window)
        proc.send_signal(signal.SIGKILL)
        assert proc.wait(timeout=60) == -signal.SIGKILL
        out = proc.stdout.read()        # through the same buffer as the "ready" line
        proc.stdout.close()
        proc.stderr.close()
        reported = [int(x) for x in out.split()]
        committed += reported
        with open_store(db) as s:
            stored = s.nonces()
            dump = s.dump()
            for n in stored:
                _check_whole(s, n)
        # every reported commit is durable; at most the one in flight got in unreported
        assert set(committed) <= set(stored), (committed, stored)
        assert len(stored) - len(committed) in (0, 1)
        partial_tails += len(stored) - len(committed)
        committed = stored
        # nothing outside a whole decision: every table row belongs to a stored decision
        from consensus.store import to_db
        keys = {to_db(n) for n in stored}
        assert {r[0] for r in dump["requests"]} == keys
        assert {r[0] for r in dump["votes"]} <= keys
        assert {r[3] for r in dump["proofs"]} <= keys
    assert len(committed) > kills            # the writers made progress between kills
    print(f"{kills} kills, {len(committed)} decisions; {partial_tails} kills landed inside "
          f"COMMIT or right after it (durable, not yet reported)")


# -- backends and schema versions --------------------------------------------------------------

def test_postgres_unreachable_and_missing_schema(postgres, tmp_path):
    """A server that is not there, and a database with no pqvote tables opened read-only,
    are one-line StoreErrors that name the database (never its password)."""
    url = f"postgresql://pqvote:secret@/nothing?host={tmp_path}"
    with pytest.raises(StoreError, match="cannot connect") as e:
        open_store(url)
    assert "secret" not in str(e.value) and "\n" not in str(e.value)
    empty = postgres.new_schema("t_empty_schema")
    with pytest.raises(StoreError, match="no pqvote database"):
        open_store(empty, create=False)
    with open_store(empty) as s:                # create=True makes the tables
        assert s.schema_version() == SCHEMA_VERSION and s.nonces() == []


def _v1_database(target):
    """A database at schema version 1 holding one signed, accepted decision, written with
    version 1's statements (what pqvote wrote before version 2)."""
    from pqcrypto.sign import ml_dsa_44
    from consensus.collector import Collector, Open, Receive, ml_dsa_44_signer
    from consensus.simulation import make_cluster
    from consensus.sources import software_attestation as att
    from consensus.votes import Vote, ValidatorSet

    pk, sk = ml_dsa_44.keygen()
    base = make_cluster(4, seed=5)
    vs = ValidatorSet(base.validators, base.rule, collector_pk=pk)
    col = Collector(vs, attest=att, sign=ml_dsa_44_signer(sk))
    d = bytes(range(24))
    col.step(Open(7, d, at=0.0, deadline=10.0))
    for i, v in enumerate(vs.validators[:3]):
        col.step(Receive(Vote(v.name, 7, d, True, bytes(32),
                              att(v.k_att, v.vendor, 7, d, True, bytes(32))), at=1.0 + i))
    dec = col.decision(7)
    s = open_store(target, migrate=False)
    s._migrate(1)
    assert s.schema_version() == 1
    s._begin()
    s._exec("INSERT INTO requests VALUES (7, ?, 0.0, 10.0)", (d,))
    body = dec.certificate.to_json()
    del body["epoch"]                           # version 1 certificates had no epoch
    s._exec("INSERT INTO certificates VALUES (7, 'accepted', ?, ?)",
            (json.dumps(body), dec.certificate.signature))
    s._exec("INSERT INTO decisions VALUES (7, 'accepted', 3, 0, 3.0, 3.0, ?)",
            (json.dumps(dec.to_json()),))
    s._exec("INSERT INTO proofs VALUES (?, 'intel', ?, 7)", (d, b"p" * 1024))
    s._commit()
    s.close()
    return vs


def test_schema_upgrade_from_version_1(store_target):
    """Opening a version-1 database applies step 2 in place: the version row says 2, the new
    tables and column exist, every stored row reads back, and the version-1 certificate
    (signed before epochs existed) verifies as an epoch-0 certificate."""
    from consensus.sources import software_attestation as att
    from consensus.votes import check_certificate
    target = store_target("v1")
    vs = _v1_database(target)
    with open_store(target) as s:
        assert s.schema_version() == SCHEMA_VERSION == 2
        cert = s.certificate(7)
        assert cert.epoch == 0 and s.proofs(bytes(range(24))) == {"intel": b"p" * 1024}
        assert check_certificate(cert, vs, attest=att) is None
        assert s.dump()["certificates"][0][4] == 0          # the new column's default
        assert s.epochs() == [] and s.unbatched() == [7] and s.next_nonce() == 8
    with open_store(target) as s:               # opening again changes nothing
        assert s.schema_version() == 2


def test_schema_newer_than_pqvote_is_refused(store_target):
    target = store_target("new")
    with open_store(target) as s:
        s._exec("UPDATE meta SET value = '99' WHERE key = 'schema'")
    with pytest.raises(StoreError, match="schema 99, newer than this pqvote's 2"):
        open_store(target)


def test_failed_upgrade_step_leaves_previous_version(store_target, monkeypatch):
    """A step that fails half way (its second statement) rolls back whole: the database
    stays at version 1 with none of step 2's changes, and a later open upgrades it."""
    import consensus.store as st
    target = store_target("fail")
    _v1_database(target)
    title, script = st.MIGRATIONS[2]
    monkeypatch.setitem(st.MIGRATIONS, 2, (title, script + "\nCREATE TABLE epochs (x {INT});"))
    with pytest.raises(StoreError, match="unusable"):
        open_store(target)
    monkeypatch.undo()
    s = open_store(target, migrate=False)
    assert s.schema_version() == 1
    with pytest.raises(Exception):              # step 2's first statement was rolled back
        s._exec("SELECT epoch FROM certificates")
    s.close()
    with open_store(target) as s:
        assert s.schema_version() == 2 and s.certificate(7).epoch == 0


def test_record_many_is_all_or_nothing(store_target):
    """The bulk path writes the same rows as ``record`` (one transaction for all), and a
    batch holding an already stored request writes nothing."""
    from consensus.collector import Decision
    from consensus.votes import Certificate

    def item(n):
        d = bytes([n % 256]) * 24
        cert = Certificate(n, d, "accepted", "quorum", 3, 4, (), signature=b"s" * 10)
        dec = Decision(n, d, "accepted", cert, 3, 0, (), 0.0, 2.0)
        return dict(nonce=n, descriptor=d, opened_at=0.0, deadline=9.0, decision=dec,
                    proofs={"intel": bytes([n % 256]) * 1024})

    one, many = store_target("one"), store_target("many")
    with open_store(one) as a, open_store(many) as b:
        for n in range(1, 41):
            a.record(**item(n))
        b.record_many(item(n) for n in range(1, 41))
        assert a.dump() == b.dump() and b.nonces() == list(range(1, 41))
        before = b.dump()
        with pytest.raises(AlreadyDecided):
            b.record_many([item(41), item(7), item(42)])
        assert b.dump() == before
        with pytest.raises(ValueError, match="finite"):
            b.record_many([dict(item(43), deadline=float("nan"))])
        assert b.dump() == before


def test_concurrent_collectors_one_decision(store_target):
    """Two collectors record the same request at once on one store: the one that commits
    first keeps its decision, the other gets AlreadyDecided (SQLite: it waits for the
    write lock, then finds the decision; PostgreSQL: its insert waits on the primary key
    of the first, uncommitted transaction and then fails) — the arbiter between
    collectors (network.arbiter)."""
    import threading
    from consensus.collector import Decision
    target = store_target("race")
    d = bytes(range(24))

    def item(outcome):
        return dict(nonce=9, descriptor=d, opened_at=0.0, deadline=10.0,
                    decision=Decision(9, d, outcome, None, 0, 0, (), 0.0, 10.0))

    open_store(target).close()                  # the schema, before the race
    inside, release = threading.Event(), threading.Event()

    def pause(point):
        if point == "votes":            # the request row is written, not committed
            inside.set()
            release.wait(30)
    results = {}

    def run(name, outcome, boundary=None):      # one connection per thread, as collectors
        with open_store(target) as store:
            if boundary is not None:
                store._boundary = boundary
            try:
                store.record(**item(outcome))
                results[name] = "stored"
            except AlreadyDecided:
                results[name] = "already decided"

    a = threading.Thread(target=run, args=("first", "no_quorum", pause))
    a.start()
    assert inside.wait(30)
    b = threading.Thread(target=run, args=("second", "rejected"))
    b.start()
    b.join(0.5)
    assert b.is_alive()                 # the second waits for the first transaction
    release.set()
    a.join(30)
    b.join(30)
    assert results == {"first": "stored", "second": "already decided"}
    with open_store(target) as s:
        assert s.decision(9)["outcome"] == "no_quorum" and s.nonces() == [9]
