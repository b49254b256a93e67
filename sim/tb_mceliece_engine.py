"""Bench for the mceliece348864 decapsulation engine alone (hdl.mceliece.engine).

For each secret key of the case file (``MCELIECE_CASES``, written by the pytest side with
the golden trace of every key and ciphertext) it loads the key and compares, stage by
stage, with ``golden.mceliece``:

* key load: every support element ``alpha_i`` read after the Beneš network (``dbg_ld``),
  every ``g(alpha_i)`` and ``w_i = g(alpha_i)^-2`` written to the weight table
  (``dbg_wr``), ``key_ok``;
* per ciphertext: the syndrome ``S`` when Berlekamp–Massey starts, ``C`` and ``L`` after
  it, every error-vector word (``dbg_e``), the root count and the decoder verdict
  (re-computed syndrome and weight check), and finally ``K``;
* the latency from the last ciphertext word to ``k.valid``: one value for every key and
  ciphertext (valid, flipped bits, other weights, random strings, rejected keys).

``MCELIECE_CORRUPT=1`` corrupts one expected syndrome value (negative control).
"""

import json
import os

import cocotb
from cocotb.triggers import ReadOnly, RisingEdge, with_timeout

from golden import mceliece as mc
from sim.results import record
from sim.tb_common import CLOCK_NS, KemEngineTB, value

STAGE_BM, STAGE_EV, STAGE_HASH = 7, 8, 11


def _ld(v):
    # dbg_ld layout: valid(1) pos(12) alpha(12) w(12)
    return v & 1, (v >> 1) & 0xFFF, (v >> 13) & 0xFFF, (v >> 25) & 0xFFF


def _unpack12(v, n):
    return [(v >> (12 * j)) & 0xFFF for j in range(n)]


class EngineTB(KemEngineTB):
    def __init__(self, dut):
        super().__init__(dut)
        self.errors = []

    def check(self, what, got, want):
        if got != want:
            self.errors.append(what)
            self.dut._log.error(f"{what}: got {str(got)[:120]} want {str(want)[:120]}")

    async def load_key(self, sk, expect):
        """Send the sk words while watching the loader and the weight-table writes (when
        the case asks for the trace); returns the cycles from the first key word accepted
        to ``key_done``."""
        alpha, g_at, w = {}, {}, {}
        trace = expect["trace"]
        stamps = {}

        async def watch():
            while True:
                await ReadOnly()
                if "first" not in stamps and value(self.dut.key__valid) and value(self.dut.key__ready):
                    stamps["first"] = self.cycle
                if "first" in stamps:
                    if not value(self.dut.key_done):
                        stamps["busy"] = True          # key_done drops after word 0
                    elif "busy" in stamps:
                        stamps["done"] = self.cycle
                        return
                if trace and value(self.dut.dbg_stage) == 4:
                    v, pos, a, _ = _ld(value(self.dut.dbg_ld))
                    if v and pos < mc.N:
                        alpha[pos] = a
                    wr = value(self.dut.dbg_wr)
                    if wr & 1:
                        pos = (wr >> 1) & 0xFFF
                        g_at[pos], w[pos] = (wr >> 13) & 0xFFF, (wr >> 25) & 0xFFF
                await RisingEdge(self.clk)

        watcher = cocotb.start_soon(watch())
        await self.send_bytes(self.key, sk)
        await with_timeout(watcher, 200_000 * CLOCK_NS, "ns")
        ok = value(self.dut.key_ok)
        await RisingEdge(self.clk)
        self.check("key_ok", ok, expect["key_ok"])
        if trace:
            self.check("support", [alpha.get(i) for i in range(mc.N)], expect["alpha"])
            self.check("g(alpha)", [g_at.get(i) for i in range(mc.N)], expect["g_at"])
            self.check("w", [w.get(i) for i in range(mc.N)], expect["w"])
        return stamps["done"] - stamps["first"]

    async def decaps(self, ct, expect, corrupt=False):
        """start, 12 ct words, K; returns the cycles from the last ct word to ``k.valid``."""
        seen = {"e": {}}

        async def watch():
            prev = 0
            while True:
                await ReadOnly()
                if value(self.dut.ct__valid) and value(self.dut.ct__ready) \
                        and value(self.dut.ct__payload) >> 64:
                    seen["t_last"] = self.cycle
                if value(self.dut.k__valid):
                    seen["t_valid"] = self.cycle
                    return
                stage = value(self.dut.dbg_stage)
                if stage == STAGE_BM and prev != STAGE_BM:
                    seen["S"] = _unpack12(value(self.dut.dbg_syn), 2 * mc.T)
                if stage == STAGE_EV and prev != STAGE_EV:
                    seen["C"] = _unpack12(value(self.dut.dbg_c), mc.T + 1)
                    seen["L"] = value(self.dut.dbg_l)
                if stage == STAGE_HASH and prev != STAGE_HASH:
                    seen["roots"] = value(self.dut.dbg_roots)
                    seen["ok"] = value(self.dut.dbg_ok)
                if stage == STAGE_EV:
                    e = value(self.dut.dbg_e)
                    if e & 1:
                        seen["e"][(e >> 1) & 0x3F] = e >> 7
                prev = stage
                await RisingEdge(self.clk)

        watcher = cocotb.start_soon(watch())
        await self.pulse("start")
        await self.send_bytes(self.ct, ct)
        await with_timeout(watcher, 100_000 * CLOCK_NS, "ns")
        await RisingEdge(self.clk)
        K = (await self.k.recv(timeout_cycles=100)).to_bytes(32, "little")
        S = list(expect["S"])
        if corrupt:
            S[5] ^= 1
        self.check("syndrome", seen.get("S"), S)
        self.check("BM C", seen.get("C"), expect["C"])
        self.check("BM L", seen.get("L"), expect["L"])
        e_words = [seen["e"].get(k) for k in range(len(expect["e_words"]))]
        self.check("error vector", e_words, expect["e_words"])
        self.check("roots", seen.get("roots"), expect["roots"])
        self.check("decoder ok", seen.get("ok"), expect["ok"])
        self.check("K", K.hex(), expect["K"])
        return seen["t_valid"] - seen["t_last"]


    async def aborted(self, ct, after):
        """A request cancelled ``after`` cycles past its last ct word: no K comes out."""
        await self.pulse("start")
        await self.send_bytes(self.ct, ct)
        await self.cycles(after)
        await self.pulse("cancel")
        for _ in range(8000):
            await ReadOnly()
            if value(self.dut.k__valid):
                self.errors.append(f"K after abort at {after}")
                break
            await RisingEdge(self.clk)
        await RisingEdge(self.clk)


@cocotb.test()
async def test_engine(dut):
    with open(os.environ["MCELIECE_CASES"]) as f:
        keys = json.load(f)
    corrupt = os.environ.get("MCELIECE_CORRUPT") == "1"
    tb = EngineTB(dut)
    await tb.reset()
    latencies, key_cycles = {}, []
    for key in keys:
        key_cycles.append(await tb.load_key(bytes.fromhex(key["sk"]), key))
        for case in key["cases"]:
            lat = await tb.decaps(bytes.fromhex(case["ct"]), case, corrupt)
            latencies[f"{key['name']}/{case['name']}"] = lat
            dut._log.info(f"{key['name']}/{case['name']}: {lat} cycles")
        if key.get("abort_at"):
            # cancelled mid-syndrome and mid-hash, then the first case again
            for after in key["abort_at"]:
                await tb.aborted(bytes.fromhex(key["cases"][0]["ct"]), after)
            case = key["cases"][0]
            lat = await tb.decaps(bytes.fromhex(case["ct"]), case, corrupt)
            latencies[f"{key['name']}/{case['name']}-after-abort"] = lat
    assert not tb.errors, f"mismatches: {tb.errors}"
    assert len(set(latencies.values())) == 1, f"latency differs: {latencies}"
    assert len(set(key_cycles)) == 1, f"key-load cycles differ: {key_cycles}"
    record("mceliece-engine", latency=next(iter(latencies.values())),
           key_load=key_cycles[0], cases=len(latencies))
