"""sntrup653 engine (docs/sntrup.md): the Horner multiplier array, the reducer, the radix
decoder and the engine that schedules them with the shared SHA-512 block."""

from hdl.sntrup.mult import HornerArray, HornerOp

__all__ = ["HornerArray", "HornerOp"]
