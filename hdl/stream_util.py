"""Stream layouts, memory-port signatures and small stream blocks shared by the validator
shell and the engines.

* :data:`Word` — one 64-bit word of a key, proof or ciphertext stream, ``last`` on the final
  word (the unit of every stream the shell exchanges with the outside and with engines).
* :func:`read_port_signature`, :func:`write_port_signature` — how a datapath block reaches a
  memory it does not own (``addr``/``data``, ``en``/``addr``/``data``), so that blocks
  written against them can be connected to any ``amaranth.lib.memory`` port or mux.
* :class:`WordsToSymbols`, :class:`SymbolsToWords` — width converters between 64-bit
  words and ``width``-bit symbols (little-endian bit order: symbol ``j`` is bits
  ``width·j .. width·j + width - 1`` of the concatenated words).
* :class:`RegisterSlice` — a stream's timing break: every output and the input's ``ready``
  from flip-flops, one word per cycle, one cycle of latency.
"""

from amaranth.hdl import Module, Signal, Cat, unsigned
from amaranth.lib import data, stream, wiring
from amaranth.lib.wiring import In, Out

__all__ = ["Word", "WORD_BITS", "read_port_signature", "write_port_signature",
           "connect_read_port", "connect_write_port", "WordsToSymbols", "SymbolsToWords",
           "RegisterSlice"]

WORD_BITS = 64

#: One 64-bit word of a key, proof or ciphertext stream, ``last`` on the final word.
#: Byte ``8w + k`` of the byte string is ``data[8k+7 : 8k]`` (little-endian).
Word = data.StructLayout({"data": unsigned(WORD_BITS), "last": unsigned(1)})


def read_port_signature(addr_width, shape):
    """A memory read port as seen by the block that reads (``addr`` out, ``data`` in).
    The latency (synchronous: ``data`` one cycle after ``addr``) is stated by the block."""
    return wiring.Signature({"addr": Out(addr_width), "data": In(shape)})


def write_port_signature(addr_width, shape):
    """A memory write port as seen by the block that writes (``en``, ``addr``, ``data``)."""
    return wiring.Signature({"en": Out(1), "addr": Out(addr_width), "data": Out(shape)})


def connect_read_port(m, client, port):
    """Connect a block's read-port member ``client`` to an ``amaranth.lib.memory`` read port."""
    m.d.comb += [port.addr.eq(client.addr), client.data.eq(port.data)]


def connect_write_port(m, client, port):
    """Connect a block's write-port member ``client`` to an ``amaranth.lib.memory`` write port."""
    m.d.comb += [port.en.eq(client.en), port.addr.eq(client.addr), port.data.eq(client.data)]


class _WidthConverter(wiring.Component):
    """What both width converters share: the ``width`` parameter and the bit buffer that
    takes a new piece at the number of bits it holds."""

    _controls = ()               # control inputs besides ``start``

    def __init__(self, *, width):
        if not isinstance(width, int) or width < 1:
            raise ValueError(f"Symbol width must be a positive integer, not {width!r}")
        self._width = width
        i_width, o_width = self._widths(width)
        super().__init__({
            "start": In(1),
            **{name: In(1) for name in self._controls},
            "i": In(stream.Signature(unsigned(i_width))),
            "o": Out(stream.Signature(unsigned(o_width))),
        })

    @property
    def width(self):
        return self._width

    def _buffer(self, m):
        """The bit buffer (a symbol and a word less one bit), the count of bits it holds,
        and the input and output handshakes."""
        hold = self._width + WORD_BITS - 1
        buf = Signal(hold, name="buf")
        cnt = Signal(range(hold + 1), name="cnt")
        i_hs = Signal(name="i_hs")
        o_hs = Signal(name="o_hs")
        m.d.comb += [i_hs.eq(self.i.valid & self.i.ready), o_hs.eq(self.o.valid & self.o.ready)]
        return hold, buf, cnt, i_hs, o_hs

    @staticmethod
    def _append(m, domain, target, buf, cnt, piece, counts):
        """``target = buf[:cnt] ‖ piece`` for each reachable ``cnt`` in ``counts``."""
        with m.Switch(cnt):
            for c in counts:
                with m.Case(c):
                    m.d[domain] += target.eq(Cat(buf[:c], piece) if c else piece)


class WordsToSymbols(_WidthConverter):
    """Width converter: 64-bit words in, ``width``-bit symbols out.

    The words are concatenated little-endian and cut into symbols from bit 0; ``start``
    (a pulse, between messages) drops any bits held. With ``width >= 64`` each word yields at
    most one symbol, in the cycle the word is taken (``o`` depends combinationally on
    ``i``): a word per cycle flows through without a stall, and ``i.ready`` follows
    ``o.ready`` on the words that complete a symbol. With ``width < 64`` a word is taken
    only when less than one symbol is held, and symbols come out of a register, one per
    cycle.

    Parameters
    ----------
    width : int
        Bits per symbol.

    Members
    -------
    start : ``In(1)``
        Drop the bits held (a new message begins).
    i : ``In(stream.Signature(unsigned(64)))``
        Words.
    o : ``Out(stream.Signature(unsigned(width)))``
        Symbols.
    """

    @staticmethod
    def _widths(width):
        return WORD_BITS, width

    def elaborate(self, platform):
        m = Module()
        w = self._width
        hold, buf, cnt, i_hs, o_hs = self._buffer(m)
        if w >= WORD_BITS:
            # pass-through: the held bits (< w) and the offered word make at most one symbol
            merged = Signal(hold + WORD_BITS)
            counts = sorted({(k * WORD_BITS) % w for k in range(w)})   # reachable `cnt` values
            self._append(m, "comb", merged, buf, cnt, self.i.payload, counts)
            emits = Signal()
            m.d.comb += [
                emits.eq(cnt + WORD_BITS >= w),
                self.o.valid.eq(self.i.valid & emits),
                self.o.payload.eq(merged[:w]),
                self.i.ready.eq(~emits | self.o.ready),
            ]
            with m.If(i_hs):
                with m.If(emits):
                    m.d.sync += [buf.eq(merged[w:]), cnt.eq(cnt + WORD_BITS - w)]
                with m.Else():
                    m.d.sync += [buf.eq(merged), cnt.eq(cnt + WORD_BITS)]
        else:
            m.d.comb += [
                self.o.valid.eq(cnt >= w),
                self.o.payload.eq(buf[:w]),
                self.i.ready.eq(cnt < w),
            ]
            with m.If(o_hs):
                m.d.sync += [buf.eq(buf >> w), cnt.eq(cnt - w)]
            with m.Elif(i_hs):
                self._append(m, "sync", buf, buf, cnt, self.i.payload, range(w))
                m.d.sync += cnt.eq(cnt + WORD_BITS)
        with m.If(self.start):
            m.d.sync += cnt.eq(0)
        return m


class SymbolsToWords(_WidthConverter):
    """Width converter: ``width``-bit symbols in, 64-bit words out (the inverse of
    :class:`WordsToSymbols`).

    Symbols are concatenated little-endian; a word is offered as soon as 64 bits are held
    (from a register: one cycle after the symbol that completes it). ``flush`` (a pulse,
    after a message's final symbol) offers the remaining bits, zero-padded, as a final word;
    ``start`` drops any bits held.

    Members
    -------
    start, flush : ``In(1)``
    i : ``In(stream.Signature(unsigned(width)))``
        Symbols.
    o : ``Out(stream.Signature(unsigned(64)))``
        Words.
    """

    _controls = ("flush",)

    @staticmethod
    def _widths(width):
        return width, WORD_BITS

    def elaborate(self, platform):
        m = Module()
        w = self._width
        _, buf, cnt, i_hs, o_hs = self._buffer(m)
        pad = Signal()                           # a flushed partial word is offered
        m.d.comb += [
            self.o.valid.eq((cnt >= WORD_BITS) | (pad & (cnt != 0))),
            self.o.payload.eq(buf[:WORD_BITS]),
            self.i.ready.eq((cnt < WORD_BITS) & ~pad),
        ]
        with m.If(o_hs):
            with m.If(cnt >= WORD_BITS):
                m.d.sync += [buf.eq(buf >> WORD_BITS), cnt.eq(cnt - WORD_BITS)]
            with m.Else():
                m.d.sync += [buf.eq(0), cnt.eq(0), pad.eq(0)]
        with m.Elif(i_hs):
            self._append(m, "sync", buf, buf, cnt, self.i.payload, range(WORD_BITS))
            m.d.sync += cnt.eq(cnt + w)
        with m.If(self.flush):
            m.d.sync += pad.eq(1)
        with m.If(pad & (cnt == 0)):
            m.d.sync += pad.eq(0)
        with m.If(self.start):
            m.d.sync += [cnt.eq(0), pad.eq(0), buf.eq(0)]
        return m


class RegisterSlice(wiring.Component):
    """A stream passed through an output register and a skid register.

    ``o.valid`` and ``o.payload`` are the output register, ``i.ready`` is the skid
    register's emptiness: no path runs through the slice in either direction, so the
    producer's logic and the consumer's (its ``ready`` in particular) are timed apart.
    A word taken on ``i`` is on ``o`` from the next cycle; with ``o.ready`` high the slice
    passes one word per cycle with no bubble. A word that arrives while the output register
    is held waits in the skid register and is next out; while the skid register is full the
    slice takes nothing. Words leave in the order they came.

    Parameters
    ----------
    shape : shape-like
        The payload.

    Members
    -------
    i : ``In(stream.Signature(shape))``
    o : ``Out(stream.Signature(shape))``
    """

    def __init__(self, shape):
        super().__init__({"i": In(stream.Signature(shape)), "o": Out(stream.Signature(shape))})

    def elaborate(self, platform):
        m = Module()
        shape = self.i.payload.shape()
        o_valid, s_valid = Signal(), Signal()
        o_data = Signal(shape)
        s_data = Signal(shape)
        m.d.comb += [self.o.valid.eq(o_valid), self.o.payload.eq(o_data),
                     self.i.ready.eq(~s_valid)]
        with m.If(self.o.ready | ~o_valid):         # the output register is free this cycle
            with m.If(s_valid):
                m.d.sync += [o_valid.eq(1), o_data.eq(s_data), s_valid.eq(0)]
            with m.Else():
                m.d.sync += [o_valid.eq(self.i.valid), o_data.eq(self.i.payload)]
        with m.Elif(self.i.valid & ~s_valid):
            m.d.sync += [s_valid.eq(1), s_data.eq(self.i.payload)]
        return m
