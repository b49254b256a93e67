# amaranth: UnusedElaboratable=no
"""The shared program sequencer (hdl/sequencer.py) in the Amaranth simulator.

The bench acts as every unit (a fixed latency from ``start`` to ``done``; a unit with
``ready`` is busy until its ``done``; a unit launched by ``Fire`` holds ``done`` as a level)
and logs each launch with its cycle and parameters. A cycle model written from the
sequencer's documented timing gives the expected log; the two are compared launch by
launch, and a corrupted expectation is caught (negative control).
"""

import random

import pytest
from sim.harness import simulate as run_simulation

from hdl.sequencer import Fire, Join, Run, Sequencer, launch_signature


def _units():
    return {
        "job": launch_signature({"kind": 2, "n": 3}, ready=True),
        "ntt": launch_signature({"base": 8, "inverse": 1}),
        "bg": launch_signature({"n": 4}),
        "tick": launch_signature(done=False),
    }


def _program(rng, length):
    """A random program: every step kind, the ready-gated unit launched back to back."""
    steps = []
    bg_open = False
    for _ in range(length):
        kind = rng.choice(["run_job", "run_ntt", "fire_job", "fire_tick", "bg"])
        if kind == "run_job":
            steps.append(Run("job", kind=rng.randrange(4), n=rng.randrange(8)))
        elif kind == "run_ntt":
            steps.append(Run("ntt", base=rng.randrange(256), inverse=rng.randrange(2)))
        elif kind == "fire_job":
            steps.append(Fire("job", kind=rng.randrange(4)))
        elif kind == "fire_tick":
            steps.append(Fire("tick"))
        elif bg_open:
            steps.append(Join("bg"))
            bg_open = False
        else:
            steps.append(Fire("bg", n=rng.randrange(16)))
            bg_open = True
    if bg_open:
        steps.append(Join("bg"))
    return steps


def _ports(dut):
    """The launch ports of a sequencer: name → port."""
    return {name: getattr(dut, name) for name, member in dut.signature.members.items()
            if member.is_signature}


def _params(port):
    return [k for k in port.signature.members if k not in ("start", "ready", "done")]


def model(program, latency, t0):
    """Launches ``(cycle, step index, step)`` and the cycle ``done`` rises, for a program
    started by a ``start`` pulse in cycle ``t0`` (the timing stated in hdl/sequencer.py)."""
    log = []
    t = t0 + 1                           # the first step runs in the cycle after start
    free = {}                            # a ready-gated unit: first cycle it is ready again
    level = {}                           # a Fire-launched unit: first cycle of its done level
    for i, op in enumerate(program):
        d = latency.get(op.unit)
        if isinstance(op, Join):
            t = max(t, level[op.unit]) + 1
            continue
        launch = max(t, free.get(op.unit, 0)) if isinstance(op, Run) else t
        log.append((launch, i, op))
        if d is not None:
            free[op.unit] = launch + d + 1
            level[op.unit] = launch + d
        t = launch + d + 1 if isinstance(op, Run) else t + 1
    return log, t + 1


def simulate(dut, latency, *, abort_at=None, ack_delay=2, requests=1, start_gap=12):
    """Run ``requests`` programs (and before them one aborted at cycle ``abort_at``, if
    given); return per request the launches ``(cycle, unit, params)``, the cycle ``done``
    rose and the cycle of ``start``. A unit answers ``latency[unit]`` cycles after its
    launch: ``done`` pulses (a level until its next launch for a unit that a ``Join``
    waits for), ``ready`` is low until then."""
    ports = _ports(dut)
    levels = {op.unit for op in dut.program if isinstance(op, Join)}
    runs = []

    async def bench(ctx):
        cycle = 0
        answer = {}                      # unit → cycle of its done
        for r in range(requests + (abort_at is not None)):
            for _ in range(start_gap):
                await ctx.tick()
                cycle += 1
            answer = {u: c for u, c in answer.items() if u not in levels}
            ctx.set(dut.start, 1)
            t0 = cycle
            log, done_at = [], None
            aborting = abort_at is not None and r == 0
            for _ in range(5000):
                for name, port in ports.items():
                    members = port.signature.members
                    at = answer.get(name)
                    if "ready" in members:
                        ctx.set(port.ready, at is None or at < cycle)
                    if "done" in members:
                        ctx.set(port.done, at is not None and
                                (at <= cycle if name in levels else at == cycle))
                for name, port in ports.items():
                    params = {k: ctx.get(getattr(port, k)) for k in _params(port)}
                    if ctx.get(port.start):
                        log.append((cycle, ctx.get(dut.step), name, params))
                        if name in latency:
                            answer[name] = cycle + latency[name]
                    else:
                        assert not any(params.values()), f"{name} parameters while idle"
                if ctx.get(dut.done) and done_at is None:
                    done_at = cycle
                if aborting and cycle == t0 + abort_at:
                    ctx.set(dut.abort, 1)
                if done_at is not None and cycle == done_at + ack_delay:
                    ctx.set(dut.ack, 1)
                await ctx.tick()
                cycle += 1
                ctx.set(dut.start, 0)
                if aborting and cycle == t0 + abort_at + 1:
                    ctx.set(dut.abort, 0)
                    assert not ctx.get(dut.done) and ctx.get(dut.step) == 0
                    break
                if done_at is not None and cycle == done_at + ack_delay + 1:
                    ctx.set(dut.ack, 0)
                    assert not ctx.get(dut.done), "done held after ack"
                    assert ctx.get(dut.step) == 0, "step not 0 while idle"
                    break
            else:
                raise AssertionError("the program never finished")
            runs.append((log, done_at, t0))

    run_simulation(dut, bench)
    return runs


def check(dut, latency, run, program=None):
    """The logged launches and ``done`` against :func:`model` of ``program`` (by default
    the one ``dut`` runs)."""
    log, done_at, t0 = run
    ports = _ports(dut)
    expected, expected_done = model(dut.program if program is None else program, latency, t0)
    want = [(c, i, op.unit, {k: op.params.get(k, 0) for k in _params(ports[op.unit])})
            for c, i, op in expected]
    for i, (g, w) in enumerate(zip(log, want)):
        assert g == w, f"launch {i}: got {g}, expected {w}"
    assert len(log) == len(want), f"{len(log)} launches, expected {len(want)}"
    assert done_at == expected_done, f"done at {done_at}, expected {expected_done}"


LATENCY = {"job": 5, "ntt": 3, "bg": 9}


@pytest.mark.parametrize("seed", range(4))
def test_random_programs(seed):
    rng = random.Random(seed)
    program = _program(rng, 24)
    latency = {u: rng.randrange(1, 10) for u in ("job", "ntt", "bg")}
    dut = Sequencer(program=program, units=_units())
    for run in simulate(dut, latency, requests=2):
        check(dut, latency, run)


def test_every_step_kind():
    """A fixed program covering a Fire of the ready-gated unit followed by a Run that must
    wait for it, a Join that waits and one that does not, and a unit without done."""
    program = [Fire("job", kind=1), Run("job", kind=2, n=5), Fire("bg", n=3),
               Run("ntt", base=200, inverse=1), Join("bg"), Fire("tick"),
               Fire("bg", n=1), Run("ntt", base=7), Run("ntt", base=8), Join("bg")]
    dut = Sequencer(program=program, units=_units())
    (run,) = simulate(dut, LATENCY)
    check(dut, LATENCY, run)
    log = run[0]
    # the Run of job waits until the job launched by the Fire has finished
    assert log[1][0] - log[0][0] == LATENCY["job"] + 1


def test_empty_program():
    dut = Sequencer(program=[], units=_units())
    (run,) = simulate(dut, LATENCY)
    check(dut, LATENCY, run)
    assert run[1] == run[2] + 2


def test_abort_then_full_run():
    """An abort mid-program returns to idle in one cycle; the next request runs in full."""
    program = _program(random.Random(7), 16)
    dut = Sequencer(program=program, units=_units())
    aborted, full = simulate(dut, LATENCY, abort_at=20)
    expected, _ = model(program, LATENCY, aborted[2])
    assert [c for c, *_ in aborted[0]] == [c for c, *_ in expected if c <= aborted[2] + 20]
    check(dut, LATENCY, full)


def test_negative_control():
    """The comparison fails when one expected parameter or latency is wrong."""
    program = [Run("ntt", base=1), Run("job", kind=3, n=2), Fire("tick")]
    dut = Sequencer(program=program, units=_units())
    (run,) = simulate(dut, LATENCY)
    check(dut, LATENCY, run)
    with pytest.raises(AssertionError, match="launch 1"):
        check(dut, LATENCY, run, [Run("ntt", base=1), Run("job", kind=3, n=3), Fire("tick")])
    with pytest.raises(AssertionError, match="launch 1"):
        check(dut, {**LATENCY, "ntt": LATENCY["ntt"] + 1}, run)


def test_mlkem_programs():
    """The ML-KEM engine's programs on the sequencer: every unit launched in order with its
    parameters, at the model's cycles (the noise track answering as a ``done`` level)."""
    from hdl.mlkem.engine import NOISE_PROGRAM, PROGRAM, UNITS
    latency = {"hash": 6, "prf": 6, "ntt": 5, "nttq": 4, "bmul": 4, "fp": 3, "noise": 20}
    for program, units in ((PROGRAM, UNITS), (NOISE_PROGRAM, {"prf": UNITS["prf"]})):
        dut = Sequencer(program=program, units=units)
        aborted, full = simulate(dut, latency, abort_at=30)
        check(dut, latency, full)


def test_parameter_checks():
    units = _units()
    with pytest.raises(ValueError, match="names no unit"):
        Sequencer(program=[Run("fft")], units=units)
    with pytest.raises(ValueError, match="waits for a unit without done"):
        Sequencer(program=[Run("tick")], units=units)
    with pytest.raises(ValueError, match="'base' is not a parameter of unit 'job'"):
        Sequencer(program=[Run("job", base=1)], units=units)
    with pytest.raises(ValueError, match="must be an integer that fits"):
        Sequencer(program=[Run("ntt", base=256)], units=units)
    with pytest.raises(TypeError, match="must be Run, Fire or Join"):
        Sequencer(program=[("ntt", 0, 0)], units=units)
    with pytest.raises(ValueError, match="Unit must be a name other than"):
        Sequencer(program=[], units={"done": launch_signature()})
    with pytest.raises(ValueError, match="must not be"):
        launch_signature({"start": 1})
