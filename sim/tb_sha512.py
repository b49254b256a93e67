"""cocotb bench for :class:`hdl.sha512.Sha512` under Verilator.

Messages of random lengths (every padding case: 0, 111, 112, 127, 128 bytes, several
blocks) are streamed as padded words with random idle cycles; the hash value is taken with
random back-pressure. On **every cycle** of every block's rounds the working variables
(debug port ``state``) and round counter (``round``) are compared with
:func:`golden.sha512.sha512_trace`; the output must equal ``hashlib.sha512`` and appear
:data:`hdl.sha512.Sha512.LAST_TO_DIGEST` cycles after the final word is accepted.

Environment: ``SHA512_CASES``, ``PQVOTE_SEED``, ``SHA512_CORRUPT=1`` (negative control:
one expected state bit in the middle of a block is wrong, the bench must fail).
"""

import hashlib
import os

import cocotb
from cocotb.triggers import ReadOnly, RisingEdge, with_timeout

from golden import sha512 as gs
from hdl.sha512 import Sha512, Sha512State, Sha512Word
from sim.results import record
from sim.tb_common import TB, CLOCK_NS, StreamDriver, value

CASES = int(os.environ.get("SHA512_CASES", "12"))
CORRUPT = os.environ.get("SHA512_CORRUPT") == "1"


def words_of(v):
    bits = Sha512State.from_bits(v)
    return tuple(bits[k] for k in range(8))


def messages(rng):
    fixed = [0, 1, 111, 112, 127, 128, 165, 239, 240]
    out = [rng.randbytes(n) for n in fixed]
    out += [rng.randbytes(rng.randrange(0, 1000)) for _ in range(max(0, CASES - len(fixed)))]
    return out[:max(CASES, 3)]


async def run(tb, *, idle_prob, stall_prob):
    dut = tb.dut
    rng = tb.rng
    msgs = messages(rng)
    dut.i__valid.value = 0
    dut.o__ready.value = 0
    dut.cancel.value = 0
    latencies = set()
    rounds_checked = 0
    for n, msg in enumerate(msgs):
        per_block = gs.sha512_trace(msg)
        traces = [trace for _, trace, _ in per_block]
        if CORRUPT and n == 2:
            traces[0][40] = (traces[0][40][0] ^ (1 << 17),) + traces[0][40][1:]
        words = [(w, int(b == len(per_block) - 1 and j == 15))
                 for b, (M, _, _) in enumerate(per_block) for j, w in enumerate(M)]
        expect = per_block[-1][2]
        block = -1
        prev_round = None
        k = 0                      # next word to offer
        last_at = None
        got = None
        while got is None:
            # drive (just after a rising edge)
            offer = k < len(words) and rng.random() >= idle_prob
            if offer:
                w, last = words[k]
                dut.i__payload.value = Sha512Word.const({"data": w, "last": last}).as_value().value
            dut.i__valid.value = int(offer)
            take = rng.random() >= stall_prob
            dut.o__ready.value = int(take)
            await ReadOnly()
            # per-cycle state check
            if value(dut.running):
                r = value(dut.round)
                if r == 0 and prev_round != 0:
                    block += 1
                prev_round = r
                state = words_of(value(dut.state))
                assert state == traces[block][r], (
                    f"message {n} ({len(msg)} B) block {block} round {r}: state "
                    f"{[hex(x) for x in state]} != {[hex(x) for x in traces[block][r]]}")
                rounds_checked += 1
            else:
                prev_round = None
            if offer and value(dut.i__ready):
                if words[k][1]:
                    last_at = tb.cycle
                k += 1
            if value(dut.o__valid) and take:
                got = words_of(value(dut.o__payload))
                latencies.add(tb.cycle - last_at)
            await RisingEdge(tb.clk)
        dut.i__valid.value = 0
        dut.o__ready.value = 0
        assert block == len(per_block) - 1, f"message {n}: {block + 1} blocks run"
        assert got == expect, f"message {n}: hash value"
        assert gs.digest_bytes(got) == hashlib.sha512(msg).digest()
    return latencies, rounds_checked


@cocotb.test()
@cocotb.parametrize(idle_prob=[0.0, 0.5], stall_prob=[0.0, 0.5])
async def test_trace(dut, idle_prob, stall_prob):
    tb = TB(dut)
    dut.i__valid.value = 0
    dut.o__ready.value = 0
    dut.cancel.value = 0
    await tb.reset()
    latencies, checked = await with_timeout(run(tb, idle_prob=idle_prob, stall_prob=stall_prob),
                                            CASES * 4000 * CLOCK_NS, "ns")
    if stall_prob == 0:
        assert latencies == {Sha512.LAST_TO_DIGEST}, latencies
    assert checked > 80 * CASES
    if idle_prob == 0 and stall_prob == 0:
        record("sha512", last_word_to_digest=Sha512.LAST_TO_DIGEST,
               cycles_per_block=Sha512.CYCLES_PER_BLOCK)


@cocotb.test(skip=CORRUPT)
async def test_block_throughput(dut):
    """A long message with words always offered costs CYCLES_PER_BLOCK (82) cycles per block."""
    tb = TB(dut)
    await tb.reset()
    msg = tb.rng.randbytes(128 * 6 - 17)        # exactly six blocks
    M = [w for B in gs.blocks(msg) for w in B]
    k = 0
    first_at = None
    while True:
        if k < len(M):
            dut.i__payload.value = Sha512Word.const(
                {"data": M[k], "last": int(k == len(M) - 1)}).as_value().value
        dut.i__valid.value = int(k < len(M))
        dut.o__ready.value = 1
        await ReadOnly()
        if k < len(M) and value(dut.i__ready):
            first_at = tb.cycle if k == 0 else first_at
            k += 1
        if value(dut.o__valid):
            assert gs.digest_bytes(words_of(value(dut.o__payload))) == hashlib.sha512(msg).digest()
            total = tb.cycle - first_at
            break
        await RisingEdge(tb.clk)
    await RisingEdge(tb.clk)
    dut.i__valid.value = 0
    # words 0 and 1, then per block a feed cycle, 80 rounds and the a unit's last round,
    # then the final add
    assert total == 2 + 6 * Sha512.CYCLES_PER_BLOCK + 1, total
    record("sha512", six_block_message_cycles=total)


@cocotb.test(skip=CORRUPT)
async def test_cancel(dut):
    """cancel mid-message drops it; the next message hashes correctly."""
    tb = TB(dut)
    await tb.reset()
    rng = tb.rng
    words = StreamDriver(dut, "i", tb.clk)
    for msg in (rng.randbytes(300), rng.randbytes(50)):
        M = [w for B in gs.blocks(msg) for w in B]
        await words.send_all([Sha512Word.const({"data": w, "last": 0}).as_value().value
                              for w in M[:20]])
        dut.cancel.value = 1
        await RisingEdge(tb.clk)
        dut.cancel.value = 0
        await RisingEdge(tb.clk)
        await ReadOnly()
        assert value(dut.running) == 0 and value(dut.o__valid) == 0
        await RisingEdge(tb.clk)
    latencies, _ = await with_timeout(run(tb, idle_prob=0.0, stall_prob=0.0), 40000 * CLOCK_NS, "ns")
    assert latencies == {Sha512.LAST_TO_DIGEST}
