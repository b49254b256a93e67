"""A throwaway local PostgreSQL server for the store tests and ``make bench-store``.

The server binaries come from the ``pgserver`` wheel (PostgreSQL 16, a pinned dependency),
so no system package is needed. The server listens on a Unix socket only (no TCP port), in
a data directory the caller chooses; as root it runs under an unprivileged system user that
``pgserver`` creates (PostgreSQL refuses to run as root).

    with local_postgres(tmp_dir) as pg:
        url = pg.new_database("t1")     # postgresql://… of a fresh, empty database
        url = pg.new_schema("t2")       # … of a fresh schema (cheaper: what the tests use)
"""

import contextlib
import re
import shutil
import warnings
from pathlib import Path

__all__ = ["local_postgres", "LocalPostgres"]


def _import_pgserver():
    with warnings.catch_warnings():
        # platformdirs warns at pgserver's import when XDG_RUNTIME_DIR is unset (CI, root
        # shells) and falls back to /tmp/runtime-<uid>, which is what the server needs.
        warnings.filterwarnings("ignore", message=".*XDG_RUNTIME_DIR.*")
        import pgserver
    return pgserver


class LocalPostgres:
    def __init__(self, server, delete):
        self._server = server
        self._delete = delete
        self._admin = None

    @property
    def url(self) -> str:
        """URL of the server's maintenance database ``postgres``."""
        return self._server.get_uri()

    def new_database(self, name: str) -> str:
        """Create the empty database ``name`` (dropped first if it exists); its URL."""
        self._sql(f"DROP DATABASE IF EXISTS {_ident(name)} WITH (FORCE)",
                  f"CREATE DATABASE {_ident(name)}")
        return self._server.get_uri(name)

    def new_schema(self, name: str) -> str:
        """Create the empty schema ``name`` in the maintenance database (dropped first if it
        exists); the URL of a connection whose tables live in it (``search_path``). Much
        cheaper than a database: no template copy, no files to delete afterwards."""
        self._sql(f"DROP SCHEMA IF EXISTS {_ident(name)} CASCADE",
                  f"CREATE SCHEMA {_ident(name)}")
        return f"{self.url}&options=-csearch_path%3D{name}"

    def _sql(self, *statements):
        import psycopg
        if self._admin is None:
            self._admin = psycopg.connect(self.url, autocommit=True)
        for statement in statements:
            self._admin.execute(statement)

    def close(self):
        """Stop the server at once (``-m immediate``: no shutdown checkpoint, the data is
        deleted anyway) and delete its data directory."""
        if self._admin is not None:
            self._admin.close()
            self._admin = None
        from pgserver._commands import pg_ctl
        try:
            pg_ctl(["-m", "immediate", "-w", "stop"], pgdata=self._server.pgdata,
                   user=self._server.system_user)
        finally:
            self._server.cleanup()          # cleanup_mode None: only its own bookkeeping
            if self._delete:
                shutil.rmtree(self._server.pgdata, ignore_errors=True)


def _ident(name: str) -> str:
    if not re.fullmatch(r"[a-z_][a-z0-9_]{0,62}", name):
        raise ValueError(f"name must be a lower-case SQL identifier, not {name!r}")
    return name


@contextlib.contextmanager
def local_postgres(directory, *, delete=True):
    """A PostgreSQL server with its data in ``directory``/pgdata, stopped on exit and, with
    ``delete``, its data deleted (pytest deletes its own temporary directories)."""
    pgserver = _import_pgserver()
    root = Path(directory)
    root.mkdir(parents=True, exist_ok=True)
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=".*XDG_RUNTIME_DIR.*")
        server = pgserver.get_server(root / "pgdata", cleanup_mode=None)
    pg = LocalPostgres(server, delete)
    try:
        yield pg
    finally:
        pg.close()
