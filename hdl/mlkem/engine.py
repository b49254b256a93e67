"""ML-KEM-512 decapsulation engine for the ``intel`` validator core (FIPS 203, SPEC §3.2).

Plugs into :class:`hdl.validator.ValidatorShell` through :data:`hdl.validator.KemEngineSignature`:
it is exactly ML-KEM.Decaps (Algorithm 21), dk and ct in, K out; the shell checks the proof tag.
See docs/mlkem.md for the datapath picture, the schedule and the cycle budget.
"""

from amaranth.hdl import Module, Signal, Mux, ResetInserter, unsigned
from amaranth.lib import memory, wiring

from hdl.validator import KemEngineSignature
from hdl.mlkem.arith import PolyWord
from hdl.mlkem.ntt import NttUnit
from hdl.mlkem.basemul import BaseMulUnit
from hdl.mlkem.samplers import RejectionSampler, CbdSampler
from hdl.mlkem.intake import CtIntake, KEY_WORDS, CT_WORDS, CHUNK_ADDR_BITS
from hdl.mlkem.keyload import MlKemKeyLoader
from hdl.mlkem.finalpass import FinalPass, PASS_DEC, PASS_U, PASS_V
from hdl.mlkem.hashjobs import HashJobs, JOB_G, JOB_J, JOB_PRF, JOB_XOF
from hdl.sequencer import Fire, Join, Run, Sequencer, launch_signature
from hdl.mlkem.workmem import WorkMemory

__all__ = ["MlKemEngine", "KEY_WORDS", "CT_WORDS", "UNITS", "PROGRAM", "NOISE_PROGRAM"]

AW = 8                      # address width of the coefficient memories

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

#: The launch ports of the request sequencer's units (:mod:`hdl.sequencer`). ``hash`` runs J
#: and G in the sponge, ``prf`` a PRF job with the CBD sampler taking its output, ``noise`` the
#: noise track (a second sequencer running :data:`NOISE_PROGRAM`). ``ntt`` and ``nttq`` both
#: launch the NTT unit: ``ntt`` is done when the transform is written, ``nttq`` as soon as its
#: last read is issued (the next transform, of another polynomial, then overlaps its drain).
UNITS = {
    "hash": launch_signature({"kind": 2}, ready=True),
    "prf": launch_signature({"n": 3, "eta3": 1, "base": AW}, ready=True),
    "ntt": launch_signature({"base": AW, "inverse": 1}),
    "nttq": launch_signature({"base": AW, "inverse": 1}),
    "bmul": launch_signature({n: AW for n in ("a0", "a1", "b0", "b1", "dst")}),
    "fp": launch_signature({"mode": 2, "wbase": AW, "nbase": AW, "cbase": CHUNK_ADDR_BITS}),
    "noise": launch_signature(),
}

#: The decapsulation program run after the last ct word (FIPS 203 Algorithms 15, 18, 14);
#: after its last step K is offered.
PROGRAM = [
    Fire("hash", kind=JOB_J),                 # K̄ = J(z ‖ c), in the background
    Run("nttq", base=WR_U[0], inverse=0),     # û = NTT(Decompress_du(c1))
    Run("ntt", base=WR_U[1], inverse=0),      # (starts while NTT(u0) drains)
    Run("bmul", a0=KR_S[0], a1=KR_S[1], b0=WR_U[0], b1=WR_U[1], dst=WR_W),   # ŝᵀ ∘ û
    Run("ntt", base=WR_W, inverse=1),         # NTT⁻¹ (scale 128⁻¹ in the pass)
    Run("fp", mode=PASS_DEC, wbase=WR_W, nbase=0, cbase=0),   # m' = Encode1(Compress1(v − w))
    Run("hash", kind=JOB_G),                  # (K', r) = G(m' ‖ h)
    Run("prf", n=0, eta3=1, base=WR_U[0]),    # y[0] = CBD3(PRF(r, 0))  → work memory
    Run("prf", n=1, eta3=1, base=WR_U[1]),    # y[1]
    Fire("noise"),                            # e1[0], e1[1], e2 = CBD2(PRF(r, 2..4)) → noise
                                              # memory, in the background (NOISE_PROGRAM)
    Run("nttq", base=WR_U[0], inverse=0),     # ŷ
    Run("ntt", base=WR_U[1], inverse=0),
    Join("noise"),                            # the noise is sampled (long before)
    Run("bmul", a0=KR_A(0, 0), a1=KR_A(1, 0), b0=WR_U[0], b1=WR_U[1], dst=WR_ACC[0]),
                                              # Σ_j Â[j][0] ∘ ŷ[j]
    Run("bmul", a0=KR_A(0, 1), a1=KR_A(1, 1), b0=WR_U[0], b1=WR_U[1], dst=WR_ACC[1]),
                                              # Σ_j Â[j][1] ∘ ŷ[j]
    Run("bmul", a0=KR_T[0], a1=KR_T[1], b0=WR_U[0], b1=WR_U[1], dst=WR_ACC[2]),  # t̂ᵀ ∘ ŷ
    Run("nttq", base=WR_ACC[0], inverse=1),
    Run("nttq", base=WR_ACC[1], inverse=1),
    Run("ntt", base=WR_ACC[2], inverse=1),
    Run("fp", mode=PASS_U, wbase=WR_ACC[0], nbase=NR_E[0], cbase=0),   # Compress10(u[0]) vs c1
    Run("fp", mode=PASS_U, wbase=WR_ACC[1], nbase=NR_E[1], cbase=32),
    Run("fp", mode=PASS_V, wbase=WR_ACC[2], nbase=NR_E[2], cbase=0),   # Compress4(v) vs c2
]                                             # then K = (c == c') ? K' : K̄

#: The noise track, run by the sponge while the NTT unit transforms y: CBD2(PRF(r, N)) into
#: the noise memory (the two never use the same memory port).
NOISE_PROGRAM = [Run("prf", n=n, eta3=0, base=base) for n, base in zip((2, 3, 4), NR_E)]


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
    ``abort`` resets the request datapath (sponge, units, sequencer) in one cycle; the key
    stays.

    Parts (each with its own tests): :class:`~hdl.mlkem.keyload.MlKemKeyLoader` (with the
    :class:`~hdl.mlkem.intake.DkDecoder`), :class:`~hdl.mlkem.hashjobs.HashJobs` (the sponge
    and its arbiter), :class:`~hdl.mlkem.intake.CtIntake`, the transform units
    (:class:`~hdl.mlkem.ntt.NttUnit`, :class:`~hdl.mlkem.basemul.BaseMulUnit`, the samplers,
    :class:`~hdl.mlkem.finalpass.FinalPass`) and the
    two :class:`hdl.sequencer.Sequencer` (the shared program sequencer) running
    :data:`PROGRAM` and :data:`NOISE_PROGRAM`; this module holds the memories, their port
    muxes and the programs.

    Parameters
    ----------
    rounds_per_cycle : int
        Keccak rounds per clock of the engine's sponge (1 or 2; default 1: about 5,000
        TRELLIS_COMB less than 2 for about 60 cycles more, docs/fpga.md).

    Members
    -------
    The members of :data:`hdl.validator.KemEngineSignature`.
    """

    def __init__(self, *, rounds_per_cycle=1):
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
        hj = unit("hashjobs", HashJobs(rounds_per_cycle=self._rounds_per_cycle))

        # ---- memories -------------------------------------------------------------------
        m.submodules.kr = kr = memory.Memory(shape=PolyWord, depth=256, init=[])
        kr_w = kr.write_port()
        kr_r = kr.read_port()                       # BaseMul ``a`` operand (+ register)
        m.submodules.wr = wr = WorkMemory(depth=192)   # two banks in block RAM
        wr_w0, wr_w1, wr_r0, wr_r1 = wr.wr0, wr.wr1, wr.rd0, wr.rd1   # read latency 2
        m.submodules.nr = nr = memory.Memory(shape=PolyWord, depth=96, init=[])
        nr_w = nr.write_port()
        nr_r = nr.read_port()                       # + register
        m.submodules.ctm = ctm = memory.Memory(shape=unsigned(64), depth=CT_WORDS, init=[])
        ctm_w = ctm.write_port()
        ctm_rj = ctm.read_port()                    # sync: J message
        ctm_rp = ctm.read_port()                    # pass, c2 words (+ register)
        m.submodules.cu = cu = memory.Memory(shape=unsigned(80), depth=64, init=[])
        cu_w = cu.write_port()
        cu_r = cu.read_port()                       # pass, c1 chunks (8 × 10 bits) (+ register)

        # ---- key state (survives requests) --------------------------------------------
        rho = Signal(256)
        h = Signal(256)
        z = Signal(256)

        # ---- request state ----------------------------------------------------------
        m_prime = Signal(256)
        k_prime = Signal(256)
        k_bar = Signal(256)
        diff = Signal()

        # =============================================================================
        # Key load: dk decode into KR, H(ek) check, Â expansion (XOF jobs)
        # =============================================================================
        m.submodules.keys = keys = MlKemKeyLoader()
        xjob_go = Signal()
        xidx = Signal(range(4))      # Â polynomial being sampled (2i + j)
        wiring.connect(m, wiring.flipped(self.key), keys.key)
        m.d.comb += [
            self.key_done.eq(keys.key_done),
            self.key_ok.eq(keys.key_ok),
            rho.eq(keys.rho), h.eq(keys.h), z.eq(keys.z),
            xjob_go.eq(keys.xof_go),
            xidx.eq(keys.xof_index),
            keys.xof_done.eq(rej.done),
        ]

        # =============================================================================
        # Hash jobs: XOF (key load), J, G, PRF (request), and the sponge arbiter
        # =============================================================================
        job_go = Signal()
        job_kind = Signal(2)
        job_n = Signal(3)            # PRF nonce N, or Â index 2i + j
        job_busy = Signal()
        job_done = Signal()
        m.d.comb += [
            hj.go.eq(job_go), hj.kind.eq(job_kind), hj.n.eq(job_n),
            job_busy.eq(hj.busy), job_done.eq(hj.done),
            hj.rho.eq(rho), hj.z.eq(z), hj.h.eq(h), hj.m_prime.eq(m_prime),
            ctm_rj.addr.eq(hj.rd_ct.addr), hj.rd_ct.data.eq(ctm_rj.data),
            k_bar.eq(hj.k_bar), k_prime.eq(hj.k_prime),
            # the key loader's client: ek into SHA3-256, then H(ek)
            hj.key_sel.eq(keys.key_sel),
            hj.key_stop.eq(keys.key_stop),
            # XOF output to SampleNTT, PRF output to SamplePolyCBD
            rej.i.payload.eq(hj.sampler.payload),
            cbd.i.payload.eq(hj.sampler.payload),
            rej.i.valid.eq(hj.sampler.valid & hj.xof),
            cbd.i.valid.eq(hj.sampler.valid & ~hj.xof),
            hj.sampler.ready.eq(Mux(hj.xof, rej.i.ready, cbd.i.ready)),
            hj.sampler_stop.eq(rej.stop | cbd.stop),
            hj.sampler_done.eq(rej.done | cbd.done),
        ]
        wiring.connect(m, keys.key_i, hj.key_i)
        wiring.connect(m, hj.key_o, keys.key_o)

        # =============================================================================
        # Request: ciphertext intake
        # =============================================================================
        intake = unit("intake", CtIntake())
        m.d.comb += [
            intake.i.valid.eq(self.ct.valid),
            intake.i.payload.eq(self.ct.payload),
            self.ct.ready.eq(intake.i.ready),
        ]

        # =============================================================================
        # Final passes: decryption output and re-encryption comparison
        # =============================================================================
        fp = unit("finalpass", FinalPass(addr_width=AW))
        m.d.comb += [
            nr_r.addr.eq(fp.rd_n.addr),
            cu_r.addr.eq(fp.rd_cu.addr),
            ctm_rp.addr.eq(fp.rd_ct.addr),
            fp.rd_w.data.eq(wr_r0.data),
            m_prime.eq(fp.m_prime),
            diff.eq(fp.diff),
        ]

        # the writes into the key, ct, c1-chunk and noise memories are registered (they land a
        # cycle later; each is read long after): the block RAMs' inputs come from flip-flops
        m.d.sync += [
            kr_w.en.eq(keys.wr.en | rej.wr.en),
            kr_w.addr.eq(Mux(keys.wr.en, keys.wr.addr, rej.wr.addr)),
            kr_w.data.eq(Mux(keys.wr.en, keys.wr.data, rej.wr.data)),
            ctm_w.en.eq(intake.ctm.en),
            ctm_w.addr.eq(intake.ctm.addr),
            ctm_w.data.eq(intake.ctm.data),
            cu_w.en.eq(intake.cu.en),
            cu_w.addr.eq(intake.cu.addr),
            cu_w.data.eq(intake.cu.data),
        ]
        # every block RAM's read data goes straight into a register (read latency 2): its
        # output arrives about 6 ns after the clock, too late for any logic in that cycle
        m.d.sync += [fp.rd_n.data.eq(nr_r.data), fp.rd_cu.data.eq(cu_r.data),
                     fp.rd_ct.data.eq(ctm_rp.data), bm.rd_a.data.eq(kr_r.data)]

        # =============================================================================
        # Memory port muxes
        # =============================================================================
        cbd_to_wr = Signal()
        cbd_to_nr = Signal()
        m.d.sync += [nr_w.en.eq(cbd.wr.en & cbd_to_nr), nr_w.addr.eq(cbd.wr.addr),
                     nr_w.data.eq(cbd.wr.data)]              # registered, as above
        # the CBD sampler's words for the work memory (y) through a register too: they are
        # read long after (NTT(y) starts after the noise track is launched)
        cbd_w_en = Signal()
        cbd_w_addr = Signal.like(cbd.wr.addr)
        cbd_w_data = Signal.like(cbd.wr.data)
        m.d.sync += [cbd_w_en.eq(cbd.wr.en & cbd_to_wr), cbd_w_addr.eq(cbd.wr.addr),
                     cbd_w_data.eq(cbd.wr.data)]
        m.d.comb += [
            wr_r0.addr.eq(Mux(ntt.reading, ntt.rd0.addr, Mux(bm.busy, bm.rd_b.addr, fp.rd_w.addr))),
            wr_r1.addr.eq(ntt.rd1.addr),
            ntt.rd0.data.eq(wr_r0.data),
            ntt.rd1.data.eq(wr_r1.data),
            bm.rd_b.data.eq(wr_r0.data),
            kr_r.addr.eq(bm.rd_a.addr),
            wr_w1.en.eq(ntt.wr1.en),
            wr_w1.addr.eq(ntt.wr1.addr),
            wr_w1.data.eq(ntt.wr1.data),
        ]
        # the other writers of port 0 (base multiplier, ct intake, CBD sampler; never two at
        # once, nor with the NTT unit's port 0) through one register: the work memory's bank
        # steering then starts at that register or at the NTT unit's write, one multiplexer
        # level, not behind the writers' enables
        ow_en = Signal()
        ow_addr = Signal.like(wr_w0.addr)
        ow_data = Signal.like(wr_w0.data)
        m.d.sync += ow_en.eq(bm.wr.en | intake.wr.en | cbd_w_en)
        with m.If(bm.wr.en):
            m.d.sync += [ow_addr.eq(bm.wr.addr), ow_data.eq(bm.wr.data)]
        with m.Elif(intake.wr.en):
            m.d.sync += [ow_addr.eq(intake.wr.addr), ow_data.eq(intake.wr.data)]
        with m.Else():
            m.d.sync += [ow_addr.eq(cbd_w_addr), ow_data.eq(cbd_w_data)]
        with m.If(ntt.wr0.en):
            m.d.comb += [wr_w0.en.eq(1), wr_w0.addr.eq(ntt.wr0.addr), wr_w0.data.eq(ntt.wr0.data)]
        with m.Else():
            m.d.comb += [wr_w0.en.eq(ow_en), wr_w0.addr.eq(ow_addr), wr_w0.data.eq(ow_data)]

        # =============================================================================
        # Request sequencer: the ct intake, then PROGRAM, with the noise track
        # =============================================================================
        seq = unit("seq", Sequencer(program=PROGRAM, units=UNITS))
        noise = unit("noise", Sequencer(program=NOISE_PROGRAM, units={"prf": UNITS["prf"]}))
        # a PRF job is launched by the program (y, into WR) or by the noise track (into NR);
        # the two never launch at once, and a port's idle parameters are 0
        prf_go = Signal()
        prf_to_noise = Signal()      # where the CBD sampler's words go
        m.d.comb += prf_go.eq(seq.prf.start | noise.prf.start)
        with m.If(prf_go):
            m.d.sync += prf_to_noise.eq(noise.prf.start)
        with m.If(self.start | abort):
            m.d.sync += prf_to_noise.eq(0)
        m.d.comb += [
            # the request: the ct intake, then the program; K is offered when it is done
            intake.start.eq(self.start & ~abort),
            fp.clear.eq(self.start & ~abort),
            seq.start.eq(intake.done),
            seq.abort.eq(abort),
            self.k.valid.eq(seq.done),
            seq.ack.eq(self.k.ready),
            noise.start.eq(seq.noise.start),
            noise.abort.eq(abort),
            noise.ack.eq(self.start),
            seq.noise.done.eq(noise.done),
            cbd_to_nr.eq(prf_to_noise),
            cbd_to_wr.eq(~prf_to_noise),
            # the key loader launches XOF jobs, the sequencers the others
            job_go.eq(xjob_go | seq.hash.start | prf_go),
            job_kind.eq(Mux(xjob_go, JOB_XOF, Mux(prf_go, JOB_PRF, seq.hash.kind))),
            job_n.eq(Mux(xjob_go, xidx, seq.prf.n | noise.prf.n)),
            cbd.start.eq(prf_go),
            cbd.eta3.eq(seq.prf.eta3 | noise.prf.eta3),
            cbd.base.eq(seq.prf.base | noise.prf.base),
            # a transform launched on ``nttq`` is done for the program when its last read is
            # issued: the next (independent) transform starts while it drains, and only the
            # last of such a run reports ``done``
            ntt.start.eq(seq.ntt.start | seq.nttq.start),
            ntt.base.eq(seq.ntt.base | seq.nttq.base),
            ntt.inverse.eq(seq.ntt.inverse | seq.nttq.inverse),
            ntt.quiet.eq(seq.nttq.start),
            seq.ntt.done.eq(ntt.done), seq.nttq.done.eq(ntt.issued),
            bm.start.eq(seq.bmul.start), bm.a0.eq(seq.bmul.a0), bm.a1.eq(seq.bmul.a1),
            bm.b0.eq(seq.bmul.b0), bm.b1.eq(seq.bmul.b1), bm.dst.eq(seq.bmul.dst),
            seq.bmul.done.eq(bm.done),
            fp.start.eq(seq.fp.start), fp.mode.eq(seq.fp.mode), fp.wbase.eq(seq.fp.wbase),
            fp.nbase.eq(seq.fp.nbase), fp.cbase.eq(seq.fp.cbase), seq.fp.done.eq(fp.done),
            rej.start.eq(xjob_go),
            rej.base.eq(KR_A(0, 0) + (xidx << 5)),                 # Â[i][j], xidx = 2i + j
            self.k.payload.eq(Mux(diff, k_bar, k_prime)),          # K' if c' = c, else K̄
        ]
        for port in (seq.hash, seq.prf, noise.prf):
            m.d.comb += [port.ready.eq(~job_busy), port.done.eq(job_done)]
        return m
