"""One SLH-DSA hash unit: a Keccak-p[1600] permutation that runs a WOTS+ chain, a FORS /
Merkle authentication path, or a multi-block SHAKE256 message, one permutation after the
other with no idle cycle in between.

The SHAKE256 input of ``F`` (64 bytes) and ``H`` (80 bytes) fits one rate block, so the unit
builds the whole padded block in one cycle and feeds it to the permutation; the output of
one step is fed back combinationally into the next (``KeccakP1600`` accepts a new state in
the cycle its result is taken). A chain of ``s`` steps therefore takes ``24 s`` cycles.

Input state of a step (64-bit lanes, bytes little-endian in a lane)::

    lane  0  1 | 2     3      4             5           | 6  7 | 8 .. 15 | 16
    F     PK.seed | ADRS (layer, tree, type‖keypair, w6‖w7) | M1  | 0x1F 0..| 0x80<<56
    H     PK.seed | ADRS                                  | M2 (lanes 6..9) | 0x1F at lane 10

ADRS fields are big-endian inside their bytes (FIPS 205 §4.2), so each 32-bit field is
byte-swapped into the little-endian lanes.
"""

from amaranth.hdl import Module, Signal, Const, Mux, Cat, unsigned
from amaranth.lib import data, enum, stream, wiring
from amaranth.lib.wiring import In, Out

from golden import slhdsa as model
from golden.keccak import DOMAIN, RATE
from hdl.keccak import KeccakP1600, KeccakState

__all__ = ["JobKind", "Job", "JobResult", "HashUnit", "bswap32", "adrs_lanes",
           "SIG_ENTRIES", "BLOCK_BITS", "PAD_LANE"]

#: Entries of 128 bits (n bytes) in the signature memory.
SIG_ENTRIES = model.SIG_LEN // model.N       # 491
#: Bits of a SHAKE256 rate block.
BLOCK_BITS = RATE["shake256"] * 8
#: SHAKE256's domain bits and first pad bit, as a 64-bit lane (the rest of the lane zero).
PAD_LANE = Const(DOMAIN["shake256"], 64)


class JobKind(enum.Enum, shape=2):
    """What a hash unit runs."""
    CHAIN = 0   # WOTS+ chain: ``count`` F steps on mem[addr], hash address w7, w7+1, ...
    TREE = 1    # authentication path: optional F leaf, then ``count`` H steps, auth mem[addr+..]
    RAW = 2     # ``count`` SHAKE256 rate blocks from the ``blk`` input (T_l, H_msg)


#: A job for a :class:`HashUnit`.
#:
#: * ``value``: the starting node of a TREE job without ``leaf``.
#: * ``addr``: CHAIN: entry of the chain's start value; TREE: entry of the leaf secret (with
#:   ``leaf``) or of the first auth node; auth nodes follow in consecutive entries.
#: * ``w6``: CHAIN: chain address; TREE: height of the first step (0 with ``leaf``, else 1).
#: * ``w7``: CHAIN: hash address of the first step; TREE: tree index of the starting node.
#: * ``count``: CHAIN: F steps; TREE: H steps; RAW: blocks.
Job = data.StructLayout({
    "kind": JobKind,
    "leaf": unsigned(1),
    "value": unsigned(128),
    "addr": unsigned(9),
    "w6": unsigned(6),
    "w7": unsigned(16),
    "count": unsigned(4),
    "type": unsigned(3),
    "keypair": unsigned(9),
    "tag": unsigned(6),
})

#: A finished job: lanes 0..3 of the last permutation (the first 16 bytes are the n-byte
#: result of F/H/T; H_msg uses 30 bytes), or the start value of a zero-step chain.
JobResult = data.StructLayout({"tag": unsigned(6), "value": unsigned(256)})


def bswap32(v):
    """A 32-bit big-endian field placed into little-endian bytes."""
    v = Cat(v, Const(0, 32))[:32]
    return Cat(v[24:32], v[16:24], v[8:16], v[0:8])


def bswap64(v):
    v = Cat(v, Const(0, 64))[:64]
    return Cat(*[v[8 * (7 - k):8 * (8 - k)] for k in range(8)])


def adrs_lanes(layer, tree, type_, keypair, w6, w7):
    """The four 64-bit lanes of ADRS (bytes 0..31 of the address, FIPS 205 §4.2)."""
    return [
        Cat(bswap32(layer), Const(0, 32)),          # layer ‖ tree bytes 0..3 (zero)
        bswap64(tree),                              # tree bytes 4..11 (the 64-bit tree)
        Cat(bswap32(type_), bswap32(keypair)),      # type ‖ key pair
        Cat(bswap32(w6), bswap32(w7)),              # chain/height ‖ hash/index
    ]


class HashUnit(wiring.Component):
    """A Keccak-p[1600] permutation running SLH-DSA jobs (WOTS+ chains, authentication
    paths, multi-block hashes).

    A job is accepted when the unit is idle. Memory operands are read through ``rd_addr`` /
    ``rd_data`` (a synchronous read port: ``rd_data`` is the entry ``rd_addr`` had in the
    previous cycle); an entry is used only when ``rd_addr < avail`` held in the previous
    cycle, so the signature may still be streaming in. Each step is fed to the permutation
    in the cycle its operands are there; consecutive steps of a job follow each other with
    no idle cycle (24 cycles per step). The result is offered on ``result`` in the cycle
    the last permutation ends, and the unit is idle the cycle after it is taken.

    Parameters
    ----------
    raw : bool
        Support RAW jobs (multi-block absorption from ``blk``); only the unit that runs
        T_l and H_msg needs it.

    Members
    -------
    job : ``In(stream.Signature(Job))``
    result : ``Out(stream.Signature(JobResult))``
    layer : ``In(4)``, tree : ``In(64)``, seed : ``In(128)``
        Layer and tree address and PK.seed; stable while a job runs.
    rd_addr : ``Out(9)``, rd_data : ``In(128)``, avail : ``In(range(SIG_ENTRIES + 1))``
        Signature memory read port and the count of readable entries.
    blk_idx : ``Out(3)``, blk : ``In(BLOCK_BITS)``
        RAW jobs: index of the block wanted and the block itself (combinational).
    drop : ``In(1)``
        Drop the job in progress; the unit is idle again one cycle later (two or up to 25
        cycles with a permutation without ``cancel``).
    dbg_state : ``Out(KeccakState)``, dbg_accept : ``Out(1)``
        The state fed to the permutation and the cycle it is accepted.
    """

    def __init__(self, *, raw=False):
        self._raw = bool(raw)
        super().__init__({
            "job": In(stream.Signature(Job)),
            "result": Out(stream.Signature(JobResult)),
            "layer": In(4),
            "tree": In(64),
            "seed": In(128),
            "rd_addr": Out(9),
            "rd_data": In(128),
            "avail": In(range(SIG_ENTRIES + 1)),
            "blk_idx": Out(3),
            "blk": In(BLOCK_BITS),
            "drop": In(1),
            "dbg_state": Out(KeccakState),
            "dbg_accept": Out(1),
        })

    @property
    def raw(self):
        return self._raw

    def elaborate(self, platform):
        m = Module()
        m.submodules.perm = perm = KeccakP1600(rounds_per_cycle=1)

        kind = Signal(JobKind)
        leaf = Signal()               # the next step is the F of a leaf
        value = Signal(128)           # starting node (TREE without leaf)
        ptr = Signal(9)               # next memory entry wanted
        ptr_next = Signal(9)
        w6 = Signal(6)
        w7 = Signal(16)
        count = Signal(4)             # steps (blocks) still to issue
        type_ = Signal(3)
        keypair = Signal(9)
        tag = Signal(6)
        blk_idx = Signal(3)
        ok = Signal()                 # rd_data holds entry ptr
        first = Signal()              # no permutation output yet (job start)

        m.d.comb += [
            ptr_next.eq(ptr),
            self.rd_addr.eq(ptr_next),
            self.blk_idx.eq(blk_idx),
        ]
        m.d.sync += ok.eq(ptr_next < self.avail)

        # --- step operands --------------------------------------------------------------
        node = Signal(128)            # chain value / tree node entering this step
        prev = Signal(KeccakState)    # state the RAW block is XORed into
        is_h = Signal()
        m.d.comb += [
            prev.eq(Mux(first, 0, perm.o.payload.as_value())),
            is_h.eq((kind == JobKind.TREE) & ~leaf),
        ]
        with m.If(first):
            m.d.comb += node.eq(Mux((kind == JobKind.TREE) & ~leaf, value, self.rd_data))
        with m.Else():
            m.d.comb += node.eq(Cat(perm.o.payload[0], perm.o.payload[1]))

        # ADRS word 7: CHAIN hash address; TREE leaf: the index; TREE H: the parent index
        a_w7 = Signal(16)
        m.d.comb += a_w7.eq(Mux(is_h, w7 >> 1, w7))
        adrs = [Signal(64, name=f"adrs{k}") for k in range(4)]
        for k, lane in enumerate(adrs_lanes(self.layer, self.tree, type_, keypair, w6, a_w7)):
            m.d.comb += adrs[k].eq(lane)

        # H: node is the left child when its index is even
        left = Signal(128)
        right = Signal(128)
        m.d.comb += [
            left.eq(Mux(w7[0], self.rd_data, node)),
            right.eq(Mux(w7[0], node, self.rd_data)),
        ]
        seed = [self.seed[0:64], self.seed[64:128]]
        st_f = Signal(KeccakState)
        st_h = Signal(KeccakState)
        pad_end = Const(1 << 63, 64)
        m.d.comb += st_f.eq(Cat(*seed, *adrs, node, PAD_LANE, Const(0, 64 * 7), pad_end,
                                Const(0, 64 * 8)))
        m.d.comb += st_h.eq(Cat(*seed, *adrs, left, right, PAD_LANE, Const(0, 64 * 5),
                                pad_end, Const(0, 64 * 8)))
        st_in = Signal(KeccakState)
        if self._raw:
            st_raw = Signal(KeccakState)
            m.d.comb += st_raw.eq(prev.as_value() ^ Cat(self.blk, Const(0, 1600 - BLOCK_BITS)))
            m.d.comb += st_in.eq(Mux(kind == JobKind.RAW, st_raw.as_value(),
                                     Mux(is_h, st_h.as_value(), st_f.as_value())))
        else:
            m.d.comb += st_in.eq(Mux(is_h, st_h.as_value(), st_f.as_value()))

        # operands present: F of a CHAIN/leaf at job start needs rd_data; every H needs it
        need_mem = Signal()
        m.d.comb += need_mem.eq(((kind == JobKind.CHAIN) & first)
                                | ((kind == JobKind.TREE) & (first | ~leaf)))
        can_issue = Signal()
        m.d.comb += can_issue.eq(~need_mem | ok)

        m.d.comb += [
            perm.i.payload.eq(st_in),
            self.dbg_state.eq(st_in),
            self.dbg_accept.eq(perm.i.valid & perm.i.ready),
            self.result.payload.tag.eq(tag),
        ]

        def issue():
            """Bookkeeping of a step fed to the permutation."""
            m.d.sync += [count.eq(count - 1), first.eq(0)]
            with m.Switch(kind):
                with m.Case(JobKind.CHAIN):
                    m.d.sync += w7.eq(w7 + 1)
                    with m.If(first):
                        m.d.comb += ptr_next.eq(ptr + 1)
                        m.d.sync += ptr.eq(ptr + 1)
                with m.Case(JobKind.TREE):
                    with m.If(leaf):
                        m.d.sync += [leaf.eq(0), w6.eq(1), count.eq(count)]
                    with m.Else():
                        m.d.sync += [w6.eq(w6 + 1), w7.eq(w7 >> 1)]
                    m.d.comb += ptr_next.eq(ptr + 1)
                    m.d.sync += ptr.eq(ptr + 1)
                with m.Case(JobKind.RAW):
                    m.d.sync += blk_idx.eq(blk_idx + 1)

        def on_drop():
            # last in the state, so it overrides the state's own transition
            with m.If(self.drop):
                m.next = "Drain"

        with m.FSM():
            with m.State("Idle"):
                m.d.comb += self.job.ready.eq(1)
                with m.If(self.job.valid):
                    p = self.job.payload
                    m.d.comb += ptr_next.eq(p.addr)
                    m.d.sync += [
                        kind.eq(p.kind), leaf.eq(p.leaf), value.eq(p.value), ptr.eq(p.addr),
                        w6.eq(p.w6), w7.eq(p.w7), count.eq(p.count), type_.eq(p.type),
                        keypair.eq(p.keypair), tag.eq(p.tag), blk_idx.eq(0), first.eq(1),
                    ]
                    m.next = "Start"
                on_drop()
            with m.State("Start"):
                # first step: operands from memory / job; a zero-step chain just copies
                with m.If((kind == JobKind.CHAIN) & (count == 0)):
                    with m.If(ok):
                        m.d.sync += value.eq(self.rd_data)
                        m.next = "Copy"
                with m.Elif(can_issue):
                    m.d.comb += perm.i.valid.eq(1)
                    with m.If(perm.i.ready):
                        issue()
                        m.next = "Run"
                on_drop()
            with m.State("Copy"):
                m.d.comb += [self.result.valid.eq(1), self.result.payload.value.eq(value)]
                with m.If(self.result.ready):
                    m.next = "Idle"
                on_drop()
            with m.State("Run"):
                m.d.comb += self.result.payload.value.eq(Cat(*[perm.o.payload[k]
                                                               for k in range(4)]))
                with m.If(perm.o.valid):
                    with m.If(count == 0):
                        m.d.comb += [self.result.valid.eq(1), perm.o.ready.eq(self.result.ready)]
                        with m.If(self.result.ready):
                            m.next = "Idle"
                    with m.Elif(can_issue):
                        # next step straight from the permutation output (no idle cycle)
                        m.d.comb += [perm.i.valid.eq(1), perm.o.ready.eq(1)]
                        issue()
                on_drop()
            with m.State("Drain"):
                if "cancel" in perm.signature.members:
                    # discard the state held; the permutation is empty from the next cycle
                    m.d.comb += perm.cancel.eq(1)
                    m.next = "Idle"
                else:
                    m.d.comb += perm.o.ready.eq(1)
                    with m.If(~perm.busy):
                        m.next = "Idle"
        return m
