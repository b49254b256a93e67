"""Per-step bench of the SLH-DSA hash unit (``hdl.slhdsa.HashUnit(raw=True)``).

Every state fed to the permutation is compared with the padded SHAKE256 input of the
golden model's step -- a WOTS+ chain step (``golden.slhdsa.wots_chain_step``), a FORS leaf,
a tree node (``golden.slhdsa.tree_node``), a rate block of a multi-block hash -- and steps of
one job must be exactly 24 cycles apart (the result 24 cycles after the last step). The
signature memory is modelled with a synchronous read port; ``avail`` may grow over time,
so the unit's wait for entries still streaming in is exercised too.
"""


import cocotb
from cocotb.triggers import ReadOnly, RisingEdge, with_timeout

from golden import keccak, slhdsa
from golden.slhdsa import Adrs, Hasher, N
from hdl.slhdsa.hash_unit import Job, JobKind, JobResult, SIG_ENTRIES
from sim.tb_common import TB, StreamDriver, value

STEP = 24


def padded_state(data):
    """The SHAKE256 state after absorbing a one-block message (as the unit builds it)."""
    b = bytearray(data) + b"\x1f" + bytes(135 - len(data))
    b[135] |= 0x80
    return keccak.state_from_bytes(b)


def state_int(lanes):
    return sum(l << (64 * k) for k, l in enumerate(lanes))


class UnitEnv:
    def __init__(self, dut, rng, *, stall_prob=0.0):
        self.dut = dut
        self.rng = rng
        self.mem = [rng.getrandbits(128) for _ in range(SIG_ENTRIES)]
        self.blocks = [0]
        self.avail = SIG_ENTRIES
        self.grow = 0                  # entries made available per cycle (0: all at once)
        self.stall_prob = stall_prob
        self.accepts = []              # (cycle, state int)
        self.results = []              # (cycle, tag, value)
        self.cycle = 0
        dut.result__ready.value = 0
        self.jobs = StreamDriver(dut, "job", dut.clk)
        dut.drop.value = 0
        cocotb.start_soon(self._run())

    async def _run(self):
        addr = blk = 0
        clk = self.dut.clk
        while True:
            await RisingEdge(clk)
            self.cycle += 1
            self.dut.rd_data.value = self.mem[addr]            # synchronous read port
            self.dut.blk.value = self.blocks[min(blk, len(self.blocks) - 1)]
            if self.grow:
                self.avail = min(SIG_ENTRIES, self.avail + self.grow)
            self.dut.avail.value = int(self.avail)
            ready = int(self.rng.random() >= self.stall_prob)
            self.dut.result__ready.value = ready
            await ReadOnly()
            addr = value(self.dut.rd_addr)
            blk = value(self.dut.blk_idx)
            if value(self.dut.dbg_accept):
                self.accepts.append((self.cycle, value(self.dut.dbg_state)))
            if ready and value(self.dut.result__valid):
                r = JobResult.from_bits(value(self.dut.result__payload))
                self.results.append((self.cycle, int(r.tag), int(r.value)))

    def mem_bytes(self, i):
        return self.mem[i].to_bytes(N, "little")

    async def job(self, **fields):
        """Send one job and wait for its result; returns (steps [(cycle, state)], result)."""
        dut = self.dut
        n_acc, n_res = len(self.accepts), len(self.results)
        full = {"kind": JobKind.CHAIN, "leaf": 0, "value": 0, "addr": 0, "w6": 0, "w7": 0,
                "count": 0, "type": 0, "keypair": 0, "tag": 0}
        full.update(fields)
        await RisingEdge(dut.clk)
        await self.jobs.send(Job.const(full).as_value().value, timeout_cycles=10_000)

        async def wait():
            while len(self.results) == n_res:
                await RisingEdge(dut.clk)
        await with_timeout(wait(), 100_000, "ns")
        return self.accepts[n_acc:], self.results[n_res]


def check_steps(steps, result, expected_states, expected_value, what, *, stalled=False):
    assert len(steps) == len(expected_states), \
        f"{what}: {len(steps)} steps, expected {len(expected_states)}"
    for k, ((cyc, got), want) in enumerate(zip(steps, expected_states)):
        assert got == state_int(want), f"{what}: step {k} input state differs"
        if k:
            assert cyc - steps[k - 1][0] == STEP, f"{what}: step {k} after {cyc - steps[k-1][0]}"
    if steps:
        late = result[0] - steps[-1][0]
        assert late == STEP or (stalled and late > STEP), f"{what}: result after {late} cycles"
    assert result[2] & ((1 << 128) - 1) == int.from_bytes(expected_value, "little"), \
        f"{what}: result differs"


async def setup(dut, seed, **kw):
    tb = TB(dut, seed=seed)
    rng = tb.rng
    dut.layer.value = layer = rng.randrange(7)
    dut.tree.value = tree = rng.getrandbits(54)
    seed_b = rng.randbytes(N)
    dut.seed.value = int.from_bytes(seed_b, "little")
    dut.avail.value = SIG_ENTRIES
    env = UnitEnv(dut, rng, **kw)
    await tb.reset()
    return tb, env, layer, tree, seed_b


async def chain_jobs(env, layer, tree, seed, count):
    rng = env.rng
    total = 0
    for n in range(count):
        addr = rng.randrange(SIG_ENTRIES)
        c = rng.randrange(slhdsa.LEN)
        start = rng.randrange(4) if n % 4 == 1 else rng.randrange(16)
        steps = 0 if n % 4 == 0 else 15 - start if n % 4 == 1 else rng.randrange(16 - start)
        keypair = rng.randrange(512)
        h = Hasher(trace=True)
        adrs = Adrs(layer=layer, tree=tree, type=slhdsa.WOTS_HASH, keypair=keypair, word6=c)
        x = env.mem_bytes(addr)
        for j in range(start, start + steps):
            x = slhdsa.wots_chain_step(h, seed, adrs, x, j)
        got, res = await env.job(kind=JobKind.CHAIN, addr=addr, w6=c, w7=start, count=steps,
                                 type=slhdsa.WOTS_HASH, keypair=keypair, tag=c)
        assert res[1] == c
        check_steps(got, res, [padded_state(t[2]) for t in h.trace], x, f"chain {n}")
        total += steps
    env.dut._log.info(f"{count} chains, {total} steps checked")


async def tree_jobs(env, layer, tree, seed, count):
    rng = env.rng
    for n in range(count):
        h = Hasher(trace=True)
        keypair = rng.randrange(512)
        if n % 2 == 0:     # FORS tree: leaf F then a = 12 nodes
            i, ind = rng.randrange(slhdsa.K), rng.randrange(1 << slhdsa.A)
            addr = rng.randrange(SIG_ENTRIES - slhdsa.A - 1)
            adrs = Adrs(layer=layer, tree=tree, type=slhdsa.FORS_TREE, keypair=keypair)
            index = (i << slhdsa.A) + ind
            adrs.set_tree_index(index)
            node = h.f(seed, adrs, env.mem_bytes(addr))
            for j in range(slhdsa.A):
                node, index = slhdsa.tree_node(h, seed, adrs, node, env.mem_bytes(addr + 1 + j),
                                               j + 1, index)
            job = dict(kind=JobKind.TREE, leaf=1, addr=addr, w6=0,
                       w7=(i << slhdsa.A) + ind, count=slhdsa.A, type=slhdsa.FORS_TREE,
                       keypair=keypair, tag=i)
        else:              # Merkle path: h' = 9 nodes from a given leaf
            leaf = rng.randrange(1 << slhdsa.HP)
            start = rng.randbytes(N)
            addr = rng.randrange(SIG_ENTRIES - slhdsa.HP)
            adrs = Adrs(layer=layer, tree=tree, type=slhdsa.TREE)
            node, index = start, leaf
            for k in range(slhdsa.HP):
                node, index = slhdsa.tree_node(h, seed, adrs, node, env.mem_bytes(addr + k),
                                               k + 1, index)
            job = dict(kind=JobKind.TREE, leaf=0, value=int.from_bytes(start, "little"),
                       addr=addr, w6=1, w7=leaf, count=slhdsa.HP, type=slhdsa.TREE, tag=5)
        got, res = await env.job(**job)
        check_steps(got, res, [padded_state(t[2]) for t in h.trace], node, f"tree {n}",
                    stalled=env.stall_prob > 0)


@cocotb.test()
async def wots_chain_steps(dut):
    """WOTS+ chains of 0..15 steps: every F input and the 24-cycle step period."""
    tb, env, layer, tree, seed = await setup(dut, 11)
    await chain_jobs(env, layer, tree, seed, 12)


@cocotb.test()
async def tree_nodes(dut):
    """FORS trees (leaf + 12 nodes) and Merkle paths (9 nodes), with response back-pressure."""
    tb, env, layer, tree, seed = await setup(dut, 12, stall_prob=0.3)
    await tree_jobs(env, layer, tree, seed, 6)


@cocotb.test()
async def streaming_memory(dut):
    """Entries arrive slowly (one per 8 cycles): steps wait for their operands, results
    stay exact."""
    tb, env, layer, tree, seed = await setup(dut, 13)
    env.avail, env.grow = 0, 0.125
    h = Hasher(trace=True)
    addr = 60
    adrs = Adrs(layer=layer, tree=tree, type=slhdsa.FORS_TREE, keypair=3)
    adrs.set_tree_index(5)
    node = h.f(seed, adrs, env.mem_bytes(addr))
    index = 5
    for j in range(slhdsa.A):
        node, index = slhdsa.tree_node(h, seed, adrs, node, env.mem_bytes(addr + 1 + j), j + 1,
                                       index)
    got, res = await env.job(kind=JobKind.TREE, leaf=1, addr=addr, w6=0, w7=5, count=slhdsa.A,
                             type=slhdsa.FORS_TREE, keypair=3)
    assert [s for _, s in got] == [state_int(padded_state(t[2])) for t in h.trace]
    assert res[2] & ((1 << 128) - 1) == int.from_bytes(node, "little")
    assert got[0][0] > 8 * addr, "first step issued before its entry arrived"


@cocotb.test()
async def raw_blocks(dut):
    """Multi-block SHAKE256 (a 608-byte T_len message, 5 blocks) from the ``blk`` input."""
    tb, env, layer, tree, seed = await setup(dut, 14)
    msg = env.rng.randbytes(608)
    padded = bytearray(msg) + b"\x1f" + bytes(-(len(msg) + 1) % 136)
    padded[-1] |= 0x80
    blocks = [bytes(padded[o:o + 136]) for o in range(0, len(padded), 136)]
    env.blocks = [int.from_bytes(b, "little") for b in blocks]
    A = [0] * 25
    want = []
    for b in blocks:
        A = [x ^ y for x, y in zip(A, keccak.state_from_bytes(b))]
        want.append(A)
        A = keccak.keccak_f1600(A)
    got, res = await env.job(kind=JobKind.RAW, count=len(blocks))
    check_steps(got, res, want, keccak.shake256(msg, 16), "raw")
    assert res[2].to_bytes(32, "little")[:30] == keccak.shake256(msg, 30)


@cocotb.test()
async def drop_drains(dut):
    """A drop in the middle of a job: the unit drains its permutation and runs the next
    job exactly."""
    tb, env, layer, tree, seed = await setup(dut, 15)
    await RisingEdge(dut.clk)
    dut.job__payload.value = Job.const({"kind": JobKind.CHAIN, "addr": 1, "w7": 0, "count": 15,
                                        }).as_value().value
    dut.job__valid.value = 1
    await RisingEdge(dut.clk)
    dut.job__valid.value = 0
    for _ in range(30):
        await RisingEdge(dut.clk)
    dut.drop.value = 1
    await RisingEdge(dut.clk)
    dut.drop.value = 0
    n = len(env.results)
    await chain_jobs(env, layer, tree, seed, 4)
    assert len(env.results) == n + 4


@cocotb.test()
async def negative_control(dut):
    """The step check fails on a corrupted expectation (one bit of one step's input)."""
    tb, env, layer, tree, seed = await setup(dut, 16)
    h = Hasher(trace=True)
    adrs = Adrs(layer=layer, tree=tree, type=slhdsa.WOTS_HASH, keypair=1, word6=2)
    x = slhdsa.chain(h, env.mem_bytes(9), 3, 4, seed, adrs)
    got, res = await env.job(kind=JobKind.CHAIN, addr=9, w6=2, w7=3, count=4, keypair=1)
    want = [padded_state(t[2]) for t in h.trace]
    check_steps(got, res, want, x, "control")
    want[2] = list(want[2])
    want[2][5] ^= 1 << 40
    try:
        check_steps(got, res, want, x, "control")
    except AssertionError:
        return
    raise AssertionError("a corrupted expectation was not detected")
