"""SHA-512 compression engine (FIPS 180-4 §6.4), one round per clock.

The client streams the **padded** message (FIPS 180-4 §5.1.2: the caller knows its
message length, so padding is a constant tail it appends) as 64-bit words, sixteen per
1024-bit block, big-endian as FIPS 180-4 defines them (:func:`golden.sha512.blocks`), and
marks the final word of the final block with ``last``. The engine returns the eight words
of the hash value ``H``. Round constants ``K_t`` come from :data:`golden.sha512.K` in a
ROM with a synchronous read port (one cycle latency, so yosys maps it to block RAM),
read two rounds ahead into a register.

Datapath (one clock per round; the e unit runs round s while the a unit runs round s - 1)::

    i.payload ──► W window (16 × 64, shift) ──► W_{t+2} = σ1(W_t) + q
                         │ W_{t+1}      q = W_{t-5}+σ0(W_{t-13})+W_{t-14} (a register, a shift ahead)
    K ROM (sync) ─ K_{t+1} ─► p' = g + K_{t+1} + W_{t+1},  dp' = d' + p'   (next round's)
    e unit: e..h, p, dp ──► Σ1(e), Ch(e,f,g) ──► e' = dp + Σ1 + Ch,  T1 = p + Σ1 + Ch (register)
    a unit: a..d, T1     ──► Σ0(a), Maj(a,b,c) ──► a' = T1 + Σ0 + Maj           (one round later)

Each loop is one carry-save (3:2) level and one carry chain: the precomputed ``p``,
``dp`` and ``dh = d + h`` keep ``h + K + W`` and ``d`` out of the e unit's loop, and the registered ``T1``
keeps the e unit's logic out of the a unit's. Words 0 and 1 of a block are taken before
its first round (while the previous block runs its rounds 78 and 79), words 2..15 during
rounds 0..13, one per round; a round waits while its word is not offered. After the a
unit's round 79, one cycle adds the state into ``H`` (feed-forward) and loads the next
block, so a long message costs 82 cycles per block.
"""

from amaranth.hdl import Module, Signal, Const, Mux, Cat, signed, unsigned
from amaranth.lib import data, memory, stream, wiring
from amaranth.lib.wiring import In, Out

from golden.sha512 import K, IV, ROUNDS
from hdl.target import register_copy


__all__ = ["Sha512Word", "Sha512State", "Sha512", "MsgBytes", "Sha512Packer", "add_mod64"]


#: One message word: ``data`` is FIPS 180-4 word ``M_j`` (big-endian bytes); ``last`` marks
#: word 15 of the message's final block.
Sha512Word = data.StructLayout({"data": unsigned(64), "last": unsigned(1)})

#: Eight 64-bit words: the working variables ``a .. h`` or a hash value ``H_0 .. H_7``.
Sha512State = data.ArrayLayout(unsigned(64), 8)

_MASK = (1 << 64) - 1


def _csa(m, x, y, z, *, name):
    """3:2 carry-save compression: ``x + y + z == s + c (mod 2^64)``."""
    s = Signal(64, name=f"{name}_s")
    c = Signal(64, name=f"{name}_c")
    m.d.comb += s.eq(x ^ y ^ z)
    m.d.comb += c.eq(Cat(Const(0, 1), ((x & y) | (x & z) | (y & z))[:63]))
    return s, c


def add_mod64(m, operands, *, name, carry_select=False):
    """Sum of ``operands`` modulo ``2^64`` through a carry-save tree and one adder.

    With ``carry_select`` the final adder is two 32-bit carry chains: the upper half is
    computed for both carries out of the lower half and selected (a shorter critical path
    for about 32 more LUT4).
    """
    ops = list(operands)
    level = 0
    while len(ops) > 2:
        nxt = []
        for j in range(0, len(ops) - 2, 3):
            nxt.extend(_csa(m, ops[j], ops[j + 1], ops[j + 2], name=f"{name}_l{level}_{j // 3}"))
        nxt.extend(ops[len(ops) - len(ops) % 3:])
        ops = nxt
        level += 1
    total = Signal(64, name=name)
    if len(ops) == 1:
        m.d.comb += total.eq(ops[0])
    elif not carry_select:
        m.d.comb += total.eq((ops[0] + ops[1])[:64])
    else:
        x, y = ops
        lo = Signal(33, name=f"{name}_lo")
        hi0 = Signal(32, name=f"{name}_hi0")
        hi1 = Signal(32, name=f"{name}_hi1")
        m.d.comb += [lo.eq(x[:32] + y[:32]), hi0.eq(x[32:] + y[32:]), hi1.eq(x[32:] + y[32:] + 1)]
        m.d.comb += total.eq(Cat(lo[:32], Mux(lo[32], hi1, hi0)))
    return total


def _rotr(x, n):
    return x.rotate_right(n)


class Sha512(wiring.Component):
    """SHA-512 compression engine, one round per clock (FIPS 180-4 §6.4).

    A message is its padded word sequence on ``i``; the hash value ``H`` of the final block
    appears on ``o`` ``ROUNDS - 14 + 3 = 69`` cycles after its last word is accepted, and is
    held until taken. The next message is accepted once ``o`` has been taken. Words are
    taken at up to one per cycle; a long message costs 82 cycles per 1024-bit block.

    Members
    -------
    i : ``In(stream.Signature(Sha512Word))``
        Padded message words, sixteen per block; ``last`` on word 15 of the final block
        (``last`` on any other word is ignored).
    o : ``Out(stream.Signature(Sha512State))``
        Hash value ``H_0 .. H_7`` (the digest is these words big-endian).
    cancel : ``In(1)``
        Drop the message in progress and any untaken hash value; idle from the next cycle.
    state : ``Out(Sha512State)``
        Debug: working variables ``a .. h``; while ``running``, equal to
        ``golden.sha512.compress_trace(H, M)[round]``.
    round : ``Out(range(81))``
        Debug: rounds applied to ``state`` in the current block.
    running : ``Out(1)``
        Debug: a block is in its rounds (``round`` counts 0..79).
    """

    i: In(stream.Signature(Sha512Word))
    o: Out(stream.Signature(Sha512State))
    cancel: In(1)
    state: Out(Sha512State)
    round: Out(range(ROUNDS + 1))
    running: Out(1)

    #: Cycles from the accepting cycle of a message's ``last`` word to ``o.valid``.
    LAST_TO_DIGEST = ROUNDS - 14 + 3
    #: Cycles per 1024-bit block of a long message, words offered every cycle.
    CYCLES_PER_BLOCK = ROUNDS + 2

    def elaborate(self, platform):
        m = Module()

        # The round is split in two units that run one round apart. The e unit (e, f, g, h and
        # T1) computes round s: e_{s+1} = (d + p) + Σ1(e) + Ch(e, f, g) and the register
        # T1_s = p + Σ1(e) + Ch(e, f, g). The a unit runs round s one cycle later from T1_s:
        # a_{s+1} = T1_s + Σ0(a) + Maj(a, b, c). Each loop is then one carry-save level and
        # one adder; d + p and h + K + W are precomputed a round ahead.
        A = [Signal(64, name=f"a{k}") for k in range(4)]   # a, b, c, d of the a unit's round
        E = [Signal(64, name=f"e{k}") for k in range(5)]   # e_s, e_{s-1}, .. of the e unit
        T1 = Signal(64)                     # T1 of the round the a unit runs next
        H = Signal(Sha512State)             # hash value of the blocks done
        w = [Signal(64, name=f"w{k}") for k in range(16)]   # w[15] = W_{t+1}, w[k] = W_{t-14+k}
        p = Signal(64)                      # h + K_t + W_t of the e unit's round
        dp = Signal(64)                     # d + p of the e unit's round
        dh = Signal(64)                     # d + h of the e unit's next round
        t = Signal(range(ROUNDS + 1))       # rounds done by the e unit in the block
        nw = Signal(range(3))               # words 0/1 of the next block already taken
        first = Signal(init=1)              # the next block starts a message (IV)
        is_last = Signal()                  # the running block is the message's final one
        running = Signal()                  # the e unit is in its rounds
        a_adv = Signal()                    # the a unit runs a round this cycle
        final = Signal()                    # feed-forward cycle of the final block
        out_valid = Signal()

        # the working variables: after a block's rounds (both units done), and as the
        # debug port sees them during the rounds (the e unit one round ahead when a_adv)
        st_end = [A[0], A[1], A[2], A[3], E[0], E[1], E[2], E[3]]
        st_dbg = Signal(Sha512State)
        m.d.comb += [st_dbg[k].eq(A[k]) for k in range(4)]
        m.d.comb += [st_dbg[4 + k].eq(Mux(a_adv, E[k + 1], E[k])) for k in range(4)]
        m.d.comb += [
            self.state.eq(st_dbg), self.round.eq(t - a_adv), self.running.eq(running | a_adv),
            self.o.valid.eq(out_valid), self.o.payload.eq(H),
        ]

        # --- round counter compares, each a flip-flop: written with t (0 at a feed, t + 1 at
        # a round) from the value t takes, so no compare sits in front of the round enable
        # (which reaches every state bit)
        tf = {}
        conds = {"lt14": lambda x: x < 14, "is13": lambda x: x == 13,
                 "ge_r3": lambda x: x >= ROUNDS - 3, "ge_r2": lambda x: x >= ROUNDS - 2,
                 "lt_r1": lambda x: x < ROUNDS - 1, "is_r1": lambda x: x == ROUNDS - 1}
        t_inc = Signal(range(ROUNDS + 2))
        m.d.comb += t_inc.eq(t + 1)
        for name, cond in conds.items():
            tf[name] = Signal(name=f"t_{name}", init=int(cond(0)))

        # --- input side -----------------------------------------------------------------
        idle = ~running & ~a_adv & ~final & ~out_valid
        pre_window = idle | (running & tf["ge_r2"] & ~is_last)         # words 0, 1 of a block
        take_pre = pre_window & (nw < 2)
        take_round = running & tf["lt14"]                              # words 2..15
        m.d.comb += self.i.ready.eq(take_pre | take_round)
        accept = Signal()
        m.d.comb += accept.eq(self.i.valid & self.i.ready)
        advance = Signal()                  # the e unit runs a round this cycle
        m.d.comb += advance.eq(running & (~tf["lt14"] | self.i.valid))
        feed = Signal()                     # load a block: state, H <- IV or H + state
        m.d.comb += feed.eq(idle & (nw == 2))

        # --- round constants: ROM (synchronous read) then a register, so the block RAM's
        # clock-to-output time is not in front of an adder. During round t, k_next = K_{t+1}
        # (a register) and the ROM output holds K_{t+2}; K_0 of a feed is a constant.
        m.submodules.k_rom = k_rom = memory.Memory(shape=unsigned(64), depth=ROUNDS, init=K)
        k_rd = k_rom.read_port()
        k_next = Signal(64)
        with m.If(feed):
            m.d.comb += k_rd.addr.eq(2)
        with m.Elif(running & tf["lt_r1"]):
            m.d.comb += k_rd.addr.eq(Mux(advance, Mux(tf["ge_r3"], ROUNDS - 1, t + 3), t + 2))
        with m.Else():
            m.d.comb += k_rd.addr.eq(1)                  # K_1 for the feed that follows
        with m.If(feed | advance):
            m.d.sync += k_next.eq(k_rd.data)

        # --- message schedule ------------------------------------------------------------
        sigma1 = Signal(64)
        # σ0(x) = ROTR1 ^ ROTR8 ^ SHR7;  σ1(x) = ROTR19 ^ ROTR61 ^ SHR6
        m.d.comb += sigma1.eq(_rotr(w[14], 19) ^ _rotr(w[14], 61) ^ (w[14] >> 6))
        # W_{t+2} = σ1(w[14]) + (w[9] + σ0(w[1]) + w[0]): the part in brackets is summed a
        # shift ahead (from w[10], w[2], w[1], which the shift moves to w[9], w[1], w[0]) into
        # the register wq, so the shift-in path is one XOR and one carry chain. wq follows the
        # window: both change only on a shift (and are zero together after reset).
        wq = Signal(64)
        sigma0_next = Signal(64)
        m.d.comb += sigma0_next.eq(_rotr(w[2], 1) ^ _rotr(w[2], 8) ^ (w[2] >> 7))
        wq_next = add_mod64(m, [w[10], sigma0_next, w[1]], name="wq_next")
        w_new = Signal(64)                                                  # W_{t+2}
        m.d.comb += w_new.eq((sigma1 + wq)[:64])
        shift_in = Signal(64)
        shift = Signal()
        m.d.comb += shift_in.eq(Mux(running & ~tf["lt14"] & ~tf["ge_r2"], w_new, self.i.payload.data))
        m.d.comb += shift.eq(Mux(running & ~tf["ge_r2"], advance, accept))
        with m.If(shift):
            m.d.sync += [w[k].eq(w[k + 1]) for k in range(15)]
            m.d.sync += [w[15].eq(shift_in), wq.eq(wq_next)]

        # --- e unit: round s = t ---------------------------------------------------------
        big_s1 = Signal(64)
        ch = Signal(64)
        m.d.comb += [
            big_s1.eq(_rotr(E[0], 14) ^ _rotr(E[0], 18) ^ _rotr(E[0], 41)),   # Σ1(e)
            ch.eq((E[0] & E[1]) ^ (~E[0] & E[2])),                              # Ch(e, f, g)
        ]
        e_new = add_mod64(m, [dp, big_s1, ch], name="e_new")         # d + T1
        t1_new = add_mod64(m, [p, big_s1, ch], name="t1_new")        # T1 = p + Σ1 + Ch
        # next round: h_{s+1} = g_s = E[2]; dh = d_{s+1} + h_{s+1} is a register, updated a
        # round ahead: d_{s+2} = a_{s-1}, which is a while the a unit still runs round s - 1
        # (a_adv) and b once it has caught up (the e unit waited for a word)
        p_new = add_mod64(m, [E[2], k_next, w[15]], name="p_new")             # p_{s+1}
        dp_new = add_mod64(m, [dh, k_next, w[15]], name="dp_new")             # d_{s+1} + p_{s+1}
        dh_new = Signal(64)
        m.d.comb += dh_new.eq((Mux(a_adv, A[0], A[1]) + E[1])[:64])          # d_{s+2} + h_{s+2}

        # --- a unit: round s, one cycle after the e unit ---------------------------------
        big_s0 = Signal(64)
        maj = Signal(64)
        m.d.comb += [
            big_s0.eq(_rotr(A[0], 28) ^ _rotr(A[0], 34) ^ _rotr(A[0], 39)),   # Σ0(a)
            maj.eq((A[0] & A[1]) ^ (A[0] & A[2]) ^ (A[1] & A[2])),              # Maj(a, b, c)
        ]
        a_new = add_mod64(m, [T1, big_s0, maj], name="a_new")        # T1 + T2

        # --- block load (feed-forward of the previous block, or IV) ---------------------
        h_in = [Signal(64, name=f"h_in{k}") for k in range(8)]
        # `first` reaches about a thousand selects: each group reads a copy of its own
        # (the same next value, registered: first_d below), so no one flip-flop drives
        # them all across the block
        first_d = Signal()
        first_h = [register_copy(m, first_d, name=f"first_h{g}", platform=platform)
                   for g in range(2)]
        first_k = register_copy(m, first_d, name="first_k", platform=platform)
        first_p = register_copy(m, first_d, name="first_p", platform=platform)
        for k in range(8):
            m.d.comb += h_in[k].eq(Mux(first_h[k // 4], IV[k], (H[k] + st_end[k])[:64]))
        ff = [Signal(64, name=f"ff{k}") for k in range(8)]           # H + state (final block)
        for k in range(8):
            m.d.comb += ff[k].eq((H[k] + st_end[k])[:64])
        # p_0 = H'_7 + K_0 + W_0 and dp_0 = H'_3 + p_0, with H'_k = IV_k or H_k + state_k;
        # the parts from H (stable for cycles before a feed) are summed a cycle ahead
        hk7 = Signal(64)
        hk37 = Signal(64)
        m.d.sync += [hk7.eq(Mux(first_k, (IV[7] + K[0]) & _MASK, (H[7] + K[0])[:64])),
                     hk37.eq(Mux(first_k, (IV[3] + IV[7] + K[0]) & _MASK, (H[3] + H[7] + K[0])[:64]))]
        p0 = add_mod64(m, [hk7, Mux(first_p, 0, E[3]), w[14]], name="p0")
        dp0 = add_mod64(m, [hk37, Mux(first_p, 0, A[3]), Mux(first_p, 0, E[3]), w[14]], name="dp0")
        # dh_0 = d_1 + h_1 = c_0 + g_0 = H'_2 + H'_6
        hk26 = Signal(64)
        m.d.sync += hk26.eq(Mux(first_k, (IV[2] + IV[6]) & _MASK, (H[2] + H[6])[:64]))
        dh0 = add_mod64(m, [hk26, Mux(first_p, 0, A[2]), Mux(first_p, 0, E[2])], name="dh0")

        # the datapath registers: a cancel need not stop them (the next message's feed
        # loads every one of them), so their enables are the round and feed strobes alone
        with m.If(feed):
            m.d.sync += [A[k].eq(h_in[k]) for k in range(4)]
            m.d.sync += [E[k].eq(h_in[4 + k]) for k in range(4)]
            m.d.sync += [H[k].eq(h_in[k]) for k in range(8)]
            m.d.sync += [p.eq(p0), dp.eq(dp0), dh.eq(dh0), t.eq(0)]
            m.d.sync += [f.eq(int(conds[name](0))) for name, f in tf.items()]
        with m.If(advance):
            m.d.sync += [E[0].eq(e_new)] + [E[k].eq(E[k - 1]) for k in range(1, 5)]
            m.d.sync += [T1.eq(t1_new), p.eq(p_new), dp.eq(dp_new), dh.eq(dh_new), t.eq(t_inc)]
            m.d.sync += [f.eq(conds[name](t_inc)) for name, f in tf.items()]
        with m.If(a_adv):
            m.d.sync += [A[0].eq(a_new)] + [A[k].eq(A[k - 1]) for k in range(1, 4)]
        with m.If(final):
            m.d.sync += [H[k].eq(ff[k]) for k in range(8)]

        # first: set by a cancel and when the digest is taken, cleared by a feed
        m.d.comb += first_d.eq(self.cancel | (out_valid & self.o.ready) | (first & ~feed))
        m.d.sync += first.eq(first_d)
        with m.If(self.cancel):
            m.d.sync += [running.eq(0), a_adv.eq(0), final.eq(0), out_valid.eq(0), nw.eq(0),
                         is_last.eq(0)]
        with m.Else():
            m.d.sync += a_adv.eq(advance)
            with m.If(take_pre & accept):
                m.d.sync += nw.eq(nw + 1)
            with m.If(feed):
                m.d.sync += [running.eq(1), nw.eq(0), is_last.eq(0)]
            with m.If(advance):
                with m.If(tf["is13"] & self.i.payload.last):
                    m.d.sync += is_last.eq(1)
                with m.If(tf["is_r1"]):
                    m.d.sync += running.eq(0)
            with m.If(a_adv & ~running):                 # the a unit's round 79
                m.d.sync += final.eq(is_last)
            with m.If(final):
                m.d.sync += [final.eq(0), out_valid.eq(1)]
            with m.If(out_valid & self.o.ready):
                m.d.sync += out_valid.eq(0)
        return m


#: Message bytes for :class:`Sha512Packer`: bytes ``offset .. offset+nbytes-1`` of ``data``,
#: byte 0 in bits 7..0 (little-endian, the rest of pqvote's order; ``offset + nbytes ≤ 8``);
#: ``last`` on the message's final word. A source that reads whole words at a byte cursor hands
#: the word over unshifted, with the cursor's low bits as ``offset``.
MsgBytes = data.StructLayout({"data": unsigned(64), "nbytes": unsigned(4), "offset": unsigned(3),
                              "last": unsigned(1)})


class Sha512Packer(wiring.Component):
    """Byte stream → padded FIPS 180-4 message words for :class:`Sha512`.

    Words of 1..8 bytes enter in pqvote's little-endian order at any alignment (a prefix
    byte ``b`` as a one-byte word, then the message: ``Hash_b(x)``); the packer emits
    big-endian 64-bit words with the §5.1.2 padding (``0x80``, zeros, the 128-bit bit
    length) and ``last`` on word 15 of the final block. One word in and one word out per
    cycle; the padding adds at most three words beyond the message's last.

    Timing: buffer byte ``k`` takes source byte ``r = k − n mod 8`` (the same whether a word
    leaves in that cycle or not) if ``r < nbytes`` (an 8-way select of the byte-count mask
    by the fill count's low bits) and ``k − n`` (or ``k + 8 − n``) lies in 0..7 (a
    function of the fill count alone); the data is an 8-way byte select by
    ``offset + r``. No sum of the fill count and the byte count, and no carry chain, is in
    front of the buffer; the padding's zero count is a register. A source should present
    its payload from registers (``HashJobs`` in ``hdl.sntrup.engine`` does, through a
    register slice).

    Members
    -------
    i : ``In(stream.Signature(MsgBytes))``
        Message bytes; ``nbytes`` in 1..8.
    o : ``Out(stream.Signature(Sha512Word))``
        Padded message words for :attr:`Sha512.i`.
    """

    i: In(stream.Signature(MsgBytes))
    o: Out(stream.Signature(Sha512Word))

    def elaborate(self, platform):
        m = Module()

        buf = [Signal(8, name=f"buf{k}") for k in range(16)]   # pending bytes, buf[0] first
        n = Signal(range(17))
        total = Signal(16)                  # message bytes so far
        # phase, one-hot (every select below is an AND-OR of its bits, no decode):
        # 0 message, 1 0x80, 2 zeros, 3 length hi, 4 length lo
        ph = Signal(5, init=1)
        done_word = Signal()                # the final word is in buf (sets last)
        zeros = Signal(7)                   # zero bytes still to emit (phase 2), a register
        # ... and what the zero phase's source needs of it, registered beside it
        z_n = Signal(4)                     # min(zeros, 8): this cycle's zero bytes
        z_mask = Signal(8)                  # bytes 0 .. z_n - 1 present
        z_last = Signal()                   # zeros <= 8: this take ends the zero phase
        z_any = Signal()                    # zeros != 0

        def set_zeros(v):
            """zeros <- v, and its registered derivatives from v (a function of registers)"""
            return [zeros.eq(v), z_n.eq(Mux(v > 8, 8, v)), z_mask.eq(Cat(*[v > j for j in range(8)])),
                    z_last.eq(v <= 8), z_any.eq(v != 0)]
        z_first = Signal(7)                 # after the 0x80 byte, up to 112 mod 128
        z_rest = Signal(7)
        m.d.comb += [z_first.eq((111 - total)[:7]), z_rest.eq(zeros - z_n)]

        # source of this cycle's bytes: the input in phase 0, else the padding generator
        src = Signal(64)
        src_n = Signal(4)
        src_off = Signal(3)
        src_valid = Signal()
        bitlen = Signal(64)
        m.d.comb += bitlen.eq(total << 3)
        def onehot(*vals):
            """the value of the current phase: an AND-OR over the phase bits"""
            out = 0
            for k, v in enumerate(vals):
                out = out | Mux(ph[k], v, 0)
            return out
        p = self.i.payload
        # phase 1: 0x80; 2: zeros; 3: the bit length's high word (< 2^64: zero); 4: the
        # big-endian 64-bit bit length, in byte order
        m.d.comb += [
            src.eq(onehot(p.data, 0x80, 0, 0,
                          Cat(*[bitlen[8 * (7 - j):8 * (8 - j)] for j in range(8)]))),
            src_n.eq(onehot(p.nbytes, 1, z_n, 8, 8)),
            src_off.eq(onehot(p.offset, 0, 0, 0, 0)),
            src_valid.eq(onehot(self.i.valid, 1, z_any, 1, 1)),
        ]

        emit = Signal()
        m.d.comb += [
            self.o.valid.eq(n >= 8),
            self.o.payload.data.eq(Cat(*[buf[7 - j] for j in range(8)])),
            self.o.payload.last.eq(done_word & (n == 8)),
            emit.eq(self.o.valid & self.o.ready),
        ]
        room = Signal()
        m.d.comb += room.eq((n <= 8) | emit)
        take = Signal()
        m.d.comb += take.eq(src_valid & room & ~done_word)
        m.d.comb += self.i.ready.eq(ph[0] & room & ~done_word)

        # byte insertion after the optional shift-out of 8 bytes: slot k takes source byte
        # r = k − n (k + 8 − n if a word leaves), which is k − n mod 8 either way; it is
        # inserted if byte r is present (`mask`: r < nbytes, an 8-way select by n's low bits)
        # and r is in 0..7 (a function of n alone). No sum of n and the byte count.
        mask = Signal(8)
        m.d.comb += mask.eq(onehot(Cat(*[p.nbytes > j for j in range(8)]), 1, z_mask,
                                   0xFF, 0xFF))
        src_bytes = [src[8 * j:8 * j + 8] for j in range(8)]
        for k in range(16):
            kept = buf[k + 8] if k + 8 < 16 else 0
            shifted = Signal(8, name=f"kept{k}")
            m.d.comb += shifted.eq(Mux(emit, kept, buf[k]))
            r = Signal(3, name=f"r{k}")
            m.d.comb += r.eq(k - n)
            new = Signal(8, name=f"new{k}")
            sel = Signal(3, name=f"sel{k}")
            m.d.comb += sel.eq(src_off + r)
            with m.Switch(sel):
                for j in range(8):
                    with m.Case(j):
                        m.d.comb += new.eq(src_bytes[j])
            in_stay = Signal(name=f"in_stay{k}")     # no word leaves: n <= k < n + 8
            in_emit = Signal(name=f"in_emit{k}")     # a word leaves: n <= k + 8 < n + 8
            m.d.comb += [in_stay.eq((n <= k) & (n > k - 8)), in_emit.eq((n <= k + 8) & (n > k))]
            ins = Signal(name=f"ins{k}")
            m.d.comb += ins.eq(take & mask.bit_select(r, 1) & Mux(emit, in_emit, in_stay))
            m.d.sync += buf[k].eq(Mux(ins, new, shifted))
        m.d.sync += n.eq(Mux(emit, n - 8, n) + Mux(take, src_n, 0))

        with m.If(take):
            with m.If(ph[0]):
                m.d.sync += total.eq(total + src_n)
                with m.If(self.i.payload.last):
                    m.d.sync += ph.eq(0b00010)
            with m.If(ph[1]):
                # zero bytes after the 0x80 byte up to 112 mod 128 (total is final now)
                m.d.sync += [ph.eq(0b00100), *set_zeros(z_first)]
            with m.If(ph[2]):
                m.d.sync += set_zeros(z_rest)
                with m.If(z_last):
                    m.d.sync += ph.eq(0b01000)
            with m.If(ph[3]):
                m.d.sync += ph.eq(0b10000)
            with m.If(ph[4]):
                m.d.sync += done_word.eq(1)
        with m.If(ph[2] & ~z_any):
            m.d.sync += ph.eq(0b01000)
        with m.If(emit & self.o.payload.last):
            m.d.sync += [done_word.eq(0), ph.eq(0b00001), total.eq(0), n.eq(0)]
        return m
