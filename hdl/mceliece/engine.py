"""mceliece348864 (round 4) decapsulation engine: the KEM engine of the `arm` core.

``K = SHAKE256(1 ‖ e ‖ C)`` when the ciphertext decodes to a weight-``t`` error ``e``,
``SHAKE256(0 ‖ s ‖ C)`` otherwise, from the standard 6492-byte secret key. The stages are
those of :func:`golden.mceliece.decode` (see docs/mceliece.md for the budget)::

    key words ─► c / g checks, g ─► Cr        control bits ─► Beneš swap unit ─► pi0/pi1 (parity banks)
                                                                                 │
    loader: position ─► pi0/pi1, wt ─► (alpha, w) shadow ─► 64 units  X = X·A (+ coef)
                                                             │  XOR tree ─► S (128, rotating)
                                                             │  BM: Cr·W, f·Br ─► Cr, Br, L, b
                                                             └► result bank ─► wt (key) / root list, e (proof)
    b ‖ (e | s) ‖ C ─► byte packer ─► KeccakSponge (SHAKE256) ─► K

Every stage runs a fixed number of cycles; nothing branches on the key or the ciphertext.
"""

from amaranth.hdl import Module, Signal, Mux, Cat, Const, ResetInserter
from amaranth.lib import data, memory, wiring
from amaranth.lib.wiring import Out

from golden.mceliece import (M_BITS, N, T, Q, MT, SK_BYTES, SK_C, SK_G, SK_ALPHA, SK_S,
                             PIVOTS_NON_F, bitrev_m)
from hdl.mceliece.gf import GfInverse, gf_mul, gf_sq
from hdl.sponge import KeccakSponge, SpongeClientSignature, SpongeIn, SpongeMode
from hdl.stream_util import RegisterSlice
from hdl.target import PARTITION_PREFIX
from hdl.validator import KemEngineSignature

__all__ = ["McElieceEngine", "UNITS", "KEY_WORDS", "CT_WORDS"]

UNITS = 64                            # multiply-accumulate units
KEY_WORDS = -(-SK_BYTES // 8)         # 812
CT_WORDS = MT // 64                   # 12
W_C = SK_C // 8                       # word 4: pivot word c
W_G = SK_G // 8                       # words 5..20: g_0 .. g_63, four per word
W_CB = SK_ALPHA // 8                  # words 21..756: control bits
W_S = SK_S // 8                       # words 757..811: s
CB_WORDS = W_S - W_CB                 # 736
S_WORDS = KEY_WORDS - W_S             # 55
LAYERS = 2 * M_BITS - 1               # 23
HALF = Q // 2                         # 2048 swaps per layer
SYN_BATCHES = MT // UNITS             # 12
EV_BATCHES = -(-N // UNITS)           # 55
LAST_VALID = N - (EV_BATCHES - 1) * UNITS   # 32 valid units in the last batch
#: The sequencer's states (docs/mceliece.md, "Schedule").
_STATES = ("Idle", "KeyHead", "KeyInit", "CbLoad", "Swap", "KeyS", "KeyLoad", "LoadWait",
           "Intake", "IntakeEnd", "SynWait", "SynLoad", "SynStep", "SynIdle",
           "BmInit", "BmDot", "BmSum", "BmFrac", "BmF", "BmUpd",
           "EvWait", "EvLoad", "EvStep", "EvIdle", "EvLast", "ScanWait",
           "ReGo", "ReWait", "ReLoad", "ReStep", "ReIdle", "Judge",
           "HashLat", "HashPut", "HashFlush", "Squeeze")
_ST = {name: i for i, name in enumerate(_STATES)}


def _parity(m, x, *, name):
    p = Signal(name=name)
    m.d.comb += p.eq(x.xor())
    return p


#: The members of the engine: the KEM engine contract plus observation outputs.
_MEMBERS = {
    **KemEngineSignature.members,
    "dbg_ld": Out(data.StructLayout({"valid": 1, "pos": 12, "alpha": 12, "w": 12})),
    "dbg_wr": Out(data.StructLayout({"valid": 1, "pos": 12, "g": 12, "w": 12})),
    "dbg_e": Out(data.StructLayout({"valid": 1, "addr": 6, "data": 64})),
    "dbg_syn": Out(12 * 2 * T),
    "dbg_c": Out(12 * (T + 1)),
    "dbg_l": Out(8),
    "dbg_roots": Out(7),
    "dbg_ok": Out(1),
    "dbg_stage": Out(4),
}


class McElieceEngine(wiring.Component):
    """mceliece348864 decapsulation with the standard sk (the KEM engine contract).

    Members
    -------
    key : ``In(stream.Signature(Word))``   812 sk words, ``last`` on the final one
    key_done, key_ok : ``Out(1)``          key processing finished / the sk passed the checks
    start : ``In(1)``     pulse: a request starts (drops an untaken ``k``)
    ct : ``In(stream.Signature(Word))``    the 12 ciphertext words
    abort : ``In(1)``     pulse: cancel the request, return to idle
    k : ``Out(stream.Signature(unsigned(256)))``   ``K``, byte ``i`` in bits ``8i+7 .. 8i``;
        a fixed number of cycles after the last ciphertext word (:attr:`LATENCY` is
        measured by the benches), held until taken.

    Observation outputs (for the benches; unconnected in the core): ``dbg_ld`` (each
    ``(position, alpha, w)`` the loader reads), ``dbg_wr`` (each ``(i, g(alpha_i), w_i)``
    written at key load), ``dbg_e`` (each error-vector word written), ``dbg_syn`` (``S``,
    ``S_j`` in bits ``12j+11 .. 12j``), ``dbg_c`` (``C_0 .. C_64``), ``dbg_l``,
    ``dbg_roots``, ``dbg_ok``, ``dbg_stage``.
    """

    def __init__(self, *, rounds_per_cycle=1, shared_hash=False):
        if rounds_per_cycle not in (1, 2):
            raise ValueError(f"Round count per cycle must be 1 or 2, not {rounds_per_cycle!r}")
        if not isinstance(shared_hash, bool):
            raise TypeError(f"Shared hash flag must be a bool, not {shared_hash!r}")
        self._rounds_per_cycle = rounds_per_cycle
        self._shared_hash = shared_hash
        members = dict(_MEMBERS)
        if shared_hash:                 # hash on the shell's permutation (no Keccak here)
            members["hash"] = Out(SpongeClientSignature)
        super().__init__(wiring.Signature(members))

    @property
    def rounds_per_cycle(self):
        return self._rounds_per_cycle

    @property
    def shared_hash(self):
        return self._shared_hash

    def elaborate(self, platform):
        m = Module()
        P = UNITS

        # ---- memories ----------------------------------------------------------------
        # pi: element at position a lives in bank parity(a), index a >> 1 (init: identity)
        def bank_init(p):
            return [a if bin(a).count("1") % 2 == p else a ^ 1
                    for a in (2 * k for k in range(HALF))]
        m.submodules.pi0 = pi0 = memory.Memory(shape=12, depth=HALF, init=bank_init(0))
        m.submodules.pi1 = pi1 = memory.Memory(shape=12, depth=HALF, init=bank_init(1))
        m.submodules.wt = wt = memory.Memory(shape=12, depth=Q, init=[])
        m.submodules.emem = emem = memory.Memory(shape=64, depth=64, init=[])
        m.submodules.smem = smem = memory.Memory(shape=64, depth=64, init=[])
        pi0_r, pi1_r = pi0.read_port(), pi1.read_port()
        pi0_w, pi1_w = pi0.write_port(), pi1.write_port()
        wt_r, wt_w = wt.read_port(), wt.write_port()
        e_r, e_w = emem.read_port(), emem.write_port()
        s_r, s_w = smem.read_port(), smem.write_port()
        m.submodules.inverse = inverse = GfInverse()

        abort = self.abort
        if self._shared_hash:
            sponge = self.hash
        else:
            m.submodules.sponge = sponge = ResetInserter({"sync": abort})(
                KeccakSponge(rounds_per_cycle=self._rounds_per_cycle))

        # ---- register files ----------------------------------------------------------
        X = [Signal(12, name=f"x{u}") for u in range(P)]        # unit accumulators
        A = [Signal(12, name=f"a{u}") for u in range(P)]        # unit multiplicands (alpha)
        SA = [Signal(12, name=f"sa{u}") for u in range(P)]      # shadow alpha
        SW = [Signal(12, name=f"sw{u}") for u in range(P)]      # shadow w
        Cr = [Signal(12, name=f"c{u + 1}") for u in range(P)]   # C_1 .. C_64 (key: g_63 .. g_0)
        Br = [Signal(12, name=f"b{u + 1}") for u in range(P)]   # B_1 .. B_64 (B_0 = 0)
        W = [Signal(12, name=f"win{i}") for i in range(T + 1)]  # BM window W_i = S_{r-i}
        S = [Signal(12, name=f"s{j}") for j in range(2 * T)]    # syndrome, rotating
        R = [Signal(12, name=f"r{u}") for u in range(P)]        # batch result bank
        Lpos = [Signal(12, name=f"lpos{k}") for k in range(T)]  # root list
        Lv = [Signal(name=f"lv{k}") for k in range(T)]
        C0 = [Signal(64, name=f"ct{w}") for w in range(CT_WORDS)]

        m.d.comb += [self.dbg_syn.eq(Cat(*S)), self.dbg_c.eq(Cat(Const(1, 12), *Cr))]

        # ---- key status ----------------------------------------------------------------
        key_done = Signal()
        c_bad = Signal()
        g_bad = Signal()
        kw = Signal(10)
        cbw = Signal(64)
        cb_left = Signal(7)

        # ---- sequencer state and counters -----------------------------------------------
        # The sequencer is one-hot (`state`, a flip-flop per state); its next value `sn`
        # is a few LUTs of the transition table at the end. Every control of the datapath
        # is a flag register loaded from `sn` (and the current state and counters), so in
        # the cycle an operation runs its control is a flip-flop fanned out to the
        # registers it enables, never a decode.
        NS = len(_STATES)
        state = Signal(NS, init=1 << _ST["Idle"], name="seq_state")
        sn = Signal(NS, name="seq_next")
        m.d.sync += state.eq(sn)

        def now(*names):
            return Cat(*[state[_ST[n]] for n in names]).any()

        def nxt(*names):
            return Cat(*[sn[_ST[n]] for n in names]).any()

        flags = []

        def flag(name, value):
            """A register holding ``value`` (of the next state): in each cycle it is the
            same predicate of the current one."""
            f_ = Signal(name=name)
            m.d.sync += f_.eq(value)
            flags.append(f_)
            return f_

        bat = Signal(6)             # batch
        stp = Signal(8)             # step in a batch
        it = Signal(8)              # Berlekamp–Massey iteration
        ci = Signal(7)              # hash chunk index

        p_syn_acc = (nxt("SynStep") & now("SynStep")) | nxt("SynIdle")   # S += tree_r
        p_re_cmp = (nxt("ReStep") & now("ReStep")) | nxt("ReIdle")
        p_chc0 = nxt("HashLat") & now("HashPut") & (ci >= S_WORDS)
        # a batch load prefetches the next batch unless it is the last one
        p_batch_go = ((nxt("SynLoad") & ~(now("SynIdle") & (bat == SYN_BATCHES - 2))) |
                      (nxt("EvLoad") & ~(now("EvIdle") & (bat == EV_BATCHES - 2))))

        f_bminit = flag("f_bminit", nxt("BmInit"))
        f_bmfrac = flag("f_bmfrac", nxt("BmFrac"))
        f_bmf = flag("f_bmf", nxt("BmF"))
        f_bmupd = flag("f_bmupd", nxt("BmUpd"))
        f_horner = flag("f_horner", nxt("EvStep"))
        f_evlast = flag("f_evlast", nxt("EvLast"))
        f_sc_go = flag("f_sc_go", (nxt("EvLoad") & now("EvIdle")) | nxt("EvLast"))
        f_re_cmp = flag("f_re_cmp", p_re_cmp)
        f_intake_end = flag("f_intake_end", nxt("IntakeEnd"))
        f_init_go = flag("f_init_go", nxt("KeyInit"))
        f_bn_issue = flag("f_bn_issue", nxt("Swap"))
        # IntakeEnd (entered on the last ct word) has a flag of its own, ORed where the
        # loader, the C0 rotation and S are enabled: the ct stream's valid and last come
        # through the shell's intake, and a flag that also decodes other states on top of
        # them was the deepest logic of the engine in the arm core (7 LUT levels)
        f_ld_go = flag("f_ld_go", nxt("KeyLoad", "BmInit", "ReGo") | p_batch_go)
        f_ld_list = flag("f_ld_list", nxt("ReGo"))
        f_c0_rot = flag("f_c0_rot", nxt("SynLoad"))           # (or f_chc0)
        f_ch0 = flag("f_ch0", nxt("HashLat") & now("Judge"))
        f_ches = flag("f_ches", nxt("HashLat") & now("HashPut") & (ci < S_WORDS - 1))
        f_chhalf = flag("f_chhalf", nxt("HashLat") & now("HashPut") & (ci == S_WORDS - 1))
        f_chc0 = flag("f_chc0", p_chc0)
        # the unit registers: which terms their next value sums (one flag per term)
        x_en = flag("x_en", nxt("SynLoad", "SynStep", "BmInit", "BmDot", "BmSum", "BmUpd",
                                "EvLoad", "EvStep", "ReLoad", "ReStep"))
        x_prod = flag("x_prod", nxt("SynStep", "BmDot", "BmUpd", "EvStep", "ReStep"))
        x_c0 = flag("x_c0", nxt("EvStep"))
        x_cu = flag("x_cu", nxt("BmUpd"))
        x_b = flag("x_b", nxt("BmSum"))
        x_vw = flag("x_vw", nxt("SynLoad"))
        x_sw = flag("x_sw", nxt("ReLoad"))
        x_one = flag("x_one", nxt("EvLoad"))
        a_en = flag("a_en", nxt("SynLoad", "EvLoad", "ReLoad", "BmF", "BmUpd"))
        a_sa = flag("a_sa", nxt("SynLoad", "EvLoad", "ReLoad"))
        c_en = flag("c_en", nxt("BmInit", "BmUpd", "EvStep"))
        b_en = flag("b_en", nxt("BmInit", "BmUpd"))
        s_en = flag("s_en", p_syn_acc | p_re_cmp | nxt("BmInit") |     # (or f_intake_end)
                    (nxt("BmUpd") & (it != 2 * T - 1)))
        s_add = flag("s_add", p_syn_acc)

        # ---- units: prod_u = X_u · A_u ---------------------------------------------------
        # The multiplier reads its two registers only (no operand multiplexer): the
        # Berlekamp–Massey products load their operands into X and A first (C·W, B·f).
        f = Signal(12)
        # the products and the next values of X and C (a product plus a few terms) are a
        # mapping partition (hdl.target.PARTITION_PREFIX): their LUT depth is minimised
        # on its own, not left at the depth of the core's deepest path
        mu = Module()
        m.submodules[PARTITION_PREFIX + "units"] = mu
        prod = [gf_mul(mu, X[u], A[u], name=f"prod{u}") for u in range(P)]
        x_next = [Signal(12, name=f"x_next{u}") for u in range(P)]
        c_next = [Signal(12, name=f"c_next{u}") for u in range(P)]

        # XOR tree over the unit registers, its output registered (`tree_r`): the syndrome
        # accumulates it one step after the product it sums (the batch's idle step takes the
        # last one), Berlekamp–Massey's d reads it in BmFrac, the re-syndrome compares one
        # step later
        level = list(X)
        depth = 0
        while len(level) > 1:
            nxt = []
            for i in range(0, len(level), 4):
                s = Signal(12, name=f"tree{depth}_{i // 4}")
                acc = level[i]
                for v in level[i + 1:i + 4]:
                    acc = acc ^ v
                m.d.comb += s.eq(acc)
                nxt.append(s)
            level, depth = nxt, depth + 1
        tree_r = Signal(12)
        m.d.sync += tree_r.eq(level[0])

        # zero flags of the unit registers (evaluation results)
        xzero = Signal(P)
        m.d.comb += xzero.eq(Cat(*[X[u] == 0 for u in range(P)]))

        # ---- loader: 64 positions -> (alpha, w) shadow, one per cycle from ld_go ---------
        # ld_go (a flag) only loads the loader's registers; the reads begin the cycle after
        # it, from registers (a position counter or the root list's head)
        ld_go = Signal()
        m.d.comb += ld_go.eq(f_ld_go | f_intake_end)
        ld_list_in = f_ld_list      # positions from the root list (else ld_base_in + count)
        ld_base_in = Signal(12)     # first position of the next batch (registered)
        # batch b prefetches b + 1: from the idle step of batch b - 1 that is bat + 2
        m.d.sync += ld_base_in.eq(Mux(p_batch_go,
                                      Cat(Const(0, 6), Mux(now("SynIdle", "EvIdle"), bat + 2, 1)[:6]),
                                      0))
        ld_list = Signal()
        ld_busy = Signal()
        ld_cnt = Signal(7)
        ld_ctr = Signal(12)         # next position (counter mode)
        ld_v1 = Signal()            # read issued last cycle
        ld_par1 = Signal()
        ld_pos1 = Signal(12)
        ld_mask1 = Signal()
        ld_pos = Signal(12)
        ld_mask = Signal()
        bnk_addr = Signal(11)       # pi read address when the loader owns the banks
        with m.If(ld_list):
            m.d.comb += [ld_pos.eq(Lpos[T - 1]), ld_mask.eq(Lv[T - 1])]
        with m.Else():
            m.d.comb += [ld_pos.eq(ld_ctr), ld_mask.eq(1)]
        m.d.comb += [bnk_addr.eq(ld_pos >> 1), wt_r.addr.eq(ld_pos)]
        m.d.sync += ld_v1.eq(0)
        with m.If(ld_busy):
            m.d.sync += [ld_v1.eq(1), ld_par1.eq(ld_pos.xor()), ld_pos1.eq(ld_pos),
                         ld_mask1.eq(ld_mask), ld_cnt.eq(ld_cnt + 1), ld_ctr.eq(ld_ctr + 1),
                         ld_busy.eq(ld_cnt != P - 1)]
        with m.If(ld_go):
            m.d.sync += [ld_list.eq(ld_list_in), ld_ctr.eq(ld_base_in), ld_cnt.eq(0),
                         ld_busy.eq(1)]
        ld_alpha = Signal(12)
        ld_w = Signal(12)
        ld_raw = Signal(12)
        m.d.comb += [ld_raw.eq(Mux(ld_par1, pi1_r.data, pi0_r.data)),
                     ld_alpha.eq(Cat(*[ld_raw[M_BITS - 1 - b] for b in range(M_BITS)])),
                     ld_w.eq(Mux(ld_mask1, wt_r.data, 0))]
        with m.If(ld_v1):
            m.d.sync += [SA[P - 1].eq(ld_alpha), SW[P - 1].eq(ld_w)]
            m.d.sync += [SA[u].eq(SA[u + 1]) for u in range(P - 1)]
            m.d.sync += [SW[u].eq(SW[u + 1]) for u in range(P - 1)]
        ld_done = Signal()
        m.d.comb += ld_done.eq(~ld_busy & ~ld_v1 & ~ld_go)
        m.d.comb += [self.dbg_ld.valid.eq(ld_v1), self.dbg_ld.pos.eq(ld_pos1),
                     self.dbg_ld.alpha.eq(ld_alpha), self.dbg_ld.w.eq(ld_w)]
        # ---- Beneš swap unit: one conditional swap per cycle ----------------------------
        bn_issue = f_bn_issue       # swap pair (layer, j) this cycle
        bn_bit = Signal()
        m.d.comb += bn_bit.eq(cbw[0])
        layer = Signal(5)
        jj = Signal(11)
        # the layer's gap as registers (a layer starts after a CbLoad cycle, in which they
        # follow `layer`), so a swap address is a few LUTs from registers
        gap_s = Signal(4)           # log2(gap) = min(layer, 2m-2-layer)
        m.d.comb += gap_s.eq(Mux(layer < M_BITS, layer, LAYERS - 1 - layer))
        low_mask = Signal(11)
        gap_bit = Signal(12)
        m.d.sync += [low_mask.eq((Const(1, 12) << gap_s) - 1), gap_bit.eq(Const(1, 12) << gap_s)]
        pos_a = Signal(12)          # pos = insert a 0 bit at gap_s into j
        pos_b = Signal(12)          # pos + gap
        m.d.comb += [pos_a.eq(((jj & ~low_mask) << 1) | (jj & low_mask)),
                     pos_b.eq(pos_a | gap_bit)]
        par_a = _parity(m, jj, name="bn_par_a")      # = parity(pos_a): the inserted bit is 0
        bn_a0 = Signal(11)          # index in bank 0 / bank 1
        bn_a1 = Signal(11)
        m.d.comb += [bn_a0.eq(Mux(par_a, pos_b, pos_a) >> 1),
                     bn_a1.eq(Mux(par_a, pos_a, pos_b) >> 1)]
        bn_v1 = Signal()
        bn_w0 = Signal(11)
        bn_w1 = Signal(11)
        m.d.sync += [bn_v1.eq(bn_issue & bn_bit), bn_w0.eq(bn_a0), bn_w1.eq(bn_a1)]
        init_go = f_init_go         # identity into both banks, index init_k
        init_k = Signal(11)
        init_par = _parity(m, init_k, name="init_par")
        with m.If(init_go):
            m.d.comb += [pi0_w.addr.eq(init_k), pi1_w.addr.eq(init_k),
                         pi0_w.data.eq(Cat(init_par, init_k)),
                         pi1_w.data.eq(Cat(~init_par, init_k)),
                         pi0_w.en.eq(1), pi1_w.en.eq(1)]
        with m.Elif(bn_v1):
            # the two elements of a swap are in different banks: exchange the read values
            m.d.comb += [pi0_w.addr.eq(bn_w0), pi1_w.addr.eq(bn_w1),
                         pi0_w.data.eq(pi1_r.data), pi1_w.data.eq(pi0_r.data),
                         pi0_w.en.eq(1), pi1_w.en.eq(1)]
        with m.If(bn_issue):
            m.d.comb += [pi0_r.addr.eq(bn_a0), pi1_r.addr.eq(bn_a1)]
        with m.Else():
            m.d.comb += [pi0_r.addr.eq(bnk_addr), pi1_r.addr.eq(bnk_addr)]

        # ---- result bank: scan (roots) / drain (weights) ---------------------------------
        # The scan of the result bank compares one position per cycle with 0; a root is
        # appended to the list one cycle later (`sc_hit`, registered), so the list's shift
        # enable is a flip-flop. At key load the drain writes w = g(alpha)^-2 one cycle
        # after the inverse ROM is read (the squared inverse registered: `w_r`).
        sc_busy = Signal()
        sc_cnt = Signal(7)
        sc_pos = Signal(12)
        key_pass = Signal()         # the Horner pass computes g(alpha) (key load)
        roots = Signal(7)
        root_bad = Signal()
        sc_z = Signal()
        m.d.comb += sc_z.eq((R[0] == 0) & (sc_pos < N))
        sc_hit = Signal()
        sc_hit_pos = Signal(12)
        m.d.sync += [sc_hit.eq(sc_busy & ~key_pass & sc_z), sc_hit_pos.eq(sc_pos)]
        dr_v = Signal()
        dr_pos = Signal(12)
        dr_z = Signal()
        dr_g = Signal(12)
        m.d.sync += dr_v.eq(0)
        with m.If(sc_busy):
            m.d.sync += [R[u].eq(R[u + 1]) for u in range(P - 1)]
            m.d.sync += [sc_cnt.eq(sc_cnt + 1), sc_pos.eq(sc_pos + 1)]
            with m.If(sc_cnt == P - 1):
                m.d.sync += sc_busy.eq(0)
            with m.If(key_pass):
                m.d.sync += [dr_v.eq(sc_pos < N), dr_pos.eq(sc_pos), dr_z.eq(sc_z),
                             dr_g.eq(R[0])]
        with m.If(f_sc_go):
            m.d.sync += [sc_busy.eq(1), sc_cnt.eq(0)]
            m.d.sync += [R[u].eq(X[u]) for u in range(P)]
        # the root list shifts for a loader read in list mode or a root found by the scan
        # (never both at once: the list is read only after the last scan)
        with m.If((ld_busy & ld_list) | sc_hit):
            m.d.sync += [Lpos[0].eq(Mux(sc_hit, sc_hit_pos, 0)), Lv[0].eq(sc_hit)]
            m.d.sync += [Lpos[k].eq(Lpos[k - 1]) for k in range(1, T)]
            m.d.sync += [Lv[k].eq(Lv[k - 1]) for k in range(1, T)]
        with m.If(sc_hit):
            m.d.sync += roots.eq(roots + 1)
        with m.If(f_intake_end):
            m.d.sync += [Lv[k].eq(0) for k in range(T)]
            m.d.sync += roots.eq(0)
        w_new = gf_sq(m, inverse.o, name="w_new")       # w = (g(alpha)^-1)^2
        dr2_v = Signal()
        dr2_pos = Signal(12)
        dr2_g = Signal(12)
        w_r = Signal(12)
        m.d.sync += [dr2_v.eq(dr_v), dr2_pos.eq(dr_pos), dr2_g.eq(dr_g), w_r.eq(w_new)]
        m.d.comb += [wt_w.addr.eq(dr2_pos), wt_w.data.eq(w_r), wt_w.en.eq(dr2_v)]
        with m.If(dr_v & dr_z):
            m.d.sync += root_bad.eq(1)
        m.d.comb += [self.dbg_wr.valid.eq(dr2_v), self.dbg_wr.pos.eq(dr2_pos),
                     self.dbg_wr.g.eq(dr2_g), self.dbg_wr.w.eq(w_r)]
        # the error-vector word of the batch just scanned (bat - 1: also in EvLast, after
        # bat has passed the last batch)
        m.d.comb += [e_w.addr.eq(bat - 1), e_w.en.eq(f_sc_go & ~key_pass),
                     e_w.data.eq(Mux(f_evlast, xzero & ((1 << LAST_VALID) - 1), xzero))]

        # ---- Berlekamp–Massey registers ------------------------------------------------
        bm_b = Signal(12)
        bm_d = Signal(12)
        bm_l = Signal(8)
        grow = Signal()             # (d != 0) and 2L <= r, registered in BmF for BmUpd
        with m.If(key_pass):
            m.d.comb += inverse.a.eq(R[0])
        with m.Else():
            m.d.comb += inverse.a.eq(bm_b)
        # b^-1 registered (the block RAM's clock-to-output is 5.8 ns): valid from the second
        # cycle after b changes (BmUpd), i.e. from BmSum on, before BmFrac uses it
        inv_b = Signal(12)
        m.d.sync += inv_b.eq(inverse.o)
        d_new = Signal(12)
        m.d.comb += d_new.eq(W[0] ^ tree_r)               # d = W_0 + Σ C_i W_i
        f_new = gf_mul(m, d_new, inv_b, name="f_new")     # f = d / b
        m.d.comb += self.dbg_l.eq(bm_l)
        with m.If(f_bmfrac):
            m.d.sync += [bm_d.eq(d_new), f.eq(f_new)]
        with m.If(f_bmf):
            m.d.sync += grow.eq((bm_d != 0) & ((bm_l << 1) <= it))
        with m.If(f_bmupd & grow):
            m.d.sync += [bm_b.eq(bm_d), bm_l.eq(it + 1 - bm_l)]

        # ---- hash: b ‖ (e | s) ‖ C through a byte packer into the sponge -------------------
        ok = Signal()
        pk_acc = Signal(128)
        pk_fill = Signal(5)
        pk_flush = Signal()
        ch_valid = Signal()
        out_n = Signal(4)
        m.d.comb += out_n.eq(Mux(pk_fill >= 8, 8, pk_fill))
        out_valid = Signal()
        m.d.comb += out_valid.eq((pk_fill >= 8) | (pk_flush & (pk_fill != 0)))
        out_last = Signal()
        m.d.comb += out_last.eq(pk_flush & (pk_fill <= 8))
        # the packer's words leave through a register slice (an output register and a skid
        # register): the hash port's valid and payload are flip-flops and its ready only
        # loads them, so no path runs from the packer into the hash service's logic (the
        # shell's attestor in the core) or back
        slice_clear = Signal()      # an abort empties the slice (driven below)
        m.submodules.hslice = hslice = ResetInserter({"sync": slice_clear})(RegisterSlice(SpongeIn))
        m.d.comb += [sponge.i.valid.eq(hslice.o.valid), sponge.i.payload.eq(hslice.o.payload),
                     hslice.o.ready.eq(sponge.i.ready)]
        m.d.comb += [hslice.i.payload.data.eq(pk_acc[:64]), hslice.i.payload.nbytes.eq(out_n),
                     hslice.i.payload.last.eq(out_last),
                     hslice.i.payload.mode.eq(SpongeMode.SHAKE256)]
        take = Signal()             # the packer's word enters the slice
        m.d.comb += [hslice.i.valid.eq(out_valid), take.eq(out_valid & hslice.i.ready)]
        # a chunk is taken only while no output word is offered, so the chunk's position is
        # the fill register and the sponge's `ready` only selects between two values
        # computed from registers. The chunk register `ch_r` is filled in HashLat (flags
        # decided a cycle ahead) from `es_r`, the e or s word registered after the block
        # RAM: its address is the chunk index in HashLat and HashPut, so `es_r` holds the
        # word of chunk ci + 1 by the next HashLat.
        ch_r = Signal(64)
        ch_n_r = Signal(4)
        es_r = Signal(64)
        m.d.sync += es_r.eq(Mux(ok, e_r.data, s_r.data))
        with m.If(f_ch0):
            m.d.sync += [ch_r.eq(ok), ch_n_r.eq(1)]
        with m.If(f_ches):
            m.d.sync += [ch_r.eq(es_r), ch_n_r.eq(8)]
        with m.If(f_chhalf):
            m.d.sync += [ch_r.eq(es_r[:32]), ch_n_r.eq(4)]
        with m.If(f_chc0):
            m.d.sync += [ch_r.eq(C0[0]), ch_n_r.eq(8)]
        accept = Signal()
        m.d.comb += accept.eq(ch_valid & ~out_valid)
        with m.If(take):
            m.d.sync += [pk_fill.eq(pk_fill - out_n), pk_acc.eq(pk_acc >> 64)]
        with m.Elif(accept):
            m.d.sync += [pk_fill.eq(pk_fill + ch_n_r),
                         pk_acc.eq(pk_acc | (ch_r << (pk_fill * 8)))]
        sq_cnt = Signal(3)
        kreg = Signal(256)
        k_valid = Signal()
        m.d.comb += [self.k.valid.eq(k_valid), self.k.payload.eq(kreg)]
        with m.If(self.k.valid & self.k.ready):
            m.d.sync += k_valid.eq(0)

        # ---- key status outputs; the g words --------------------------------------------
        m.d.comb += [self.key_done.eq(key_done),
                     self.key_ok.eq(~c_bad & ~g_bad & ~root_bad)]
        # g words are taken into a register (`kv1`, `kword1`) and shifted into C the cycle
        # after (the last one in KeyInit's first cycle), so no input reaches C's enables
        kv1 = Signal()
        kword1 = Signal(64)
        # the pivot word is checked the same way, from the register a cycle after it came:
        # its 64-bit compare does not sit behind the key stream's handshake (which starts
        # at the shell's key loader), and c_bad is set long before key_done
        kc1 = Signal()
        m.d.sync += [kv1.eq(0), kc1.eq(0)]
        with m.If(kc1):
            m.d.sync += c_bad.eq(kword1 != PIVOTS_NON_F)
        with m.If(kv1):
            # (g's coefficients shift into C: c_next, below)
            with m.If(Cat(*[kword1[16 * i + 12:16 * i + 16] for i in range(4)]) != 0):
                m.d.sync += g_bad.eq(1)

        # ---- ciphertext words: registered (`ct_v1`, `ct_w1`), shifted into C0 a cycle later
        ct_v1 = Signal()
        ct_w1 = Signal(64)
        m.d.sync += [ct_v1.eq(self.ct.valid & self.ct.ready), ct_w1.eq(self.ct.payload.data)]
        with m.If(ct_v1 | f_c0_rot | f_chc0):
            m.d.sync += [C0[w].eq(C0[w + 1]) for w in range(CT_WORDS - 1)]
            m.d.sync += C0[CT_WORDS - 1].eq(Mux(ct_v1, ct_w1, C0[0]))

        # ---- the unit array and its register files, from the flags ---------------------
        # the terms other than the product are summed beside it (x_rest, a kept signal),
        # so the product's last XOR takes them in one input: a unit's next value is one
        # LUT after the multiplier's partial sums
        for u in range(P):
            x_rest = Signal(12, name=f"x_rest{u}", attrs={"keep": 1})
            mu.d.comb += [
                x_rest.eq(Mux(x_c0, Cr[0], 0) ^ Mux(x_cu, Cr[u], 0) ^ Mux(x_b, Br[u], 0) ^
                          Mux(x_sw | (x_vw & C0[0][u]), SW[u], 0) ^ x_one),
                x_next[u].eq(Mux(x_prod, prod[u], 0) ^ x_rest),
            ]
        with m.If(x_en):
            m.d.sync += [X[u].eq(x_next[u]) for u in range(P)]
        with m.If(a_en):
            m.d.sync += [A[u].eq(Mux(a_sa, SA[u], 0) | Mux(f_bmf, f, 0) | Mux(f_bmupd, W[u], 0))
                         for u in range(P)]
        with m.If(c_en | kv1):
            # key load (kv1): g's coefficients shift in, four per word; BmInit: C = 0;
            # BmUpd: C += f B; Horner: C rotates so that C_k is at the head
            m.d.sync += [Cr[u].eq(c_next[u]) for u in range(P)]
        # (kv1, BmUpd and Horner are never set together: the key shift, C ^ prod or the
        # rotation; the product's term apart as in X)
        for u in range(P):
            c_rest = Signal(12, name=f"c_rest{u}", attrs={"keep": 1})
            shift_in = kword1[16 * (3 - u):16 * (3 - u) + 12] if u < 4 else Cr[u - 4]
            mu.d.comb += [
                c_rest.eq(Mux(f_bmupd, Cr[u], 0) | Mux(f_horner, Cr[(u + 1) % P], 0) |
                          Mux(kv1, shift_in, 0)),
                c_next[u].eq(Mux(f_bmupd, prod[u], 0) ^ c_rest),
            ]
        with m.If(b_en):
            # BmInit: B = 1; BmUpd: B = x C_old (grow) or x B
            m.d.sync += Br[0].eq(f_bminit | grow)
            m.d.sync += [Br[u].eq(Mux(f_bmupd, Mux(grow, Cr[u - 1], Br[u - 1]), 0))
                         for u in range(1, P)]
        with m.If(b_en):            # the window moves with B
            # BmInit: W_0 = S_0, the rest 0; BmUpd: the next window W_0 = S_{r+1}
            m.d.sync += [W[0].eq(S[0])] + [W[i].eq(Mux(f_bmupd, W[i - 1], 0))
                                           for i in range(1, T + 1)]
        with m.If(s_en | f_intake_end):
            # S rotates (adding the XOR tree in the syndrome), or is cleared (IntakeEnd)
            m.d.sync += [S[j].eq(Mux(f_intake_end, 0, S[j + 1])) for j in range(2 * T - 1)]
            m.d.sync += S[2 * T - 1].eq(Mux(f_intake_end, 0, S[0] ^ Mux(s_add, tree_r, 0)))
        diff = Signal()
        with m.If(f_re_cmp & (S[0] != tree_r)):          # S_e,j == S_j for every j
            m.d.sync += diff.eq(1)
        with m.If(f_intake_end):
            m.d.sync += [diff.eq(0), key_pass.eq(0)]

        # ---- sequencer -----------------------------------------------------------------
        req_active = Signal()
        m.d.comb += [self.dbg_roots.eq(roots), self.dbg_ok.eq(ok)]
        abt = Signal()
        m.d.comb += abt.eq(abort & req_active)
        scan_idle = Signal()        # the last scan (and the weight writes) finished
        m.d.comb += scan_idle.eq(~sc_busy & ~sc_hit & ~dr_v & ~dr2_v)
        acc_last = Signal()         # the final hash chunk is taken
        m.d.comb += acc_last.eq(ci == S_WORDS + CT_WORDS)

        # (from, to, condition): the schedule. A batch pass is Load (the batch's alphas
        # from the shadow, the next batch prefetched), Step × n, Idle (the prefetch's last
        # shadow write; the syndrome adds the last registered tree output).
        transitions = [
            ("Idle", "KeyHead", self.key.valid),
            ("Idle", "Intake", ~self.key.valid & self.start),
            ("KeyHead", "KeyInit", self.key.valid & (kw == W_CB - 1)),
            ("KeyInit", "CbLoad", init_k == HALF - 1),
            ("CbLoad", "Swap", self.key.valid),
            ("Swap", "KeyS", (cb_left == 0) & (kw == W_S)),
            ("Swap", "CbLoad", (cb_left == 0) & (kw != W_S)),
            ("KeyS", "KeyLoad", self.key.valid & (kw == KEY_WORDS - 1)),
            ("KeyLoad", "LoadWait", 1),
            ("LoadWait", "EvLoad", ld_done),
            ("Intake", "IntakeEnd", self.ct.valid & self.ct.payload.last),
            ("IntakeEnd", "SynWait", 1),
            ("SynWait", "SynLoad", ld_done),
            ("SynLoad", "SynStep", 1),
            ("SynStep", "SynIdle", stp == 2 * T),
            ("SynIdle", "SynLoad", bat != SYN_BATCHES - 1),
            ("SynIdle", "BmInit", bat == SYN_BATCHES - 1),
            ("BmInit", "BmDot", 1),
            ("BmDot", "BmSum", 1),
            ("BmSum", "BmFrac", 1),
            ("BmFrac", "BmF", 1),
            ("BmF", "BmUpd", 1),
            ("BmUpd", "BmDot", it != 2 * T - 1),
            ("BmUpd", "EvWait", it == 2 * T - 1),
            ("EvWait", "EvLoad", ld_done),
            ("EvLoad", "EvStep", 1),
            ("EvStep", "EvIdle", stp == T),
            ("EvIdle", "EvLoad", bat != EV_BATCHES - 1),
            ("EvIdle", "EvLast", bat == EV_BATCHES - 1),
            ("EvLast", "ScanWait", 1),
            ("ScanWait", "Idle", scan_idle & key_pass),
            ("ScanWait", "ReGo", scan_idle & ~key_pass),
            ("ReGo", "ReWait", 1),
            ("ReWait", "ReLoad", ld_done),
            ("ReLoad", "ReStep", 1),
            ("ReStep", "ReIdle", stp == 2 * T),
            ("ReIdle", "Judge", 1),
            ("Judge", "HashLat", 1),
            ("HashLat", "HashPut", 1),
            ("HashPut", "HashFlush", accept & acc_last),
            ("HashPut", "HashLat", accept & ~acc_last),
            ("HashFlush", "Squeeze", take & out_last),
            ("Squeeze", "Idle", sponge.o.valid & (sq_cnt == 3)),
        ]
        enter = {k: [] for k in _STATES}
        leave = {k: [] for k in _STATES}
        for src, dst, cond in transitions:
            cond = Const(1) if isinstance(cond, int) else cond
            enter[dst].append(state[_ST[src]] & cond)
            leave[src].append(cond)
        for k in _STATES:
            stay = state[_ST[k]] & ~Cat(*leave[k]).any() if leave[k] else state[_ST[k]]
            m.d.comb += sn[_ST[k]].eq(Cat(stay, *enter[k]).any())
        # abort: a request returns to idle at once and every flag is clear from the next
        # cycle on; outside a request abort does nothing. abt is the synchronous reset
        # (set, for Idle) of the state and flag registers, not a term of `sn`: the intake's
        # abort then reaches them in one gate instead of through the transition table and
        # the flags' predicates. Registers loaded from `sn` without a flag (ld_base_in) take
        # a value in that cycle that nothing reads: their users wait for a flag.
        with m.If(abt):
            m.d.sync += [state.eq(1 << _ST["Idle"])] + [f_.eq(0) for f_ in flags]

        # the registers each state updates (one flip-flop of `state` per condition)
        stage = {"Idle": 0, "KeyHead": 1, "KeyInit": 1, "CbLoad": 2, "Swap": 2, "KeyS": 3,
                 "KeyLoad": 4, "LoadWait": 4, "Intake": 5, "IntakeEnd": 5, "SynWait": 5,
                 "SynLoad": 6, "SynStep": 6, "SynIdle": 6, "BmInit": 7, "BmDot": 7,
                 "BmSum": 7, "BmFrac": 7, "BmF": 7, "BmUpd": 7, "EvWait": 8, "ReGo": 9,
                 "ReWait": 9, "ReLoad": 9, "ReStep": 9, "ReIdle": 9, "Judge": 10,
                 "HashLat": 11, "HashPut": 11, "HashFlush": 11, "Squeeze": 12}
        for k, v in stage.items():
            with m.If(now(k)):
                m.d.comb += self.dbg_stage.eq(v)
        with m.If(now("EvLoad", "EvStep", "EvIdle", "EvLast", "ScanWait")):
            m.d.comb += self.dbg_stage.eq(Mux(key_pass, 4, 8))   # the Horner pass

        with m.If(now("Idle")):
            m.d.comb += self.key.ready.eq(1)
            with m.If(self.key.valid):
                m.d.sync += [key_done.eq(0), kw.eq(1), c_bad.eq(0), g_bad.eq(0),
                             root_bad.eq(0), layer.eq(0), jj.eq(0)]
            with m.Elif(self.start):
                m.d.sync += [k_valid.eq(0), kw.eq(0), req_active.eq(1)]
                m.d.comb += self.ct.ready.eq(1)        # the first ct word may come with start

        # -- key load -------------------------------------------------------------------
        with m.If(now("KeyHead")):               # words 1..20: c and g
            m.d.comb += self.key.ready.eq(1)
            word = self.key.payload.data
            m.d.sync += kword1.eq(word)
            with m.If(self.key.valid):
                m.d.sync += kw.eq(kw + 1)
                with m.If(kw == W_C):
                    m.d.sync += kc1.eq(1)
                with m.If(kw >= W_G):
                    m.d.sync += kv1.eq(1)
                with m.If(kw == W_CB - 1):
                    m.d.sync += init_k.eq(0)
        with m.If(now("KeyInit")):               # identity permutation into the banks
            m.d.sync += init_k.eq(init_k + 1)
        with m.If(now("CbLoad")):                # next control-bit word
            m.d.comb += self.key.ready.eq(1)
            with m.If(self.key.valid):
                m.d.sync += [cbw.eq(self.key.payload.data), cb_left.eq(63), kw.eq(kw + 1)]
        with m.If(now("Swap")):                  # 64 swaps, one per cycle
            m.d.sync += [cbw.eq(cbw >> 1), cb_left.eq(cb_left - 1), jj.eq(jj + 1)]
            with m.If(jj == HALF - 1):
                m.d.sync += layer.eq(layer + 1)
        with m.If(now("KeyS")):                  # s words
            m.d.comb += [self.key.ready.eq(1), s_w.addr.eq(kw - W_S),
                         s_w.data.eq(self.key.payload.data), s_w.en.eq(self.key.valid)]
            with m.If(self.key.valid):
                m.d.sync += kw.eq(kw + 1)
        with m.If(now("KeyLoad")):               # alpha of batch 0 (f_ld_go)
            m.d.sync += [key_pass.eq(1), sc_pos.eq(0), bat.eq(0)]

        # -- proof ------------------------------------------------------------------------
        with m.If(now("Intake")):
            m.d.comb += self.ct.ready.eq(1)
        with m.If(now("IntakeEnd")):             # the last word into C0; S, list cleared
            m.d.sync += bat.eq(0)
        with m.If(now("SynLoad", "EvLoad", "ReLoad")):
            m.d.sync += stp.eq(1)
        with m.If(now("SynStep", "EvStep", "ReStep")):
            m.d.sync += stp.eq(stp + 1)
        with m.If(now("SynIdle", "EvIdle")):
            m.d.sync += bat.eq(bat + 1)
        with m.If(now("BmInit")):                # C = 0, B = 1, X = 0: the first d is W_0
            m.d.sync += [bm_l.eq(0), bm_b.eq(1), it.eq(0)]
        with m.If(now("BmUpd")):
            m.d.sync += it.eq(it + 1)
        with m.If(now("EvWait")):
            m.d.sync += [bat.eq(0), sc_pos.eq(0)]
        with m.If(now("Judge")):
            m.d.sync += [ok.eq((roots == T) & ~diff), ci.eq(0), pk_fill.eq(0),
                         pk_flush.eq(0), pk_acc.eq(0)]
        with m.If(now("HashLat")):               # chunk ci into the chunk register (flags)
            m.d.comb += [e_r.addr.eq(ci), s_r.addr.eq(ci)]
        with m.If(now("HashPut")):
            m.d.comb += [ch_valid.eq(1), e_r.addr.eq(ci), s_r.addr.eq(ci)]
            with m.If(accept):
                m.d.sync += ci.eq(ci + 1)
                with m.If(acc_last):
                    m.d.sync += [pk_flush.eq(1), sq_cnt.eq(0)]
        with m.If(now("HashFlush") & take & out_last):
            m.d.sync += pk_flush.eq(0)
        with m.If(now("Squeeze")):
            m.d.comb += sponge.o.ready.eq(1)
            with m.If(sponge.o.valid):
                m.d.sync += [kreg.eq(Cat(kreg[64:], sponge.o.payload)), sq_cnt.eq(sq_cnt + 1)]
                with m.If(sq_cnt == 3):
                    m.d.comb += sponge.stop.eq(1)
                    m.d.sync += [k_valid.eq(1), req_active.eq(0)]
        with m.If(now("ScanWait") & scan_idle & key_pass):
            m.d.sync += key_done.eq(1)

        # abort: an untaken K is dropped, the loader, scan and packer stop
        with m.If(abt):
            m.d.sync += [k_valid.eq(0), pk_flush.eq(0), pk_fill.eq(0), pk_acc.eq(0), ld_busy.eq(0),
                         ld_v1.eq(0), sc_busy.eq(0), sc_hit.eq(0), req_active.eq(0)]
        m.d.comb += slice_clear.eq(abt)

        m.d.comb += self.dbg_e.valid.eq(e_w.en)
        m.d.comb += [self.dbg_e.addr.eq(e_w.addr), self.dbg_e.data.eq(e_w.data)]
        return m
