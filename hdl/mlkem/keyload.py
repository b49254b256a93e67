"""The key load of the ML-KEM-512 engine (FIPS 203 §7.3, Algorithm 16's dk layout).

The dk words are decoded by a :class:`~hdl.mlkem.intake.DkDecoder` (ŝ ‖ t̂ into the key
memory, ρ / H(ek) / z registers) while ``ek = t̂ ‖ ρ`` streams into SHA3-256 through the
sponge arbiter's key client; then ``H(ek)`` is compared with the stored hash and, if it
matches and there were 204 words, the four polynomials of Â are expanded by XOF jobs
(``Â[i][j] = SampleNTT(ρ ‖ j ‖ i)``, rejection sampling into the key memory).
"""

from amaranth.hdl import Module, Signal, Cat
from amaranth.lib import stream, wiring
from amaranth.lib.wiring import In, Out

from hdl.mlkem.arith import PolyWord
from hdl.mlkem.intake import COEFF_ADDR_BITS, DkDecoder, EK_WORD, H_WORD, KEY_WORDS, SEED_WORDS
from hdl.sponge import SpongeIn, SpongeMode
from hdl.stream_util import Word, write_port_signature

__all__ = ["MlKemKeyLoader", "MATRIX_POLYS"]

MATRIX_POLYS = 4            # Â: k × k = 2 × 2 polynomials


class MlKemKeyLoader(wiring.Component):
    """Key load of the ML-KEM engine (see the module docstring).

    ``key`` takes one dk word per cycle, except that the ``ek`` words wait for the sponge
    (``key_i.ready``). ``key_done`` rises when the key is processed (low from the cycle after
    a new key's first word); ``key_ok`` is then high iff the word count was 204 and ``H(ek)``
    matched (Â is expanded only then). Each XOF job is requested with ``xof_go`` for
    polynomial ``xof_index`` (``2i + j``) and must be answered by ``xof_done``.

    Members
    -------
    key : ``In(stream.Signature(Word))``
    key_done, key_ok : ``Out(1)``
    wr : ``Out(write_port_signature(7, PolyWord))``
        Key-memory writes of ŝ ‖ t̂.
    rho, h, z : ``Out(256)``
    key_sel : ``Out(1)``; key_i : ``Out(stream.Signature(SpongeIn))``;
    key_o : ``In(stream.Signature(unsigned(64)))``; key_stop : ``Out(1)``
        The sponge arbiter's key client.
    xof_go : ``Out(1)``; xof_index : ``Out(range(4))``; xof_done : ``In(1)``
    """

    key: In(stream.Signature(Word))
    key_done: Out(1)
    key_ok: Out(1)
    wr: Out(write_port_signature(COEFF_ADDR_BITS, PolyWord))
    rho: Out(256)
    h: Out(256)
    z: Out(256)
    key_sel: Out(1)
    key_i: Out(stream.Signature(SpongeIn))
    key_o: In(stream.Signature(64))
    key_stop: Out(1)
    xof_go: Out(1)
    xof_index: Out(range(MATRIX_POLYS))
    xof_done: In(1)

    def elaborate(self, platform):
        m = Module()
        m.submodules.dk = dk = DkDecoder()
        key_done = Signal()
        key_ok = Signal()
        kw = Signal(range(KEY_WORDS + 1))
        key_hs = Signal()
        to_hash = Signal()
        count_ok = Signal()
        hreg = Signal(256)
        hcnt = Signal(range(SEED_WORDS + 1))
        xidx = Signal(range(MATRIX_POLYS + 1))   # Â polynomial being sampled (2i + j)
        hashing = Signal()           # ek words go to SHA3-256
        reading = Signal()           # H(ek) is read
        dk_start = Signal()
        # the decoder takes each word a cycle after its handshake, from a register (the
        # handshake waits on the sponge; the decode and the key-memory write do not); ``kw``
        # counts the words taken
        dk_valid = Signal()
        dk_word = Signal.like(self.key.payload)
        m.d.sync += [dk_valid.eq(key_hs), dk_word.eq(self.key.payload)]
        # to_hash = (kw >= EK_WORD) & (kw < H_WORD) (word kw belongs to ek = t̂ ‖ ρ), a
        # register updated with kw
        # and ek_last = (kw == H_WORD - 1) likewise
        ek_last = Signal()
        with m.If(key_hs):
            m.d.sync += [kw.eq(kw + 1), to_hash.eq((kw >= EK_WORD - 1) & (kw < H_WORD - 1)),
                         ek_last.eq(kw == H_WORD - 2)]
        with m.If(dk_start):
            m.d.sync += [kw.eq(0), to_hash.eq(0), ek_last.eq(0)]
        m.d.comb += [
            self.key_done.eq(key_done),
            self.key_ok.eq(key_ok),
            key_hs.eq(self.key.valid & self.key.ready),
            dk.i.valid.eq(dk_valid),
            dk.i.payload.eq(dk_word),
            dk.start.eq(dk_start),
            self.rho.eq(dk.rho), self.h.eq(dk.h), self.z.eq(dk.z),
            self.wr.en.eq(dk.wr.en), self.wr.addr.eq(dk.wr.addr), self.wr.data.eq(dk.wr.data),
            self.xof_index.eq(xidx),
            # the sponge's key client: ek into SHA3-256, then H(ek)
            self.key_sel.eq(hashing | reading),
            self.key_i.valid.eq(self.key.valid),
            self.key_i.payload.data.eq(self.key.payload.data),
            self.key_i.payload.nbytes.eq(8),
            self.key_i.payload.last.eq(self.key.payload.last | ek_last),
            self.key_i.payload.mode.eq(SpongeMode.SHA3_256),
            self.key_o.ready.eq(reading),
            self.key_stop.eq(reading & self.key_o.valid & (hcnt == SEED_WORDS - 1)),
        ]

        with m.FSM(name="key_fsm"):
            with m.State("Idle"):
                m.d.comb += [self.key.ready.eq(~to_hash | self.key_i.ready),
                             hashing.eq(to_hash)]
                with m.If(key_hs):
                    m.d.sync += [key_done.eq(0), key_ok.eq(0)]
                    with m.If(self.key.payload.last):
                        m.d.sync += [count_ok.eq(kw == KEY_WORDS - 1), hcnt.eq(0)]
                        with m.If(kw >= EK_WORD):
                            m.next = "Hash"
                        with m.Else():
                            m.next = "Done"
            with m.State("Hash"):
                m.d.comb += reading.eq(1)
                with m.If(self.key_o.valid):
                    m.d.sync += [hreg.eq(Cat(hreg[64:], self.key_o.payload)),
                                 hcnt.eq(hcnt + 1)]
                    with m.If(hcnt == SEED_WORDS - 1):
                        m.next = "Check"
            with m.State("Check"):
                with m.If(count_ok & (hreg == self.h)):
                    m.d.sync += xidx.eq(0)
                    m.next = "Expand"
                with m.Else():
                    m.next = "Done"
            with m.State("Expand"):
                # Â[i][j] = SampleNTT(ρ ‖ j ‖ i), one job per polynomial
                with m.If(xidx == MATRIX_POLYS):
                    m.d.sync += key_ok.eq(1)
                    m.next = "Done"
                with m.Else():
                    m.d.comb += self.xof_go.eq(1)
                    m.next = "ExpandWait"
            with m.State("ExpandWait"):
                with m.If(self.xof_done):
                    m.d.sync += xidx.eq(xidx + 1)
                    m.next = "Expand"
            with m.State("Done"):
                m.d.sync += key_done.eq(1)
                m.d.comb += dk_start.eq(1)
                m.next = "Idle"
        return m
