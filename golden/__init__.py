"""Bit-exact golden models of everything the pqvote RTL computes.

Each module is written from its standard and owns the constants the hardware uses
(round constants, zetas, …), so the RTL imports its tables from here.
"""

__all__ = ["exact_bytes"]


def exact_bytes(data, n, what):
    """``bytes(data)``; a ``ValueError`` naming ``what`` if it is not exactly ``n`` bytes long."""
    data = bytes(data)
    if len(data) != n:
        raise ValueError(f"{what} must be {n} bytes, not {len(data)}")
    return data
