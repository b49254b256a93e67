"""The power rule of a validator set: no single validator may reach or block a decision,
no single algorithm family may reach the quorum (SPEC §5, docs/consensus.md).

Exhaustive for small sets: every vendor assignment and every power in 1..3 for up to three
validators, in 1..2 for four, unit power for five and six, every named rule and every
integer quorum. The oracle asks the decision rule itself (``tally_outcome``) what one validator or one family
can do on its own, so it shares no formula with ``power_violation``.
"""

import itertools

import pytest

from consensus.collector import tally_outcome
from consensus.votes import (DEFAULT_RULE, FAMILIES, RULES, VENDOR_IDS, ConfigError,
                             Validator, ValidatorSet, quorum_for)
from golden import proof as gp


def _oracle(vendors, powers, q):
    """True when one validator or one family could decide alone under quorum ``q``."""
    total = sum(powers)
    for p in powers:
        # alone it votes yes and nobody else has voted: accepted?
        if tally_outcome(p, 0, total - p, q) == ("accepted", "quorum"):
            return True
        # everybody else votes yes and it stays silent: still no acceptance possible?
        if tally_outcome(total - p, 0, p, q) != ("accepted", "quorum"):
            return True
        # everybody else votes yes and it votes no
        if tally_outcome(total - p, p, 0, q)[0] != "accepted":
            return True
    for family in set(FAMILIES.values()):
        fp = sum(p for v, p in zip(vendors, powers) if FAMILIES[v] == family)
        # the family's cores accept a forged proof, every other core votes no
        if fp and tally_outcome(fp, total - fp, 0, q) == ("accepted", "quorum"):
            return True
    return False


def _sets():
    vendors = list(VENDOR_IDS)
    for n in range(1, 5):
        for vs in itertools.product(vendors, repeat=n):
            for ps in itertools.product((1, 2, 3) if n < 4 else (1, 2), repeat=n):
                yield vs, ps
    for n in (5, 6):
        for vs in itertools.product(vendors, repeat=n):
            yield vs, (1,) * n


def test_families_come_from_golden():
    assert FAMILIES is gp.FAMILIES
    assert FAMILIES == {"intel": "lattice", "amd": "lattice", "arm": "code", "riscv": "hash"}


def test_power_rule_exhaustive_small_sets():
    checked = refused = 0
    for vendors, powers in _sets():
        total = sum(powers)
        vals = [Validator(f"v{i}", v, bytes([i + 1]) * 32, p)
                for i, (v, p) in enumerate(zip(vendors, powers))]
        quorums = {q for q in range(1, total + 1)} | set(RULES)
        for rule in quorums:
            try:
                q = quorum_for(rule, total)
            except ConfigError:
                continue            # below the safe bound or above P: refused before
            unsafe = _oracle(vendors, powers, q)
            try:
                ValidatorSet(vals, rule)
                accepted = True
            except ConfigError as e:
                accepted = False
                assert "could block" in str(e) or "family" in str(e), e
            assert accepted == (not unsafe), (vendors, powers, rule, q)
            checked += 1
            refused += unsafe
    assert checked > 50_000 and 0 < refused < checked


def test_default_set_is_valid_and_the_issue_example_refused():
    four = [Validator(v, v, bytes([i + 1]) * 32) for i, v in enumerate(VENDOR_IDS)]
    vs = ValidatorSet(four)
    assert DEFAULT_RULE == "ge_3_4" and vs.rule == "ge_3_4" and (vs.q, vs.total_power) == (3, 4)
    assert ValidatorSet(four, "gt_2_3").q == 3
    with pytest.raises(ConfigError, match="could block"):
        ValidatorSet(four, "unanimous")
    # intel at power 10, three cores at 1: P = 13, q = 10 — intel could decide alone
    heavy = [Validator(v.name, v.vendor, v.k_att, 10 if v.vendor == "intel" else 1)
             for v in four]
    for rule in ("ge_3_4", "gt_2_3"):
        with pytest.raises(ConfigError, match="'intel' holds power 10 of 13"):
            ValidatorSet(heavy, rule)
    # the lattice family holding the quorum: intel, amd twice each, arm, riscv once
    lattice = four[:2] + [Validator("intel.1", "intel", bytes(range(32))), four[3]]
    with pytest.raises(ConfigError, match="family lattice \\(amd, intel\\) holds power 3"):
        ValidatorSet(lattice)
    # one core per family and the lattice pair at power 1 each stays safe at P = 4 only
    assert ValidatorSet(four, 3).q == 3


def test_quorum_never_below_the_safe_bound():
    for total in range(1, 40):
        for rule in RULES:
            assert quorum_for(rule, total) >= 2 * total // 3 + 1
        assert quorum_for("ge_3_4", total) == -(-3 * total // 4)
