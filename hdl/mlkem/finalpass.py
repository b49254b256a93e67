"""The final pass of the ML-KEM-512 engine: the last step of the decryption and of each
re-encrypted ciphertext part, one coefficient word per cycle (FIPS 203 Algorithms 14, 15).

For the 32 words of an inverse-NTT output ``acc`` (not yet scaled by 128⁻¹)::

    x = 128⁻¹ · acc mod q
    DEC:  m' word w = Compress_1(Decompress_4(c2) − x)          (collected into ``m_prime``)
    U:    Compress_10(x + e1) compared with the c1 chunk         (``diff`` |= mismatch)
    V:    Compress_4(x + e2 + Decompress_1(m')) compared with c2 (``diff`` |= mismatch)

Pipeline (``PASS_DEPTH`` = 12 cycles from a word's address to its collection): address
register → memory (2: the block RAM, its output register) → operand register → 128⁻¹
product and its Shoup quotient side by side (two DSPs) → quotient register → t·q →
select (:func:`hdl.mlkem.arith.const_mulmod_pipe`, 4 stages) → add / subtract →
+ Decompress_1(m') and the mode's operand → Compress product → + B_d, shift → collect.
Every read port has a latency of 2.
The three Compress_d share one multiplier per lane: the pass's mode picks the operand and the
reciprocal (:func:`hdl.mlkem.arith.compress_params`).
"""

from amaranth.hdl import Module, Signal, Mux, Cat
from amaranth.lib import wiring
from amaranth.lib.wiring import In, Out

from golden.mlkem import DU, DV, N_INV, Q
from hdl.mlkem.arith import (LANES, WORDS, PolyWord, COMPRESS_SHIFT, check_addr_width,
                             compress_params, const_mulmod_pipe, count_flag, decompress, delay,
                             minus_q, mod_add_pre, mod_sub_pre, plus_q)
from hdl.mlkem.intake import C1_WORDS, CHUNK_ADDR_BITS, CT_ADDR_BITS, DEC10_BITS
from hdl.stream_util import read_port_signature
from hdl.target import registered_product

__all__ = ["FinalPass", "PASS_DEC", "PASS_U", "PASS_V", "PASS_DEPTH", "PASS_CYCLES"]

PASS_DEC, PASS_U, PASS_V = range(3)
PASS_DEPTH = 12
PASS_CYCLES = WORDS + PASS_DEPTH          # start → done (44)
C2_BITS = DV * LANES                       # c2 bits of one coefficient word (32)


class FinalPass(wiring.Component):
    """One pass over a polynomial (see the module docstring).

    ``start`` (a pulse, with ``mode``, ``wbase``, ``nbase``, ``cbase``) → ``done`` (a pulse)
    after :data:`PASS_CYCLES` = 44 cycles, for every input. ``clear`` (a pulse) resets
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
        Work and noise memories, latency 2 (data two cycles after ``addr``).
    rd_cu : ``Out(read_port_signature(6, 80))``
        c1 chunk memory, latency 2.
    rd_ct : ``Out(read_port_signature(7, 64))``
        ct memory, latency 2 (the c2 words).
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
        # `done` (busy, pc = last): a flip-flop set a cycle ahead (count_flag)
        done = count_flag(m, busy, self.start, pc, PASS_CYCLES - 1, name="done")
        m.d.comb += self.done.eq(done)
        issue = Signal()
        m.d.comb += issue.eq(busy & (pc < WORDS))
        # address stage (registered): word pc
        wa, na, ca_, cta = Signal(aw), Signal(aw), Signal(CHUNK_ADDR_BITS), Signal(CT_ADDR_BITS)
        m.d.sync += [wa.eq(wb + pc[:5]), na.eq(nb + pc[:5]), ca_.eq(cb + pc[:5]),
                     cta.eq(C1_WORDS + pc[1:5])]           # c2: two coefficient words per ct word
        m.d.comb += [self.rd_w.addr.eq(wa), self.rd_n.addr.eq(na), self.rd_cu.addr.eq(ca_),
                     self.rd_ct.addr.eq(cta)]
        # control: c = 0 is the cycle the addresses are on the ports
        v0, half0 = Signal(), Signal()
        mu0 = Signal(LANES)                                  # m' bits of the word (V pass)
        m.d.sync += [v0.eq(issue), half0.eq(pc[0]), mu0.eq(m_prime.word_select(pc[:5], LANES))]

        # c2: memory data (read latency 2) into registers
        w3 = Signal(PolyWord)
        e3 = Signal(PolyWord)
        cu3 = Signal(DEC10_BITS)
        cv3 = Signal(C2_BITS)
        half2 = delay(m, half0, 2, name="half")
        m.d.sync += [w3.eq(self.rd_w.data), e3.eq(self.rd_n.data), cu3.eq(self.rd_cu.data),
                     cv3.eq(Mux(half2, self.rd_ct.data[C2_BITS:], self.rd_ct.data[:C2_BITS]))]
        # c3: 128⁻¹ · acc and its quotient estimate (two DSPs);  c4: the quotient into a
        # fabric register;  c5, c6: x = 128⁻¹ · acc mod q
        px = [const_mulmod_pipe(m, w3[k], N_INV, name=f"pred_{k}", platform=platform)
              for k in range(LANES)]
        # c6: the other operands of c7, with their ± q for one-chain modular sums (c7, c8)
        e6 = delay(m, e3, 3, name="pe")
        cv6 = delay(m, cv3, 3, name="cv")
        mu6 = delay(m, mu0, 6, name="mu")
        e7 = [Signal(12, name=f"pe7_{k}") for k in range(LANES)]
        e7m = [Signal(14, name=f"pe7m_{k}") for k in range(LANES)]
        vdec7 = [Signal(12, name=f"vdec7_{k}") for k in range(LANES)]
        vdec7p = [Signal(13, name=f"vdec7p_{k}") for k in range(LANES)]
        mu7 = [Signal(12, name=f"pmu7_{k}") for k in range(LANES)]
        mu7m = [Signal(14, name=f"pmu7m_{k}") for k in range(LANES)]
        for k in range(LANES):
            vdec = decompress(m, cv6[DV * k:DV * (k + 1)], DV, name=f"vdec_{k}")  # Decompress_4
            m.d.sync += [e7[k].eq(e6[k]), e7m[k].eq(minus_q(m, e6[k], name=f"pe6m_{k}")),
                         vdec7[k].eq(vdec), vdec7p[k].eq(plus_q(m, vdec, name=f"vdecp_{k}")),
                         mu7[k].eq(Mux(mu6[k], (Q + 1) // 2, 0)),                # Decompress_1
                         mu7m[k].eq(Mux(mu6[k], (Q + 1) // 2 - Q, -Q))]
        # c7: DEC: Decompress4(c2) − x;  U: x + e1;  V: x + e2, then + μ (c8)
        wk8 = [Signal(12, name=f"pw8_{k}") for k in range(LANES)]
        xe8 = [Signal(12, name=f"pxe8_{k}") for k in range(LANES)]
        mu8 = delay(m, Cat(*mu7), 1, name="pmu8")
        mu8m = delay(m, Cat(*mu7m), 1, name="pmu8m")
        for k in range(LANES):
            m.d.sync += [wk8[k].eq(mod_sub_pre(m, vdec7[k], vdec7p[k], px[k], name=f"pw_{k}")),
                         xe8[k].eq(mod_add_pre(m, e7[k], e7m[k], px[k], name=f"pxe_{k}"))]
        # c8: the operand of Compress_d by the pass's mode
        y9 = [Signal(12, name=f"py9_{k}") for k in range(LANES)]
        for k in range(LANES):
            xv = mod_add_pre(m, mu8[12 * k:12 * k + 12], mu8m[14 * k:14 * k + 14], xe8[k],
                             name=f"pxv_{k}")
            m.d.sync += y9[k].eq(Mux(mode == PASS_DEC, wk8[k], Mux(mode == PASS_U, xe8[k], xv)))
        # c9: y·A_d;  c10: Compress_d(y) = ((y·A_d + B_d) >> COMPRESS_SHIFT) mod 2^d, one
        # multiplier per lane for the three d
        rec = {PASS_DEC: compress_params(1), PASS_U: compress_params(DU), PASS_V: compress_params(DV)}
        ca = Signal(max(a for a, _ in rec.values()).bit_length())
        cbv = Signal(max(b for _, b in rec.values()).bit_length())
        with m.Switch(mode):
            for md, (a, b) in rec.items():
                with m.Case(md):
                    m.d.comb += [ca.eq(a), cbv.eq(b)]
        dec_bits = Signal(LANES)
        u_bits = Signal(DEC10_BITS)
        v_bits = Signal(C2_BITS)
        for k in range(LANES):
            prod = registered_product(m, y9[k], ca, name=f"pcp_{k}", platform=platform)
            total = Signal(12 + len(ca) + 1, name=f"pct_{k}")
            m.d.comb += total.eq(prod + cbv)
            bits = total[COMPRESS_SHIFT:]
            m.d.sync += [
                dec_bits[k].eq(bits[0]),
                u_bits[DU * k:DU * (k + 1)].eq(bits[:DU]),
                v_bits[DV * k:DV * (k + 1)].eq(bits[:DV]),
            ]
        cu11 = delay(m, cu3, 8, name="cu")
        cv11 = delay(m, cv6, 5, name="cv11")
        v11 = delay(m, v0, 11, name="pv")
        # c11: collect m', accumulate the comparison (every word, no early exit)
        with m.If(v11):
            with m.Switch(mode):
                with m.Case(PASS_DEC):
                    m.d.sync += m_prime.eq(Cat(m_prime[LANES:], dec_bits))
                with m.Case(PASS_U):
                    m.d.sync += diff.eq(diff | (u_bits != cu11))
                with m.Case(PASS_V):
                    m.d.sync += diff.eq(diff | (v_bits != cv11))
        with m.If(self.clear):
            m.d.sync += diff.eq(0)
        return m
