"""The request sequencer of the ML-KEM-512 engine: interprets the decapsulation program
(:data:`hdl.mlkem.engine.PROGRAM`) one step after the other, and runs the noise track in the
background. Every step waits for a fixed event of a unit, so the schedule does not depend on
the data.

Program steps::

    ("j",)                              launch J(z ‖ c) (runs in the background)
    ("g",)                              G(m' ‖ h); wait for it
    ("prf", N, eta3, base, to_noise)    y / e = CBD(PRF(r, N)) into the work / noise memory
    ("noise",)                          launch the noise track (PRF jobs of ``noise_jobs``)
    ("join",)                           wait for the noise track
    ("ntt", base, inverse)              NTT / NTT⁻¹ of the work-memory polynomial at base
    ("bmul", a0, a1, b0, b1, dst)       dst = a0∘b0 + a1∘b1
    ("pass", mode, wbase, nbase, cbase) a final pass
    ("k",)                              offer K
"""

from amaranth.hdl import Module, Signal
from amaranth.lib import wiring
from amaranth.lib.wiring import In, Out

from hdl.mlkem.hashjobs import JOB_G, JOB_J, JOB_PRF
from hdl.mlkem.intake import CHUNK_ADDR_BITS

__all__ = ["Sequencer", "job_signature", "ntt_signature", "bmul_signature", "pass_signature",
           "cbd_signature"]


def job_signature():
    """Launch of a hash job (sequencer side)."""
    return wiring.Signature({"go": Out(1), "kind": Out(2), "n": Out(3),
                             "busy": In(1), "done": In(1)})


def cbd_signature(addr_width):
    """Start of the CBD sampler that takes a PRF job's output (sequencer side)."""
    return wiring.Signature({"start": Out(1), "eta3": Out(1), "base": Out(addr_width)})


def ntt_signature(addr_width):
    return wiring.Signature({"start": Out(1), "base": Out(addr_width), "inverse": Out(1),
                             "done": In(1)})


def bmul_signature(addr_width):
    return wiring.Signature({"start": Out(1), **{n: Out(addr_width) for n in
                                                  ("a0", "a1", "b0", "b1", "dst")},
                             "done": In(1)})


def pass_signature(addr_width):
    return wiring.Signature({"start": Out(1), "mode": Out(2), "wbase": Out(addr_width),
                             "nbase": Out(addr_width), "cbase": Out(CHUNK_ADDR_BITS),
                             "done": In(1)})


class Sequencer(wiring.Component):
    """Runs a decapsulation program (see the module docstring).

    ``start`` (a pulse, while idle and without ``abort``) starts the ct intake
    (``intake_start``, ``clear``); after ``intake_done`` the program runs; its ``("k",)`` step
    raises ``k_valid`` until ``k_ready``. ``abort`` returns to idle from any state.
    ``prf_to_noise`` tells where the CBD sampler's words go (set with each PRF launch).

    Parameters
    ----------
    program : list of tuple
        The steps.
    noise_jobs : list of (int, int)
        ``(N, noise-memory base)`` of the noise track's PRF jobs (η2 = 2).
    addr_width : int
        Address width of the coefficient memories.

    Members
    -------
    start, abort : ``In(1)``
    intake_start, clear : ``Out(1)``; intake_done : ``In(1)``
    k_valid : ``Out(1)``; k_ready : ``In(1)``
    step : ``Out(range(len(program) + 1))``
        The step being run (for the schedule bench).
    job, cbd, ntt, bmul, fp : launch ports (``*_signature``)
    prf_to_noise : ``Out(1)``
    """

    def __init__(self, *, program, noise_jobs, addr_width):
        kinds = {"j", "g", "prf", "noise", "join", "ntt", "bmul", "pass", "k"}
        for op in program:
            if not op or op[0] not in kinds:
                raise ValueError(f"Program step must be one of {sorted(kinds)}, not {op!r}")
        if program[-1] != ("k",):
            raise ValueError(f"Program must end with ('k',), not {program[-1]!r}")
        self._program = list(program)
        self._noise_jobs = list(noise_jobs)
        aw = addr_width
        super().__init__({
            "start": In(1), "abort": In(1),
            "intake_start": Out(1), "clear": Out(1), "intake_done": In(1),
            "k_valid": Out(1), "k_ready": In(1),
            "step": Out(range(len(program) + 1)),
            "job": Out(job_signature()),
            "cbd": Out(cbd_signature(aw)),
            "prf_to_noise": Out(1),
            "ntt": Out(ntt_signature(aw)),
            "bmul": Out(bmul_signature(aw)),
            "fp": Out(pass_signature(aw)),
        })

    @property
    def program(self):
        return tuple(self._program)

    def elaborate(self, platform):
        m = Module()
        abort = self.abort
        job = self.job
        step = Signal(range(len(self._program) + 1))
        launched = Signal()
        prf_to_noise = Signal()
        m.d.comb += [self.step.eq(step), self.prf_to_noise.eq(prf_to_noise)]
        with m.If(self.start):
            m.d.sync += prf_to_noise.eq(0)

        # noise track: CBD2(PRF(r, N)) into the noise memory, while the program runs the
        # NTTs of y (the two never use the same memory port)
        noise_go = Signal()
        noise_done = Signal()
        nidx = Signal(range(len(self._noise_jobs) + 1))
        with m.FSM(name="noise_fsm"):
            with m.State("Idle"):
                with m.If(noise_go):
                    m.d.sync += [nidx.eq(0), noise_done.eq(0)]
                    m.next = "Launch"
            with m.State("Launch"):
                with m.If(nidx == len(self._noise_jobs)):
                    m.d.sync += noise_done.eq(1)
                    m.next = "Idle"
                with m.Elif(~job.busy):
                    with m.Switch(nidx):
                        for i, (n, base) in enumerate(self._noise_jobs):
                            with m.Case(i):
                                m.d.comb += [job.n.eq(n), self.cbd.base.eq(base)]
                    m.d.comb += [job.go.eq(1), job.kind.eq(JOB_PRF),
                                 self.cbd.start.eq(1), self.cbd.eta3.eq(0)]
                    m.d.sync += prf_to_noise.eq(1)
                    m.next = "Wait"
                with m.If(abort):
                    m.next = "Idle"
            with m.State("Wait"):
                with m.If(job.done):
                    m.d.sync += nidx.eq(nidx + 1)
                    m.next = "Launch"
                with m.If(abort):
                    m.next = "Idle"
        with m.If(self.start):
            m.d.sync += noise_done.eq(0)

        def wait_unit(port, params):
            with m.If(~launched):
                m.d.comb += [port.start.eq(1)] + [getattr(port, k).eq(v) for k, v in params]
                m.d.sync += launched.eq(1)
            with m.Elif(port.done):
                m.d.sync += [launched.eq(0), step.eq(step + 1)]

        with m.FSM(name="req_fsm"):
            with m.State("Idle"):
                with m.If(self.start & ~abort):
                    m.d.comb += [self.intake_start.eq(1), self.clear.eq(1)]
                    m.d.sync += [step.eq(0), launched.eq(0)]
                    m.next = "Intake"
            with m.State("Intake"):
                with m.If(self.intake_done):
                    m.next = "Run"
                with m.If(abort):
                    m.next = "Idle"
            with m.State("Run"):
                with m.Switch(step):
                    for s, op in enumerate(self._program):
                        with m.Case(s):
                            kind = op[0]
                            if kind == "j":
                                m.d.comb += [job.go.eq(1), job.kind.eq(JOB_J)]
                                m.d.sync += step.eq(step + 1)
                            elif kind in ("g", "prf"):
                                if kind == "g":
                                    m.d.comb += job.kind.eq(JOB_G)
                                else:
                                    _, n, eta3, base, to_noise = op
                                    m.d.comb += [job.kind.eq(JOB_PRF), job.n.eq(n),
                                                 self.cbd.eta3.eq(eta3), self.cbd.base.eq(base)]
                                with m.If(~launched & ~job.busy):
                                    m.d.comb += job.go.eq(1)
                                    if kind == "prf":
                                        m.d.comb += self.cbd.start.eq(1)
                                        m.d.sync += prf_to_noise.eq(to_noise)
                                    m.d.sync += launched.eq(1)
                                with m.Elif(launched & job.done):
                                    m.d.sync += [launched.eq(0), step.eq(step + 1)]
                            elif kind == "ntt":
                                _, base, inverse = op
                                wait_unit(self.ntt, [("base", base), ("inverse", inverse)])
                            elif kind == "bmul":
                                _, a0, a1, b0, b1, dst = op
                                wait_unit(self.bmul, [("a0", a0), ("a1", a1), ("b0", b0),
                                                      ("b1", b1), ("dst", dst)])
                            elif kind == "pass":
                                _, mode, wbase, nbase, cbase = op
                                wait_unit(self.fp, [("mode", mode), ("wbase", wbase),
                                                    ("nbase", nbase), ("cbase", cbase)])
                            elif kind == "noise":
                                m.d.comb += noise_go.eq(1)
                                m.d.sync += step.eq(step + 1)
                            elif kind == "join":
                                with m.If(noise_done):
                                    m.d.sync += step.eq(step + 1)
                            elif kind == "k":
                                m.next = "Result"
                with m.If(abort):
                    m.next = "Idle"
            with m.State("Result"):
                m.d.comb += self.k_valid.eq(1)
                with m.If(self.k_ready | abort):
                    m.next = "Idle"
        return m
