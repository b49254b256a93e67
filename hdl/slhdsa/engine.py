"""SLH-DSA-SHAKE-128s verification engine (FIPS 205 Algorithms 20 and 24) for the ``riscv``
validator core.

The engine verifies the proof body (a 7,856-byte signature) over the request's descriptor
with the context ``"pqvote/proof"``, under the public key ``PK.seed ‖ PK.root`` loaded on
``key`` (4 words). It plugs into :class:`hdl.validator.ValidatorShell` through
:data:`hdl.validator.EngineSignature`.

Structure::

    body words ─► pair register ─► signature memory (491 × 128 bit, one write port,
                                   one synchronous read port per hash unit)
                                          │
        scheduler (phase FSM) ── jobs ──► hash unit 0 (RAW: H_msg, T_k, T_len; Merkle path)
              ▲                   ├─────► hash unit 1 .. instances-1 (WOTS+ chains, FORS trees)
              └── results ─ arbiter ──► result memory R[0..34] (FORS roots / WOTS+ chain ends;
                  (one result per cycle,    block RAM, one write port)
                  lowest unit first)             │ one 64-bit lane per cycle
                                                 ▼
                  unit 0's RAW block ◄── T block shift register (T_k, T_len: 1,088 bits)

Phases: ``H_msg`` (as soon as R has arrived) → 14 FORS trees (jobs of 1 F + 12 H, spread
over the units) → ``T_k`` (3 blocks) → for each of the 7 layers: 35 WOTS+ chains (longest
first, spread over the units) → ``T_len`` (5 blocks) → 9-node Merkle path → next layer.
The final root is compared with PK.root. Hash units read the signature as it streams in
(a read waits until its entry has arrived), so the work overlaps the proof intake.
"""

from amaranth.hdl import Module, Signal, Const, Mux, Cat, Array, unsigned
from amaranth.lib import memory, wiring

from golden import slhdsa as model
from golden.keccak import DOMAIN
from golden.proof import CONTEXT
from hdl.validator import EngineSignature
from hdl.slhdsa.hash_unit import (HashUnit, Job, JobKind, adrs_lanes, SIG_ENTRIES, BLOCK_BITS,
                                  PAD_LANE)

__all__ = ["SlhDsaEngine", "HASH_UNITS"]

#: Hash units of the registered ``riscv`` core (docs/slhdsa.md, "Area": the unit count is
#: the core's area-latency trade).
HASH_UNITS = 4
BODY_WORDS = model.SIG_LEN // 8        # 982


class SlhDsaEngine(wiring.Component):
    """SLH-DSA-SHAKE-128s verification with ``instances`` Keccak-p[1600] hash units.

    Latency depends on the signature (the WOTS+ chain lengths), never on secret data: about
    2,150 permutations of 24 cycles spread over the units, with the per-layer ``T_len`` and
    Merkle path (14 permutations) on unit 0 alone.

    Parameters
    ----------
    instances : int
        Hash units (Keccak permutations), 1 to 8; by default :data:`HASH_UNITS`, the
        registered core's count.

    Members
    -------
    The members of :data:`hdl.validator.EngineSignature`.
    """

    def __init__(self, *, instances=HASH_UNITS):
        if not isinstance(instances, int) or not 1 <= instances <= 8:
            raise ValueError(f"Instance count must be an integer in 1..8, not {instances!r}")
        self._instances = instances
        super().__init__(EngineSignature)

    @property
    def instances(self):
        return self._instances

    def elaborate(self, platform):
        m = Module()
        n_units = self._instances

        # --- key: PK.seed ‖ PK.root, 4 words ------------------------------------------------
        seed = Signal(128)
        root = Signal(128)
        kcnt = Signal(3)
        kidx = Signal(3)
        key_done = Signal()
        key_ok = Signal()
        m.d.comb += [
            self.key.ready.eq(1),
            self.key_done.eq(key_done),
            self.key_ok.eq(key_ok),
            kidx.eq(Mux(key_done, 0, kcnt)),
        ]
        with m.If(self.key.valid):
            w = self.key.payload.data
            with m.Switch(kidx):
                with m.Case(0):
                    m.d.sync += seed[0:64].eq(w)
                with m.Case(1):
                    m.d.sync += seed[64:128].eq(w)
                with m.Case(2):
                    m.d.sync += root[0:64].eq(w)
                with m.Case(3):
                    m.d.sync += root[64:128].eq(w)
            m.d.sync += kcnt.eq(Mux(kidx == 7, 7, kidx + 1))
            with m.If(self.key.payload.last):
                m.d.sync += [key_done.eq(1), key_ok.eq(kidx == 3), kcnt.eq(0)]
            with m.Else():
                m.d.sync += key_done.eq(0)

        # --- body: signature memory ---------------------------------------------------------
        # ``no_rw_check``: a unit never uses a word read in the cycle its entry is written
        # (`avail` counts the entry from the next cycle, and a unit trusts its read only for
        # an entry below `avail` when the read was addressed), so synthesis need not emulate
        # read-before-write across the ports (an address compare, a flip-flop and a 128-bit
        # bypass multiplexer per read port)
        m.submodules.sig = sig = memory.Memory(shape=unsigned(128), depth=SIG_ENTRIES, init=[],
                                               attrs={"no_rw_check": 1})
        wr = sig.write_port()
        wcnt = Signal(range(BODY_WORDS + 2))
        lo = Signal(64)
        r_value = Signal(128)              # the randomness R (entry 0), for H_msg
        avail = Signal(range(SIG_ENTRIES + 1))
        receiving = Signal()
        body_done = Signal()
        bad = Signal()
        m.d.comb += self.body.ready.eq(receiving)
        with m.If(self.body.valid & receiving):
            w = self.body.payload.data
            with m.If(wcnt < BODY_WORDS):
                m.d.sync += wcnt.eq(wcnt + 1)
                with m.If(wcnt[0] == 0):
                    m.d.sync += lo.eq(w)
                with m.Else():
                    m.d.comb += [wr.addr.eq(wcnt >> 1), wr.data.eq(Cat(lo, w)), wr.en.eq(1)]
                    m.d.sync += avail.eq(avail + 1)
                    with m.If(wcnt == 1):
                        m.d.sync += r_value.eq(Cat(lo, w))
            with m.If(self.body.payload.last):
                m.d.sync += [receiving.eq(0), body_done.eq(1), avail.eq(SIG_ENTRIES)]
                with m.If(wcnt != BODY_WORDS - 1):
                    m.d.sync += bad.eq(1)
            with m.Elif(wcnt >= BODY_WORDS - 1):
                m.d.sync += bad.eq(1)          # more words than a signature

        # --- hypertree position, digest, messages --------------------------------------------
        layer = Signal(4)
        tree = Signal(64)
        leaf_idx = Signal(9)
        digest = Signal(256)
        msg = Signal(128)                 # node signed by the current layer / final root
        dbyte = [digest[8 * j:8 * j + 8] for j in range(32)]
        md_be = Signal(168)               # md as a big-endian integer (FIPS 205 toInt)
        m.d.comb += md_be.eq(Cat(*reversed(dbyte[0:21])))
        # the FORS indices: ind[i] = md_be[168 - 12 (i + 1) : 168 - 12 i], i = 0..13 (fors_q)
        idx_tree = Signal(54)
        idx_leaf = Signal(9)
        m.d.comb += [
            idx_tree.eq(Cat(*reversed(dbyte[21:28]))[0:54]),
            idx_leaf.eq(Cat(dbyte[29], dbyte[28])[0:9]),
        ]

        # WOTS+ digits of msg: 32 message nibbles (high nibble first) and the 3-digit checksum
        digit = [Signal(4, name=f"digit{c}") for c in range(model.LEN)]
        for i in range(16):
            m.d.comb += [digit[2 * i].eq(msg[8 * i + 4:8 * i + 8]),
                         digit[2 * i + 1].eq(msg[8 * i:8 * i + 4])]
        # the checksum in two register stages (partial sums of 8 digits, then the total):
        # a 32-term adder tree in one cycle would bound the clock; `msg` is stable while a
        # layer's chains are scheduled, which waits for `settle` (3 cycles per layer)
        part = [Signal(7, name=f"csum_part{q}") for q in range(4)]
        for q in range(4):
            m.d.sync += part[q].eq(sum(15 - digit[c] for c in range(8 * q, 8 * q + 8)))
        csum = Signal(9)
        m.d.comb += csum.eq(sum(part))
        m.d.comb += [digit[32].eq(csum[8:9]), digit[33].eq(csum[4:8]), digit[34].eq(csum[0:4])]
        steps = [Signal(4, name=f"steps{c}") for c in range(model.LEN)]
        for c in range(model.LEN):
            m.d.sync += steps[c].eq(15 - digit[c])

        # --- result memory and the T_l / H_msg blocks --------------------------------------
        # the results (FORS roots, WOTS+ chain ends) in a memory of 35 entries, one write
        # per cycle; a T_k / T_len block is assembled lane by lane in a shift register
        # (`asm`, below), streamed from the memory while unit 0 hashes the block before
        # (``no_rw_check``: a stream reads an entry no earlier than 6 cycles after the last
        # result is written, and a word read in any other cycle is not used)
        m.submodules.res = res = memory.Memory(shape=unsigned(128), depth=model.LEN, init=[],
                                               attrs={"ram_style": "block", "no_rw_check": 1})
        res_w = res.write_port()
        res_r = res.read_port()
        t_type = Signal(3)
        t_adrs = [Signal(64, name=f"t_adrs{k}") for k in range(4)]
        for k, lane in enumerate(adrs_lanes(layer, tree, t_type, leaf_idx, 0, 0)):
            m.d.comb += t_adrs[k].eq(lane)
        ctx = Const(int.from_bytes(bytes([0, len(CONTEXT)]) + CONTEXT, "little"),
                    8 * (2 + len(CONTEXT)))
        hmsg_block = Signal(BLOCK_BITS)
        m.d.comb += hmsg_block.eq(Cat(r_value, seed, root, ctx, self.descriptor,
                                      Const(DOMAIN["shake256"], 8), Const(0, 8 * 48),
                                      Const(0x80, 8)))

        # --- hash units ---------------------------------------------------------------------
        units = []
        for u in range(n_units):
            unit = HashUnit(raw=(u == 0))
            m.submodules[f"unit{u}"] = unit
            rd = sig.read_port()
            m.d.comb += [
                rd.addr.eq(unit.rd_addr),
                unit.rd_data.eq(rd.data),
                unit.avail.eq(avail),
                unit.layer.eq(layer),
                unit.tree.eq(tree),
                unit.seed.eq(seed),
                unit.drop.eq(self.abort),
            ]
            units.append(unit)
        u0 = units[0]

        # --- scheduler --------------------------------------------------------------------
        # the phase FSM offers the next job (`job`, `job_valid`, `to_any`: combinational);
        # it is taken into the job register (`jq`, `jq_valid`, `jq_any`) as soon as that is
        # empty or being issued, and issued from there: the units' job registers and memory
        # read addresses are fed from flip-flops, not from the FSM's decode, the FORS
        # indices' select and the address arithmetic (one cycle per phase, see "Timing
        # closure" in docs/slhdsa.md)
        job = Signal(Job)
        job_valid = Signal()
        to_any = Signal()                               # job for any idle unit, else unit 0
        jq = Signal(Job)
        jq_valid = Signal()
        jq_any = Signal()
        idle = Signal(n_units)
        m.d.comb += idle.eq(Cat(*[u.job.ready for u in units]))
        target = Signal(range(max(n_units, 2)))         # lowest idle unit
        for u in reversed(range(n_units)):
            with m.If(idle[u]):
                m.d.comb += target.eq(u)
        # `value` (a Merkle path's start node, unit 0 only) goes to the units straight from
        # `msg`, which holds it while the Merkle job waits and runs: `jq.value` is unread
        # (synthesis drops it), no 128-bit copy
        m.d.comb += job.value.eq(msg)
        for u, unit in enumerate(units):
            m.d.comb += [unit.job.payload.eq(jq), unit.job.payload.value.eq(msg)]
            if u == 0:
                m.d.comb += unit.job.valid.eq(jq_valid & (~jq_any | (target == 0)))
            else:
                m.d.comb += unit.job.valid.eq(jq_valid & jq_any & (target == u) & idle[u])
        issued = Signal()                               # jq goes to a unit in this cycle
        m.d.comb += issued.eq(jq_valid & Mux(jq_any, idle.any(), idle[0]))
        jq_free = Signal()              # jq takes the offered job (if any) in this cycle
        m.d.comb += jq_free.eq(~jq_valid | issued)
        with m.If(jq_free):
            m.d.sync += [jq_valid.eq(job_valid), jq.eq(job), jq_any.eq(to_any)]

        # one result per cycle (the lowest-numbered unit first): the result memory has a
        # single write port
        grant = Signal(range(max(n_units, 2)))
        any_done = Signal()
        for u in reversed(range(n_units)):
            with m.If(units[u].result.valid):
                m.d.comb += [grant.eq(u), any_done.eq(1)]
        for u, unit in enumerate(units):
            m.d.comb += unit.result.ready.eq(grant == u)
        w_tag = Signal(6)
        w_value = Signal(128)
        m.d.comb += [
            w_tag.eq(Array(u.result.payload.tag for u in units)[grant]),
            w_value.eq(Array(u.result.payload.value[0:128] for u in units)[grant]),
        ]
        done_cnt = Signal(range(model.LEN + 1))
        next_job = Signal(range(model.LEN + 1))         # FORS trees issued
        busy = Signal()                                 # the single unit-0 job is running
        blk_sel = Signal(3)
        m.d.comb += blk_sel.eq(u0.blk_idx)
        is_tk = Signal()
        is_tlen = Signal()
        hmsg_phase = Signal()

        # longest chain first, as a scan over the step counts in three register stages:
        # `cand` holds the chains with `scan_v` steps not yet picked (loaded with the
        # compare `steps == scan_v` when the scan moves to a value, so no chain is matched
        # twice and no `pending` mask is needed); `pick` takes the lowest of them, one-hot
        # (`x & -x` from a register, into a register); the job register `jr_*` takes the
        # pick's index (an OR encode from a register). `jr` loads when it is empty or taken
        # from, `pick` only when it is empty; no compare, carry chain and encode follow each
        # other in one cycle.
        settle = Signal(2)                              # cycles until `steps` follows `msg`
        scan_v = Signal(4)
        cand = Signal(model.LEN)
        pick = Signal(model.LEN)                        # one-hot
        pick_valid = Signal()
        pick_len = Signal(4)
        jr_valid = Signal()
        jr_chain = Signal(6)
        jr_len = Signal(4)
        lowest = Signal(model.LEN)                      # one-hot: the lowest bit of cand
        m.d.comb += lowest.eq(cand & (~cand + 1))
        scan_dn = Signal(4)
        m.d.comb += scan_dn.eq(scan_v - 1)
        cand_nz = Signal()                              # cand != 0, kept with cand
        cand_rest = Signal(model.LEN)                   # cand without its lowest bit
        m.d.comb += cand_rest.eq(cand & ~lowest)
        # cand_rest != 0, i.e. cand has two bits or more: a tree of (any, two) pairs from
        # cand itself, not the OR of cand_rest behind the carry chain of `lowest`
        pairs = [(cand[c], Const(0, 1)) for c in range(model.LEN)]
        while len(pairs) > 1:
            nxt = []
            for j in range(0, len(pairs) - 1, 2):
                (a1, t1), (a2, t2) = pairs[j], pairs[j + 1]
                nxt.append((a1 | a2, t1 | t2 | (a1 & a2)))
            if len(pairs) % 2:
                nxt.append(pairs[-1])
            pairs = nxt
        cand_two = Signal()
        m.d.comb += cand_two.eq(pairs[0][1])
        eq_15 = Signal(model.LEN)
        eq_dn = Signal(model.LEN)
        m.d.comb += [eq_15.eq(Cat(*[steps[c] == 15 for c in range(model.LEN)])),
                     eq_dn.eq(Cat(*[steps[c] == scan_dn for c in range(model.LEN)]))]
        pick_idx = Signal(6)
        m.d.comb += pick_idx.eq(Cat(*[
            Cat(*[pick[c] for c in range(model.LEN) if (c >> b) & 1]).any()
            for b in range(6)]))
        chain = Signal(6)
        m.d.comb += chain.eq(jr_chain)
        chain_digit = Signal(4)
        m.d.comb += chain_digit.eq(15 - jr_len)
        # the layer's first XMSS signature entry (SIG_HT + layer * XMSS_SIG_BLOCKS), a
        # register stepped with `layer`: no multiplier in front of the job register
        layer_base = Signal(9)
        fors_addr = Signal(9)                           # SIG_FORS + next_job * (A + 1)
        # the FORS indices not yet issued, ind[next_job] in the top 12 bits: shifted at each
        # take, so no 14-way select is in front of the job register
        fors_q = Signal(12 * model.K)
        verdict = Signal()

        # the write itself a cycle later, from registers: the tag decode that enables the 35
        # registers (128 bits each) then starts at a flip-flop instead of behind the units'
        # result handshake and the grant. `done_cnt` still counts at the grant; the phase
        # after a fan-out issues its first job no earlier than the cycle after the last
        # write, and reads the registers only in the cycle after that
        wr_valid = Signal()
        wr_tag = Signal(6)
        wr_value = Signal(128)
        m.d.sync += [wr_valid.eq(0), wr_tag.eq(w_tag), wr_value.eq(w_value)]
        m.d.comb += [res_w.en.eq(wr_valid), res_w.addr.eq(wr_tag), res_w.data.eq(wr_value)]

        # --- T_k / T_len blocks: streamed into `asm`, one 64-bit lane per cycle ------------
        # The message of T_k (3 blocks) and T_len (5 blocks) is the lane sequence
        #   PK.seed (2) ‖ ADRS (4) ‖ the results' lanes (2 per result) ‖ padding
        # (T_len: 70 result lanes, then the domain lane, 7 zero lanes and the end lane, 85 =
        # 5 × 17 lanes; T_k: 28 result lanes fill two blocks, the third is padding only: the
        # domain lane, 15 zero lanes, the end lane). Lane L is read at stage 0 (the memory
        # entry (L − 6) / 2), its source chosen at stage 1 and shifted into `asm` at stage 2,
        # so block b (lanes 17b .. 17b + 16) is complete 19 cycles after its stream starts.
        # Block 0 is streamed when the results are all written (the fan-out's end; the T job
        # is issued once it is complete); block b + 1 as soon as unit 0 takes block b (its
        # `blk_idx` moves on), within the 24 cycles of the permutation that absorbs block b.
        asm = Signal(BLOCK_BITS)
        asm_ok = Signal()                       # asm holds block 0 (the T job may start)
        asm_blk = Signal(3)                     # the block asm holds or is being streamed
        s_run = Signal()                        # stage 0: a lane is read
        s_j = Signal(range(17))                 # its position in the block
        s_L = Signal(7)                         # its index in the message
        p1_v, p1_last, p2_v, p2_last = Signal(), Signal(), Signal(), Signal()
        p1_L = Signal(7)
        p2_src = Signal(4)
        s_rdq = Signal(128)
        m.d.comb += res_r.addr.eq((s_L - 6)[1:7])

        def stream_block(block):
            m.d.sync += [s_run.eq(1), s_j.eq(0), asm_blk.eq(block), asm_ok.eq(0)]

        def stream_first():
            """Stream a T job's block 0 (from lane 0)."""
            stream_block(0)
            m.d.sync += s_L.eq(0)

        def stream_next():
            """Stream the block after the one ``asm`` holds (its lanes follow on)."""
            stream_block(asm_blk + 1)

        with m.If(s_run):
            m.d.sync += [s_L.eq(s_L + 1), s_j.eq(s_j + 1)]
            with m.If(s_j == 16):
                m.d.sync += s_run.eq(0)
        m.d.sync += [p1_v.eq(s_run), p1_last.eq(s_run & (s_j == 16)), p1_L.eq(s_L),
                     p2_v.eq(p1_v), p2_last.eq(p1_last), s_rdq.eq(res_r.data)]
        # stage 1: the source of lane p1_L (t_type is the T job's from the stream's 2nd cycle)
        SRC_SEED, SRC_ADRS, SRC_RES, SRC_DOM, SRC_END, SRC_ZERO = 0, 2, 6, 8, 9, 10
        n_res = Signal(7)                       # lanes 6 .. n_res − 1 are results
        m.d.comb += n_res.eq(Mux(t_type == model.FORS_ROOTS, 6 + 2 * model.K, 6 + 2 * model.LEN))
        with m.If(p1_L < 2):
            m.d.sync += p2_src.eq(SRC_SEED + p1_L[0])
        with m.Elif(p1_L < 6):
            m.d.sync += p2_src.eq(SRC_ADRS + (p1_L - 2)[0:2])
        with m.Elif(p1_L < n_res):
            m.d.sync += p2_src.eq(SRC_RES + p1_L[0])
        with m.Elif(p1_L == n_res):
            m.d.sync += p2_src.eq(SRC_DOM)
        with m.Elif((p1_L == 84) | ((t_type == model.FORS_ROOTS) & (p1_L == 50))):
            m.d.sync += p2_src.eq(SRC_END)
        with m.Else():
            m.d.sync += p2_src.eq(SRC_ZERO)
        # stage 2: the lane into asm (lane 0 of the block ends at the bottom)
        lane = Signal(64)
        with m.Switch(p2_src):
            for k in range(2):
                with m.Case(SRC_SEED + k):
                    m.d.comb += lane.eq(seed[64 * k:64 * k + 64])
            for k in range(4):
                with m.Case(SRC_ADRS + k):
                    m.d.comb += lane.eq(t_adrs[k])
            for k in range(2):
                with m.Case(SRC_RES + k):
                    m.d.comb += lane.eq(s_rdq[64 * k:64 * k + 64])
            with m.Case(SRC_DOM):
                m.d.comb += lane.eq(PAD_LANE)
            with m.Case(SRC_END):
                m.d.comb += lane.eq(1 << 63)
        with m.If(p2_v):
            m.d.sync += asm.eq(Cat(asm[64:], lane))
        with m.If(p2_last & (asm_blk == 0)):
            m.d.sync += asm_ok.eq(1)

        def collect_results():
            with m.If(any_done):
                m.d.sync += [wr_valid.eq(1), done_cnt.eq(done_cnt + 1)]

        def single(fields, *, on_result, ready=1):
            """Issue one job to unit 0 (once ``ready``), then wait for its result."""
            with m.If(~busy & ready):
                m.d.comb += job_valid.eq(1)
                m.d.comb += [getattr(job, k).eq(v) for k, v in fields.items()]
                with m.If(jq_free):                     # taken (job_valid is 1 here)
                    m.d.sync += busy.eq(1)
            with m.If(busy & u0.result.valid):
                m.d.sync += busy.eq(0)
                on_result(u0.result.payload.value)

        def fan_out(when, fields, *, on_issue, jobs, then_type, then):
            """Issue ``fields`` to any unit while ``when``; collect the results into the
            register file; after ``jobs`` results go to state ``then`` with ``then_type``."""
            m.d.comb += to_any.eq(1)
            with m.If(when):
                m.d.comb += job_valid.eq(1)
                m.d.comb += [getattr(job, k).eq(v) for k, v in fields.items()]
                # taken (job_valid is 1 here): the bookkeeping's enables do not wait for
                # the select of job_valid over the phases
                with m.If(jq_free):
                    on_issue()
            collect_results()
            with m.If(done_cnt == jobs):
                m.d.sync += t_type.eq(then_type)
                stream_first()
                m.next = then
            with m.If(self.abort):
                m.next = "Idle"

        def raw_job(count):
            return {"kind": JobKind.RAW, "count": count}

        with m.If(self.abort):
            m.d.sync += [receiving.eq(0), busy.eq(0), jq_valid.eq(0)]

        with m.FSM() as fsm:
            with m.State("Idle"):
                with m.If(self.start):
                    m.d.sync += [
                        wcnt.eq(0), avail.eq(0), receiving.eq(1), body_done.eq(0), bad.eq(0),
                        busy.eq(0), done_cnt.eq(0), next_job.eq(0), fors_addr.eq(model.SIG_FORS),
                    ]
                    m.next = "Hmsg"
            with m.State("Hmsg"):
                m.d.comb += hmsg_phase.eq(1)
                with m.If(avail != 0):
                    def take_digest(v):
                        m.d.sync += [digest.eq(v), layer.eq(0), tree.eq(0),
                                     layer_base.eq(model.SIG_HT)]
                        m.next = "ForsIdx"
                    single(raw_job(1), on_result=take_digest)
                with m.If(self.abort):
                    m.next = "Idle"
            with m.State("ForsIdx"):
                m.d.sync += [tree.eq(idx_tree), leaf_idx.eq(idx_leaf), fors_q.eq(md_be)]
                m.next = "Fors"
                with m.If(self.abort):
                    m.next = "Idle"
            with m.State("Fors"):
                tree_no = Signal(4)
                m.d.comb += tree_no.eq(next_job)

                def next_tree():
                    m.d.sync += [next_job.eq(next_job + 1), fors_addr.eq(fors_addr + model.A + 1),
                                 fors_q.eq(fors_q << 12)]
                fan_out(next_job < model.K, {
                    "kind": JobKind.TREE,
                    "leaf": 1,
                    "addr": fors_addr,
                    "w6": 0,
                    "w7": Cat(fors_q[-12:], tree_no),
                    "count": model.A,
                    "type": model.FORS_TREE,
                    "keypair": leaf_idx,
                    "tag": tree_no,
                }, on_issue=next_tree, jobs=model.K, then_type=model.FORS_ROOTS, then="Tk")
            with m.State("Tk"):
                m.d.comb += is_tk.eq(1)

                def take_fors_pk(v):
                    m.d.sync += [msg.eq(v[0:128]), done_cnt.eq(0), settle.eq(3), scan_v.eq(15),
                                 jr_valid.eq(0), pick_valid.eq(0)]
                    m.next = "Wots"
                single(raw_job(3), on_result=take_fors_pk, ready=asm_ok)
                with m.If(self.abort):
                    m.next = "Idle"
            with m.State("Wots"):
                def chain_issued():
                    m.d.sync += jr_valid.eq(0)
                fan_out(jr_valid, {
                    "kind": JobKind.CHAIN,
                    "addr": layer_base + chain,
                    "w6": chain,
                    "w7": chain_digit,
                    "count": jr_len,
                    "type": model.WOTS_HASH,
                    "keypair": leaf_idx,
                    "tag": chain,
                }, on_issue=chain_issued, jobs=model.LEN, then_type=model.WOTS_PK, then="Tlen")
                # after fan_out: a job loaded in the cycle the previous one is taken stays
                with m.If(settle != 0):
                    m.d.sync += settle.eq(settle - 1)
                    with m.If(settle == 1):             # `steps` follows `msg` from now
                        m.d.sync += [cand.eq(eq_15), cand_nz.eq(eq_15.any())]
                with m.Else():
                    # jr is the job offered in this state (job_valid = jr_valid): it is taken
                    # when jq is free, so the phase FSM's job_valid select stays out of these
                    # enables
                    with m.If(pick_valid & (~jr_valid | jq_free)):
                        m.d.sync += [jr_valid.eq(1), jr_chain.eq(pick_idx), jr_len.eq(pick_len)]
                    # `pick` loads only when empty (not when taken from in the same cycle): the
                    # job register's handshake stays out of the scan's enables; a pick every
                    # second cycle is faster than the units take chains
                    # `cand_nz` a flip-flop: the 35-bit OR is behind `cand`'s next value, not
                    # in front of its select
                    with m.If(~pick_valid):
                        with m.If(cand_nz):
                            m.d.sync += [pick_valid.eq(1), pick.eq(lowest), pick_len.eq(scan_v),
                                         cand.eq(cand_rest), cand_nz.eq(cand_two)]
                        with m.Elif(scan_v != 0):
                            m.d.sync += [scan_v.eq(scan_dn), cand.eq(eq_dn),
                                         cand_nz.eq(eq_dn.any())]
                    with m.Elif(~jr_valid | jq_free):
                        m.d.sync += pick_valid.eq(0)
            with m.State("Tlen"):
                m.d.comb += is_tlen.eq(1)
                def take_wots_pk(v):
                    m.d.sync += msg.eq(v[0:128])
                    m.next = "Merkle"
                single(raw_job(5), on_result=take_wots_pk, ready=asm_ok)
                with m.If(self.abort):
                    m.next = "Idle"
            with m.State("Merkle"):
                def take_root(v):
                    m.d.sync += [
                        msg.eq(v[0:128]), layer.eq(layer + 1), tree.eq(tree >> model.HP),
                        layer_base.eq(layer_base + model.XMSS_SIG_BLOCKS),
                        leaf_idx.eq(tree[0:model.HP]),
                        done_cnt.eq(0), settle.eq(3), scan_v.eq(15), jr_valid.eq(0),
                        pick_valid.eq(0),
                    ]
                    with m.If(layer == model.D - 1):
                        m.next = "Final"
                    with m.Else():
                        m.next = "Wots"
                single({"kind": JobKind.TREE, "leaf": 0,
                        "addr": layer_base + model.LEN, "w6": 1, "w7": leaf_idx,
                        "count": model.HP, "type": model.TREE, "keypair": 0},
                       on_result=take_root)
                with m.If(self.abort):
                    m.next = "Idle"
            with m.State("Final"):
                m.d.comb += [verdict.eq((msg == root) & ~bad),
                             self.result.valid.eq(body_done),
                             self.result.payload.eq(verdict)]
                with m.If(self.result.valid & self.result.ready):
                    m.next = "Idle"

                with m.If(self.abort):
                    m.next = "Idle"

        # the next T block: as soon as unit 0 has taken the one asm holds (T_k 3, T_len 5)
        with m.If((is_tk | is_tlen) & (blk_sel == asm_blk + 1) &
                  (asm_blk + 1 < Mux(is_tk, 3, 5))):
            stream_next()
        with m.If(self.abort):
            m.d.sync += [s_run.eq(0), asm_ok.eq(0)]
        m.d.comb += u0.blk.eq(Mux(hmsg_phase, hmsg_block, asm))
        return m
