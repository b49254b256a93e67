"""sntrup653 KEM engine: decapsulation from the standard 1518-byte sk (docs/sntrup.md).

The engine implements the KEM engine contract (docs/interfaces.md): ``key`` (the sk
words), ``key_done``/``key_ok``, ``start``, ``ct`` (the ciphertext words), ``abort`` and
``k`` (the session key). Every phase has a fixed length, so the cycles from the last
``ct`` word to ``k.valid`` are one number for every key and ciphertext.

Blocks: :class:`~hdl.sntrup.mult.HornerArray` (the R/q products ``c·f`` and ``h·r``),
:class:`~hdl.sntrup.bank.R3Bank` (``e·v`` in R/3, overlapped with the ``c·f`` drain),
:class:`~hdl.sntrup.reduce.Reducer`, two :class:`~hdl.sntrup.decode.RadixDecoder`
(Rounded for ``ct``, Rq for ``pk``) and the shared SHA-512 block with its packer, driven
by :class:`HashJobs` (each hash a fixed list of byte segments).

Schedule (phases of the sequencer; ``j`` runs from 652 down to 0)::

    key load: Sk (190 words; pk words also into the Rq decoder) → H (h decoded) →
              Unpack (f and v codes, checks) → Jobs (Hash_4(pk), Hash_3(rho)) → Cache
              (compare Hash_4(pk) with the cache) → FbLoad (r_fb into the lanes, v into
              the R/3 bank) →
              FbStep (h · r_fb) → FbDrain (Round → hr_fb; f into the lanes) → ready
    decaps:   Ct (113 words; 109 also into the Rounded decoder) → Cf (decoder → c·f; c kept;
              job K_0 starts) → E (drain → e, each e_j a step of e·v in the bank) → R
              (bank drain → r, weight, r_enc; r into the lanes) → Hr (h·r; jobs Hash_3(r_enc),
              HashConfirm, K_1) → Cmp (drain → Round, fallback select, compare with c;
              f into the lanes) → Wait (jobs done) → Confirm (32-byte compare) → Out
"""

from contextlib import contextmanager

from amaranth.hdl import Module, ResetInserter, Signal, Const, Cat, Mux, signed, unsigned
from amaranth.lib import data, fifo, memory, stream, wiring
from amaranth.lib.wiring import In, Out

import golden.sntrup as sn
from golden.keccak import words_le
from hdl.sha512 import MsgBytes, Sha512, Sha512Packer, Sha512Word
from hdl.sntrup.bank import R3Bank
from hdl.sntrup.decode import RadixDecoder
from hdl.sntrup.mult import HornerArray, HornerOp
from hdl.sntrup.reduce import Reducer, ReduceMode
from hdl.stream_util import RegisterSlice, Word
from hdl.validator import KemEngineSignature


__all__ = ["SntrupEngine", "HashJobs", "JOBS"]

P = sn.P

SK_WORDS = (sn.SK_BYTES + 7) // 8          # 190
CT_WORDS = (sn.CT_BYTES + 7) // 8          # 113

# byte segments of the hashes: ("prefix", b) | ("sk", a, b) | ("ct", a, b) | ("reg", r) | ("renc",)
REG_H3RHO, REG_H3R = 0, 1
JOBS = {
    "h4pk": [("prefix", 4), ("sk", sn.SK_PK, sn.SK_RHO)],
    "h3rho": [("prefix", 3), ("sk", sn.SK_RHO, sn.SK_CACHE)],
    "k0": [("prefix", 0), ("reg", REG_H3RHO), ("ct", 0, sn.CT_BYTES)],
    "h3r": [("prefix", 3), ("renc",)],
    "confirm": [("prefix", 2), ("reg", REG_H3R), ("sk", sn.SK_CACHE, sn.SK_BYTES)],
    "k1": [("prefix", 1), ("reg", REG_H3R), ("ct", 0, sn.CT_BYTES)],
}
JOB_IDS = {name: k for k, name in enumerate(JOBS)}

_SEG_KIND = {"prefix": 0, "sk": 1, "ct": 2, "reg": 3, "renc": 4}

#: r_fb = (1, ..., 1, 0, ..., 0) of weight w, Small-encoded (the fallback r_enc)
_RENC_FB = sn.small_encode([1] * sn.W + [0] * (P - sn.W))
_RENC_WORDS = (sn.SMALL_BYTES + 7) // 8    # 21

# The word memories HashJobs reads have a zero row beyond their words (never written): a job
# reads it from the memories its segment does not use, so the chunk's word is an OR of the
# three memory outputs and a registered word (one LUT after each block RAM).
# The r_enc memory holds r_enc (written in R) in rows 0 .. 20 and the fallback's r_fb
# encoding (contents) in rows RENC_ROWS .. RENC_ROWS + 20: the weight-check flag is an
# address bit, not a multiplexer in front of the packer.
SK_ROWS, CT_ROWS, RENC_ROWS = 256, 128, 32
assert SK_ROWS > SK_WORDS and CT_ROWS > CT_WORDS and RENC_ROWS > _RENC_WORDS
_RENC_FB_WORDS = words_le(_RENC_FB)
assert len(_RENC_FB_WORDS) == _RENC_WORDS
_RENC_INIT = [0] * RENC_ROWS + _RENC_FB_WORDS + [0] * (RENC_ROWS - _RENC_WORDS)


def _segments():
    rows, starts = [], []
    for name, segs in JOBS.items():
        starts.append(len(rows))
        for n, seg in enumerate(segs):
            kind = seg[0]
            a, b, val = 0, 0, 0
            if kind == "prefix":
                val, a, b = seg[1], 0, 1
            elif kind in ("sk", "ct"):
                a, b = seg[1], seg[2]
            elif kind == "reg":
                val, a, b = seg[1], 0, 32
            else:
                a, b = 0, sn.SMALL_BYTES
            rows.append({"kind": _SEG_KIND[kind], "a": a, "len": b - a, "val": val,
                         "last": int(n == len(segs) - 1)})
    return rows, starts



@contextmanager
def _word_in(m, port, mem_w, j, decoder, to_decoder):
    """Take one word per cycle from the stream ``port`` (the sk or the ciphertext): write it to
    ``mem_w`` at ``j``, hand it to ``decoder`` where ``to_decoder`` holds and advance ``j``;
    the body runs in the cycle a word is taken."""
    m.d.comb += port.ready.eq(1)
    with m.If(port.valid):
        m.d.comb += [mem_w.addr.eq(j), mem_w.data.eq(port.payload.data), mem_w.en.eq(1)]
        m.d.comb += [decoder.i.payload.eq(port.payload.data), decoder.i.valid.eq(to_decoder)]
        m.d.sync += j.eq(j + 1)
        yield

class HashJobs(wiring.Component):
    """Runs one hash of :data:`JOBS` at a time through a packer and the SHA-512 block.

    ``job``/``go`` start a job; chunks are read from the sk and ct word memories (read
    ports handed in), the two digest registers and the r_enc memory; ``busy`` falls when
    the first 32 digest bytes are in ``digest`` (H_0..H_3). Fixed duration per job.
    """

    def __init__(self):
        super().__init__({
            "go": In(1),
            "job": In(range(len(JOBS))),
            "busy": Out(1),
            "digest": Out(data.ArrayLayout(unsigned(64), 4)),
            "sk_addr": Out(range(SK_ROWS)), "sk_data": In(64),
            "ct_addr": Out(range(CT_ROWS)), "ct_data": In(64),
            "renc_addr": Out(range(2 * RENC_ROWS)), "renc_data": In(64), "renc_fb": In(1),
            "h3rho": In(data.ArrayLayout(unsigned(64), 4)),
            "h3r": In(data.ArrayLayout(unsigned(64), 4)),
            "cancel": In(1),
        })

    def elaborate(self, platform):
        m = Module()
        rows, starts = _segments()
        seg_layout = data.StructLayout({"kind": unsigned(3), "a": unsigned(11), "len": unsigned(11),
                                        "val": unsigned(8), "last": unsigned(1)})
        m.submodules.segs = segs = memory.Memory(shape=seg_layout, depth=len(rows), init=rows)
        seg_rd = segs.read_port(domain="comb")
        # an abort drops a job mid-message: the packer restarts with it
        pack = Sha512Packer()
        m.submodules.pack = ResetInserter(self.cancel)(pack)
        m.submodules.sha = sha = Sha512()
        # the padded words reach the SHA-512 block through a register slice: its `ready`
        # (a function of the round counter's flags) and the packer's byte-insert logic, and
        # the packer's `valid` and the round enables, are timed apart (+1 cycle per job)
        slice_ = RegisterSlice(Sha512Word)
        m.submodules.slice = ResetInserter(self.cancel)(slice_)
        wiring.connect(m, pack.o, slice_.i)
        wiring.connect(m, slice_.o, sha.i)

        # Timing: the segment row is registered when a segment starts (Read), a chunk's byte
        # count, offset and end flags are registered in the cycle its word address is
        # presented (Addr), and the chunk reaches the packer through a register slice (the
        # memory word unshifted, its byte offset beside it): no carry chain or memory output
        # of the sequencer is in front of the packer's byte-insert multiplexers.
        seg_ix = Signal(range(len(rows)))
        m.d.comb += seg_rd.addr.eq(seg_ix)
        seg = Signal(seg_layout)             # the current segment's row
        cur = Signal(11)                     # byte cursor within the segment
        left = Signal(11)                    # bytes of the segment from cur on
        word_ix = Signal(8)
        m.d.comb += word_ix.eq(cur >> 3)

        def bswap(x):
            return Cat(*[x[8 * (7 - j):8 * (8 - j)] for j in range(8)])

        reg_word = Signal(64)
        with m.Switch(word_ix[:2]):
            for k in range(4):
                with m.Case(k):
                    m.d.comb += reg_word.eq(bswap(Mux(seg.val[0], self.h3r[k], self.h3rho[k])))
        # the chunk's word: the part from flip-flops and constants registered in Addr, ORed
        # with the three memory outputs (a memory the segment does not read is at its zero row)
        from_regs = Signal(64)
        with m.Switch(seg.kind):
            with m.Case(0):
                m.d.comb += from_regs.eq(seg.val)
            with m.Case(3):
                m.d.comb += from_regs.eq(reg_word)
        sel_sk, sel_ct, sel_renc = Signal(), Signal(), Signal()
        from_q = Signal(64)
        word = Signal(64)
        m.d.comb += [
            self.sk_addr.eq(Mux(sel_sk, word_ix, SK_ROWS - 1)),
            self.ct_addr.eq(Mux(sel_ct, word_ix, CT_ROWS - 1)),
            self.renc_addr.eq(Mux(sel_renc, Cat(word_ix[:5], self.renc_fb), RENC_ROWS - 1)),
            word.eq(from_q | self.sk_data | self.ct_data | self.renc_data),
        ]

        # the next chunk (registered in Addr): bytes cur .. cur + nbytes - 1 of the segment
        avail = Signal(4)
        m.d.comb += avail.eq(8 - cur[:3])
        c_n = Signal(4)
        c_end = Signal()                     # the chunk ends the segment
        c_last = Signal()                    # ... and the message
        c_off = Signal(3)

        # register slice in front of the packer
        s_valid = Signal()
        s_data = Signal(MsgBytes)
        m.d.comb += [pack.i.valid.eq(s_valid), pack.i.payload.eq(s_data)]
        s_free = Signal()
        m.d.comb += s_free.eq(~s_valid | pack.i.ready)
        with m.If(pack.i.ready):
            m.d.sync += s_valid.eq(0)

        with m.FSM(name="jobs"):
            with m.State("Idle"):
                with m.If(self.go & ~self.cancel):
                    with m.Switch(self.job):
                        for k, s0 in enumerate(starts):
                            with m.Case(k):
                                m.d.sync += seg_ix.eq(s0)
                    m.d.sync += cur.eq(0)
                    m.next = "Read"
            with m.State("Read"):                # the segment's row: registered
                m.d.comb += self.busy.eq(1)
                m.d.sync += [seg.eq(seg_rd.data), cur.eq(seg_rd.data.a), left.eq(seg_rd.data.len),
                             sel_sk.eq(seg_rd.data.kind == 1), sel_ct.eq(seg_rd.data.kind == 2),
                             sel_renc.eq(seg_rd.data.kind == 4)]
                m.next = "Addr"
                with m.If(self.cancel):
                    m.next = "Idle"
            with m.State("Addr"):                # memory address presented this cycle
                m.d.comb += self.busy.eq(1)
                with m.If(left <= avail):
                    m.d.sync += [c_n.eq(left), c_end.eq(1), c_last.eq(seg.last)]
                with m.Else():
                    m.d.sync += [c_n.eq(avail), c_end.eq(0), c_last.eq(0)]
                m.d.sync += [c_off.eq(cur[:3]), from_q.eq(from_regs)]
                m.next = "Offer"
                with m.If(self.cancel):
                    m.next = "Idle"
            with m.State("Offer"):
                m.d.comb += self.busy.eq(1)
                with m.If(s_free):
                    m.d.sync += [s_valid.eq(1), s_data.data.eq(word), s_data.nbytes.eq(c_n),
                                 s_data.offset.eq(c_off), s_data.last.eq(c_last)]
                    with m.If(c_end):
                        with m.If(seg.last):
                            m.next = "Digest"
                        with m.Else():
                            m.d.sync += [seg_ix.eq(seg_ix + 1), cur.eq(0)]
                            m.next = "Read"
                    with m.Else():
                        m.d.sync += [cur.eq(cur + c_n), left.eq(left - c_n)]
                        m.next = "Addr"
                with m.If(self.cancel):
                    m.next = "Idle"
            with m.State("Digest"):
                m.d.comb += [self.busy.eq(1), sha.o.ready.eq(1)]
                with m.If(sha.o.valid):
                    m.d.sync += [self.digest[k].eq(sha.o.payload[k]) for k in range(4)]
                    m.next = "Idle"
                with m.If(self.cancel):
                    m.next = "Idle"
        with m.If(self.cancel):
            m.d.sync += s_valid.eq(0)
        m.d.comb += sha.cancel.eq(self.cancel)
        return m


def _bswap(x):
    return Cat(*[x[8 * (7 - j):8 * (8 - j)] for j in range(8)])


class SntrupEngine(wiring.Component):
    """sntrup653 decapsulation engine (KEM engine contract, docs/interfaces.md).

    Members
    -------
    key : ``In(stream.Signature(Word))``
        The 1518-byte sk as 190 little-endian words, ``last`` on the final one.
    key_done, key_ok : ``Out(1)``
        Key processing finished; the sk passed the structural checks (Small fields, pad
        bits, weight of ``f``, ``Hash_4(pk)`` = cache).
    start : ``In(1)``
        A request begins (the ciphertext words follow).
    ct : ``In(stream.Signature(Word))``
        The 897-byte ciphertext as 113 words.
    abort : ``In(1)``
        Drop the request (and any untaken ``k``).
    k : ``Out(stream.Signature(unsigned(256)))``
        ``K = Decaps(sk, ct)``, byte ``i`` in bits ``8i+7 .. 8i``.
    """

    def __init__(self):
        super().__init__(KemEngineSignature)

    def elaborate(self, platform):
        m = Module()

        # ---- blocks ---------------------------------------------------------------------
        m.submodules.array = arr = HornerArray(p=P, registered=True, root=True)
        m.submodules.bank = bank = R3Bank(p=P, registered=True, root=True)
        m.submodules.reducer = red = Reducer()
        dec_r = RadixDecoder(moduli=[sn.ROUNDED_M] * P)
        m.submodules.dec_rounded = ResetInserter(self.abort)(dec_r)
        m.submodules.dec_rq = dec_q = RadixDecoder(moduli=[sn.Q] * P)
        # the sk words come through a buffered FIFO (depth 3: a word per cycle, two cycles
        # later): the key loader's handshake ends in its flip-flops, and the words' valid
        # into the sk memory and the Rq decoder (whose write enables spread over the lane
        # memories) is a register here
        m.submodules.key_fifo = key_fifo = fifo.SyncFIFOBuffered(width=Word.size, depth=3)
        key = stream.Signature(Word).flip().create()
        m.d.comb += [key_fifo.w_data.eq(self.key.payload), key_fifo.w_en.eq(self.key.valid),
                     self.key.ready.eq(key_fifo.w_rdy),
                     key.payload.eq(key_fifo.r_data), key.valid.eq(key_fifo.r_rdy),
                     key_fifo.r_en.eq(key.ready)]
        m.submodules.jobs = jobs = HashJobs()

        # ---- memories -------------------------------------------------------------------
        def mem(name, shape, depth):
            mm = memory.Memory(shape=shape, depth=depth, init=[])
            m.submodules[name] = mm
            return mm

        skm = mem("sk_mem", unsigned(64), SK_ROWS)      # rows from SK_WORDS on stay zero
        ctm = mem("ct_mem", unsigned(64), CT_ROWS)      # (HashJobs reads them), see above
        fm = mem("f_mem", unsigned(2), P)
        vm = mem("v_mem", unsigned(2), P)
        hm = mem("h_mem", signed(13), P)
        cm = mem("c_mem", signed(13), P)
        fbm = mem("hrfb_mem", signed(13), P)
        rencm = memory.Memory(shape=unsigned(64), depth=2 * RENC_ROWS, init=_RENC_INIT)
        m.submodules.renc_mem = rencm

        sk_w, sk_rj, sk_rx = skm.write_port(), skm.read_port(), skm.read_port()
        ct_w, ct_rj, ct_rx = ctm.write_port(), ctm.read_port(), ctm.read_port()
        f_w, f_r = fm.write_port(), fm.read_port()
        v_w, v_r = vm.write_port(), vm.read_port()
        h_w, h_r = hm.write_port(), hm.read_port()
        c_w, c_r = cm.write_port(), cm.read_port()
        fb_w, fb_r = fbm.write_port(), fbm.read_port()
        renc_w, renc_r = rencm.write_port(), rencm.read_port()

        m.d.comb += [sk_rj.addr.eq(jobs.sk_addr), jobs.sk_data.eq(sk_rj.data),
                     ct_rj.addr.eq(jobs.ct_addr), jobs.ct_data.eq(ct_rj.data),
                     renc_r.addr.eq(jobs.renc_addr), jobs.renc_data.eq(renc_r.data)]

        # ---- registers ------------------------------------------------------------------
        digest4 = data.ArrayLayout(unsigned(64), 4)
        h3rho = Signal(digest4)
        h3r = Signal(digest4)
        conf = Signal(digest4)
        k0 = Signal(digest4)
        k1 = Signal(digest4)
        m.d.comb += [jobs.h3rho.eq(h3rho), jobs.h3r.eq(h3r)]

        key_done = Signal()
        bad_small = Signal()                  # a Small field is 3, or a pad bit is set
        f_weight = Signal(range(P + 1))
        cache_diff = Signal()
        m.d.comb += [self.key_done.eq(key_done),
                     self.key_ok.eq(~bad_small & (f_weight == sn.W) & ~cache_diff)]

        j = Signal(range(2 * 656 + 8))        # phase counter
        jr = Signal(range(P + 1))             # index of the next reducer output (descending)
        weight = Signal(range(P + 1))
        fallback = Signal()                   # r fails the weight check: r = r_fb
        diff = Signal()                       # Round(h r) != c somewhere
        conf_diff = Signal()
        rword = Signal(64)                    # r_enc word being assembled
        pending_start = Signal()
        k_valid = Signal()                    # K is offered: high exactly in Out, a register
        m.d.comb += self.k.valid.eq(k_valid)

        # defaults
        drain_out = Signal()                  # a drain whose coefficient goes to the reducer
        m.d.comb += [arr.op.eq(HornerOp.IDLE), bank.op.eq(HornerOp.IDLE), drain_out.eq(0)]
        # the array applies an operation two edges after it is presented (registered, with
        # its central register), so the coefficient a drain removes is on `o_coeff` two
        # cycles after the request
        drain_out1 = Signal()
        m.d.sync += [drain_out1.eq(drain_out), red.i_valid.eq(drain_out1)]

        # ---- reducer outputs (shared by the drains) -------------------------------------
        red_mode = Signal(ReduceMode)
        m.d.comb += red.i.mode.eq(red_mode)
        m.d.comb += red.i.x.eq(arr.o_coeff)

        # chain load from a code memory: address j (descending) now, shift next cycle
        chain_ld = Signal()
        m.d.sync += chain_ld.eq(0)
        with m.If(chain_ld):
            m.d.comb += [arr.s_load.eq(1), arr.s_in.eq(f_r.data)]
        # v into the R/3 bank (key load) the same way
        bank_ld = Signal()
        m.d.sync += bank_ld.eq(0)
        with m.If(bank_ld):
            m.d.comb += [bank.s_load.eq(1), bank.s_in.eq(v_r.data)]

        # STEP two cycles after the operand's address is presented: the memory's output is
        # registered before it is broadcast to the 653 lanes
        step_v = Signal()
        step_h = Signal()
        h_q = Signal(signed(13))
        m.d.sync += [step_v.eq(0), step_h.eq(step_v), h_q.eq(h_r.data)]
        with m.If(step_h):
            m.d.comb += arr.op.eq(HornerOp.STEP)
            m.d.comb += arr.a.eq(h_q)
        # c·f: each decoded coefficient (as an Rq value) is registered, then broadcast
        step_c = Signal()
        c_q = Signal(signed(13))
        m.d.sync += step_c.eq(0)
        with m.If(step_c):
            m.d.comb += arr.op.eq(HornerOp.STEP)
            m.d.comb += arr.a.eq(c_q)

        m.d.comb += [f_r.addr.eq(j), v_r.addr.eq(j), h_r.addr.eq(j)]

        red_out = red.o_coeff
        # one-cycle delayed reducer output, aligned with c / hr_fb reads at jr
        cmp_v = Signal()
        cmp_val = Signal(signed(13))
        m.d.sync += [cmp_v.eq(0)]
        m.d.comb += [c_r.addr.eq(jr), fb_r.addr.eq(jr)]

        # ---- unpacking pipeline (key load) ----------------------------------------------
        up_v = Signal()
        up_i = Signal(range(656))
        up_region = Signal()
        u_i = Signal(range(656))              # Unpack: code index within the region
        u_reg = Signal()                      # ... region (0: f, 1: v)
        u_off = Signal(range(sn.SK_V + 165))  # ... sk byte offset of the code
        m.d.sync += up_v.eq(0)

        # byte compare pipeline (cache, confirm)
        bc_v = Signal()
        bc_k = Signal(range(32))
        m.d.sync += bc_v.eq(0)

        # job completion: busy falls after the digest is taken
        jstarted = Signal()
        complete = Signal()
        # a job's start and a cancel reach HashJobs through registers (go_now / job_now
        # decided here a cycle ahead): the phase FSM's decode and the ciphertext handshake
        # end in flip-flops instead of running on into the job sequencer and the packer's
        # resets. jstarted follows the registered go, so `complete` keeps its meaning.
        go_now = Signal()
        job_now = Signal(range(len(JOBS)))
        m.d.sync += [jobs.go.eq(go_now), jobs.job.eq(job_now)]
        m.d.sync += jstarted.eq(jobs.go | (jstarted & jobs.busy))
        m.d.comb += complete.eq(jstarted & ~jobs.busy)
        jseq = Signal(range(6))               # 1 K_0, 2 Hash_3(r), 3 confirm, 4 K_1, 5 done
        bc_src = Signal()                     # 0 cache (sk bytes), 1 confirm (ct bytes)
        up_sel = Signal(3)
        bc_sel = Signal(3)

        in_request = Signal()                 # a decapsulation is in progress
        m.d.comb += in_request.eq(0)

        def abortable(*, lanes_clean=False):
            """End of a decapsulation state: ``abort`` drops the request."""
            m.d.comb += in_request.eq(1)
            with m.If(self.abort):
                if lanes_clean:
                    m.next = "Idle"              # the lanes hold f (Idle zeroes the sums)
                else:
                    m.d.sync += [j.eq(P - 1), jseq.eq(0), step_v.eq(0), step_h.eq(0),
                                 pending_start.eq(0)]
                    m.next = "Abort"

        @contextmanager
        def drain_through_reducer():
            """One cycle of a drain: the array's coefficients, top first, into the reducer
            (``j`` counts down, two cycles ahead of the first); the body runs in each cycle a
            reduced coefficient comes out."""
            with m.If(j < P):
                m.d.comb += [arr.op.eq(HornerOp.DRAIN), drain_out.eq(1)]
                m.d.sync += chain_ld.eq(1)
            m.d.sync += j.eq(j - 1)
            with m.If(red.o_valid):
                yield

        def byte_compare(port, base, *, src):
            """One step of a 32-byte compare (the cache at key load, HashConfirm per request):
            read byte ``base + j`` through ``port`` for the compare stage below; true on the
            step after the last byte."""
            off = base + j
            m.d.comb += port.addr.eq(off >> 3)
            m.d.sync += [bc_v.eq(j < 32), bc_k.eq(j), bc_sel.eq(off[:3]), bc_src.eq(src),
                         j.eq(j + 1)]
            return j == 33

        phase_id = Signal(5)                  # the current phase (for benches)
        self._phase = phase_id
        with m.FSM(name="phase"):
            # ---------------------------------------------------------------- key load
            with m.State("Idle"):
                m.d.comb += phase_id.eq(0)
                # accumulators at zero whenever idle: a request cancelled during `c·f`
                # (the lanes still hold f) returns here at once
                m.d.comb += [arr.op.eq(HornerOp.CLEAR), bank.op.eq(HornerOp.CLEAR)]
                m.d.comb += key.ready.eq(1)
                with m.If(key.valid):
                    m.d.sync += [key_done.eq(0), j.eq(1)]
                    m.d.comb += [sk_w.addr.eq(0), sk_w.data.eq(key.payload.data), sk_w.en.eq(1)]
                    m.next = "Sk"
                with m.Elif(self.start | pending_start):
                    m.d.sync += [j.eq(0), pending_start.eq(0)]
                    m.next = "Ct"
            with m.State("Sk"):
                m.d.comb += phase_id.eq(1)
                with _word_in(m, key, sk_w, j, dec_q,
                              (j >= sn.SK_PK // 8) & (j < sn.SK_PK // 8 + dec_q.nwords)):
                    with m.If(j == SK_WORDS - 1):
                        m.d.sync += [j.eq(P - 1)]
                        m.next = "H"
            # the pk words (41 .. 165) also go to the Rq decoder as they arrive
            with m.State("H"):
                m.d.comb += phase_id.eq(2)
                with m.If(dec_q.o_valid):
                    m.d.comb += [h_w.addr.eq(j), h_w.data.eq(dec_q.o_coeff - sn.Q12), h_w.en.eq(1)]
                    m.d.sync += j.eq(j - 1)
                with m.If(dec_q.done):
                    m.d.sync += [j.eq(0), bad_small.eq(0), f_weight.eq(0),
                                 u_i.eq(0), u_reg.eq(0), u_off.eq(sn.SK_F)]
                    m.next = "Unpack"
            with m.State("Unpack"):
                m.d.comb += phase_id.eq(3)
                # j = 0 .. 1311: f codes (region 0) then v codes (region 1), 656 each. The
                # code index, region and sk byte offset are counters of their own (u_i,
                # u_reg, u_off), so the sk address comes from a register, not from an
                # adder on j
                m.d.comb += sk_rx.addr.eq(u_off >> 3)
                m.d.sync += [up_v.eq(j < 2 * 656), up_i.eq(u_i), up_region.eq(u_reg),
                             up_sel.eq(u_off[:3]), j.eq(j + 1)]
                with m.If(u_i == 655):
                    m.d.sync += [u_i.eq(0), u_reg.eq(1), u_off.eq(sn.SK_V)]
                with m.Else():
                    m.d.sync += u_i.eq(u_i + 1)
                    with m.If(u_i[:2] == 3):
                        m.d.sync += u_off.eq(u_off + 1)
                with m.If(j == 2 * 656):
                    m.d.sync += j.eq(0)
                    m.d.comb += [go_now.eq(1), job_now.eq(JOB_IDS["h4pk"])]
                    m.next = "JobH4"
            with m.State("JobH4"):
                m.d.comb += phase_id.eq(4)
                with m.If(complete):
                    # Hash_4(pk) into the register the byte compare reads (HashConfirm's,
                    # free until the first request): one source for both compares
                    m.d.sync += [j.eq(0), cache_diff.eq(0), conf.eq(jobs.digest)]
                    m.next = "Cache"
            with m.State("Cache"):
                m.d.comb += phase_id.eq(5)
                # compare sk bytes SK_CACHE + j with Hash_4(pk) byte j (in `conf`)
                with m.If(byte_compare(sk_rx, sn.SK_CACHE, src=0)):
                    m.d.comb += [go_now.eq(1), job_now.eq(JOB_IDS["h3rho"])]
                    m.next = "JobH3rho"
            with m.State("JobH3rho"):
                m.d.comb += phase_id.eq(6)
                with m.If(complete):
                    m.d.sync += [h3rho.eq(jobs.digest), j.eq(P - 1)]
                    m.next = "FbLoad"
            with m.State("FbLoad"):
                m.d.comb += phase_id.eq(7)
                # r_fb into the lanes, top coefficient first: code 2 (s = 1) below w; v
                # (read at j) into the R/3 bank, where it stays
                m.d.comb += [arr.s_load.eq(1), arr.s_in.eq(Mux(j < sn.W, 2, 1))]
                m.d.sync += [bank_ld.eq(1), j.eq(j - 1)]
                with m.If(j == 0):
                    m.d.sync += j.eq(P - 1)
                    m.next = "FbStep"
            with m.State("FbStep"):
                m.d.comb += phase_id.eq(8)
                m.d.sync += [step_v.eq(1), j.eq(j - 1)]
                with m.If(j == 0):
                    # two cycles before the first drain: the last step is still under way
                    m.d.sync += [j.eq(P + 1), jr.eq(P - 1), red_mode.eq(ReduceMode.ROUND)]
                    m.next = "FbDrain"
            with m.State("FbDrain"):
                m.d.comb += phase_id.eq(9)
                with drain_through_reducer():
                    m.d.comb += [fb_w.addr.eq(jr), fb_w.data.eq(red_out), fb_w.en.eq(1)]
                    m.d.sync += jr.eq(jr - 1)
                    with m.If(jr == 0):
                        m.d.sync += key_done.eq(1)
                        m.next = "Idle"

            # ---------------------------------------------------------------- decapsulation
            with m.State("Ct"):
                m.d.comb += phase_id.eq(10)
                with _word_in(m, self.ct, ct_w, j, dec_r, j < dec_r.nwords):
                    with m.If(j == CT_WORDS - 1):
                        m.d.sync += [j.eq(P - 1), diff.eq(0), conf_diff.eq(0), weight.eq(0),
                                     jseq.eq(1)]
                        m.d.comb += [go_now.eq(1), job_now.eq(JOB_IDS["k0"])]
                        m.next = "Cf"
                abortable(lanes_clean=True)
            with m.State("Cf"):
                m.d.comb += phase_id.eq(11)
                with m.If(dec_r.o_valid):
                    cval = Signal(signed(13))
                    # 3·c as c + 2c (carry cells; a constant product maps to a DSP,
                    # ~4 ns in front of the carry chain)
                    m.d.comb += cval.eq(dec_r.o_coeff + (dec_r.o_coeff << 1) - sn.Q12)
                    m.d.comb += [c_w.addr.eq(j), c_w.data.eq(cval), c_w.en.eq(1)]
                    # the step follows next cycle (the last one in the cycle `done` is seen)
                    m.d.sync += [step_c.eq(~self.abort), c_q.eq(cval), j.eq(j - 1)]
                with m.If(dec_r.done):
                    m.d.sync += [j.eq(P - 1), jr.eq(P - 1), red_mode.eq(ReduceMode.E)]
                    m.next = "E"
                abortable(lanes_clean=True)     # f still in the lanes; Idle clears the sums
            with m.State("E"):
                m.d.comb += phase_id.eq(12)
                # the c·f drain; each e_j (top first: the Horner order) is a step of e·v
                with m.If(j < P):
                    m.d.comb += [arr.op.eq(HornerOp.DRAIN), drain_out.eq(1)]
                m.d.sync += j.eq(j - 1)
                with m.If(red.o_valid):
                    m.d.comb += [bank.op.eq(HornerOp.STEP), bank.e.eq(red_out)]
                    m.d.sync += jr.eq(jr - 1)
                    with m.If(jr == 0):
                        m.d.sync += [jr.eq(P - 1), rword.eq(0), j.eq(P - 1 + bank.delay)]
                        m.next = "R"
                abortable(lanes_clean=True)     # f still in the lanes
            with m.State("R"):
                m.d.comb += phase_id.eq(14)
                # the bank drains e·v top first: r_j (already in -1..1). A drain presented
                # now applies `bank.delay` edges later (its central register and copies), so
                # the p drains go out while j >= delay and r_j is read while j < p.
                with m.If(j >= bank.delay):
                    m.d.comb += bank.op.eq(HornerOp.DRAIN)
                m.d.sync += j.eq(j - 1)
                code = Signal(2)
                m.d.comb += code.eq(bank.o_coeff + 1)
                with m.If(j < P):
                    m.d.comb += [arr.s_load.eq(1), arr.s_in.eq(code)]
                    m.d.sync += weight.eq(weight + (code != 1))
                    # r_enc word jr >> 5 holds code j at bits 2(j mod 32): codes arrive top
                    # first, so each shifts the word up by one field (after the 32 of a word
                    # nothing of the previous one is left; the first, short word starts at 0)
                    word_now = Signal(64)
                    m.d.comb += word_now.eq(Cat(code, rword[:62]))
                    m.d.sync += rword.eq(word_now)
                    with m.If(jr[:5] == 0):
                        m.d.comb += [renc_w.addr.eq(jr >> 5), renc_w.data.eq(word_now),
                                     renc_w.en.eq(1)]
                    m.d.sync += jr.eq(jr - 1)
                    with m.If(jr == 0):
                        m.d.sync += j.eq(P - 1)
                        m.next = "Hr"
                abortable(lanes_clean=False)
            with m.State("Hr"):
                m.d.comb += phase_id.eq(15)
                m.d.sync += [step_v.eq(1), j.eq(j - 1)]
                # r's weight is final (the last code counted as R ended): the flag is set at
                # the end of Hr's first cycle, before the Hash_3(r_enc) job reads it in its
                # Addr state (two cycles after its start) and long before Cmp
                m.d.sync += fallback.eq(weight != sn.W)
                with m.If(jseq == 0):
                    m.d.comb += [go_now.eq(1), job_now.eq(JOB_IDS["h3r"])]
                    m.d.sync += jseq.eq(2)
                with m.If(j == 0):
                    # two cycles before the first drain: the last step is still under way
                    m.d.sync += [j.eq(P + 1), jr.eq(P - 1), red_mode.eq(ReduceMode.ROUND)]
                    m.next = "Cmp"
                abortable(lanes_clean=False)
            with m.State("Cmp"):
                m.d.comb += phase_id.eq(16)
                with drain_through_reducer():
                    m.d.sync += [cmp_v.eq(1), cmp_val.eq(red_out), jr.eq(jr - 1)]
                    with m.If(jr == 0):
                        m.next = "Wait"
                abortable(lanes_clean=False)
            with m.State("Wait"):
                m.d.comb += phase_id.eq(17)
                with m.If(jseq == 5):
                    m.d.sync += j.eq(0)
                    m.next = "Conf"
                abortable(lanes_clean=False)
            with m.State("Conf"):
                m.d.comb += phase_id.eq(18)
                # compare ct bytes ROUNDED_BYTES + j with HashConfirm byte j
                with m.If(byte_compare(ct_rx, sn.ROUNDED_BYTES, src=1)):
                    m.d.sync += k_valid.eq(~self.abort)
                    m.next = "Out"
                abortable(lanes_clean=False)
            with m.State("Out"):
                m.d.comb += phase_id.eq(19)
                m.d.sync += k_valid.eq(~self.k.ready & ~self.abort)
                with m.If(self.k.ready):
                    m.next = "Idle"
                abortable(lanes_clean=True)
            with m.State("Abort"):
                m.d.comb += phase_id.eq(20)
                # zero the accumulators and put f back into the lanes, then idle
                with m.If(j < P):
                    m.d.comb += arr.op.eq(HornerOp.DRAIN)
                    m.d.sync += chain_ld.eq(1)
                m.d.sync += j.eq(j - 1)
                with m.If(j == 0):
                    m.next = "Idle"
                with m.If(self.start):
                    m.d.sync += pending_start.eq(1)

        m.d.sync += jobs.cancel.eq(self.abort & in_request)

        # ---- consumers of the one-cycle memory reads --------------------------------------
        # Timing: each block RAM's output goes straight into flip-flops (`sk_q`, `ct_q`), and a
        # Small code is selected into a register before it is checked and counted, so no
        # memory output and no byte select is in front of a compare or the weight counter.
        # The steps run two (codes) or one (compares) cycles behind the reads; every result
        # is in place before it is used (the key's checks at key_done, conf_diff in Out).
        sk_q = Signal(64)
        ct_q = Signal(64)
        m.d.sync += [sk_q.eq(sk_rx.data), ct_q.eq(ct_rx.data)]

        up1_v, up1_region, up1_sel = Signal(), Signal(), Signal(3)
        up1_i = Signal(range(656))
        m.d.sync += [up1_v.eq(up_v), up1_i.eq(up_i), up1_region.eq(up_region), up1_sel.eq(up_sel)]
        up2_v, up2_region = Signal(), Signal()
        up2_i = Signal(range(656))
        code = Signal(2, name="up_code")
        m.d.sync += [up2_v.eq(up1_v), up2_i.eq(up1_i), up2_region.eq(up1_region),
                     code.eq(sk_q.word_select(up1_sel, 8).word_select(up1_i[:2], 2))]
        with m.If(up2_v):                       # a Small code of f (region 0) or v
            with m.If(up2_i < P):
                m.d.comb += [f_w.addr.eq(up2_i), f_w.data.eq(code), f_w.en.eq(~up2_region),
                             v_w.addr.eq(up2_i), v_w.data.eq(code), v_w.en.eq(up2_region)]
                with m.If(code == 3):
                    m.d.sync += bad_small.eq(1)
                with m.If(~up2_region & (code != 1)):
                    m.d.sync += f_weight.eq(f_weight + 1)
            with m.Elif(code != 0):              # pad bits of the final byte
                m.d.sync += bad_small.eq(1)

        bc1_v, bc1_src = Signal(), Signal()
        bc1_k = Signal(range(32))
        bc1_sel = Signal(3)
        m.d.sync += [bc1_v.eq(bc_v), bc1_k.eq(bc_k), bc1_sel.eq(bc_sel), bc1_src.eq(bc_src)]
        # the expected byte is selected from the `conf` register (Hash_4(pk) at key load,
        # HashConfirm per request) while the memory is read, into a register beside sk_q /
        # ct_q (both stay put meanwhile)
        want = Signal(8)
        hword = Signal(64)
        m.d.comb += hword.eq(conf.as_value().word_select(bc_k[3:], 64))
        m.d.sync += want.eq(_bswap(hword).word_select(bc_k[:3], 8))
        with m.If(bc1_v):                       # byte compare: sk cache or ct confirm
            got = Signal(8)
            m.d.comb += got.eq(Mux(bc1_src, ct_q, sk_q).word_select(bc1_sel, 8))
            with m.If(got != want):
                with m.If(bc1_src):
                    m.d.sync += conf_diff.eq(1)
                with m.Else():
                    m.d.sync += cache_diff.eq(1)

        # Round(h r) (or the fallback) against c: both memory outputs registered first
        cmp1_v = Signal()
        mine = Signal(signed(13))
        theirs = Signal(signed(13))
        m.d.sync += [cmp1_v.eq(cmp_v), mine.eq(Mux(fallback, fb_r.data, cmp_val)),
                     theirs.eq(c_r.data)]
        with m.If(cmp1_v & (mine != theirs)):
            m.d.sync += diff.eq(1)

        # ---- hash jobs of the decapsulation -------------------------------------------------
        with m.If(complete):
            with m.Switch(jseq):
                with m.Case(1):
                    m.d.sync += [k0.eq(jobs.digest), jseq.eq(0)]
                with m.Case(2):
                    m.d.sync += [h3r.eq(jobs.digest), jseq.eq(3)]
                    m.d.comb += [go_now.eq(1), job_now.eq(JOB_IDS["confirm"])]
                with m.Case(3):
                    m.d.sync += [conf.eq(jobs.digest), jseq.eq(4)]
                    m.d.comb += [go_now.eq(1), job_now.eq(JOB_IDS["k1"])]
                with m.Case(4):
                    m.d.sync += [k1.eq(jobs.digest), jseq.eq(5)]
        m.d.comb += jobs.renc_fb.eq(fallback)

        # ---- K = ok ? K_1 : K_0 ---------------------------------------------------------------
        ok = Signal()
        m.d.comb += ok.eq(dec_r.canonical & ~diff & ~conf_diff)
        chosen = Signal(digest4)
        m.d.comb += chosen.eq(Mux(ok, k1, k0))
        m.d.comb += self.k.payload.eq(Cat(*[_bswap(chosen[w]) for w in range(4)]))
        return m
