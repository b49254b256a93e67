"""Stream front ends of the ML-KEM-512 engine: the dk decoder of the key load and the
ciphertext intake (FIPS 203 Algorithms 15, 18). Both take one 64-bit word per cycle and
write the engine's memories through :func:`hdl.stream_util.write_port_signature` ports.
"""

from amaranth.hdl import Module, Signal, Mux, Cat
from amaranth.lib import stream, wiring
from amaranth.lib.wiring import In, Out

from golden.mlkem import C1_LEN, CT_LEN, DK_LEN, DK_PKE_LEN, DU, EK_LEN, Q, SS_LEN
from golden.proof import BEAT_BYTES
from hdl.mlkem.arith import LANES, PolyWord, decompress
from hdl.stream_util import Word, WordsToSymbols, write_port_signature

__all__ = ["DkDecoder", "CtIntake", "KEY_WORDS", "EK_WORD", "RHO_WORD", "H_WORD", "Z_WORD",
           "SEED_WORDS", "CT_WORDS", "C1_WORDS", "C1_CHUNKS", "DEC12_BITS", "DEC10_BITS",
           "CT_ADDR_BITS", "CHUNK_ADDR_BITS", "COEFF_ADDR_BITS"]

# dk = dk_pke (ŝ) ‖ ek (t̂ ‖ ρ) ‖ H(ek) ‖ z (FIPS 203 Algorithm 16), in 64-bit words
KEY_WORDS = DK_LEN // BEAT_BYTES                    # 204
EK_WORD = DK_PKE_LEN // BEAT_BYTES                  # 96: t̂ ‖ ρ = ek starts
RHO_WORD = (DK_PKE_LEN + EK_LEN - SS_LEN) // BEAT_BYTES   # 192: ρ, after the 12-bit coefficients
H_WORD = (DK_PKE_LEN + EK_LEN) // BEAT_BYTES        # 196: H(ek)
Z_WORD = H_WORD + SS_LEN // BEAT_BYTES              # 200: z
SEED_WORDS = SS_LEN // BEAT_BYTES                   # 4 words in ρ, H(ek), z, m', r, K
# ct = c1 ‖ c2 (FIPS 203 Algorithm 14)
CT_WORDS = CT_LEN // BEAT_BYTES                     # 96
C1_WORDS = C1_LEN // BEAT_BYTES                     # 80
DEC12_BITS = 12 * LANES      # one key-memory word of ByteDecode_12 coefficients
DEC10_BITS = DU * LANES      # one c1 chunk of Decompress_du coefficients
C1_CHUNKS = 8 * C1_LEN // DEC10_BITS                # 64
COEFF_WORDS = 8 * RHO_WORD * BEAT_BYTES // DEC12_BITS   # 128 words of ŝ ‖ t̂
CT_ADDR_BITS = (CT_WORDS - 1).bit_length()          # ct memory address
CHUNK_ADDR_BITS = (C1_CHUNKS - 1).bit_length()      # c1 chunk memory address
COEFF_ADDR_BITS = (COEFF_WORDS - 1).bit_length()    # ŝ ‖ t̂ key-memory words


class DkDecoder(wiring.Component):
    """The dk words of a key load: ``ByteDecode_12`` of ŝ ‖ t̂ (reduced mod q, FIPS 203
    §7.3) into key-memory words 0 … 127, and the ρ, H(ek) and z registers.

    Word ``n`` of dk is taken in the cycle it is offered on ``i`` (``i.ready`` is always
    high); the coefficient word it completes is written in the next cycle (``wr`` is a
    register). ``start`` (a pulse, between keys) restarts at word 0.

    Members
    -------
    start : ``In(1)``
    i : ``In(stream.Signature(Word))``
        dk words.
    wr : ``Out(write_port_signature(7, PolyWord))``
        Key-memory writes of ŝ0 ŝ1 t̂0 t̂1 (32 words each).
    index : ``Out(range(KEY_WORDS + 1))``
        Index of the next dk word.
    rho, h, z : ``Out(256)``
        ρ, H(ek) and z of the key.
    """

    start: In(1)
    i: In(stream.Signature(Word))
    wr: Out(write_port_signature(COEFF_ADDR_BITS, PolyWord))
    index: Out(range(KEY_WORDS + 1))
    rho: Out(256)
    h: Out(256)
    z: Out(256)

    def elaborate(self, platform):
        m = Module()
        m.submodules.conv = conv = WordsToSymbols(width=DEC12_BITS)
        kw = Signal(range(KEY_WORDS + 1))
        widx = Signal(range(COEFF_WORDS))
        hs = Signal()
        m.d.comb += [
            self.i.ready.eq(1),
            hs.eq(self.i.valid),
            self.index.eq(kw),
            conv.i.valid.eq(hs & (kw < RHO_WORD)),
            conv.i.payload.eq(self.i.payload.data),
            conv.o.ready.eq(1),
            conv.start.eq(self.start),
        ]
        # the write port is a register: a coefficient word is written in the cycle after
        # the word completing it is taken
        for k in range(LANES):
            raw = conv.o.payload[12 * k:12 * k + 12]
            m.d.sync += self.wr.data[k].eq(Mux(raw >= Q, raw - Q, raw))
        m.d.sync += [self.wr.en.eq(conv.o.valid), self.wr.addr.eq(widx)]
        with m.If(conv.o.valid):
            m.d.sync += widx.eq(widx + 1)
        with m.If(hs):
            m.d.sync += kw.eq(kw + 1)
            for w in range(SEED_WORDS):
                for reg, first in ((self.rho, RHO_WORD), (self.h, H_WORD), (self.z, Z_WORD)):
                    with m.If(kw == first + w):
                        m.d.sync += reg[64 * w:64 * w + 64].eq(self.i.payload.data)
        with m.If(self.start):
            m.d.sync += [kw.eq(0), widx.eq(0)]
        return m


class CtIntake(wiring.Component):
    """The ciphertext of a request: every word into the ct memory (for ``J(z ‖ c)`` and the
    c2 comparison), and c1 cut into 80-bit chunks (8 coefficients of ``du = 10`` bits) into
    the chunk memory (for the c1 comparison) and, decompressed, into the work memory as û.

    After ``start`` the 96 ct words are taken one per cycle (``i.ready`` high until the word
    with ``last``); each word and chunk is written to the ct and chunk memories in the cycle
    the word completing it is taken, its ``Decompress_10`` to ``wr`` two cycles later.
    ``done`` pulses with the ``last`` word.

    Members
    -------
    start : ``In(1)``
    i : ``In(stream.Signature(Word))``
        ct words.
    ctm : ``Out(write_port_signature(7, unsigned(64)))``
        ct memory (word ``n`` at address ``n``).
    cu : ``Out(write_port_signature(6, unsigned(80)))``
        c1 chunks (chunk ``j`` at address ``j``).
    wr : ``Out(write_port_signature(6, PolyWord))``
        ``Decompress_10`` of chunk ``j`` at address ``j`` (û0 ‖ û1).
    done : ``Out(1)``
    """

    start: In(1)
    i: In(stream.Signature(Word))
    ctm: Out(write_port_signature(CT_ADDR_BITS, 64))
    cu: Out(write_port_signature(CHUNK_ADDR_BITS, DEC10_BITS))
    wr: Out(write_port_signature(CHUNK_ADDR_BITS, PolyWord))
    done: Out(1)

    def elaborate(self, platform):
        m = Module()
        m.submodules.conv = conv = WordsToSymbols(width=DEC10_BITS)
        active = Signal()
        bw = Signal(range(CT_WORDS + 1))
        chunk = Signal(range(C1_CHUNKS))
        hs = Signal()
        m.d.comb += [
            self.i.ready.eq(active),
            hs.eq(self.i.valid & active),
            conv.i.valid.eq(hs & (bw < C1_WORDS)),
            conv.i.payload.eq(self.i.payload.data),
            conv.o.ready.eq(1),
            conv.start.eq(self.start),
            self.ctm.en.eq(hs),
            self.ctm.addr.eq(bw),
            self.ctm.data.eq(self.i.payload.data),
            self.cu.en.eq(conv.o.valid),
            self.cu.addr.eq(chunk),
            self.cu.data.eq(conv.o.payload),
            self.done.eq(hs & self.i.payload.last),
        ]
        # the work-memory port goes through two registers: the chunk, then its
        # Decompress_10 (a chunk's write lands two cycles after its word is taken)
        c_en = Signal()
        c_addr = Signal.like(chunk)
        c_data = Signal(DEC10_BITS)
        m.d.sync += [c_en.eq(conv.o.valid), c_addr.eq(chunk), c_data.eq(conv.o.payload),
                     self.wr.en.eq(c_en), self.wr.addr.eq(c_addr)]
        for k in range(LANES):
            # Decompress_10(y) = round(q·y / 2^10), by shifts and adds
            y = c_data[DU * k:DU * (k + 1)]
            m.d.sync += self.wr.data[k].eq(decompress(m, y, DU, name=f"dec10_{k}"))
        with m.If(conv.o.valid):
            m.d.sync += chunk.eq(chunk + 1)
        with m.If(hs):
            m.d.sync += bw.eq(bw + 1)
            with m.If(self.i.payload.last):
                m.d.sync += active.eq(0)
        with m.If(self.start):
            m.d.sync += [active.eq(1), bw.eq(0), chunk.eq(0)]
        return m
