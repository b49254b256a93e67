"""The technology a design is elaborated for: the ``platform`` argument of ``elaborate``.

Simulation, ``make verilog`` and the Verilator benches elaborate with ``platform=None``: every
block describes its logic generically. ``tools.synth`` elaborates with :data:`ECP5`; a block
may then instantiate a Lattice ECP5 cell where yosys's generic mapping is known to waste
area. Two things use it: the lane adders of the sntrup multiplier array
(:class:`hdl.sntrup.mult.HornerArray`), whose operand selection fits into the carry cells'
own LUTs (docs/sntrup.md, "The multiplier array"), and :func:`register_copy`, a register
that is a copy of another (same input) and must stay one, which yosys would otherwise merge
with its twins. A block's ECP5 form is verified against its generic form with the vendor's
cell models under Verilator.
"""

from amaranth.hdl import C, ClockSignal, Instance, Signal

__all__ = ["Target", "ECP5", "family", "register_copy", "PARTITION_PREFIX"]

#: A submodule whose name starts with this (``m.submodules[PARTITION_PREFIX + "round"]``)
#: is a mapping partition of ``tools.synth``: yosys keeps it as a module of its own until
#: its LUTs are mapped, so the mapper minimises the logic depth between its ports on its
#: own. The LUT mapper only minimises the deepest path of what it maps at once and trades
#: depth for area everywhere else, so a short loop in a core whose longest path is longer
#: (a round of a permutation) is mapped deeper than it need be; as a partition it is not.
#: The Verilog of ``make verilog`` and the simulations keep the module; nothing else
#: changes.
PARTITION_PREFIX = "part_"


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


def register_copy(m, value, *, name, platform):
    """A register of ``value`` (updated every clock of ``sync``, no reset) that stays a
    register of its own: several copies of one value are how a wide fan-out is split, or how
    logic is kept from sharing a term across the copies' readers, and yosys merges identical
    flip-flops written from one net. In the ECP5 form each bit is a ``TRELLIS_FF`` cell
    (clock enable and set/reset tied off), which it does not merge; generically a plain
    ``m.d.sync`` register. Returns the copy (a ``Signal`` as wide as ``value``)."""
    copy = Signal(len(value), name=name)
    if family(platform) == "ecp5":
        for b in range(len(value)):
            m.submodules[f"{name}_ff{b}"] = Instance(
                "TRELLIS_FF", p_GSR="DISABLED", p_CEMUX="1", p_CLKMUX="CLK",
                p_LSRMUX="LSR", p_SRMODE="LSR_OVER_CE", p_REGSET="RESET",
                i_CLK=ClockSignal(), i_LSR=C(0, 1), i_CE=C(1, 1), i_DI=value[b], o_Q=copy[b])
    else:
        m.d.sync += copy.eq(value)
    return copy
