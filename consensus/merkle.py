"""Batch certificates: one collector signature over a Merkle root of many certificates.

A single certificate carries its own ML-DSA-44 signature (2,420 bytes, one verification).
A batch certificate carries the certificate without a signature (its *entry*), the entry's
position in a batch, the Merkle path from the entry to the batch's root, and the signed
root; it verifies on its own, with no other member of the batch.

Tree (SHA3-256, FIPS 202; domain-separated so that no leaf can pose as an inner node)::

    leaf(e)     = SHA3-256(0x00 ‖ certificate_signing_bytes(e))
    node(l, r)  = SHA3-256(0x01 ‖ l ‖ r)
    root(D[n])  = leaf(D[0])                                   n = 1
                = node(root(D[:k]), root(D[k:]))               k = largest power of 2 < n

A tree of ``n`` leaves is never padded or given a duplicated leaf, so one root commits to
exactly one list of entries (the list length is signed too). The path of entry ``i`` lists
the sibling subtree roots from the leaf up; its length is fixed by ``i`` and ``n``.

Signed root (``BatchRoot``): ``ML-DSA-44.Sign(sk, "pqvote/batch" ‖ 0x00 ‖ JSON)`` over the
canonical JSON ``{"epoch", "root", "size"}``. Every member of a batch belongs to the batch's
validator-set epoch.
"""

import dataclasses
import hashlib
import json
from typing import Callable, Mapping

from .votes import (AttestFn, Certificate, ValidatorSet, check_certificate,
                    certificate_signing_bytes, strict_hex)

__all__ = ["leaf_hash", "node_hash", "merkle_root", "merkle_path", "merkle_paths",
           "root_from_path",
           "BatchRoot", "BatchCertificate", "batch_certificate", "seal_batch", "check_batch_certificate",
           "batch_root_signing_bytes", "BATCH_FORMAT"]

BATCH_FORMAT = "pqvote-batch-certificate/1"
HASH_LEN = 32
_LEAF, _NODE = b"\x00", b"\x01"


def leaf_hash(entry: Certificate) -> bytes:
    """The leaf of a certificate: its signing bytes (the signature field left out)."""
    return hashlib.sha3_256(_LEAF + certificate_signing_bytes(entry)).digest()


def node_hash(left: bytes, right: bytes) -> bytes:
    return hashlib.sha3_256(_NODE + left + right).digest()


def _split(n: int) -> int:
    """The largest power of two below ``n`` (``n ≥ 2``)."""
    return 1 << ((n - 1).bit_length() - 1)


def merkle_root(leaves) -> bytes:
    leaves = list(leaves)
    if not leaves:
        raise ValueError("a Merkle tree needs at least one leaf")
    if len(leaves) == 1:
        return leaves[0]
    k = _split(len(leaves))
    return node_hash(merkle_root(leaves[:k]), merkle_root(leaves[k:]))


def merkle_path(leaves, index: int) -> list:
    """Sibling roots from leaf ``index`` up to the root (bottom first)."""
    leaves = list(leaves)
    if not 0 <= index < len(leaves):
        raise ValueError(f"leaf index {index} is outside a tree of {len(leaves)} leaves")
    if len(leaves) == 1:
        return []
    k = _split(len(leaves))
    if index < k:
        return merkle_path(leaves[:k], index) + [merkle_root(leaves[k:])]
    return merkle_path(leaves[k:], index - k) + [merkle_root(leaves[:k])]


def merkle_paths(leaves) -> tuple:
    """``(root, [path of leaf 0, path of leaf 1, …])`` in one pass (each subtree root is
    computed once: ``O(n log n)`` instead of :func:`merkle_path` per leaf)."""
    leaves = list(leaves)
    if not leaves:
        raise ValueError("a Merkle tree needs at least one leaf")

    def build(lo, hi):
        if hi - lo == 1:
            return leaves[lo], [[]]
        k = _split(hi - lo)
        left, left_paths = build(lo, lo + k)
        right, right_paths = build(lo + k, hi)
        for p in left_paths:
            p.append(right)
        for p in right_paths:
            p.append(left)
        return node_hash(left, right), left_paths + right_paths

    return build(0, len(leaves))


def root_from_path(leaf: bytes, index: int, size: int, path) -> bytes:
    """The root that ``leaf`` at ``index`` of a ``size``-leaf tree and ``path`` lead to;
    ``ValueError`` if the path has the wrong length for that position."""
    if isinstance(size, bool) or not isinstance(size, int) or size < 1:
        raise ValueError(f"batch size must be a positive integer, not {size!r}")
    if isinstance(index, bool) or not isinstance(index, int) or not 0 <= index < size:
        raise ValueError(f"index {index!r} is outside a batch of {size}")
    path = list(path)
    where = f"position {index} of {size}"

    def up(index, size, depth):
        # depth: how many path elements lie above this subtree
        if size == 1:
            if depth != len(path):
                raise ValueError(f"Merkle path has {len(path)} hashes, {where} needs {depth}")
            return leaf
        if depth >= len(path):
            raise ValueError(f"Merkle path has {len(path)} hashes, too few for {where}")
        sibling = path[len(path) - 1 - depth]
        k = _split(size)
        if index < k:
            return node_hash(up(index, k, depth + 1), sibling)
        return node_hash(sibling, up(index - k, size - k, depth + 1))

    return up(index, size, 0)


# -- signed roots and batch certificates ------------------------------------------------------

@dataclasses.dataclass(frozen=True)
class BatchRoot:
    """The signed root of one batch."""
    epoch: int
    size: int
    root: bytes
    signature: bytes = b""

    def to_json(self) -> dict:
        return {"epoch": self.epoch, "size": self.size, "root": self.root.hex(),
                "signature": self.signature.hex()}

    @classmethod
    def from_json(cls, obj) -> "BatchRoot":
        if not isinstance(obj, Mapping):
            raise ValueError("batch root must be a JSON object")
        extra = sorted(set(obj) - {"epoch", "size", "root", "signature"})
        if extra:
            raise ValueError(f"batch root: unknown field {extra[0]!r}")
        for field in ("epoch", "size"):
            v = obj.get(field)
            if isinstance(v, bool) or not isinstance(v, int) or v < 0:
                raise ValueError(f"batch root {field} must be a non-negative integer, not {v!r}")
        return cls(epoch=obj["epoch"], size=obj["size"],
                   root=strict_hex(obj.get("root"), "batch root", HASH_LEN),
                   signature=strict_hex(obj.get("signature", ""), "batch root signature"))


def batch_root_signing_bytes(root: BatchRoot) -> bytes:
    body = {"epoch": root.epoch, "root": root.root.hex(), "size": root.size}
    return b"pqvote/batch\x00" + json.dumps(body, sort_keys=True, separators=(",", ":")).encode()


@dataclasses.dataclass(frozen=True)
class BatchCertificate:
    """One decision's certificate in batch form: entry, position, path, signed root."""
    entry: Certificate
    index: int
    path: tuple
    batch: BatchRoot

    def to_json(self) -> dict:
        return {"format": BATCH_FORMAT, "certificate": self.entry.to_json(),
                "index": self.index, "path": [h.hex() for h in self.path],
                "batch": self.batch.to_json()}

    @classmethod
    def from_json(cls, obj) -> "BatchCertificate":
        """``ValueError`` names the first thing wrong with the form (not the content)."""
        if not isinstance(obj, Mapping) or obj.get("format") != BATCH_FORMAT:
            raise ValueError(f"not a {BATCH_FORMAT} document")
        extra = sorted(set(obj) - {"format", "certificate", "index", "path", "batch"})
        if extra:
            raise ValueError(f"batch certificate: unknown field {extra[0]!r}")
        index, path = obj.get("index"), obj.get("path")
        if isinstance(index, bool) or not isinstance(index, int) or index < 0:
            raise ValueError(f"batch certificate index must be a non-negative integer, "
                             f"not {index!r}")
        if not isinstance(path, list):
            raise ValueError("batch certificate path must be a list of hashes")
        return cls(entry=Certificate.from_json(obj.get("certificate")), index=index,
                   path=tuple(strict_hex(h, "Merkle path hash", HASH_LEN) for h in path),
                   batch=BatchRoot.from_json(obj.get("batch")))


def batch_certificate(root: BatchRoot, members, position: int) -> BatchCertificate:
    """The batch certificate of ``members[position]`` (the batch's certificates in order, as
    a store keeps them: ``DecisionStore.batch_of``)."""
    entries = [dataclasses.replace(c, signature=b"") for c in members]
    if len(entries) != root.size:
        raise ValueError(f"the batch root covers {root.size} certificates, not {len(entries)}")
    leaves = [leaf_hash(e) for e in entries]
    return BatchCertificate(entries[position], position, tuple(merkle_path(leaves, position)),
                            root)


def seal_batch(certificates, sign: Callable[[bytes], bytes]) -> tuple:
    """Seal ``certificates`` (one epoch, in order) into one signed root; returns
    ``(BatchRoot, [BatchCertificate, …])`` with each entry's own signature dropped."""
    entries = [dataclasses.replace(c, signature=b"") for c in certificates]
    if not entries:
        raise ValueError("a batch needs at least one certificate")
    epochs = {c.epoch for c in entries}
    if len(epochs) != 1:
        raise ValueError(f"a batch holds certificates of one epoch, not {sorted(epochs)}")
    top, paths = merkle_paths(leaf_hash(e) for e in entries)
    root = BatchRoot(epoch=entries[0].epoch, size=len(entries), root=top)
    root = dataclasses.replace(root, signature=sign(batch_root_signing_bytes(root)))
    return root, [BatchCertificate(e, i, tuple(p), root)
                  for i, (e, p) in enumerate(zip(entries, paths))]


def check_batch_certificate(bc: BatchCertificate, keys: ValidatorSet, *,
                            attest: AttestFn | None = None,
                            collector_pk: bytes | None = None) -> str | None:
    """``None`` if ``bc`` proves its decision on its own, else a one-line reason.

    Checked: the entry as a certificate of ``keys`` (votes, attestations, quorum, epoch;
    not its own signature, which a batch entry does not carry), the batch's epoch, the path
    from the entry's leaf to the signed root, and the collector's ML-DSA-44 signature over
    the root under ``collector_pk`` or ``keys.collector_pk`` (required).
    """
    if not isinstance(bc, BatchCertificate):
        return "not a batch certificate"
    reason = check_certificate(bc.entry, keys, attest=attest, check_signature=False)
    if reason is not None:
        return reason
    if bc.batch.epoch != bc.entry.epoch:
        return (f"the batch is of epoch {bc.batch.epoch}, its entry of epoch "
                f"{bc.entry.epoch}")
    try:
        root = root_from_path(leaf_hash(bc.entry), bc.index, bc.batch.size, bc.path)
    except ValueError as e:
        return str(e)
    if root != bc.batch.root:
        return "the Merkle path does not lead from the entry to the signed root"
    pk = collector_pk if collector_pk is not None else keys.collector_pk
    if pk is None:
        return "no collector public key to check the batch signature"
    from pqcrypto.sign import ml_dsa_44
    try:
        ml_dsa_44.verify(pk, batch_root_signing_bytes(bc.batch), bc.batch.signature)
    except Exception:
        return "collector signature over the batch root does not verify"
    return None
