# amaranth: UnusedElaboratable=no
"""Sha512 and Sha512Packer: Amaranth-simulator unit tests and the cocotb bench under Verilator."""

import hashlib
import os
import random

import pytest
from amaranth.back import verilog
from amaranth.lib import stream

from golden import sha512 as gs
from hdl.sha512 import MsgBytes, Sha512, Sha512Packer, Sha512State
from sim.harness import simulate, stream_get, stream_put


def _words(msg):
    blocks = gs.blocks(msg)
    return [(w, int(b == len(blocks) - 1 and j == 15))
            for b, B in enumerate(blocks) for j, w in enumerate(B)]


def test_hash_and_trace():
    dut = Sha512()
    msgs = [b"", b"abc", random.Random(1).randbytes(111), random.Random(2).randbytes(112),
            random.Random(3).randbytes(300)]
    results = []

    async def testbench(ctx):
        for msg in msgs:
            traces = [trace for _, trace, _ in gs.sha512_trace(msg)]
            block, prev = -1, None
            words = _words(msg)
            k = 0
            while True:
                if k < len(words):
                    ctx.set(dut.i.payload, {"data": words[k][0], "last": words[k][1]})
                ctx.set(dut.i.valid, k < len(words))
                ctx.set(dut.o.ready, 1)
                if ctx.get(dut.running):
                    r = ctx.get(dut.round)
                    block += r == 0 and prev != 0
                    prev = r
                    st = ctx.get(dut.state)
                    assert tuple(st[j] for j in range(8)) == traces[block][r], f"round {r}"
                else:
                    prev = None
                if k < len(words) and ctx.get(dut.i.ready):
                    k += 1
                if ctx.get(dut.o.valid):
                    H = ctx.get(dut.o.payload)
                    results.append(gs.digest_bytes([H[j] for j in range(8)]))
                    await ctx.tick()
                    break
                await ctx.tick()
            ctx.set(dut.i.valid, 0)

    simulate(dut, testbench)
    assert results == [hashlib.sha512(m).digest() for m in msgs]


def test_verilog_size():
    """Named intermediates keep the Verilog small."""
    assert len(verilog.convert(Sha512(), name="top")) < 300_000


# ---- cocotb bench under Verilator ---------------------------------------------------------

_CASES = "60" if os.environ.get("PQVOTE_FULL") == "1" else "14"


def test_cocotb_trace():
    from sim.runner import run_cocotb
    assert run_cocotb(name="sha512", top=Sha512, module="sim.tb_sha512",
                      env={"SHA512_CASES": _CASES}) == 6


def test_cocotb_negative_control():
    """One wrong expected state bit in one round must fail the bench."""
    from sim.runner import run_cocotb
    with pytest.raises(AssertionError, match=r"4 of \d cocotb tests failed"):
        run_cocotb(name="sha512", top=Sha512, module="sim.tb_sha512",
                   env={"SHA512_CASES": 4, "SHA512_CORRUPT": 1})


# ---- Sha512Packer -------------------------------------------------------------------------

def _chunks(rnd, msg):
    out, k = [], 0
    while k < len(msg):
        n = rnd.randrange(1, 9)
        out.append(msg[k:k + n])
        k += n
    return out


def _at_offset(rnd, c, offsets):
    """``c`` as a payload word: at a random byte offset among random bytes if ``offsets``."""
    if not offsets:
        return int.from_bytes(c, "little"), 0
    off = rnd.randrange(0, 9 - len(c))
    word = bytearray(rnd.randbytes(8))
    word[off:off + len(c)] = c
    return int.from_bytes(word, "little"), off


@pytest.mark.parametrize("stall,offsets", [(0.0, False), (0.4, False), (0.0, True), (0.4, True)])
def test_packer_words(stall, offsets):
    """Any chunking of a message gives golden.sha512.blocks' words, last on the final word;
    with ``offsets`` each chunk sits at a random byte offset of its word, the other bytes
    random (they must not reach the message)."""
    dut = Sha512Packer()
    rnd = random.Random(int(stall * 10) + 100 * offsets)
    msgs = [rnd.randbytes(n) for n in (1, 8, 33, 65, 110, 111, 112, 127, 128, 129, 165, 239,
                                       240, 930, 995)]

    async def testbench(ctx):
        for msg in msgs:
            chunks = _chunks(rnd, msg)
            blocks = gs.blocks(msg)
            expect = [(w, b == len(blocks) - 1 and j == 15)
                      for b, B in enumerate(blocks) for j, w in enumerate(B)]
            got, k = [], 0
            while len(got) < len(expect):
                if k < len(chunks):
                    c = chunks[k]
                    word, off = _at_offset(rnd, c, offsets)
                    ctx.set(dut.i.payload, {"data": word, "nbytes": len(c), "offset": off,
                                            "last": int(k == len(chunks) - 1)})
                ctx.set(dut.i.valid, k < len(chunks))
                take = rnd.random() >= stall
                ctx.set(dut.o.ready, take)
                if k < len(chunks) and ctx.get(dut.i.ready):
                    k += 1
                if take and ctx.get(dut.o.valid):
                    got.append((ctx.get(dut.o.payload.data), bool(ctx.get(dut.o.payload.last))))
                await ctx.tick()
            ctx.set(dut.i.valid, 0)
            ctx.set(dut.o.ready, 0)
            assert got == expect, f"{len(msg)} bytes"
            assert not ctx.get(dut.o.valid)

    simulate(dut, testbench)


def test_packer_into_sha512():
    """Hash_b(x) = SHA-512(b ‖ x)[:32] through packer and engine, the prefix a one-byte word."""
    from amaranth.hdl import Module
    from amaranth.lib import wiring

    class Top(wiring.Component):
        i: wiring.In(stream.Signature(MsgBytes))
        o: wiring.Out(stream.Signature(Sha512State))

        def elaborate(self, platform):
            m = Module()
            m.submodules.pack = pack = Sha512Packer()
            m.submodules.sha = sha = Sha512()
            wiring.connect(m, pack.o, sha.i)
            wiring.connect(m, wiring.flipped(self.i), pack.i)
            wiring.connect(m, sha.o, wiring.flipped(self.o))
            return m

    dut = Top()
    rnd = random.Random(5)
    cases = [(3, rnd.randbytes(164)), (2, rnd.randbytes(64)), (1, rnd.randbytes(929)),
             (4, rnd.randbytes(994))]
    got = []

    async def testbench(ctx):
        for b, x in cases:
            words = [bytes([b])] + _chunks(rnd, x)
            for k, c in enumerate(words):
                await stream_put(ctx, dut.i, {"data": int.from_bytes(c, "little"),
                                              "nbytes": len(c), "last": int(k == len(words) - 1)})
            H = await stream_get(ctx, dut.o)
            got.append(gs.digest_bytes([H[j] for j in range(8)])[:32])

    simulate(dut, testbench)
    assert got == [hashlib.sha512(bytes([b]) + x).digest()[:32] for b, x in cases]
