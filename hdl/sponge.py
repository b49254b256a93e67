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
from golden.keccak import kmac256_key_block, kmac256_prefix_block, right_encode
from hdl.keccak import KeccakP1600


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
    on, without limit: the permutation runs again for every further rate block. With
    ``squeeze_buffer`` the next block is permuted as soon as word 0 of the current one
    is read (words 1.. come from a copy), so long outputs run at one rate block per
    permutation; without it the permutation restarts after the block's last word.

    The client raises ``stop`` (a one-cycle pulse) in the cycle of the handshake of the
    last word it wants, or in any later cycle: the rest of the output is dropped (a
    permutation running for more output is cancelled) and the next message, if its
    first block is already buffered, starts in that same cycle. ``stop`` is looked at
    only from the cycle the message's first output word is valid until the message is
    finished, and reaches ``i.ready`` combinationally.

    Timing (``rounds_per_cycle = 1``; 12 instead of 24 with 2): a message's first
    output word is valid 25 cycles after its final block is complete in the buffer
    (one cycle to hand it to the permutation, 24 to permute); later blocks cost 24
    cycles each and fill while the previous block is permuted, so words arriving one
    per cycle never wait. Reading ``k`` words of a one-block message and stopping lets
    the next (buffered) message start in the stop cycle: ``24 + k - 1`` cycles per
    message back to back.

    Parameters
    ----------
    rounds_per_cycle : int
        Rounds per clock of the internal :class:`~hdl.keccak.KeccakP1600` (1 or 2).
    squeeze_buffer : bool
        Keep a copy of the rate part (20 × 64 flip-flops) so the next output block is
        permuted while the current one is read.

    Members
    -------
    i : ``In(stream.Signature(SpongeIn))``
        Message words.
    o : ``Out(stream.Signature(unsigned(64)))``
        Output words, little-endian bytes.
    stop : ``In(1)``
        The client has read all the output it wants.
    """

    def __init__(self, *, rounds_per_cycle=1, squeeze_buffer=True):
        _check_rounds_per_cycle(rounds_per_cycle)
        if not isinstance(squeeze_buffer, bool):
            raise TypeError(f"Squeeze buffer must be a bool, not {squeeze_buffer!r}")
        self._rounds_per_cycle = rounds_per_cycle
        self._squeeze_buffer = squeeze_buffer
        super().__init__({
            "i": In(stream.Signature(SpongeIn)),
            "o": Out(stream.Signature(unsigned(64))),
            "stop": In(1),
        })

    @property
    def rounds_per_cycle(self):
        return self._rounds_per_cycle

    @property
    def squeeze_buffer(self):
        return self._squeeze_buffer

    def elaborate(self, platform):
        m = Module()
        m.submodules.perm = perm = KeccakP1600(rounds_per_cycle=self._rounds_per_cycle)
        RW = _MAX_RATE_WORDS

        # ---- rate-block buffer (filled from i) ---------------------------------------
        buf = [Signal(64, name=f"buf{k}") for k in range(RW)]
        buf_full = Signal()            # a complete block waits in buf
        buf_final = Signal()           # ... it is the final block of its message (add 0x80)
        buf_first = Signal()           # ... it is the first block of its message (zero state)
        buf_mode = Signal(SpongeMode)
        pad_pending = Signal()         # the message ended on a block boundary: a pad-only
                                       # block follows the one in buf
        wp = Signal(range(RW))         # next word position in the block being filled
        fill_first = Signal(init=1)    # the block being filled is the first of its message
        fill_mode = Signal(SpongeMode)

        # ---- permutation side ---------------------------------------------------------
        p_final = Signal()             # the permutation holds the final block's state
        p_mode = Signal(SpongeMode)
        sq_idx = Signal(range(RW))     # next output word within the rate block
        sq_started = Signal()          # an output word of this message was read
        if self._squeeze_buffer:
            obuf = [Signal(64, name=f"obuf{k}") for k in range(RW)]   # obuf[0] unused
            sq_buf = Signal()          # words sq_idx.. of the block are read from obuf

        word = self.i.payload
        in_first = Signal()
        mode_eff = Signal(SpongeMode)
        m.d.comb += [
            in_first.eq(fill_first & (wp == 0)),
            mode_eff.eq(Mux(in_first, word.mode, fill_mode)),
        ]
        in_rw, in_dom = _mode_params(m, mode_eff, prefix="in")
        buf_rw, buf_dom = _mode_params(m, buf_mode, prefix="buf")
        p_rw, _ = _mode_params(m, p_mode, prefix="p")

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

        # padded block: 0x80 in the top byte of the last rate word of a final block
        block = [Signal(64, name=f"block{k}") for k in range(RW)]
        for k in range(RW):
            if k + 1 in {r // 8 for r in RATE_BYTES.values()}:
                m.d.comb += block[k].eq(
                    buf[k] | Mux(buf_final & (buf_rw == k + 1), 0x80 << 56, 0))
            else:
                m.d.comb += block[k].eq(buf[k])

        # ---- control ------------------------------------------------------------------
        done = Signal()
        absorb_next = Signal()
        direct = Signal()              # o reads the state register (the permutation is done)
        o_hs = Signal()
        finish = Signal()
        repermute = Signal()
        start_new = Signal()
        consume = Signal()
        m.d.comb += [
            done.eq(perm.o.valid),
            absorb_next.eq(done & ~p_final & buf_full & ~buf_first),
            o_hs.eq(self.o.valid & self.o.ready),
            # stop counts from the first valid output word until the message is finished
            finish.eq(self.stop & perm.busy & p_final & (done | sq_started)),
            start_new.eq(buf_full & buf_first & (~perm.busy | finish)),
            consume.eq(absorb_next | start_new),
            perm.i.valid.eq(consume | repermute),
            perm.o.ready.eq(absorb_next | repermute),
            perm.cancel.eq(finish),
        ]
        if self._squeeze_buffer:
            # Word 0 of each block comes from the state register; its handshake copies the
            # block to obuf and starts the next permutation while words 1.. are read.
            obuf_word = Signal(64)
            with m.Switch(sq_idx):
                for k in range(1, RW):
                    with m.Case(k):
                        m.d.comb += obuf_word.eq(obuf[k])
            m.d.comb += [
                direct.eq(done & p_final & ~sq_buf),
                self.o.valid.eq(direct | sq_buf),
                self.o.payload.eq(Mux(sq_buf, obuf_word, perm.o.payload[0])),
                repermute.eq(o_hs & ~self.stop & direct),
            ]
            with m.If(repermute):
                m.d.sync += [obuf[k].eq(perm.o.payload[k]) for k in range(1, RW)]
                m.d.sync += sq_buf.eq(1), sq_idx.eq(1)
            with m.Elif(o_hs):
                m.d.sync += sq_idx.eq(sq_idx + 1)
                with m.If(sq_idx == p_rw - 1):
                    m.d.sync += sq_buf.eq(0), sq_idx.eq(0)
            with m.If(finish | consume):
                m.d.sync += sq_buf.eq(0)
        else:
            m.d.comb += [
                direct.eq(done & p_final),
                self.o.valid.eq(direct),
                self.o.payload.eq(perm.o.payload[sq_idx]),
                repermute.eq(o_hs & ~self.stop & (sq_idx == p_rw - 1)),
            ]
            with m.If(repermute):
                m.d.sync += sq_idx.eq(0)
            with m.Elif(o_hs):
                m.d.sync += sq_idx.eq(sq_idx + 1)
        with m.If(o_hs):
            m.d.sync += sq_started.eq(1)

        # permutation input: (state or 0) ^ (block or 0). It matters only when accepted:
        # absorb_next: state ^ block; start_new: block; repermute: state. The selects use
        # registers and `stop` only, to keep the path into the round logic short.
        zero_state = Signal()
        add_block = Signal()
        m.d.comb += [
            zero_state.eq(~perm.busy | (p_final & self.stop)),
            add_block.eq(~perm.busy | ~p_final | self.stop),
        ]
        for k in range(25):
            lane = Mux(zero_state, 0, perm.o.payload[k])
            if k < RW:
                lane = lane ^ Mux(add_block, block[k], 0)
            m.d.comb += perm.i.payload[k].eq(lane)

        with m.If(consume):
            m.d.sync += [
                p_final.eq(buf_final),
                p_mode.eq(buf_mode),
                sq_idx.eq(0),
                sq_started.eq(0),
            ]

        # ---- buffer update ------------------------------------------------------------
        with m.If(consume):
            m.d.sync += buf_full.eq(0)
            m.d.sync += [buf[k].eq(0) for k in range(RW)]
            with m.If(pad_pending):
                m.d.sync += [
                    buf[0].eq(buf_dom),
                    buf_full.eq(1),
                    buf_final.eq(1),
                    buf_first.eq(0),
                    pad_pending.eq(0),
                ]

        m.d.comb += self.i.ready.eq(~pad_pending & (~buf_full | consume))
        with m.If(self.i.valid & self.i.ready):
            block_end = Signal()
            m.d.comb += block_end.eq(wp == in_rw - 1)
            m.d.sync += fill_mode.eq(mode_eff)
            for k in range(RW):
                with m.If(wp == k):
                    m.d.sync += buf[k].eq(data_m | Mux(word.last, dom_word, 0))
            with m.If(word.last | block_end):
                m.d.sync += [
                    wp.eq(0),
                    buf_full.eq(1),
                    buf_first.eq(fill_first),
                    buf_mode.eq(mode_eff),
                    buf_final.eq(word.last),
                    fill_first.eq(word.last),
                ]
            with m.Else():
                m.d.sync += wp.eq(wp + 1)
            with m.If(word.last & (nbytes == 8)):
                with m.If(block_end):
                    # domain byte and 0x80 go into a block of their own
                    m.d.sync += buf_final.eq(0), pad_pending.eq(1)
                with m.Else():
                    for k in range(1, RW):
                        with m.If(wp == k - 1):
                            m.d.sync += buf[k].eq(in_dom)
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
        prefix_words = [int.from_bytes(prefix[8 * w:8 * w + 8], "little")
                        for w in range(len(prefix) // 8)]
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
