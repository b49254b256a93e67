"""Proof digest, proof-tag check and attestation of a validator core on one Keccak state
(SPEC §3.2; FIPS 202 §4; SP 800-185 §4.3).

Everything the shell hashes has a fixed shape, so the :class:`Attestor` runs its own
1,600-bit state register and round logic (``hdl.keccak.keccak_round``, as the sponge does)
block by block instead of a general sponge:

* ``PD = SHA3-256(proof beats)``: 17 beats per rate block, the next block collected while
  the current one is permuted;
* ``KMAC256(X, M, 256, S)`` with a 32-byte key ``X`` and a message ``M`` of at most 132
  bytes is three permutations::

      P(P(P(prefix(S)) ^ keyblock(X)) ^ finalblock(M))      first 32 bytes

  - tag check (KEM engines): ``KMAC256(K, D, 256, "pqvote/proof")``. ``P(prefix(S))`` is a
    constant of the customisation string (:func:`prefix_state`, computed at elaboration from
    :mod:`golden.keccak`); it is loaded into the state, with the key block's constant head
    bytes, while ``K`` is awaited, and ``K`` is XORed into lanes 0..4 in the cycle it is
    taken: two permutations, the response in the cycle after the second;
  - attestation: ``A0`` (vote 0) and ``A1`` (vote 1) are computed after the digest, while
    the engine runs, each in three permutations from a cleared state (nothing 1,600 bits
    wide is kept between requests), and the vote selects one.

Datapath (one round per clock)::

   proof beats, hash-service words ──┐
   generated blocks (prefix("pqvote/vote"),       a word per cycle into lane wp
   K_att's key block, id‖N‖D‖v‖PD, D), via gen_q ─┴─► block buffer dbuf[0..16], its theta D
                                                        │ (bdx); their next values copied
                                                        ▼ into bz, bdz: zero but at a start
   st (25 lanes) ─► ⊕ bz ─► theta (D = dreg ⊕ bdz) ─ rho·pi ─ chi ─ iota ─► st
     ▲ 0 or P(prefix("pqvote/proof")) ^ head (loaded); K into lanes 0..4  └─► D ─► dreg
   st[0..3] ─► PD, A0, A1, hash-service output words; == tag ─► vote

A permutation starts on the state XOR a complete buffer block: each rate lane XORs only its
own buffer word and theta's ``D`` (kept in a register, ``dreg``, so each theta output bit is
one XOR of flip-flops) XORs the buffer's ``D`` (``bdx``, updated as words are written), so
nothing 1,600 bits wide is selected in front of the rounds and no word is broadcast into the
state lanes. The round logic reads the buffer through ``bz`` / ``bdz``, copies of the
buffer's and ``bdx``'s next values that are zero in every cycle but a permutation's first,
so theta's inputs are four flip-flops with no gate in front. Every word reaches the buffer
through one word register (``wq``), so the buffer's write selects are one LUT of flip-flops
beside it. A block whose last word goes into the buffer while the state is idle is permuted
from the next cycle; the next block is collected in the buffer while it permutes and starts
the next permutation in the cycle after its last round: exactly the schedule of a bare
permutation fed with complete blocks, a cycle behind the words' sources.

The engine-facing handshakes start from flip-flops: ``i_k.ready`` from the Verdict state's
flag, the hash service's ``i.ready`` from a skid register's emptiness and its ``o.valid``
from a flag of its own and the round counter.
"""

from amaranth.hdl import Module, Signal, Const, Mux, Cat, unsigned
from amaranth.lib import data, memory, stream, wiring
from amaranth.lib.wiring import In, Out

from golden.keccak import (DOMAIN, RATE, keccak_f1600, kmac256_key_block,
                           kmac256_prefix_block, left_encode, right_encode, state_from_bytes,
                           words_le)
from golden.proof import (BEAT_BYTES, DESCRIPTOR_BYTES, KATT_BYTES, PROOF_CUSTOMIZATION,
                          TAG_BYTES, VENDORS, VOTE_CUSTOMIZATION)
from hdl.keccak import keccak_round, round_constant_words
from hdl.sponge import SpongeClientSignature, SpongeMode
from hdl.stream_util import Word
from hdl.target import PARTITION_PREFIX

__all__ = ["Attestor", "AttestorOut", "prefix_state", "key_block", "final_block",
           "ATTEST_MSG_BYTES", "kmac256_kept"]

RATE_BYTES = RATE["cshake256"]
assert RATE_BYTES == RATE["sha3_256"], "the digest and the KMACs share one block buffer width"
assert RATE_BYTES == RATE["shake256"], "the hash service uses the digest's block buffer"
RATE_WORDS = RATE_BYTES // BEAT_BYTES
OUT_BITS = 8 * TAG_BYTES                 # L = 256 for the tag and the attestation
SHA3_DOMAIN = DOMAIN["sha3_256"]
SHAKE_DOMAIN = DOMAIN["shake256"]
CSHAKE_DOMAIN = DOMAIN["cshake256"]
#: hash service: output words of the first squeezed block a client may read
SERVICE_OUT_WORDS = 4
PAD_END = 0x80                           # the final bit of pad10*1 (FIPS 202 §B.2)

#: id(1) ‖ N(8) ‖ D(24) ‖ vote(1) ‖ PD(32)
ATTEST_MSG_BYTES = 1 + 8 + DESCRIPTOR_BYTES + 1 + 32


# ---- the KMAC structure, in Python (used at elaboration and by the tests) ---------------

def prefix_state(customization):
    """``P(bytepad(encode_string("KMAC") ‖ encode_string(S), 136))``: the state after the
    constant first block of KMAC256 with customisation ``S`` (25 lanes)."""
    return keccak_f1600(state_from_bytes(kmac256_prefix_block(customization)))


#: ``bytepad(encode_string(key), 136)`` (SP 800-185 §4.3), from ``golden.keccak``.
key_block = kmac256_key_block


def _final_tail():
    return right_encode(OUT_BITS) + bytes([CSHAKE_DOMAIN])


def final_block(message):
    """The last KMAC256 block for a message that fits one block: ``M ‖ right_encode(256)``
    with the cSHAKE padding (domain bits, pad10*1)."""
    block = bytearray(bytes(message) + _final_tail())
    if len(block) > RATE_BYTES:
        raise ValueError(f"Message must be at most {RATE_BYTES - len(_final_tail())} bytes, "
                         f"not {len(message)}")
    block += bytes(RATE_BYTES - len(block))
    block[-1] |= PAD_END
    return bytes(block)


def _absorb(state, block):
    return keccak_f1600([a ^ b for a, b in zip(state, state_from_bytes(block))])


def kmac256_kept(key, message, customization):
    """KMAC256(key, message, 256, S) computed the way the :class:`Attestor` does (constant
    prefix state, key block, final block); equal to ``golden.keccak.kmac256``."""
    kept = _absorb(prefix_state(customization), key_block(key))
    out = _absorb(kept, final_block(message))
    return b"".join(lane.to_bytes(8, "little") for lane in out)[:OUT_BITS // 8]


# the key block is a constant head, the key, zeros: bytepad(encode_string(X), 136) =
# left_encode(136) ‖ left_encode(256) ‖ X ‖ 0…
_KEY_HEAD = left_encode(RATE_BYTES) + left_encode(8 * KATT_BYTES)
assert kmac256_key_block(bytes(KATT_BYTES)) == _KEY_HEAD + bytes(RATE_BYTES - len(_KEY_HEAD))
_KEY_WORDS = -(-(len(_KEY_HEAD) + KATT_BYTES) // BEAT_BYTES)      # lanes the key touches


def _loaded_state(customization):
    """The constant loaded into the state for a KMAC with customisation ``S``:
    ``P(prefix(S)) ^ keyblock(0)``, i.e. everything of the state after the key block but
    the key bytes themselves, which are XORed into lanes 0..4 (linearity of the XOR)."""
    head = state_from_bytes(kmac256_key_block(bytes(KATT_BYTES)))
    return [a ^ b for a, b in zip(prefix_state(customization), head)]


def _key_lanes(key, *, head=False):
    """The key's part of its key block (with the constant head bytes if ``head``), as
    ``_KEY_WORDS`` 64-bit lanes (``Value``s)."""
    nbits = 8 * len(_KEY_HEAD) + len(key)
    bits = Cat(Const(int.from_bytes(_KEY_HEAD, "little") if head else 0,
                     8 * len(_KEY_HEAD)), key, Const(0, 64 * _KEY_WORDS - nbits))
    return [bits[64 * k:64 * (k + 1)] for k in range(_KEY_WORDS)]


def _theta_d_of(state):
    """Theta's ``D[x] = C[x-1] ^ rot(C[x+1], 1)`` of a state given as 25 integers."""
    def rotl(v, n):
        return ((v << n) | (v >> (64 - n))) & ((1 << 64) - 1)
    C = [state[x] ^ state[x + 5] ^ state[x + 10] ^ state[x + 15] ^ state[x + 20]
         for x in range(5)]
    return [C[(x - 1) % 5] ^ rotl(C[(x + 1) % 5], 1) for x in range(5)]


def _final_words(message, nbytes):
    """The words of ``finalblock(M)`` but the ``0x80`` of lane 16 (added when the block is
    absorbed): ``M ‖ right_encode(256) ‖ 0x04``, zero-padded to whole words."""
    tail = _final_tail()
    nwords = -(-(nbytes + len(tail)) // BEAT_BYTES)
    pad = 8 * (BEAT_BYTES * nwords - nbytes - len(tail))
    bits = Cat(message, Const(int.from_bytes(tail, "little"), 8 * len(tail)), Const(0, pad))
    return [bits[64 * k:64 * (k + 1)] for k in range(nwords)]


# ---- hardware ---------------------------------------------------------------------------

#: The attestor's result: the vote, its attestation and the proof digest.
AttestorOut = data.StructLayout({
    "vote": unsigned(1),
    "attestation": unsigned(OUT_BITS),
    "digest": unsigned(256),
})

# blocks the attestor generates itself, a word per cycle (the ``gen`` writer)
_GEN_PREFIX, _GEN_KATT, _GEN_MSG, _GEN_DESC = range(4)


class Attestor(wiring.Component):
    """Proof digest, tag check (KEM engines) and attestation of one validator core.

    Key load: a ``K_att`` offered on ``i_katt`` (only while no request is in flight) is
    taken into a register in one cycle; ``katt_busy`` stays low (kept for the shell's key
    loader, which waits for it).

    Request: ``start`` (a pulse) begins a request; ``descriptor`` and ``nonce`` are stable
    from then until ``o`` is taken. The proof beats arrive on ``i_digest`` (``last`` on the
    final one, any count); then PD, ``A0`` and ``A1`` are computed. With ``kem`` the engine's
    ``K`` is taken from ``i_k`` and ``KMAC256(K, D, 256, "pqvote/proof")`` is compared with
    ``tag`` (every bit, no early exit); otherwise the verdict is taken from ``i_verdict``.
    ``vote = ok & verdict``; if ``skip`` is high when the verdict would be awaited (the
    engine was aborted) the vote is 0 and nothing is taken. ``o`` carries the vote, its
    attestation and PD, held until taken. After a tag check ``o.payload.vote`` is the
    comparison of the state register with ``tag`` (combinational; ``ok`` and ``tag`` must
    stay stable until ``o`` is taken, as they do in the shell).

    Timing (``rounds_per_cycle = 1``; 12 instead of 24 with 2): a block whose last word is
    taken while the state is idle is permuted from the cycle after the next (a word goes
    through the word register ``wq`` first); the words of the next
    block are taken while it is permuted (17 beats per 24 cycles at one beat offered per
    cycle, and the first of the block after in the cycle after the permutation's last
    round, when that block starts). PD is known 24 cycles after the final block is complete
    (or after the previous permutation, if later); ``A0`` and ``A1`` follow in six
    permutations (``K`` is taken 197 cycles after the final beat of a 128-beat proof, 101
    with 2 rounds per cycle). From then on ``o.valid`` follows ``i_verdict.valid`` by 1
    cycle and ``i_k.valid`` by 50 cycles (26 with 2 rounds per cycle: ``K`` is taken into
    a register of its own, its block absorbed from there in the next cycle, then the two
    tag permutations); a verdict or ``K`` offered earlier waits. The schedule depends only on the number of beats and the
    cycles in which they are offered.

    Hash service (``hash_service``, KEM engines only): while the attestor waits for ``K``
    its permutation is free, so an engine without a Keccak of its own hashes here. ``hash``
    is the client side of a :class:`~hdl.sponge.KeccakSponge` (``SpongeClientSignature``)
    restricted to what fits the digest's block buffer: rate-136 modes (``SHAKE256``; a word
    with mode ``SHA3_256`` gives SHA3-256), any message length (``nbytes`` on the final word),
    and the first ``SERVICE_OUT_WORDS`` output words; ``stop`` ends the job (it is taken
    into a register first: the job ends, and ``K`` is awaited, a cycle later). A message offered
    earlier waits until the attestations are done (the schedule above). The words come
    through a register of their own (one word is taken ahead, decoded, with a skid register
    behind it so that ``hash.i.ready`` is a flip-flop: bytes past
    ``nbytes`` cleared, the domain byte of the message's first word's mode after a short
    final word's bytes), so the block logic starts from flip-flops; blocks are then taken
    as in the digest: the first output word 27 cycles (1 round per cycle) after the final
    word is taken if the state is idle then (a message ending with a whole word takes a
    word of padding more). ``K`` offered during a job waits for it.

    Parameters
    ----------
    vendor : str
        One of ``golden.proof.VENDORS``; its id is the first attested byte.
    kem : bool
        The engine returns ``K`` (check the tag here) rather than a verdict.
    rounds_per_cycle : int
        Rounds per clock of the round logic (1 or 2). With 2 a 17-beat block is permuted
        in 12 cycles, so the proof is taken at one beat per cycle; with 1 the digest
        back-pressures ``i_digest``.
    hash_service : bool
        Offer the permutation to the engine between the attestations and ``K`` (``kem``).

    Members
    -------
    i_katt : ``In(stream.Signature(unsigned(256)))``
        ``K_att`` of a new key.
    katt_busy : ``Out(1)``
        Always low: ``K_att`` is taken in one cycle.
    start : ``In(1)``
        A request begins.
    descriptor, nonce : ``In(192)``, ``In(64)``
        ``D`` and ``N`` of the request.
    i_digest : ``In(stream.Signature(Word))``
        Every proof beat as received.
    ok : ``In(1)``
        Key accepted, length and padding correct.
    skip : ``In(1)``
        No verdict or ``K`` will come for this request.
    tag : ``In(256)``  (``kem``)
        The proof's tag; stable before the engine's K comes.
    i_k : ``In(stream.Signature(unsigned(256)))``  (``kem``)
        The engine's ``K``.
    i_verdict : ``In(stream.Signature(unsigned(1)))``  (not ``kem``)
        The engine's verdict.
    hash : ``In(SpongeClientSignature)``  (``hash_service``)
        The engine's hash jobs.
    o : ``Out(stream.Signature(AttestorOut))``
        Vote, attestation and digest of the request.
    """

    def __init__(self, *, vendor, kem, rounds_per_cycle=2, hash_service=False):
        if vendor not in VENDORS:
            raise ValueError(f"Vendor must be one of {', '.join(map(repr, VENDORS))}, "
                             f"not {vendor!r}")
        if not isinstance(kem, bool):
            raise TypeError(f"KEM flag must be a bool, not {kem!r}")
        if rounds_per_cycle not in (1, 2) or not isinstance(rounds_per_cycle, int):
            raise ValueError(f"Round count per cycle must be 1 or 2, not {rounds_per_cycle!r}")
        if not isinstance(hash_service, bool):
            raise TypeError(f"Hash service flag must be a bool, not {hash_service!r}")
        if hash_service and not kem:
            raise ValueError("A hash service needs a KEM engine (it runs while K is awaited)")
        self._vendor = vendor
        self._kem = kem
        self._hash_service = hash_service
        self._rounds_per_cycle = rounds_per_cycle
        members = {
            "i_katt": In(stream.Signature(unsigned(8 * KATT_BYTES))),
            "katt_busy": Out(1),
            "start": In(1),
            "descriptor": In(8 * DESCRIPTOR_BYTES),
            "nonce": In(64),
            "i_digest": In(stream.Signature(Word)),
            "ok": In(1),
            "skip": In(1),
            "o": Out(stream.Signature(AttestorOut)),
        }
        if kem:
            members["tag"] = In(8 * TAG_BYTES)
            members["i_k"] = In(stream.Signature(unsigned(256)))
            if hash_service:
                members["hash"] = In(SpongeClientSignature)
        else:
            members["i_verdict"] = In(stream.Signature(unsigned(1)))
        super().__init__(wiring.Signature(members))

    @property
    def vendor(self):
        return self._vendor

    @property
    def kem(self):
        return self._kem

    @property
    def rounds_per_cycle(self):
        return self._rounds_per_cycle

    @property
    def hash_service(self):
        return self._hash_service

    def elaborate(self, platform):
        m = Module()
        kem = self._kem
        rpc = self._rounds_per_cycle
        steps = 24 // rpc
        RW = RATE_WORDS

        # ---- state register, round logic and theta's D -----------------------------------
        st = [Signal(64, name=f"st{k}") for k in range(25)]
        # theta's D[x] = C[x-1] ^ rot(C[x+1], 1) of st, kept in a register and updated with
        # every change of st, so that each theta output bit is st ^ D: one XOR of two
        # flip-flops in front of chi (the sponge keeps C; D saves the second XOR)
        dreg = [Signal(64, name=f"dreg{x}") for x in range(5)]
        step = Signal(range(steps))          # 0 unless a permutation runs
        running = Signal()                   # a permutation is in progress
        lastr = Signal()                     # ... and this cycle computes its last round(s)

        # the round constants of the *next* step (entry k: those of step k + 1), read with
        # the step register; rc holds the current step's (round 0's when no round ran
        # before), so the round logic reads them from flip-flops
        rc_words = round_constant_words(rpc)
        m.submodules.rc_rom = rc_rom = memory.Memory(
            shape=unsigned(64 * rpc), depth=steps, init=rc_words[1:] + rc_words[:1])
        rc_rd = rc_rom.read_port(domain="comb")  # combinational read of the step register
        rc = Signal(64 * rpc, init=rc_words[0])
        m.d.comb += rc_rd.addr.eq(step)
        # the block buffer (below), XORed into the first round's input when a permutation
        # starts on it: each rate lane takes its own buffer word, D takes the buffer's D
        dbuf = [Signal(64, name=f"dbuf{k}") for k in range(RW)]
        bdx = [Signal(64, name=f"bdx{x}") for x in range(5)]      # theta's D of dbuf
        dfull = Signal()                     # a complete block waits in dbuf
        # registered copies of dfull & ~running and running | dfull (computed from the
        # next values), so the selects of the round input and the next state, which fan
        # out to every state bit, come straight from flip-flops
        start = Signal()                     # round 0 on st ^ dbuf in this cycle
        rounds = Signal()                    # the round logic gives the next state
        # the buffer as the round input sees it: a copy of dbuf and bdx taken a cycle ahead
        # (from their next values) that is zero in every cycle but a permutation's first
        # (reset from `running_next`, a flip-flop of its own), so theta's inputs are four
        # flip-flops (st ^ bz ^ dreg ^ bdz) with no `start` gate in front
        bz = [Signal(64, name=f"bz{k}", reset_less=True) for k in range(RW)]
        bdz = [Signal(64, name=f"bdz{x}", reset_less=True) for x in range(5)]
        running_next = Signal()
        m.d.sync += rc.eq(Mux(rounds & ~lastr, rc_rd.data, rc_words[0]))
        # the round's theta, its chi outputs and their row parities are kept signals
        # (boundaries of the LUT mapping: ABC maps the cones between them on their own);
        # measured, this maps the round in ≈ 500 fewer LUTs than one unbounded cone
        # the round logic (theta of flip-flops -> chi -> theta's D of the output) is a
        # module of its own, a mapping partition of `make synth` (hdl.target.PARTITION_PREFIX):
        # the LUT mapper then minimises the depth of this loop on its own, instead of
        # letting it grow to the depth of the longest path elsewhere in the core
        mr = Module()
        m.submodules[PARTITION_PREFIX + "round"] = mr
        theta = [Signal(64, name=f"theta{k}", attrs={"keep": 1}) for k in range(25)]
        for k in range(25):
            a_in = st[k] ^ bz[k] if k < RW else st[k]
            mr.d.comb += theta[k].eq(a_in ^ (dreg[k % 5] ^ bdz[k % 5]))
        zero = [Const(0, 64)] * 5
        lanes = theta
        for j in range(rpc):
            lanes = keccak_round(mr, lanes, rc[64 * j:64 * (j + 1)], prefix=f"r{j}",
                                 D=zero if j == 0 else None)
        # theta's D of the round output, each bit a 10-input XOR: the parity of rows 0..3 of
        # each column (q), then D[x] = (q[x-1] ^ rot(q[x+1], 1)) ^ (out[x-1, 4] ^
        # rot(out[x+1, 4], 1)). Paired this way, no column's full parity (q ^ out[., 4]) is
        # a common term of two D words, so the mapper does not share it behind a LUT level
        # of its own: each D bit is one LUT after q (measured: the round loop 5 LUT levels
        # instead of 6)
        chi = [Signal(64, name=f"chi{k}", attrs={"keep": 1}) for k in range(25)]
        q = [Signal(64, name=f"q{x}", attrs={"keep": 1}) for x in range(5)]
        for k in range(25):
            mr.d.comb += chi[k].eq(lanes[k])
        for x in range(5):
            mr.d.comb += q[x].eq(chi[x] ^ chi[x + 5] ^ chi[x + 10] ^ chi[x + 15])
        d_round = [Signal(64, name=f"out_d{x}") for x in range(5)]
        for x in range(5):
            lo, hi = (x - 1) % 5, (x + 1) % 5
            mr.d.comb += d_round[x].eq((q[lo] ^ q[hi].rotate_left(1)) ^
                                      (chi[lo + 20] ^ chi[hi + 20].rotate_left(1)))
        lanes = chi

        # ---- per-request registers --------------------------------------------------------
        katt = Signal(8 * KATT_BYTES)
        pd = Signal(256)
        att = [Signal(OUT_BITS, name=f"att{v}") for v in (0, 1)]
        att_vote = Signal()                  # the vote bit of the attestation being computed
        vote_r = Signal()                    # the vote after a verdict (or skip)

        # ---- the block being collected: one-hot word position ----------------------------
        wp = Signal(RW, init=1)              # one-hot: lane of the next word
        wcol = Signal(5, init=1)             # one-hot: the column of that lane

        # ---- word sources: proof beats or hash-service words (stream), generated blocks ---
        open_ = Signal()                     # the stream intake is open (start .. last)
        hashing = Signal()                   # ... and takes the engine's hash words
        in_valid = Signal()
        in_word = Signal(64)                 # the word for the buffer: message bytes, a
                                             # final word's domain byte after them
        in_last = Signal()
        in_short = Signal()                  # a final word of fewer than 8 bytes (the
                                             # domain byte is in it)
        s_ready = Signal()
        if self._hash_service:
            dom = Signal(8)                  # the message's domain byte
            # the engine's words come through a register of their own (hq, one word taken
            # ahead), decoded on their way in (bytes past nbytes cleared, a short final
            # word's domain byte after its bytes): the block logic starts from flip-flops
            # beside it, not from the engine's request register across the core. As in
            # the sponge, a message's mode is that of its first word.
            hw = self.hash.i.payload
            hw_word = Signal(64)
            hw_dom = Signal(8)
            hw_first = Signal(init=1)        # the next word starts a message
            msg_dom = Signal(8)              # the domain byte of the message coming in
            m.d.comb += [
                hw_dom.eq(Mux(hw_first, Mux(hw.mode == SpongeMode.SHA3_256,
                                            SHA3_DOMAIN, SHAKE_DOMAIN), msg_dom)),
            ]
            # byte by byte: kept if not in the final word or below nbytes, the domain byte
            # at byte nbytes of a final word (flat per-byte selects, a LUT or two deep,
            # rather than a case over the byte count)
            for i in range(8):
                keep = Signal(name=f"hw_keep{i}")
                at = Signal(name=f"hw_at{i}")
                m.d.comb += [keep.eq(~hw.last | (hw.nbytes > i)),
                             at.eq(hw.last & (hw.nbytes == i)),
                             hw_word[8 * i:8 * i + 8].eq(Mux(keep, hw.data[8 * i:8 * i + 8], 0) |
                                                         Mux(at, hw_dom, 0))]
            hq_valid = Signal()
            hq_word = Signal(64)
            hq_last = Signal()
            hq_short = Signal()
            hq_dom = Signal(8)
            # behind hq a skid register (hk) takes the word that comes while hq is full and
            # not read: the engine's ready is a flip-flop (~hk_valid), so the engine's
            # handshake logic does not start in the attestor's block logic
            hk_valid = Signal()
            hk_word = Signal(64)
            hk_last = Signal()
            hk_short = Signal()
            hk_dom = Signal(8)
            hq_free = Signal()               # hq is empty or read by the stream this cycle
            hw_take = Signal()               # the engine's word is taken
            m.d.comb += [self.hash.i.ready.eq(~hk_valid),
                         hq_free.eq(~hq_valid | (s_ready & hashing)),
                         hw_take.eq(self.hash.i.valid & ~hk_valid)]
            incoming = [hw_word, hw.last, hw.last & (hw.nbytes < 8), hw_dom]
            with m.If(hq_free):
                with m.If(hk_valid):
                    m.d.sync += [hq_valid.eq(1), hk_valid.eq(0)]
                    m.d.sync += [a.eq(b) for a, b in zip(
                        (hq_word, hq_last, hq_short, hq_dom), (hk_word, hk_last, hk_short, hk_dom))]
                with m.Else():
                    m.d.sync += hq_valid.eq(self.hash.i.valid)
                    m.d.sync += [a.eq(b) for a, b in zip(
                        (hq_word, hq_last, hq_short, hq_dom), incoming)]
            with m.Elif(hw_take):
                m.d.sync += hk_valid.eq(1)
                m.d.sync += [a.eq(b) for a, b in zip(
                    (hk_word, hk_last, hk_short, hk_dom), incoming)]
            with m.If(hw_take):
                m.d.sync += [hw_first.eq(hw.last), msg_dom.eq(hw_dom)]
            with m.If(self.start):
                # nothing of an earlier request is hashed
                m.d.sync += [hq_valid.eq(0), hk_valid.eq(0), hw_first.eq(1)]
            m.d.comb += [
                in_valid.eq(Mux(hashing, hq_valid, self.i_digest.valid)),
                in_word.eq(Mux(hashing, hq_word, self.i_digest.payload.data)),
                in_last.eq(Mux(hashing, hq_last, self.i_digest.payload.last)),
                in_short.eq(hashing & hq_short),
                self.i_digest.ready.eq(s_ready & ~hashing),
            ]
        else:
            dom = Const(SHA3_DOMAIN, 8)
            m.d.comb += [
                in_valid.eq(self.i_digest.valid),
                in_word.eq(self.i_digest.payload.data),
                in_last.eq(self.i_digest.payload.last),
                self.i_digest.ready.eq(s_ready),
            ]

        # the gen writer: the blocks the attestor builds itself, a word per cycle through
        # the register gen_q; gsel is one-hot over every word of every block
        message = Cat(Const(VENDORS[self._vendor], 8), self.nonce, self.descriptor,
                      att_vote, Const(0, 7), pd)
        prefix = kmac256_prefix_block(VOTE_CUSTOMIZATION)
        prefix_words = words_le(prefix)
        assert len(prefix_words) == RW
        while prefix_words[-1] == 0:         # the zero tail is the state's own (cleared)
            prefix_words.pop()
        blocks = {                           # kind: (words, final block of a message)
            _GEN_PREFIX: (prefix_words, False),
            _GEN_KATT: (_key_lanes(katt, head=True), False),
            _GEN_MSG: (_final_words(message, ATTEST_MSG_BYTES), True),
            _GEN_DESC: (_final_words(self.descriptor, DESCRIPTOR_BYTES), True),
        }
        entries, first = [], {}
        for kind, (words, final) in blocks.items():
            first[kind] = len(entries)
            entries += [(w, i == len(words) - 1, final) for i, w in enumerate(words)]
        gsel = Signal(len(entries))
        gen_word = Signal(64)
        gen_last = Signal()
        gen_final = Signal()
        word_or, final_or = 0, 0
        for i, (w, last, final) in enumerate(entries):
            word_or = word_or | Mux(gsel[i], w, 0)
            if last and final:
                final_or = final_or | gsel[i]
        m.d.comb += [gen_word.eq(word_or), gen_final.eq(final_or)]
        # whether gsel is non-zero (g_on) and whether it is at a block's last word
        # (gen_last) are flags of their own, written with gsel, so the writer's enable and
        # gsel's next value do not wait for OR trees over gsel (which the mapper shared
        # with the word's)
        g_on = Signal()
        last_pos = [i for i, (_, last, _) in enumerate(entries) if last]
        gen_v = Signal()                     # gen_q holds a word for the block
        gen_q = Signal(64)
        gen_q_end = Signal()
        gen_q_final = Signal()

        # the word offered to the block this cycle and what it means for the block
        w_valid = Signal()
        w_ready = Signal()
        w_data = Signal(64)
        w_end = Signal()                     # it completes the block
        w_final = Signal()                   # ... which is a message's final block
        # every word comes to the buffer through a register of its own (wq), so the
        # buffer's write selects (a copy per lane and per column, each driving 64 bits
        # spread over the state) are one LUT of flip-flops next to them, not the end of
        # the sources' handshakes (the proof intake, the hash service, the gen writer)
        wq_valid = Signal()
        wq_data = Signal(64)
        wq_endf = Signal()                   # it ends the block wherever it goes
        wq_atwp = Signal()                   # it ends the block if it goes into lane 16
        wq_final = Signal()
        # wq takes a word this cycle if one is offered: ~wq_valid | w_ready, kept in a
        # flip-flop of its own computed from the next values, so the sources' readies and
        # the gen writer's enable are one LUT of flip-flops
        wq_in_ready = Signal(init=1)
        wq_valid_next = Signal()
        m.d.comb += [
            # a new word may enter when the buffer is free or is emptied in this cycle
            w_ready.eq(~dfull | start),
            s_ready.eq(open_ & ~gen_v & wq_in_ready),
            w_valid.eq(wq_valid),
            w_data.eq(wq_data),
            w_end.eq(wq_endf | (wq_atwp & wp[-1])),
            w_final.eq(wq_final),
        ]
        # (a request's start empties it: nothing of an earlier request goes in)
        m.d.comb += wq_valid_next.eq(Mux(self.start, 0,
                                         Mux(wq_in_ready, gen_v | (open_ & in_valid), wq_valid)))
        m.d.sync += wq_valid.eq(wq_valid_next)
        with m.If(wq_in_ready):
            with m.If(gen_v):
                m.d.sync += [wq_data.eq(gen_q), wq_endf.eq(gen_q_end), wq_atwp.eq(0),
                             wq_final.eq(gen_q_final)]
            with m.Else():
                # a final word with room for the domain byte ends the message; after a
                # whole final word the domain byte follows as a word of its own (from
                # gen_q). A short final word (`in_short`) is only ever a hash-service word,
                # its domain byte already in it (hq_word); a digest beat is always whole
                m.d.sync += [wq_data.eq(in_word), wq_endf.eq(in_short), wq_atwp.eq(1),
                             wq_final.eq(in_short)]
        hs = Signal()                        # a word is taken into the buffer
        m.d.comb += hs.eq(w_valid & w_ready)

        # ---- what the state takes this cycle ---------------------------------------------
        # the round output while a permutation runs or starts (on st ^ dbuf); otherwise it
        # holds, or is cleared or takes the tag's constant (`load`)
        load = Signal()                      # the state becomes 0 (decided the cycle before) ...
        load_proof = Signal()                # ... or P(prefix("pqvote/proof")) ^ keyblock(0)
        kabs = Signal()                      # the engine's K fills the buffer (tag check)
        wait_k = Signal()                    # the FSM is in Verdict (a flag of its own:
                                             # kabs fans out to the buffer's key lanes)
        kq = Signal(256)                     # K, taken into a register of its own in the
                                             # handshake and absorbed in the next cycle: the
                                             # engine's K and valid end in flip-flops here,
                                             # kabs (the buffer's K select) is a register
        if kem:
            k_take = Signal()                # K is taken (in Verdict)
            m.d.comb += k_take.eq(self.i_k.valid & self.i_k.ready)
            m.d.sync += kabs.eq(k_take)
            with m.If(k_take):
                m.d.sync += kq.eq(self.i_k.payload)
        c_proof = _loaded_state(PROOF_CUSTOMIZATION)
        c_proof_d = _theta_d_of(c_proof)
        for k in range(25):
            with m.If(load):
                m.d.sync += st[k].eq(Mux(load_proof, c_proof[k], 0))
            with m.Elif(rounds):
                m.d.sync += st[k].eq(lanes[k])
        # dreg is only ever cleared: the tag's constant's D (c_proof_d) comes with K's block
        # in bdx (D is linear), so no select sits between the round output's D and dreg
        for c in range(5):
            with m.If(load):
                m.d.sync += dreg[c].eq(0)
            with m.Elif(rounds):
                m.d.sync += dreg[c].eq(d_round[c])

        # step is 0 unless a permutation runs (a start computes round 0)
        dfull_next = Signal()
        m.d.comb += running_next.eq(rounds & ~lastr)
        m.d.sync += [
            step.eq(Mux(running_next, step + 1, 0)),
            lastr.eq(running_next & (step == steps - 2)),
            running.eq(running_next),
            dfull.eq(dfull_next),
            start.eq(dfull_next & ~running_next),
            rounds.eq(dfull_next | running_next),
            # ~wq_valid | ~dfull | start of the next cycle
            wq_in_ready.eq(~wq_valid_next | ~dfull_next | ~running_next),
        ]

        # ---- the buffer: the block being collected, a word per cycle at lane wp --------
        pad = Signal()                       # a final block is complete: 0x80 into lane 16
        m.d.comb += pad.eq(hs & w_final)     # (w_final implies w_end)
        # K (tag check) comes as a block of its own: its key lanes, taken in one cycle into
        # the empty buffer while the state holds the tag's constant
        k_lanes = _key_lanes(kq) if kem else []
        dbuf_next = [Signal(64, name=f"dbuf_next{k}") for k in range(RW)]
        bdx_next = [Signal(64, name=f"bdx_next{x}") for x in range(5)]
        # the handshake enters the buffer's logic last: a copy of it per lane and per column
        # (`w_valid` and a flag from registers), each selecting between the word (or its
        # D contribution) and what the lane holds otherwise; K's lanes (kabs) and a word
        # never come in the same cycle (K is taken in Verdict, with no stream open and no
        # block being generated), so the word's select may come after K's
        hs_lane = [Signal(name=f"hs_lane{k}", attrs={"keep": 1}) for k in range(RW)]
        for k in range(RW):
            m.d.comb += hs_lane[k].eq(w_valid & (w_ready & wp[k]))
            rest = Mux(start, 0, dbuf[k])
            if k < len(k_lanes):
                rest = Mux(kabs, k_lanes[k], rest)
            m.d.comb += dbuf_next[k].eq(Mux(hs_lane[k], w_data, rest))
        # the pad bit is the only one pad touches: a lane is zero until it is written in
        # its block (a start clears the buffer, and every block is completed), so lane 16
        # is w_data if the final word goes there and zero otherwise through its own write
        with m.If(pad):
            m.d.comb += dbuf_next[-1][63].eq(1)
        for k in range(RW):
            m.d.sync += [dbuf[k].eq(dbuf_next[k]),
                         bz[k].eq(Mux(running_next, 0, dbuf_next[k]))]
        for x in range(5):
            m.d.sync += [bdx[x].eq(bdx_next[x]),
                         bdz[x].eq(Mux(running_next, 0, bdx_next[x]))]
        pad_col = (RW - 1) % 5
        for c in range(5):
            lo, hi = (c - 1) % 5, (c + 1) % 5       # D[c] = C[c-1] ^ rot(C[c+1], 1)
            # the word's contribution to D[c]: itself if its lane is in column c-1, rotated
            # if in column c+1 (wcol is one-hot: at most one of the two)
            cw = Signal(64, name=f"cw{c}", attrs={"keep": 1})
            hs_col = Signal(name=f"hs_col{c}", attrs={"keep": 1})
            rest = Signal(64, name=f"brest{c}", attrs={"keep": 1})
            m.d.comb += [cw.eq(Mux(wcol[lo], w_data, 0) | Mux(wcol[hi], w_data.rotate_left(1), 0)),
                         hs_col.eq(w_valid & (w_ready & (wcol[lo] | wcol[hi])))]
            terms = Mux(start, 0, bdx[c])
            if lo == pad_col:
                terms = terms ^ Mux(pad, PAD_END << 56, 0)
            if hi == pad_col:
                terms = terms ^ Mux(pad, (PAD_END << 56) >> 63, 0)     # rot(0x80 << 56, 1)
            if kem:
                # K's block starts on the tag's constant state, whose D is not in dreg
                terms = Mux(kabs, k_lanes[lo] ^ k_lanes[hi].rotate_left(1) ^ c_proof_d[c],
                            terms)
            m.d.comb += [rest.eq(terms), bdx_next[c].eq(rest ^ Mux(hs_col, cw, 0))]
        m.d.comb += dfull_next.eq((dfull & ~start) | (hs & w_end) | kabs)
        with m.If(hs):
            m.d.sync += [wp.eq(Mux(w_end, 1, wp.rotate_left(1))),
                         wcol.eq(Mux(w_end, 1, wcol.rotate_left(1)))]
        # every block is completed, so the position is back at lane 0 whenever the FSM
        # begins a message; a request's start sets it there regardless (from the shell's
        # register, not from the FSM's decisions, which the position's 17 selects would
        # otherwise wait for)
        with m.If(self.start):
            m.d.sync += [wp.eq(1), wcol.eq(1)]

        # ---- the writers ----------------------------------------------------------------
        gen_hs = Signal()                    # gen_q's word goes into wq
        m.d.comb += gen_hs.eq(gen_v & wq_in_ready)
        with m.If(g_on & (~gen_v | gen_hs)):
            m.d.sync += [gen_q.eq(gen_word), gen_q_end.eq(gen_last), gen_v.eq(1),
                         gen_q_final.eq(gen_final), gsel.eq(Mux(gen_last, 0, gsel << 1)),
                         g_on.eq(~gen_last),
                         gen_last.eq(Cat(*[gsel[i - 1] for i in last_pos if i > 0]).any())]
        with m.Elif(gen_hs):
            m.d.sync += gen_v.eq(0)
        with m.If(s_ready & in_valid & in_last):       # the stream's last word into wq
            m.d.sync += open_.eq(0)
            with m.If(~in_short):
                # the domain byte after a whole final word: a word of its own, the last
                m.d.sync += [gen_q.eq(dom), gen_q_end.eq(1), gen_q_final.eq(1),
                             gen_v.eq(1)]

        def gen(kind):
            m.d.sync += [gsel.eq(1 << first[kind]), g_on.eq(1),
                         gen_last.eq(int(first[kind] in last_pos))]

        # the loads are decided a cycle ahead and registered (load, load_proof fan out to
        # every state bit); nothing uses the state in the cycle in between
        m.d.sync += [load.eq(0), load_proof.eq(0)]

        def clear_state():
            m.d.sync += load.eq(1)

        def open_stream(hash_job, domain):
            # a new message on a cleared state: the proof beats or a hash job
            clear_state()
            m.d.sync += [open_.eq(1), hashing.eq(hash_job)]
            if self._hash_service:
                m.d.sync += dom.eq(domain)

        final_in = Signal()                  # the message's final block is complete
        block_in = Signal()                  # a block is complete
        m.d.comb += [block_in.eq(hs & w_end), final_in.eq(hs & w_end & w_final)]

        # ---- sequencer --------------------------------------------------------------------
        m.d.comb += self.o.payload.digest.eq(pd)
        hsq = Signal(range(SERVICE_OUT_WORDS + 1))    # hash service: next output word
        stopped = Signal()                   # hash service: the job's stop, registered
        out_lanes = Cat(*st[:OUT_BITS // 64])
        vote = Signal()
        m.d.comb += self.o.payload.vote.eq(vote)
        m.d.comb += self.o.payload.attestation.eq(Mux(vote, att[1], att[0]))
        m.d.comb += vote.eq(vote_r)

        def attest_start():
            # KMAC256(K_att, id ‖ N ‖ D ‖ vote ‖ PD, 256, "pqvote/vote") from a cleared state:
            # the constant prefix block, K_att's key block, the final block
            clear_state()
            gen(_GEN_PREFIX)

        # the engine's handshakes start from flip-flops: K is awaited while wait_k (the
        # Verdict state's flag), the hash service's output words are offered while ho_on
        # (HashOut, from the final block until the fourth word is taken or the job stops)
        # and the state is idle
        ho_on = Signal()
        if kem:
            m.d.comb += self.i_k.ready.eq(wait_k & ~self.skip)
        if self._hash_service:
            m.d.comb += self.hash.o.valid.eq(ho_on & ~rounds)

        with m.FSM(name="attest_fsm"):
            with m.State("Idle"):
                m.d.comb += self.i_katt.ready.eq(~self.start)
                with m.If(self.i_katt.valid & ~self.start):
                    m.d.sync += katt.eq(self.i_katt.payload)
                with m.If(self.start):
                    open_stream(0, SHA3_DOMAIN)
                    m.next = "Digest"
            with m.State("Digest"):
                with m.If(final_in):
                    m.next = "DigestOut"
            with m.State("DigestOut"):
                # the final block's permutation is done
                with m.If(~rounds):
                    m.d.sync += [pd.eq(out_lanes), att_vote.eq(0)]
                    attest_start()
                    m.next = "AttestPrefix"
            # an attestation's three blocks: each state waits for its block to go in and
            # has the next one generated
            for state, then, block in (("AttestPrefix", "AttestKey", _GEN_KATT),
                                       ("AttestKey", "AttestMsg", _GEN_MSG),
                                       ("AttestMsg", "AttestOut", None)):
                with m.State(state):
                    with m.If(block_in):
                        if block is not None:
                            gen(block)
                        m.next = then
            with m.State("AttestOut"):
                with m.If(~rounds):
                    with m.If(~att_vote):
                        m.d.sync += [att[0].eq(out_lanes), att_vote.eq(1)]
                        attest_start()
                        m.next = "AttestPrefix"
                    with m.Else():
                        m.d.sync += att[1].eq(out_lanes)
                        if kem:
                            # the tag's constant state waits for K
                            m.d.sync += [load.eq(1), load_proof.eq(1), wait_k.eq(1)]
                        m.next = "Verdict"
            if kem:
                with m.State("Verdict"):
                    # tag' = P(P(prefix("pqvote/proof") ^ keyblock(K)) ^ finalblock(D))
                    # (i_k.ready is wait_k & ~skip, set above: wait_k is high exactly in
                    # this state)
                    m.d.sync += wait_k.eq(0)         # (unless kept below)
                    with m.If(self.skip):
                        m.d.sync += vote_r.eq(0)
                        m.next = "Respond"
                    with m.Elif(self.i_k.valid):
                        m.next = "KeyIn"
                    if not self._hash_service:
                        with m.Else():
                            m.d.sync += wait_k.eq(1)
                    if self._hash_service:
                        with m.Elif(hq_valid):
                            open_stream(1, hq_dom)
                            m.d.sync += hsq.eq(0)
                            m.next = "Hash"
                        with m.Else():
                            m.d.sync += wait_k.eq(1)
                if self._hash_service:
                    with m.State("Hash"):
                        with m.If(final_in):
                            m.d.sync += ho_on.eq(1)
                            m.next = "HashOut"
                    with m.State("HashOut"):
                        # the first output words, then back to waiting for K a cycle after
                        # stop: stop is registered (stopped) before it decides anything, so
                        # the engine's handshake logic ends in a flip-flop here instead of
                        # running on into the attestor's control registers; the words are
                        # offered while ho_on (below)
                        ready = Signal()
                        m.d.comb += ready.eq(~rounds)
                        with m.Switch(hsq):
                            for w in range(SERVICE_OUT_WORDS):
                                with m.Case(w):
                                    m.d.comb += self.hash.o.payload.eq(st[w])
                        with m.If(self.hash.o.valid & self.hash.o.ready):
                            m.d.sync += hsq.eq(hsq + 1)
                            with m.If(hsq == SERVICE_OUT_WORDS - 1):
                                m.d.sync += ho_on.eq(0)
                        m.d.sync += stopped.eq(self.hash.stop & ready)
                        with m.If(self.hash.stop & ready):
                            m.d.sync += ho_on.eq(0)
                        with m.If(stopped):
                            m.d.sync += [load.eq(1), load_proof.eq(1), wait_k.eq(1)]
                            m.d.sync += [hashing.eq(0), stopped.eq(0)]
                            m.next = "Verdict"
                with m.State("KeyIn"):
                    # K's block goes into the buffer from kq (kabs)
                    gen(_GEN_DESC)
                    m.next = "Tag"
                with m.State("Tag"):
                    # finalblock(D) fills the buffer while K's block is permuted
                    with m.If(block_in):
                        m.next = "TagOut"
                with m.State("TagOut"):
                    # the response in the cycle after the second permutation: vote = ok & match
                    m.d.comb += [self.o.valid.eq(~rounds),
                                 vote.eq(self.ok & (out_lanes == self.tag))]
                    with m.If(self.o.valid & self.o.ready):
                        m.next = "Idle"
            else:
                with m.State("Verdict"):
                    m.d.comb += self.i_verdict.ready.eq(~self.skip)
                    with m.If(self.skip):
                        m.d.sync += vote_r.eq(0)
                        m.next = "Respond"
                    with m.Elif(self.i_verdict.valid):
                        m.d.sync += vote_r.eq(self.ok & self.i_verdict.payload)
                        m.next = "Respond"
            with m.State("Respond"):
                m.d.comb += self.o.valid.eq(1)
                with m.If(self.o.ready):
                    m.next = "Idle"
        return m
