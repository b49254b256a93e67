"""sntrup653 engine (docs/sntrup.md): the Horner multiplier array, the R/3 lane bank, the
reducer, the radix decoder and the engine that schedules them with the shared SHA-512 block."""

from hdl.sntrup.bank import R3Bank
from hdl.sntrup.mult import HornerArray, HornerOp

__all__ = ["HornerArray", "HornerOp", "R3Bank"]
