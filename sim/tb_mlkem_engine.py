"""Bench for the ML-KEM-512 decapsulation engine alone (hdl.mlkem.engine.MlKemEngine), a
KEM engine of :data:`hdl.validator.KemEngineSignature`.

Loads each dk, sends ct, and compares the engine's ``K`` with the golden model and with the
vector's expected K, and checks that the cycle count from the last ct word to ``k.valid``
(and from ``start``) is the same for every case. Cases come from the JSON file named by
``MLKEM_CASES`` (written by the pytest side): every ACVP and CCTV decapsulation vector
in tests/vectors plus random pqcrypto key pairs. ``MLKEM_CORRUPT=n`` (negative control)
corrupts the expected K of case ``n``.
"""

import json
import os

import cocotb
from cocotb.triggers import ReadOnly, RisingEdge, with_timeout

from golden import mlkem
from golden.keccak import words_le
from sim.tb_common import CLOCK_NS, KemEngineTB, stream_words, value


class EngineTB(KemEngineTB):
    async def load_key(self, dk):
        start = await self.send_bytes(self.key, dk)
        while True:
            await ReadOnly()
            if value(self.dut.key_done):
                break
            await RisingEdge(self.clk)
            if self.cycle - start > 20000:
                raise AssertionError("key load did not finish")
        ok = value(self.dut.key_ok)
        await RisingEdge(self.clk)
        return ok, self.cycle - start

    async def decaps(self, ct, *, abort_after=None):
        """start, ct words, K: returns ``(K, cycles start → k.valid, cycles last ct word →
        k.valid)``; with ``abort_after=i`` the request is cancelled before word ``i``."""
        t0 = self.cycle
        await self.pulse("start")
        words = stream_words(words_le(ct))
        if abort_after is not None:
            await self.ct.send_all(words[:abort_after])
            await self.pulse("cancel")
            return None
        await self.ct.send_all(words)
        t_last = self.cycle - 1            # the edge that took the last word
        t_valid = None

        async def wait_valid():
            nonlocal t_valid
            while True:
                await ReadOnly()
                if value(self.dut.k__valid):
                    t_valid = self.cycle
                    return
                await RisingEdge(self.clk)

        await with_timeout(wait_valid(), 20000 * CLOCK_NS, "ns")
        await RisingEdge(self.clk)
        k = (await self.k.recv(timeout_cycles=100)).to_bytes(32, "little")
        return k, t_valid - t0, t_valid - t_last


def _cases():
    with open(os.environ["MLKEM_CASES"]) as f:
        return json.load(f)


@cocotb.test()
async def test_decaps_cases(dut):
    """Every case: K equals the golden model and the expected K; constant time."""
    tb = EngineTB(dut)
    await tb.reset()
    cycles = set()
    tails = set()
    key_load = []
    last_dk = None
    for n, case in enumerate(_cases()):
        dk, c = bytes.fromhex(case["dk"]), bytes.fromhex(case["c"])
        if dk != last_dk:
            ok, kc = await tb.load_key(dk)
            assert ok == int(mlkem.check_dk(dk)), f"case {n}: key_ok {ok}"
            key_load.append(kc)
            last_dk = dk
        k_expected = bytes.fromhex(case["k"])
        assert mlkem.decaps(dk, c) == k_expected, f"case {n}: golden disagrees with the vector"
        if os.environ.get("MLKEM_CORRUPT") == str(n):          # negative control
            k_expected = bytes([k_expected[0] ^ 1]) + k_expected[1:]
        k, cyc, tail = await tb.decaps(c)
        assert k == k_expected, f"case {n} ({case.get('name')}): K {k.hex()} != {k_expected.hex()}"
        cycles.add(cyc)
        tails.add(tail)
    assert len(cycles) == 1, f"latency differs between cases: {sorted(cycles)}"
    assert len(tails) == 1, f"last ct word → K differs between cases: {sorted(tails)}"
    out = os.environ.get("MLKEM_METRICS")
    if out:
        with open(out, "w") as f:
            json.dump({"engine_cycles": cycles.pop(), "engine_tail": tails.pop(),
                       "key_load": max(key_load), "cases": len(_cases())}, f)


@cocotb.test()
async def test_abort_then_decaps(dut):
    """An aborted request (mid-body and after the body) leaves the engine ready with the key."""
    tb = EngineTB(dut)
    await tb.reset()
    case = _cases()[0]
    dk, c = bytes.fromhex(case["dk"]), bytes.fromhex(case["c"])
    ok, _ = await tb.load_key(dk)
    assert ok == 1
    await tb.decaps(c, abort_after=50)
    k, cyc0, _ = await tb.decaps(c)
    assert k == mlkem.decaps(dk, c)
    # abort while the engine is computing (J in the sponge, an NTT running)
    await tb.pulse("start")
    await tb.send_bytes(tb.ct, c)
    await tb.cycles(60)
    await tb.pulse("cancel")
    k, cyc1, _ = await tb.decaps(c)
    assert k == mlkem.decaps(dk, c)
    assert cyc0 == cyc1


@cocotb.test()
async def test_key_reload(dut):
    """Keys loaded one after another (no request between) are each checked; a dk with a
    wrong H(ek) is rejected."""
    tb = EngineTB(dut)
    await tb.reset()
    dks = []
    for case in _cases():
        dk = bytes.fromhex(case["dk"])
        if dk not in dks:
            dks.append(dk)
    bad = bytearray(dks[0])
    bad[1568] ^= 0x01                      # H(ek)
    for dk in (dks[0], dks[1], bytes(bad), dks[0]):
        ok, _ = await tb.load_key(dk)
        assert ok == int(mlkem.check_dk(dk)), f"key_ok {ok}"



@cocotb.test()
async def test_schedule(dut):
    """Cycle at which each program step starts (relative to ``start``), for docs/mlkem.md;
    the schedule must be the same for a valid and an implicitly rejected ciphertext."""
    tb = EngineTB(dut)
    await tb.reset()
    cases = _cases()
    schedules = []
    for case in cases[:4]:
        dk, c = bytes.fromhex(case["dk"]), bytes.fromhex(case["c"])
        ok, _ = await tb.load_key(dk)
        steps = []
        t0 = tb.cycle + 1

        async def watch():
            prev = None
            while True:
                await RisingEdge(tb.clk)
                await ReadOnly()
                s = value(dut.engine.seq.step)
                if s != prev:
                    steps.append((s, tb.cycle - t0))
                    prev = s

        w = cocotb.start_soon(watch())
        await tb.decaps(c)
        w.cancel()
        schedules.append(steps)
    assert all(s == schedules[0] for s in schedules), "schedule depends on the data"
    out = os.environ.get("MLKEM_SCHEDULE")
    if out:
        with open(out, "w") as f:
            json.dump(schedules[0], f)


@cocotb.test()
async def test_no_collision(dut):
    """The work memory's banks carry ``no_rw_check`` (hdl/mlkem/workmem.py): a read of a row
    in the cycle that row is written returns undefined data on the block RAM. Every such
    read is poisoned here (its data register gets random bits), over two key loads and
    decapsulations with and without idle cycles in the streams and around an abort, and K
    must still equal the golden model: no colliding read is used.

    ``MLKEM_POISON_GAP=1`` (negative control) poisons instead the reads one cycle after
    the row's write (the NTT's stage changes read a word that early), which K needs, so the
    test must fail; ``-1`` poisons every read."""
    tb = EngineTB(dut)
    await tb.reset()
    wr = dut.engine.wr
    ports = [(wr.wen0, wr.waddr0, wr.raddr0, wr.data_bank0),
             (wr.wen1, wr.waddr1, wr.raddr1, wr.data_bank1)]
    poison_gap = int(os.environ.get("MLKEM_POISON_GAP", "0"))
    landed = {}                                # (bank, row) -> cycle of its last write
    pending = []                               # (cycle, bank): data registers to poison
    stats = {"writes": 0, "poisoned": 0, "gaps": []}

    async def watch():
        now = 0
        while True:
            await RisingEdge(tb.clk)
            now += 1
            for due, k in [p for p in pending if p[0] == now]:
                ports[k][3].value = tb.rng.getrandbits(96)
                stats["poisoned"] += 1
            pending[:] = [p for p in pending if p[0] > now]
            await ReadOnly()
            for k, (wen, waddr, raddr, _) in enumerate(ports):
                # both are sampled at the next edge; the read's data register loads one
                # edge after that
                if value(wen):
                    landed[k, value(waddr)] = now
                    stats["writes"] += 1
                r = value(raddr)
                if (k, r) in landed:
                    gap = now - landed[k, r]
                    stats["gaps"].append(gap)
                    if gap == poison_gap or poison_gap < 0:
                        pending.append((now + 2, k))

    w = cocotb.start_soon(watch())
    cases = _cases()
    dks = []
    for case in cases:
        if case["dk"] not in dks and mlkem.check_dk(bytes.fromhex(case["dk"])):
            dks.append(case["dk"])
    for n, dk_hex in enumerate(dks[:2]):
        dk = bytes.fromhex(dk_hex)
        # a ciphertext that decrypts: a wrong read would make the re-encryption differ and
        # K the implicit-rejection value
        ek = dk[mlkem.DK_PKE_LEN:mlkem.DK_PKE_LEN + mlkem.EK_LEN]
        c, k_true = mlkem.encaps(ek, tb.rng.randbytes(32))
        assert mlkem.decaps(dk, c) == k_true
        tb.key.idle_prob = tb.ct.idle_prob = 0.4 * n
        ok, _ = await tb.load_key(dk)
        assert ok == 1
        k, _, _ = await tb.decaps(c)
        assert k == k_true, f"key {n}: K differs"
        await tb.pulse("start")                # abort while the engine computes
        await tb.send_bytes(tb.ct, c)
        await tb.cycles(300)
        await tb.pulse("cancel")
        k, _, _ = await tb.decaps(c)
        assert k == k_true, f"key {n}: K differs after an abort"
    w.cancel()
    assert stats["writes"] > 1000 and len(stats["gaps"]) > 1000, stats["writes"]
    assert stats["gaps"].count(1) > 0, "no read one cycle after its row's write"
    assert stats["poisoned"] > 0, "no read poisoned"
    dut._log.info(f"work memory: {stats['writes']} writes, {stats['poisoned']} reads poisoned "
                  f"(gap {poison_gap})")
