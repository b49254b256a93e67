"""The sntrup653 engine's connecting logic with the memories it reads, for out-of-context place
and route (``python -m tools.synth sntrup_hash``, ...).

The engine's blocks route at ≥ 106 MHz alone (docs/sntrup.md, "Timing closure"), but the
whole core does not: its longest paths run through the glue between them, from a block
RAM's output or a job counter into the SHA-512 packer. A part here holds that glue as
:class:`hdl.sntrup.engine.SntrupEngine` builds it, with load ports so that synthesis keeps
the memories:

* ``sntrup_hash``: :class:`~hdl.sntrup.engine.HashJobs` (the job sequencer, the packer and
  the SHA-512 block) reading the sk, ct and r_enc word memories;
* ``sntrup_engine``: the whole engine behind the engine harness (synthesis; a route takes
  about as long as the core's).

Used by ``tools.gen`` only (synthesis); the benches are in ``tests/test_sntrup_rtl.py``.
"""

from amaranth.hdl import Module, unsigned
from amaranth.lib import data, memory, wiring
from amaranth.lib.wiring import In, Out

from hdl.sntrup.engine import CT_ROWS, JOBS, RENC_ROWS, SK_ROWS, HashJobs

__all__ = ["HashPart", "DESIGNS"]


class HashPart(wiring.Component):
    """``HashJobs`` with the sk (190 words), ct (113) and r_enc (21) memories it reads (each
    with its zero rows), wired as in the engine; ``ld_*`` write the memories (the bench's
    loads stay below the zero rows), ``h3rho``/``h3r`` stand for the engine's digest
    registers."""

    def __init__(self):
        digest4 = data.ArrayLayout(unsigned(64), 4)
        super().__init__({
            "go": In(1), "job": In(range(len(JOBS))), "cancel": In(1), "busy": Out(1),
            "digest": Out(digest4), "h3rho": In(digest4), "h3r": In(digest4), "renc_fb": In(1),
            "ld_sel": In(2), "ld_en": In(1), "ld_addr": In(range(SK_ROWS)), "ld_data": In(64),
        })

    def elaborate(self, platform):
        m = Module()
        m.submodules.jobs = jobs = HashJobs()
        ports = {}
        for k, (name, depth) in enumerate((("sk_mem", SK_ROWS), ("ct_mem", CT_ROWS),
                                           ("renc_mem", RENC_ROWS))):
            mm = memory.Memory(shape=unsigned(64), depth=depth, init=[])
            m.submodules[name] = mm
            w, r = mm.write_port(), mm.read_port()
            m.d.comb += [w.en.eq(self.ld_en & (self.ld_sel == k)), w.addr.eq(self.ld_addr),
                         w.data.eq(self.ld_data)]
            ports[name] = r
        m.d.comb += [
            ports["sk_mem"].addr.eq(jobs.sk_addr), jobs.sk_data.eq(ports["sk_mem"].data),
            ports["ct_mem"].addr.eq(jobs.ct_addr), jobs.ct_data.eq(ports["ct_mem"].data),
            ports["renc_mem"].addr.eq(jobs.renc_addr), jobs.renc_data.eq(ports["renc_mem"].data),
            jobs.go.eq(self.go), jobs.job.eq(self.job), jobs.cancel.eq(self.cancel),
            jobs.h3rho.eq(self.h3rho), jobs.h3r.eq(self.h3r), jobs.renc_fb.eq(self.renc_fb),
            self.busy.eq(jobs.busy), self.digest.eq(jobs.digest),
        ]
        return m


def _engine():
    from hdl.sntrup.engine import SntrupEngine
    from sim.harness import EngineHarness
    return EngineHarness(SntrupEngine())


#: The parts by their design names in ``tools.gen``.
DESIGNS = {"sntrup_hash": HashPart, "sntrup_engine": _engine}
