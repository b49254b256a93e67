"""pqvote consensus layer: votes, quorum rules, the collector state machine, certificates,
evidence, vote sources, fault injection, deterministic simulation and storage.

See docs/consensus.md.
"""

from .collector import Collector, Decision, Open, Receive, Tick, tally_outcome
from .votes import (Certificate, ConfigError, Evidence, Validator, ValidatorSet, Vote,
                    check_certificate, quorum_for, verify_certificate)

__all__ = ["Collector", "Decision", "Open", "Receive", "Tick", "tally_outcome", "Certificate",
           "ConfigError", "Evidence", "Validator", "ValidatorSet", "Vote", "check_certificate",
           "quorum_for", "verify_certificate"]
