"""SLH-DSA-SHAKE-128s signature verification, written from FIPS 205 (August 2024).

Parameter set SLH-DSA-SHAKE-128s (FIPS 205 Table 2): ``n = 16``, ``h = 63``, ``d = 7``,
``h' = 9``, ``a = 12``, ``k = 14``, ``lg_w = 4`` (``w = 16``), ``m = 30``. The hash
functions are the SHAKE instantiation of FIPS 205 §11.1::

    H_msg(R, PK.seed, PK.root, M) = SHAKE256(R || PK.seed || PK.root || M, 8m)
    F(PK.seed, ADRS, M1)          = SHAKE256(PK.seed || ADRS || M1, 8n)
    H(PK.seed, ADRS, M2)          = SHAKE256(PK.seed || ADRS || M2, 8n)
    T_l(PK.seed, ADRS, M_l)       = SHAKE256(PK.seed || ADRS || M_l, 8n)

The model is split the way the hardware engine (``hdl/slhdsa``) is split, so that one stage
can be compared on its own when a whole-core comparison fails:

* :func:`wots_chain_step` is one step of a WOTS+ chain (one ``F``), the unit of work of a
  hash unit running a chain;
* :func:`tree_node` is one step up a Merkle / FORS authentication path (one ``H``);
* :func:`wots_chain_lengths` gives the per-chain step counts the scheduler works from;
* every hash goes through a :class:`Hasher`, which counts calls and Keccak permutations and
  can record a trace ``(function, ADRS, input, output)``.

The hashes use :func:`golden.keccak.shake256`, the project's own SHAKE model.
"""

import dataclasses

from golden import keccak

__all__ = [
    "N", "H", "D", "HP", "A", "K", "LG_W", "W", "M", "LEN1", "LEN2", "LEN", "SIG_LEN", "PK_LEN",
    "WOTS_HASH", "WOTS_PK", "TREE", "FORS_TREE", "FORS_ROOTS", "WOTS_PRF", "FORS_PRF",
    "SIG_R", "SIG_FORS", "SIG_HT", "XMSS_SIG_BLOCKS",
    "Adrs", "Hasher", "base_2b", "message_prime", "split_digest", "wots_digits",
    "wots_chain_lengths", "wots_chain_step", "chain", "wots_pk_from_sig", "tree_node",
    "xmss_pk_from_sig", "fors_pk_from_sig", "ht_verify", "slh_verify_internal", "verify",
    "hash_permutations", "sig_block",
]

# --- parameters (FIPS 205 Table 2, SLH-DSA-SHAKE-128s) -------------------------------------
N = 16          # security parameter, bytes per hash value
H = 63          # total hypertree height
D = 7           # hypertree layers
HP = 9          # h' = h / d, height of one XMSS tree
A = 12          # FORS tree height
K = 14          # FORS trees
LG_W = 4
W = 1 << LG_W   # Winternitz parameter, 16
M = 30          # message digest bytes
LEN1 = (8 * N + LG_W - 1) // LG_W                               # 32 message digits
LEN2 = (LEN1 * (W - 1)).bit_length() // LG_W + 1               # 3 checksum digits
LEN = LEN1 + LEN2                                               # 35 WOTS+ chains
PK_LEN = 2 * N                                                  # PK.seed || PK.root
SIG_LEN = (1 + K * (1 + A) + H + D * LEN) * N                   # 7856 bytes
assert (LEN1, LEN2, SIG_LEN) == (32, 3, 7856)

# The signature in n-byte blocks: R, then SIG_FORS (k trees of sk + a auth nodes), then SIG_HT
# (d XMSS signatures of len WOTS+ values + h' auth nodes).
SIG_R = 0                            # block index of the randomness R
SIG_FORS = 1                         # first block of SIG_FORS; tree i at SIG_FORS + i*(a+1)
SIG_HT = SIG_FORS + K * (A + 1)      # 183, first block of SIG_HT; layer j at SIG_HT + j*44
XMSS_SIG_BLOCKS = LEN + HP           # 44 blocks per XMSS signature

# --- addresses (FIPS 205 §4.2, Table 1) ----------------------------------------------------
WOTS_HASH, WOTS_PK, TREE, FORS_TREE, FORS_ROOTS, WOTS_PRF, FORS_PRF = range(7)


@dataclasses.dataclass
class Adrs:
    """The 32-byte hash address ADRS (FIPS 205 §4.2).

    Byte layout (each field big-endian): layer address ``[0:4]``, tree address ``[4:16]``,
    type ``[16:20]``, key pair address ``[20:24]``, chain address / tree height ``[24:28]``,
    hash address / tree index ``[28:32]``. ``word6``/``word7`` hold the last two fields,
    whose meaning depends on the type.

    Members
    -------
    layer, tree, type, keypair, word6, word7 : int
        The six fields.
    """

    layer: int = 0
    tree: int = 0
    type: int = 0
    keypair: int = 0
    word6: int = 0
    word7: int = 0

    def to_bytes(self):
        return (self.layer.to_bytes(4, "big") + self.tree.to_bytes(12, "big")
                + self.type.to_bytes(4, "big") + self.keypair.to_bytes(4, "big")
                + self.word6.to_bytes(4, "big") + self.word7.to_bytes(4, "big"))

    def copy(self):
        return dataclasses.replace(self)

    # FIPS 205 Table 1 member functions
    def set_layer_address(self, l):
        self.layer = l

    def set_tree_address(self, t):
        self.tree = t

    def set_type_and_clear(self, y):
        self.type, self.keypair, self.word6, self.word7 = y, 0, 0, 0

    def set_key_pair_address(self, i):
        self.keypair = i

    def get_key_pair_address(self):
        return self.keypair

    def set_chain_address(self, i):
        self.word6 = i

    def set_tree_height(self, z):
        self.word6 = z

    def set_hash_address(self, i):
        self.word7 = i

    def set_tree_index(self, i):
        self.word7 = i

    def get_tree_index(self):
        return self.word7


# --- hash functions (FIPS 205 §11.1) ------------------------------------------------------
SHAKE256_RATE = keccak.RATE["shake256"]


def hash_permutations(msg_len, out_len=N):
    """Keccak-f[1600] calls of one SHAKE256 hash: absorb blocks (with padding) + squeezes."""
    return msg_len // SHAKE256_RATE + 1 + (out_len - 1) // SHAKE256_RATE


class Hasher:
    """The tweakable hash functions of SLH-DSA-SHAKE, with a call and permutation count.

    Parameters
    ----------
    trace : bool
        Record every call as ``(function, adrs_bytes, input, output)`` in :attr:`trace`.
    shake256 : callable, optional
        ``shake256(data, outlen)``; :func:`golden.keccak.shake256` unless given (tests of
        the *counts* may pass a faster one; the model's results never depend on it).

    Members
    -------
    calls : dict
        Number of calls of each function (``"F"``, ``"H"``, ``"T"``, ``"H_msg"``).
    permutations : int
        Keccak-f[1600] permutations used so far.
    """

    def __init__(self, *, trace=False, shake256=None):
        self._shake = shake256 or keccak.shake256
        self.trace = [] if trace else None
        self.calls = {"F": 0, "H": 0, "T": 0, "H_msg": 0}
        self.permutations = 0

    def _hash(self, fn, adrs, data, outlen):
        out = self._shake(data, outlen)
        self.calls[fn] += 1
        self.permutations += hash_permutations(len(data), outlen)
        if self.trace is not None:
            self.trace.append((fn, adrs, data, out))
        return out

    def h_msg(self, r, pk_seed, pk_root, msg):
        """H_msg(R, PK.seed, PK.root, M) -> m = 30 bytes."""
        return self._hash("H_msg", None, r + pk_seed + pk_root + msg, M)

    def f(self, pk_seed, adrs, m1):
        """F(PK.seed, ADRS, M1), ``|M1| = n``."""
        assert len(m1) == N
        a = adrs.to_bytes()
        return self._hash("F", a, pk_seed + a + m1, N)

    def h(self, pk_seed, adrs, m2):
        """H(PK.seed, ADRS, M2), ``|M2| = 2n``."""
        assert len(m2) == 2 * N
        a = adrs.to_bytes()
        return self._hash("H", a, pk_seed + a + m2, N)

    def t(self, pk_seed, adrs, ml):
        """T_l(PK.seed, ADRS, M_l), ``|M_l| = l*n``."""
        a = adrs.to_bytes()
        return self._hash("T", a, pk_seed + a + ml, N)


# --- helpers (FIPS 205 §4.4) --------------------------------------------------------------
def base_2b(x, b, out_len):
    """FIPS 205 Algorithm 4: ``out_len`` integers of ``b`` bits from ``x``, most significant first."""
    inp = bits = total = 0
    out = []
    for _ in range(out_len):
        while bits < b:
            total = (total << 8) + x[inp]
            inp += 1
            bits += 8
        bits -= b
        out.append((total >> bits) % (1 << b))
    return out


def message_prime(msg, ctx=b""):
    """Pure-interface message (FIPS 205 Algorithm 24): ``M' = 0x00 || len(ctx) || ctx || M``."""
    if len(ctx) > 255:
        raise ValueError(f"Context must be at most 255 bytes, not {len(ctx)}")
    return bytes([0, len(ctx)]) + bytes(ctx) + bytes(msg)


def split_digest(digest):
    """FIPS 205 Algorithm 20 lines 7–12: ``(md, idx_tree, idx_leaf)`` from the m-byte digest.

    ``md`` is the first ceil(k*a/8) = 21 bytes; ``idx_tree`` the next 7 bytes (big-endian)
    mod 2^54; ``idx_leaf`` the next 2 bytes mod 2^9.
    """
    md_len = (K * A + 7) // 8                       # 21
    tree_len = (H - H // D + 7) // 8                # 7
    leaf_len = (H // D + 7) // 8                    # 2
    md = digest[:md_len]
    idx_tree = int.from_bytes(digest[md_len:md_len + tree_len], "big") % (1 << (H - H // D))
    idx_leaf = int.from_bytes(digest[md_len + tree_len:md_len + tree_len + leaf_len],
                              "big") % (1 << (H // D))
    return md, idx_tree, idx_leaf


def sig_block(sig, i):
    """The i-th n-byte block of a signature (see :data:`SIG_R`, :data:`SIG_FORS`, :data:`SIG_HT`)."""
    return sig[N * i:N * (i + 1)]


# --- WOTS+ (FIPS 205 §5) ------------------------------------------------------------------
def wots_digits(m):
    """The len = 35 base-w digits signed by WOTS+: 32 digits of ``m`` then the 3-digit checksum
    (FIPS 205 Algorithm 8 lines 1–6)."""
    msg = base_2b(m, LG_W, LEN1)
    csum = sum(W - 1 - v for v in msg)
    csum <<= (8 - (LEN2 * LG_W) % 8) % 8
    return msg + base_2b(csum.to_bytes((LEN2 * LG_W + 7) // 8, "big"), LG_W, LEN2)


def wots_chain_lengths(m):
    """F calls of each of the 35 chains when verifying a WOTS+ signature of ``m``: ``w-1-digit``."""
    return [W - 1 - v for v in wots_digits(m)]


def wots_chain_step(hasher, pk_seed, adrs, x, j):
    """One chain step (FIPS 205 Algorithm 5 loop body): ADRS.setHashAddress(j); F(PK.seed, ADRS, x)."""
    adrs.set_hash_address(j)
    return hasher.f(pk_seed, adrs, x)


def chain(hasher, x, i, s, pk_seed, adrs):
    """FIPS 205 Algorithm 5: ``s`` chain steps from hash address ``i`` on."""
    for j in range(i, i + s):
        x = wots_chain_step(hasher, pk_seed, adrs, x, j)
    return x


def wots_pk_from_sig(hasher, sig, m, pk_seed, adrs):
    """FIPS 205 Algorithm 8: WOTS+ public key from a 35-block signature of the n-byte ``m``."""
    digits = wots_digits(m)
    tmp = []
    for i in range(LEN):
        adrs.set_chain_address(i)
        tmp.append(chain(hasher, sig[N * i:N * (i + 1)], digits[i], W - 1 - digits[i],
                         pk_seed, adrs))
    pk_adrs = adrs.copy()
    pk_adrs.set_type_and_clear(WOTS_PK)
    pk_adrs.set_key_pair_address(adrs.get_key_pair_address())
    return hasher.t(pk_seed, pk_adrs, b"".join(tmp))


# --- Merkle trees (FIPS 205 §6, §8) -------------------------------------------------------
def tree_node(hasher, pk_seed, adrs, node, auth, height, index):
    """One step up an authentication path (FIPS 205 Algorithm 11 lines 8–14, Algorithm 17
    lines 10–17): the parent of ``node`` at ``height`` (1-based) given its sibling ``auth``.

    ``index`` is the tree index of ``node`` (at height - 1); returns ``(parent, parent_index)``.
    The node is the left child when its index is even: ``H(node || auth)``, else
    ``H(auth || node)``.
    """
    adrs.set_tree_height(height)
    adrs.set_tree_index(index >> 1)
    if index & 1 == 0:
        parent = hasher.h(pk_seed, adrs, node + auth)
    else:
        parent = hasher.h(pk_seed, adrs, auth + node)
    return parent, index >> 1


def xmss_pk_from_sig(hasher, idx, sig_xmss, m, pk_seed, adrs):
    """FIPS 205 Algorithm 11: XMSS root from a 44-block XMSS signature of ``m`` at leaf ``idx``."""
    adrs.set_type_and_clear(WOTS_HASH)
    adrs.set_key_pair_address(idx)
    node = wots_pk_from_sig(hasher, sig_xmss[:LEN * N], m, pk_seed, adrs)
    adrs.set_type_and_clear(TREE)
    adrs.set_tree_index(idx)
    auth = sig_xmss[LEN * N:]
    index = idx
    for k in range(HP):
        node, index = tree_node(hasher, pk_seed, adrs, node, auth[N * k:N * (k + 1)], k + 1,
                                index)
    return node


def ht_verify(hasher, m, sig_ht, pk_seed, idx_tree, idx_leaf, pk_root):
    """FIPS 205 Algorithm 13: hypertree verification of the n-byte ``m`` (the FORS public key)."""
    adrs = Adrs()
    adrs.set_tree_address(idx_tree)
    xmss_len = XMSS_SIG_BLOCKS * N
    node = xmss_pk_from_sig(hasher, idx_leaf, sig_ht[:xmss_len], m, pk_seed, adrs)
    for j in range(1, D):
        idx_leaf = idx_tree % (1 << HP)
        idx_tree >>= HP
        adrs.set_layer_address(j)
        adrs.set_tree_address(idx_tree)
        node = xmss_pk_from_sig(hasher, idx_leaf, sig_ht[j * xmss_len:(j + 1) * xmss_len],
                                node, pk_seed, adrs)
    return node == pk_root


# --- FORS (FIPS 205 §8) -------------------------------------------------------------------
def fors_pk_from_sig(hasher, sig_fors, md, pk_seed, adrs):
    """FIPS 205 Algorithm 17: FORS public key from SIG_FORS and the 21-byte ``md``."""
    indices = base_2b(md, A, K)
    roots = []
    for i in range(K):
        base = i * (A + 1) * N
        sk = sig_fors[base:base + N]
        auth = sig_fors[base + N:base + (A + 1) * N]
        adrs.set_tree_height(0)
        adrs.set_tree_index((i << A) + indices[i])
        node = hasher.f(pk_seed, adrs, sk)
        index = (i << A) + indices[i]
        for j in range(A):
            node, index = tree_node(hasher, pk_seed, adrs, node, auth[N * j:N * (j + 1)], j + 1,
                                    index)
        roots.append(node)
    pk_adrs = adrs.copy()
    pk_adrs.set_type_and_clear(FORS_ROOTS)
    pk_adrs.set_key_pair_address(adrs.get_key_pair_address())
    return hasher.t(pk_seed, pk_adrs, b"".join(roots))


# --- verification (FIPS 205 §9.3, §10.3) --------------------------------------------------
def slh_verify_internal(msg, sig, pk, *, hasher=None):
    """FIPS 205 Algorithm 20: verify ``sig`` on the (already framed) message ``msg``."""
    hasher = hasher if hasher is not None else Hasher()
    if len(sig) != SIG_LEN or len(pk) != PK_LEN:
        return False
    pk_seed, pk_root = pk[:N], pk[N:]
    r = sig[:N]
    sig_fors = sig[N * SIG_FORS:N * SIG_HT]
    sig_ht = sig[N * SIG_HT:]
    digest = hasher.h_msg(r, pk_seed, pk_root, msg)
    md, idx_tree, idx_leaf = split_digest(digest)
    adrs = Adrs()
    adrs.set_tree_address(idx_tree)
    adrs.set_type_and_clear(FORS_TREE)
    adrs.set_key_pair_address(idx_leaf)
    pk_fors = fors_pk_from_sig(hasher, sig_fors, md, pk_seed, adrs)
    return ht_verify(hasher, pk_fors, sig_ht, pk_seed, idx_tree, idx_leaf, pk_root)


def verify(pk, msg, sig, ctx=b"", *, hasher=None):
    """FIPS 205 Algorithm 24 (pure SLH-DSA): verify ``sig`` over ``msg`` with context ``ctx``.

    A signature or public key of the wrong length, or a context longer than 255 bytes, gives
    ``False``.
    """
    pk, msg, sig, ctx = bytes(pk), bytes(msg), bytes(sig), bytes(ctx)
    if len(ctx) > 255:
        return False
    return slh_verify_internal(message_prime(msg, ctx), sig, pk, hasher=hasher)
