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
