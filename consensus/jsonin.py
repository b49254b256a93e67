"""Strict JSON input for every ``pqvote`` command and the network wire format.

Python's ``json`` module is lenient where an input format must not be: it takes the last of
two duplicated keys, accepts ``NaN`` and ``Infinity``, raises ``RecursionError`` on deeply
nested arrays and ``ValueError`` on integers of more than 4,300 digits. :func:`loads`
refuses all of these with :class:`JsonInputError`, whose message names what is wrong and
fits on one line, and :func:`read_limited` reads at most a given number of bytes.
"""

import json

__all__ = ["JsonInputError", "loads", "read_limited", "MAX_INT_DIGITS"]

#: Longest integer literal accepted (a uint64 has 20 digits; a sign and slack for 2^64 ± x).
MAX_INT_DIGITS = 24


class JsonInputError(ValueError):
    """The input is not acceptable JSON; the message is one line naming the problem."""


def _object(pairs):
    obj = {}
    for key, value in pairs:
        if key in obj:
            raise JsonInputError(f"duplicate key {key!r}")
        obj[key] = value
    return obj


def _int(text):
    if len(text.lstrip("-")) > MAX_INT_DIGITS:
        raise JsonInputError(f"integer of {len(text.lstrip('-'))} digits is too long "
                             f"(at most {MAX_INT_DIGITS})")
    return int(text)


def _float(text):
    value = float(text)
    if value in (float("inf"), float("-inf")):
        raise JsonInputError(f"number {text[:30]!r} is out of range")
    return value


def _constant(name):
    raise JsonInputError(f"{name} is not JSON")


def loads(data):
    """Parse one JSON document from ``str`` or UTF-8 ``bytes``; raise
    :class:`JsonInputError` on anything not strictly acceptable."""
    if isinstance(data, (bytes, bytearray)):
        try:
            data = bytes(data).decode("utf-8")
        except UnicodeDecodeError as e:
            raise JsonInputError(f"not valid UTF-8 (byte {e.start + 1})") from None
    try:
        return json.loads(data, object_pairs_hook=_object, parse_int=_int,
                          parse_float=_float, parse_constant=_constant)
    except json.JSONDecodeError as e:
        raise JsonInputError(f"bad JSON: {e.msg} at column {e.colno}") from None
    except RecursionError:
        raise JsonInputError("bad JSON: nested too deeply") from None


def read_limited(stream, limit):
    """At most ``limit`` bytes of ``stream``; :class:`JsonInputError` if there are more."""
    data = stream.read(limit + 1)
    if len(data) > limit:
        raise JsonInputError(f"longer than {limit} bytes")
    return data
