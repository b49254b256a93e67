"""Every failing test reports the seed that reproduces it (``PQVOTE_SEED``)."""

import os

import pytest


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    outcome = yield
    report = outcome.get_result()
    if report.failed:
        seed = os.environ.get("PQVOTE_SEED")
        report.sections.append(("PQVOTE_SEED", f"PQVOTE_SEED={seed} reproduces this run"
                                if seed is not None else
                                "PQVOTE_SEED unset: every seeded test used its default seed"))


# -- stores ------------------------------------------------------------------------------------
# The decision-store tests run against both backends: SQLite files and one local PostgreSQL
# server per test session (xdist worker), started from the pinned `pgserver` wheel; each test
# gets a fresh schema on it (a URL whose search_path is that schema).

STORES = ("sqlite", "postgresql")


@pytest.fixture(scope="session")
def postgres():
    # The data directory lives outside pytest's numbered temporary directories: those of
    # old sessions are deleted by later sessions, and a PostgreSQL server whose data
    # directory disappears shuts itself down.
    import shutil
    import tempfile
    from tools.pglocal import local_postgres
    root = tempfile.mkdtemp(prefix="pqvote-pg-")
    try:
        with local_postgres(root) as pg:
            yield pg
    finally:
        shutil.rmtree(root, ignore_errors=True)


@pytest.fixture(params=STORES)
def store_target(request, tmp_path):
    """``new(name)`` → the target of a fresh, empty store (a file path, or a postgresql://
    URL of a fresh schema) of the parametrized backend; ``open_store`` opens it."""
    import itertools
    counter = itertools.count()
    if request.param == "sqlite":
        def new(name="db"):
            return str(tmp_path / f"{name}-{next(counter)}.db")
    else:
        pg = request.getfixturevalue("postgres")
        base = "".join(c for c in request.node.name.lower() if c.isalnum())[:40]

        def new(name="db"):
            return pg.new_schema(f"t_{base}_{name.lower()}_{next(counter)}")
    new.kind = request.param
    return new


# -- the command line --------------------------------------------------------------------------

#: The descriptor the command-line tests mint for (hex).
CLI_DESCRIPTOR = bytes(range(24)).hex()


@pytest.fixture
def cli(capsys):
    """``cli(*argv)`` → ``(exit code, stdout, stderr)`` of one ``pqvote`` command (arguments
    may be paths or numbers)."""
    from pqvote.cli import main

    def run(*argv):
        code = main([str(a) for a in argv])
        out, err = capsys.readouterr()
        return code, out, err
    return run


@pytest.fixture(scope="module")
def cluster(tmp_path_factory):
    """A provisioned cluster and one proofs file minted for :data:`CLI_DESCRIPTOR`, shared by
    a test module (keygen + mint take ~2 s): ``(keys directory, proofs file)``."""
    from pqvote.cli import main
    root = tmp_path_factory.mktemp("cli")
    keys = root / "keys"
    assert main(["keygen", "--out", str(keys)]) == 0
    assert main(["mint", "--keys", str(keys), "--descriptor", CLI_DESCRIPTOR,
                 "--out", str(root / "proofs.json")]) == 0
    print(f"cluster keys (pqcrypto, OS randomness) recorded in {keys}")
    return keys, root / "proofs.json"
