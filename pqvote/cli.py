"""The ``pqvote`` command line.

Exit status of every command:

== ==========================================================================================
0  success (``validate``: every line was a valid request; ``decide``: accepted;
   ``verify-cert``: valid)
1  a negative answer (``decide``: rejected or no_quorum; ``verify-cert``: invalid;
   ``proofs get``: nothing stored)
2  bad input, reported on one line (``validate``: at least one line was answered with an
   error; the other lines were answered normally)
3  internal error: a model, backend or program failure, reported on one line (``validate``:
   on the line it hit), never a traceback
== ==========================================================================================
"""

import argparse
import importlib.util
import json
import sys

from golden.proof import RequestError, error_json, parse_request, response_json, validate
from consensus.jsonin import JsonInputError, loads

EXIT_OK, EXIT_NEGATIVE, EXIT_BAD_INPUT, EXIT_INTERNAL = 0, 1, 2, 3

#: Longest request line of ``pqvote validate``, in bytes without the newline. The largest
#: valid request (an ``arm`` key and a ``riscv``-sized proof in hex) is below 64 KiB; a
#: longer line is answered with an error without being held in memory.
MAX_LINE = 1 << 20
#: ``--backend rtl`` simulates this many lines per Verilator run (the golden backend answers
#: each line as it is read).
RTL_CHUNK = 64

REQUEST_FIELDS = ("vendor", "key", "attestation_key", "descriptor", "nonce", "proof")


def one_line(text) -> str:
    """``text`` on one line (messages of foreign exceptions may hold newlines)."""
    return " ".join(str(text).split())


def read_lines(stream, max_line=MAX_LINE):
    """``(lineno, bytes or None)`` for every line of a binary ``stream``, newline removed;
    ``None`` for a line longer than ``max_line`` bytes, which is skipped in bounded chunks."""
    lineno = 0
    while True:
        raw = stream.readline(max_line + 1)
        if not raw:
            return
        lineno += 1
        if len(raw) > max_line and not raw.endswith(b"\n"):
            while True:
                chunk = stream.readline(1 << 16)
                if not chunk or chunk.endswith(b"\n"):
                    break
            yield lineno, None
        else:
            yield lineno, raw[:-1] if raw.endswith(b"\n") else raw


def parse_line(raw):
    """One request line (bytes) → ``golden.proof.Request``; :class:`RequestError` names what
    is wrong: not UTF-8, not JSON, a duplicate key, an unknown field, hex that is not strict
    hex (``bytes.fromhex`` would also take spaces), then the format's own checks."""
    if raw is None:
        raise RequestError(f"longer than {MAX_LINE} bytes")
    try:
        obj = loads(raw)
    except JsonInputError as e:
        raise RequestError(str(e)) from None
    if not isinstance(obj, dict):
        raise RequestError("bad request: expected a JSON object")
    unknown = sorted(set(obj) - set(REQUEST_FIELDS))
    if unknown:
        raise RequestError(f"unknown field {unknown[0]!r}")
    if "vendor" not in obj:
        raise RequestError("missing field 'vendor'")
    if not isinstance(obj["vendor"], str):
        raise RequestError(f"vendor: expected a string, got {_type(obj.get('vendor'))}")
    return parse_request(raw.decode("utf-8"))


def _type(value):
    return "null" if value is None else type(value).__name__


class _Answers:
    """Writes each answer as soon as it exists and keeps the exit status."""

    def __init__(self, out):
        self.out = out
        self.status = EXIT_OK

    def put(self, answer, status=EXIT_OK):
        self.out.write(json.dumps(answer) + "\n")
        self.out.flush()
        self.status = max(self.status, status)

    def error(self, lineno, message, vendor=None, status=EXIT_BAD_INPUT):
        self.put(error_json(lineno, one_line(message), vendor), status)


def _golden(lineno, req, answers):
    try:
        result = validate(req.vendor, req.key, req.attestation_key, req.descriptor, req.nonce,
                          req.proof)
    except Exception as e:      # a model failure answers this line and the batch goes on
        answers.error(lineno, f"internal error: {type(e).__name__}: {e}", req.vendor,
                      EXIT_INTERNAL)
        return
    answers.put(response_json(req.vendor, result))


def _rtl_chunk(items, answers):
    """Answer a chunk of ``(lineno, request or error message)`` in input order; requests
    run through their vendor's core, one simulation per vendor and chunk."""
    from backends.rtl import validate_rtl
    by_vendor, done = {}, {}
    for lineno, req in items:
        if not isinstance(req, str):
            by_vendor.setdefault(req.vendor, []).append((lineno, req))
    for vendor, reqs in by_vendor.items():
        try:
            responses = validate_rtl(vendor, [r for _, r in reqs])
        except KeyError as e:       # no landed core for this vendor: the request's fault
            for lineno, _ in reqs:
                done[lineno] = (error_json(lineno, one_line(e.args[0]), vendor),
                                EXIT_BAD_INPUT)
            continue
        except Exception as e:
            for lineno, _ in reqs:
                done[lineno] = (error_json(lineno, one_line(
                    f"internal error: {type(e).__name__}: {e}"), vendor), EXIT_INTERNAL)
            continue
        for (lineno, _), resp in zip(reqs, responses):
            done[lineno] = (resp, EXIT_OK)
    for lineno, req in items:
        if isinstance(req, str):
            answers.error(lineno, req)
        else:
            answers.put(*done[lineno])


def cmd_validate(args):
    """Answer every request line in input order, each as soon as it is processed; a bad
    line gets a one-line error answer and the batch goes on. Blank lines get no answer."""
    try:
        stream = sys.stdin.buffer if args.file == "-" else open(args.file, "rb")
    except OSError as e:
        print(f"pqvote: cannot read {args.file}: {e.strerror}", file=sys.stderr)
        return EXIT_BAD_INPUT
    answers = _Answers(sys.stdout)
    chunk = []
    try:
        for lineno, raw in read_lines(stream):
            if raw is not None and not raw.strip(b" \t\r"):
                continue
            try:
                req = parse_line(raw)
            except RequestError as e:
                req = str(e)
            if args.backend == "golden":
                if isinstance(req, str):
                    answers.error(lineno, req)
                else:
                    _golden(lineno, req, answers)
            else:
                chunk.append((lineno, req))
                if len(chunk) == RTL_CHUNK:
                    _rtl_chunk(chunk, answers)
                    chunk = []
        if chunk:
            _rtl_chunk(chunk, answers)
    except OSError as e:
        print(f"pqvote: cannot read {args.file}: {e.strerror or e}", file=sys.stderr)
        return EXIT_BAD_INPUT
    finally:
        if stream is not sys.stdin.buffer:
            stream.close()
    return answers.status


def build_parser():
    parser = argparse.ArgumentParser(prog="pqvote", description=__doc__.splitlines()[0],
                                     epilog="exit status: 0 success, 1 a negative answer, "
                                     "2 bad input, 3 internal error")
    sub = parser.add_subparsers(dest="command", required=True)
    p = sub.add_parser("validate", help="answer JSON Lines validation requests (SPEC §3.3)")
    p.add_argument("--backend", choices=("golden", "rtl"), default="golden")
    p.add_argument("file", help=f"requests, one JSON object per line of at most {MAX_LINE} "
                   "bytes ('-' for stdin)")
    p.set_defaults(func=cmd_validate)
    if importlib.util.find_spec("pqvote.commands") is not None:
        from pqvote import commands   # consensus subcommands: keygen, mint, decide, …
        commands.register(sub)
    return parser


def main(argv=None):
    args = build_parser().parse_args(argv)
    try:
        return args.func(args)
    except Exception as e:      # never a traceback: one line, and a status scripts can tell
        print(f"pqvote: internal error: {one_line(f'{type(e).__name__}: {e}')}",
              file=sys.stderr)
        return EXIT_INTERNAL


if __name__ == "__main__":
    sys.exit(main())
