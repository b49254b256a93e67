"""The hash jobs of the ML-KEM-512 engine and the arbiter of its one Keccak sponge
(FIPS 203 §4.1: H, J, G, PRF, XOF).

One :class:`~hdl.sponge.KeccakSponge` serves two clients, one at a time:

* the key loader, which streams ``ek`` into SHA3-256 and reads ``H(ek)`` (``key_*`` members,
  while ``key_sel`` is high);
* the job runner, which sends a job's message and either reads the output itself (J, G) or
  hands it to a sampler (XOF → SampleNTT, PRF → SamplePolyCBD)::

      job   message (64-bit words)                  mode       output
      XOF   ρ ‖ j ‖ i                  (34 bytes)    SHAKE128   → rejection sampler
      J     z ‖ c                      (800 bytes)   SHAKE256   K̄ (32 bytes)
      G     m' ‖ H(ek)                 (64 bytes)    SHA3-512   K' ‖ r
      PRF   r ‖ N                      (33 bytes)    SHAKE256   → CBD sampler
"""

from amaranth.hdl import Module, Signal, Mux, Cat, Const
from amaranth.lib import stream, wiring
from amaranth.lib.fifo import SyncFIFO
from amaranth.lib.wiring import In, Out

from hdl.mlkem.intake import CT_ADDR_BITS, CT_WORDS, SEED_WORDS
from hdl.sponge import KeccakSponge, SpongeIn, SpongeMode
from hdl.stream_util import read_port_signature

__all__ = ["HashJobs", "JOB_XOF", "JOB_J", "JOB_G", "JOB_PRF", "J_WORDS"]

JOB_XOF, JOB_J, JOB_G, JOB_PRF = range(4)
J_WORDS = SEED_WORDS + CT_WORDS                     # 100: J(z ‖ c)
G_WORDS = 2 * SEED_WORDS                            # 8: G(m' ‖ H(ek))
SEED_MSG_WORDS = SEED_WORDS + 1                     # 5: ρ ‖ j ‖ i, r ‖ N
CT_FIFO_DEPTH = 4                                   # J's ct words fetched ahead


class HashJobs(wiring.Component):
    """Sponge arbiter and job runner (see the module docstring).

    A job starts with ``go`` (a pulse, with ``kind`` and ``n`` — the PRF nonce ``N`` or the
    Â index ``2i + j``) while ``busy`` is low; ``done`` pulses when it is finished: for J and
    G when the output is captured (``k_bar``; ``k_prime`` and ``r``), for XOF and PRF when the
    sampler reports ``sampler_done``. The message words go to the sponge one per cycle as
    long as it takes them. ``key_sel`` gives the sponge to the key loader's ``key_i`` /
    ``key_o`` / ``key_stop`` instead (never while a job runs).

    Parameters
    ----------
    rounds_per_cycle : int
        Keccak rounds per clock of the sponge (1 or 2).

    Members
    -------
    go : ``In(1)``; kind : ``In(2)``; n : ``In(3)``
    busy, done : ``Out(1)``
    rho, z, h, m_prime : ``In(256)``
        Message parts, stable while a job that uses them runs.
    rd_ct : ``Out(read_port_signature(7, 64))``
        The ct memory (synchronous read: data one cycle after the address), for J; the
        data goes straight into a register, then a 4-word FIFO read by the sponge.
    sampler : ``Out(stream.Signature(unsigned(64)))``
        XOF / PRF output words; ``xof`` tells which sampler takes them.
    xof : ``Out(1)``
    sampler_stop, sampler_done : ``In(1)``
    k_bar, k_prime, r : ``Out(256)``
        Outputs of J and G.
    key_sel : ``In(1)``
    key_i : ``In(stream.Signature(SpongeIn))``; key_o : ``Out(stream.Signature(unsigned(64)))``;
    key_stop : ``In(1)``
    """

    def __init__(self, *, rounds_per_cycle=2):
        if rounds_per_cycle not in (1, 2) or not isinstance(rounds_per_cycle, int):
            raise ValueError(f"Round count per cycle must be 1 or 2, not {rounds_per_cycle!r}")
        self._rounds_per_cycle = rounds_per_cycle
        super().__init__({
            "go": In(1), "kind": In(2), "n": In(3),
            "busy": Out(1), "done": Out(1),
            "rho": In(256), "z": In(256), "h": In(256), "m_prime": In(256),
            "rd_ct": Out(read_port_signature(CT_ADDR_BITS, 64)),
            "sampler": Out(stream.Signature(64)),
            "xof": Out(1),
            "sampler_stop": In(1), "sampler_done": In(1),
            "k_bar": Out(256), "k_prime": Out(256), "r": Out(256),
            "key_sel": In(1),
            "key_i": In(stream.Signature(SpongeIn)),
            "key_o": Out(stream.Signature(64)),
            "key_stop": In(1),
        })

    def elaborate(self, platform):
        m = Module()
        m.submodules.sponge = sponge = KeccakSponge(rounds_per_cycle=self._rounds_per_cycle)

        jk = Signal(2)
        jn = Signal(3)
        ocnt = Signal(range(9))
        k_bar = Signal(256)
        k_prime = Signal(256)
        r = Signal(256)
        xof = Signal()                        # = (jk == JOB_XOF), a register of its own
        is_j = Signal()                       # = (jk == JOB_J), likewise
        m.d.comb += [self.k_bar.eq(k_bar), self.k_prime.eq(k_prime), self.r.eq(r),
                     self.xof.eq(xof)]

        def job_params(kind):
            """(message length, first four message words, sponge mode) of a job kind."""
            msg_len = Signal(range(J_WORDS + 1))
            head = Signal(256)
            mode = Signal(SpongeMode)
            with m.Switch(kind):
                for k, (n, h, md) in {
                        JOB_XOF: (SEED_MSG_WORDS, self.rho, SpongeMode.SHAKE128),
                        JOB_J: (J_WORDS, self.z, SpongeMode.SHAKE256),
                        JOB_G: (G_WORDS, self.m_prime, SpongeMode.SHA3_512),
                        JOB_PRF: (SEED_MSG_WORDS, r, SpongeMode.SHAKE256)}.items():
                    with m.Case(k):
                        m.d.comb += [msg_len.eq(n), head.eq(h), mode.eq(md)]
            return msg_len, head, mode

        _, head, msg_mode = job_params(jk)

        # J's ct words: fetched in order from the ct memory into a small FIFO, a read issued
        # whenever the FIFO has room for it (the block RAM's data goes straight into a
        # register, two cycles from the address to the FIFO's input), so the sponge takes
        # them one per cycle whatever its pauses
        m.submodules.ct_fifo = ct_fifo = SyncFIFO(width=64, depth=CT_FIFO_DEPTH)
        fa = Signal(range(CT_WORDS + 1))       # next ct word to fetch
        f1 = Signal()                          # a read one / two cycles old
        f2 = Signal()
        ctq = Signal(64)
        fetch = Signal()
        j_send = Signal()                      # J's message is being sent
        m.d.comb += [
            fetch.eq(j_send & (fa < CT_WORDS) & (ct_fifo.level + f1 + f2 < CT_FIFO_DEPTH)),
            self.rd_ct.addr.eq(fa),
            ct_fifo.w_en.eq(f2), ct_fifo.w_data.eq(ctq),
        ]
        m.d.sync += [f1.eq(fetch), f2.eq(f1), ctq.eq(self.rd_ct.data)]
        with m.If(fetch):
            m.d.sync += fa.eq(fa + 1)
        with m.If(self.go):
            m.d.sync += fa.eq(0)

        # The word offered to the sponge comes from registers (``w_*``), loaded with message
        # word ``ni`` whenever they are empty or their word is taken, one per cycle as the
        # sponge takes them, so no select or compare lies between the runner's state and the
        # sponge's input register. Word 0 is offered in the cycle after ``go`` straight from
        # the job's first head word (``first``), selected by the job register.
        ni = Signal(range(J_WORDS + 1))        # next message word to load
        w_valid = Signal()
        w_data = Signal(64)
        w_nbytes = Signal(4)
        w_last = Signal()
        first = Signal()
        msg_word = Signal(64)
        msg_nbytes = Signal(4)
        m.d.comb += msg_nbytes.eq(8)
        in_head = Signal()                     # = (ni < SEED_WORDS), a register
        with m.If(in_head):
            m.d.comb += msg_word.eq(head.word_select(ni[:2], 64))
        with m.Elif(is_j):
            m.d.comb += msg_word.eq(ct_fifo.r_data)
        with m.Elif(jk == JOB_G):
            m.d.comb += msg_word.eq(self.h.word_select(ni[:2], 64))
        with m.Elif(jk == JOB_XOF):
            # ρ ‖ j ‖ i
            m.d.comb += [msg_word.eq(Cat(jn[0], Const(0, 7), jn[1], Const(0, 7))),
                         msg_nbytes.eq(2)]
        with m.Else():
            # r ‖ N
            m.d.comb += [msg_word.eq(jn), msg_nbytes.eq(1)]

        send = Signal()
        taken = Signal()                     # the sponge takes the offered word
        src_ok = Signal()                    # word ni is there (J: in the FIFO)
        load = Signal()
        more = Signal()                      # words are left to load (ni < message length)
        ni_last = Signal()
        m.d.comb += [
            taken.eq(send & w_valid & sponge.i.ready),
            src_ok.eq(in_head | ~is_j | ct_fifo.r_rdy),
            load.eq(send & (~w_valid | taken) & more & src_ok),
            ct_fifo.r_en.eq(load & ~in_head & is_j),
        ]
        # ni == msg_len - 1, as compares with the constant lengths
        with m.Switch(jk):
            for k, n in ((JOB_XOF, SEED_MSG_WORDS), (JOB_J, J_WORDS), (JOB_G, G_WORDS),
                         (JOB_PRF, SEED_MSG_WORDS)):
                with m.Case(k):
                    m.d.comb += ni_last.eq(ni == n - 1)
        with m.If(load):
            m.d.sync += [w_data.eq(msg_word), w_nbytes.eq(msg_nbytes),
                         w_last.eq(ni_last), more.eq(~ni_last), w_valid.eq(1), ni.eq(ni + 1),
                         in_head.eq(ni < SEED_WORDS - 1)]
        with m.Elif(taken):
            m.d.sync += w_valid.eq(0)
        with m.If(taken):
            m.d.sync += first.eq(0)

        # who reads the output: flags set as the last message word is taken (the output
        # handshake then starts at flip-flops)
        read = Signal()                      # the runner reads the output (J, G)
        feed = Signal()                      # a sampler reads the output (XOF, PRF)
        gout = Signal(512)
        out_done = Signal()                  # the last output word of J or G is read
        last_out = Signal()
        m.d.comb += last_out.eq(ocnt == Mux(jk == JOB_J, SEED_WORDS - 1, G_WORDS - 1))
        with m.FSM(name="job_fsm"):
            with m.State("Idle"):
                with m.If(self.go):
                    # no message is shorter than 5 words: word 0 is not the last
                    m.d.sync += [jk.eq(self.kind), jn.eq(self.n), ocnt.eq(0),
                                 first.eq(1), w_nbytes.eq(8), w_last.eq(0),
                                 w_valid.eq(1), ni.eq(1), more.eq(1),
                                 in_head.eq(1), xof.eq(self.kind == JOB_XOF),
                                 is_j.eq(self.kind == JOB_J)]
                    m.next = "Send"
            with m.State("Send"):
                m.d.comb += [self.busy.eq(1), send.eq(1), j_send.eq(is_j)]
                with m.If(taken & w_last):
                    m.d.sync += [read.eq((jk == JOB_J) | (jk == JOB_G)),
                                 feed.eq((jk == JOB_XOF) | (jk == JOB_PRF))]
                    m.next = "Out"
            with m.State("Out"):
                m.d.comb += self.busy.eq(1)
                with m.If(read):
                    with m.If(sponge.o.valid):
                        m.d.sync += [gout.eq(Cat(gout[64:], sponge.o.payload)),
                                     ocnt.eq(ocnt + 1)]
                        with m.If(last_out):
                            m.d.sync += read.eq(0)
                            m.d.comb += [self.done.eq(1), out_done.eq(1)]
                            m.next = "Idle"
                with m.Else():
                    with m.If(self.sampler_done):
                        m.d.sync += feed.eq(0)
                        m.d.comb += self.done.eq(1)
                        m.next = "Idle"
        # capture J and G outputs: K̄ = J(z ‖ c); (K', r) = G(m' ‖ h)
        # (out_done, not done: done also carries the samplers' completion, a long path)
        with m.If(out_done & (jk == JOB_J)):
            m.d.sync += k_bar.eq(Cat(gout[64 * 5:], sponge.o.payload))
        with m.If(out_done & (jk == JOB_G)):
            m.d.sync += [k_prime.eq(gout[64:320]), r.eq(Cat(gout[320:], sponge.o.payload))]

        # ---- arbiter: the key loader or the job runner --------------------------------
        # the input side follows ``key_sel``; on the output side each client reads only in
        # its own states (the key loader while it reads H(ek), the runner in ``Out``, never
        # both), so the output handshake and ``stop`` are ORs without ``key_sel``
        with m.If(self.key_sel):
            m.d.comb += [
                sponge.i.valid.eq(self.key_i.valid),
                sponge.i.payload.eq(self.key_i.payload),
                self.key_i.ready.eq(sponge.i.ready),
            ]
        with m.Elif(send):
            m.d.comb += [
                sponge.i.valid.eq(w_valid),
                sponge.i.payload.data.eq(Mux(first, head[:64], w_data)),
                sponge.i.payload.nbytes.eq(w_nbytes),
                sponge.i.payload.last.eq(w_last),
                sponge.i.payload.mode.eq(msg_mode),
            ]
        m.d.comb += [
            self.key_o.valid.eq(sponge.o.valid),
            self.sampler.valid.eq(sponge.o.valid & feed),
            sponge.o.ready.eq(self.key_o.ready | read | (feed & self.sampler.ready)),
            sponge.stop.eq(self.key_stop | (read & sponge.o.valid & last_out) |
                           (feed & self.sampler_stop)),
            self.key_o.payload.eq(sponge.o.payload),
            self.sampler.payload.eq(sponge.o.payload),
        ]
        return m
