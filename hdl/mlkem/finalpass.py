"""The final pass of the ML-KEM-512 engine: the last step of the decryption and of each
re-encrypted ciphertext part, one coefficient word per cycle (FIPS 203 Algorithms 14, 15).

For the 32 words of an inverse-NTT output ``acc`` (not yet scaled by 128⁻¹)::

    x = 128⁻¹ · acc mod q
    DEC:  m' word w = Compress_1(Decompress_4(c2) − x)          (collected into ``m_prime``)
    U:    Compress_10(x + e1) compared with the c1 chunk         (``diff`` |= mismatch)
    V:    Compress_4(x + e2 + Decompress_1(m')) compared with c2 (``diff`` |= mismatch)

Pipeline (``PASS_DEPTH`` = 4): read → 128⁻¹ product → Barrett → add / compress → collect.
The three Compress_d share one multiplier per lane: the pass's mode picks the operand and the
reciprocal (:func:`hdl.mlkem.arith.compress_params`).
"""

from amaranth.hdl import Module, Signal, Mux, Cat
from amaranth.lib import wiring
from amaranth.lib.wiring import In, Out

from golden.mlkem import DU, DV, N_INV, Q
from hdl.mlkem.arith import (LANES, WORDS, PolyWord, COMPRESS_SHIFT, mod_add, mod_sub, barrett,
                             check_addr_width, compress_params, decompress)
from hdl.mlkem.intake import C1_WORDS, CHUNK_ADDR_BITS, CT_ADDR_BITS, DEC10_BITS
from hdl.stream_util import read_port_signature

__all__ = ["FinalPass", "PASS_DEC", "PASS_U", "PASS_V", "PASS_DEPTH", "PASS_CYCLES"]

PASS_DEC, PASS_U, PASS_V = range(3)
PASS_DEPTH = 4
PASS_CYCLES = WORDS + PASS_DEPTH          # start → done
C2_BITS = DV * LANES                       # c2 bits of one coefficient word (32)


class FinalPass(wiring.Component):
    """One pass over a polynomial (see the module docstring).

    ``start`` (a pulse, with ``mode``, ``wbase``, ``nbase``, ``cbase``) → ``done`` (a pulse)
    after :data:`PASS_CYCLES` = 36 cycles, for every input. ``clear`` (a pulse) resets
    ``diff`` (a new request). ``m_prime`` holds the last DEC pass's message.

    Parameters
    ----------
    addr_width : int
        Address width of the work and noise memories.

    Members
    -------
    start : ``In(1)``; mode : ``In(2)``; wbase, nbase : ``In(addr_width)``; cbase : ``In(6)``
        (sampled at ``start``)
        Pass kind and the base addresses of ``acc`` (work memory), the noise polynomial and
        the c1 chunks.
    clear : ``In(1)``
    busy, done : ``Out(1)``
    rd_w, rd_n : ``Out(read_port_signature(addr_width, PolyWord))``
        Work and noise memories, synchronous (data one cycle after ``addr``).
    rd_cu : ``Out(read_port_signature(6, 80))``
        c1 chunk memory, synchronous.
    rd_ct : ``Out(read_port_signature(7, 64))``
        ct memory, synchronous (the c2 words).
    m_prime : ``Out(256)``
    diff : ``Out(1)``
        A compared word differed since ``clear``.
    """

    def __init__(self, *, addr_width):
        check_addr_width(addr_width)
        self._addr_width = addr_width
        aw = addr_width
        super().__init__({
            "start": In(1), "mode": In(2), "wbase": In(aw), "nbase": In(aw),
            "cbase": In(CHUNK_ADDR_BITS),
            "clear": In(1),
            "busy": Out(1), "done": Out(1),
            "rd_w": Out(read_port_signature(aw, PolyWord)),
            "rd_n": Out(read_port_signature(aw, PolyWord)),
            "rd_cu": Out(read_port_signature(CHUNK_ADDR_BITS, DEC10_BITS)),
            "rd_ct": Out(read_port_signature(CT_ADDR_BITS, 64)),
            "m_prime": Out(256),
            "diff": Out(1),
        })

    def elaborate(self, platform):
        m = Module()
        aw = self._addr_width
        busy = Signal()
        mode = Signal(2)
        wb = Signal(aw)
        nb = Signal(aw)
        cb = Signal(CHUNK_ADDR_BITS)
        pc = Signal(range(PASS_CYCLES + 1))
        m_prime = Signal(256)
        diff = Signal()
        m.d.comb += [self.busy.eq(busy), self.m_prime.eq(m_prime), self.diff.eq(diff)]
        with m.If(self.start):
            m.d.sync += [busy.eq(1), mode.eq(self.mode), wb.eq(self.wbase), nb.eq(self.nbase),
                         cb.eq(self.cbase), pc.eq(0)]
        with m.Elif(busy):
            m.d.sync += pc.eq(pc + 1)
            with m.If(pc == PASS_CYCLES - 1):
                m.d.sync += busy.eq(0)
        m.d.comb += self.done.eq(busy & (pc == PASS_CYCLES - 1))
        issue = Signal()
        m.d.comb += issue.eq(busy & (pc < WORDS))
        m.d.comb += [
            self.rd_w.addr.eq(wb + pc[:5]),
            self.rd_n.addr.eq(nb + pc[:5]),
            self.rd_cu.addr.eq(cb + pc[:5]),
            self.rd_ct.addr.eq(C1_WORDS + pc[1:5]),       # c2: two coefficient words per ct word
        ]
        def delayed(c, **prev):
            """Registers of stage ``c`` that carry ``prev`` one cycle down the pipeline."""
            regs = [Signal.like(v, name=f"{name}{c}") for name, v in prev.items()]
            m.d.sync += [r.eq(v) for r, v in zip(regs, prev.values())]
            return regs

        # c1: memory data (every read port synchronous)
        pv = [Signal(name=f"pv{s}") for s in range(1, 5)]
        m.d.sync += [pv[0].eq(issue)] + [pv[s].eq(pv[s - 1]) for s in range(1, 4)]
        half1 = Signal()                   # which c2 half of the ct word read
        m.d.sync += half1.eq(pc[0])
        cu1 = Signal(DEC10_BITS)
        cv1 = Signal(C2_BITS)
        mu1 = Signal(LANES)
        m.d.comb += [cu1.eq(self.rd_cu.data),
                     cv1.eq(Mux(half1, self.rd_ct.data[C2_BITS:], self.rd_ct.data[:C2_BITS]))]
        m.d.sync += mu1.eq(m_prime.word_select(pc[:5], LANES))
        # c2: 128⁻¹ · acc
        pprod = [Signal(24, name=f"pprod_{k}") for k in range(LANES)]
        e2 = [Signal(12, name=f"pe2_{k}") for k in range(LANES)]
        for k in range(LANES):
            m.d.sync += [pprod[k].eq(self.rd_w.data[k] * N_INV), e2[k].eq(self.rd_n.data[k])]
        cu2, cv2, mu2 = delayed(2, cu=cu1, cv=cv1, mu=mu1)
        # c3: x = 128⁻¹ · acc mod q
        px = [Signal(12, name=f"px_{k}") for k in range(LANES)]
        e3 = [Signal(12, name=f"pe3_{k}") for k in range(LANES)]
        for k in range(LANES):
            red = barrett(m, pprod[k], name=f"pred_{k}")
            m.d.sync += [px[k].eq(red), e3[k].eq(e2[k])]
        cu3, cv3, mu3 = delayed(3, cu=cu2, cv=cv2, mu=mu2)
        # c4: DEC: Compress1(Decompress4(c2) − x);  U: Compress10(x + e1);  V: Compress4(x + e2 + μ)
        # Compress_d(y) = ((y·A_d + B_d) >> COMPRESS_SHIFT) mod 2^d, one multiplier per lane
        dec_bits = Signal(LANES)
        u_bits = Signal(DEC10_BITS)
        v_bits = Signal(C2_BITS)
        rec = {PASS_DEC: compress_params(1), PASS_U: compress_params(DU), PASS_V: compress_params(DV)}
        ca = Signal(max(a for a, _ in rec.values()).bit_length())
        cb = Signal(max(b for _, b in rec.values()).bit_length())
        with m.Switch(mode):
            for md, (a, b) in rec.items():
                with m.Case(md):
                    m.d.comb += [ca.eq(a), cb.eq(b)]
        for k in range(LANES):
            c2k = cv3[DV * k:DV * (k + 1)]
            vdec = decompress(m, c2k, DV, name=f"vdec_{k}")                 # Decompress_4
            wk = mod_sub(m, vdec, px[k], name=f"pw_{k}")
            xe = mod_add(m, px[k], e3[k], name=f"pxe_{k}")
            mu = Signal(12, name=f"pmu_{k}")
            m.d.comb += mu.eq(Mux(mu3[k], (Q + 1) // 2, 0))                 # Decompress_1
            xv = mod_add(m, xe, mu, name=f"pxv_{k}")
            y = Signal(12, name=f"py_{k}")
            m.d.comb += y.eq(Mux(mode == PASS_DEC, wk, Mux(mode == PASS_U, xe, xv)))
            prod = Signal(12 + len(ca), name=f"pcp_{k}")
            m.d.comb += prod.eq(y * ca + cb)
            bits = prod[COMPRESS_SHIFT:]
            m.d.sync += [
                dec_bits[k].eq(bits[0]),
                u_bits[DU * k:DU * (k + 1)].eq(bits[:DU]),
                v_bits[DV * k:DV * (k + 1)].eq(bits[:DV]),
            ]
        cu4, cv4 = delayed(4, cu=cu3, cv=cv3)
        # collect m', accumulate the comparison (every word, no early exit)
        with m.If(pv[3]):
            with m.Switch(mode):
                with m.Case(PASS_DEC):
                    m.d.sync += m_prime.eq(Cat(m_prime[LANES:], dec_bits))
                with m.Case(PASS_U):
                    m.d.sync += diff.eq(diff | (u_bits != cu4))
                with m.Case(PASS_V):
                    m.d.sync += diff.eq(diff | (v_bits != cv4))
        with m.If(self.clear):
            m.d.sync += diff.eq(0)
        return m
