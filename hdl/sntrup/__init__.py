"""sntrup653 engine blocks (docs/sntrup.md): the Horner multiplier array and its reducer."""

from hdl.sntrup.mult import HornerArray, HornerOp

__all__ = ["HornerArray", "HornerOp"]
