"""Batch certificates (consensus.merkle): the Merkle tree against an independent bottom-up
construction, every member of a batch verifying on its own, every kind of tampering refused
with its reason, the batch kept in both stores, and ``pqvote verify-cert`` on both forms."""

import dataclasses
import hashlib
import json
import os
import random

import pytest

from consensus.collector import Collector, Open, Receive, ml_dsa_44_signer
from consensus.merkle import (BATCH_FORMAT, BatchCertificate, BatchRoot, batch_certificate,
                              batch_root_signing_bytes, check_batch_certificate,
                              merkle_path, merkle_paths, merkle_root, node_hash,
                              root_from_path, seal_batch)
from consensus.simulation import make_cluster
from consensus.sources import software_attestation as att
from consensus.store import open_store
from consensus.votes import (Certificate, ValidatorSet, Vote, certificate_signing_bytes,
                             check_certificate)

SEED = int(os.environ.get("PQVOTE_SEED", "11"))


def _reference_root(leaves):
    """An independent construction of the same tree: bottom-up, pairing the leftmost
    complete subtrees (the largest-power-of-two split, computed without recursion)."""
    # decompose n into descending powers of two; each block is a perfect subtree
    blocks, i, n = [], 0, len(leaves)
    while i < n:
        size = 1 << ((n - i).bit_length() - 1)
        level = leaves[i:i + size]
        while len(level) > 1:
            level = [hashlib.sha3_256(b"\x01" + level[j] + level[j + 1]).digest()
                     for j in range(0, len(level), 2)]
        blocks.append(level[0])
        i += size
    root = blocks[-1]
    for b in reversed(blocks[:-1]):          # the smaller blocks hang off the right
        root = hashlib.sha3_256(b"\x01" + b + root).digest()
    return root


@pytest.mark.parametrize("n", list(range(1, 18)) + [31, 32, 33, 100])
def test_tree_matches_reference_and_every_path_verifies(n):
    rng = random.Random(SEED + n)
    leaves = [rng.randbytes(32) for _ in range(n)]
    root = merkle_root(leaves)
    assert root == _reference_root(leaves)
    all_root, all_paths = merkle_paths(leaves)
    assert all_root == root
    for i in range(n):
        path = merkle_path(leaves, i)
        assert all_paths[i] == path
        assert len(path) <= max(1, (n - 1).bit_length())
        assert root_from_path(leaves[i], i, n, path) == root
        if n > 1:
            # another position, a flipped bit, a shortened or lengthened path: not the root
            j = (i + 1) % n
            try:
                assert root_from_path(leaves[i], j, n, path) != root
            except ValueError:
                pass                        # a position needing another path length
            bad = list(path)
            bad[0] = bytes([bad[0][0] ^ 1]) + bad[0][1:]
            assert root_from_path(leaves[i], i, n, bad) != root
            with pytest.raises(ValueError, match="Merkle path has"):
                root_from_path(leaves[i], i, n, path[:-1])
            with pytest.raises(ValueError, match="Merkle path has"):
                root_from_path(leaves[i], i, n, path + [root])


def test_leaves_and_nodes_are_domain_separated():
    """An inner node cannot pose as a leaf: a two-leaf tree's root is not the leaf hash of
    the concatenated children, and the reference agrees only with the 0x01 prefix."""
    a, b = hashlib.sha3_256(b"a").digest(), hashlib.sha3_256(b"b").digest()
    assert node_hash(a, b) == hashlib.sha3_256(b"\x01" + a + b).digest()
    assert node_hash(a, b) != hashlib.sha3_256(b"\x00" + a + b).digest()
    # a tree of 3 leaves and a tree of its first node + third leaf have the same root, but
    # only with different sizes: the signed size tells them apart
    leaves = [a, b, a]
    assert merkle_root(leaves) == merkle_root([node_hash(a, b), a])
    path = merkle_path([node_hash(a, b), a], 0)
    with pytest.raises(ValueError):
        root_from_path(node_hash(a, b), 0, 3, path)


# -- certificates in batches -------------------------------------------------------------------

@pytest.fixture(scope="module")
def batch():
    """Nine signed-root batch certificates from one collector (accepted and rejected)."""
    from pqcrypto.sign import ml_dsa_44
    pk, sk = ml_dsa_44.keygen()
    base = make_cluster(4, seed=SEED)
    vs = ValidatorSet(base.validators, base.rule, collector_pk=pk)
    col = Collector(vs, attest=att)                 # unsigned: the batch root is signed
    rng = random.Random(SEED)
    certs = []
    for nonce in range(1, 10):
        d = rng.randbytes(24)
        col.step(Open(nonce, d, at=float(nonce * 10), deadline=float(nonce * 10 + 9)))
        value = nonce % 3 != 0
        for i, v in enumerate(vs.validators[:3]):
            col.step(Receive(Vote(v.name, nonce, d, value, bytes(32),
                                  att(v.k_att, v.vendor, nonce, d, value, bytes(32))),
                             at=nonce * 10 + 1.0 + i))
        certs.append(col.decision(nonce).certificate)
    root, members = seal_batch(certs, ml_dsa_44_signer(sk))
    return vs, sk, certs, root, members


def test_every_member_verifies_alone(batch):
    vs, _, certs, root, members = batch
    assert root.size == 9 and len(members) == 9
    for cert, bc in zip(certs, members):
        assert bc.entry.signature == b"" and bc.entry.nonce == cert.nonce
        assert check_batch_certificate(bc, vs, attest=att) is None
        again = BatchCertificate.from_json(json.loads(json.dumps(bc.to_json())))
        assert again == bc and check_batch_certificate(again, vs, attest=att) is None
    # the entry alone, without its batch, is an unsigned certificate: refused as such
    assert check_certificate(members[0].entry, vs, attest=att) == \
        "collector signature does not verify"


def _tampered(bc):
    """(what, tampered batch certificate, expected reason) for every part of the form."""
    e, p, r = bc.entry, list(bc.path), bc.batch
    flip = lambda h: bytes([h[0] ^ 0x80]) + h[1:]         # noqa: E731
    other_vote = dataclasses.replace(e.votes[0], proof_digest=bytes([7]) * 32)
    yield "path hash", dataclasses.replace(bc, path=tuple([flip(p[0])] + p[1:])), \
        "Merkle path does not lead"
    yield "path order", dataclasses.replace(bc, path=tuple(reversed(p))), \
        "Merkle path does not lead"
    yield "path short", dataclasses.replace(bc, path=tuple(p[:-1])), "Merkle path has"
    yield "index", dataclasses.replace(bc, index=(bc.index + 1) % r.size), "Merkle path"
    yield "entry descriptor", dataclasses.replace(
        bc, entry=dataclasses.replace(e, descriptor=bytes(24))), "for another request"
    yield "entry vote", dataclasses.replace(
        bc, entry=dataclasses.replace(e, votes=(other_vote,) + e.votes[1:])), \
        "does not verify"
    yield "entry nonce", dataclasses.replace(
        bc, entry=dataclasses.replace(e, nonce=e.nonce + 100,
                                      votes=e.votes)), "for another request"
    yield "entry quorum reason", dataclasses.replace(
        bc, entry=dataclasses.replace(e, reason="unreachable")), ""
    yield "root", dataclasses.replace(bc, batch=dataclasses.replace(r, root=flip(r.root))), \
        "Merkle path does not lead"
    yield "root size", dataclasses.replace(bc, batch=dataclasses.replace(r, size=r.size + 1)), \
        ""
    yield "root epoch", dataclasses.replace(bc, batch=dataclasses.replace(r, epoch=1)), \
        "epoch"
    yield "root signature", dataclasses.replace(
        bc, batch=dataclasses.replace(r, signature=flip(r.signature))), \
        "signature over the batch root does not verify"


def test_tampering_is_refused(batch):
    vs, _, _, _, members = batch
    bc = members[4]
    for what, bad, expected in _tampered(bc):
        reason = check_batch_certificate(bad, vs, attest=att)
        assert reason is not None, what
        assert expected in reason, (what, reason)
    # another batch member's path does not fit this entry
    wrong = dataclasses.replace(bc, path=members[5].path)
    assert check_batch_certificate(wrong, vs, attest=att) is not None


def test_negative_control_a_checker_that_skips_the_path_is_caught(batch, monkeypatch):
    """If the path were not checked, the tampered-path cases would pass: the test above
    detects a checker that ignores the path."""
    import consensus.merkle as m
    vs, _, _, _, members = batch
    monkeypatch.setattr(m, "root_from_path", lambda leaf, i, n, path: members[4].batch.root)
    bad = dataclasses.replace(members[4], path=members[5].path)
    assert check_batch_certificate(bad, vs, attest=att) is None      # undetected
    with pytest.raises(AssertionError):
        test_tampering_is_refused(batch)


def test_batch_of_one_and_mixed_epochs_refused(batch):
    vs, sk, certs, _, _ = batch
    root, (only,) = seal_batch(certs[:1], ml_dsa_44_signer(sk))
    assert only.path == () and check_batch_certificate(only, vs, attest=att) is None
    with pytest.raises(ValueError, match="one epoch"):
        seal_batch([certs[0], dataclasses.replace(certs[1], epoch=1)], ml_dsa_44_signer(sk))
    with pytest.raises(ValueError, match="at least one"):
        seal_batch([], ml_dsa_44_signer(sk))
    with pytest.raises(ValueError, match="unknown field"):
        BatchRoot.from_json(dict(root.to_json(), extra=1))


def test_batches_kept_in_the_store(batch, store_target):
    """The store records which certificates a root covers; any member's batch certificate
    is rebuilt from the store and verifies; a certificate is in one batch only."""
    from consensus.collector import Decision
    from consensus.store import StoreError
    vs, sk, certs, root, members = batch
    with open_store(store_target("batch")) as s:
        for c in certs:
            dec = Decision(c.nonce, c.descriptor, c.outcome, c, 3 if c.outcome == "accepted"
                           else 0, 0 if c.outcome == "accepted" else 3, (), 0.0, 1.0)
            s.record(nonce=c.nonce, descriptor=c.descriptor, opened_at=0.0, deadline=9.0,
                     decision=dec)
        assert s.unbatched() == list(range(1, 10))
        s.record_batch(root, [c.nonce for c in certs])
        assert s.unbatched() == []
        with pytest.raises(StoreError, match="already in a batch"):
            s.record_batch(dataclasses.replace(root, root=bytes(32)), [certs[0].nonce] * 9)
        for c in certs:
            stored_root, position, entries = s.batch_of(c.nonce)
            bc = batch_certificate(BatchRoot.from_json(stored_root),
                                   [Certificate.from_json(e) for e in entries], position)
            assert bc == members[position] and bc.entry.nonce == c.nonce
            assert check_batch_certificate(bc, vs, attest=att) is None
        assert s.batch_of(999) is None


# -- the command line --------------------------------------------------------------------------

def test_cli_batch_and_verify_both_forms(tmp_path, cli, store_target):
    """decide ×3 → batch → batch-cert → verify-cert exits 0 on the batch form and on the
    single form; a tampered path, entry or root exits 1 naming the problem."""
    keys = tmp_path / "keys"
    assert cli("keygen", "--out", keys)[0] == 0
    db = store_target("cli")
    for i in range(3):
        d = bytes([i]) * 24
        assert cli("mint", "--keys", keys, "--descriptor", d.hex(),
                   "--out", tmp_path / f"p{i}.json")[0] == 0
        code, out, err = cli("decide", "--keys", keys, "--proofs", tmp_path / f"p{i}.json",
                             "--backend", "software", "--db", db)
        assert code == 0, err
        (tmp_path / f"r{i}.json").write_text(out)
    code, out, err = cli("batch", "--keys", keys, "--db", db)
    assert code == 0, err
    (sealed,) = json.loads(out)["batches"]
    assert sealed["size"] == 3 and sealed["nonces"] == [1, 2, 3]
    assert cli("batch", "--keys", keys, "--db", db)[0] == 1          # nothing left
    code, out, err = cli("batch-cert", "2", "--keys", keys, "--db", db,
                         "--out", tmp_path / "b2.json")
    assert code == 0, err
    code, out, _ = cli("verify-cert", "--keys", keys, tmp_path / "b2.json")
    assert code == 0 and "entry 1 of a batch of 3" in out
    assert cli("verify-cert", "--keys", keys, tmp_path / "r1.json")[0] == 0   # single form
    bc = json.loads((tmp_path / "b2.json").read_text())
    cases = {
        "path": dict(bc, path=[("1" if bc["path"][0][0] == "0" else "0") + bc["path"][0][1:]]
                     + bc["path"][1:]),
        "entry": dict(bc, certificate=dict(bc["certificate"], nonce=3)),
        "root": dict(bc, batch=dict(bc["batch"], root="00" * 32)),
        "signature": dict(bc, batch=dict(bc["batch"], signature=bc["batch"]["signature"][::-1])),
        "form": dict(bc, path="00"),
    }
    for what, obj in cases.items():
        (tmp_path / f"bad-{what}.json").write_text(json.dumps(obj))
        code, out, _ = cli("verify-cert", "--keys", keys, tmp_path / f"bad-{what}.json")
        assert code == 1 and out.startswith("invalid: ") and out.count("\n") == 1, (what, out)
    assert cli("batch-cert", "9", "--keys", keys, "--db", db)[0] == 1


# -- exact forms and messages (written against the survivors of `make mutation`) -------------

def test_batch_root_signing_bytes_are_the_documented_form():
    root = BatchRoot(epoch=2, size=9, root=bytes(range(32)))
    assert batch_root_signing_bytes(root) == (
        b'pqvote/batch\x00{"epoch":2,"root":"' + bytes(range(32)).hex().encode()
        + b'","size":9}')
    # the signature is not signed
    assert batch_root_signing_bytes(dataclasses.replace(root, signature=b"x")) == \
        batch_root_signing_bytes(root)


def test_signed_certificates_enter_a_batch_without_their_signature(batch):
    vs, sk, certs, root, members = batch
    sign = ml_dsa_44_signer(sk)
    signed = [dataclasses.replace(c, signature=sign(certificate_signing_bytes(c)))
              for c in certs]
    assert all(c.signature for c in signed)
    again, sealed = seal_batch(signed, sign)
    assert again.root == root.root and all(bc.entry.signature == b"" for bc in sealed)
    for i in (0, 4, 8):
        bc = batch_certificate(root, signed, i)
        assert bc == members[i] and bc.entry.signature == b""
    with pytest.raises(ValueError) as e:
        batch_certificate(root, signed[:8], 0)
    assert str(e.value) == "the batch root covers 9 certificates, not 8"
    with pytest.raises(ValueError) as e:
        seal_batch([], sign)
    assert str(e.value) == "a batch needs at least one certificate"


def test_check_batch_certificate_reasons_and_keys(batch):
    vs, _, _, root, members = batch
    bc = members[2]
    assert check_batch_certificate(bc.entry, vs, attest=att) == "not a batch certificate"
    flip = dataclasses.replace(bc, path=(bytes(32),) + bc.path[1:])
    assert check_batch_certificate(flip, vs, attest=att) == \
        "the Merkle path does not lead from the entry to the signed root"
    bad_sig = dataclasses.replace(bc, batch=dataclasses.replace(root, signature=b"\0" * 2420))
    assert check_batch_certificate(bad_sig, vs, attest=att) == \
        "collector signature over the batch root does not verify"
    # the collector key: the set's, or one given (which then wins); none at all is refused
    keyless = ValidatorSet(vs.validators, vs.rule)
    assert check_batch_certificate(bc, keyless, attest=att) == \
        "no collector public key to check the batch signature"
    assert check_batch_certificate(bc, keyless, attest=att,
                                   collector_pk=vs.collector_pk) is None
    from pqcrypto.sign import ml_dsa_44
    other_pk, _ = ml_dsa_44.keygen()
    assert check_batch_certificate(bc, vs, attest=att, collector_pk=other_pk) == \
        "collector signature over the batch root does not verify"
    # the attestation function given is the one used
    refuse = lambda *a: bytes(32)                   # noqa: E731
    assert check_batch_certificate(bc, vs, attest=refuse).endswith("does not verify")


def test_tree_arguments_are_checked_with_exact_messages():
    leaves = [bytes([i]) * 32 for i in range(3)]
    for f in (merkle_root, merkle_paths):
        with pytest.raises(ValueError) as e:
            f([])
        assert str(e.value) == "a Merkle tree needs at least one leaf"
    with pytest.raises(ValueError) as e:
        merkle_path(leaves, 3)
    assert str(e.value) == "leaf index 3 is outside a tree of 3 leaves"
    path = merkle_path(leaves, 0)
    for size, message in ((0, "batch size must be a positive integer, not 0"),
                          (True, "batch size must be a positive integer, not True"),
                          ("3", "batch size must be a positive integer, not '3'")):
        with pytest.raises(ValueError) as e:
            root_from_path(leaves[0], 0, size, path)
        assert str(e.value) == message
    for index, message in ((3, "index 3 is outside a batch of 3"),
                           (-1, "index -1 is outside a batch of 3"),
                           (True, "index True is outside a batch of 3"),
                           ("0", "index '0' is outside a batch of 3")):
        with pytest.raises(ValueError) as e:
            root_from_path(leaves[0], index, 3, path)
        assert str(e.value) == message
    with pytest.raises(ValueError) as e:
        root_from_path(leaves[0], 0, 3, path[:1])
    assert str(e.value) == "Merkle path has 1 hashes, too few for position 0 of 3"
    with pytest.raises(ValueError) as e:
        root_from_path(leaves[2], 2, 3, path)
    assert str(e.value) == "Merkle path has 2 hashes, position 2 of 3 needs 1"


def test_batch_forms_from_json_exact(batch):
    _, _, _, root, members = batch
    good = members[3].to_json()
    assert BatchCertificate.from_json(good) == members[3]
    cases = [
        ([good], f"not a {BATCH_FORMAT} document"),
        (dict(good, format="x"), f"not a {BATCH_FORMAT} document"),
        (dict(good, zz=1, aa=2), "batch certificate: unknown field 'aa'"),
        (dict(good, index=-1), "batch certificate index must be a non-negative integer, "
                               "not -1"),
        (dict(good, index=True), "batch certificate index must be a non-negative integer, "
                                 "not True"),
        (dict(good, index="1"), "batch certificate index must be a non-negative integer, "
                                "not '1'"),
        (dict(good, path="00"), "batch certificate path must be a list of hashes"),
        (dict(good, path=["00" * 31]), "Merkle path hash: expected 32 bytes, got 31"),
        (dict(good, path=[1]), "Merkle path hash: expected a hex string, got int"),
        (dict(good, batch=[]), "batch root must be a JSON object"),
        (dict(good, batch=dict(good["batch"], root="00" * 31)),
         "batch root: expected 32 bytes, got 31"),
        (dict(good, batch=dict(good["batch"], signature="0")),
         "batch root signature: not valid hex (an even number of 0-9a-f digits)"),
    ]
    for field in ("epoch", "size"):
        for bad in (-1, True, "1"):
            cases.append((dict(good, batch=dict(good["batch"], **{field: bad})),
                          f"batch root {field} must be a non-negative integer, not {bad!r}"))
    for obj, message in cases:
        with pytest.raises(ValueError) as e:
            BatchCertificate.from_json(obj)
        assert str(e.value) == message, (obj, str(e.value))
    # a root without a signature is an unsigned root
    bare = {k: v for k, v in root.to_json().items() if k != "signature"}
    assert BatchRoot.from_json(bare) == dataclasses.replace(root, signature=b"")
