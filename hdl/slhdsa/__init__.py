"""SLH-DSA-SHAKE-128s verification engine of the ``riscv`` core (FIPS 205).

* :mod:`hdl.slhdsa.hash_unit`: one Keccak-p[1600] hash unit running WOTS+ chains,
  authentication paths and multi-block SHAKE256 messages.
* :mod:`hdl.slhdsa.engine`: :class:`SlhDsaEngine`, signature memory, scheduler and
  hash units behind :data:`hdl.validator.EngineSignature`.
"""

from hdl.slhdsa.hash_unit import HashUnit, Job, JobKind, JobResult
from hdl.slhdsa.engine import HASH_UNITS, SlhDsaEngine

__all__ = ["HASH_UNITS", "HashUnit", "Job", "JobKind", "JobResult", "SlhDsaEngine"]
