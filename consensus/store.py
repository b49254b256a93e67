"""Durable storage of decisions behind one interface, on SQLite or PostgreSQL.

:class:`SqliteStore` (the embedded default: one file, WAL journal, ``synchronous=FULL``) and
:class:`PostgresStore` (a PostgreSQL server, for a store shared by several collectors or
past what one file holds) run the same SQL through :class:`DecisionStore`; only the column
types, the placeholder style and the locking statement differ (:class:`_Dialect`).
:func:`open_store` picks the backend from its target: a ``postgresql://`` URL or a path.

Tables: ``requests``, ``votes`` (every vote received, counted or refused with its reason),
``certificates`` (at most one per request: the primary key is the nonce; the validator-set
epoch it was decided in), ``decisions``, ``evidence`` (equivocations), the proof store
``proofs`` (the proofs of every accepted descriptor, keyed by descriptor and vendor; the
first acceptance is kept), ``batches`` / ``batch_members`` (signed Merkle roots over
certificates, ``consensus.merkle``) and ``epochs`` (validator-set changes,
``consensus.epochs``).

Each decision is written by :meth:`DecisionStore.record` in one transaction: after a crash
at any point of the commit path the database holds either the whole decision or nothing of
it, and never changes an earlier one. A request that already has a decision is refused
(:class:`AlreadyDecided`) and the stored one is left untouched; on PostgreSQL the primary
key on ``requests.nonce`` makes this hold between concurrent collectors too (the second
insert waits for the first transaction and then fails).

Schema versions (:data:`MIGRATIONS`): the row ``meta('schema')`` holds the version. Opening
a database applies every step above its version, each step and the version update in one
transaction (under a write lock: ``BEGIN IMMEDIATE`` / an advisory lock), so a crash during
an upgrade leaves the previous version. A database newer than this pqvote is refused.

=========  =================================================================================
version    step
=========  =================================================================================
1          the decision tables (requests, decisions, votes, certificates, evidence, proofs)
2          ``certificates.epoch``; tables ``epochs``, ``batches``, ``batch_members``; index
           ``proofs (nonce)`` (retention deletes by request)
=========  =================================================================================

Nonces are unsigned 64-bit integers; SQLite's ``INTEGER`` and PostgreSQL's ``BIGINT`` are
signed 64-bit. Every nonce column therefore holds the signed integer with the same 64 bits
(two's complement: ``N`` below 2^63 as itself, ``N ≥ 2^63`` as ``N − 2^64``), so the whole
uint64 range is stored. :func:`to_db` / :func:`from_db` convert; the store's methods take and
return unsigned nonces.
"""

import abc
import json
import math
import os
import sqlite3

from .collector import Decision
from .votes import Certificate, Evidence, Vote

__all__ = ["DecisionStore", "SqliteStore", "PostgresStore", "Store", "open_store",
           "StoreError", "AlreadyDecided", "NoDatabase", "SCHEMA_VERSION", "MIGRATIONS", "to_db", "from_db",
           "is_postgres_url"]

_U64 = 1 << 64


def to_db(nonce: int) -> int:
    """An unsigned 64-bit nonce as the signed SQL integer with the same bits."""
    if isinstance(nonce, bool) or not isinstance(nonce, int) or not 0 <= nonce < _U64:
        raise ValueError(f"nonce must be an unsigned 64-bit integer, not {nonce!r}")
    return nonce - _U64 if nonce >= 1 << 63 else nonce


def from_db(value: int) -> int:
    """The unsigned nonce stored as ``value`` (inverse of :func:`to_db`)."""
    return value + _U64 if value < 0 else value


# -- schema -----------------------------------------------------------------------------------
# Written once for both databases: {INT} a signed 64-bit integer, {BLOB} bytes, {REAL} a double,
# {ID} an integer primary key the database numbers itself.

MIGRATIONS = {
    1: ("the decision tables", """
CREATE TABLE IF NOT EXISTS meta (
    key   TEXT PRIMARY KEY,
    value TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS requests (
    nonce      {INT} PRIMARY KEY,
    descriptor {BLOB} NOT NULL CHECK (length(descriptor) = 24),
    opened_at  {REAL} NOT NULL,
    deadline   {REAL} NOT NULL
);
CREATE TABLE IF NOT EXISTS decisions (
    nonce      {INT} PRIMARY KEY REFERENCES requests (nonce),
    outcome    TEXT NOT NULL CHECK (outcome IN ('accepted', 'rejected', 'no_quorum')),
    yes        {INT} NOT NULL,
    no         {INT} NOT NULL,
    decided_at {REAL} NOT NULL,
    latency    {REAL} NOT NULL,
    record     TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS votes (
    id           {ID},
    nonce        {INT} NOT NULL REFERENCES requests (nonce),
    validator    TEXT NOT NULL,
    vote         {INT} NOT NULL,
    vote_nonce   {INT} NOT NULL,
    descriptor   {BLOB} NOT NULL,
    proof_digest {BLOB} NOT NULL,
    attestation  {BLOB} NOT NULL,
    counted      {INT} NOT NULL,
    reason       TEXT,
    received_at  {REAL} NOT NULL
);
CREATE INDEX IF NOT EXISTS votes_nonce ON votes (nonce);
CREATE TABLE IF NOT EXISTS certificates (
    nonce     {INT} PRIMARY KEY REFERENCES requests (nonce),
    outcome   TEXT NOT NULL,
    body      TEXT NOT NULL,
    signature {BLOB} NOT NULL
);
CREATE TABLE IF NOT EXISTS evidence (
    id        {ID},
    nonce     {INT} NOT NULL REFERENCES requests (nonce),
    validator TEXT NOT NULL,
    body      TEXT NOT NULL,
    UNIQUE (nonce, validator)
);
CREATE TABLE IF NOT EXISTS proofs (
    descriptor {BLOB} NOT NULL,
    vendor     TEXT NOT NULL,
    proof      {BLOB} NOT NULL,
    nonce      {INT} NOT NULL REFERENCES requests (nonce),
    PRIMARY KEY (descriptor, vendor)
);
"""),
    2: ("certificate epochs, validator-set epochs, batch certificates, proofs by request", """
ALTER TABLE certificates ADD COLUMN epoch {INT} NOT NULL DEFAULT 0;
CREATE TABLE epochs (
    epoch       {INT} PRIMARY KEY,
    start_nonce {INT} NOT NULL,
    nonce       {INT} NOT NULL UNIQUE REFERENCES certificates (nonce),
    body        TEXT NOT NULL
);
CREATE TABLE batches (
    id        {ID},
    epoch     {INT} NOT NULL,
    size      {INT} NOT NULL,
    root      {BLOB} NOT NULL UNIQUE,
    body      TEXT NOT NULL,
    signature {BLOB} NOT NULL
);
CREATE TABLE batch_members (
    nonce    {INT} PRIMARY KEY REFERENCES certificates (nonce),
    batch    {INT} NOT NULL REFERENCES batches (id),
    position {INT} NOT NULL,
    UNIQUE (batch, position)
);
CREATE INDEX proofs_nonce ON proofs (nonce);
"""),
}

SCHEMA_VERSION = max(MIGRATIONS)

#: The points of the commit path, in order (a crash test stops the process at each).
BOUNDARIES = ("begin", "request", "votes", "certificate", "evidence", "proofs", "decision",
              "commit", "committed")

#: Columns compared by :meth:`DecisionStore.dump`, in order (surrogate ids left out: a
#: PostgreSQL sequence does not roll back, so they differ after a crash and a retry).
_DUMP = {
    "requests": ("nonce, descriptor, opened_at, deadline", "nonce"),
    "decisions": ("nonce, outcome, yes, no, decided_at, latency, record", "nonce"),
    "votes": ("nonce, validator, vote, vote_nonce, descriptor, proof_digest, attestation, "
              "counted, reason, received_at", "nonce, id"),
    "certificates": ("nonce, outcome, body, signature, epoch", "nonce"),
    "evidence": ("nonce, validator, body", "nonce, validator"),
    "proofs": ("descriptor, vendor, proof, nonce", "descriptor, vendor"),
}


class StoreError(Exception):
    """The database cannot be used (missing, corrupt, unreachable, wrong schema)."""


class AlreadyDecided(StoreError):
    """The request already has a recorded decision."""


class NoDatabase(StoreError):
    """Opened for reading (``create=False``): there is no pqvote database there."""


def _canon(obj) -> str:
    return json.dumps(obj, sort_keys=True, separators=(",", ":"))


def is_postgres_url(target) -> bool:
    return isinstance(target, str) and target.startswith(("postgresql://", "postgres://"))


def open_store(target, *, create=True, migrate=True) -> "DecisionStore":
    """A store on ``target``: a ``postgresql://`` URL (:class:`PostgresStore`) or a file path
    (:class:`SqliteStore`)."""
    if is_postgres_url(target):
        return PostgresStore(target, create=create, migrate=migrate)
    return SqliteStore(target, create=create, migrate=migrate)


def _check_item(item):
    decision = item["decision"]
    if decision.nonce != item["nonce"] or decision.descriptor != item["descriptor"]:
        raise ValueError("decision does not belong to this request")
    for field, what in (("opened_at", "opening time"), ("deadline", "deadline")):
        t = item[field]
        if isinstance(t, bool) or not isinstance(t, (int, float)) or not math.isfinite(t):
            raise ValueError(f"the {what} must be a finite number, not {t!r}")
    to_db(item["nonce"])


class _Dialect:
    def __init__(self, name, types, placeholder, lock):
        self.name, self.types, self.placeholder, self.lock = name, types, placeholder, lock

    def statements(self, script):
        text = script.format(**self.types)
        return [s.strip() for s in text.split(";") if s.strip()]

    def sql(self, query):
        return query if self.placeholder == "?" else query.replace("?", self.placeholder)


_SQLITE = _Dialect("sqlite", {"INT": "INTEGER", "BLOB": "BLOB", "REAL": "REAL",
                              "ID": "INTEGER PRIMARY KEY"}, "?", "BEGIN IMMEDIATE")
_POSTGRES = _Dialect("postgresql", {"INT": "BIGINT", "BLOB": "BYTEA", "REAL": "DOUBLE PRECISION",
                                    "ID": "BIGINT GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY"},
                     "%s", "BEGIN")


class DecisionStore(abc.ABC):
    """The store interface; subclasses connect (:class:`SqliteStore`, :class:`PostgresStore`).

    Methods: :meth:`record` (one decision, one transaction), :meth:`next_nonce`,
    :meth:`has_decision`, :meth:`decision`, :meth:`certificate`, :meth:`evidence`,
    :meth:`votes`, :meth:`proofs`, :meth:`nonces`, :meth:`record_batch` / :meth:`batch_of` /
    :meth:`unbatched` (batch certificates), :meth:`record_epoch` / :meth:`epochs`
    (validator-set changes), :meth:`schema_version`, :meth:`dump`.
    """

    _dialect: _Dialect
    _integrity_errors: tuple = ()
    name = "store"

    # -- connection-level helpers (the same SQL on both databases) ----------------------------

    def _exec(self, query, params=()):
        return self._db.execute(self._dialect.sql(query), params)

    def _one(self, query, params=()):
        return self._exec(query, params).fetchone()

    def _begin(self):
        self._db.execute(self._dialect.lock)

    def _commit(self):
        self._db.execute("COMMIT")

    def _rollback(self):
        self._db.execute("ROLLBACK")

    def close(self):
        self._db.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    # -- schema ---------------------------------------------------------------------------

    @abc.abstractmethod
    def _has_meta(self) -> bool:
        """Whether the database has the ``meta`` table (a schema of version ≥ 1)."""

    def _lock_schema(self):
        """Inside the migration transaction: serialise concurrent openers."""

    def schema_version(self) -> int:
        """The database's schema version (0: empty)."""
        if not self._has_meta():
            return 0
        row = self._one("SELECT value FROM meta WHERE key = 'schema'")
        return int(row[0]) if row else 0

    def _migrate(self, target=None, *, create=True):
        """Apply every step of :data:`MIGRATIONS` above the database's version up to
        ``target`` (default :data:`SCHEMA_VERSION`), each in one transaction."""
        target = SCHEMA_VERSION if target is None else target
        while True:
            self._begin()
            try:
                self._lock_schema()
                version = self.schema_version()
                if version > SCHEMA_VERSION:
                    raise StoreError(f"database {self._where} has schema {version}, newer than "
                                     f"this pqvote's {SCHEMA_VERSION}")
                if version == 0 and not create:
                    raise NoDatabase(f"no pqvote database at {self._where}")
                if version >= target:
                    self._commit()
                    return
                step = version + 1
                for statement in self._dialect.statements(MIGRATIONS[step][1]):
                    self._db.execute(statement)
                if version == 0:
                    self._exec("INSERT INTO meta VALUES ('schema', ?)", (str(step),))
                else:
                    self._exec("UPDATE meta SET value = ? WHERE key = 'schema'", (str(step),))
                self._commit()
            except BaseException:
                self._rollback()
                raise

    # -- commit path ----------------------------------------------------------------------

    def _boundary(self, name):
        """A point of the commit path (the crash-consistency test stops the process here)."""

    def next_nonce(self) -> int:
        """One more than the largest stored nonce (1 for an empty store)."""
        # Stored nonces ≥ 2^63 are negative: the largest unsigned one is the largest
        # negative value if there is any, else the largest non-negative one.
        high = self._one("SELECT max(nonce) FROM requests WHERE nonce < 0")[0]
        low = self._one("SELECT max(nonce) FROM requests WHERE nonce >= 0")[0]
        top = high if high is not None else low
        if top is None:
            return 1
        if from_db(top) == _U64 - 1:
            raise StoreError("no next nonce: the largest 64-bit nonce is already stored")
        return from_db(top) + 1

    def has_decision(self, nonce) -> bool:
        return self._one("SELECT 1 FROM decisions WHERE nonce = ?", (to_db(nonce),)) is not None

    def record(self, *, nonce, descriptor, opened_at, deadline, decision: Decision,
               votes=(), evidence=(), proofs=None):
        """Write one decision and everything belonging to it in one transaction.

        ``votes`` are ``(vote, counted, reason, received_at)`` tuples (every vote received for
        the request), ``evidence`` :class:`Evidence` objects, ``proofs`` a ``{vendor: bytes}``
        map stored under the descriptor when the decision is ``accepted``.
        """
        item = dict(nonce=nonce, descriptor=descriptor, opened_at=opened_at, deadline=deadline,
                    decision=decision, votes=votes, evidence=evidence, proofs=proofs)
        _check_item(item)
        self._boundary("begin")
        self._begin()
        try:
            if self.has_decision(nonce):
                raise AlreadyDecided(f"request {nonce} already has a decision")
            if self._one("SELECT 1 FROM requests WHERE nonce = ?", (to_db(nonce),)):
                raise AlreadyDecided(f"request {nonce} already exists")
            self._write(item, self._boundary)
            self._boundary("commit")
            self._commit()
        except BaseException:
            self._rollback()
            raise
        self._boundary("committed")

    def record_many(self, items):
        """Write many decisions (dicts of :meth:`record`'s arguments) in one transaction:
        all or none. The bulk path (imports, replication, ``make bench-store``): the same rows
        as :meth:`record`, inserted table by table (``executemany``), with no existence checks
        before the inserts; a request already stored fails the whole call with
        :class:`AlreadyDecided`."""
        items = list(items)
        for item in items:
            _check_item(item)
        by_statement = {}
        for item in items:
            for sql, params, _ in self._statements(item):
                if sql is not None:
                    by_statement.setdefault(sql, []).append(params)
        self._begin()
        try:
            cur = self._db.cursor()
            for sql, rows in by_statement.items():       # dicts keep the commit-path order
                cur.executemany(self._dialect.sql(sql), rows)
            self._commit()
        except self._integrity_errors:
            self._rollback()
            raise AlreadyDecided("a request of the batch is already stored") from None
        except BaseException:
            self._rollback()
            raise

    def _write(self, item, boundary):
        """The inserts of one decision (inside a transaction), with the commit-path
        boundaries between them."""
        first = True
        for sql, params, point in self._statements(item):
            if first:
                try:
                    self._exec(sql, params)
                except self._integrity_errors:
                    # another collector inserted the request between our check and insert
                    raise AlreadyDecided(f"request {item['nonce']} was decided "
                                         f"concurrently") from None
                first = False
            elif sql is not None:
                self._exec(sql, params)
            if point is not None:
                boundary(point)

    @staticmethod
    def _statements(item):
        """``(sql, params, boundary after it or None)`` for every row of one decision, in
        commit-path order (a ``None`` statement only marks a boundary)."""
        nonce, descriptor, decision = item["nonce"], item["descriptor"], item["decision"]
        key = to_db(nonce)
        yield ("INSERT INTO requests VALUES (?, ?, ?, ?)",
               (key, bytes(descriptor), float(item["opened_at"]), float(item["deadline"])),
               "request")
        for vote, counted, reason, at in item.get("votes") or ():
            if not isinstance(vote, Vote) or not vote.well_formed():
                continue            # malformed input is counted, never stored
            yield ("INSERT INTO votes (nonce, validator, vote, vote_nonce, descriptor,"
                   " proof_digest, attestation, counted, reason, received_at)"
                   " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                   (key, vote.validator, int(vote.vote), to_db(vote.nonce), vote.descriptor,
                    vote.proof_digest, vote.attestation, int(counted), reason, float(at)), None)
        yield None, None, "votes"
        cert = decision.certificate
        if cert is not None:
            yield ("INSERT INTO certificates (nonce, outcome, body, signature, epoch)"
                   " VALUES (?, ?, ?, ?, ?)",
                   (key, cert.outcome, _canon(cert.to_json()), cert.signature, cert.epoch), None)
        yield None, None, "certificate"
        for ev in item.get("evidence") or ():
            yield ("INSERT INTO evidence (nonce, validator, body) VALUES (?, ?, ?)"
                   " ON CONFLICT DO NOTHING",
                   (to_db(ev.nonce), ev.validator, _canon(ev.to_json())), None)
        yield None, None, "evidence"
        proofs = item.get("proofs")
        if decision.outcome == "accepted" and proofs:
            for vendor in sorted(proofs):
                yield ("INSERT INTO proofs VALUES (?, ?, ?, ?) ON CONFLICT DO NOTHING",
                       (bytes(descriptor), vendor, bytes(proofs[vendor]), key), None)
        yield None, None, "proofs"
        yield ("INSERT INTO decisions VALUES (?, ?, ?, ?, ?, ?, ?)",
               (key, decision.outcome, decision.yes, decision.no, float(decision.decided_at),
                float(decision.latency), _canon(decision.to_json())), "decision")

    def add_evidence(self, evidence):
        """Record equivocation evidence found after the request's decision was stored (by
        a collector that lost the race to the store: ``network.arbiter``). One transaction;
        evidence already recorded for that validator and request is kept as it is."""
        self._begin()
        try:
            for ev in evidence:
                self._exec("INSERT INTO evidence (nonce, validator, body) VALUES (?, ?, ?)"
                           " ON CONFLICT DO NOTHING",
                           (to_db(ev.nonce), ev.validator, _canon(ev.to_json())))
            self._commit()
        except BaseException:
            self._rollback()
            raise

    # -- batch certificates (consensus.merkle) ---------------------------------------------

    def unbatched(self, limit=None) -> list:
        """Nonces of stored certificates that are in no batch yet, in nonce order of
        recording (unsigned nonces)."""
        q = ("SELECT c.nonce FROM certificates c LEFT JOIN batch_members m ON m.nonce = c.nonce"
             " WHERE m.nonce IS NULL ORDER BY c.nonce")
        if limit is not None:
            q += f" LIMIT {int(limit)}"
        return [from_db(r[0]) for r in self._exec(q)]

    def record_batch(self, root, nonces):
        """Store a signed batch root (``consensus.merkle.BatchRoot``) and the position of
        each certificate in it, in one transaction; a certificate already in a batch is
        refused (:class:`StoreError`) and nothing is written."""
        nonces = list(nonces)
        if len(nonces) != root.size:
            raise ValueError(f"the batch holds {root.size} certificates, not {len(nonces)}")
        self._begin()
        try:
            for n in nonces:
                if self._one("SELECT 1 FROM certificates WHERE nonce = ?", (to_db(n),)) is None:
                    raise StoreError(f"request {n} has no certificate to batch")
                if self._one("SELECT 1 FROM batch_members WHERE nonce = ?", (to_db(n),)):
                    raise StoreError(f"the certificate of request {n} is already in a batch")
            body = _canon(root.to_json())
            self._exec("INSERT INTO batches (epoch, size, root, body, signature)"
                       " VALUES (?, ?, ?, ?, ?)",
                       (root.epoch, root.size, root.root, body, root.signature))
            batch = self._one("SELECT id FROM batches WHERE root = ?", (root.root,))[0]
            for i, n in enumerate(nonces):
                self._exec("INSERT INTO batch_members VALUES (?, ?, ?)", (to_db(n), batch, i))
            self._commit()
        except BaseException:
            self._rollback()
            raise
        return batch

    def batch_of(self, nonce):
        """``(root JSON, position, [certificate JSON of every member in order])`` for the
        batch holding ``nonce``'s certificate, or ``None``."""
        row = self._one("SELECT batch, position FROM batch_members WHERE nonce = ?",
                        (to_db(nonce),))
        if row is None:
            return None
        batch, position = row
        body = self._one("SELECT body FROM batches WHERE id = ?", (batch,))[0]
        members = self._exec("SELECT c.body FROM batch_members m JOIN certificates c"
                             " ON c.nonce = m.nonce WHERE m.batch = ? ORDER BY m.position",
                             (batch,)).fetchall()
        return json.loads(body), position, [json.loads(r[0]) for r in members]

    # -- validator-set epochs (consensus.epochs) -------------------------------------------

    def record_epoch(self, epoch: int, start_nonce: int, nonce: int, body: dict):
        """Store the change that opens ``epoch`` (decided by the certificate of ``nonce``);
        epochs are stored in order, each once."""
        self._begin()
        try:
            if self._one("SELECT 1 FROM certificates WHERE nonce = ?", (to_db(nonce),)) is None:
                raise StoreError(f"request {nonce} has no certificate for the set change")
            top = self._one("SELECT max(epoch) FROM epochs")[0]
            expected = 1 if top is None else top + 1
            if epoch != expected:
                raise StoreError(f"epoch {epoch} cannot follow the stored epoch {top or 0}")
            self._exec("INSERT INTO epochs VALUES (?, ?, ?, ?)",
                       (epoch, to_db(start_nonce), to_db(nonce), _canon(body)))
            self._commit()
        except BaseException:
            self._rollback()
            raise

    def epochs(self) -> list:
        """Every stored set change, ``(epoch, start_nonce, nonce, body)`` in epoch order."""
        return [(r[0], from_db(r[1]), from_db(r[2]), json.loads(r[3])) for r in
                self._exec("SELECT epoch, start_nonce, nonce, body FROM epochs ORDER BY epoch")]

    # -- reads ----------------------------------------------------------------------------

    def decision(self, nonce) -> dict | None:
        row = self._one("SELECT record FROM decisions WHERE nonce = ?", (to_db(nonce),))
        return json.loads(row[0]) if row else None

    def certificate(self, nonce) -> Certificate | None:
        row = self._one("SELECT body FROM certificates WHERE nonce = ?", (to_db(nonce),))
        return Certificate.from_json(json.loads(row[0])) if row else None

    def evidence(self, nonce=None) -> list:
        if nonce is None:
            rows = self._exec("SELECT body FROM evidence ORDER BY nonce, validator")
        else:
            rows = self._exec("SELECT body FROM evidence WHERE nonce = ? ORDER BY validator",
                              (to_db(nonce),))
        return [Evidence.from_json(json.loads(r[0])) for r in rows]

    def votes(self, nonce) -> list:
        rows = self._exec(
            "SELECT validator, vote_nonce, descriptor, vote, proof_digest, attestation,"
            " counted, reason, received_at FROM votes WHERE nonce = ? ORDER BY id",
            (to_db(nonce),))
        return [(Vote(r[0], from_db(r[1]), bytes(r[2]), bool(r[3]), bytes(r[4]), bytes(r[5])),
                 bool(r[6]), r[7], r[8]) for r in rows]

    def proofs(self, descriptor: bytes) -> dict:
        rows = self._exec("SELECT vendor, proof FROM proofs WHERE descriptor = ? "
                          "ORDER BY vendor", (bytes(descriptor),))
        return {vendor: bytes(proof) for vendor, proof in rows}

    def nonces(self) -> list:
        return sorted(from_db(r[0]) for r in self._exec("SELECT nonce FROM decisions"))

    def dump(self) -> dict:
        """Every decision table's rows without surrogate ids (for consistency checks)."""
        out = {}
        for table, (columns, order) in _DUMP.items():
            rows = self._exec(f"SELECT {columns} FROM {table} ORDER BY {order}").fetchall()
            out[table] = [tuple(bytes(v) if isinstance(v, memoryview) else v for v in r)
                          for r in rows]
        return out


class SqliteStore(DecisionStore):
    """A decision store in one SQLite file (WAL journal, ``synchronous=FULL``).

    Parameters
    ----------
    path : str or path
        Database file; created (with its schema) unless ``create=False``.
    create : bool
        ``False``: the file must exist (read paths such as ``pqvote proofs get``).
    migrate : bool
        ``False``: open without upgrading the schema (tests of the upgrade steps).
    """

    _dialect = _SQLITE
    _integrity_errors = (sqlite3.IntegrityError,)
    name = "sqlite"

    def __init__(self, path, *, create=True, migrate=True):
        self._path = os.fspath(path)
        self._where = self._path
        if not create and not os.path.exists(self._path):
            raise NoDatabase(f"no database at {self._path}")
        try:
            self._db = sqlite3.connect(self._path, isolation_level=None, timeout=30)
        except sqlite3.Error as e:
            raise StoreError(f"cannot open database {self._path}: {e}") from None
        try:
            self._db.execute("PRAGMA foreign_keys = ON")
            mode = self._db.execute("PRAGMA journal_mode = WAL").fetchone()[0]
            self._db.execute("PRAGMA synchronous = FULL")
            if mode.lower() != "wal":
                raise StoreError(f"database {self._path} is not in WAL mode ({mode})")
            ok = self._db.execute("PRAGMA quick_check").fetchone()[0]
            if ok != "ok":
                raise StoreError(f"database {self._path} is corrupt: {ok}")
            if migrate:
                self._migrate()
        except sqlite3.DatabaseError as e:
            self._db.close()
            raise StoreError(f"database {self._path} is unusable: {e}") from None
        except BaseException:
            self._db.close()
            raise

    def _has_meta(self):
        return self._db.execute("SELECT 1 FROM sqlite_master WHERE type = 'table' "
                                "AND name = 'meta'").fetchone() is not None


class PostgresStore(DecisionStore):
    """A decision store in a PostgreSQL database (psycopg 3).

    Parameters
    ----------
    url : str
        ``postgresql://…`` connection URL of an existing database; the tables are created
        in it unless ``create=False`` (then they must exist).
    create, migrate : bool
        As for :class:`SqliteStore`.
    """

    _dialect = _POSTGRES
    name = "postgresql"

    def __init__(self, url, *, create=True, migrate=True):
        import psycopg
        self._integrity_errors = (psycopg.errors.UniqueViolation,)
        self._where = _redact(url)
        try:
            self._db = psycopg.connect(url, autocommit=True, connect_timeout=30)
        except psycopg.Error as e:
            raise StoreError(f"cannot connect to {self._where}: "
                             f"{' '.join(str(e).split())}") from None
        try:
            if migrate:
                self._migrate(create=create)
        except psycopg.Error as e:
            self._db.close()
            raise StoreError(f"database {self._where} is unusable: "
                             f"{' '.join(str(e).split())}") from None
        except BaseException:
            self._db.close()
            raise

    def _has_meta(self):
        return self._db.execute("SELECT to_regclass('meta')").fetchone()[0] is not None

    def _lock_schema(self):
        # one upgrader at a time; released at COMMIT / ROLLBACK
        self._db.execute("SELECT pg_advisory_xact_lock(7046000001)")


def _redact(url: str) -> str:
    """``url`` without a password (error messages name the database, never the secret)."""
    scheme, sep, rest = url.partition("://")
    creds, at, host = rest.rpartition("@")
    if not at:
        return url
    user = creds.split(":", 1)[0]
    return f"{scheme}{sep}{user}@{host}"


#: The embedded default, under its original name.
Store = SqliteStore
