"""cocotb bench for :class:`hdl.sntrup.decode.RadixDecoder` (Rounded, p = 653) under Verilator.

Inputs: the Rounded part of every KAT ciphertext, random canonical encodings, random bytes
and all-0xFF; with random idle cycles between input words. Every emitted coefficient is
compared, in order, with :func:`golden.sntrup.decode_by_schedule` (``R[652]`` first), the
canonical flag with ``encode(decode(b)) == b``, and the cycle count from the last input
word to ``done`` must be one number for every input.

Environment: ``PQVOTE_SEED``, ``SNTRUP_CORRUPT=1`` (negative control: one expected
coefficient of one input is wrong, the bench must fail).
"""

import json
import os
from pathlib import Path

import cocotb
from cocotb.triggers import ReadOnly, RisingEdge, with_timeout

import golden.sntrup as sntrup
from golden.keccak import words_le
from sim.results import record
from sim.tb_common import TB, CLOCK_NS, value

CORRUPT = os.environ.get("SNTRUP_CORRUPT") == "1"
VECTORS = Path(__file__).resolve().parent.parent / "tests" / "vectors" / "sntrup653_kat.json"
M = [sntrup.ROUNDED_M] * sntrup.P


def inputs(rng):
    cases = json.loads(VECTORS.read_text())["cases"]
    out = [bytes.fromhex(c["ct"])[:sntrup.ROUNDED_BYTES] for c in cases]
    out += [sntrup.encode([rng.randrange(m) for m in M], M) for _ in range(3)]
    out += [rng.randbytes(sntrup.ROUNDED_BYTES) for _ in range(3)]
    out += [b"\xff" * sntrup.ROUNDED_BYTES]
    return out


async def run(tb, idle_prob):
    dut = tb.dut
    rng = tb.rng
    latencies = set()
    flags = []
    for n, b in enumerate(inputs(rng)):
        _, canonical, emitted = sntrup.decode_by_schedule(b, M)
        if CORRUPT and n == 2:
            emitted[400] ^= 1
        words = words_le(b)
        k = 0
        got = []
        last_at = None
        while True:
            offer = k < len(words) and rng.random() >= idle_prob
            if offer:
                dut.i__payload.value = words[k]
            dut.i__valid.value = int(offer)
            await ReadOnly()
            if offer and value(dut.i__ready):
                k += 1
                if k == len(words):
                    last_at = tb.cycle
            if value(dut.o_valid):
                got.append(value(dut.o_coeff))
            if last_at is not None and value(dut.done):
                latencies.add(tb.cycle - last_at)
                break
            await RisingEdge(tb.clk)
        await RisingEdge(tb.clk)
        dut.i__valid.value = 0
        assert len(got) == sntrup.P, f"input {n}: {len(got)} coefficients"
        for j, (x, y) in enumerate(zip(got, emitted)):
            assert x == y, f"input {n}: coefficient {sntrup.P - 1 - j}: {x} != {y}"
        assert value(dut.canonical) == canonical, f"input {n}: canonical flag"
        assert canonical == (sntrup.encode(sntrup.decode(b, M), M) == b)
        flags.append(canonical)
    assert len(latencies) == 1, latencies
    # the inputs must cover both canonical and non-canonical encodings
    assert any(flags) and not all(flags), f"canonical flags of the inputs: {flags}"
    return latencies.pop()


@cocotb.test()
@cocotb.parametrize(idle_prob=[0.0, 0.5])
async def test_decode(dut, idle_prob):
    tb = TB(dut)
    dut.i__valid.value = 0
    await tb.reset()
    cycles = await with_timeout(run(tb, idle_prob), 200_000 * CLOCK_NS, "ns")
    if idle_prob == 0:
        record("sntrup_decode", rounded_decode_cycles=cycles)
