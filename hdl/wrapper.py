"""Seed-compatible flat wrapper ``<vendor>_quantum_validator_asic`` around a validator core
(SPEC §4).

The wrapper exposes plain ports (no structures) and takes the proof one 1024-byte frame at
a time; it serialises each frame into the 128 64-bit beats the core's ``i_proof`` takes::

    delegated_quantum_proof[8191:0] ─► frame register ─(>> 64 per beat)─► core.i_proof
    tcp_descriptor, nonce ───────────────────────────────────────────────► core.i_req
    key_data / key_last ─────────────────────────────────────────────────► core.i_key
    core.o_resp ─► quantum_consensus_vote, quantum_signature, proof_digest, status

Beat ``k`` of a frame is bits ``64k+63 .. 64k`` of ``delegated_quantum_proof`` (bytes
``8k .. 8k+7``); ``frame_last`` marks the final frame, and the core sees ``last`` on that
frame's beat 127. A new frame is accepted in the cycle the previous one's final beat is
taken, so a multi-frame proof streams at one beat per cycle.
"""

from amaranth.hdl import Module, Signal
from amaranth.lib import wiring
from amaranth.lib.wiring import In, Out

from golden.proof import BEAT_BYTES, FRAME_BYTES, VENDORS

__all__ = ["AsicWrapper", "make_asic_wrapper", "wrapper_name"]

BEATS_PER_FRAME = FRAME_BYTES // BEAT_BYTES


def wrapper_name(vendor):
    return f"{vendor}_quantum_validator_asic"


class AsicWrapper(wiring.Component):
    """Flat-port wrapper of a validator core (see the module docstring).

    Parameters
    ----------
    vendor : str
        One of ``golden.proof.VENDORS``.
    core : wiring.Component
        A core with the ports of :class:`~hdl.validator.ValidatorShell`.

    Members
    -------
    tcp_descriptor : ``In(192)``
        Descriptor ``D`` of the request (byte ``i`` in bits ``8i+7 .. 8i``).
    nonce : ``In(64)``
        Nonce ``N`` of the request.
    req_valid, req_ready : ``In(1)``, ``Out(1)``
        Request handshake.
    delegated_quantum_proof : ``In(8192)``
        One frame of the proof.
    frame_valid, frame_ready, frame_last : ``In(1)``, ``Out(1)``, ``In(1)``
        Frame handshake; ``frame_last`` on the proof's final frame.
    quantum_consensus_vote : ``Out(1)``
        Vote of the response.
    quantum_signature : ``Out(256)``
        Attestation of the response.
    proof_digest : ``Out(256)``
        SHA3-256 of the received proof.
    status : ``Out(2)``
        Status of the response (``golden.proof.Status``).
    resp_valid, resp_ready : ``Out(1)``, ``In(1)``
        Response handshake; the response is held until accepted.
    key_data, key_last, key_valid, key_ready : ``In(64)``, ``In(1)``, ``In(1)``, ``Out(1)``
        Key load: algorithm key words then ``K_att``.
    key_status : ``Out(2)``
        ``hdl.validator.KeyStatus`` code.
    """

    tcp_descriptor: In(192)
    nonce: In(64)
    req_valid: In(1)
    req_ready: Out(1)
    delegated_quantum_proof: In(8 * FRAME_BYTES)
    frame_valid: In(1)
    frame_ready: Out(1)
    frame_last: In(1)
    quantum_consensus_vote: Out(1)
    quantum_signature: Out(256)
    proof_digest: Out(256)
    status: Out(2)
    resp_valid: Out(1)
    resp_ready: In(1)
    key_data: In(64)
    key_last: In(1)
    key_valid: In(1)
    key_ready: Out(1)
    key_status: Out(2)

    def __init__(self, *, vendor, core):
        if vendor not in VENDORS:
            raise ValueError(f"Vendor must be one of {', '.join(map(repr, VENDORS))}, "
                             f"not {vendor!r}")
        if not isinstance(core, wiring.Component):
            raise TypeError(f"Core must be a wiring.Component, not {core!r}")
        self._vendor = vendor
        self._core = core
        super().__init__()

    @property
    def vendor(self):
        return self._vendor

    @property
    def name(self):
        """Module name for Verilog generation."""
        return wrapper_name(self._vendor)

    @property
    def core(self):
        return self._core

    def elaborate(self, platform):
        m = Module()
        m.submodules.core = core = self._core

        m.d.comb += [
            core.i_key.payload.data.eq(self.key_data),
            core.i_key.payload.last.eq(self.key_last),
            core.i_key.valid.eq(self.key_valid),
            self.key_ready.eq(core.i_key.ready),
            self.key_status.eq(core.o_key_status),

            core.i_req.payload.descriptor.eq(self.tcp_descriptor),
            core.i_req.payload.nonce.eq(self.nonce),
            core.i_req.valid.eq(self.req_valid),
            self.req_ready.eq(core.i_req.ready),

            self.quantum_consensus_vote.eq(core.o_resp.payload.vote),
            self.quantum_signature.eq(core.o_resp.payload.attestation),
            self.proof_digest.eq(core.o_resp.payload.digest),
            self.status.eq(core.o_resp.payload.status),
            self.resp_valid.eq(core.o_resp.valid),
            core.o_resp.ready.eq(self.resp_ready),
        ]

        # frame serialiser: a shift register emitting 64 bits per beat
        frame = Signal(8 * FRAME_BYTES)
        frame_final = Signal()         # the frame in the register is the proof's last
        full = Signal()
        beat = Signal(range(BEATS_PER_FRAME))
        beat_hs = Signal()
        frame_hs = Signal()
        m.d.comb += [
            core.i_proof.valid.eq(full),
            core.i_proof.payload.data.eq(frame[:64]),
            core.i_proof.payload.last.eq(frame_final & (beat == BEATS_PER_FRAME - 1)),
            beat_hs.eq(core.i_proof.valid & core.i_proof.ready),
            self.frame_ready.eq(~full | (beat_hs & (beat == BEATS_PER_FRAME - 1))),
            frame_hs.eq(self.frame_valid & self.frame_ready),
        ]
        with m.If(frame_hs):
            m.d.sync += [
                frame.eq(self.delegated_quantum_proof),
                frame_final.eq(self.frame_last),
                full.eq(1),
                beat.eq(0),
            ]
        with m.Elif(beat_hs):
            m.d.sync += [frame.eq(frame[64:]), beat.eq(beat + 1)]
            with m.If(beat == BEATS_PER_FRAME - 1):
                m.d.sync += full.eq(0)
        return m


def make_asic_wrapper(vendor, core_factory, **core_kwargs):
    """The seed-compatible wrapper ``<vendor>_quantum_validator_asic`` of a core.

    Parameters
    ----------
    vendor : str
        One of ``golden.proof.VENDORS``.
    core_factory : callable
        Returns the core (``hdl.cores.CORES[vendor]``, or any callable building a
        :class:`~hdl.validator.ValidatorShell`); called with ``core_kwargs``.

    Returns
    -------
    AsicWrapper
        An instance of the class ``<vendor>_quantum_validator_asic`` (a subclass of
        :class:`AsicWrapper`); its ``name`` is the Verilog module name.
    """
    if vendor not in VENDORS:
        raise ValueError(f"Vendor must be one of {', '.join(map(repr, VENDORS))}, not {vendor!r}")
    cls = type(wrapper_name(vendor), (AsicWrapper,), {"__module__": __name__})
    return cls(vendor=vendor, core=core_factory(**core_kwargs))
