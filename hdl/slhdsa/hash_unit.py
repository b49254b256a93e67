"""One SLH-DSA hash unit: a Keccak-p[1600] permutation that runs a WOTS+ chain, a FORS /
Merkle authentication path, or a multi-block SHAKE256 message, one permutation after the
other with no idle cycle in between.

The SHAKE256 input of ``F`` (64 bytes) and ``H`` (80 bytes) fits one rate block, so the unit
builds the whole padded block in one cycle. The unit owns its 1,600-bit state register and
applies one Keccak round per clock to it (``hdl.keccak.keccak_round``); the last round of a
step writes the next step's input (its output lanes 0-1 as the new message, the rest from
registers) instead of its own output, so a chain of ``s`` steps takes ``24 s`` cycles, and
the round logic reads nothing but the register: no input multiplexer in front of theta.
Each state bit's next value selects from at most one round-output bit: it is
``(own & out[k]) ^ v[k]`` with ``v`` built from registers only (the rest of the next step's
input, or the loaded input), and the lanes that take the next step's message (6..9) are two
registers XORed, one for the lane's own output bit and one for the output's lanes 0..1.
Datapath::

    st ─► theta ─ rho/pi ─ chi ─ iota ─┬─ (own) ⊕ v ───────────────► st   (every lane)
                                       └─ lanes 0..1 at `cont` ─────► sb6..9 (st6..9 = sa ⊕ sb)
    job / memory / st ─► v: the next step's input from registers, or the loaded input

Input state of a step (64-bit lanes, bytes little-endian in a lane)::

    lane  0  1 | 2     3      4             5           | 6  7 | 8 .. 15 | 16
    F     PK.seed | ADRS (layer, tree, type‖keypair, w6‖w7) | M1  | 0x1F 0..| 0x80<<56
    H     PK.seed | ADRS                                  | M2 (lanes 6..9) | 0x1F at lane 10

ADRS fields are big-endian inside their bytes (FIPS 205 §4.2), so each 32-bit field is
byte-swapped into the little-endian lanes.
"""

from amaranth.hdl import Module, Signal, Const, Mux, Cat, unsigned
from amaranth.lib import data, enum, memory, stream, wiring
from amaranth.lib.wiring import In, Out

from golden import slhdsa as model
from golden.keccak import DOMAIN, RATE, ROUND_CONSTANTS
from hdl.keccak import KeccakState, keccak_round

__all__ = ["JobKind", "Job", "JobResult", "HashUnit", "bswap32", "adrs_lanes",
           "SIG_ENTRIES", "BLOCK_BITS", "PAD_LANE"]

#: Entries of 128 bits (n bytes) in the signature memory.
SIG_ENTRIES = model.SIG_LEN // model.N       # 491
#: Bits of a SHAKE256 rate block.
BLOCK_BITS = RATE["shake256"] * 8
#: SHAKE256's domain bits and first pad bit, as a 64-bit lane (the rest of the lane zero).
PAD_LANE = Const(DOMAIN["shake256"], 64)
#: The lanes that take a step's message (the node) from the previous step's output lanes
#: 0..1: F and H's left child in lanes 6..7, H's right child in lanes 8..9.
NODE_LANES = (6, 7, 8, 9)


class JobKind(enum.Enum, shape=2):
    """What a hash unit runs."""
    CHAIN = 0   # WOTS+ chain: ``count`` F steps on mem[addr], hash address w7, w7+1, ...
    TREE = 1    # authentication path: optional F leaf, then ``count`` H steps, auth mem[addr+..]
    RAW = 2     # ``count`` SHAKE256 rate blocks from the ``blk`` input (T_l, H_msg)


#: A job for a :class:`HashUnit`.
#:
#: * ``value``: the starting node of a TREE job without ``leaf`` (a Merkle path; only a
#:   ``raw`` unit runs these, the others ignore ``value``).
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
    previous cycle), and ``rd_data`` is registered in the unit before it is used; an entry
    is used only when ``rd_addr < avail`` held two cycles before, so the signature may still
    be streaming in. The first step of a job is loaded into the state two cycles after the
    job is accepted (when its operands are there) and its first round runs the cycle after
    that; consecutive steps of a job follow each other with no idle cycle (24 cycles per
    step) when the next step's operand was there three cycles before the step ends (else
    it is loaded from the state a cycle later). The result is offered on ``result`` in the
    cycle after the last round (``valid`` is a flip-flop), and the unit is idle the cycle
    after it is taken.

    Parameters
    ----------
    raw : bool
        Support RAW jobs (multi-block absorption from ``blk``) and TREE jobs from a given
        node (``value``, the Merkle paths); only the unit that runs T_l, H_msg and the
        Merkle paths (the engine's unit 0) needs them.

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
        Drop the job in progress; the unit is idle again one cycle later.
    dbg_state : ``Out(KeccakState)``, dbg_accept : ``Out(1)``
        The state register, and high in the cycle a step's first round runs on it (then
        ``dbg_state`` is the step's padded input).
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

        # --- the Keccak round on the unit's own state register ------------------------------
        # lanes 6..9 (where the next step's message goes) are two registers each, XORed:
        # `sa` takes the lane's own round output (or the loaded / constant part), `sb` the
        # round output's lanes 0..1 when the last round writes the next step's input, so
        # each register's next value selects from one round-output bit only
        sa = [Signal(64, name=f"st{k}") for k in range(25)]
        sb = {k: Signal(64, name=f"sb{k}") for k in NODE_LANES}
        st = [Signal(64, name=f"stx{k}") if k in sb else sa[k] for k in range(25)]
        for k in sb:
            m.d.comb += st[k].eq(sa[k] ^ sb[k])
        rnd = Signal(range(24))       # round applied in this cycle while `running`
        running = Signal()
        cont = Signal()               # this is the last round and the next step follows it
        m.submodules.rc_rom = rc_rom = memory.Memory(shape=unsigned(64), depth=24,
                                                     init=ROUND_CONSTANTS)
        rc_rd = rc_rom.read_port(domain="comb")
        m.d.comb += rc_rd.addr.eq(rnd)
        out = keccak_round(m, st, rc_rd.data, prefix="r")

        kind = Signal(JobKind)
        # decoded job flags as flip-flops (loaded while idle / set when a step is issued), so
        # the selects that fan out to the 1,600 state bits start at a register, not at a
        # decode of `kind`
        raw_job = Signal()            # kind == RAW (a raw unit only)
        need_mem = Signal()           # the next step needs a memory operand
        leaf = Signal()               # the next step is the F of a leaf
        is_h = Signal()               # the next step is an H: kind == TREE and not leaf
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
        ok = Signal()                 # rdq holds entry ptr
        first = Signal()              # no permutation output yet (job start)

        m.d.comb += [
            ptr_next.eq(ptr),
            self.rd_addr.eq(ptr_next),
            self.blk_idx.eq(blk_idx),
        ]
        # the memory operand in a register (`rdq`, the entry read two cycles before): the
        # block RAM's output (5.8 ns clock-to-output on the ECP5) reaches a flip-flop only,
        # not the node / H child selects in front of the state
        rdq = Signal(128)
        m.d.sync += rdq.eq(self.rd_data)
        # ok_rd = ptr_next < avail, registered: the three candidates of ptr_next (held, next
        # entry, a new job's address) are compared in parallel and the compare of the one
        # taken is selected with it, so the decision (which depends on `ok`) is not in front
        # of a comparator; `ok` follows a cycle later, when `rdq` has the entry, unless the
        # pointer moved in between
        ptr_inc = Signal(9)
        ok_next = Signal()
        ok_rd = Signal()              # rd_data holds entry ptr
        moved = Signal()              # ptr changes at the end of this cycle
        m.d.comb += [ptr_inc.eq(ptr + 1), ok_next.eq(ptr < self.avail)]
        m.d.sync += [ok_rd.eq(ok_next), ok.eq(ok_rd & ~moved)]

        # --- step operands ----------------------------------------------------------------
        # ADRS word 7: CHAIN hash address; TREE leaf: the index; TREE H: the parent index
        a_w7 = Signal(16)
        m.d.comb += a_w7.eq(Mux(is_h, w7 >> 1, w7))
        adrs = [Signal(64, name=f"adrs{k}") for k in range(4)]
        for k, lane in enumerate(adrs_lanes(self.layer, self.tree, type_, keypair, w6, a_w7)):
            m.d.comb += adrs[k].eq(lane)
        seed = [self.seed[0:64], self.seed[64:128]]
        pad_end = Const(1 << 63, 64)
        raw_blk = Cat(self.blk, Const(0, 1600 - BLOCK_BITS))

        def step_input(node, prev, *, name):
            """The padded input of the next step: F(node) or H(left, right) of ``node`` and
            the memory entry, or (RAW) ``prev`` XOR the next rate block."""
            # H: node is the left child when its index is even
            left = Signal(128, name=f"{name}_left")
            right = Signal(128, name=f"{name}_right")
            m.d.comb += [
                left.eq(Mux(w7[0], rdq, node)),
                right.eq(Mux(w7[0], node, rdq)),
            ]
            st_f = Signal(KeccakState, name=f"{name}_f")
            st_h = Signal(KeccakState, name=f"{name}_h")
            m.d.comb += st_f.eq(Cat(*seed, *adrs, node, PAD_LANE, Const(0, 64 * 7), pad_end,
                                    Const(0, 64 * 8)))
            m.d.comb += st_h.eq(Cat(*seed, *adrs, left, right, PAD_LANE, Const(0, 64 * 5),
                                    pad_end, Const(0, 64 * 8)))
            st_in = Signal(KeccakState, name=name)
            if self._raw:
                m.d.comb += st_in.eq(Mux(raw_job, prev ^ raw_blk,
                                         Mux(is_h, st_h.as_value(), st_f.as_value())))
            else:
                m.d.comb += st_in.eq(Mux(is_h, st_h.as_value(), st_f.as_value()))
            return st_in

        # from the round output (the last round of a step, `cont`): no idle cycle. The step
        # input is linear in the node and in the previous state (H's left / right are one or
        # the other), so it is built as the part from registers (node 0, previous state 0)
        # XOR the round output's share, which the state register adds bit by bit below
        in_run = step_input(Const(0, 128), Const(0, 1600), name="in_run")
        # from registers (job start, or a step that waited for its memory operand)
        node_ld = Signal(128)
        with m.If(first):
            # a TREE job from a given node (a Merkle path) only runs on the RAW unit (the
            # engine's unit 0), the only one that keeps `value`
            m.d.comb += node_ld.eq(Mux(is_h, value, rdq) if self._raw else rdq)
        with m.Else():
            m.d.comb += node_ld.eq(Cat(st[0], st[1]))
        # a RAW job needs no memory operand, so its later blocks always follow at `cont`: a
        # load is always its first block (previous state 0)
        in_ld = step_input(node_ld, Const(0, 1600), name="in_ld")

        # operands present: F of a CHAIN/leaf at job start needs rd_data; every H needs it
        # (a CHAIN needs it for its first step; a TREE for every step: its leaf F at job start
        # and every H after)
        can_issue = Signal()
        m.d.comb += can_issue.eq(~need_mem | ok)
        load = Signal()               # the state takes `in_ld` (no round in this cycle)

        # --- state register: round output, next step input, or loaded input ----------------
        # next value of every state bit: (own & out[k]) ^ (the node share of lanes 6..9) ^ v,
        # v from registers: the round output's own bit while a step runs or (RAW) under the
        # next block, lanes 0..1 of the output as the next step's message (F / H), the rest
        # of the next step's input (in_run from registers) or the loaded input (in_ld)
        # own = running & (~cont | raw_job): in the RAW unit a flip-flop decided a cycle ahead
        # from the next values of `running` and `cont` (the select that fans out to the 1,600
        # state bits starts at a register); in the others it stays combinational, where yosys
        # folds `running & ~cont` into each bit's select (as a flip-flop there it costs
        # ≈ 200 LUTs per unit, measured)
        own = Signal()
        running_nx = Signal()
        cont_nx = Signal()
        m.d.comb += [
            running_nx.eq(Mux(running, cont | (rnd != 23), load)),
            cont_nx.eq(running & (rnd == 22) & (count != 0) & can_issue),
        ]
        if self._raw:
            m.d.sync += own.eq(running_nx & (~cont_nx | raw_job))
        else:
            m.d.comb += own.eq(running & ~cont)
        v = [Signal(64, name=f"v{k}") for k in range(25)]
        for k in range(25):
            m.d.comb += v[k].eq(Mux(cont, in_run[k], Mux(running, 0, in_ld[k])))
        # the node share: F and H's left child go to lanes 6..7, H's right child to 8..9
        take = Signal(4)                  # sb[6 + i] takes out[i % 2] at `cont`
        node_left = Signal()
        m.d.comb += node_left.eq(~is_h | ~w7[0])
        m.d.comb += take.eq(Mux(cont & ~raw_job, Mux(node_left, 0b0011, 0b1100), 0))
        with m.If(running | load):
            for k in range(25):
                m.d.sync += sa[k].eq(Mux(own, out[k], 0) ^ v[k])
            for i, k in enumerate(NODE_LANES):
                m.d.sync += sb[k].eq(Mux(take[i], out[i % 2], 0))
        with m.If(running):
            m.d.sync += rnd.eq(rnd + 1)
            with m.If(cont):
                m.d.sync += rnd.eq(0)
            with m.Elif(rnd == 23):
                m.d.sync += running.eq(0)
        with m.Elif(load):
            m.d.sync += [running.eq(1), rnd.eq(0)]
        # decided one cycle ahead (from registers only): the 1,600 state bits select the
        # next step's input with a flip-flop; the memory operand only becomes ready over
        # time (`ok`), so a step that could not follow at once takes the `load` path
        m.d.sync += cont.eq(cont_nx)

        m.d.comb += [
            self.dbg_state.eq(Cat(*st)),
            self.dbg_accept.eq(running & (rnd == 0)),
            self.result.payload.tag.eq(tag),
        ]

        def issue():
            """Bookkeeping of a step fed to the round (its operands are used now)."""
            m.d.sync += [count.eq(count - 1), first.eq(0),
                         need_mem.eq(kind == JobKind.TREE)]   # every H after the first step
            with m.Switch(kind):
                with m.Case(JobKind.CHAIN):
                    m.d.sync += w7.eq(w7 + 1)
                    with m.If(first):
                        m.d.comb += [ptr_next.eq(ptr_inc), ok_next.eq(ptr_inc < self.avail),
                                     moved.eq(1)]
                        m.d.sync += ptr.eq(ptr + 1)
                with m.Case(JobKind.TREE):
                    with m.If(leaf):
                        m.d.sync += [leaf.eq(0), is_h.eq(1), w6.eq(1), count.eq(count)]
                    with m.Else():
                        m.d.sync += [w6.eq(w6 + 1), w7.eq(w7 >> 1)]
                    m.d.comb += [ptr_next.eq(ptr_inc), ok_next.eq(ptr_inc < self.avail),
                                 moved.eq(1)]
                    m.d.sync += ptr.eq(ptr + 1)
                with m.Case(JobKind.RAW):
                    m.d.sync += blk_idx.eq(blk_idx + 1)

        # the result's valid as a flip-flop, set a cycle ahead (entering Copy; the last round
        # of the last step): the engine's grant and result-register write start at a register
        res_valid = Signal()
        m.d.comb += self.result.valid.eq(res_valid)

        def on_drop():
            # last in the state, so it overrides the state's own transition
            with m.If(self.drop):
                m.d.sync += [running.eq(0), cont.eq(0), res_valid.eq(0)]
                if self._raw:
                    m.d.sync += own.eq(0)
                m.next = "Idle"

        with m.FSM():
            with m.State("Idle"):
                m.d.comb += self.job.ready.eq(1)
                # the job's fields are taken in every idle cycle, offered or not: nothing
                # reads them before the job starts, and the cycle the job is offered takes
                # it last, so `job.valid` (the engine's issue decision over the units) only
                # moves the FSM and stays out of the enables of these registers and of the
                # read address in front of the signature memory
                p = self.job.payload
                m.d.comb += [ptr_next.eq(p.addr), ok_next.eq(p.addr < self.avail), moved.eq(1)]
                m.d.sync += [
                    kind.eq(p.kind), leaf.eq(p.leaf), value.eq(p.value), ptr.eq(p.addr),
                    is_h.eq((p.kind == JobKind.TREE) & ~p.leaf),
                    w6.eq(p.w6), w7.eq(p.w7), count.eq(p.count), type_.eq(p.type),
                    keypair.eq(p.keypair), tag.eq(p.tag), blk_idx.eq(0), first.eq(1),
                    need_mem.eq((p.kind == JobKind.CHAIN) | (p.kind == JobKind.TREE)),
                ]
                if self._raw:
                    m.d.sync += raw_job.eq(p.kind == JobKind.RAW)
                with m.If(self.job.valid):
                    m.next = "Start"
                on_drop()
            with m.State("Start"):
                # first step: operands from memory / job; a zero-step chain just copies
                with m.If((kind == JobKind.CHAIN) & (count == 0)):
                    with m.If(ok):
                        m.d.sync += res_valid.eq(1)
                        m.next = "Copy"
                with m.Elif(can_issue):
                    m.d.comb += load.eq(1)
                    issue()
                    m.next = "Run"
                on_drop()
            with m.State("Copy"):
                # rdq still holds entry ptr (ptr_next = ptr while the result waits)
                m.d.comb += self.result.payload.value.eq(rdq)
                with m.If(self.result.ready):
                    m.d.sync += res_valid.eq(0)
                    m.next = "Idle"
                on_drop()
            with m.State("Run"):
                m.d.comb += self.result.payload.value.eq(Cat(*st[0:4]))
                with m.If(cont):
                    issue()
                with m.If(running & (rnd == 23) & ~cont & (count == 0)):
                    m.d.sync += res_valid.eq(1)             # the job's last round
                with m.If(~running):
                    with m.If(count == 0):                  # res_valid is set
                        with m.If(self.result.ready):
                            m.d.sync += res_valid.eq(0)
                            m.next = "Idle"
                    with m.Elif(can_issue):
                        # the operand arrived late: load the next step from the state
                        m.d.comb += load.eq(1)
                        issue()
                on_drop()
        return m
