"""``make sim``: run every cocotb bench under Verilator and print a summary table
(bench, result, time, measured cycles)."""

import subprocess
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

from sim import results

ROOT = Path(__file__).resolve().parent.parent


def main():
    benches = sorted(str(p) for p in (ROOT / "tests").glob("test_*_rtl.py"))
    benches += [str(ROOT / "tests" / name) for name in ("test_runner.py", "test_backends.py")]
    junit = ROOT / "build" / "sim-results.xml"
    junit.parent.mkdir(exist_ok=True)
    rc = subprocess.run([sys.executable, "-m", "pytest", "-q", f"--junitxml={junit}", *benches],
                        cwd=ROOT).returncode
    print(f"\n{'bench':64} {'result':6} {'time/s':>7}")
    for case in ET.parse(junit).getroot().iter("testcase"):
        name = f"{case.get('classname', '').rsplit('.', 1)[-1]}::{case.get('name')}"
        failed = case.find("failure") is not None or case.find("error") is not None
        skipped = case.find("skipped") is not None
        state = "FAIL" if failed else "skip" if skipped else "pass"
        print(f"{name[:64]:64} {state:6} {float(case.get('time', 0)):7.1f}")
    figures = results.load_all()
    if figures:
        print(f"\n{'measured':24} figures (cycles, from simulation)")
        for bench, data in figures.items():
            shown = ", ".join(f"{k}={v}" for k, v in sorted(data.items()))
            print(f"{bench:24} {shown}")
    return rc


if __name__ == "__main__":
    sys.exit(main())
