"""ML-KEM-512 decapsulation engine for the ``intel`` validator core (FIPS 203, SPEC §3.2).

Plugs into :class:`hdl.validator.ValidatorShell` through :data:`hdl.validator.KemEngineSignature`:
it is exactly ML-KEM.Decaps (Algorithm 21), dk and ct in, K out; the shell checks the proof tag.
See docs/mlkem.md for the datapath picture, the schedule and the cycle budget.
"""

from amaranth.hdl import Module, Signal, Mux, Cat, Const, ResetInserter, unsigned
from amaranth.lib import memory, wiring
from amaranth.lib.wiring import In, Out

from golden.mlkem import Q, N_INV, C1_LEN, CT_LEN, DK_LEN, DK_PKE_LEN, DU, EK_LEN, SS_LEN
from golden.proof import BEAT_BYTES
from hdl.sponge import KeccakSponge, SpongeMode
from hdl.validator import KemEngineSignature
from hdl.mlkem.arith import LANES, WORDS, PolyWord, mod_add, mod_sub, barrett, compress
from hdl.mlkem.ntt import NttUnit
from hdl.mlkem.basemul import BaseMulUnit
from hdl.mlkem.samplers import RejectionSampler, CbdSampler

__all__ = ["MlKemEngine", "KEY_WORDS", "CT_WORDS", "PROGRAM"]

AW = 8                      # address width of the coefficient memories
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
J_WORDS = SEED_WORDS + CT_WORDS                     # 100: J(z ‖ c)
DEC12_BITS = 12 * LANES      # one key-memory word of ByteDecode_12 coefficients
DEC10_BITS = DU * LANES      # one c1 chunk of Decompress_du coefficients

# key memory slots (32 words each): ŝ0 ŝ1 t̂0 t̂1 Â00 Â01 Â10 Â11;  Â[i][j] = SampleNTT(ρ‖j‖i)
KR_S = (0, 32)
KR_T = (64, 96)


def KR_A(i, j):
    return 128 + 64 * i + 32 * j


# work memory slots: 0 û0/ŷ0, 1 û1/ŷ1, 2 ŝᵀû, 3 u0, 4 u1, 5 v
WR_U = (0, 32)
WR_W = 64
WR_ACC = (96, 128, 160)
# noise memory slots: e1[0], e1[1], e2
NR_E = (0, 32, 64)

# job kinds of the sponge client
JOB_XOF, JOB_J, JOB_G, JOB_PRF = range(4)
# pass modes
PASS_DEC, PASS_U, PASS_V = range(3)

#: The decapsulation program run after the last body word (FIPS 203 Algorithms 15, 18, 14).
PROGRAM = [
    ("j",),                                   # K̄ = J(z ‖ c), in the background
    ("ntt", WR_U[0], 0),                      # û = NTT(Decompress_du(c1))
    ("ntt", WR_U[1], 0),
    ("bmul", KR_S[0], KR_S[1], WR_U[0], WR_U[1], WR_W),   # ŝᵀ ∘ û
    ("ntt", WR_W, 1),                         # NTT⁻¹ (scale 128⁻¹ in the pass)
    ("pass", PASS_DEC, WR_W, 0, 0),           # m' = Encode1(Compress1(v − w))
    ("g",),                                   # (K', r) = G(m' ‖ h)
    ("prf", 0, 1, WR_U[0], 0),                # y[0] = CBD3(PRF(r, 0))  → work memory
    ("prf", 1, 1, WR_U[1], 0),                # y[1]
    ("noise",),                               # e1[0], e1[1], e2 = CBD2(PRF(r, 2..4)) → noise
                                              # memory, in the background (NOISE_JOBS)
    ("ntt", WR_U[0], 0),                      # ŷ
    ("ntt", WR_U[1], 0),
    ("join",),                                # the noise is sampled (long before)
    ("bmul", KR_A(0, 0), KR_A(1, 0), WR_U[0], WR_U[1], WR_ACC[0]),   # Σ_j Â[j][0] ∘ ŷ[j]
    ("bmul", KR_A(0, 1), KR_A(1, 1), WR_U[0], WR_U[1], WR_ACC[1]),   # Σ_j Â[j][1] ∘ ŷ[j]
    ("bmul", KR_T[0], KR_T[1], WR_U[0], WR_U[1], WR_ACC[2]),         # t̂ᵀ ∘ ŷ
    ("ntt", WR_ACC[0], 1),
    ("ntt", WR_ACC[1], 1),
    ("ntt", WR_ACC[2], 1),
    ("pass", PASS_U, WR_ACC[0], NR_E[0], 0),  # compare Compress10(u[0]) with c1
    ("pass", PASS_U, WR_ACC[1], NR_E[1], 32),
    ("pass", PASS_V, WR_ACC[2], NR_E[2], 0),  # compare Compress4(v) with c2
    ("k",),                                   # K = (c == c') ? K' : K̄
]

#: Noise sampling run by the sponge while the NTT unit transforms y: (N, noise memory base).
NOISE_JOBS = [(2, NR_E[0]), (3, NR_E[1]), (4, NR_E[2])]

PASS_DEPTH = 4


class MlKemEngine(wiring.Component):
    """ML-KEM-512 decapsulation (FIPS 203 Algorithms 18, 21): dk and ct in, K out.

    Key load: the 204 words of the standard 1632-byte dk. ŝ and t̂ are decoded (mod q) into
    the key memory as they arrive, ek is hashed with SHA3-256 and compared with the stored
    ``H(ek)``; then Â is expanded from ρ (SHAKE128 rejection sampling) into the key memory.
    ``key_ok`` is set when the word count is 204 and ``H(ek)`` matches.

    Request: the 96 ciphertext words are taken one per cycle; then the fixed
    :data:`PROGRAM` runs: decryption, ``G``, noise sampling, re-encryption, a full
    comparison of the re-encrypted ciphertext with ``c`` (every word, OR-accumulated),
    and selection of ``K'`` or ``J(z ‖ c)`` as ``K``, held on ``k`` until taken.
    The cycle count from the final ct word to ``k.valid`` is the same for every key and
    ciphertext (implicit rejection included), with no key or a rejected key too.
    ``abort`` resets the request datapath (sponge, units) in one cycle; the key stays.

    Parameters
    ----------
    rounds_per_cycle : int
        Keccak rounds per clock of the engine's sponge (1 or 2).

    Members
    -------
    The members of :data:`hdl.validator.KemEngineSignature`.
    """

    def __init__(self, *, rounds_per_cycle=2):
        if rounds_per_cycle not in (1, 2) or not isinstance(rounds_per_cycle, int):
            raise ValueError(f"Round count per cycle must be 1 or 2, not {rounds_per_cycle!r}")
        self._rounds_per_cycle = rounds_per_cycle
        super().__init__(KemEngineSignature)

    @property
    def rounds_per_cycle(self):
        return self._rounds_per_cycle

    def elaborate(self, platform):
        m = Module()
        abort = self.abort

        def unit(name, elab):
            # request-datapath blocks restart on abort (the key memories are not reset)
            wrapped = ResetInserter({"sync": abort})(elab)
            m.submodules[name] = wrapped
            return elab

        ntt = unit("ntt", NttUnit(addr_width=AW))
        bm = unit("bmul", BaseMulUnit(addr_width=AW))
        rej = unit("rej", RejectionSampler(addr_width=AW))
        cbd = unit("cbd", CbdSampler(addr_width=AW))
        sponge = unit("sponge", KeccakSponge(rounds_per_cycle=self._rounds_per_cycle))

        # ---- memories -------------------------------------------------------------------
        m.submodules.kr = kr = memory.Memory(shape=PolyWord, depth=256, init=[])
        kr_w = kr.write_port()
        kr_r = kr.read_port()                       # sync: BaseMul ``a`` operand
        m.submodules.wr = wr = memory.Memory(shape=PolyWord, depth=192, init=[])
        wr_w0 = wr.write_port()
        wr_w1 = wr.write_port()
        wr_r0 = wr.read_port()                      # sync
        wr_r1 = wr.read_port()                      # sync
        m.submodules.nr = nr = memory.Memory(shape=PolyWord, depth=96, init=[])
        nr_w = nr.write_port()
        nr_r = nr.read_port()                       # sync
        m.submodules.ctm = ctm = memory.Memory(shape=unsigned(64), depth=CT_WORDS, init=[])
        ctm_w = ctm.write_port()
        ctm_rj = ctm.read_port(domain="comb")       # J message
        ctm_rp = ctm.read_port(domain="comb")       # pass: c2 words
        m.submodules.cu = cu = memory.Memory(shape=unsigned(80), depth=64, init=[])
        cu_w = cu.write_port()
        cu_r = cu.read_port(domain="comb")          # pass: c1 chunks (8 × 10 bits)

        # ---- key state (survives requests) --------------------------------------------
        rho = Signal(256)
        h = Signal(256)
        z = Signal(256)
        key_done = Signal()
        key_ok = Signal()
        m.d.comb += [self.key_done.eq(key_done), self.key_ok.eq(key_ok)]

        # ---- request state ----------------------------------------------------------
        m_prime = Signal(256)
        k_prime = Signal(256)
        r_seed = Signal(256)
        k_bar = Signal(256)
        diff = Signal()

        # ---- sponge input / output, owned by one client at a time --------------------
        key_h_active = Signal()    # key FSM streams ek into SHA3-256
        key_h_read = Signal()      # key FSM reads H(ek)
        job_active = Signal()      # sponge job runner owns the sponge

        # =============================================================================
        # Key load
        # =============================================================================
        kw = Signal(range(KEY_WORDS + 1))
        key_hs = Signal()
        to_hash = Signal()
        m.d.comb += key_hs.eq(self.key.valid & self.key.ready)
        m.d.comb += to_hash.eq((kw >= EK_WORD) & (kw < H_WORD))        # ek = t̂ ‖ ρ
        count_ok = Signal()
        hreg = Signal(256)
        hcnt = Signal(range(5))
        xidx = Signal(range(5))      # Â polynomial being sampled (2i + j)
        xjob_go = Signal()

        # 12-bit decode: 3 key words → 2 memory words (ByteDecode_12, mod q)
        kbuf = Signal(DEC12_BITS)
        kcnt = Signal(range(DEC12_BITS + 1))     # 0, 32 or 64 bits held
        kwidx = Signal(range(129))
        kcomb = Signal(160)
        m.d.comb += kcomb.eq(kbuf)
        with m.Switch(kcnt):
            for c in (0, 32, 64):
                with m.Case(c):
                    m.d.comb += kcomb.eq(kbuf[:c] | (self.key.payload.data << c) if c else
                                         self.key.payload.data)
        key_word_we = Signal()
        dec12 = [Signal(12, name=f"dec12_{k}") for k in range(LANES)]
        for k in range(LANES):
            raw = kcomb[12 * k:12 * k + 12]
            m.d.comb += dec12[k].eq(Mux(raw >= Q, raw - Q, raw))

        with m.FSM(name="key_fsm"):
            with m.State("Idle"):
                m.d.comb += self.key.ready.eq(~to_hash | sponge.i.ready)
                m.d.comb += key_h_active.eq(to_hash)
                with m.If(key_hs):
                    m.d.sync += [kw.eq(kw + 1), key_done.eq(0), key_ok.eq(0)]
                    with m.If(kw < RHO_WORD):
                        with m.If(kcnt + 64 >= DEC12_BITS):
                            m.d.comb += key_word_we.eq(1)
                            m.d.sync += [kbuf.eq(kcomb[DEC12_BITS:]),
                                         kcnt.eq(kcnt + 64 - DEC12_BITS), kwidx.eq(kwidx + 1)]
                        with m.Else():
                            m.d.sync += [kbuf.eq(kcomb[:DEC12_BITS]), kcnt.eq(kcnt + 64)]
                    for w in range(SEED_WORDS):
                        with m.If(kw == RHO_WORD + w):
                            m.d.sync += rho[64 * w:64 * w + 64].eq(self.key.payload.data)
                        with m.If(kw == H_WORD + w):
                            m.d.sync += h[64 * w:64 * w + 64].eq(self.key.payload.data)
                        with m.If(kw == Z_WORD + w):
                            m.d.sync += z[64 * w:64 * w + 64].eq(self.key.payload.data)
                    with m.If(self.key.payload.last):
                        m.d.sync += [count_ok.eq(kw == KEY_WORDS - 1), hcnt.eq(0)]
                        with m.If(kw >= EK_WORD):
                            m.next = "Hash"
                        with m.Else():
                            m.next = "Done"
            with m.State("Hash"):
                m.d.comb += key_h_read.eq(1)
                with m.If(sponge.o.valid):
                    m.d.sync += [hreg.eq(Cat(hreg[64:], sponge.o.payload)), hcnt.eq(hcnt + 1)]
                    with m.If(hcnt == 3):
                        m.next = "Check"
            with m.State("Check"):
                with m.If(count_ok & (hreg == h)):
                    m.d.sync += xidx.eq(0)
                    m.next = "Expand"
                with m.Else():
                    m.next = "Done"
            with m.State("Expand"):
                # Â[i][j] = SampleNTT(ρ ‖ j ‖ i), one job per polynomial
                with m.If(xidx == 4):
                    m.d.sync += key_ok.eq(1)
                    m.next = "Done"
                with m.Else():
                    m.d.comb += xjob_go.eq(1)
                    m.next = "ExpandWait"
            with m.State("ExpandWait"):
                with m.If(rej.done):
                    m.d.sync += xidx.eq(xidx + 1)
                    m.next = "Expand"
            with m.State("Done"):
                m.d.sync += [key_done.eq(1), kw.eq(0), kcnt.eq(0), kwidx.eq(0)]
                m.next = "Idle"

        m.d.comb += [
            kr_w.en.eq(Mux(key_word_we, 1, rej.wr_en)),
            kr_w.addr.eq(Mux(key_word_we, kwidx, rej.wr_addr)),
            kr_w.data.eq(Mux(key_word_we, Cat(*dec12), rej.wr_data)),
        ]

        # =============================================================================
        # Sponge job runner: XOF (key load), J, G, PRF (request)
        # =============================================================================
        job_go = Signal()
        job_kind = Signal(2)
        job_n = Signal(3)            # PRF nonce N, or Â index 2i + j
        job_busy = Signal()
        job_done = Signal()
        jk = Signal(2)
        jn = Signal(3)
        mi = Signal(range(J_WORDS + 1))      # next message word
        ocnt = Signal(range(9))
        msg_len = Signal(range(J_WORDS + 1))
        with m.Switch(jk):
            with m.Case(JOB_J):
                m.d.comb += msg_len.eq(J_WORDS)
            with m.Case(JOB_G):
                m.d.comb += msg_len.eq(8)
            with m.Default():
                m.d.comb += msg_len.eq(5)
        head = Signal(256)           # the first four message words
        with m.Switch(jk):
            with m.Case(JOB_XOF):
                m.d.comb += head.eq(rho)
            with m.Case(JOB_J):
                m.d.comb += head.eq(z)
            with m.Case(JOB_G):
                m.d.comb += head.eq(m_prime)
            with m.Case(JOB_PRF):
                m.d.comb += head.eq(r_seed)
        msg_word = Signal(64)
        msg_nbytes = Signal(4)
        m.d.comb += [ctm_rj.addr.eq(mi - 4), msg_nbytes.eq(8)]
        with m.If(mi < 4):
            m.d.comb += msg_word.eq(head.word_select(mi[:2], 64))
        with m.Elif(jk == JOB_J):
            m.d.comb += msg_word.eq(ctm_rj.data)
        with m.Elif(jk == JOB_G):
            m.d.comb += msg_word.eq(h.word_select(mi[:2], 64))
        with m.Elif(jk == JOB_XOF):
            # ρ ‖ j ‖ i
            m.d.comb += [msg_word.eq(Cat(jn[0], Const(0, 7), jn[1], Const(0, 7))),
                         msg_nbytes.eq(2)]
        with m.Else():
            m.d.comb += [msg_word.eq(jn), msg_nbytes.eq(1)]
        msg_mode = Signal(SpongeMode)
        with m.Switch(jk):
            with m.Case(JOB_XOF):
                m.d.comb += msg_mode.eq(SpongeMode.SHAKE128)
            with m.Case(JOB_G):
                m.d.comb += msg_mode.eq(SpongeMode.SHA3_512)
            with m.Default():
                m.d.comb += msg_mode.eq(SpongeMode.SHAKE256)

        job_send = Signal()
        job_read = Signal()          # the runner itself reads the output (J, G)
        job_feed = Signal()          # a sampler reads the output (XOF, PRF)
        gout = Signal(512)
        with m.FSM(name="job_fsm"):
            with m.State("Idle"):
                with m.If(job_go):
                    m.d.sync += [jk.eq(job_kind), jn.eq(job_n), mi.eq(0), ocnt.eq(0)]
                    m.next = "Send"
            with m.State("Send"):
                m.d.comb += [job_busy.eq(1), job_send.eq(1)]
                with m.If(sponge.i.ready):
                    m.d.sync += mi.eq(mi + 1)
                    with m.If(mi == msg_len - 1):
                        m.next = "Out"
            with m.State("Out"):
                m.d.comb += job_busy.eq(1)
                with m.If((jk == JOB_J) | (jk == JOB_G)):
                    m.d.comb += job_read.eq(1)
                    with m.If(sponge.o.valid):
                        m.d.sync += [gout.eq(Cat(gout[64:], sponge.o.payload)),
                                     ocnt.eq(ocnt + 1)]
                        with m.If(ocnt == Mux(jk == JOB_J, 3, 7)):
                            m.d.comb += job_done.eq(1)
                            m.next = "Idle"
                with m.Else():
                    m.d.comb += job_feed.eq(1)
                    with m.If(rej.done | cbd.done):
                        m.d.comb += job_done.eq(1)
                        m.next = "Idle"
        m.d.comb += job_active.eq(job_send | job_read | job_feed)
        # capture J and G outputs
        with m.If(job_done & (jk == JOB_J)):
            m.d.sync += k_bar.eq(Cat(gout[64 * 5:], sponge.o.payload))
        with m.If(job_done & (jk == JOB_G)):
            m.d.sync += [k_prime.eq(gout[64:320]),
                         r_seed.eq(Cat(gout[320:], sponge.o.payload))]

        # sponge input mux
        with m.If(key_h_active):
            m.d.comb += [
                sponge.i.valid.eq(self.key.valid),
                sponge.i.payload.data.eq(self.key.payload.data),
                sponge.i.payload.nbytes.eq(8),
                sponge.i.payload.last.eq(self.key.payload.last | (kw == H_WORD - 1)),
                sponge.i.payload.mode.eq(SpongeMode.SHA3_256),
            ]
        with m.Elif(job_send):
            m.d.comb += [
                sponge.i.valid.eq(1),
                sponge.i.payload.data.eq(msg_word),
                sponge.i.payload.nbytes.eq(msg_nbytes),
                sponge.i.payload.last.eq(mi == msg_len - 1),
                sponge.i.payload.mode.eq(msg_mode),
            ]
        # sponge output routing
        m.d.comb += [
            rej.i.payload.eq(sponge.o.payload),
            cbd.i.payload.eq(sponge.o.payload),
            rej.i.valid.eq(sponge.o.valid & job_feed & (jk == JOB_XOF)),
            cbd.i.valid.eq(sponge.o.valid & job_feed & (jk == JOB_PRF)),
        ]
        with m.If(key_h_read | job_read):
            m.d.comb += sponge.o.ready.eq(1)
        with m.Elif(job_feed & (jk == JOB_XOF)):
            m.d.comb += sponge.o.ready.eq(rej.i.ready)
        with m.Elif(job_feed & (jk == JOB_PRF)):
            m.d.comb += sponge.o.ready.eq(cbd.i.ready)
        m.d.comb += sponge.stop.eq(
            (key_h_read & sponge.o.valid & (hcnt == 3)) |
            (job_read & sponge.o.valid & (ocnt == Mux(jk == JOB_J, 3, 7))) |
            (job_feed & (rej.stop | cbd.stop)))

        # =============================================================================
        # Request: body intake
        # =============================================================================
        bw = Signal(range(CT_WORDS + 1))
        body_hs = Signal()
        m.d.comb += body_hs.eq(self.ct.valid & self.ct.ready)
        ubuf = Signal(DEC10_BITS)
        ucnt = Signal(range(DEC10_BITS + 1))     # 0, 16, 32, 48 or 64 bits held
        uch = Signal(range(65))
        ucomb = Signal(144)
        with m.Switch(ucnt):
            for c in (0, 16, 32, 48, 64):
                with m.Case(c):
                    m.d.comb += ucomb.eq(ubuf[:c] | (self.ct.payload.data << c) if c else
                                         self.ct.payload.data)
        intake_we = Signal()
        dec10 = [Signal(12, name=f"dec10_{k}") for k in range(LANES)]
        for k in range(LANES):
            # Decompress_10(y) = round(q·y / 2^10)
            m.d.comb += dec10[k].eq((ucomb[10 * k:10 * k + 10] * Q + 512) >> 10)
        intake = Signal()
        with m.If(intake & body_hs):
            m.d.sync += bw.eq(bw + 1)
            with m.If(bw < C1_WORDS):
                with m.If(ucnt + 64 >= DEC10_BITS):
                    m.d.comb += intake_we.eq(1)
                    m.d.sync += [ubuf.eq(ucomb[DEC10_BITS:]), ucnt.eq(ucnt + 64 - DEC10_BITS),
                                 uch.eq(uch + 1)]
                with m.Else():
                    m.d.sync += [ubuf.eq(ucomb[:DEC10_BITS]), ucnt.eq(ucnt + 64)]
        m.d.comb += [
            ctm_w.en.eq(intake & body_hs),
            ctm_w.addr.eq(bw),
            ctm_w.data.eq(self.ct.payload.data),
            cu_w.en.eq(intake_we),
            cu_w.addr.eq(uch),
            cu_w.data.eq(ucomb[:DEC10_BITS]),
        ]

        # =============================================================================
        # Final passes: decryption output and re-encryption comparison
        # =============================================================================
        pass_go = Signal()
        pass_mode_in = Signal(2)
        pass_w_in = Signal(AW)
        pass_n_in = Signal(AW)
        pass_c_in = Signal(7)
        pass_busy = Signal()
        pass_done = Signal()
        pmode = Signal(2)
        pwb = Signal(AW)
        pnb = Signal(AW)
        pcb = Signal(7)
        pc = Signal(range(WORDS + PASS_DEPTH + 1))
        with m.If(pass_go):
            m.d.sync += [pass_busy.eq(1), pmode.eq(pass_mode_in), pwb.eq(pass_w_in),
                         pnb.eq(pass_n_in), pcb.eq(pass_c_in), pc.eq(0)]
        with m.Elif(pass_busy):
            m.d.sync += pc.eq(pc + 1)
            with m.If(pc == WORDS + PASS_DEPTH - 1):
                m.d.sync += pass_busy.eq(0)
        m.d.comb += pass_done.eq(pass_busy & (pc == WORDS + PASS_DEPTH - 1))
        p_issue = Signal()
        m.d.comb += p_issue.eq(pass_busy & (pc < WORDS))
        m.d.comb += [
            nr_r.addr.eq(pnb + pc[:5]),
            cu_r.addr.eq(pcb + pc[:5]),
            ctm_rp.addr.eq(C1_WORDS + pc[1:5]),
        ]
        # c1: memory data; register the ciphertext parts alongside
        pv = [Signal(name=f"pv{s}") for s in range(1, 5)]
        m.d.sync += [pv[0].eq(p_issue)] + [pv[s].eq(pv[s - 1]) for s in range(1, 4)]
        cu1 = Signal(DEC10_BITS)
        cv1 = Signal(32)
        mu1 = Signal(8)
        m.d.sync += [cu1.eq(cu_r.data),
                     cv1.eq(Mux(pc[0], ctm_rp.data[32:], ctm_rp.data[:32])),
                     mu1.eq(m_prime.word_select(pc[:5], 8))]
        pprod = [Signal(24, name=f"pprod_{k}") for k in range(LANES)]
        e2 = [Signal(12, name=f"pe2_{k}") for k in range(LANES)]
        cu2 = Signal(DEC10_BITS)
        cv2 = Signal(32)
        mu2 = Signal(8)
        for k in range(LANES):
            m.d.sync += [pprod[k].eq(wr_r0.data[k] * N_INV), e2[k].eq(nr_r.data[k])]
        m.d.sync += [cu2.eq(cu1), cv2.eq(cv1), mu2.eq(mu1)]
        # c2: x = 128⁻¹ · acc mod q
        px = [Signal(12, name=f"px_{k}") for k in range(LANES)]
        e3 = [Signal(12, name=f"pe3_{k}") for k in range(LANES)]
        cu3 = Signal(DEC10_BITS)
        cv3 = Signal(32)
        mu3 = Signal(8)
        for k in range(LANES):
            red = barrett(m, pprod[k], name=f"pred_{k}")
            m.d.sync += [px[k].eq(red), e3[k].eq(e2[k])]
        m.d.sync += [cu3.eq(cu2), cv3.eq(cv2), mu3.eq(mu2)]
        # c3: DEC: Compress1(Decompress4(c2) − x);  U: Compress10(x + e1);  V: Compress4(x + e2 + μ)
        dec_bits = Signal(8)
        u_bits = Signal(DEC10_BITS)
        v_bits = Signal(32)
        cu4 = Signal(DEC10_BITS)
        cv4 = Signal(32)
        for k in range(LANES):
            vdec = Signal(12, name=f"vdec_{k}")
            m.d.comb += vdec.eq((cv3[4 * k:4 * k + 4] * Q + 8) >> 4)
            wk = mod_sub(m, vdec, px[k], name=f"pw_{k}")
            xe = mod_add(m, px[k], e3[k], name=f"pxe_{k}")
            mu = Signal(12, name=f"pmu_{k}")
            m.d.comb += mu.eq(Mux(mu3[k], (Q + 1) // 2, 0))     # Decompress1
            xv = mod_add(m, xe, mu, name=f"pxv_{k}")
            m.d.sync += [
                dec_bits[k].eq(compress(m, wk, 1, name=f"pc1_{k}")),
                u_bits[10 * k:10 * k + 10].eq(compress(m, xe, 10, name=f"pc10_{k}")),
                v_bits[4 * k:4 * k + 4].eq(compress(m, xv, 4, name=f"pc4_{k}")),
            ]
        m.d.sync += [cu4.eq(cu3), cv4.eq(cv3)]
        # c4: collect m', accumulate the comparison (every word, no early exit)
        with m.If(pv[3]):
            with m.Switch(pmode):
                with m.Case(PASS_DEC):
                    m.d.sync += m_prime.eq(Cat(m_prime[8:], dec_bits))
                with m.Case(PASS_U):
                    m.d.sync += diff.eq(diff | (u_bits != cu4))
                with m.Case(PASS_V):
                    m.d.sync += diff.eq(diff | (v_bits != cv4))

        # =============================================================================
        # Memory port muxes
        # =============================================================================
        cbd_to_wr = Signal()
        cbd_to_nr = Signal()
        m.d.comb += [
            wr_r0.addr.eq(Mux(ntt.busy, ntt.rd_addr0, Mux(bm.busy, bm.wb_addr, pwb + pc[:5]))),
            wr_r1.addr.eq(ntt.rd_addr1),
            ntt.rd_data0.eq(wr_r0.data),
            ntt.rd_data1.eq(wr_r1.data),
            bm.wb_data.eq(wr_r0.data),
            kr_r.addr.eq(bm.ka_addr),
            bm.ka_data.eq(kr_r.data),
            wr_w1.en.eq(ntt.wr_en),
            wr_w1.addr.eq(ntt.wr_addr1),
            wr_w1.data.eq(ntt.wr_data1),
            nr_w.en.eq(cbd.wr_en & cbd_to_nr),
            nr_w.addr.eq(cbd.wr_addr),
            nr_w.data.eq(cbd.wr_data),
        ]
        with m.If(ntt.wr_en):
            m.d.comb += [wr_w0.en.eq(1), wr_w0.addr.eq(ntt.wr_addr0), wr_w0.data.eq(ntt.wr_data0)]
        with m.Elif(bm.wr_en):
            m.d.comb += [wr_w0.en.eq(1), wr_w0.addr.eq(bm.wr_addr), wr_w0.data.eq(bm.wr_data)]
        with m.Elif(intake_we):
            m.d.comb += [wr_w0.en.eq(1), wr_w0.addr.eq(uch), wr_w0.data.eq(Cat(*dec10))]
        with m.Elif(cbd.wr_en & cbd_to_wr):
            m.d.comb += [wr_w0.en.eq(1), wr_w0.addr.eq(cbd.wr_addr), wr_w0.data.eq(cbd.wr_data)]

        # =============================================================================
        # Request sequencer
        # =============================================================================
        step = Signal(range(len(PROGRAM) + 1))
        launched = Signal()
        prf_target_nr = Signal()
        with m.If(self.start):
            m.d.sync += prf_target_nr.eq(0)
        m.d.comb += [cbd_to_nr.eq(prf_target_nr), cbd_to_wr.eq(~prf_target_nr)]

        # the key FSM launches XOF jobs; the request FSM the others
        req_job_go = Signal()
        req_job_kind = Signal(2)
        req_job_n = Signal(3)
        m.d.comb += [
            job_go.eq(xjob_go | req_job_go),
            job_kind.eq(Mux(xjob_go, JOB_XOF, req_job_kind)),
            job_n.eq(Mux(xjob_go, xidx, req_job_n)),
        ]
        m.d.comb += [rej.start.eq(xjob_go), rej.base.eq(128 + (xidx << 5))]

        k_sel = Signal(256)
        m.d.comb += [k_sel.eq(Mux(diff, k_bar, k_prime)), self.k.payload.eq(k_sel)]

        # noise track: CBD2(PRF(r, N)) for N = 2, 3, 4 into the noise memory, while the
        # request FSM runs the NTTs of y (the two never use the same memory port)
        noise_go = Signal()
        noise_done = Signal()
        nidx = Signal(range(len(NOISE_JOBS) + 1))
        with m.FSM(name="noise_fsm"):
            with m.State("Idle"):
                with m.If(noise_go):
                    m.d.sync += [nidx.eq(0), noise_done.eq(0)]
                    m.next = "Launch"
            with m.State("Launch"):
                with m.If(nidx == len(NOISE_JOBS)):
                    m.d.sync += noise_done.eq(1)
                    m.next = "Idle"
                with m.Elif(~job_busy):
                    with m.Switch(nidx):
                        for i, (n, base) in enumerate(NOISE_JOBS):
                            with m.Case(i):
                                m.d.comb += [req_job_n.eq(n), cbd.base.eq(base)]
                    m.d.comb += [req_job_go.eq(1), req_job_kind.eq(JOB_PRF),
                                 cbd.start.eq(1), cbd.eta3.eq(0)]
                    m.d.sync += prf_target_nr.eq(1)
                    m.next = "Wait"
                with m.If(abort):
                    m.next = "Idle"
            with m.State("Wait"):
                with m.If(job_done):
                    m.d.sync += nidx.eq(nidx + 1)
                    m.next = "Launch"
                with m.If(abort):
                    m.next = "Idle"
        with m.If(self.start):
            m.d.sync += noise_done.eq(0)

        with m.FSM(name="req_fsm"):
            with m.State("Idle"):
                with m.If(self.start & ~abort):
                    m.d.sync += [bw.eq(0), ucnt.eq(0), uch.eq(0), diff.eq(0), step.eq(0),
                                 launched.eq(0)]
                    m.next = "Intake"
            with m.State("Intake"):
                m.d.comb += [intake.eq(1), self.ct.ready.eq(1)]
                with m.If(body_hs & self.ct.payload.last):
                    m.next = "Run"
                with m.If(abort):
                    m.next = "Idle"
            with m.State("Run"):
                with m.Switch(step):
                    for s, op in enumerate(PROGRAM):
                        with m.Case(s):
                            kind = op[0]
                            if kind == "j":
                                m.d.comb += [req_job_go.eq(1), req_job_kind.eq(JOB_J)]
                                m.d.sync += step.eq(step + 1)
                            elif kind in ("g", "prf"):
                                if kind == "g":
                                    m.d.comb += req_job_kind.eq(JOB_G)
                                else:
                                    _, n, eta3, base, to_nr = op
                                    m.d.comb += [req_job_kind.eq(JOB_PRF), req_job_n.eq(n),
                                                 cbd.eta3.eq(eta3), cbd.base.eq(base)]
                                with m.If(~launched & ~job_busy):
                                    m.d.comb += req_job_go.eq(1)
                                    if kind == "prf":
                                        m.d.comb += cbd.start.eq(1)
                                        m.d.sync += prf_target_nr.eq(to_nr)
                                    m.d.sync += launched.eq(1)
                                with m.Elif(launched & job_done):
                                    m.d.sync += [launched.eq(0), step.eq(step + 1)]
                            elif kind == "ntt":
                                _, base, inverse = op
                                with m.If(~launched):
                                    m.d.comb += [ntt.start.eq(1), ntt.base.eq(base),
                                                 ntt.inverse.eq(inverse)]
                                    m.d.sync += launched.eq(1)
                                with m.Elif(ntt.done):
                                    m.d.sync += [launched.eq(0), step.eq(step + 1)]
                            elif kind == "bmul":
                                _, a0, a1, b0, b1, dst = op
                                with m.If(~launched):
                                    m.d.comb += [bm.start.eq(1), bm.a0.eq(a0), bm.a1.eq(a1),
                                                 bm.b0.eq(b0), bm.b1.eq(b1), bm.dst.eq(dst)]
                                    m.d.sync += launched.eq(1)
                                with m.Elif(bm.done):
                                    m.d.sync += [launched.eq(0), step.eq(step + 1)]
                            elif kind == "pass":
                                _, mode, wbase, nbase, cbase = op
                                with m.If(~launched):
                                    m.d.comb += [pass_go.eq(1), pass_mode_in.eq(mode),
                                                 pass_w_in.eq(wbase), pass_n_in.eq(nbase),
                                                 pass_c_in.eq(cbase)]
                                    m.d.sync += launched.eq(1)
                                with m.Elif(pass_done):
                                    m.d.sync += [launched.eq(0), step.eq(step + 1)]
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
                m.d.comb += self.k.valid.eq(1)
                with m.If(self.k.ready | abort):
                    m.next = "Idle"
        return m
