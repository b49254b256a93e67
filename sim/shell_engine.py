"""Deterministic stand-in engines for testing :class:`hdl.validator.ValidatorShell`, and the
Python model of the whole shell built on them.

Both engines replace the post-quantum algorithm by a keyed checksum, so that the shell's
key load, intake, digest, tag check, attestation and response logic can be tested in
seconds with any vendor's geometry::

    kacc     = fold(key words)            fold(ws) = rotl(…rotl(rotl(0,1) ^ w0, 1) ^ w1 …, 1) ^ w_{n-1}
    key_ok   = kacc != 0

* :class:`ShellTestEngine` (:data:`hdl.validator.EngineSignature`, a signature engine)::

      expected = kacc ^ D0 ^ rotl(D1, 21) ^ rotl(D2, 42)      (D = descriptor as three words)
      verdict  = fold(body words) == expected

  Every word enters the fold as received, padding bytes of a partial final word included.
* :class:`ShellKemEngine` (:data:`hdl.validator.KemEngineSignature`, a KEM engine)::

      K = w0 ‖ w1 ‖ w2 ‖ w3,   w_j = rotl(kacc ^ fold(ct words), 16 j) ^ j

  and the shell checks the tag ``KMAC256(K, D, 256, "pqvote/proof")``.

Timing: ``key_done`` rises ``key_latency + 1`` cycles after the final key word; the verdict
(``K``) is offered ``latency + 1`` cycles after the final body (ct) word, whatever the data
(constant time) — unless ``leak`` is set on the KEM engine, which then takes 3 cycles longer
when ``fold(ct words)`` is odd: a deliberately data-dependent engine for the negative control
of the constant-time assertions. With ``body_gap = g`` the engine takes a word only every
``g + 1`` cycles, to test back-pressure from the engine into the proof intake.
"""

from amaranth.hdl import Cat, Module, Signal, Mux
from amaranth.lib import wiring

from golden.proof import (BODY_LEN, OBJECT_LEN, TAG_BYTES, Status, attestation, proof_digest,
                          proof_tag, VENDORS)
from hdl.validator import EngineSignature, KemEngineSignature, shell_geometry

__all__ = ["ShellTestEngine", "ShellKemEngine", "fold", "expected_acc", "kem_k", "mint_body",
           "KeyModel", "ShellModel", "SHELL_TAIL_MAX"]

MASK = (1 << 64) - 1
#: Cycles the shell may take after the proof's final beat when the engine is already done
#: (the digest's last block, then both attestations recomputed at 3 permutations each):
#: the shell bench and the wrapper bench bound their measured tail by it (riscv's
#: 1,024-beat stand-in run measured beats + 105).
SHELL_TAIL_MAX = 110


def rotl(x, n):
    n %= 64
    return ((x << n) | (x >> (64 - n))) & MASK if n else x


def fold(words):
    acc = 0
    for w in words:
        acc = rotl(acc, 1) ^ w
    return acc


def expected_acc(kacc, descriptor):
    d = [int.from_bytes(bytes(descriptor)[8 * k:8 * k + 8], "little") for k in range(3)]
    return kacc ^ d[0] ^ rotl(d[1], 21) ^ rotl(d[2], 42)


def _words(b):
    b = bytes(b) + bytes(-len(b) % 8)
    return [int.from_bytes(b[i:i + 8], "little") for i in range(0, len(b), 8)]


def kem_k(kacc, ct):
    """``K`` of :class:`ShellKemEngine` for a key fold ``kacc`` and a ciphertext."""
    x = kacc ^ fold(_words(ct))
    return b"".join((rotl(x, 16 * j) ^ j).to_bytes(8, "little") for j in range(4))


def mint_body(vendor, kacc, descriptor, rng, *, valid=True, kem=False):
    """A random ``BODY_LEN[vendor]``-byte body the engine accepts (``valid``) or rejects.

    Signature engine: its fold equals the expected value or differs from it in one bit.
    KEM engine: a random ciphertext and the tag ``KMAC256(K, D)`` of its ``K``; invalid
    bodies have one bit flipped in the ciphertext or the tag."""
    if kem:
        ct = bytes(rng.getrandbits(8) for _ in range(OBJECT_LEN[vendor]))
        body = bytearray(ct + proof_tag(kem_k(kacc, ct), descriptor))
        if not valid:
            pos = rng.randrange(len(body))
            body[pos] ^= 1 << rng.randrange(8)
        return bytes(body)
    n = BODY_LEN[vendor]
    body = bytearray(rng.getrandbits(8) for _ in range(n))
    words = _words(body)
    rest = 0
    for i, w in enumerate(words[1:], start=1):
        rest ^= rotl(w, len(words) - 1 - i)
    target = expected_acc(kacc, descriptor) ^ (0 if valid else 1 << rng.randrange(64))
    w0 = rotl(target ^ rest, -(len(words) - 1))
    body[:8] = w0.to_bytes(8, "little")
    assert (fold(_words(body)) == expected_acc(kacc, descriptor)) == valid
    return bytes(body)


def _key_fold(m, engine, key_latency):
    """Key side shared by both engines: ``kacc = rotl(kacc, 1) ^ w`` over the key words,
    ``key_done`` ``key_latency + 1`` cycles after the final word, ``key_ok = kacc != 0``."""
    kacc = Signal(64)
    key_first = Signal(init=1)
    key_count = Signal(range(key_latency + 1))
    key_done = Signal()
    key_ok = Signal()
    m.d.comb += [engine.key.ready.eq(1), engine.key_done.eq(key_done),
                 engine.key_ok.eq(key_ok)]
    kacc_in = Signal(64)
    m.d.comb += kacc_in.eq(Mux(key_first, 0, kacc))
    with m.If(engine.key.valid):
        m.d.sync += [
            kacc.eq(kacc_in.rotate_left(1) ^ engine.key.payload.data),
            key_done.eq(0),
            key_first.eq(engine.key.payload.last),
        ]
        with m.If(engine.key.payload.last):
            m.d.sync += key_count.eq(key_latency)
    with m.Elif(key_count != 0):
        m.d.sync += key_count.eq(key_count - 1)
        with m.If(key_count == 1):
            m.d.sync += [key_done.eq(1), key_ok.eq(kacc != 0)]
    return kacc


def _request_fold(m, engine, i, o, *, latency, body_gap, extra=None, finish):
    """Request side shared by both engines: on ``start``, fold the words of the stream
    ``i`` (``acc = rotl(acc, 1) ^ w``; ``body_gap`` idle cycles of ``i.ready`` after each);
    ``latency`` cycles after the ``last`` one (plus ``extra(acc)``, the leaking stand-in's
    data-dependent delay) apply ``finish(acc)`` (a list of assignments to the result
    registers), then hold ``o.valid`` until taken. ``abort`` returns to idle."""
    acc = Signal(64)
    gap = Signal(range(body_gap + 2))            # never zero-width
    count = Signal(range(latency + 4))
    IDLE, BODY, COMPUTE, RESULT = range(4)
    state = Signal(range(4))
    with m.Switch(state):
        with m.Case(BODY):
            m.d.comb += i.ready.eq(gap == 0)
            with m.If(gap != 0):
                m.d.sync += gap.eq(gap - 1)
            with m.If(i.valid & i.ready):
                folded = acc.rotate_left(1) ^ i.payload.data
                m.d.sync += [acc.eq(folded), gap.eq(body_gap)]
                with m.If(i.payload.last):
                    delay = latency - 1 + (extra(folded) if extra else 0)
                    m.d.sync += [count.eq(delay), state.eq(COMPUTE)]
        with m.Case(COMPUTE):
            m.d.sync += count.eq(count - 1)
            with m.If(count == 0):
                m.d.sync += [*finish(acc), state.eq(RESULT)]
        with m.Case(RESULT):
            m.d.comb += o.valid.eq(1)
            with m.If(o.ready):
                m.d.sync += state.eq(IDLE)
    with m.If(engine.start):
        m.d.sync += [acc.eq(0), gap.eq(0), state.eq(BODY)]
    with m.If(engine.abort):
        m.d.sync += state.eq(IDLE)


class _StandInEngine(wiring.Component):
    """Parameters shared by both stand-in engines, validated.

    Parameters
    ----------
    latency : int
        Cycles from the final body (or ct) word's handshake to ``result.valid`` (or
        ``k.valid``), ≥ 1.
    key_latency : int
        Cycles from the final key word's handshake to ``key_done`` (≥ 1).
    body_gap : int
        Idle cycles of ``body.ready`` (or ``ct.ready``) after each word.
    """

    def __init__(self, signature, *, latency, key_latency, body_gap):
        for name, v, lo in (("Latency", latency, 1), ("Key latency", key_latency, 1),
                            ("Body gap", body_gap, 0)):
            if not isinstance(v, int) or v < lo:
                raise ValueError(f"{name} must be an integer ≥ {lo}, not {v!r}")
        self._latency = latency
        self._key_latency = key_latency
        self._body_gap = body_gap
        super().__init__(signature)


class ShellTestEngine(_StandInEngine):
    """Keyed-checksum engine with :data:`~hdl.validator.EngineSignature` (see the module
    docstring for what it computes). Parameters: ``latency``, ``key_latency``, ``body_gap``
    (:class:`_StandInEngine`).

    Members
    -------
    (those of :data:`~hdl.validator.EngineSignature`)
    """

    def __init__(self, *, latency=20, key_latency=3, body_gap=0):
        super().__init__(EngineSignature, latency=latency, key_latency=key_latency,
                         body_gap=body_gap)

    def elaborate(self, platform):
        m = Module()

        kacc = _key_fold(m, self, self._key_latency)

        d = [self.descriptor[64 * k:64 * (k + 1)] for k in range(3)]
        expected = Signal(64)
        m.d.comb += expected.eq(kacc ^ d[0] ^ d[1].rotate_left(21) ^ d[2].rotate_left(42))

        verdict = Signal()
        m.d.comb += self.result.payload.eq(verdict)
        _request_fold(m, self, self.body, self.result, latency=self._latency,
                      body_gap=self._body_gap, finish=lambda bacc: [verdict.eq(bacc == expected)])
        return m


class ShellKemEngine(_StandInEngine):
    """Keyed-checksum KEM engine with :data:`~hdl.validator.KemEngineSignature` (see the
    module docstring for what it computes).

    Parameters
    ----------
    latency, key_latency, body_gap
        As in :class:`_StandInEngine`.
    leak : bool
        Take 3 more cycles when the ciphertext's fold is odd (not constant time).
    """

    def __init__(self, *, latency=20, key_latency=3, body_gap=0, leak=False):
        self._leak = bool(leak)
        super().__init__(KemEngineSignature, latency=latency, key_latency=key_latency,
                         body_gap=body_gap)

    def elaborate(self, platform):
        m = Module()
        kacc = _key_fold(m, self, self._key_latency)

        k = Signal(256)
        m.d.comb += self.k.payload.eq(k)

        def finish(cacc):
            x = Signal(64)
            m.d.comb += x.eq(kacc ^ cacc)
            return [k.eq(Cat(*[x.rotate_left(16 * j) ^ j for j in range(4)]))]

        _request_fold(m, self, self.ct, self.k, latency=self._latency, body_gap=self._body_gap,
                      extra=(lambda acc: acc[0] * 3) if self._leak else None, finish=finish)
        return m


class KeyModel:
    """The shell's key load applied to a word stream (the words up to the first ``last``).

    Attributes: ``status`` (``"ok"``/``"bad"``), ``k_att`` (bytes), ``kacc``.
    """

    def __init__(self, vendor, words):
        g = shell_geometry(vendor)
        kw, rem = g["key_words"], g["key_rem"]
        err = False
        engine_words = []
        k_att = [0, 0, 0, 0]
        for i, (w, last) in enumerate(words):
            if i < kw:
                engine_words.append(w)
                if i == kw - 1 and rem and w >> (8 * rem):
                    err = True
            elif i < kw + 4:
                k_att[i - kw] = w
            else:
                err = True
            if last:
                err |= i != kw + 3
                break
        engine_words += [0] * (kw - len(engine_words))     # the shell completes a short key
        self.kacc = fold(engine_words)
        self.status = "ok" if (not err and self.kacc != 0) else "bad"
        self.k_att = b"".join(x.to_bytes(8, "little") for x in k_att)

    @staticmethod
    def stream(key, k_att):
        """The well-formed key stream of ``key`` (zero-padded) then ``k_att``."""
        words = _words(key) + _words(k_att)
        return [(w, i == len(words) - 1) for i, w in enumerate(words)]


class ShellModel:
    """Expected response of a ``ValidatorShell`` with a :class:`ShellTestEngine` (or, with
    ``kem``, a :class:`ShellKemEngine`).

    ``key`` is a :class:`KeyModel` or ``None`` (no key loaded since reset).
    ``beats`` is the proof stream as 64-bit words (``last`` on the final one).
    Returns ``(vote, status, attestation, digest)``.
    """

    def __init__(self, vendor, *, kem=False):
        self.vendor = vendor
        self.kem = kem
        self.g = shell_geometry(vendor)

    def verdict(self, key, descriptor, beats):
        """The engine's verdict (signature) or the tag check (KEM) on a full-length proof."""
        if self.kem:
            received = b"".join(w.to_bytes(8, "little") for w in beats)
            obj = OBJECT_LEN[self.vendor]
            ct, tag = received[:obj], received[obj:obj + TAG_BYTES]
            return proof_tag(kem_k(key.kacc, ct), descriptor) == tag
        return fold(beats[:self.g["body_words"]]) == expected_acc(key.kacc, descriptor)

    def response(self, key, descriptor, nonce, beats):
        g = self.g
        received = b"".join(w.to_bytes(8, "little") for w in beats)
        pd = proof_digest(received)
        bad_len = len(beats) != g["beats"]
        mask = (1 << (8 * g["body_rem"])) - 1 if g["body_rem"] else MASK
        pad_err = any(beats[g["body_words"]:g["beats"]]) or (
            len(beats) >= g["body_words"] and beats[g["body_words"] - 1] & ~mask & MASK != 0)
        if key is None:
            return False, Status.NO_KEY, bytes(32), pd
        verdict = self.verdict(key, descriptor, beats)
        if key.status == "bad":
            status = Status.BAD_KEY
        elif bad_len:
            status = Status.BAD_LENGTH
        else:
            status = Status.OK
        vote = status == Status.OK and verdict and not pad_err
        return vote, status, attestation(key.k_att, VENDORS[self.vendor], nonce, descriptor,
                                         vote, pd), pd
