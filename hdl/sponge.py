"""Keccak sponge engine (FIPS 202 §4, SP 800-185): SHA3-256/512, SHAKE128/256, cSHAKE256,
and a KMAC256 front end.

:class:`KeccakSponge` absorbs a message given as 64-bit words, pads it (pad10*1 with the
mode's domain bits) and squeezes an unlimited output stream. A one-block buffer fills
while the permutation runs, so absorbing costs one permutation per rate block, and the
first block of the next message waits in that buffer while the current one is squeezed.

:class:`KmacAdapter` turns a message into the cSHAKE256 input of KMAC256 (SP 800-185 §4.3)
for a :class:`KeccakSponge`; :class:`Kmac256` is the adapter with its own sponge.
"""

from amaranth.hdl import Module, Signal, Const, Mux, Cat, unsigned
from amaranth.lib import data, enum, memory, stream, wiring
from amaranth.lib.wiring import In, Out

from golden import keccak as keccak_model
from golden.keccak import kmac256_key_block, kmac256_prefix_block, right_encode, words_le
from hdl.keccak import column_parity, keccak_round, round_constant_words
from hdl.target import PARTITION_PREFIX


__all__ = ["SpongeMode", "SpongeIn", "MsgWord", "RATE_BYTES", "DOMAIN", "SpongeClientSignature",
           "KeccakSponge", "KmacAdapter", "Kmac256"]


class SpongeMode(enum.Enum, shape=3):
    """Hash function of a message, sampled on its first word."""
    SHA3_256 = 0
    SHA3_512 = 1
    SHAKE128 = 2
    SHAKE256 = 3
    CSHAKE256 = 4


#: Rate in bytes per mode (``golden.keccak.RATE``: FIPS 202 §6, SP 800-185 §3).
RATE_BYTES = {mode: keccak_model.RATE[mode.name.lower()] for mode in SpongeMode}

#: Domain-separation bits plus the first pad bit, as one byte (``golden.keccak.DOMAIN``:
#: FIPS 202 §B.2).
DOMAIN = {mode: keccak_model.DOMAIN[mode.name.lower()] for mode in SpongeMode}

#: One message word for the sponge: bytes ``8w .. 8w+nbytes-1`` of the message,
#: little-endian in ``data``.
SpongeIn = data.StructLayout({
    "data": unsigned(64),
    "nbytes": unsigned(4),
    "last": unsigned(1),
    "mode": SpongeMode,
})

#: One message word without a mode (input of :class:`KmacAdapter`).
MsgWord = data.StructLayout({
    "data": unsigned(64),
    "nbytes": unsigned(4),
    "last": unsigned(1),
})

#: The client side of a :class:`KeccakSponge` (its signature, flipped): an engine that hashes
#: on a sponge it does not own exposes this and the shell connects it to a hash service
#: (:class:`~hdl.attestor.Attestor` with ``hash_service``) or to a :class:`KeccakSponge`.
SpongeClientSignature = wiring.Signature({
    "i": Out(stream.Signature(SpongeIn)),
    "o": In(stream.Signature(unsigned(64))),
    "stop": Out(1),
})

_MAX_RATE_WORDS = max(RATE_BYTES.values()) // 8
PAD_END = 0x80                  # the final bit of pad10*1 (FIPS 202 §B.2)


def _check_rounds_per_cycle(rounds_per_cycle):
    if not isinstance(rounds_per_cycle, int) or rounds_per_cycle not in (1, 2):
        raise ValueError(f"Round count per cycle must be 1 or 2, not {rounds_per_cycle!r}")


def _mode_params(m, mode, *, prefix):
    """Combinational rate (in words) and domain byte of ``mode``."""
    rate_words = Signal(range(_MAX_RATE_WORDS + 1), name=f"{prefix}_rate_words")
    domain = Signal(8, name=f"{prefix}_domain")
    with m.Switch(mode):
        for mode_value in SpongeMode:
            with m.Case(mode_value):
                m.d.comb += rate_words.eq(RATE_BYTES[mode_value] // 8)
                m.d.comb += domain.eq(DOMAIN[mode_value])
        with m.Default():          # undefined encodings behave as SHA3-256
            m.d.comb += rate_words.eq(RATE_BYTES[SpongeMode.SHA3_256] // 8)
            m.d.comb += domain.eq(DOMAIN[SpongeMode.SHA3_256])
    return rate_words, domain


class KeccakSponge(wiring.Component):
    """Keccak sponge for SHA3-256, SHA3-512, SHAKE128, SHAKE256 and cSHAKE256.

    A message is a sequence of ``i`` words with ``nbytes = 8`` except on the last one
    (``last = 1``, ``nbytes`` 0..8); an empty message is one word with ``nbytes = 0``.
    The mode is sampled on the first word. The sponge appends the domain bits and
    pad10*1 itself (cSHAKE256 mode pads with ``0x04``; the client sends
    ``bytepad(encode_string(N) ‖ encode_string(S), 136)`` first).

    After the final block is permuted, ``o`` carries output words from output byte 0
    on, without limit: the permutation runs again after the last word of every rate
    block is read.

    The client raises ``stop`` (a one-cycle pulse) in the cycle of the handshake of the
    last word it wants, or in any later cycle: the rest of the output is dropped (a
    permutation running for more output is cancelled) and the state is cleared in the
    next cycle. ``stop`` is looked at only from the cycle the message's first output word
    is valid until the message is finished.

    Datapath: the state register alone feeds the round logic. The rate lanes form a ring
    (lane ``k`` takes lane ``k + 1``; the block's last lane ``r - 1`` takes lane 0 XOR the
    incoming word), so a block of ``r`` lanes is absorbed in ``r`` rotations, one 64-bit
    word per cycle, and output words are always read from lane 0: nothing 1,344 bits wide
    is multiplexed into the round logic or out of the state.

    Timing (``rounds_per_cycle = 1``; 12 instead of 24 with 2), ``r`` = the rate in
    words: a word taken on ``i`` waits one cycle in an input register and is rotated in
    the next; a block always takes ``r`` rotations (a block the message does not fill is
    completed with zero words, one per cycle), then 24 cycles of permutation. So a message
    of ``n ≤ r`` words offered one per cycle from cycle ``t`` gives its first output word
    in cycle ``t + r + 25``, and a long message costs ``r + 24`` cycles per block (words
    are not taken while the permutation runs). Squeezing reads one word per cycle and
    permutes again after the ``r``-th: ``r + 24`` cycles per output block. After ``stop``
    the state is cleared in one cycle; then the next message's first word (already in
    the input register) is rotated in.

    Parameters
    ----------
    rounds_per_cycle : int
        Rounds per clock of the round logic (1 or 2).

    Members
    -------
    i : ``In(stream.Signature(SpongeIn))``
        Message words.
    o : ``Out(stream.Signature(unsigned(64)))``
        Output words, little-endian bytes.
    stop : ``In(1)``
        The client has read all the output it wants.
    """

    def __init__(self, *, rounds_per_cycle=1):
        _check_rounds_per_cycle(rounds_per_cycle)
        self._rounds_per_cycle = rounds_per_cycle
        super().__init__({
            "i": In(stream.Signature(SpongeIn)),
            "o": Out(stream.Signature(unsigned(64))),
            "stop": In(1),
        })

    @property
    def rounds_per_cycle(self):
        return self._rounds_per_cycle

    @property
    def cycles_per_permutation(self):
        """Clocks the round logic takes for one permutation (24 or 12)."""
        return 24 // self._rounds_per_cycle

    def elaborate(self, platform):
        m = Module()
        rpc = self._rounds_per_cycle
        steps = 24 // rpc
        RW = _MAX_RATE_WORDS
        rates = sorted({r // 8 for r in RATE_BYTES.values()})     # 9, 17, 21 words

        # ---- state register and round logic (the rounds read the register only) --------
        st = [Signal(64, name=f"st{k}") for k in range(25)]
        # theta's column parities of st, kept in a register: updated with every change of
        # st (from the round output, or word by word while a block is absorbed), so the
        # first round step reads C from flip-flops instead of a 5-lane XOR tree
        cp = [Signal(64, name=f"cp{x}") for x in range(5)]
        step = Signal(range(steps))
        running = Signal()             # a permutation is in progress
        clear = Signal()               # the state is zeroed in this cycle (after a stop)

        rc_init = round_constant_words(rpc)
        m.submodules.rc_rom = rc_rom = memory.Memory(
            shape=unsigned(64 * rpc), depth=steps, init=rc_init)
        rc_rd = rc_rom.read_port(domain="comb")   # combinational read of the step register
        m.d.comb += rc_rd.addr.eq(step)
        # the round logic (cp and st -> theta -> chi -> the output's column parities) is a
        # module of its own, a mapping partition of `make synth` (hdl.target.PARTITION_PREFIX):
        # the LUT mapper minimises the depth of this loop on its own instead of letting it
        # grow to the depth of the longest path elsewhere in the design that holds the sponge
        mr = Module()
        m.submodules[PARTITION_PREFIX + "round"] = mr
        lanes = st
        for j in range(rpc):
            lanes = keccak_round(mr, lanes, rc_rd.data[64 * j:64 * (j + 1)], prefix=f"r{j}",
                                 C=cp if j == 0 else None)
        cp_next = column_parity(mr, lanes, prefix="out")

        # ---- input register: one message word -------------------------------------------
        w_valid = Signal()
        w_data = Signal(64)            # message bytes (masked), domain byte if it fits
        w_last = Signal()
        w_full = Signal()              # 8 message bytes (the domain byte goes to the next word)
        w_mode = Signal(SpongeMode)
        fill_first = Signal(init=1)    # the next word on i is the first of a message
        fill_mode = Signal(SpongeMode)

        # ---- absorb side ------------------------------------------------------------------
        a_mode = Signal(SpongeMode)    # mode of the message being absorbed
        ab_i = Signal(range(RW))       # rotations done in the current block
        ab_col = Signal(5, init=1)     # one-hot: column of lane ab_i (where the word entering
                                       # now ends after the block's last rotation)
        msg_done = Signal()            # every word of the message is in; the rest of the
                                       # block is filled with zero words
        dom_pending = Signal()         # the domain byte goes into the next rotation

        # ---- squeeze side -----------------------------------------------------------------
        squeeze = Signal()             # the permutation in progress or done gives output
        sq_i = Signal(range(RW))       # output words read in the current block
        sq_started = Signal()          # an output word of this message was read
        o_valid = Signal()             # = squeeze & ~running, kept in a register of its own
                                       # (``running`` fans out to the whole state)

        word = self.i.payload
        mode_eff = Signal(SpongeMode)
        m.d.comb += mode_eff.eq(Mux(fill_first, word.mode, fill_mode))
        _, in_dom = _mode_params(m, mode_eff, prefix="in")

        # message word masked to nbytes, domain byte placed after the final byte
        nbytes = Signal(range(9))
        data_m = Signal(64)
        dom_word = Signal(64)          # domain byte at byte nbytes (0 if nbytes = 8)
        m.d.comb += nbytes.eq(Mux(word.nbytes > 8, 8, word.nbytes))
        with m.Switch(nbytes):
            for n in range(9):
                with m.Case(n):
                    m.d.comb += data_m.eq(word.data & ((1 << (8 * n)) - 1))
                    if n < 8:
                        m.d.comb += dom_word.eq(in_dom << (8 * n))

        # ---- control (registers only, plus o.ready / stop for the squeeze) ------------------
        absorbing = Signal(init=1)     # the state takes message words: = ~running & ~squeeze
                                       # & ~clear, kept in a register of its own
        word_rot = Signal()            # rotate the input word in
        fill_rot = Signal()            # rotate a zero (or domain-byte) word in
        rot = Signal()                 # the rate lanes rotate in this cycle
        cur_mode = Signal(SpongeMode)  # the mode whose rate the ring has
        block_end = Signal()           # the rotation completes the block
        final_blk = Signal()           # ... and the block is the message's last
        o_hs = Signal()
        finish = Signal()
        repermute = Signal()
        m.d.comb += [
            word_rot.eq(absorbing & ~msg_done & w_valid),
            fill_rot.eq(absorbing & msg_done),
            o_hs.eq(self.o.valid & self.o.ready),
            rot.eq(word_rot | fill_rot | o_hs),
            cur_mode.eq(Mux(squeeze | msg_done, a_mode, w_mode)),
            self.i.ready.eq(~w_valid | word_rot),
            self.o.valid.eq(o_valid),
            self.o.payload.eq(st[0]),
            # stop counts from the first valid output word until the message is finished
            finish.eq(self.stop & squeeze & (~running | sq_started)),
            repermute.eq(o_hs & ~self.stop & block_end),
        ]
        cur_rw, cur_dom = _mode_params(m, cur_mode, prefix="cur")
        counter = Signal.like(ab_i)
        m.d.comb += [
            counter.eq(Mux(squeeze, sq_i, ab_i)),
            block_end.eq(counter == cur_rw - 1),
            # dom placed by now (earlier, in this word, or in this fill rotation), except a
            # full last word in the block's last lane, whose domain byte opens a new block
            final_blk.eq(msg_done | (word_rot & w_last & ~w_full)),
        ]

        # the word entering the block's last lane: message word, domain byte or zero; 0x80
        # (the last pad bit) in the final block's last rotation
        x = Signal(64)
        m.d.comb += x.eq(Mux(word_rot, w_data, Mux(fill_rot & dom_pending, cur_dom, 0))
                         | Mux(~squeeze & block_end & final_blk, PAD_END << 56, 0))
        ring_in = Signal(64)
        m.d.comb += ring_in.eq(st[0] ^ x)

        # ---- state update: clear, round, or rotation of the rate lanes --------------------
        is_rate = {n: Signal(name=f"rate_is_{n}") for n in rates}
        for n in rates:
            m.d.comb += is_rate[n].eq(cur_rw == n)
        for k in range(25):
            if k < RW:
                # lanes below the rate rotate; lane r - 1 takes lane 0 ^ x
                src = ring_in if k == RW - 1 else st[k + 1]
                if k + 1 in rates and k + 1 < RW:
                    src = Mux(is_rate[k + 1], ring_in, st[k + 1])
                active = Signal(name=f"ring_has{k}")
                m.d.comb += active.eq(rot & (cur_rw > k))
            with m.If(clear):
                m.d.sync += st[k].eq(0)
            with m.Elif(running):
                m.d.sync += st[k].eq(lanes[k])
            if k < RW:
                with m.Elif(active):
                    m.d.sync += st[k].eq(src)

        # column parities: word i of a block ends in lane i, column i mod 5
        for c in range(5):
            with m.If(clear):
                m.d.sync += cp[c].eq(0)
            with m.Elif(running):
                m.d.sync += cp[c].eq(cp_next[c])
            with m.Elif((word_rot | fill_rot) & ab_col[c]):
                m.d.sync += cp[c].eq(cp[c] ^ x)

        with m.If(running):
            m.d.sync += step.eq(step + 1)
            with m.If(step == steps - 1):
                m.d.sync += [step.eq(0), running.eq(0), absorbing.eq(~squeeze)]

        # ---- absorb bookkeeping -----------------------------------------------------------
        with m.If(word_rot):
            m.d.sync += [
                w_valid.eq(0),
                a_mode.eq(w_mode),
                msg_done.eq(w_last),
                dom_pending.eq(w_last & w_full),
            ]
        with m.If(fill_rot & dom_pending):
            m.d.sync += dom_pending.eq(0)
        with m.If(word_rot | fill_rot):
            m.d.sync += [ab_i.eq(ab_i + 1), ab_col.eq(ab_col.rotate_left(1))]
            with m.If(block_end):
                m.d.sync += [ab_i.eq(0), ab_col.eq(1), running.eq(1), step.eq(0),
                             absorbing.eq(0)]
                with m.If(final_blk):
                    m.d.sync += [squeeze.eq(1), msg_done.eq(0), dom_pending.eq(0),
                                 sq_i.eq(0), sq_started.eq(0)]

        # ---- squeeze ----------------------------------------------------------------------
        with m.If(o_hs):
            m.d.sync += [sq_i.eq(sq_i + 1), sq_started.eq(1)]
        # output is valid from the end of a permutation that gives output until the block is
        # read or the message is finished (squeeze is set with running, never alone)
        with m.If(running & (step == steps - 1) & squeeze):
            m.d.sync += o_valid.eq(1)
        with m.If(repermute):
            m.d.sync += [sq_i.eq(0), running.eq(1), step.eq(0), o_valid.eq(0)]
        with m.If(finish):
            m.d.sync += [running.eq(0), squeeze.eq(0), step.eq(0), sq_i.eq(0),
                         sq_started.eq(0), o_valid.eq(0)]
        m.d.sync += clear.eq(finish)
        with m.If(clear):
            m.d.sync += absorbing.eq(1)

        # ---- input register -----------------------------------------------------------------
        with m.If(self.i.valid & self.i.ready):
            m.d.sync += [
                w_valid.eq(1),
                w_data.eq(data_m | Mux(word.last, dom_word, 0)),
                w_last.eq(word.last),
                w_full.eq(nbytes == 8),
                w_mode.eq(mode_eff),
                fill_mode.eq(mode_eff),
                fill_first.eq(word.last),
            ]
        return m


class KmacAdapter(wiring.Component):
    """KMAC256 front end (SP 800-185 §4.3) with output length L = 256.

    Emits, as cSHAKE256-mode :data:`SpongeIn` words for a :class:`KeccakSponge`::

        bytepad(encode_string("KMAC") ‖ encode_string(S), 136)     constant (ROM)
        bytepad(encode_string(key), 136)                          from ``key``
        X                                                         the words of ``i``
        right_encode(256)

    The sponge's first 4 output words are then ``KMAC256(key, X, 256, S)``; the client
    reads them and raises the sponge's ``stop``. The constant block is offered as soon
    as the adapter is idle (right after the previous message's last word), so a sponge
    connected directly absorbs and permutes it ahead of the next message; a client that
    shares the sponge with other traffic holds it off with ``o.ready``. The key block
    waits until the first message word is offered on ``i``.

    Parameters
    ----------
    customization : bytes
        The customisation string ``S``.

    Members
    -------
    key : ``In(256)``
        The 32-byte key, byte ``j`` in bits ``8j+7 .. 8j``. Must be valid from the cycle the
        first message word is offered on ``i`` until the last one is accepted.
    i : ``In(stream.Signature(MsgWord))``
        Message words (``nbytes = 8`` except on the last, 0..8; ``last`` on the final one).
    o : ``Out(stream.Signature(SpongeIn))``
        Sponge input words, mode ``CSHAKE256``.
    """

    key: In(256)
    i: In(stream.Signature(MsgWord))
    o: Out(stream.Signature(SpongeIn))

    def __init__(self, *, customization):
        if not isinstance(customization, (bytes, bytearray)):
            raise TypeError(f"Customization must be bytes, not {customization!r}")
        self._customization = bytes(customization)
        super().__init__()

    @property
    def customization(self):
        return self._customization

    def elaborate(self, platform):
        m = Module()
        prefix = kmac256_prefix_block(self._customization)
        prefix_words = words_le(prefix)
        m.submodules.prefix_rom = rom = memory.Memory(
            shape=unsigned(64), depth=len(prefix_words), init=prefix_words)
        rom_rd = rom.read_port(domain="comb")    # combinational read (no latency)

        rate_words = RATE_BYTES[SpongeMode.CSHAKE256] // 8
        # bytepad(encode_string(K), 136) = left_encode(136) ‖ left_encode(256) ‖ K ‖ 0…
        head = kmac256_key_block(bytes(32))[:5]
        key_block = Signal(64 * rate_words)
        m.d.comb += key_block.eq(Cat(Const(int.from_bytes(head, "little"), 40), self.key))

        # right_encode(256) = 01 00 02, after the last message byte
        tail = int.from_bytes(right_encode(256), "little")
        tail_len = len(right_encode(256))
        idx = Signal(range(max(len(prefix_words), rate_words)))
        tail_word = Signal(64)
        tail_bytes = Signal(4)

        word = self.i.payload
        nbytes = Signal(range(9))
        data_m = Signal(64)
        tail_lo = Signal(64)           # trailer bytes that fit after the last message byte
        tail_hi = Signal(64)           # trailer bytes that spill into an extra word
        m.d.comb += nbytes.eq(Mux(word.nbytes > 8, 8, word.nbytes))
        with m.Switch(nbytes):
            for n in range(9):
                with m.Case(n):
                    m.d.comb += data_m.eq(word.data & ((1 << (8 * n)) - 1))
                    m.d.comb += tail_lo.eq((tail << (8 * n)) & ((1 << 64) - 1))
                    m.d.comb += tail_hi.eq(tail >> (8 * (8 - n)))

        with m.FSM():
            with m.State("Prefix"):
                m.d.comb += self.o.payload.mode.eq(SpongeMode.CSHAKE256)
                m.d.comb += [
                    rom_rd.addr.eq(idx),
                    self.o.valid.eq(1),
                    self.o.payload.data.eq(rom_rd.data),
                    self.o.payload.nbytes.eq(8),
                ]
                with m.If(self.o.ready):
                    m.d.sync += idx.eq(idx + 1)
                    with m.If(idx == len(prefix_words) - 1):
                        m.d.sync += idx.eq(0)
                        m.next = "Key"
            with m.State("Key"):
                m.d.comb += self.o.payload.mode.eq(SpongeMode.CSHAKE256)
                with m.Switch(idx):
                    for w in range(rate_words):
                        with m.Case(w):
                            m.d.comb += self.o.payload.data.eq(key_block[64 * w:64 * (w + 1)])
                m.d.comb += [
                    self.o.valid.eq(self.i.valid),
                    self.o.payload.nbytes.eq(8),
                ]
                with m.If(self.o.valid & self.o.ready):
                    m.d.sync += idx.eq(idx + 1)
                    with m.If(idx == rate_words - 1):
                        m.d.sync += idx.eq(0)
                        m.next = "Message"
            with m.State("Message"):
                m.d.comb += self.o.payload.mode.eq(SpongeMode.CSHAKE256)
                m.d.comb += [
                    self.o.valid.eq(self.i.valid),
                    self.i.ready.eq(self.o.ready),
                ]
                with m.If(word.last & (nbytes + tail_len <= 8)):
                    m.d.comb += [
                        self.o.payload.data.eq(data_m | tail_lo),
                        self.o.payload.nbytes.eq(nbytes + tail_len),
                        self.o.payload.last.eq(1),
                    ]
                with m.Elif(word.last):
                    m.d.comb += [
                        self.o.payload.data.eq(data_m | tail_lo),
                        self.o.payload.nbytes.eq(8),
                    ]
                with m.Else():
                    m.d.comb += [
                        self.o.payload.data.eq(word.data),
                        self.o.payload.nbytes.eq(8),
                    ]
                with m.If(self.i.valid & self.i.ready & word.last):
                    with m.If(nbytes + tail_len <= 8):
                        m.next = "Prefix"
                    with m.Else():
                        m.d.sync += [
                            tail_word.eq(tail_hi),
                            tail_bytes.eq(nbytes + tail_len - 8),
                        ]
                        m.next = "Tail"
            with m.State("Tail"):
                m.d.comb += self.o.payload.mode.eq(SpongeMode.CSHAKE256)
                m.d.comb += [
                    self.o.valid.eq(1),
                    self.o.payload.data.eq(tail_word),
                    self.o.payload.nbytes.eq(tail_bytes),
                    self.o.payload.last.eq(1),
                ]
                with m.If(self.o.ready):
                    m.next = "Prefix"
        return m


class Kmac256(wiring.Component):
    """KMAC256 with L = 256: a :class:`KmacAdapter` with its own :class:`KeccakSponge`.

    Parameters
    ----------
    customization : bytes
        The customisation string ``S``.
    rounds_per_cycle : int
        Rounds per clock of the permutation (1 or 2).

    Members
    -------
    key : ``In(256)``
        The 32-byte key (see :class:`KmacAdapter`).
    i : ``In(stream.Signature(MsgWord))``
        Message words.
    o : ``Out(stream.Signature(unsigned(256)))``
        ``KMAC256(key, X, 256, S)``, byte ``j`` in bits ``8j+7 .. 8j``; one per message.
    """

    key: In(256)
    i: In(stream.Signature(MsgWord))
    o: Out(stream.Signature(unsigned(256)))

    def __init__(self, *, customization, rounds_per_cycle=1):
        _check_rounds_per_cycle(rounds_per_cycle)
        self._adapter = KmacAdapter(customization=customization)
        self._rounds_per_cycle = rounds_per_cycle
        super().__init__()

    def elaborate(self, platform):
        m = Module()
        m.submodules.adapter = adapter = self._adapter
        m.submodules.sponge = sponge = KeccakSponge(rounds_per_cycle=self._rounds_per_cycle)
        wiring.connect(m, adapter.o, sponge.i)
        wiring.connect(m, wiring.flipped(self.i), adapter.i)
        m.d.comb += adapter.key.eq(self.key)

        tag = Signal(256)
        count = Signal(range(5))
        m.d.comb += [
            self.o.payload.eq(tag),
            self.o.valid.eq(count == 4),
            sponge.o.ready.eq(count < 4),
        ]
        with m.If(sponge.o.valid & sponge.o.ready):
            m.d.sync += tag.eq(Cat(tag[64:], sponge.o.payload))
            m.d.sync += count.eq(count + 1)
        m.d.comb += sponge.stop.eq(sponge.o.valid & sponge.o.ready & (count == 3))
        with m.If(self.o.valid & self.o.ready):
            m.d.sync += count.eq(0)
        return m
