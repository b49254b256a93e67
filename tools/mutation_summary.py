"""Summarise a ``make mutation`` run (mutmut 3) into a committed JSON file.

Reads the per-module result files mutmut leaves in ``mutants/`` (``<module>.py.meta``),
keeps the mutants whose names match the patterns given (mutmut's own name patterns, e.g.
``consensus.merkle*``), counts them per module and status, and lists every survivor with
its diff and, for the survivors known to be equivalent mutants, why no test can kill them
(:data:`EQUIVALENT`). A survivor that is not listed there is reported as ``open`` and
makes the command exit 1::

    make mutation MUTANTS='consensus.merkle* consensus.epochs*' \\
                  MUTATION_OUT=results/mutation_merkle_epochs.json
"""

import argparse
import fnmatch
import json
import subprocess
import sys
from pathlib import Path

MUTANTS = Path("mutants")

#: Exit codes of a mutant's test run, as mutmut 3.8 records them (``mutmut.stats``).
STATUS = {1: "killed", 3: "killed", 0: "survived", 5: "no_tests", 33: "no_tests",
          34: "skipped", 36: "timeout", 24: "timeout", -24: "timeout", 152: "timeout",
          255: "timeout", 37: "type_check", -11: "segfault", -9: "segfault"}

#: Survivors that no test can kill: the mutant computes the same thing as the original.
#: Keyed by the mutated function and the mutant's new line (stripped), so that the entries
#: survive a renumbering of the mutants when other code of the function changes.
EQUIVALENT = {
    ("consensus.merkle.x_check_batch_certificate",
     "reason = check_certificate(bc.entry, keys, attest=attest, check_signature=None)"):
        "check_signature=None for False: check_certificate only tests it for truth",
    **{("consensus.merkle.x_batch_root_signing_bytes",
        f'return b"pqvote/batch\\x00" + json.dumps(body, {args}separators=(",", ":")).encode()'):
       "without sorting the keys: the body is written in sorted key order already, so the "
       "signed bytes are the same (their exact form is tested)"
       for args in ("sort_keys=None, ", "", "sort_keys=False, ")},
    **{("consensus.epochs.x_resulting_set",
        f'key = hashlib.sha3_256(b"{tag}" + bytes([i]) + a.katt_digest).digest()'):
       "another constant in the placeholder key of a validator proposed without its key "
       "(proposal time only): it just has to differ from every retired key, which any "
       "SHA3-256 output does"
       for tag in ("XXplaceholderXX", "PLACEHOLDER")},
}


def _status(code):
    return STATUS.get(code, "suspicious")


def collect(patterns):
    """``{module: {mutant: status}}`` for the mutants matching ``patterns``."""
    out = {}
    for meta in sorted(MUTANTS.rglob("*.py.meta")):
        module = str(meta.relative_to(MUTANTS))[:-len(".meta")]
        codes = json.loads(meta.read_text())["exit_code_by_key"]
        kept = {k: _status(c) for k, c in codes.items()
                if not patterns or any(fnmatch.fnmatch(k, p) for p in patterns)}
        if kept:
            out[module] = kept
    return out


def diff(mutant):
    """The mutant's diff as ``mutmut show`` prints it (changed lines only)."""
    text = subprocess.run([str(Path(sys.executable).parent / "mutmut"), "show", mutant],
                          capture_output=True, text=True).stdout
    return [line for line in text.splitlines()
            if line[:1] in "+-" and not line.startswith(("+++", "---"))]


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("patterns", nargs="*", help="mutmut name patterns (default: all)")
    ap.add_argument("--out", required=True, help="the JSON file to write")
    ap.add_argument("--command", default=None, help="the command that made the run")
    args = ap.parse_args(argv)
    results = collect(args.patterns)
    if not results:
        print("no mutation results in mutants/ (run make mutation first)", file=sys.stderr)
        return 2
    modules, survivors = {}, []
    for module, statuses in results.items():
        counts = {}
        for s in statuses.values():
            counts[s] = counts.get(s, 0) + 1
        tested = len(statuses) - counts.get("skipped", 0)
        counts["total"] = len(statuses)
        counts["score"] = round(100 * (counts.get("killed", 0) + counts.get("timeout", 0))
                                / tested, 1) if tested else None
        modules[module] = counts
        for name, s in sorted(statuses.items()):
            if s not in ("killed", "timeout"):
                lines = diff(name)
                added = [line[1:].strip() for line in lines if line.startswith("+")]
                function = name.rsplit("__mutmut_", 1)[0]
                why = EQUIVALENT.get((function, added[0])) if len(added) == 1 else None
                survivors.append({"mutant": name, "status": s, "diff": lines,
                                  "equivalent": why})
    open_ = [s["mutant"] for s in survivors if s["equivalent"] is None]
    total = sum(m["total"] for m in modules.values())
    caught = sum(m.get("killed", 0) + m.get("timeout", 0) for m in modules.values())
    summary = {
        "command": args.command or ("make mutation MUTANTS='" + " ".join(args.patterns)
                                    + f"' MUTATION_OUT={args.out}"),
        "tool": "mutmut 3.8.1 (pyproject.toml [tool.mutmut]: the test selection)",
        "mutants": total, "caught": caught,
        "score": round(100 * caught / total, 1) if total else None,
        "modules": modules, "survivors": survivors, "open": open_,
    }
    Path(args.out).write_text(json.dumps(summary, indent=1, ensure_ascii=False) + "\n")
    print(f"{caught} of {total} mutants caught; {len(survivors)} survived "
          f"({len(open_)} not known equivalent); written to {args.out}")
    return 1 if open_ else 0


if __name__ == "__main__":
    sys.exit(main())
