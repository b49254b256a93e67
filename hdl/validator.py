"""The common validator core interface: key load, request, proof intake, proof digest, tag
check, attestation and response (SPEC §3.2, §4; docs/interfaces.md).

Every pqvote core is a :class:`ValidatorShell` around an algorithm *engine*. Two engine
kinds plug in:

* a **KEM engine** (:data:`KemEngineSignature`) is exactly the standard decapsulation: it
  receives the algorithm key and the ciphertext and returns ``K``; the shell checks the
  proof tag ``KMAC256(K, D, 256, "pqvote/proof")`` itself, in constant time;
* a **signature engine** (:data:`EngineSignature`) receives the key, the descriptor and the
  proof body and returns a verdict.

The shell is three parts, each a component with its own tests::

    i_key ──► KeyLoader ──► engine.key (algorithm-key words, last on the final one)
                  └──────► K_att ─────────────────────────────────┐
    i_req ──► descriptor, nonce registers ──► engine.start        │
    i_proof ─► ProofIntake ─┬─► engine.ct (KEM) / engine.body     │
                            ├─► tag, length and padding checks    ▼
                            └─► every beat ─────────────────► Attestor ◄── engine.k / result
                                                                  └─► o_resp (+ status)

The :class:`~hdl.attestor.Attestor` runs the digest, the tag check and the attestation on one
Keccak state register and round logic of its own (the tag's KMAC prefix state is a constant;
the attestations are recomputed for every request).
"""

from amaranth.hdl import Module, Signal, Mux, unsigned
from amaranth.lib import data, enum, stream, wiring
from amaranth.lib.wiring import In, Out

from golden.proof import (
    BODY_LEN, FRAMES, FRAME_BYTES, BEAT_BYTES, KATT_BYTES, KEY_LEN, OBJECT_LEN, TAG_BYTES,
    VENDORS, Status,
)
from hdl.attestor import Attestor
from hdl.stream_util import Word


__all__ = ["Word", "Request", "Response", "Status", "KeyStatus", "EngineSignature",
           "KemEngineSignature", "engine_kind", "KeyLoader", "ProofIntake", "ValidatorShell",
           "shell_geometry"]


#: A validation request: descriptor ``D`` (24 bytes) and nonce ``N`` (little-endian).
Request = data.StructLayout({"descriptor": unsigned(192), "nonce": unsigned(64)})

#: A validation response. ``status`` uses the 2-bit code of :class:`golden.proof.Status`.
Response = data.StructLayout({
    "vote": unsigned(1),
    "status": Status,
    "attestation": unsigned(256),
    "digest": unsigned(256),
})


class KeyStatus(enum.Enum, shape=2):
    """State of the loaded key, on ``o_key_status``."""
    NONE = 0      # no key since reset
    LOADING = 1   # key words being received or checked
    OK = 2        # key accepted
    BAD = 3       # key rejected (word count, padding, or the engine's checks)


#: What a KEM engine exposes to the shell (engine side; see docs/interfaces.md). The engine
#: is exactly the standard decapsulation ``K = Decaps(key, ct)``.
#:
#: * ``key``: the algorithm key, ``ceil(KEY_LEN/8)`` words, ``last`` on the final one (final
#:   word zero-padded).
#: * ``key_done`` / ``key_ok``: level outputs; ``key_done`` is low from the cycle after the
#:   first word of a new key; ``key_ok`` is meaningful while ``key_done``.
#: * ``start``: one-cycle pulse when a request is accepted (reset per-request state).
#: * ``ct``: the ciphertext only, ``ceil(OBJECT_LEN/8)`` words, ``last`` on the final one;
#:   bytes of the final word past the ciphertext are 0.
#: * ``abort``: one-cycle pulse, request cancelled; return to idle, drop any untaken ``K``.
#: * ``k``: ``K``, byte ``i`` in bits ``[8i+7:8i]``, once per request, held until taken.
#:
#: Timing obligations: ``K`` is produced for every request, with no key or a rejected key
#: loaded too; the cycles from the ``last`` ct word to ``k.valid`` are one constant for
#: every key and ciphertext (implicit rejection included).
_ENGINE_KEY_AND_START = {         # the members both engine kinds begin with
    "key": In(stream.Signature(Word)),
    "key_done": Out(1),
    "key_ok": Out(1),
    "start": In(1),
}
KemEngineSignature = wiring.Signature({
    **_ENGINE_KEY_AND_START,
    "ct": In(stream.Signature(Word)),
    "abort": In(1),
    "k": Out(stream.Signature(unsigned(256))),
})

#: What a signature engine exposes to the shell (engine side; see docs/interfaces.md).
#:
#: * ``key``, ``key_done``, ``key_ok``, ``start``, ``abort``: as in :data:`KemEngineSignature`.
#: * ``descriptor``: stable from ``start`` until the result is taken.
#: * ``body``: the proof body words, ``ceil(body_len/8)`` of them, ``last`` on the final one.
#: * ``result``: the verdict, once per request. The shell runs the engine for every request,
#:   whatever the key status, and masks the verdict itself, so the engine must produce a
#:   result even when no key or a rejected key is loaded.
EngineSignature = wiring.Signature({
    **_ENGINE_KEY_AND_START,
    "descriptor": In(192),
    "body": In(stream.Signature(Word)),
    "abort": In(1),
    "result": Out(stream.Signature(unsigned(1))),
})


def engine_kind(engine):
    """``"kem"`` or ``"signature"``: which engine signature ``engine`` has (every member of
    it, possibly more); raises ``TypeError`` naming the first missing or different member."""
    if not isinstance(engine, wiring.Component):
        raise TypeError(f"Engine must be a wiring.Component, not {engine!r}")
    members = engine.signature.members
    kem = "ct" in members or "k" in members
    wanted, name = ((KemEngineSignature, "KemEngineSignature") if kem
                    else (EngineSignature, "EngineSignature"))
    for member_name, member in wanted.members.items():
        if member_name not in members or members[member_name] != member:
            raise TypeError(f"Engine must have the members of {name}; member "
                            f"{member_name!r} is missing or differs in {engine!r}")
    return "kem" if kem else "signature"


def _ceil_div(a, b):
    return -(-a // b)


def shell_geometry(vendor):
    """Word counts of a vendor: ``key_words``, ``key_rem``, ``body_words``, ``body_rem``,
    ``object_words``, ``object_rem``, ``beats`` (``rem`` = bytes used in the final, partial
    word; 0 if it is whole)."""
    return {
        "key_words": _ceil_div(KEY_LEN[vendor], BEAT_BYTES),
        "key_rem": KEY_LEN[vendor] % BEAT_BYTES,
        "body_words": _ceil_div(BODY_LEN[vendor], BEAT_BYTES),
        "body_rem": BODY_LEN[vendor] % BEAT_BYTES,
        "object_words": _ceil_div(OBJECT_LEN[vendor], BEAT_BYTES),
        "object_rem": OBJECT_LEN[vendor] % BEAT_BYTES,
        "beats": FRAMES[vendor] * FRAME_BYTES // BEAT_BYTES,
    }


def _check_vendor(vendor):
    if vendor not in VENDORS:
        raise ValueError(f"Vendor must be one of {', '.join(map(repr, VENDORS))}, not {vendor!r}")


class KeyLoader(wiring.Component):
    """Key load: splits the key stream into the engine's algorithm-key words and ``K_att``,
    and checks its word count and padding.

    The stream is ``ceil(key_len/8)`` algorithm-key words (final word zero-padded), then the
    4 words of ``K_att``, ``last`` on the final word. A load starts with the first word
    offered while ``enable`` is high. ``o_alg`` always carries exactly ``ceil(key_len/8)``
    words, ``last`` on the final one: extra words are dropped, and a stream that ends early
    is completed with zero words. Then ``K_att`` is offered on ``o_katt`` (once per load),
    and the status becomes OK or BAD once the engine reports ``alg_done`` and the attestor
    has kept ``K_att`` (``katt_busy`` low). BAD: wrong word count, non-zero padding, or
    ``alg_ok`` low.

    Members
    -------
    i : ``In(stream.Signature(Word))``
        The key stream.
    enable : ``In(1)``
        No request in flight: a key load may begin.
    o_alg : ``Out(stream.Signature(Word))``
        Algorithm-key words, to the engine's ``key``.
    alg_done, alg_ok : ``In(1)``
        The engine's ``key_done`` and ``key_ok``.
    o_katt : ``Out(stream.Signature(unsigned(256)))``
        ``K_att``, to the attestor.
    katt_busy : ``In(1)``
        The attestor has not yet taken ``K_att`` (the :class:`~hdl.attestor.Attestor` takes
        it in one cycle and keeps this low).
    status : ``Out(KeyStatus)``
        State of the loaded key.
    """

    i: In(stream.Signature(Word))
    enable: In(1)
    o_alg: Out(stream.Signature(Word))
    alg_done: In(1)
    alg_ok: In(1)
    o_katt: Out(stream.Signature(unsigned(8 * KATT_BYTES)))
    katt_busy: In(1)
    status: Out(KeyStatus)

    def __init__(self, *, vendor):
        _check_vendor(vendor)
        self._vendor = vendor
        super().__init__()

    def elaborate(self, platform):
        m = Module()
        g = shell_geometry(self._vendor)
        key_words, key_rem = g["key_words"], g["key_rem"]
        katt_words = KATT_BYTES // BEAT_BYTES
        key_total = key_words + katt_words

        status = Signal(KeyStatus)
        k_att = Signal(8 * KATT_BYTES)
        kidx = Signal(range(key_total + 2))     # index of the next key word (saturates)
        key_err = Signal()                      # word count or padding wrong
        key_hs = Signal()
        # the offered word is an algorithm-key word (kidx < key_words) / the last one
        # (kidx == key_words - 1): flip-flops kept with kidx, so the engine's key valid,
        # data and last are one gate from registers instead of behind kidx's compares
        key_in_alg = Signal(init=1)
        key_at_last = Signal(init=key_words == 1)
        m.d.comb += [
            self.status.eq(status),
            key_hs.eq(self.i.valid & self.i.ready),
            self.o_alg.payload.last.eq(key_at_last),
            self.o_katt.payload.eq(k_att),
        ]

        def set_kidx(value):
            m.d.sync += [kidx.eq(value), key_in_alg.eq(value < key_words),
                         key_at_last.eq(value == key_words - 1)]
        with m.FSM(name="key_fsm"):
            with m.State("Idle"):
                with m.If(self.i.valid & self.enable):
                    m.d.sync += [
                        status.eq(KeyStatus.LOADING),
                        key_err.eq(0),
                        k_att.eq(0),
                    ]
                    set_kidx(0)
                    m.next = "Load"
            with m.State("Load"):
                with m.If(key_in_alg):
                    m.d.comb += [
                        self.o_alg.valid.eq(self.i.valid),
                        self.o_alg.payload.data.eq(self.i.payload.data),
                        self.i.ready.eq(self.o_alg.ready),
                    ]
                with m.Else():
                    m.d.comb += self.i.ready.eq(1)
                for j in range(katt_words):
                    # a K_att word is taken whenever offered (`ready` is 1 past the algorithm
                    # key): written without the handshake, the 256 enables wait on no engine
                    with m.If(self.i.valid & (kidx == key_words + j)):
                        m.d.sync += k_att[64 * j:64 * (j + 1)].eq(self.i.payload.data)
                with m.If(key_hs):
                    with m.If(kidx != key_total + 1):
                        set_kidx(kidx + 1)
                    if key_rem:
                        with m.If(key_at_last & (self.i.payload.data[8 * key_rem:] != 0)):
                            m.d.sync += key_err.eq(1)
                    with m.If(kidx >= key_total):
                        m.d.sync += key_err.eq(1)      # more words than expected
                    with m.If(self.i.payload.last):
                        with m.If(kidx != key_total - 1):
                            m.d.sync += key_err.eq(1)  # fewer words than expected
                        with m.If(key_in_alg & ~key_at_last):    # kidx < key_words - 1
                            m.next = "Pad"
                        with m.Else():
                            m.next = "Katt"
            with m.State("Pad"):
                # the stream ended inside the algorithm key: complete it with zero words so
                # that the engine always receives exactly key_words words
                m.d.comb += self.o_alg.valid.eq(1)
                with m.If(self.o_alg.ready):
                    set_kidx(kidx + 1)
                    with m.If(key_at_last):
                        m.next = "Katt"
            with m.State("Katt"):
                m.d.comb += self.o_katt.valid.eq(1)
                with m.If(self.o_katt.ready):
                    m.next = "Check"
            with m.State("Check"):
                # the engine has accepted at least one word since the previous key, so
                # alg_done now refers to this key
                with m.If(self.alg_done & ~self.katt_busy):
                    m.d.sync += status.eq(
                        Mux(self.alg_ok & ~key_err, KeyStatus.OK, KeyStatus.BAD))
                    m.next = "Idle"
        return m


class ProofIntake(wiring.Component):
    """Proof intake: beat counting, length and padding checks, and the fork of every beat to
    the digest and of the engine's words to the engine.

    After ``start``, ``frames × 128`` beats are taken on ``i``, one per cycle as long as the
    engine and the digest take them. Every beat goes to ``o_digest`` as received (``last`` on
    the final one). The engine side runs through a one-word skid register, so nothing in
    the intake waits on the engine's ``ready`` in the cycle it changes. For a KEM engine the
    first ``ceil(OBJECT_LEN/8)`` beats go to ``o_engine`` (the ciphertext, bytes past it in
    the final word zeroed) and the ``TAG_BYTES`` after the ciphertext are captured on
    ``tag``; for a signature engine the first
    ``ceil(BODY_LEN/8)`` beats go to ``o_engine`` as received. ``last`` before the final beat
    ends the proof early; a final beat without ``last`` makes the intake take further beats
    until ``last``; both set ``bad_len``, ``dead`` and pulse ``abort``, after which no more
    words go to the engine. ``pad_err`` is set by a non-zero byte after the body.
    ``bad_len`` is final once the beat with ``last`` is taken, ``pad_err`` and ``tag`` in
    the cycle after (both are taken from the fork register).

    Parameters
    ----------
    vendor : str
        One of ``golden.proof.VENDORS``.
    kem : bool
        The engine takes the ciphertext (else the whole body).

    Members
    -------
    start : ``In(1)``
        A request begins (pulse).
    i : ``In(stream.Signature(Word))``
        Proof beats.
    o_engine : ``Out(stream.Signature(Word))``
        Ciphertext (KEM) or body words.
    o_digest : ``Out(stream.Signature(Word))``
        Every beat.
    abort, dead, bad_len, pad_err : ``Out(1)``
        Engine cancel pulse; the engine was cancelled; wrong beat count; non-zero padding.
    tag : ``Out(256)``  (``kem``)
        The proof's tag.
    """

    def __init__(self, *, vendor, kem):
        _check_vendor(vendor)
        self._vendor = vendor
        self._kem = bool(kem)
        members = {
            "start": In(1),
            "i": In(stream.Signature(Word)),
            "o_engine": Out(stream.Signature(Word)),
            "o_digest": Out(stream.Signature(Word)),
            "abort": Out(1),
            "dead": Out(1),
            "bad_len": Out(1),
            "pad_err": Out(1),
        }
        if self._kem:
            members["tag"] = Out(8 * TAG_BYTES)
        super().__init__(wiring.Signature(members))

    def elaborate(self, platform):
        m = Module()
        g = shell_geometry(self._vendor)
        body_words, body_rem = g["body_words"], g["body_rem"]
        beats = g["beats"]
        if self._kem:
            eng_words, eng_rem = g["object_words"], g["object_rem"]
        else:
            eng_words, eng_rem = body_words, 0

        intake = Signal()              # beats are accepted
        beat_idx = Signal(range(beats + 1))     # index of the next beat (stops at beats)
        overlong = Signal()            # the final beat came without last
        bad_len = Signal()
        pad_err = Signal()
        dead = Signal()                # the engine was aborted
        abort = Signal()
        m.d.comb += [self.bad_len.eq(bad_len), self.pad_err.eq(pad_err), self.dead.eq(dead),
                     self.abort.eq(abort)]

        # fork register: one beat on its way to the digest and (engine words) the engine
        fk_valid = Signal()
        fk_data = Signal(64)
        fk_last = Signal()             # final beat of the proof (end of the digest message)
        fk_eng = Signal()              # goes to the engine
        fk_eng_last = Signal()         # final engine word
        fk_sent_s = Signal()
        fk_sent_e = Signal()
        s_hs = Signal()
        e_hs = Signal()
        s_done = Signal()
        e_done = Signal()
        fk_load = Signal()
        eng_data = fk_data
        if eng_rem:
            eng_data = Mux(fk_eng_last, fk_data & ((1 << (8 * eng_rem)) - 1), fk_data)
        # The engine side goes through a skid register: the fork hands its engine word over
        # whenever the skid is empty (e_hs), whether or not the engine takes it in that
        # cycle; a word the engine does not take waits in the skid and is offered from
        # there. The engine sees the same words in the same order, never later, and no
        # fork or tag register waits on the engine's ready in the same cycle.
        sk_valid = Signal()
        sk_data = Signal(64)
        sk_last = Signal()
        e_offer = Signal()
        m.d.comb += [
            e_offer.eq(fk_valid & fk_eng & ~fk_sent_e & ~dead),
            self.o_engine.valid.eq((sk_valid | e_offer) & ~dead),
            self.o_engine.payload.data.eq(Mux(sk_valid, sk_data, eng_data)),
            self.o_engine.payload.last.eq(Mux(sk_valid, sk_last, fk_eng_last)),
            self.o_digest.valid.eq(fk_valid & ~fk_sent_s),
            self.o_digest.payload.data.eq(fk_data),
            self.o_digest.payload.last.eq(fk_last),
            e_hs.eq(e_offer & ~sk_valid),
            s_hs.eq(self.o_digest.valid & self.o_digest.ready),
            s_done.eq(fk_sent_s | s_hs),
            e_done.eq(fk_sent_e | e_hs | ~fk_eng | dead),
            fk_load.eq(~fk_valid | (s_done & e_done)),
            self.i.ready.eq(intake & fk_load),
        ]

        p_hs = Signal()
        p_last = Signal()
        short = Signal()
        long_now = Signal()
        bad_now = Signal()
        pad_now = Signal()
        word = self.i.payload
        m.d.comb += [
            p_hs.eq(self.i.valid & self.i.ready),
            p_last.eq(word.last),
            short.eq(p_last & ~overlong & (beat_idx != beats - 1)),
            long_now.eq(~p_last & ~overlong & (beat_idx == beats - 1)),
            bad_now.eq(short | long_now),
        ]
        # fk_new: the fork register took a beat in the last cycle (and it was not past the
        # frame count). The tag and the padding are taken from fk_data then, with beat_idx
        # already counted on (b + 1 for beat b: while no beat is overlong beat_idx never
        # saturates), so their enables come from flip-flops, not from the handshake's ready
        # chain through the digest and the engine; the handshake ends in this one flag.
        fk_new = Signal()
        m.d.sync += fk_new.eq(p_hs & ~overlong)
        # padding: the bytes of the final body word after the body, and every later beat
        pad_all = Signal()             # fk_data is a beat after the body
        pad_part = Signal()            # fk_data is the final body word (its tail counts)
        m.d.comb += [pad_all.eq(fk_new & (beat_idx > body_words)),
                     pad_part.eq(fk_new & (beat_idx == body_words))]
        pad_check = pad_all & (fk_data != 0)
        if body_rem:
            pad_check = pad_check | (pad_part & (fk_data[8 * body_rem:] != 0))
        m.d.comb += pad_now.eq(pad_check)

        if self._kem:
            # tag: bytes OBJECT_LEN .. OBJECT_LEN + TAG_BYTES - 1 of the proof
            obj = OBJECT_LEN[self._vendor]
            tag = Signal(8 * TAG_BYTES)
            m.d.comb += self.tag.eq(tag)
            # taken from the fork register in the cycle after the beat's handshake (fk_new;
            # then beat_idx is b + 1)
            with m.If(fk_new):
                for b in range(obj // BEAT_BYTES, _ceil_div(obj + TAG_BYTES, BEAT_BYTES)):
                    with m.If(beat_idx == b + 1):
                        for j in range(BEAT_BYTES):
                            t = BEAT_BYTES * b + j - obj
                            if 0 <= t < TAG_BYTES:
                                m.d.sync += tag[8 * t:8 * t + 8].eq(fk_data[8 * j:8 * j + 8])

        m.d.sync += abort.eq(0)
        with m.If(p_hs):
            m.d.sync += [
                fk_valid.eq(1),
                fk_data.eq(word.data),
                fk_last.eq(p_last),
                fk_eng.eq((beat_idx < eng_words) & ~overlong & ~bad_now),
                fk_eng_last.eq(beat_idx == eng_words - 1),
                fk_sent_s.eq(0),
                fk_sent_e.eq(0),
            ]
            with m.If(beat_idx != beats):
                m.d.sync += beat_idx.eq(beat_idx + 1)
            with m.If(long_now):
                m.d.sync += overlong.eq(1)
            with m.If(bad_now):
                m.d.sync += [bad_len.eq(1), dead.eq(1), abort.eq(1)]
            with m.If(p_last):
                m.d.sync += intake.eq(0)
        with m.Elif(fk_valid):
            with m.If(s_done & e_done):
                m.d.sync += fk_valid.eq(0)
            with m.Else():
                m.d.sync += [fk_sent_s.eq(s_done), fk_sent_e.eq(e_done)]

        # the skid's data follows every handed-over word (its enable is e_hs alone); only
        # the flag looks at the engine's ready
        with m.If(e_hs):
            m.d.sync += [sk_data.eq(eng_data), sk_last.eq(fk_eng_last)]
        with m.If(sk_valid):
            with m.If(self.o_engine.ready | dead):
                m.d.sync += sk_valid.eq(0)
        with m.Elif(e_hs & ~self.o_engine.ready):
            m.d.sync += sk_valid.eq(1)

        with m.If(pad_now):
            m.d.sync += pad_err.eq(1)
        with m.If(self.start):
            m.d.sync += [intake.eq(1), beat_idx.eq(0), overlong.eq(0), bad_len.eq(0),
                         pad_err.eq(0), dead.eq(0), fk_valid.eq(0), sk_valid.eq(0)]
        return m


class ValidatorShell(wiring.Component):
    """A validator core: key load, request, proof intake, proof digest, tag check,
    attestation and response around an algorithm engine (SPEC §3.2, §4).

    Key load (``i_key``, only between requests): ``ceil(key_len/8)`` words of the
    algorithm key (final word zero-padded), then the 4 words of ``K_att``, ``last`` on
    the final word (see :class:`KeyLoader`). ``o_key_status`` is ``LOADING`` from the first
    word until the engine reports ``key_done``. A key load that starts while no request is
    in flight has priority over a request offered in the same cycle.

    Request (``i_req``): accepted when no request is in flight and no key is loading.
    Then ``frames × 128`` proof beats are accepted on ``i_proof`` (see :class:`ProofIntake`)
    and exactly one response is sent on ``o_resp`` (held until accepted). A wrong beat
    count answers ``BAD_LENGTH`` and aborts the engine.

    The response's ``status`` is ``NO_KEY`` > ``BAD_KEY`` > ``BAD_LENGTH`` > ``OK``; the
    ``vote`` is 0 unless the status is ``OK``, and then it is the engine's verdict (KEM: the
    tag check ``KMAC256(K, D, 256, "pqvote/proof") == tag``) and the padding check.
    ``digest`` is SHA3-256 over every received byte; ``attestation`` is
    ``KMAC256(K_att, id ‖ N ‖ D ‖ vote ‖ digest, 256, "pqvote/vote")``, or all-zero for
    ``NO_KEY``.

    Latency (first accepted proof beat to ``o_resp.valid``) does not depend on the key,
    the descriptor, the nonce or the proof contents as long as the engine's ``K`` (or
    verdict) comes a fixed number of cycles after its last word; the engine is run for
    every request, whatever the key status. The response follows ``K`` by 25 cycles (the
    two tag permutations) and a verdict by 1 cycle (both attestations are computed while
    the engine runs).

    Parameters
    ----------
    vendor : str
        One of ``golden.proof.VENDORS``; fixes the id, frame count, body and key lengths.
    engine : wiring.Component
        The algorithm engine, with the members of :data:`KemEngineSignature` or
        :data:`EngineSignature`; it becomes a submodule of the shell.
    digest_rounds_per_cycle : int
        Rounds per clock of the attestor's permutation (1 or 2). With 2 a 17-word block
        is permuted in 12 cycles, faster than it is filled, so the proof is taken at one
        beat per cycle; with 1 the digest back-pressures the proof.

    Members
    -------
    i_key : ``In(stream.Signature(Word))``
        Key-load words.
    o_key_status : ``Out(KeyStatus)``
        State of the loaded key.
    i_req : ``In(stream.Signature(Request))``
        Descriptor and nonce of the next request.
    i_proof : ``In(stream.Signature(Word))``
        Proof beats of the current request.
    o_resp : ``Out(stream.Signature(Response))``
        One response per request.
    """

    i_key: In(stream.Signature(Word))
    o_key_status: Out(KeyStatus)
    i_req: In(stream.Signature(Request))
    i_proof: In(stream.Signature(Word))
    o_resp: Out(stream.Signature(Response))

    def __init__(self, *, vendor, engine, digest_rounds_per_cycle=2):
        _check_vendor(vendor)
        kind = engine_kind(engine)
        if digest_rounds_per_cycle not in (1, 2) or not isinstance(digest_rounds_per_cycle, int):
            raise ValueError(f"Round count per cycle must be 1 or 2, not "
                             f"{digest_rounds_per_cycle!r}")
        self._vendor = vendor
        self._engine = engine
        self._kem = kind == "kem"
        self._digest_rounds_per_cycle = digest_rounds_per_cycle
        super().__init__()

    @property
    def vendor(self):
        return self._vendor

    @property
    def engine(self):
        return self._engine

    @property
    def kem(self):
        return self._kem

    @property
    def digest_rounds_per_cycle(self):
        return self._digest_rounds_per_cycle

    def elaborate(self, platform):
        m = Module()
        kem = self._kem
        m.submodules.engine = engine = self._engine
        m.submodules.keys = keys = KeyLoader(vendor=self._vendor)
        m.submodules.intake = intake = ProofIntake(vendor=self._vendor, kem=kem)
        # an engine with a ``hash`` port (no Keccak of its own) hashes on the attestor's
        # permutation while the attestor waits for K (docs/interfaces.md)
        shared_hash = kem and "hash" in engine.signature.members
        m.submodules.attestor = att = Attestor(
            vendor=self._vendor, kem=kem, rounds_per_cycle=self._digest_rounds_per_cycle,
            hash_service=shared_hash)
        if shared_hash:
            wiring.connect(m, engine.hash, att.hash)

        req_idle = Signal()            # no request in flight
        descriptor = Signal(192)
        nonce = Signal(64)

        # ---- key load -----------------------------------------------------------------
        wiring.connect(m, wiring.flipped(self.i_key), keys.i)
        wiring.connect(m, keys.o_alg, engine.key)
        wiring.connect(m, keys.o_katt, att.i_katt)
        key_status = keys.status
        m.d.comb += [
            keys.enable.eq(req_idle),
            keys.alg_done.eq(engine.key_done),
            keys.alg_ok.eq(engine.key_ok),
            keys.katt_busy.eq(att.katt_busy),
            self.o_key_status.eq(key_status),
        ]
        key_idle = Signal()
        m.d.comb += key_idle.eq(key_status != KeyStatus.LOADING)

        # ---- request handshake ----------------------------------------------------------
        req_hs = Signal()
        start = Signal()
        m.d.comb += [
            self.i_req.ready.eq(req_idle & key_idle & ~self.i_key.valid),
            req_hs.eq(self.i_req.valid & self.i_req.ready),
        ]
        m.d.sync += start.eq(req_hs)
        m.d.comb += [engine.start.eq(start), intake.start.eq(start), att.start.eq(start)]
        with m.If(req_hs):
            m.d.sync += [descriptor.eq(self.i_req.payload.descriptor),
                         nonce.eq(self.i_req.payload.nonce)]

        # ---- proof intake → engine and attestor -----------------------------------------
        wiring.connect(m, wiring.flipped(self.i_proof), intake.i)
        wiring.connect(m, intake.o_engine, engine.ct if kem else engine.body)
        wiring.connect(m, intake.o_digest, att.i_digest)
        m.d.comb += engine.abort.eq(intake.abort)
        if kem:
            wiring.connect(m, engine.k, att.i_k)
            m.d.comb += att.tag.eq(intake.tag)
        else:
            wiring.connect(m, engine.result, att.i_verdict)
            m.d.comb += engine.descriptor.eq(descriptor)

        # ---- attestor -------------------------------------------------------------------
        status = Signal(Status)
        m.d.comb += [
            att.descriptor.eq(descriptor),
            att.nonce.eq(nonce),
            att.ok.eq((key_status == KeyStatus.OK) & ~intake.bad_len & ~intake.pad_err),
            att.skip.eq(intake.dead),
            status.eq(Mux(key_status == KeyStatus.NONE, Status.NO_KEY,
                      Mux(key_status == KeyStatus.BAD, Status.BAD_KEY,
                      Mux(intake.bad_len, Status.BAD_LENGTH, Status.OK)))),
        ]

        # ---- response -------------------------------------------------------------------
        no_key = Signal()
        m.d.comb += [
            no_key.eq(key_status == KeyStatus.NONE),
            self.o_resp.valid.eq(att.o.valid),
            att.o.ready.eq(self.o_resp.ready),
            self.o_resp.payload.vote.eq(att.o.payload.vote),
            self.o_resp.payload.status.eq(status),
            self.o_resp.payload.attestation.eq(Mux(no_key, 0, att.o.payload.attestation)),
            self.o_resp.payload.digest.eq(att.o.payload.digest),
        ]

        # ---- request sequencing ---------------------------------------------------------
        with m.FSM(name="req_fsm"):
            with m.State("Idle"):
                m.d.comb += req_idle.eq(1)
                with m.If(req_hs):
                    m.next = "Busy"
            with m.State("Busy"):
                with m.If(self.o_resp.valid & self.o_resp.ready):
                    m.next = "Idle"
        return m
