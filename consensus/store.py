"""Durable storage of decisions: SQLite in WAL mode with ``synchronous=FULL``.

Tables: ``requests``, ``votes`` (every vote received, counted or refused with its reason),
``certificates`` (at most one per request: the primary key is the nonce), ``decisions``,
``evidence`` (equivocations), and the proof store ``proofs`` (the proofs of every accepted
descriptor, keyed by descriptor and vendor; the first acceptance is kept).

Each decision is written by :meth:`Store.record` in one transaction (``BEGIN IMMEDIATE`` …
``COMMIT``): after a crash at any point of the commit path the database holds either the
whole decision or nothing of it, and never changes an earlier one. A request that already
has a decision is refused (:class:`AlreadyDecided`) and the stored one is left untouched.

Nonces are unsigned 64-bit integers; SQLite's ``INTEGER`` is signed 64-bit. Every nonce
column (``nonce``, ``vote_nonce``) therefore holds the signed integer with the same 64 bits
(two's complement: ``N`` below 2^63 as itself, ``N ≥ 2^63`` as ``N − 2^64``), so the whole
uint64 range is stored and databases written before this encoding read unchanged.
:func:`to_db` / :func:`from_db` convert; the store's methods take and return unsigned nonces.
"""

import json
import math
import os
import sqlite3

from .collector import Decision
from .votes import Certificate, Evidence, Vote

__all__ = ["Store", "StoreError", "AlreadyDecided", "SCHEMA_VERSION", "to_db", "from_db"]

_U64 = 1 << 64


def to_db(nonce: int) -> int:
    """An unsigned 64-bit nonce as the signed SQLite integer with the same bits."""
    if isinstance(nonce, bool) or not isinstance(nonce, int) or not 0 <= nonce < _U64:
        raise ValueError(f"nonce must be an unsigned 64-bit integer, not {nonce!r}")
    return nonce - _U64 if nonce >= 1 << 63 else nonce


def from_db(value: int) -> int:
    """The unsigned nonce stored as ``value`` (inverse of :func:`to_db`)."""
    return value + _U64 if value < 0 else value

SCHEMA_VERSION = 1

_SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (
    key   TEXT PRIMARY KEY,
    value TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS requests (
    nonce      INTEGER PRIMARY KEY,
    descriptor BLOB NOT NULL CHECK (length(descriptor) = 24),
    opened_at  REAL NOT NULL,
    deadline   REAL NOT NULL
);
CREATE TABLE IF NOT EXISTS decisions (
    nonce      INTEGER PRIMARY KEY REFERENCES requests (nonce),
    outcome    TEXT NOT NULL CHECK (outcome IN ('accepted', 'rejected', 'no_quorum')),
    yes        INTEGER NOT NULL,
    no         INTEGER NOT NULL,
    decided_at REAL NOT NULL,
    latency    REAL NOT NULL,
    record     TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS votes (
    id           INTEGER PRIMARY KEY,
    nonce        INTEGER NOT NULL REFERENCES requests (nonce),
    validator    TEXT NOT NULL,
    vote         INTEGER NOT NULL,
    vote_nonce   INTEGER NOT NULL,
    descriptor   BLOB NOT NULL,
    proof_digest BLOB NOT NULL,
    attestation  BLOB NOT NULL,
    counted      INTEGER NOT NULL,
    reason       TEXT,
    received_at  REAL NOT NULL
);
CREATE INDEX IF NOT EXISTS votes_nonce ON votes (nonce);
CREATE TABLE IF NOT EXISTS certificates (
    nonce     INTEGER PRIMARY KEY REFERENCES requests (nonce),
    outcome   TEXT NOT NULL,
    body      TEXT NOT NULL,
    signature BLOB NOT NULL
);
CREATE TABLE IF NOT EXISTS evidence (
    id        INTEGER PRIMARY KEY,
    nonce     INTEGER NOT NULL REFERENCES requests (nonce),
    validator TEXT NOT NULL,
    body      TEXT NOT NULL,
    UNIQUE (nonce, validator)
);
CREATE TABLE IF NOT EXISTS proofs (
    descriptor BLOB NOT NULL,
    vendor     TEXT NOT NULL,
    proof      BLOB NOT NULL,
    nonce      INTEGER NOT NULL REFERENCES requests (nonce),
    PRIMARY KEY (descriptor, vendor)
);
"""

#: The points of the commit path, in order (a crash test stops the process at each).
BOUNDARIES = ("begin", "request", "votes", "certificate", "evidence", "proofs", "decision",
              "commit", "committed")


class StoreError(Exception):
    """The database cannot be used (missing, corrupt, wrong schema)."""


class AlreadyDecided(StoreError):
    """The request already has a recorded decision."""


def _canon(obj) -> str:
    return json.dumps(obj, sort_keys=True, separators=(",", ":"))


class Store:
    """A decision store in one SQLite file.

    Parameters
    ----------
    path : str
        Database file; created (with its schema) unless ``create=False``.
    create : bool
        ``False``: the file must exist (read paths such as ``pqvote proofs get``).
    """

    def __init__(self, path, *, create=True):
        self._path = os.fspath(path)
        if not create and not os.path.exists(self._path):
            raise StoreError(f"no database at {self._path}")
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
            self._db.executescript(_SCHEMA)         # idempotent
            self._db.execute("BEGIN IMMEDIATE")
            try:
                row = self._db.execute("SELECT value FROM meta WHERE key = 'schema'").fetchone()
                if row is None:
                    self._db.execute("INSERT INTO meta VALUES ('schema', ?)",
                                     (str(SCHEMA_VERSION),))
                elif row[0] != str(SCHEMA_VERSION):
                    raise StoreError(f"database {self._path} has schema {row[0]}, "
                                     f"expected {SCHEMA_VERSION}")
                self._db.execute("COMMIT")
            except BaseException:
                self._db.execute("ROLLBACK")
                raise
        except sqlite3.DatabaseError as e:
            self._db.close()
            raise StoreError(f"database {self._path} is unusable: {e}") from None

    def close(self):
        self._db.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    # -- commit path ------------------------------------------------------------------------

    def _boundary(self, name):
        """A point of the commit path (the crash-consistency test stops the process here)."""

    def next_nonce(self) -> int:
        """One more than the largest stored nonce (1 for an empty store)."""
        # Stored nonces ≥ 2^63 are negative: the largest unsigned one is the largest
        # negative value if there is any, else the largest non-negative one.
        high = self._db.execute("SELECT max(nonce) FROM requests WHERE nonce < 0").fetchone()[0]
        low = self._db.execute("SELECT max(nonce) FROM requests WHERE nonce >= 0").fetchone()[0]
        top = high if high is not None else low
        if top is None:
            return 1
        if from_db(top) == _U64 - 1:
            raise StoreError("no next nonce: the largest 64-bit nonce is already stored")
        return from_db(top) + 1

    def has_decision(self, nonce) -> bool:
        return self._db.execute("SELECT 1 FROM decisions WHERE nonce = ?",
                                (to_db(nonce),)).fetchone() is not None

    def record(self, *, nonce, descriptor, opened_at, deadline, decision: Decision,
               votes=(), evidence=(), proofs=None):
        """Write one decision and everything belonging to it in one transaction.

        ``votes`` are ``(vote, counted, reason, received_at)`` tuples (every vote received for
        the request), ``evidence`` :class:`Evidence` objects, ``proofs`` a ``{vendor: bytes}``
        map stored under the descriptor when the decision is ``accepted``.
        """
        if decision.nonce != nonce or decision.descriptor != descriptor:
            raise ValueError("decision does not belong to this request")
        for t, what in ((opened_at, "opening time"), (deadline, "deadline")):
            if isinstance(t, bool) or not isinstance(t, (int, float)) or not math.isfinite(t):
                raise ValueError(f"the {what} must be a finite number, not {t!r}")
        key = to_db(nonce)
        db = self._db
        self._boundary("begin")
        db.execute("BEGIN IMMEDIATE")
        try:
            if self.has_decision(nonce):
                raise AlreadyDecided(f"request {nonce} already has a decision")
            if db.execute("SELECT 1 FROM requests WHERE nonce = ?", (key,)).fetchone():
                raise AlreadyDecided(f"request {nonce} already exists")
            db.execute("INSERT INTO requests VALUES (?, ?, ?, ?)",
                       (key, descriptor, opened_at, deadline))
            self._boundary("request")
            for vote, counted, reason, at in votes:
                if not isinstance(vote, Vote) or not vote.well_formed():
                    continue            # malformed input is counted, never stored
                db.execute("INSERT INTO votes (nonce, validator, vote, vote_nonce, descriptor,"
                           " proof_digest, attestation, counted, reason, received_at)"
                           " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                           (key, vote.validator, int(vote.vote), to_db(vote.nonce),
                            vote.descriptor,
                            vote.proof_digest, vote.attestation, int(counted), reason, at))
            self._boundary("votes")
            cert = decision.certificate
            if cert is not None:
                db.execute("INSERT INTO certificates VALUES (?, ?, ?, ?)",
                           (key, cert.outcome, _canon(cert.to_json()), cert.signature))
            self._boundary("certificate")
            for ev in evidence:
                db.execute("INSERT OR IGNORE INTO evidence (nonce, validator, body) "
                           "VALUES (?, ?, ?)", (to_db(ev.nonce), ev.validator,
                                                    _canon(ev.to_json())))
            self._boundary("evidence")
            if decision.outcome == "accepted" and proofs:
                for vendor in sorted(proofs):
                    db.execute("INSERT OR IGNORE INTO proofs VALUES (?, ?, ?, ?)",
                               (descriptor, vendor, bytes(proofs[vendor]), key))
            self._boundary("proofs")
            db.execute("INSERT INTO decisions VALUES (?, ?, ?, ?, ?, ?, ?)",
                       (key, decision.outcome, decision.yes, decision.no,
                        decision.decided_at, decision.latency, _canon(decision.to_json())))
            self._boundary("decision")
            self._boundary("commit")
            db.execute("COMMIT")
        except BaseException:
            db.execute("ROLLBACK")
            raise
        self._boundary("committed")

    def add_evidence(self, evidence):
        """Record equivocation evidence found after the request's decision was stored (by
        a collector that lost the race to the store: ``network.arbiter``). One transaction;
        evidence already recorded for that validator and request is kept as it is."""
        db = self._db
        db.execute("BEGIN IMMEDIATE")
        try:
            for ev in evidence:
                db.execute("INSERT OR IGNORE INTO evidence (nonce, validator, body) "
                           "VALUES (?, ?, ?)", (to_db(ev.nonce), ev.validator,
                                                _canon(ev.to_json())))
            db.execute("COMMIT")
        except BaseException:
            db.execute("ROLLBACK")
            raise

    # -- reads ------------------------------------------------------------------------------

    def decision(self, nonce) -> dict | None:
        row = self._db.execute("SELECT record FROM decisions WHERE nonce = ?",
                               (to_db(nonce),)).fetchone()
        return json.loads(row[0]) if row else None

    def certificate(self, nonce) -> Certificate | None:
        row = self._db.execute("SELECT body FROM certificates WHERE nonce = ?",
                               (to_db(nonce),)).fetchone()
        return Certificate.from_json(json.loads(row[0])) if row else None

    def evidence(self, nonce=None) -> list:
        if nonce is None:
            rows = self._db.execute("SELECT body FROM evidence ORDER BY nonce, validator")
        else:
            rows = self._db.execute("SELECT body FROM evidence WHERE nonce = ? "
                                    "ORDER BY validator", (to_db(nonce),))
        return [Evidence.from_json(json.loads(r[0])) for r in rows]

    def votes(self, nonce) -> list:
        rows = self._db.execute(
            "SELECT validator, vote_nonce, descriptor, vote, proof_digest, attestation,"
            " counted, reason, received_at FROM votes WHERE nonce = ? ORDER BY id",
            (to_db(nonce),))
        return [(Vote(r[0], from_db(r[1]), r[2], bool(r[3]), r[4], r[5]), bool(r[6]), r[7], r[8])
                for r in rows]

    def proofs(self, descriptor: bytes) -> dict:
        rows = self._db.execute("SELECT vendor, proof FROM proofs WHERE descriptor = ? "
                                "ORDER BY vendor", (bytes(descriptor),))
        return {vendor: bytes(proof) for vendor, proof in rows}

    def nonces(self) -> list:
        return sorted(from_db(r[0]) for r in self._db.execute("SELECT nonce FROM decisions"))

    def dump(self) -> dict:
        """Every table's rows (for consistency checks)."""
        out = {}
        for table in ("requests", "decisions", "votes", "certificates", "evidence", "proofs"):
            out[table] = self._db.execute(f"SELECT * FROM {table} ORDER BY 1").fetchall()
        return out
