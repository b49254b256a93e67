"""A program sequencer shared by the engines: a fixed list of steps, run one after the other,
each launching a unit (a datapath block, a hash job, another sequencer) through a launch
port and waiting for it.

The program is a table built when the engine is elaborated (its addresses, modes and
nonces derived from ``golden/``), so a schedule can be read, reviewed and changed in one
place; the sequencer knows nothing of the algorithm. Every step waits for a fixed event of
its unit, never for data, so the schedule is the same for every input whenever the units'
own latencies are.

Steps::

    Run(unit, **params)     launch ``unit`` (once its ``ready`` is high, if it has one),
                            then wait for its ``done`` pulse
    Fire(unit, **params)    launch ``unit`` and go on in the next cycle (a background job)
    Join(unit)              wait until ``unit``'s ``done`` is high (a unit launched by an
                            earlier ``Fire``; ``done`` is then a level)

A launch is one cycle with ``start`` high and the step's parameters on the port (every
parameter a step does not name is 0, so the launch ports of two sequencers that never launch
the same unit at once can be merged with an OR); a unit samples its parameters at
``start``. After the last step the sequencer holds ``done`` until ``ack``.

The launch port of a unit without ``ready`` is driven by flip-flops: its launch cycle is
known a cycle ahead (the cycle the program enters the step), so ``start`` and the
parameters are registers and no path runs from the step register through the step decode
into the unit. A unit with ``ready`` is launched from the step decode (its launch waits for
``ready`` in that cycle). The launch cycles are the same either way.

Cycles: the first step runs in the cycle after ``start``. A ``Run`` step of a unit without
``ready`` takes ``1 + d`` cycles, ``d >= 1`` the cycles from ``start`` to ``done``; a
``Fire`` takes 1; a ``Join`` 1 + the cycles until ``done``; ``done`` rises 2 cycles after
the cycle in which the last step finishes (2 cycles after ``start`` for an empty program).
"""

from amaranth.hdl import Module, Shape, Signal
from amaranth.lib import wiring
from amaranth.lib.wiring import In, Out

__all__ = ["Run", "Fire", "Join", "launch_signature", "Sequencer"]


class _Step:
    """A program step: a unit's name and the parameters of its launch."""
    _kind = None

    def __init__(self, unit, **params):
        if not isinstance(unit, str):
            raise TypeError(f"Unit name must be a string, not {unit!r}")
        self._unit = unit
        self._params = dict(params)

    @property
    def unit(self):
        return self._unit

    @property
    def params(self):
        return dict(self._params)

    def __eq__(self, other):
        return (type(self) is type(other) and self._unit == other._unit and
                self._params == other._params)

    def __hash__(self):
        return hash((type(self), self._unit, tuple(sorted(self._params.items()))))

    def __repr__(self):
        args = "".join(f", {k}={v!r}" for k, v in self._params.items())
        return f"{type(self).__name__}({self._unit!r}{args})"


class Run(_Step):
    """Launch ``unit`` with ``params`` (once its ``ready`` is high) and wait for ``done``."""


class Fire(_Step):
    """Launch ``unit`` with ``params`` and go on in the next cycle."""


class Join(_Step):
    """Wait until ``unit``'s ``done`` is high."""

    def __init__(self, unit):
        super().__init__(unit)


def launch_signature(params=None, *, ready=False, done=True):
    """The launch port of a unit, sequencer side: ``start`` and the parameters out,
    ``ready`` (launch only while high) and ``done`` in.

    Parameters
    ----------
    params : dict of str to shape-castable
        The unit's launch parameters, sampled by the unit at ``start``.
    ready : bool
        The unit has a ``ready`` input (a ``Run`` waits for it before launching).
    done : bool
        The unit reports ``done`` (a pulse for ``Run``, a level for ``Join``).
    """
    params = dict(params or {})
    reserved = {"start", "ready", "done"} & set(params)
    if reserved:
        raise ValueError(f"Launch parameter names must not be {sorted(reserved)}")
    members = {"start": Out(1), **{name: Out(shape) for name, shape in params.items()}}
    if ready:
        members["ready"] = In(1)
    if done:
        members["done"] = In(1)
    return wiring.Signature(members)


class Sequencer(wiring.Component):
    """Runs a program of :class:`Run` / :class:`Fire` / :class:`Join` steps (see the module
    docstring).

    ``start`` (a pulse, while idle or ``done``, without ``abort``) runs the program from its
    first step, in the next cycle; after the last step ``done`` is high until ``ack`` (or a
    new ``start``). ``abort`` returns to idle from any state in one cycle; a unit launched
    before it is the caller's to reset.

    Parameters
    ----------
    program : list of Run, Fire or Join
        The steps.
    units : dict of str to wiring.Signature
        The launch port of each unit (:func:`launch_signature`); each becomes a member.

    Members
    -------
    start, abort, ack : ``In(1)``
    done : ``Out(1)``
        The program has finished (a level, until ``ack`` or ``start``).
    step : ``Out(range(len(program) + 1))``
        The step being run (0 while idle, ``len(program)`` while ``done``), for schedule
        benches.
    <unit> : ``Out(units[unit])``, for every unit
    """

    _RESERVED = {"start", "abort", "ack", "done", "step"}

    def __init__(self, *, program, units):
        units = dict(units)
        for name, sig in units.items():
            if name in self._RESERVED or not isinstance(sig, wiring.Signature):
                raise ValueError(f"Unit must be a name other than {sorted(self._RESERVED)} "
                                 f"with a launch signature, not {name!r}: {sig!r}")
        program = list(program)
        for step in program:
            self._check_step(step, units)
        self._program = program
        self._units = units
        super().__init__({
            "start": In(1), "abort": In(1), "ack": In(1), "done": Out(1),
            "step": Out(range(len(program) + 1)),
            **{name: Out(sig) for name, sig in units.items()},
        })

    @staticmethod
    def _check_step(step, units):
        if not isinstance(step, (Run, Fire, Join)):
            raise TypeError(f"Program step must be Run, Fire or Join, not {step!r}")
        if step.unit not in units:
            raise ValueError(f"Program step {step!r} names no unit of {sorted(units)}")
        members = units[step.unit].members
        if not isinstance(step, Fire) and "done" not in members:
            raise ValueError(f"Program step {step!r} waits for a unit without done")
        for name, value in step.params.items():
            if name in ("start", "ready", "done") or name not in members:
                raise ValueError(f"Program step {step!r}: {name!r} is not a parameter of "
                                 f"unit {step.unit!r}")
            shape = Shape.cast(members[name].shape)
            lo, hi = (-(1 << (shape.width - 1)), 1 << (shape.width - 1)) if shape.signed \
                else (0, 1 << shape.width)
            if not isinstance(value, int) or not lo <= value < hi:
                raise ValueError(f"Program step {step!r}: {name} must be an integer that fits "
                                 f"{shape!r}, not {value!r}")

    @property
    def program(self):
        return tuple(self._program)

    def elaborate(self, platform):
        m = Module()
        step = Signal(range(len(self._program) + 1))
        launched = Signal()
        m.d.comb += self.step.eq(step)

        def ready_gated(unit):
            return "ready" in self._units[unit].members

        def launch(step_):
            # a unit with ``ready`` is launched from the step decode (its launch waits for an
            # input of this cycle); the others from flip-flops set a cycle ahead (below)
            if not ready_gated(step_.unit):
                return
            port = getattr(self, step_.unit)
            m.d.comb += [port.start.eq(1)]
            m.d.comb += [getattr(port, k).eq(v) for k, v in step_.params.items()]

        with m.FSM(name="seq_fsm") as fsm:
            with m.State("Idle"):
                with m.If(self.start & ~self.abort):
                    m.d.sync += [step.eq(0), launched.eq(0)]
                    m.next = "Run"
            with m.State("Run"):
                with m.Switch(step):
                    for s, op in enumerate(self._program):
                        with m.Case(s):
                            port = getattr(self, op.unit)
                            if isinstance(op, Fire):
                                launch(op)
                                m.d.sync += step.eq(step + 1)
                            elif isinstance(op, Join):
                                with m.If(port.done):
                                    m.d.sync += step.eq(step + 1)
                            else:
                                ready = port.ready if "ready" in port.signature.members else 1
                                with m.If(~launched & ready):
                                    launch(op)
                                    m.d.sync += launched.eq(1)
                                with m.Elif(launched & port.done):
                                    m.d.sync += [launched.eq(0), step.eq(step + 1)]
                    with m.Case(len(self._program)):
                        m.next = "Done"
                with m.If(self.abort):
                    m.next = "Idle"
            with m.State("Done"):
                m.d.comb += self.done.eq(1)
                with m.If(self.start & ~self.abort):
                    m.d.sync += [step.eq(0), launched.eq(0)]
                    m.next = "Run"
                with m.Elif(self.ack | self.abort):
                    m.d.sync += step.eq(0)
                    m.next = "Idle"
        with m.If(self.abort):
            m.d.sync += step.eq(0)

        # The registered launches. A step of a unit without ``ready`` launches in the first
        # cycle it is the current step (a Run's ``~launched`` holds then, and only then), so
        # its launch is exactly "the program enters this step", known a cycle ahead: step 0
        # is entered on ``start`` while idle or done, step s > 0 when step s - 1 finishes
        # (a Fire at once, a Join on ``done``, a Run on ``done`` after its launch), never
        # under ``abort``. The launch ports then start at flip-flops, not at the step decode.
        enter = []
        for s in range(len(self._program)):
            if s == 0:
                cond = (fsm.ongoing("Idle") | fsm.ongoing("Done")) & self.start
            else:
                prev = self._program[s - 1]
                port = getattr(self, prev.unit)
                finish = (1 if isinstance(prev, Fire) else
                          port.done if isinstance(prev, Join) else launched & port.done)
                cond = fsm.ongoing("Run") & (step == s - 1) & finish
            e = Signal(name=f"enter_{s}")
            m.d.comb += e.eq(cond & ~self.abort)
            enter.append(e)
        for name in self._units:
            if ready_gated(name):
                continue
            port = getattr(self, name)
            steps = [(s, op) for s, op in enumerate(self._program)
                     if op.unit == name and not isinstance(op, Join)]
            m.d.sync += port.start.eq(0)
            for k in (k for k in port.signature.members if k not in ("start", "done")):
                m.d.sync += getattr(port, k).eq(0)
            for s, op in steps:
                with m.If(enter[s]):
                    m.d.sync += port.start.eq(1)
                    m.d.sync += [getattr(port, k).eq(v) for k, v in op.params.items()]
        return m
