"""The ``pqvote`` command line."""

import argparse
import importlib.util
import json
import sys

from golden.proof import RequestError, error_json, parse_request, response_json, validate


def _read_lines(path):
    if path == "-":
        return sys.stdin.read().splitlines()
    with open(path, encoding="utf-8") as f:
        return f.read().splitlines()


def cmd_validate(args):
    """Answer every request line, in order; a bad line gets an error response, not a crash."""
    try:
        lines = _read_lines(args.file)
    except OSError as e:
        print(f"pqvote: cannot read {args.file}: {e.strerror}", file=sys.stderr)
        return 2
    answers = {}
    parsed = []
    for lineno, line in enumerate(lines, 1):
        if not line.strip():
            continue
        try:
            parsed.append((lineno, parse_request(line)))
        except RequestError as e:
            answers[lineno] = error_json(lineno, str(e))
    if args.backend == "golden":
        for lineno, req in parsed:
            try:
                result = validate(req.vendor, req.key, req.attestation_key, req.descriptor,
                                  req.nonce, req.proof)
                answers[lineno] = response_json(req.vendor, result)
            except Exception as e:  # a model failure answers this line and the batch goes on
                answers[lineno] = error_json(lineno, f"{type(e).__name__}: {e}", req.vendor)
    else:
        from backends.rtl import validate_rtl
        by_vendor = {}
        for lineno, req in parsed:
            by_vendor.setdefault(req.vendor, []).append((lineno, req))
        for vendor, items in by_vendor.items():
            try:
                responses = validate_rtl(vendor, [r for _, r in items])
            except (KeyError, AssertionError) as e:
                msg = e.args[0] if e.args else str(e)
                for lineno, _ in items:
                    answers[lineno] = error_json(lineno, msg, vendor)
                continue
            for (lineno, _), resp in zip(items, responses):
                answers[lineno] = resp
    for lineno in sorted(answers):
        print(json.dumps(answers[lineno]))
    return 0 if all(a["status"] != "error" for a in answers.values()) else 1


def build_parser():
    parser = argparse.ArgumentParser(prog="pqvote", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    p = sub.add_parser("validate", help="answer JSON Lines validation requests (SPEC §3.3)")
    p.add_argument("--backend", choices=("golden", "rtl"), default="golden")
    p.add_argument("file", help="requests, one JSON object per line ('-' for stdin)")
    p.set_defaults(func=cmd_validate)
    if importlib.util.find_spec("pqvote.commands") is not None:
        from pqvote import commands   # consensus subcommands: keygen, mint, decide, …
        commands.register(sub)
    return parser


def main(argv=None):
    args = build_parser().parse_args(argv)
    return args.func(args)


if __name__ == "__main__":
    sys.exit(main())
