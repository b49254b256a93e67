"""The technology a design is elaborated for: the ``platform`` argument of ``elaborate``.

Simulation, ``make verilog`` and the Verilator benches elaborate with ``platform=None``: every
block describes its logic generically. ``tools.synth`` elaborates with :data:`ECP5`; a block
may then instantiate a Lattice ECP5 cell where yosys's generic mapping is known to waste
area or time. Three things use it: the lane adders of the sntrup multiplier array
(:class:`hdl.sntrup.mult.HornerArray`), whose operand selection fits into the carry cells'
own LUTs (docs/sntrup.md, "The multiplier array"); :func:`register_copy`, a register that
is a copy of another (same input) and must stay one, which yosys would otherwise merge
with its twins; and :func:`registered_product`, a multiplication whose product register is
the DSP's own. A block's ECP5 form is verified against its generic form under Verilator
with the vendor's cell models (and pqvote's MULT18X18D model, sim/models/: yosys ships
that cell as a black box only).
"""

from amaranth.hdl import C, ClockSignal, Instance, Signal

__all__ = ["Target", "ECP5", "family", "register_copy", "registered_product",
           "PARTITION_PREFIX"]

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


#: operand width of one ECP5 sysDSP multiplier (MULT18X18D)
DSP_WIDTH = 18


def registered_product(m, a, b, *, name, platform):
    """The unsigned product ``a * b`` (each operand at most :data:`DSP_WIDTH` bits) in a
    register: the value is the product of what ``a`` and ``b`` were at the last rising edge
    of ``sync``. No clock enable; no reset (a ``ResetInserter`` around ``m`` leaves the
    register alone, in both forms). Give it operands from flip-flops: then the path into
    the multiplier is one wire, which the placer can keep short beside the DSP column.

    In the ECP5 form the register is the MULT18X18D's own output register (REG_OUTPUT_CLK
    = CLK0), so no route from the DSP column adds to its 3.9 ns multiplication: yosys's
    ``synth_ecp5`` maps a product to the unregistered cell only and never moves a
    flip-flop into it. Generically a ``reset_less`` register and a multiplication. Returns
    the product, a ``Signal`` of ``len(a) + len(b)`` bits."""
    if not 0 < len(a) <= DSP_WIDTH or not 0 < len(b) <= DSP_WIDTH:
        raise ValueError(f"Operands must be 1 to {DSP_WIDTH} bits wide, not {len(a)} and {len(b)}")
    width = len(a) + len(b)
    if family(platform) == "ecp5":
        prod = Signal(width, name=name)
        p = Signal(2 * DSP_WIDTH, name=f"{name}_p")
        ports = {}
        for i in range(DSP_WIDTH):
            ports[f"i_A{i}"] = a[i] if i < len(a) else C(0, 1)
            ports[f"i_B{i}"] = b[i] if i < len(b) else C(0, 1)
            ports[f"i_C{i}"] = C(0, 1)
        for i in range(2 * DSP_WIDTH):
            ports[f"o_P{i}"] = p[i]
        regs = {}
        for reg in ("INPUTA", "INPUTB", "INPUTC", "PIPELINE", "OUTPUT"):
            regs[f"p_REG_{reg}_CLK"] = "CLK0" if reg == "OUTPUT" else "NONE"
            regs[f"p_REG_{reg}_CE"] = "CE0"
            regs[f"p_REG_{reg}_RST"] = "RST0"
        m.submodules[f"{name}_dsp"] = Instance(
            "MULT18X18D", p_GSR="DISABLED", p_RESETMODE="SYNC", p_MULT_BYPASS="DISABLED",
            **regs, i_CLK0=ClockSignal(), i_CE0=C(1, 1), i_RST0=C(0, 1),
            **{f"i_{s}{k}": C(0, 1) for s in ("CLK", "CE", "RST") for k in (1, 2, 3)},
            i_SIGNEDA=C(0, 1), i_SIGNEDB=C(0, 1), i_SOURCEA=C(0, 1), i_SOURCEB=C(0, 1),
            **ports)
        m.d.comb += prod.eq(p[:width])
    else:
        prod = Signal(width, name=name, reset_less=True)
        m.d.sync += prod.eq(a * b)
    return prod
