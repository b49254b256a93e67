"""Validator-set epochs (consensus.epochs): retiring the riscv validator by a 3-of-4 decision
and adding a replacement with a fresh key; afterwards a vote made with the old key cannot
help decide anything, and certificates of the old epoch still verify. A change whose
resulting set breaks a power rule is refused, naming the rule."""

import dataclasses
import hashlib
import os
import random

import pytest

from consensus.collector import Collector, Open, Receive, Refused, ml_dsa_44_signer
from consensus.epochs import (SET_CHANGE_FORMAT, EpochHistory, NewValidator, SetChange,
                              katt_digest, resulting_set)
from consensus.sources import software_attestation as att
from consensus.store import open_store
from consensus.votes import (Certificate, ConfigError, Validator, ValidatorSet, Vote,
                             certificate_signing_bytes, check_certificate)

SEED = int(os.environ.get("PQVOTE_SEED", "23"))


@pytest.fixture(scope="module")
def keys():
    from pqcrypto.sign import ml_dsa_44
    pk, sk = ml_dsa_44.keygen()
    rng = random.Random(SEED)
    genesis = ValidatorSet([Validator(v, v, rng.randbytes(32)) for v in
                            ("intel", "amd", "arm", "riscv")], collector_pk=pk)
    return genesis, ml_dsa_44_signer(sk), rng.randbytes(32)


def _vote(v, nonce, d, value=True, k_att=None):
    k = v.k_att if k_att is None else k_att
    return Vote(v.name, nonce, d, value, bytes(32), att(k, v.vendor, nonce, d, value, bytes(32)))


def _decide(vs, sign, nonce, d, voters, extra=()):
    """Open ``nonce`` under ``vs`` and deliver the votes; returns (decision, effects)."""
    col = Collector(vs, attest=att, sign=sign)
    effects = col.step(Open(nonce, d, at=0.0, deadline=100.0))
    for i, vote in enumerate([_vote(v, nonce, d) for v in voters] + list(extra)):
        effects += col.step(Receive(vote, at=1.0 + i))
    return col.decision(nonce), effects


def _retire_riscv(genesis, fresh):
    return SetChange(from_epoch=0, retire=("riscv",),
                     add=(NewValidator("riscv-b", "riscv", 1, katt_digest(fresh)),))


def test_retire_riscv_by_quorum_old_key_cannot_decide(keys, store_target):
    genesis, sign, fresh = keys
    intel, amd, arm, riscv = genesis.validators
    history = EpochHistory(genesis)

    # a decision of epoch 0 in which the soon-retired riscv took part
    old, _ = _decide(genesis, sign, 5, bytes([5]) * 24, [riscv, intel, amd])
    assert old.outcome == "accepted" and {v.validator for v in old.certificate.votes} == \
        {"riscv", "intel", "amd"}

    # the change: proposed, decided 3 of 4 by the current set (riscv not voting), certified
    change = _retire_riscv(genesis, fresh)
    d = change.descriptor()
    dec, _ = _decide(genesis, sign, 10, d, [intel, amd, arm])
    cert = dec.certificate
    assert dec.outcome == "accepted" and cert.epoch == 0
    new = history.apply(change, cert, k_att={"riscv-b": fresh}, attest=att)
    assert new.epoch == 1 and [v.name for v in new.validators] == \
        ["intel", "amd", "arm", "riscv-b"]
    assert history.start_of(1) == 11 and history.epoch_of(10) == 0 \
        and history.epoch_of(11) == 1

    # stored with its certificate, and the history rebuilt from the store
    with open_store(store_target("epochs")) as s:
        s.record(nonce=10, descriptor=d, opened_at=0.0, deadline=100.0, decision=dec)
        s.record_epoch(1, history.start_of(1), 10, history.to_record(1))
        rebuilt = EpochHistory.from_records(genesis, s.epochs(), {"riscv-b": fresh},
                                            attest=att)
    assert rebuilt.current.epoch == 1 and rebuilt.start_of(1) == 11
    assert [v.k_att for v in rebuilt.current.validators] == \
        [v.k_att for v in new.validators]

    # epoch 1: the old riscv key cannot help decide anything
    n, d1 = 20, bytes([20]) * 24
    forged = _vote(dataclasses.replace(riscv, name="riscv-b"), n, d1, k_att=riscv.k_att)
    dec1, effects = _decide(new, sign, n, d1, [intel, amd], extra=[_vote(riscv, n, d1), forged])
    refused = {(e.vote.validator, e.reason) for e in effects if isinstance(e, Refused)}
    assert refused == {("riscv", "unknown_validator"), ("riscv-b", "invalid_attestation")}
    assert dec1 is None                          # 2 of 4: no quorum with the old key's help
    dec1, _ = _decide(new, sign, n, d1, [intel, amd, new["riscv-b"]])
    assert dec1.outcome == "accepted" and dec1.certificate.epoch == 1
    assert history.check(dec1.certificate, attest=att) is None

    # certificates: the old epoch's still verify; the retired key in a new one does not
    assert history.check(old.certificate, attest=att) is None
    assert history.check(cert, attest=att) is None
    with_old = dataclasses.replace(dec1.certificate, votes=tuple(
        sorted(dec1.certificate.votes[:2] + (_vote(riscv, n, d1),), key=lambda v: v.validator)))
    resigned = dataclasses.replace(with_old, signature=sign(certificate_signing_bytes(with_old)))
    assert history.check(resigned, attest=att) == "unknown validator 'riscv'"
    # a request of epoch 1 certified as epoch 0 (where riscv still counted) is refused
    backdated, _ = _decide(genesis, sign, n, d1, [intel, amd, riscv])
    assert check_certificate(backdated.certificate, genesis, attest=att) is None
    assert "lies after epoch 0" in (history.check(backdated.certificate, attest=att) or "")
    # a certificate naming an epoch that does not exist
    future = dataclasses.replace(dec1.certificate, epoch=2)
    assert "latest known epoch is 1" in (history.check(future, attest=att) or "")


def test_retiring_riscv_without_replacement_is_refused_naming_the_rule(keys):
    genesis, _, _ = keys
    change = SetChange(from_epoch=0, retire=("riscv",))
    with pytest.raises(ConfigError, match=r"each validator may hold at most P - q = 0") as e:
        resulting_set(genesis, change)
    assert "power rule" in str(e.value) and "could block" in str(e.value)
    # a family reaching the quorum alone: replace the code-based arm by a second lattice core
    change = SetChange(from_epoch=0, retire=("arm",),
                       add=(NewValidator("intel-b", "intel", 1, bytes(32)),))
    with pytest.raises(ConfigError, match=r"Algorithm family lattice .* at least the quorum"):
        resulting_set(genesis, change)
    # power changes are held to the same rules
    with pytest.raises(ConfigError, match="each validator may hold at most"):
        resulting_set(genesis, SetChange(from_epoch=0, powers=(("intel", 2),)))


def test_apply_refuses_what_the_current_quorum_did_not_decide(keys):
    genesis, sign, fresh = keys
    intel, amd, arm, riscv = genesis.validators
    change = _retire_riscv(genesis, fresh)
    d = change.descriptor()
    history = EpochHistory(genesis)
    rejected, _ = _decide(genesis, sign, 3, d, [], extra=[_vote(v, 3, d, False)
                                                          for v in (intel, amd, arm)])
    with pytest.raises(ConfigError) as e:
        history.apply(change, rejected.certificate, k_att={"riscv-b": fresh}, attest=att)
    assert str(e.value) == "the set change was not accepted by the current set's quorum"
    other, _ = _decide(genesis, sign, 4, bytes(24), [intel, amd, arm])
    with pytest.raises(ConfigError) as e:
        history.apply(change, other.certificate, k_att={"riscv-b": fresh}, attest=att)
    assert str(e.value) == "the certificate is for another descriptor than the change"
    ok, _ = _decide(genesis, sign, 6, d, [intel, amd, arm])
    with pytest.raises(ConfigError, match="does not match the digest"):
        history.apply(change, ok.certificate, k_att={"riscv-b": bytes(32)}, attest=att)
    unsigned = dataclasses.replace(ok.certificate, signature=b"")
    with pytest.raises(ConfigError, match="signature does not verify"):
        history.apply(change, unsigned, k_att={"riscv-b": fresh}, attest=att)
    # a change written for another epoch; a change that re-adds the retired key
    with pytest.raises(ConfigError, match="for epoch 1"):
        resulting_set(genesis, dataclasses.replace(change, from_epoch=1), {"riscv-b": fresh})
    rekey = SetChange(from_epoch=0, retire=("riscv",),
                      add=(NewValidator("riscv", "riscv", 1, katt_digest(riscv.k_att)),))
    with pytest.raises(ConfigError, match="retired attestation key"):
        resulting_set(genesis, rekey, {"riscv": riscv.k_att})
    assert len(history) == 1                    # nothing applied
    history.apply(change, ok.certificate, k_att={"riscv-b": fresh}, attest=att)
    assert len(history) == 2
    with pytest.raises(ConfigError, match="decided in epoch 0, not the current epoch 1|"
                                          "certificate is invalid"):
        history.apply(change, ok.certificate, k_att={"riscv-b": fresh}, attest=att)


def test_rekeying_a_name_refuses_the_old_key(keys):
    """Retiring riscv and adding it again under the same name with a fresh key: a vote
    attested with the old key fails its attestation in the new epoch."""
    genesis, sign, fresh = keys
    intel, amd, arm, riscv = genesis.validators
    change = SetChange(from_epoch=0, retire=("riscv",),
                       add=(NewValidator("riscv", "riscv", 1, katt_digest(fresh)),))
    history = EpochHistory(genesis)
    ok, _ = _decide(genesis, sign, 1, change.descriptor(), [intel, amd, arm])
    new = history.apply(change, ok.certificate, k_att={"riscv": fresh}, attest=att)
    d = bytes([9]) * 24
    dec, effects = _decide(new, sign, 2, d, [intel, amd], extra=[_vote(riscv, 2, d)])
    assert dec is None and [(e.vote.validator, e.reason) for e in effects
                            if isinstance(e, Refused)] == [("riscv", "invalid_attestation")]


def test_set_change_json_round_trip_and_descriptor(keys):
    genesis, _, fresh = keys
    change = SetChange(from_epoch=0, retire=("riscv",), powers=(("intel", 1),),
                       add=(NewValidator("riscv-b", "riscv", 1, katt_digest(fresh)),))
    again = SetChange.from_json(change.to_json())
    assert again == change and again.descriptor() == change.descriptor()
    assert len(change.descriptor()) == 24
    assert dataclasses.replace(change, retire=("arm",)).descriptor() != change.descriptor()
    with pytest.raises(ValueError, match="unknown field"):
        SetChange.from_json(dict(change.to_json(), extra=1))
    # the genesis epoch's certificates sign exactly as before epochs existed
    c = Certificate(1, bytes(24), "accepted", "quorum", 3, 4, ())
    assert b'"epoch"' not in certificate_signing_bytes(c)
    assert b'"epoch":1' in certificate_signing_bytes(dataclasses.replace(c, epoch=1))


# -- the command line --------------------------------------------------------------------------

def test_cli_retire_riscv_propose_decide_apply(tmp_path, cli):
    """pqvote epoch propose (refused without a replacement, naming the rule) → mint → decide
    3 of 4 → epoch apply → the next decision is of epoch 1 with riscv-b, verify-cert accepts
    both epochs' certificates, and a change applied twice is refused."""
    import json
    import shutil

    keys = tmp_path / "keys"
    assert cli("keygen", "--out", keys)[0] == 0
    code, _, err = cli("epoch", "propose", "--keys", keys, "--retire", "riscv",
                       "--out", tmp_path / "bad.json")
    assert code == 2 and "each validator may hold at most P - q = 0" in err
    assert err.count("\n") == 1 and not (tmp_path / "bad.json").exists()
    code, out, err = cli("epoch", "propose", "--keys", keys, "--retire", "riscv",
                         "--add", "riscv-b:riscv", "--out", tmp_path / "change.json")
    assert code == 0, err
    proposal = json.loads(out)
    assert [v["name"] for v in proposal["validators"]] == ["intel", "amd", "arm", "riscv-b"]
    assert (keys / "riscv-b.katt").stat().st_size == 32
    # the current set decides the change: riscv silent, 3 of 4
    assert cli("mint", "--keys", keys, "--descriptor", proposal["descriptor"],
               "--out", tmp_path / "p.json")[0] == 0
    code, out, err = cli("decide", "--keys", keys, "--proofs", tmp_path / "p.json",
                         "--backend", "software", "--fault", "riscv:silent")
    assert code == 0, err
    (tmp_path / "change-decision.json").write_text(out)
    assert json.loads(out)["tally"]["yes"] == 3
    code, out, err = cli("epoch", "apply", "--keys", keys, "--change", tmp_path / "change.json",
                         "--nonce", "1")
    assert code == 0, err
    assert json.loads(out)["epoch"] == 1 and json.loads(out)["starts_at_request"] == 2
    assert cli("epoch", "apply", "--keys", keys, "--change", tmp_path / "change.json",
               "--nonce", "1")[0] == 1
    # epoch 1: riscv-b's core holds the riscv verification key (its K_att is fresh)
    shutil.copy(keys / "riscv.key", keys / "riscv-b.key")
    D = bytes(range(24)).hex()
    assert cli("mint", "--keys", keys, "--descriptor", D, "--out", tmp_path / "q.json")[0] == 0
    code, out, err = cli("decide", "--keys", keys, "--proofs", tmp_path / "q.json",
                         "--backend", "software")
    assert code == 0, err
    report = json.loads(out)
    assert report["certificate"]["epoch"] == 1 and report["nonce"] == 2
    assert {v["validator"] for v in report["certificate"]["votes"]} <= \
        {"intel", "amd", "arm", "riscv-b"}
    assert "riscv" not in {v["validator"] for v in report["votes"]}
    (tmp_path / "epoch1.json").write_text(out)
    code, out, _ = cli("verify-cert", "--keys", keys, tmp_path / "epoch1.json")
    assert code == 0 and "epoch 1" in out
    code, out, _ = cli("verify-cert", "--keys", keys, tmp_path / "change-decision.json")
    assert code == 0                                    # the old epoch's certificate
    # the epoch-1 certificate relabelled as epoch 0 is refused
    cert = json.loads((tmp_path / "epoch1.json").read_text())["certificate"]
    (tmp_path / "relabel.json").write_text(json.dumps(dict(cert, epoch=0)))
    code, out, _ = cli("verify-cert", "--keys", keys, tmp_path / "relabel.json")
    assert code == 1 and "lies after epoch 0" in out
    # batches are sealed per epoch; a batch certificate of epoch 1 verifies against epoch 1
    code, out, err = cli("batch", "--keys", keys)
    assert code == 0, err
    assert [(b["epoch"], b["nonces"]) for b in json.loads(out)["batches"]] == [(0, [1]), (1, [2])]
    assert cli("batch-cert", "2", "--keys", keys, "--out", tmp_path / "b2.json")[0] == 0
    code, out, _ = cli("verify-cert", "--keys", keys, tmp_path / "b2.json")
    assert code == 0 and "epoch 1), entry 0 of a batch of 1" in out, out
    b2 = json.loads((tmp_path / "b2.json").read_text())
    (tmp_path / "b2-epoch0.json").write_text(json.dumps(dict(
        b2, certificate=dict(b2["certificate"], epoch=0), batch=dict(b2["batch"], epoch=0))))
    code, out, _ = cli("verify-cert", "--keys", keys, tmp_path / "b2-epoch0.json")
    assert code == 1 and "lies after epoch 0" in out
    # malformed input: one line naming what is wrong, nothing written or stored
    (tmp_path / "list.json").write_text("[]")
    (tmp_path / "neg.json").write_text(json.dumps(dict(cert, nonce=-1)))
    for argv, message in [
        (("epoch", "apply", "--change", tmp_path / "change.json", "--nonce", "-5"),
         "nonce -5 is not an unsigned 64-bit integer"),
        (("epoch", "apply", "--change", tmp_path / "list.json", "--nonce", "2"),
         "not a pqvote-set-change/1 document"),
        (("epoch", "propose", "--add", "../x:riscv", "--retire", "riscv-b", "--out",
          tmp_path / "x.json"), "must be a DNS label"),
        (("epoch", "propose", "--retire", "riscv", "--out", tmp_path / "x.json"),
         "cannot retire 'riscv': not in the epoch-1 set"),
        (("decide", "--proofs", tmp_path / "q.json", "--backend", "software", "--nonce", "1"),
         "request 1 is already decided"),
        (("decide", "--proofs", tmp_path / "q.json", "--backend", "software", "--nonce", "0"),
         "request 0 lies before validator-set epoch 1 (which starts at request 2)"),
    ]:
        n = 2 if argv[0] == "epoch" else 1
        code, out, err = cli(*argv[:n], "--keys", keys, *argv[n:])
        assert code == 2 and message in err and err.count("\n") == 1 and out == "", (argv, err)
    assert not (tmp_path / "x.json").exists() and not (keys / "x.katt").exists()
    code, out, _ = cli("verify-cert", "--keys", keys, tmp_path / "neg.json")
    assert (code, out) == (1, "invalid: request -1 is not an unsigned 64-bit integer\n")


def test_negative_control_a_history_without_nonce_ranges_is_caught(keys, tmp_path,
                                                                    monkeypatch):
    """A history that checks a certificate against the set it names but ignores the nonce
    range of that epoch lets the backdated certificate through: the main test fails."""
    import consensus.epochs as ep

    def lax_check(self, cert, *, attest=None, allow_unsigned=False, check_signature=True):
        if cert.epoch >= len(self._sets):
            return "unknown epoch"
        return check_certificate(cert, self._sets[cert.epoch], attest=attest,
                                 allow_unsigned=allow_unsigned,
                                 check_signature=check_signature)
    monkeypatch.setattr(ep.EpochHistory, "check", lax_check)

    def target(name="db"):
        return str(tmp_path / f"{name}.db")
    with pytest.raises(AssertionError):
        test_retire_riscv_by_quorum_old_key_cannot_decide(keys, target)


# -- exact forms, messages and boundaries (written against the survivors of `make mutation`)

def _three_epochs(genesis, sign, fresh, *, allow_unsigned=False):
    """Epoch 0 → (retire riscv, add riscv-b; request 10) → epoch 1 → (retire riscv-b, add
    riscv-c; request 20) → epoch 2."""
    intel, amd, arm, _ = genesis.validators
    history = EpochHistory(genesis)
    first = _retire_riscv(genesis, fresh)
    dec, _ = _decide(genesis, sign, 10, first.descriptor(), [intel, amd, arm])
    one = history.apply(first, dec.certificate, k_att={"riscv-b": fresh}, attest=att,
                        allow_unsigned=allow_unsigned)
    fresher = bytes(reversed(fresh))
    second = SetChange(from_epoch=1, retire=("riscv-b",),
                       add=(NewValidator("riscv-c", "riscv", 1, katt_digest(fresher)),))
    dec2, _ = _decide(one, sign, 20, second.descriptor(), [intel, amd, arm])
    history.apply(second, dec2.certificate, k_att={"riscv-c": fresher}, attest=att,
                  allow_unsigned=allow_unsigned)
    return history, (first, dec.certificate, fresh), (second, dec2.certificate, fresher)


def test_epoch_ranges_exact(keys):
    genesis, sign, fresh = keys
    intel, amd, arm, _ = genesis.validators
    history, (first, c10, _), (second, c20, _) = _three_epochs(genesis, sign, fresh)
    one = history.set_of(1)
    assert [history.start_of(e) for e in range(3)] == [0, 11, 21] and len(history) == 3
    assert [history.epoch_of(n) for n in (0, 10, 11, 20, 21, 10 ** 6)] == [0, 0, 1, 1, 2, 2]
    assert history.changes == [(first, c10), (second, c20)]

    def cert(vs, nonce):
        return _decide(vs, sign, nonce, bytes([nonce]) * 24, [intel, amd, arm])[0].certificate
    # each epoch's first and last request belong to it, the neighbours do not
    assert history.check(cert(genesis, 0), attest=att) is None
    assert history.check(cert(one, 11), attest=att) is None
    assert history.check(c20, attest=att) is None
    assert history.check(cert(genesis, 11), attest=att) == \
        "request 11 lies after epoch 0 (epoch 1 starts at request 11)"
    assert history.check(cert(one, 21), attest=att) == \
        "request 21 lies after epoch 1 (epoch 2 starts at request 21)"
    assert history.check(cert(one, 10), attest=att) == \
        "request 10 lies before epoch 1 (which starts at request 11)"
    assert history.check(dataclasses.replace(c20, epoch=3), attest=att) == \
        "certificate names epoch 3, the latest known epoch is 2"
    assert history.check("certificate", attest=att) == "not a certificate"
    with pytest.raises(ConfigError) as e:
        EpochHistory(one)
    assert str(e.value) == "the genesis set must be epoch 0, not 1"


def test_epoch_record_exact_and_rebuilt_only_as_stored(keys):
    genesis, sign, fresh = keys
    history, (first, c10, k1), (second, c20, k2) = _three_epochs(genesis, sign, fresh)
    one = history.set_of(1)
    assert history.to_record(1) == {
        "change": first.to_json(), "certificate": c10.to_json(), "rule": "ge_3_4",
        "quorum": 3, "total_power": 4,
        "validators": [{"name": v.name, "vendor": v.vendor, "power": 1,
                        "katt_digest": katt_digest(v.k_att).hex()} for v in one.validators]}
    assert history.to_record(1)["validators"][3] == {
        "name": "riscv-b", "vendor": "riscv", "power": 1, "katt_digest": katt_digest(k1).hex()}
    assert history.to_record(2)["change"] == second.to_json()
    records = [(1, 11, 10, history.to_record(1)), (2, 21, 20, history.to_record(2))]
    k_att = {"riscv-b": k1, "riscv-c": k2}
    rebuilt = EpochHistory.from_records(genesis, records, k_att, attest=att)
    assert [rebuilt.start_of(e) for e in range(3)] == [0, 11, 21]
    for bad in ((2, 11, 10), (1, 12, 10), (1, 11, 9)):
        with pytest.raises(ConfigError) as e:
            EpochHistory.from_records(genesis, [(*bad, records[0][3])], k_att, attest=att)
        assert str(e.value) == f"stored epoch {bad[0]} does not match its change", bad
    refuse = lambda *a: bytes(32)                   # noqa: E731
    with pytest.raises(ConfigError, match="attestation of 'amd' does not verify|"
                                          "attestation of 'arm' does not verify|"
                                          "attestation of 'intel' does not verify"):
        EpochHistory.from_records(genesis, records, k_att, attest=refuse)


def test_apply_and_check_use_the_given_attestation_and_signature_options(keys):
    genesis, sign, fresh = keys
    intel, amd, arm, _ = genesis.validators
    change = _retire_riscv(genesis, fresh)
    dec, _ = _decide(genesis, sign, 10, change.descriptor(), [intel, amd, arm])
    refuse = lambda *a: bytes(32)                   # noqa: E731
    history = EpochHistory(genesis)
    assert history.check(dec.certificate, attest=refuse).endswith("does not verify")
    with pytest.raises(ConfigError, match="certificate is invalid: attestation of"):
        history.apply(change, dec.certificate, k_att={"riscv-b": fresh}, attest=refuse)
    # the signature: checked by default, left out on request
    forged = dataclasses.replace(dec.certificate, signature=bytes(2420))
    assert history.check(forged, attest=att) == "collector signature does not verify"
    assert history.check(forged, attest=att, check_signature=False) is None

    # a set without a collector key: refused unless allow_unsigned is given
    keyless = ValidatorSet(genesis.validators, genesis.rule)
    col = Collector(keyless, attest=att)
    col.step(Open(10, change.descriptor(), at=0.0, deadline=100.0))
    for i, v in enumerate((intel, amd, arm)):
        col.step(Receive(_vote(v, 10, change.descriptor()), at=1.0 + i))
    unsigned = col.decision(10).certificate
    no_key = "no collector public key to check the signature (allow_unsigned not given)"
    history = EpochHistory(keyless)
    assert history.check(unsigned, attest=att) == no_key
    assert history.check(unsigned, attest=att, allow_unsigned=True) is None
    with pytest.raises(ConfigError) as e:
        history.apply(change, unsigned, k_att={"riscv-b": fresh}, attest=att)
    assert str(e.value) == f"the set change's certificate is invalid: {no_key}"
    assert len(history) == 1
    history.apply(change, unsigned, k_att={"riscv-b": fresh}, attest=att, allow_unsigned=True)
    records = [(1, 11, 10, history.to_record(1))]
    with pytest.raises(ConfigError, match="allow_unsigned not given"):
        EpochHistory.from_records(keyless, records, {"riscv-b": fresh}, attest=att)
    assert len(EpochHistory.from_records(keyless, records, {"riscv-b": fresh}, attest=att,
                                         allow_unsigned=True)) == 2


def test_resulting_set_refusals_exact(keys):
    genesis, _, fresh = keys
    new = NewValidator("riscv-b", "riscv", 1, katt_digest(fresh))
    cases = [
        (SetChange(0, retire=("nobody",)), "cannot retire 'nobody': not in the epoch-0 set"),
        (SetChange(0, retire=("riscv", "riscv"), add=(new,)), "a validator is retired twice"),
        (SetChange(0, powers=(("intel", 1), ("intel", 1))),
         "a validator's power is changed twice"),
        (SetChange(0, powers=(("nobody", 1),)),
         "cannot change the power of 'nobody': not in the resulting set"),
        (SetChange(0, retire=("riscv",), add=(new,), powers=(("riscv", 1),)),
         "cannot change the power of 'riscv': not in the resulting set"),
        (SetChange(0, add=(NewValidator("intel", "intel", 1, bytes(32)),)),
         "cannot add 'intel': already a validator"),
        (SetChange(0, retire=("riscv",), add=(NewValidator("x", "sparc", 1, bytes(32)),)),
         "Unknown vendor 'sparc' for 'x'"),
    ]
    for change, message in cases:
        with pytest.raises(ConfigError) as e:
            resulting_set(genesis, change)
        assert str(e.value) == message
    with pytest.raises(ConfigError) as e:
        resulting_set(genesis, SetChange(0, retire=("riscv",), add=(new,)), {})
    assert str(e.value) == "no attestation key for the new validator 'riscv-b'"
    with pytest.raises(ConfigError) as e:
        resulting_set(genesis, SetChange(0, retire=("riscv",)))
    assert str(e.value).startswith("the epoch-1 set would break a power rule: ")


def test_resulting_set_keeps_powers_rule_and_key(keys):
    genesis, _, fresh = keys
    # powers of 2 each (P = 8, q = 6): the added validator keeps the power it is given
    doubled = ValidatorSet([dataclasses.replace(v, power=2) for v in genesis.validators],
                           "gt_2_3", collector_pk=genesis.collector_pk)
    change = SetChange(0, retire=("riscv",),
                       add=(NewValidator("riscv-b", "riscv", 2, katt_digest(fresh)),))
    new = resulting_set(doubled, change, {"riscv-b": fresh})
    assert new["riscv-b"].power == 2 and new.total_power == 8 and new.q == 6
    assert new["riscv-b"].k_att == fresh and new.rule == "gt_2_3" and new.epoch == 1
    assert new.collector_pk == genesis.collector_pk
    # a rule in the change replaces the current one
    ruled = resulting_set(genesis, dataclasses.replace(_retire_riscv(genesis, fresh),
                                                       rule="gt_2_3"), {"riscv-b": fresh})
    assert genesis.rule == "ge_3_4" and ruled.rule == "gt_2_3"


def test_set_change_encoding_exact(keys):
    _, _, fresh = keys
    change = SetChange(0, retire=("riscv",), powers=(("intel", 1),), rule="gt_2_3",
                       add=(NewValidator("riscv-b", "riscv", 1, bytes(range(32))),))
    canonical = (b'{"add":[{"katt_digest":"' + bytes(range(32)).hex().encode()
                 + b'","name":"riscv-b","power":1,"vendor":"riscv"}],'
                 b'"format":"pqvote-set-change/1","from_epoch":0,"powers":{"intel":1},'
                 b'"retire":["riscv"],"rule":"gt_2_3"}')
    assert change.canonical() == canonical
    assert change.descriptor() == hashlib.sha3_256(b"pqvote/set-change\x00"
                                                   + canonical).digest()[:24]
    assert katt_digest(fresh) == hashlib.sha3_256(b"pqvote/katt\x00" + fresh).digest()


def test_set_change_from_json_exact(keys):
    _, _, fresh = keys
    change = SetChange(0, retire=("riscv",), rule="gt_2_3",
                       add=(NewValidator("riscv-b", "riscv", 1, katt_digest(fresh)),))
    good = change.to_json()
    assert SetChange.from_json(good) == change
    # retire, add, powers and rule may be left out
    assert SetChange.from_json({"format": SET_CHANGE_FORMAT, "from_epoch": 2}) == \
        SetChange(2)
    entry = good["add"][0]
    bad_add = "each added validator needs exactly name, vendor, power, katt_digest"
    cases = [
        ([good], f"not a {SET_CHANGE_FORMAT} document"),
        (dict(good, format="x"), f"not a {SET_CHANGE_FORMAT} document"),
        (dict(good, zz=1, aa=2), "set change: unknown field 'aa'"),
        (dict(good, retire="riscv"), "set change retire must be a list of validator names"),
        (dict(good, retire=[1]), "set change retire must be a list of validator names"),
        (dict(good, add={}), "set change add must be a list, powers an object"),
        (dict(good, powers=[]), "set change add must be a list, powers an object"),
        (dict(good, add=[[entry]]), bad_add),
        (dict(good, add=[dict(entry, extra=1)]), bad_add),
        (dict(good, add=[dict(entry, katt_digest="00" * 31)]),
         "katt_digest: expected 32 bytes, got 31"),
    ]
    for bad in (-1, True, "0"):
        cases.append((dict(good, from_epoch=bad),
                      f"set change from_epoch must be a non-negative integer, not {bad!r}"))
    for obj, message in cases:
        with pytest.raises(ValueError) as e:
            SetChange.from_json(obj)
        assert str(e.value) == message, (obj, str(e.value))


def test_malformed_changes_refused_on_one_line(keys):
    """Names that could not name a key file and a TLS certificate, vendors and rules of the
    wrong type, request numbers outside 64 bits: refused with what is wrong."""
    genesis, sign, fresh = keys

    def add(name, vendor="riscv"):
        return SetChange(0, retire=("riscv",), add=(NewValidator(name, vendor, 1,
                                                                 katt_digest(fresh)),))
    for name in ("", "-b", "b-", "a/b", "../x", "x.y", "a" * 64, 5, None):
        with pytest.raises(ConfigError) as e:
            resulting_set(genesis, add(name))
        assert str(e.value) == ("a new validator's name must be a DNS label (letters, "
                                f"digits, inner hyphens, at most 63), not {name!r}")
    for name in ("a" * 63, "B", "riscv-2", "R1-b"):
        assert resulting_set(genesis, add(name))[name].vendor == "riscv"
    for vendor in (["riscv"], None, "sparc"):
        with pytest.raises(ConfigError) as e:
            resulting_set(genesis, add("x", vendor))
        assert str(e.value) == f"Unknown vendor {vendor!r} for 'x'"
    for rule in ([1], True, 1.5, "nope", None):
        change = dataclasses.replace(add("x"), rule=rule)
        if rule is None:
            assert resulting_set(genesis, change).rule == genesis.rule
            continue
        with pytest.raises(ConfigError) as e:
            resulting_set(genesis, change)
        assert str(e.value) == ("the quorum rule must be one of ge_3_4, gt_2_3, unanimous or "
                                f"an integer, not {rule!r}")
    assert resulting_set(genesis, dataclasses.replace(add("x"), rule=3)).q == 3
    intel, amd, arm, _ = genesis.validators
    dec, _ = _decide(genesis, sign, 7, bytes(24), [intel, amd, arm])
    history = EpochHistory(genesis)
    assert history.check(dec.certificate, attest=att) is None
    for nonce in (-1, 1 << 64, True, "7"):
        assert history.check(dataclasses.replace(dec.certificate, nonce=nonce), attest=att) \
            == f"request {nonce!r} is not an unsigned 64-bit integer"
    top = dataclasses.replace(dec.certificate, nonce=(1 << 64) - 1)
    assert history.check(top, attest=att) != \
        f"request {(1 << 64) - 1} is not an unsigned 64-bit integer"
