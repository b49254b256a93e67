"""The technology a design is elaborated for: the ``platform`` argument of ``elaborate``.

Simulation, ``make verilog`` and the Verilator benches elaborate with ``platform=None``: every
block describes its logic generically. ``tools.synth`` elaborates with :data:`ECP5`; a block
may then instantiate a Lattice ECP5 cell where yosys's generic mapping is known to waste
area. Today one block does: the lane adders of the sntrup multiplier array
(:class:`hdl.sntrup.mult.HornerArray`), whose operand selection fits into the carry cells'
own LUTs (docs/sntrup.md, "The multiplier array"). A block's ECP5 form is verified against
its generic form with the vendor's cell models under Verilator.
"""

__all__ = ["Target", "ECP5", "family"]


class Target:
    """A technology to elaborate for (no I/O resources: only the cell family)."""

    def __init__(self, *, family):
        if family not in ("ecp5",):
            raise ValueError(f"Family must be 'ecp5', not {family!r}")
        self._family = family

    @property
    def family(self):
        return self._family

    def __repr__(self):
        return f"Target(family={self._family!r})"


#: Lattice ECP5 (the LFE5U-85F of docs/fpga.md): ``CCU2C`` carry cells.
ECP5 = Target(family="ecp5")


def family(platform):
    """The cell family ``elaborate`` was given (``"ecp5"``), or ``None`` for generic logic."""
    return platform.family if isinstance(platform, Target) else None
