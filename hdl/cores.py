"""Registry of the complete validator cores, one factory per vendor.

A core is a :class:`~hdl.validator.ValidatorShell` around the vendor's algorithm engine.
Each engine package adds one line to :data:`CORES`::

    "intel": shell_core("intel", "hdl.mlkem.engine:MlKemEngine"),

The engine class is imported only when the factory is called, so one engine package that
fails to import does not stop the others. ``CORES[vendor]()`` builds the core;
``make_asic_wrapper(vendor, CORES[vendor])`` (see :mod:`hdl.wrapper`) its flat wrapper.
"""

import importlib
from typing import Callable

from amaranth.lib import wiring

from golden.proof import VENDORS
from hdl.validator import ValidatorShell

__all__ = ["CORES", "shell_core", "engine_class"]


def engine_class(path):
    """The class named by ``"package.module:Class"``."""
    module, sep, name = path.partition(":")
    if not sep or not module or not name:
        raise ValueError(f"Engine path must have the form 'package.module:Class', not {path!r}")
    return getattr(importlib.import_module(module), name)


def shell_core(vendor, engine, *, digest_rounds_per_cycle=2, engine_defaults=None):
    """A factory building ``ValidatorShell(vendor=vendor, engine=<engine>(**engine_kwargs))``.

    Parameters
    ----------
    vendor : str
        One of ``golden.proof.VENDORS``.
    engine : str or callable
        ``"package.module:Class"`` (imported when the factory is called), or a callable
        returning the engine component.
    digest_rounds_per_cycle : int
        The default of the factory's ``digest_rounds_per_cycle`` (the shell's sponge).
    engine_defaults : dict, optional
        Default keyword arguments of the engine in the core (the factory's own
        ``engine_kwargs`` override them).

    Returns
    -------
    callable
        ``factory(*, digest_rounds_per_cycle=<default>, **engine_kwargs) -> ValidatorShell``.
    """
    if vendor not in VENDORS:
        raise ValueError(f"Vendor must be one of {', '.join(map(repr, VENDORS))}, not {vendor!r}")

    default_rpc = digest_rounds_per_cycle
    defaults = dict(engine_defaults or {})

    def factory(*, digest_rounds_per_cycle=default_rpc, **engine_kwargs):
        cls = engine_class(engine) if isinstance(engine, str) else engine
        return ValidatorShell(vendor=vendor, engine=cls(**{**defaults, **engine_kwargs}),
                              digest_rounds_per_cycle=digest_rounds_per_cycle)

    factory.vendor = vendor
    factory.engine = engine
    factory.engine_defaults = defaults
    factory.__name__ = f"{vendor}_core"
    return factory


#: vendor → factory of its complete core (only the cores whose engine has landed).
CORES: dict[str, Callable[..., wiring.Component]] = {
    # the digest at 1 round/cycle: one Keccak round less (area budget, docs/fpga.md)
    "intel": shell_core("intel", "hdl.mlkem.engine:MlKemEngine", digest_rounds_per_cycle=1),
    # the digest at 1 round/cycle: the engine runs thousands of cycles after the proof is
    # in, so a slower digest costs a few cycles and saves a Keccak round (docs/fpga.md)
    "amd": shell_core("amd", "hdl.sntrup.engine:SntrupEngine", digest_rounds_per_cycle=1),
    # the engine hashes on the shell's permutation: one Keccak in the core (docs/mceliece.md)
    "arm": shell_core("arm", "hdl.mceliece.engine:McElieceEngine", digest_rounds_per_cycle=1,
                      engine_defaults={"shared_hash": True}),
    # the digest at 1 round/cycle: the proof streams in faster than the engine uses it
    "riscv": shell_core("riscv", "hdl.slhdsa:SlhDsaEngine", digest_rounds_per_cycle=1),
}
