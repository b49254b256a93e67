"""``make verilog``: write ``build/verilog/<name>.v`` for every shared block, every landed
core and its seed-compatible wrapper, and lint each with ``verilator --lint-only``.

Lint waivers are the classes Yosys-written Verilog trips, defined once in
``sim.runner.LINT_WAIVERS``; every other warning fails the lint.

``--target ecp5`` writes ``build/verilog/ecp5/<name>.v`` instead: every design elaborated for
:data:`hdl.target.ECP5`, the form ``make synth`` measures (a block with an ECP5 form, today
the sntrup lanes and the sntrup decoders' multipliers, instantiates Lattice ``CCU2C`` and
``MULT18X18D`` cells). That is the Verilog to hand to an ECP5 flow; it is linted together
with the vendor's cell models and pqvote's ``MULT18X18D`` model (``sim.netlist``).
"""

import argparse
import subprocess
import sys
from pathlib import Path

from hdl.target import ECP5
from sim.netlist import MULT18X18D_MODEL, NETLIST_WAIVERS, ecp5_cell_models
from sim.runner import LINT_WAIVERS, setup_verilator_env, to_verilog

ROOT = Path(__file__).resolve().parent.parent
OUT = ROOT / "build" / "verilog"


def designs():
    """(name, factory) of everything that is generated."""
    from hdl.cores import CORES, engine_class
    from hdl.keccak import KeccakP1600
    from hdl.mlkem.engine import MlKemEngine
    from hdl.sha512 import Sha512
    from hdl.slhdsa import HashUnit
    from hdl.sponge import KeccakSponge

    yield "keccak_p1600", lambda: KeccakP1600(rounds_per_cycle=1)
    yield "keccak_p1600_x2", lambda: KeccakP1600(rounds_per_cycle=2)
    yield "keccak_sponge", lambda: KeccakSponge(rounds_per_cycle=1)
    # the shell's digest / tag / attestation block as the arm core builds it (a KEM shell
    # with the hash service), for its area and clock alone
    from hdl.attestor import Attestor
    yield "attestor", lambda: Attestor(vendor="arm", kem=True, rounds_per_cycle=1,
                                       hash_service=True)
    # the whole shell (key loader, proof intake, attestor) around the stand-in KEM engine of
    # its benches (a keyed checksum, a few hundred LUTs), for the shell's clock as a core has it
    from hdl.validator import ValidatorShell
    from sim.shell_engine import ShellKemEngine
    yield "validator_shell", lambda: ValidatorShell(vendor="intel", engine=ShellKemEngine(),
                                                    digest_rounds_per_cycle=1)
    yield "sha512", Sha512
    from golden.sntrup import P, ROUNDED_M
    from hdl.sntrup.decode import RadixDecoder
    from hdl.sntrup.reduce import Reducer
    yield "sntrup_decoder", lambda: RadixDecoder(moduli=[ROUNDED_M] * P)
    yield "sntrup_reducer", Reducer
    yield "sntrup_array", _sntrup_array
    from tools.sntrup_parts import DESIGNS as SNTRUP_PARTS  # the engine's glue, for timing
    yield from SNTRUP_PARTS.items()
    yield "slhdsa_hash_unit", lambda: HashUnit(raw=True)
    # the engine alone for its area; `abort` renamed `cancel` (a C++ word to Verilator's lint)
    from sim.harness import EngineHarness
    yield "mlkem_engine", lambda: EngineHarness(MlKemEngine())
    from tools.mlkem_parts import DESIGNS as MLKEM_PARTS   # the engine's units, for timing
    yield from MLKEM_PARTS.items()
    yield "mceliece_engine", lambda: EngineHarness(engine_class("hdl.mceliece.engine:McElieceEngine")(shared_hash=True))
    yield "slhdsa_engine", lambda: EngineHarness(engine_class("hdl.slhdsa.engine:SlhDsaEngine")())
    from hdl.wrapper import make_asic_wrapper
    for vendor, factory in CORES.items():
        yield f"{vendor}_validator", factory
        yield f"{vendor}_quantum_validator_asic", (lambda v=vendor, f=factory: make_asic_wrapper(v, f))


def _sntrup_array():
    """The 653-lane sntrup array with the per-16-lane input copies (``registered``; the engine
    adds the central register in front of them, ``root=True``), with only the ports the
    engine uses (the debug ports would make 15,000 top-level outputs)."""
    from amaranth.hdl import Module
    from amaranth.lib import wiring
    from hdl.sntrup.mult import HornerArray

    array = HornerArray(p=653, registered=True)
    keep = ("op", "a", "s_load", "s_in", "o_coeff")

    class SntrupArray(wiring.Component):
        def __init__(self):
            super().__init__(wiring.Signature({n: array.signature.members[n] for n in keep}))

        def elaborate(self, platform):
            m = Module()
            m.submodules.array = array
            for n in keep:
                ours, theirs = getattr(self, n), getattr(array, n)
                is_in = array.signature.members[n].flow == wiring.In
                m.d.comb += (theirs.eq(ours) if is_in else ours.eq(theirs))
            return m

    return SntrupArray()


def main(argv=None):
    parser = argparse.ArgumentParser(prog="python -m tools.gen", description=__doc__.split("\n\n")[0])
    parser.add_argument("names", nargs="*", help="only these designs (default: all)")
    parser.add_argument("--target", choices=("generic", "ecp5"), default="generic",
                        help="elaborate for this technology (default: generic logic)")
    parser.add_argument("--list", action="store_true", help="print the design names and stop")
    args = parser.parse_args(argv)
    if args.list:
        print("\n".join(name for name, _ in designs()))
        return 0
    only = set(args.names)
    setup_verilator_env()
    if args.target == "ecp5":
        out, platform = OUT / "ecp5", ECP5
        cells, include = ecp5_cell_models(OUT / ".cells")
        # the vendor's models, and pqvote's MULT18X18D model (yosys ships a black box only)
        lint_args = [*NETLIST_WAIVERS, f"-I{include}", str(cells), str(MULT18X18D_MODEL)]
    else:
        out, platform, lint_args = OUT, None, []
    out.mkdir(parents=True, exist_ok=True)
    failed = []
    print(f"{'module':36} {'lines':>8} {'KiB':>7}  lint")
    for name, factory in designs():
        if only and name not in only:
            continue
        path = out / f"{name}.v"
        path.write_text(to_verilog(factory, name, platform=platform))
        lint = subprocess.run(["verilator", "--lint-only", *LINT_WAIVERS, *lint_args, "--top-module", name,
                               str(path)], capture_output=True, text=True)
        text = path.read_text()
        state = "clean" if lint.returncode == 0 and "%Warning" not in lint.stderr else "FAIL"
        print(f"{name:36} {text.count(chr(10)):8} {len(text) / 1024:7.0f}  {state}")
        if state != "clean":
            failed.append(name)
            print(lint.stderr.strip()[:4000], file=sys.stderr)
    if failed:
        print(f"lint failed: {', '.join(failed)}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
