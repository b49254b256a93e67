"""The ML-KEM-512 engine's datapath units with the memories they read and write, for
out-of-context place and route (``python -m tools.synth mlkem_ntt``, ...).

A unit synthesised alone has its memory ports at the top level, where nextpnr times no path;
the engine's paths run from a block RAM's output through the port multiplexers into the
unit and back. Each part here holds the unit, its memories as the engine builds them
(``hdl.mlkem.engine``: the two-bank work memory, the key, noise, ct and c1-chunk memories)
and the engine's port multiplexers, plus a load port and a read-back port so that synthesis
keeps the memories. Used by ``tools.gen`` only (synthesis); the units' benches are in
``tests/test_mlkem_rtl.py`` and ``sim/tb_mlkem_blocks.py``.
"""

from amaranth.hdl import Module, Mux, unsigned
from amaranth.lib import memory, stream, wiring
from amaranth.lib.wiring import In, Out

from hdl.mlkem.arith import PolyWord
from hdl.mlkem.basemul import BaseMulUnit
from hdl.mlkem.engine import AW
from hdl.mlkem.finalpass import FinalPass
from hdl.mlkem.hashjobs import HashJobs
from hdl.mlkem.samplers import CbdSampler, RejectionSampler
from hdl.mlkem.intake import CHUNK_ADDR_BITS, CT_ADDR_BITS, CT_WORDS, DEC10_BITS
from hdl.mlkem.ntt import NttUnit
from hdl.mlkem.workmem import WorkMemory
from hdl.sponge import SpongeIn

__all__ = ["NttPart", "BaseMulPart", "FinalPassPart", "HashPart"]


def _load_ports():
    return {"ld_en": In(1), "ld_addr": In(AW), "ld_data": In(PolyWord),
            "rb_addr": In(AW), "rb_data": Out(PolyWord)}


def _write_or_load(m, port, unit_wr, part):
    """``port`` writes what the unit writes, else the part's load port."""
    with m.If(unit_wr.en):
        m.d.comb += [port.en.eq(1), port.addr.eq(unit_wr.addr), port.data.eq(unit_wr.data)]
    with m.Else():
        m.d.comb += [port.en.eq(part.ld_en), port.addr.eq(part.ld_addr), port.data.eq(part.ld_data)]


class NttPart(wiring.Component):
    """``NttUnit`` on the engine's two-bank work memory (192 words)."""

    def __init__(self):
        super().__init__({"start": In(1), "inverse": In(1), "base": In(AW), "done": Out(1),
                          **_load_ports()})

    def elaborate(self, platform):
        m = Module()
        m.submodules.ntt = ntt = NttUnit(addr_width=AW)
        m.submodules.wr = wr = WorkMemory(depth=192)
        m.d.comb += [
            ntt.start.eq(self.start), ntt.inverse.eq(self.inverse), ntt.base.eq(self.base),
            self.done.eq(ntt.done),
            wr.rd0.addr.eq(Mux(ntt.busy, ntt.rd0.addr, self.rb_addr)),
            wr.rd1.addr.eq(ntt.rd1.addr),
            ntt.rd0.data.eq(wr.rd0.data), ntt.rd1.data.eq(wr.rd1.data),
            self.rb_data.eq(wr.rd0.data),
            wr.wr1.en.eq(ntt.wr1.en), wr.wr1.addr.eq(ntt.wr1.addr), wr.wr1.data.eq(ntt.wr1.data),
        ]
        _write_or_load(m, wr.wr0, ntt.wr0, self)
        return m


class BaseMulPart(wiring.Component):
    """``BaseMulUnit`` reading the key memory (256 words) and the work memory."""

    def __init__(self):
        super().__init__({"start": In(1), "a0": In(AW), "a1": In(AW), "b0": In(AW),
                          "b1": In(AW), "dst": In(AW), "done": Out(1),
                          "kld_en": In(1), **_load_ports()})

    def elaborate(self, platform):
        m = Module()
        m.submodules.bm = bm = BaseMulUnit(addr_width=AW)
        m.submodules.kr = kr = memory.Memory(shape=PolyWord, depth=256, init=[])
        kr_w, kr_r = kr.write_port(), kr.read_port()
        m.submodules.wr = wr = WorkMemory(depth=192)
        m.d.comb += [
            bm.start.eq(self.start), bm.a0.eq(self.a0), bm.a1.eq(self.a1), bm.b0.eq(self.b0),
            bm.b1.eq(self.b1), bm.dst.eq(self.dst), self.done.eq(bm.done),
            kr_w.en.eq(self.kld_en), kr_w.addr.eq(self.ld_addr), kr_w.data.eq(self.ld_data),
            kr_r.addr.eq(bm.rd_a.addr),
            wr.rd0.addr.eq(Mux(bm.busy, bm.rd_b.addr, self.rb_addr)),
            bm.rd_b.data.eq(wr.rd0.data), self.rb_data.eq(wr.rd0.data),
        ]
        m.d.sync += bm.rd_a.data.eq(kr_r.data)          # as in the engine: read latency 2
        _write_or_load(m, wr.wr0, bm.wr, self)
        return m


class FinalPassPart(wiring.Component):
    """``FinalPass`` reading the work, noise, ct and c1-chunk memories."""

    def __init__(self):
        super().__init__({"start": In(1), "mode": In(2), "wbase": In(AW), "nbase": In(AW),
                          "cbase": In(CHUNK_ADDR_BITS), "clear": In(1), "done": Out(1),
                          "m_prime": Out(256), "diff": Out(1),
                          "nld_en": In(1), "ctld_en": In(1), "ctld_data": In(64),
                          "culd_en": In(1), "culd_data": In(DEC10_BITS), **_load_ports()})

    def elaborate(self, platform):
        m = Module()
        m.submodules.fp = fp = FinalPass(addr_width=AW)
        m.submodules.wr = wr = WorkMemory(depth=192)
        m.submodules.nr = nr = memory.Memory(shape=PolyWord, depth=96, init=[])
        m.submodules.ctm = ctm = memory.Memory(shape=unsigned(64), depth=CT_WORDS, init=[])
        m.submodules.cu = cu = memory.Memory(shape=unsigned(DEC10_BITS), depth=64, init=[])
        nr_w, nr_r = nr.write_port(), nr.read_port()
        ctm_w, ctm_r = ctm.write_port(), ctm.read_port()
        cu_w, cu_r = cu.write_port(), cu.read_port()
        m.d.comb += [
            fp.start.eq(self.start), fp.mode.eq(self.mode), fp.wbase.eq(self.wbase),
            fp.nbase.eq(self.nbase), fp.cbase.eq(self.cbase), fp.clear.eq(self.clear),
            self.done.eq(fp.done), self.m_prime.eq(fp.m_prime), self.diff.eq(fp.diff),
            nr_w.en.eq(self.nld_en), nr_w.addr.eq(self.ld_addr), nr_w.data.eq(self.ld_data),
            ctm_w.en.eq(self.ctld_en), ctm_w.addr.eq(self.ld_addr[:CT_ADDR_BITS]),
            ctm_w.data.eq(self.ctld_data),
            cu_w.en.eq(self.culd_en), cu_w.addr.eq(self.ld_addr[:CHUNK_ADDR_BITS]),
            cu_w.data.eq(self.culd_data),
            nr_r.addr.eq(fp.rd_n.addr), ctm_r.addr.eq(fp.rd_ct.addr), cu_r.addr.eq(fp.rd_cu.addr),
            wr.rd0.addr.eq(Mux(fp.busy, fp.rd_w.addr, self.rb_addr)),
            fp.rd_w.data.eq(wr.rd0.data), self.rb_data.eq(wr.rd0.data),
            wr.wr0.en.eq(self.ld_en), wr.wr0.addr.eq(self.ld_addr), wr.wr0.data.eq(self.ld_data),
        ]
        # as in the engine: each block RAM's data straight into a register (read latency 2)
        m.d.sync += [fp.rd_n.data.eq(nr_r.data), fp.rd_ct.data.eq(ctm_r.data),
                     fp.rd_cu.data.eq(cu_r.data)]
        return m


class HashPart(wiring.Component):
    """``HashJobs`` (the engine's sponge and its job runner) with both samplers writing the
    key and work memories, and the ct memory J reads, wired as in the engine."""

    def __init__(self):
        super().__init__({"go": In(1), "kind": In(2), "n": In(3), "done": Out(1),
                          "rho": In(256), "z": In(256), "h": In(256), "m_prime": In(256),
                          "k_bar": Out(256), "k_prime": Out(256),
                          "key_sel": In(1), "key_i": In(stream.Signature(SpongeIn)),
                          "key_o": Out(stream.Signature(64)), "key_stop": In(1),
                          "rej_start": In(1), "cbd_start": In(1), "eta3": In(1),
                          "ctld_en": In(1), "ctld_data": In(64), **_load_ports()})

    def elaborate(self, platform):
        m = Module()
        m.submodules.hj = hj = HashJobs(rounds_per_cycle=1)
        m.submodules.rej = rej = RejectionSampler(addr_width=AW)
        m.submodules.cbd = cbd = CbdSampler(addr_width=AW)
        m.submodules.kr = kr = memory.Memory(shape=PolyWord, depth=256, init=[])
        kr_w, kr_r = kr.write_port(), kr.read_port()
        m.submodules.wr = wr = WorkMemory(depth=192)
        m.submodules.ctm = ctm = memory.Memory(shape=unsigned(64), depth=CT_WORDS, init=[])
        ctm_w, ctm_r = ctm.write_port(), ctm.read_port()
        wiring.connect(m, wiring.flipped(self.key_i), hj.key_i)
        wiring.connect(m, hj.key_o, wiring.flipped(self.key_o))
        m.d.comb += [
            hj.go.eq(self.go), hj.kind.eq(self.kind), hj.n.eq(self.n), self.done.eq(hj.done),
            hj.rho.eq(self.rho), hj.z.eq(self.z), hj.h.eq(self.h), hj.m_prime.eq(self.m_prime),
            self.k_bar.eq(hj.k_bar), self.k_prime.eq(hj.k_prime),
            hj.key_sel.eq(self.key_sel), hj.key_stop.eq(self.key_stop),
            ctm_w.en.eq(self.ctld_en), ctm_w.addr.eq(self.ld_addr[:CT_ADDR_BITS]),
            ctm_w.data.eq(self.ctld_data),
            ctm_r.addr.eq(hj.rd_ct.addr), hj.rd_ct.data.eq(ctm_r.data),
            rej.i.payload.eq(hj.sampler.payload), cbd.i.payload.eq(hj.sampler.payload),
            rej.i.valid.eq(hj.sampler.valid & hj.xof), cbd.i.valid.eq(hj.sampler.valid & ~hj.xof),
            hj.sampler.ready.eq(Mux(hj.xof, rej.i.ready, cbd.i.ready)),
            hj.sampler_stop.eq(rej.stop | cbd.stop), hj.sampler_done.eq(rej.done | cbd.done),
            rej.start.eq(self.rej_start), rej.base.eq(self.ld_addr),
            cbd.start.eq(self.cbd_start), cbd.eta3.eq(self.eta3), cbd.base.eq(self.ld_addr),
            kr_w.en.eq(rej.wr.en | self.ld_en), kr_w.addr.eq(Mux(rej.wr.en, rej.wr.addr, self.ld_addr)),
            kr_w.data.eq(Mux(rej.wr.en, rej.wr.data, self.ld_data)),
            kr_r.addr.eq(self.rb_addr),
            wr.rd0.addr.eq(self.rb_addr), self.rb_data.eq(wr.rd0.data.as_value() ^ kr_r.data.as_value()),
        ]
        # as in the engine: the CBD sampler's words reach the work memory through a register
        m.d.sync += [wr.wr0.en.eq(cbd.wr.en), wr.wr0.addr.eq(cbd.wr.addr),
                     wr.wr0.data.eq(cbd.wr.data)]
        return m


#: The parts by their design names in ``tools.gen``.
DESIGNS = {"mlkem_ntt": NttPart, "mlkem_basemul": BaseMulPart, "mlkem_finalpass": FinalPassPart,
           "mlkem_hash": HashPart}
