"""The import-layer contracts of pyproject.toml ([tool.importlinter]): they hold on the tree,
and a single wrong arrow — a function-local import included — breaks them."""

import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PACKAGES = ("golden", "hdl", "sim", "backends", "consensus", "network", "pqvote", "tools", "tests")


def lint_imports(root):
    """Run ``lint-imports`` on the tree at ``root``; returns (exit code, output)."""
    exe = Path(sys.executable).with_name("lint-imports")
    p = subprocess.run([str(exe), "--no-cache", "--config", str(root / "pyproject.toml")],
                       cwd=root, capture_output=True, text=True)
    return p.returncode, p.stdout + p.stderr


def test_layers_point_down():
    code, out = lint_imports(ROOT)
    assert code == 0, out
    assert "2 kept, 0 broken" in out, out


def _copy(tmp_path):
    for pkg in PACKAGES:
        shutil.copytree(ROOT / pkg, tmp_path / pkg,
                        ignore=shutil.ignore_patterns("__pycache__", "vectors", "*.pyc"))
    shutil.copy(ROOT / "pyproject.toml", tmp_path)
    return tmp_path


def test_a_wrong_arrow_breaks_the_contract(tmp_path):
    """Negative control: one upward import, hidden inside a function, fails the layers
    contract; one import of tests/ fails the other."""
    root = _copy(tmp_path)
    keccak = root / "hdl" / "keccak.py"
    keccak.write_text(keccak.read_text() + "\n\ndef _upward():\n    from consensus import votes\n"
                      "    return votes\n")
    code, out = lint_imports(root)
    assert code != 0 and "hdl.keccak -> consensus.votes" in out, out
    assert "1 kept, 1 broken" in out, out

    root = _copy(tmp_path / "second")
    runner = root / "sim" / "runner.py"
    runner.write_text(runner.read_text() + "\n\ndef _helper():\n    import tests.test_runner\n"
                      "    return tests.test_runner\n")
    code, out = lint_imports(root)
    assert code != 0 and "sim.runner -> tests.test_runner" in out, out
