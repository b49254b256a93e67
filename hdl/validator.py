"""The common validator core interface: key load, request, proof intake, proof digest,
attestation and response (SPEC §3.2, §4; docs/interfaces.md).

Every pqvote core is a :class:`ValidatorShell` around an algorithm *engine* with the
:data:`EngineSignature`. The shell owns everything that is the same for all four vendors;
the engine only sees the algorithm key and the proof body, and returns a one-bit verdict.

Data flow::

    i_key ──► key counter / padding check ──► engine.key (algorithm-key words, last on the final one)
                        └──► K_att register (4 words) ──────────────────────────┐
    i_req ──► descriptor, nonce registers ──► engine.start / engine.descriptor  │
    i_proof ─► beat counter, padding check ─► fork register ─┬─► engine.body    │
                                                             └─► sponge (SHA3-256) ─► PD
    engine.result ─► verdict ─┐                                                  │
                              └─► vote ─► KmacAdapter(K_att, id‖N‖D‖vote‖PD) ─► same sponge ─► A
                                                                    o_resp ◄── vote, status, A, PD

One :class:`~hdl.sponge.KeccakSponge` computes the proof digest while the proof streams in,
and then the attestation: the KMAC prefix block is absorbed into the sponge's buffer while
the digest's last block is permuted, and the attestation message waits only for the
verdict at its fifth word (the vote byte).
"""

from amaranth.hdl import Module, Signal, Const, Mux, Cat, unsigned
from amaranth.lib import data, enum, stream, wiring
from amaranth.lib.wiring import In, Out

from golden.proof import (
    BODY_LEN, FRAMES, FRAME_BYTES, BEAT_BYTES, KATT_BYTES, KEY_LEN, VENDORS,
    VOTE_CUSTOMIZATION, Status,
)
from hdl.sponge import KeccakSponge, KmacAdapter, SpongeMode


__all__ = ["Word", "Request", "Response", "Status", "KeyStatus", "EngineSignature",
           "ValidatorShell", "shell_geometry"]


#: One 64-bit word of a key or proof stream, ``last`` on the final word.
Word = data.StructLayout({"data": unsigned(64), "last": unsigned(1)})

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


#: What an algorithm engine exposes to the shell (engine side; see docs/interfaces.md).
#:
#: * ``key``: the algorithm-key words only, ``last`` on the final one.
#: * ``key_done`` / ``key_ok``: level outputs; ``key_done`` is cleared by the next key word.
#: * ``start``: one-cycle pulse when a request is accepted; ``descriptor`` is stable from
#:   then until the result is taken.
#: * ``body``: the proof body words, ``ceil(body_len/8)`` of them, ``last`` on the final one.
#: * ``abort``: one-cycle pulse, request cancelled (wrong beat count); the engine returns to
#:   idle from any state and drops a result not yet taken.
#: * ``result``: the verdict, once per request. The shell runs the engine for every request,
#:   whatever the key status, and masks the verdict itself, so the engine must produce a
#:   result even when no key or a rejected key is loaded.
EngineSignature = wiring.Signature({
    "key": In(stream.Signature(Word)),
    "key_done": Out(1),
    "key_ok": Out(1),
    "start": In(1),
    "descriptor": In(192),
    "body": In(stream.Signature(Word)),
    "abort": In(1),
    "result": Out(stream.Signature(unsigned(1))),
})


def _ceil_div(a, b):
    return -(-a // b)


def shell_geometry(vendor):
    """Word counts of a vendor: ``key_words``, ``key_rem``, ``body_words``, ``body_rem``,
    ``beats`` (``rem`` = bytes used in the final, partial word; 0 if it is whole)."""
    return {
        "key_words": _ceil_div(KEY_LEN[vendor], BEAT_BYTES),
        "key_rem": KEY_LEN[vendor] % BEAT_BYTES,
        "body_words": _ceil_div(BODY_LEN[vendor], BEAT_BYTES),
        "body_rem": BODY_LEN[vendor] % BEAT_BYTES,
        "beats": FRAMES[vendor] * FRAME_BYTES // BEAT_BYTES,
    }


class ValidatorShell(wiring.Component):
    """A validator core: key load, request, proof intake, proof digest, attestation and
    response around an algorithm engine (SPEC §3.2, §4).

    Key load (``i_key``, only between requests): ``ceil(key_len/8)`` words of the
    algorithm key (final word zero-padded), then the 4 words of ``K_att``, ``last`` on
    the final word. The engine always receives exactly ``ceil(key_len/8)`` words on
    ``engine.key``, ``last`` on the final one: extra words are dropped, and a stream that
    ends early is completed with zero words. The key is BAD if the word count is wrong,
    a padding byte is non-zero or the engine rejects it. ``o_key_status`` is ``LOADING``
    from the first word until the engine reports ``key_done``. A key load that starts
    while no request is in flight has priority over a request offered in the same cycle.

    Request (``i_req``): accepted when no request is in flight and no key is loading.
    Then ``frames × 128`` proof beats are accepted on ``i_proof``, one per cycle as long as
    the engine and the digest sponge take them, and exactly one response is sent on
    ``o_resp`` (held until accepted). A ``last`` before the final beat ends the proof
    early; a final beat without ``last`` makes the shell consume and digest further beats
    until ``last``; both answer ``BAD_LENGTH`` and abort the engine. Proof beats are not
    accepted outside a request.

    The response's ``status`` is ``NO_KEY`` > ``BAD_KEY`` > ``BAD_LENGTH`` > ``OK``; the
    ``vote`` is 0 unless the status is ``OK``, and then it is the engine's verdict and
    the padding check (every byte after the body zero). ``digest`` is SHA3-256 over every
    received byte; ``attestation`` is ``KMAC256(K_att, id ‖ N ‖ D ‖ vote ‖ digest, 256,
    "pqvote/vote")``, or all-zero for ``NO_KEY``.

    Latency (first accepted proof beat to ``o_resp.valid``) does not depend on the key,
    the descriptor, the nonce or the proof contents as long as the engine's result comes a
    fixed number of cycles after its last body word; the engine is run for every
    request, whatever the key status.

    Parameters
    ----------
    vendor : str
        One of ``golden.proof.VENDORS``; fixes the id, frame count, body and key lengths.
    engine : wiring.Component
        The algorithm engine, with the members of :data:`EngineSignature`; it becomes a
        submodule of the shell.
    digest_rounds_per_cycle : int
        Rounds per clock of the shell's sponge (1 or 2). With 2 a 17-word SHA3-256 block
        is permuted in 12 cycles, faster than it is filled, so the proof is taken at one
        beat per cycle; with 1 the sponge back-pressures the proof (24 + 2 cycles per
        17 beats).

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
        if vendor not in VENDORS:
            raise ValueError(f"Vendor must be one of {', '.join(map(repr, VENDORS))}, "
                             f"not {vendor!r}")
        if not isinstance(engine, wiring.Component):
            raise TypeError(f"Engine must be a wiring.Component, not {engine!r}")
        members = engine.signature.members
        for name, member in EngineSignature.members.items():
            if name not in members or members[name] != member:
                raise TypeError(f"Engine must have the members of EngineSignature; member "
                                f"{name!r} is missing or differs in {engine!r}")
        if digest_rounds_per_cycle not in (1, 2) or not isinstance(digest_rounds_per_cycle, int):
            raise ValueError(f"Round count per cycle must be 1 or 2, not "
                             f"{digest_rounds_per_cycle!r}")
        self._vendor = vendor
        self._engine = engine
        self._digest_rounds_per_cycle = digest_rounds_per_cycle
        super().__init__()

    @property
    def vendor(self):
        return self._vendor

    @property
    def engine(self):
        return self._engine

    @property
    def digest_rounds_per_cycle(self):
        return self._digest_rounds_per_cycle

    def elaborate(self, platform):
        m = Module()
        g = shell_geometry(self._vendor)
        key_words, key_rem = g["key_words"], g["key_rem"]
        body_words, body_rem = g["body_words"], g["body_rem"]
        beats = g["beats"]
        katt_words = KATT_BYTES // BEAT_BYTES
        key_total = key_words + katt_words

        m.submodules.engine = engine = self._engine
        m.submodules.sponge = sponge = KeccakSponge(
            rounds_per_cycle=self._digest_rounds_per_cycle)
        m.submodules.kmac = kmac = KmacAdapter(customization=VOTE_CUSTOMIZATION)

        # ---- request state ------------------------------------------------------------
        req_idle = Signal()            # no request in flight
        respond = Signal()             # the response is offered
        descriptor = Signal(192)
        nonce = Signal(64)

        # ---- key load -----------------------------------------------------------------
        key_status = Signal(KeyStatus)
        k_att = Signal(256)
        kidx = Signal(range(key_total + 2))     # index of the next key word (saturates)
        key_err = Signal()                      # word count or padding wrong
        key_hs = Signal()
        key_in_alg = Signal()                   # the offered word is an algorithm-key word
        m.d.comb += [
            self.o_key_status.eq(key_status),
            key_hs.eq(self.i_key.valid & self.i_key.ready),
            key_in_alg.eq(kidx < key_words),
            engine.key.payload.last.eq(kidx == key_words - 1),
        ]
        with m.FSM(name="key_fsm"):
            with m.State("Idle"):
                with m.If(self.i_key.valid & req_idle):
                    m.d.sync += [
                        key_status.eq(KeyStatus.LOADING),
                        kidx.eq(0),
                        key_err.eq(0),
                        k_att.eq(0),
                    ]
                    m.next = "Load"
            with m.State("Load"):
                with m.If(key_in_alg):
                    m.d.comb += [
                        engine.key.valid.eq(self.i_key.valid),
                        engine.key.payload.data.eq(self.i_key.payload.data),
                        self.i_key.ready.eq(engine.key.ready),
                    ]
                with m.Else():
                    m.d.comb += self.i_key.ready.eq(1)
                with m.If(key_hs):
                    with m.If(kidx != key_total + 1):
                        m.d.sync += kidx.eq(kidx + 1)
                    for j in range(katt_words):
                        with m.If(kidx == key_words + j):
                            m.d.sync += k_att[64 * j:64 * (j + 1)].eq(self.i_key.payload.data)
                    if key_rem:
                        with m.If((kidx == key_words - 1) &
                                  (self.i_key.payload.data[8 * key_rem:] != 0)):
                            m.d.sync += key_err.eq(1)
                    with m.If(kidx >= key_total):
                        m.d.sync += key_err.eq(1)      # more words than expected
                    with m.If(self.i_key.payload.last):
                        with m.If(kidx != key_total - 1):
                            m.d.sync += key_err.eq(1)  # fewer words than expected
                        with m.If(kidx < key_words - 1):
                            m.next = "Pad"
                        with m.Else():
                            m.next = "Check"
            with m.State("Pad"):
                # the stream ended inside the algorithm key: complete it with zero words so
                # that the engine always receives exactly key_words words
                m.d.comb += engine.key.valid.eq(1)
                with m.If(engine.key.ready):
                    m.d.sync += kidx.eq(kidx + 1)
                    with m.If(kidx == key_words - 1):
                        m.next = "Check"
            with m.State("Check"):
                # the engine has accepted at least one word since the previous key, so
                # key_done now refers to this key
                with m.If(engine.key_done):
                    m.d.sync += key_status.eq(
                        Mux(engine.key_ok & ~key_err, KeyStatus.OK, KeyStatus.BAD))
                    m.next = "Idle"
        key_idle = Signal()
        m.d.comb += key_idle.eq(key_status != KeyStatus.LOADING)

        # ---- request handshake ----------------------------------------------------------
        req_hs = Signal()
        m.d.comb += [
            self.i_req.ready.eq(req_idle & key_idle & ~self.i_key.valid),
            req_hs.eq(self.i_req.valid & self.i_req.ready),
            engine.descriptor.eq(descriptor),
        ]
        start = Signal()
        m.d.sync += start.eq(req_hs)
        m.d.comb += engine.start.eq(start)

        # ---- proof intake ---------------------------------------------------------------
        intake = Signal()              # beats are accepted
        beat_idx = Signal(range(beats + 1))     # index of the next beat (stops at beats)
        overlong = Signal()            # the final beat came without last
        bad_len = Signal()
        pad_err = Signal()
        dead = Signal()                # the engine was aborted
        abort = Signal()

        # fork register: one beat on its way to the sponge and (body words) the engine
        fk_valid = Signal()
        fk_data = Signal(64)
        fk_last = Signal()             # final beat of the proof (end of the digest message)
        fk_eng = Signal()              # goes to the engine
        fk_eng_last = Signal()         # final body word
        fk_sent_s = Signal()
        fk_sent_e = Signal()
        digest_sel = Signal()          # the sponge input is the proof (else the KMAC adapter)
        s_hs = Signal()
        e_hs = Signal()
        s_done = Signal()
        e_done = Signal()
        fk_load = Signal()
        m.d.comb += [
            engine.body.valid.eq(fk_valid & fk_eng & ~fk_sent_e & ~dead),
            engine.body.payload.data.eq(fk_data),
            engine.body.payload.last.eq(fk_eng_last),
            e_hs.eq(engine.body.valid & engine.body.ready),
            s_hs.eq(digest_sel & sponge.i.valid & sponge.i.ready),
            s_done.eq(fk_sent_s | s_hs),
            e_done.eq(fk_sent_e | e_hs | ~fk_eng | dead),
            fk_load.eq(~fk_valid | (s_done & e_done)),
            self.i_proof.ready.eq(intake & fk_load),
            engine.abort.eq(abort),
        ]

        p_hs = Signal()
        p_last = Signal()
        short = Signal()
        long_now = Signal()
        bad_now = Signal()
        pad_now = Signal()
        word = self.i_proof.payload
        m.d.comb += [
            p_hs.eq(self.i_proof.valid & self.i_proof.ready),
            p_last.eq(word.last),
            short.eq(p_last & ~overlong & (beat_idx != beats - 1)),
            long_now.eq(~p_last & ~overlong & (beat_idx == beats - 1)),
            bad_now.eq(short | long_now),
        ]
        # padding: the bytes of the final body word after the body, and every later beat
        pad_check = beat_idx >= body_words
        if body_rem:
            pad_check = (pad_check & (word.data != 0)) | (
                (beat_idx == body_words - 1) & (word.data[8 * body_rem:] != 0))
        else:
            pad_check = pad_check & (word.data != 0)
        m.d.comb += pad_now.eq(pad_check & ~overlong)

        m.d.sync += abort.eq(0)
        with m.If(p_hs):
            m.d.sync += [
                fk_valid.eq(1),
                fk_data.eq(word.data),
                fk_last.eq(p_last),
                fk_eng.eq((beat_idx < body_words) & ~overlong & ~bad_now),
                fk_eng_last.eq(beat_idx == body_words - 1),
                fk_sent_s.eq(0),
                fk_sent_e.eq(0),
            ]
            with m.If(beat_idx != beats):
                m.d.sync += beat_idx.eq(beat_idx + 1)
            with m.If(pad_now):
                m.d.sync += pad_err.eq(1)
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
        with m.If(s_hs & fk_last):
            m.d.sync += digest_sel.eq(0)

        # ---- engine verdict -------------------------------------------------------------
        have_result = Signal()
        verdict = Signal()
        m.d.comb += engine.result.ready.eq(~req_idle & ~have_result & ~dead)
        with m.If(engine.result.valid & engine.result.ready):
            m.d.sync += [have_result.eq(1), verdict.eq(engine.result.payload)]

        # ---- sponge: proof digest, then the attestation ---------------------------------
        kmac_on = Signal()             # the adapter's words of this request go to the sponge
        m.d.comb += [
            sponge.i.payload.data.eq(Mux(digest_sel, fk_data, kmac.o.payload.data)),
            sponge.i.payload.nbytes.eq(Mux(digest_sel, BEAT_BYTES, kmac.o.payload.nbytes)),
            sponge.i.payload.last.eq(Mux(digest_sel, fk_last, kmac.o.payload.last)),
            sponge.i.payload.mode.eq(Mux(digest_sel, SpongeMode.SHA3_256,
                                         kmac.o.payload.mode)),
            sponge.i.valid.eq(Mux(digest_sel, fk_valid & ~fk_sent_s,
                                  kmac.o.valid & kmac_on)),
            kmac.o.ready.eq(~digest_sel & kmac_on & sponge.i.ready),
            kmac.key.eq(k_att),
        ]
        # the adapter offers the next request's constant block as soon as it has sent
        # this one's final word: hold it back until then
        with m.If(kmac.o.valid & kmac.o.ready & kmac.o.payload.last):
            m.d.sync += kmac_on.eq(0)
        digest = Signal(256)
        attestation = Signal(256)
        pd_count = Signal(range(5))
        at_count = Signal(range(5))
        o_hs = Signal()
        m.d.comb += [
            sponge.o.ready.eq(~req_idle & ~respond),
            o_hs.eq(sponge.o.valid & sponge.o.ready),
            sponge.stop.eq(o_hs & (Mux(pd_count == 4, at_count, pd_count) == 3)),
        ]
        with m.If(o_hs):
            with m.If(pd_count != 4):
                m.d.sync += [digest.eq(Cat(digest[64:], sponge.o.payload)),
                             pd_count.eq(pd_count + 1)]
            with m.Else():
                m.d.sync += [attestation.eq(Cat(attestation[64:], sponge.o.payload)),
                             at_count.eq(at_count + 1)]

        # attestation message id(1) ‖ N(8) ‖ D(24) ‖ vote(1) ‖ PD(32): 66 bytes, 9 words
        vote = Signal()
        status = Signal(Status)
        m.d.comb += [
            vote.eq((key_status == KeyStatus.OK) & ~bad_len & ~pad_err & verdict),
            status.eq(Mux(key_status == KeyStatus.NONE, Status.NO_KEY,
                      Mux(key_status == KeyStatus.BAD, Status.BAD_KEY,
                      Mux(bad_len, Status.BAD_LENGTH, Status.OK)))),
        ]
        message = Signal(9 * 64)
        m.d.comb += message.eq(Cat(Const(VENDORS[self._vendor], 8), nonce, descriptor,
                                   vote, Const(0, 7), digest))
        mw = Signal(range(10))          # next message word
        vote_known = Signal()
        m.d.comb += [
            vote_known.eq((pd_count == 4) & (have_result | dead)),
            kmac.i.valid.eq(~req_idle & (mw != 9) & ((mw < 4) | vote_known)),
            kmac.i.payload.last.eq(mw == 8),
            kmac.i.payload.nbytes.eq(Mux(mw == 8, 2, 8)),
        ]
        with m.Switch(mw):
            for w in range(9):
                with m.Case(w):
                    m.d.comb += kmac.i.payload.data.eq(message[64 * w:64 * (w + 1)])
        with m.If(kmac.i.valid & kmac.i.ready):
            m.d.sync += mw.eq(mw + 1)

        # ---- response -------------------------------------------------------------------
        no_key = Signal()
        m.d.comb += [
            no_key.eq(key_status == KeyStatus.NONE),
            self.o_resp.valid.eq(respond),
            self.o_resp.payload.vote.eq(vote),
            self.o_resp.payload.status.eq(status),
            self.o_resp.payload.attestation.eq(Mux(no_key, 0, attestation)),
            self.o_resp.payload.digest.eq(digest),
        ]

        # ---- request sequencing ---------------------------------------------------------
        with m.FSM(name="req_fsm"):
            with m.State("Idle"):
                m.d.comb += req_idle.eq(1)
                with m.If(req_hs):
                    m.d.sync += [
                        descriptor.eq(self.i_req.payload.descriptor),
                        nonce.eq(self.i_req.payload.nonce),
                        intake.eq(1),
                        beat_idx.eq(0),
                        overlong.eq(0),
                        bad_len.eq(0),
                        pad_err.eq(0),
                        dead.eq(0),
                        fk_valid.eq(0),
                        digest_sel.eq(1),
                        kmac_on.eq(1),
                        have_result.eq(0),
                        verdict.eq(0),
                        pd_count.eq(0),
                        at_count.eq(0),
                        mw.eq(0),
                    ]
                    m.next = "Busy"
            with m.State("Busy"):
                with m.If(o_hs & (pd_count == 4) & (at_count == 3)):
                    m.next = "Respond"
            with m.State("Respond"):
                m.d.comb += respond.eq(1)
                with m.If(self.o_resp.ready):
                    m.next = "Idle"
        return m
