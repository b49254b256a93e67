"""A small design whose memories and multipliers map to ECP5 block RAM and DSP cells in
the modes pqvote's cores use.

Synthesised with ``synth_ecp5`` its memories become ``DP16KD`` cells and its products
``MULT18X18D``; the netlist then runs ``sim/tb_dp16kd.py`` with the behavioural models of
``sim/models/``, checked every cycle against a Python model (and the same bench runs on
the RTL). The modes:

* ``ram``: 96 × 96 bits, one write + one synchronous read port (the ML-KEM work-memory
  banks: pseudo dual port at 36 bits, three blocks), the read port with an enable;
* ``rom``: 128 × 12 bits with contents, two synchronous read ports (the ζ table: true
  dual port at 18 bits, INITVAL);
* ``byte``: 512 × 8 bits, one write + one read port transparent to it (the write is seen
  on the same cycle's read: yosys adds a bypass around the block);
* ``nib``: 1024 × 4-bit ROM (a narrow width: the 4-bit units of INITVAL);
* ``mul_p`` / ``smul_p``: 18 × 18-bit products, unsigned and signed (combinational).
"""

from amaranth.hdl import Module, unsigned
from amaranth.lib import memory, wiring
from amaranth.lib.wiring import In, Out

__all__ = ["Dp16kdProbe", "ROM_INIT", "NIB_INIT", "SHAPES"]

#: (depth, width) of each memory.
SHAPES = {"ram": (96, 96), "rom": (128, 12), "byte": (512, 8), "nib": (1024, 4)}
ROM_INIT = [(i * 2897 + 17) % 3329 for i in range(128)]
NIB_INIT = [(i * 7 + (i >> 4)) % 16 for i in range(1024)]


class Dp16kdProbe(wiring.Component):
    ram_we: In(1)
    ram_waddr: In(7)
    ram_wdata: In(96)
    ram_ren: In(1)
    ram_raddr: In(7)
    ram_rdata: Out(96)
    rom_addr_a: In(7)
    rom_addr_b: In(7)
    rom_data_a: Out(12)
    rom_data_b: Out(12)
    byte_we: In(1)
    byte_waddr: In(9)
    byte_wdata: In(8)
    byte_raddr: In(9)
    byte_rdata: Out(8)
    nib_addr: In(10)
    nib_data: Out(4)
    mul_a: In(18)
    mul_b: In(18)
    mul_p: Out(36)
    smul_p: Out(36)

    def elaborate(self, platform):
        m = Module()
        m.submodules.ram = ram = memory.Memory(shape=unsigned(96), depth=96, init=[])
        w = ram.write_port()
        r = ram.read_port()
        m.d.comb += [w.en.eq(self.ram_we), w.addr.eq(self.ram_waddr), w.data.eq(self.ram_wdata),
                     r.en.eq(self.ram_ren), r.addr.eq(self.ram_raddr), self.ram_rdata.eq(r.data)]

        m.submodules.rom = rom = memory.Memory(shape=unsigned(12), depth=128, init=ROM_INIT,
                                               attrs={"rom_style": "block"})
        ra, rb = rom.read_port(), rom.read_port()
        m.d.comb += [ra.addr.eq(self.rom_addr_a), rb.addr.eq(self.rom_addr_b),
                     self.rom_data_a.eq(ra.data), self.rom_data_b.eq(rb.data)]

        m.submodules.byte = byte = memory.Memory(shape=unsigned(8), depth=512, init=[])
        bw = byte.write_port()
        br = byte.read_port(transparent_for=[bw])
        m.d.comb += [bw.en.eq(self.byte_we), bw.addr.eq(self.byte_waddr), bw.data.eq(self.byte_wdata),
                     br.addr.eq(self.byte_raddr), self.byte_rdata.eq(br.data)]

        m.submodules.nib = nib = memory.Memory(shape=unsigned(4), depth=1024, init=NIB_INIT,
                                               attrs={"rom_style": "block"})
        nr = nib.read_port()
        m.d.comb += [nr.addr.eq(self.nib_addr), self.nib_data.eq(nr.data)]

        m.d.comb += [self.mul_p.eq(self.mul_a * self.mul_b),
                     self.smul_p.eq(self.mul_a.as_signed() * self.mul_b.as_signed())]
        return m
