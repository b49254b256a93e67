"""Proof digest, proof-tag check and attestation of a validator core on one Keccak
permutation (SPEC §3.2; FIPS 202 §4; SP 800-185 §4.3).

Everything the shell hashes has a fixed shape, so the :class:`Attestor` drives a bare
:class:`~hdl.keccak.KeccakP1600` block by block instead of a general sponge:

* ``PD = SHA3-256(proof beats)``: 17 beats per rate block, absorbed while the previous
  block is permuted;
* ``KMAC256(X, M, 256, S)`` with a 32-byte key ``X`` and a message ``M`` of at most 132
  bytes is three permutations::

      P(P(P(prefix(S)) ^ keyblock(X)) ^ finalblock(M))      first 32 bytes

  ``P(prefix(S))`` is a constant of the customisation string (:func:`prefix_state`, computed
  at elaboration from :mod:`golden.keccak`), so a KMAC costs two permutations, and one when
  the key block is known in advance:

  - tag check (KEM engines): ``KMAC256(K, D, 256, "pqvote/proof")`` from the constant
    ``"pqvote/proof"`` state: 2 permutations once ``K`` arrives;
  - attestation: the state after ``K_att``'s key block, ``P(P(prefix("pqvote/vote")) ^
    keyblock(K_att))``, is computed once when the key is loaded and kept; each request's
    attestations then cost one permutation each. Both ``A0`` (vote 0) and ``A1`` (vote 1)
    are computed while the engine runs, and the vote selects one: the response follows
    the verdict by 1 cycle, or the engine's ``K`` by the two tag permutations.

Datapath::

      i_digest ─► block buffer (17 words, SHA-3 padding) ─┐
      K_att ────► keyblock ──────────┐                    │
      K ────────► keyblock ──────────┤ block ─► ⊕ ─► KeccakP1600 ─┬─► PD, A0, A1, tag'
      id‖N‖D‖v‖PD, D ─► finalblock ──┘         ▲                 └─► kept (after K_att)
                       base: 0, P(prefix(S)), kept, or the previous output
"""

from amaranth.hdl import Module, Signal, Const, Mux, Cat, unsigned
from amaranth.lib import data, stream, wiring
from amaranth.lib.wiring import In, Out

from golden.keccak import (DOMAIN, RATE, keccak_f1600, kmac256_key_block, kmac256_prefix_block,
                           left_encode, right_encode, state_from_bytes)
from golden.proof import (BEAT_BYTES, DESCRIPTOR_BYTES, KATT_BYTES, PROOF_CUSTOMIZATION,
                          TAG_BYTES, VENDORS, VOTE_CUSTOMIZATION)
from hdl.keccak import KeccakP1600, KeccakState
from hdl.sponge import SpongeClientSignature, SpongeMode
from hdl.stream_util import Word

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


# ---- hardware ---------------------------------------------------------------------------

#: The attestor's result: the vote, its attestation and the proof digest.
AttestorOut = data.StructLayout({
    "vote": unsigned(1),
    "attestation": unsigned(OUT_BITS),
    "digest": unsigned(256),
})


def _lanes(m, bits, name):
    """Split a ``RATE_BYTES``-byte block value into ``RATE_WORDS`` named 64-bit lanes."""
    lanes = [Signal(64, name=f"{name}{k}") for k in range(RATE_WORDS)]
    for k in range(RATE_WORDS):
        m.d.comb += lanes[k].eq(bits[64 * k:64 * (k + 1)])
    return lanes


def _key_block_value(key):
    # bytepad(encode_string(X), 136) = left_encode(136) ‖ left_encode(8·|X|) ‖ X ‖ 0…
    head = left_encode(RATE_BYTES) + left_encode(8 * KATT_BYTES)
    assert kmac256_key_block(bytes(KATT_BYTES)) == head + bytes(RATE_BYTES - len(head))
    rest = RATE_BYTES - len(head) - KATT_BYTES
    return Cat(Const(int.from_bytes(head, "little"), 8 * len(head)), key, Const(0, 8 * rest))


def _final_block_value(message, nbytes):
    tail = _final_tail()
    zeros = RATE_BYTES - nbytes - len(tail) - 1
    return Cat(message, Const(int.from_bytes(tail, "little"), 8 * len(tail)),
               Const(0, 8 * zeros), Const(PAD_END, 8))


class Attestor(wiring.Component):
    """Proof digest, tag check (KEM engines) and attestation of one validator core.

    Key load: a ``K_att`` offered on ``i_katt`` (only while no request is in flight) is
    absorbed into the kept state ``P(prefix("pqvote/vote")) ^ keyblock(K_att)`` in one
    permutation; ``katt_busy`` is high until it is kept.

    Request: ``start`` (a pulse) begins a request; ``descriptor`` and ``nonce`` are stable
    from then until ``o`` is taken. The proof beats arrive on ``i_digest`` (``last`` on the
    final one, any count); then PD, ``A0`` and ``A1`` are computed. With ``kem`` the engine's
    ``K`` is taken from ``i_k`` and ``KMAC256(K, D, 256, "pqvote/proof")`` is compared with
    ``tag`` (every bit, no early exit); otherwise the verdict is taken from ``i_verdict``.
    ``vote = ok & verdict``; if ``skip`` is high when the verdict would be awaited (the
    engine was aborted) the vote is 0 and nothing is taken. ``o`` carries the vote, its
    attestation and PD, held until taken.

    Timing (``rounds_per_cycle = 2``; 24 instead of 12 with 1): PD is known 13 cycles after
    the final block is complete; ``A0`` and ``A1`` 25 cycles later. From then on ``o.valid``
    follows ``i_verdict.valid`` by 1 cycle and ``i_k.valid`` by 25 cycles; a verdict or
    ``K`` offered earlier waits. The schedule depends only on the number of beats.

    Hash service (``hash_service``, KEM engines only): while the attestor waits for ``K``
    its permutation is free, so an engine without a Keccak of its own hashes here. ``hash``
    is the client side of a :class:`~hdl.sponge.KeccakSponge` (``SpongeClientSignature``)
    restricted to what fits the digest's block buffer: rate-136 modes (``SHAKE256``; a word
    with mode ``SHA3_256`` gives SHA3-256), any message length (``nbytes`` on the final word),
    and the first ``SERVICE_OUT_WORDS`` output words; ``stop`` ends the job. A message offered
    earlier waits until the attestations are done (the schedule above); absorbing costs
    ``rounds`` + 1 cycles a block, like the digest. ``K`` offered during a job waits for it.

    Parameters
    ----------
    vendor : str
        One of ``golden.proof.VENDORS``; its id is the first attested byte.
    kem : bool
        The engine returns ``K`` (check the tag here) rather than a verdict.
    rounds_per_cycle : int
        Rounds per clock of the permutation (1 or 2). With 2 a 17-beat block is permuted
        in 12 cycles, so the proof is taken at one beat per cycle; with 1 the digest
        back-pressures ``i_digest``.
    hash_service : bool
        Offer the permutation to the engine between the attestations and ``K`` (``kem``).

    Members
    -------
    i_katt : ``In(stream.Signature(unsigned(256)))``
        ``K_att`` of a new key.
    katt_busy : ``Out(1)``
        The kept state is being computed.
    start : ``In(1)``
        A request begins.
    descriptor, nonce : ``In(192)``, ``In(64)``
        ``D`` and ``N`` of the request.
    i_digest : ``In(stream.Signature(Word))``
        Every proof beat as received.
    ok : ``In(1)``
        Key accepted, length and padding correct; sampled with the verdict.
    skip : ``In(1)``
        No verdict or ``K`` will come for this request.
    tag : ``In(256)``  (``kem``)
        The proof's tag; stable once the final beat is taken.
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
        m.submodules.perm = perm = KeccakP1600(rounds_per_cycle=self._rounds_per_cycle)
        kem = self._kem

        # ---- kept and per-request state ----------------------------------------------
        kept = Signal(KeccakState)           # P(prefix("pqvote/vote")) ^ keyblock(K_att), permuted
        pd = Signal(256)
        att = [Signal(OUT_BITS, name=f"att{v}") for v in (0, 1)]
        vote = Signal()
        attestation = Signal(OUT_BITS)
        att_vote = Signal()                  # the vote bit of the attestation being computed

        # ---- digest block buffer (SHA3-256, FIPS 202 §B.2 padding on whole words) -------
        dbuf = [Signal(64, name=f"dbuf{k}") for k in range(RATE_WORDS)]
        dwp = Signal(range(RATE_WORDS))      # next word position
        dfull = Signal()                     # a complete block waits in dbuf
        dfinal = Signal()                    # ... it is the message's final block
        dfirst = Signal()                    # ... it is the first block (zero state)
        dpad = Signal()                      # the message ended on a block boundary: a
                                             # padding-only block follows the one in dbuf

        # ---- permutation input: base ^ block -------------------------------------------
        # jobs: what the permutation absorbs in the cycle it accepts a state
        JOB_DIGEST0, JOB_DIGEST, JOB_KATT, JOB_ATT, JOB_TAG1, JOB_TAG2 = range(6)
        job = Signal(range(6))
        issue = Signal()                     # perm.i.valid
        take = Signal()                      # perm.o.ready

        c_vote = prefix_state(VOTE_CUSTOMIZATION)
        c_proof = prefix_state(PROOF_CUSTOMIZATION)
        digest_block = [Signal(64, name=f"dblk{k}") for k in range(RATE_WORDS)]
        for k in range(RATE_WORDS - 1):
            m.d.comb += digest_block[k].eq(dbuf[k])
        m.d.comb += digest_block[-1].eq(dbuf[-1] | Mux(dfinal, PAD_END << 56, 0))

        katt_block = _lanes(m, _key_block_value(self.i_katt.payload), "katt_blk")
        message = Cat(Const(VENDORS[self._vendor], 8), self.nonce, self.descriptor,
                      att_vote, Const(0, 7), pd)
        att_block = _lanes(m, _final_block_value(message, ATTEST_MSG_BYTES), "att_blk")
        if kem:
            k_block = _lanes(m, _key_block_value(self.i_k.payload), "k_blk")
            d_block = _lanes(m, _final_block_value(self.descriptor, DESCRIPTOR_BYTES), "d_blk")

        for k in range(25):
            base = Signal(64, name=f"base{k}")
            block = Signal(64, name=f"block{k}")
            with m.Switch(job):
                with m.Case(JOB_DIGEST0):
                    m.d.comb += base.eq(0)
                with m.Case(JOB_DIGEST, JOB_TAG2):
                    m.d.comb += base.eq(perm.o.payload[k])
                with m.Case(JOB_KATT):
                    m.d.comb += base.eq(c_vote[k])
                with m.Case(JOB_ATT):
                    m.d.comb += base.eq(kept[k])
                with m.Case(JOB_TAG1):
                    m.d.comb += base.eq(c_proof[k])
            if k < RATE_WORDS:
                with m.Switch(job):
                    with m.Case(JOB_DIGEST0, JOB_DIGEST):
                        m.d.comb += block.eq(digest_block[k])
                    with m.Case(JOB_KATT):
                        m.d.comb += block.eq(katt_block[k])
                    with m.Case(JOB_ATT):
                        m.d.comb += block.eq(att_block[k])
                    if kem:
                        with m.Case(JOB_TAG1):
                            m.d.comb += block.eq(k_block[k])
                        with m.Case(JOB_TAG2):
                            m.d.comb += block.eq(d_block[k])
            m.d.comb += perm.i.payload[k].eq(base ^ block)
        # a request always begins with an empty permutation
        m.d.comb += [perm.i.valid.eq(issue), perm.o.ready.eq(take), perm.cancel.eq(self.start)]
        out_bits = Signal(OUT_BITS)
        m.d.comb += out_bits.eq(Cat(*[perm.o.payload[k] for k in range(OUT_BITS // 64)]))

        # ---- digest intake (and the hash service's messages) --------------------------------
        absorbing = Signal()                 # the intake is open (between start and last)
        consume = Signal()                   # the block in dbuf goes to the permutation
        d_hs = Signal()
        in_ready = Signal()
        in_valid = Signal()
        in_data = Signal(64)                 # message bytes, those past in_n zero
        in_last = Signal()
        in_n = Signal(range(9))              # bytes in the word (8 except on a final word)
        dom_word = Signal(64)                # the domain byte at byte in_n (0 if in_n = 8)
        hashing = Signal()                   # the intake takes the engine's hash message
        if self._hash_service:
            dom = Signal(8)                  # the message's domain byte
            hw = self.hash.i.payload
            hw_n = Signal(range(9))
            hw_data = Signal(64)
            m.d.comb += hw_n.eq(Mux(hw.nbytes > 8, 8, Mux(hw.last, hw.nbytes, 8)))
            with m.Switch(hw_n):
                for n in range(9):
                    with m.Case(n):
                        m.d.comb += hw_data.eq(hw.data & ((1 << (8 * n)) - 1))
            m.d.comb += [
                in_valid.eq(Mux(hashing, self.hash.i.valid, self.i_digest.valid)),
                in_data.eq(Mux(hashing, hw_data, self.i_digest.payload.data)),
                in_last.eq(Mux(hashing, hw.last, self.i_digest.payload.last)),
                in_n.eq(Mux(hashing, hw_n, 8)),
                self.i_digest.ready.eq(in_ready & ~hashing),
                self.hash.i.ready.eq(in_ready & hashing),
            ]
            with m.Switch(in_n):
                for n in range(8):
                    with m.Case(n):
                        m.d.comb += dom_word.eq(dom << (8 * n))
        else:
            dom = Const(SHA3_DOMAIN, 8)
            m.d.comb += [
                in_valid.eq(self.i_digest.valid),
                in_data.eq(self.i_digest.payload.data),
                in_last.eq(self.i_digest.payload.last),
                in_n.eq(8),
                self.i_digest.ready.eq(in_ready),
            ]
        m.d.comb += [
            in_ready.eq(absorbing & ~dpad & (~dfull | consume)),
            d_hs.eq(in_valid & in_ready),
        ]
        with m.If(consume):
            m.d.sync += [dbuf[k].eq(0) for k in range(RATE_WORDS)]
            m.d.sync += [dfull.eq(0), dfirst.eq(0)]
            with m.If(dpad):
                m.d.sync += [dbuf[0].eq(dom), dfull.eq(1), dfinal.eq(1), dpad.eq(0)]
        with m.If(d_hs):
            whole = Signal()                 # the word has 8 message bytes
            m.d.comb += whole.eq(in_n == 8)
            for k in range(RATE_WORDS):
                with m.If(dwp == k):
                    m.d.sync += dbuf[k].eq(in_data | Mux(in_last, dom_word, 0))
                    if k + 1 < RATE_WORDS:
                        with m.If(in_last & whole):
                            m.d.sync += dbuf[k + 1].eq(dom)
            with m.If(in_last | (dwp == RATE_WORDS - 1)):
                m.d.sync += [dwp.eq(0), dfull.eq(1), dfinal.eq(in_last)]
            with m.Else():
                m.d.sync += dwp.eq(dwp + 1)
            with m.If(in_last):
                m.d.sync += absorbing.eq(0)
                with m.If((dwp == RATE_WORDS - 1) & whole):
                    m.d.sync += [dfinal.eq(0), dpad.eq(1)]

        # ---- sequencer --------------------------------------------------------------------
        m.d.comb += self.o.payload.digest.eq(pd)
        m.d.comb += [self.o.payload.vote.eq(vote), self.o.payload.attestation.eq(attestation)]
        hsq = Signal(range(SERVICE_OUT_WORDS + 1))    # hash service: next output word
        if kem:
            match = Signal()
            m.d.comb += match.eq(out_bits == self.tag)

        def open_intake(hash_job, domain):
            # an empty block buffer for a new message: the proof beats or a hash job
            m.d.sync += [dwp.eq(0), dfull.eq(0), dfinal.eq(0), dfirst.eq(1),
                         dpad.eq(0), absorbing.eq(1), hashing.eq(hash_job)]
            if self._hash_service:
                m.d.sync += dom.eq(domain)
            m.d.sync += [dbuf[k].eq(0) for k in range(RATE_WORDS)]

        def absorb_blocks(then):
            # each complete block into the permutation (the first on a zero state); the
            # final one leads to state `then`
            m.d.comb += job.eq(Mux(dfirst, JOB_DIGEST0, JOB_DIGEST))
            with m.If(dfull & Mux(dfirst, ~perm.busy, perm.o.valid)):
                m.d.comb += [issue.eq(1), take.eq(~dfirst), consume.eq(1)]
                with m.If(dfinal):
                    m.next = then

        with m.FSM(name="attest_fsm"):
            with m.State("Idle"):
                m.d.comb += [job.eq(JOB_KATT), self.i_katt.ready.eq(~perm.busy & ~self.start)]
                with m.If(self.start):
                    open_intake(0, SHA3_DOMAIN)
                    m.next = "Digest"
                with m.Elif(self.i_katt.valid & self.i_katt.ready):
                    m.d.comb += issue.eq(1)
                    m.next = "Katt"
            with m.State("Katt"):
                m.d.comb += [self.katt_busy.eq(1), take.eq(1)]
                with m.If(perm.o.valid):
                    m.d.sync += [kept[k].eq(perm.o.payload[k]) for k in range(25)]
                    m.next = "Idle"
            with m.State("Digest"):
                absorb_blocks("DigestOut")
            with m.State("DigestOut"):
                m.d.comb += take.eq(1)
                with m.If(perm.o.valid):
                    m.d.sync += [pd.eq(out_bits), att_vote.eq(0)]
                    m.next = "Attest"
            with m.State("Attest"):
                # A0 = P(kept ^ finalblock(id ‖ N ‖ D ‖ 0 ‖ PD)), then A1 with vote 1
                m.d.comb += [job.eq(JOB_ATT), issue.eq(~att_vote | perm.o.valid),
                             take.eq(1)]
                with m.If(perm.o.valid):
                    m.d.sync += att[0].eq(out_bits)
                with m.If(~att_vote):
                    m.d.sync += att_vote.eq(1)
                with m.Elif(perm.o.valid):
                    m.next = "AttestLast"
            with m.State("AttestLast"):
                m.d.comb += take.eq(1)
                with m.If(perm.o.valid):
                    m.d.sync += att[1].eq(out_bits)
                    m.next = "Verdict"
            if kem:
                with m.State("Verdict"):
                    # tag' = P(P(prefix("pqvote/proof") ^ keyblock(K)) ^ finalblock(D))
                    m.d.comb += [job.eq(JOB_TAG1), self.i_k.ready.eq(~self.skip)]
                    with m.If(self.skip):
                        m.d.sync += [vote.eq(0), attestation.eq(att[0])]
                        m.next = "Respond"
                    with m.Elif(self.i_k.valid):
                        m.d.comb += issue.eq(1)
                        m.next = "Tag"
                    if self._hash_service:
                        with m.Elif(self.hash.i.valid):
                            # a new hash job with the mode's domain byte
                            sha3 = self.hash.i.payload.mode == SpongeMode.SHA3_256
                            open_intake(1, Mux(sha3, SHA3_DOMAIN, SHAKE_DOMAIN))
                            m.d.sync += hsq.eq(0)
                            m.next = "Hash"
                if self._hash_service:
                    with m.State("Hash"):
                        absorb_blocks("HashOut")
                    with m.State("HashOut"):
                        # the first output words, then back to waiting for K on stop
                        m.d.comb += self.hash.o.valid.eq(perm.o.valid &
                                                         (hsq < SERVICE_OUT_WORDS))
                        with m.Switch(hsq):
                            for w in range(SERVICE_OUT_WORDS):
                                with m.Case(w):
                                    m.d.comb += self.hash.o.payload.eq(perm.o.payload[w])
                        with m.If(self.hash.o.valid & self.hash.o.ready):
                            m.d.sync += hsq.eq(hsq + 1)
                        with m.If(self.hash.stop & perm.o.valid):
                            m.d.comb += take.eq(1)
                            m.d.sync += hashing.eq(0)
                            m.next = "Verdict"
                with m.State("Tag"):
                    m.d.comb += [job.eq(JOB_TAG2), take.eq(1), issue.eq(perm.o.valid)]
                    with m.If(perm.o.valid):
                        m.next = "TagOut"
                with m.State("TagOut"):
                    m.d.comb += take.eq(1)
                    with m.If(perm.o.valid):
                        v = self.ok & match
                        m.d.sync += [vote.eq(v), attestation.eq(Mux(v, att[1], att[0]))]
                        m.next = "Respond"
            else:
                with m.State("Verdict"):
                    m.d.comb += self.i_verdict.ready.eq(~self.skip)
                    with m.If(self.skip):
                        m.d.sync += [vote.eq(0), attestation.eq(att[0])]
                        m.next = "Respond"
                    with m.Elif(self.i_verdict.valid):
                        v = self.ok & self.i_verdict.payload
                        m.d.sync += [vote.eq(v), attestation.eq(Mux(v, att[1], att[0]))]
                        m.next = "Respond"
            with m.State("Respond"):
                m.d.comb += self.o.valid.eq(1)
                with m.If(self.o.ready):
                    m.next = "Idle"
        return m
