"""SHA-512, written from FIPS 180-4 (§4.1.3, §4.2.3, §5.1.2, §5.3.5, §6.4).

Words are 64-bit integers; a message block is sixteen words taken **big-endian** from
128 bytes (FIPS 180-4 §3.1), the order in which the hardware block receives them.

The model is structured like the hardware (:mod:`hdl.sha512`):

* :func:`pad` / :func:`blocks` — §5.1.2 padding and parsing into 1024-bit blocks;
* :func:`schedule_step` — one step of the §6.4.2 message schedule ``W_t``;
* :func:`sha512_round` — one round ``t`` of the compression function (one clock of the
  one-round-per-cycle datapath);
* :func:`compress_trace` — the working variables ``(a, ..., h)`` after every round, so a
  bench can compare the hardware state on every cycle;
* :func:`sha512` / :func:`sha512_trace` — the whole hash.

The constants are derived here as FIPS 180-4 defines them: ``K`` holds the first 64 bits
of the fractional parts of the cube roots of the first eighty primes (§4.2.3), ``IV`` the
first 64 bits of the fractional parts of the square roots of the first eight primes
(§5.3.5). The tests compare them with ``hashlib`` results, never with a copied table.
"""

MASK64 = (1 << 64) - 1
ROUNDS = 80
BLOCK_BYTES = 128
DIGEST_BYTES = 64

__all__ = ["K", "IV", "ROUNDS", "BLOCK_BYTES", "DIGEST_BYTES", "pad", "blocks", "block_words",
           "schedule_step", "message_schedule", "sha512_round", "compress", "compress_trace",
           "sha512", "sha512_trace", "digest_bytes"]


def _primes(n):
    out, k = [], 2
    while len(out) < n:
        if all(k % p for p in out if p * p <= k):
            out.append(k)
        k += 1
    return out


def _iroot(x, n):
    """Largest integer ``y`` with ``y**n <= x``."""
    lo, hi = 0, 1 << (x.bit_length() // n + 1)
    while lo < hi:
        mid = (lo + hi + 1) // 2
        if mid ** n <= x:
            lo = mid
        else:
            hi = mid - 1
    return lo


def _frac_root_bits(p, n):
    """First 64 bits of the fractional part of ``p ** (1/n)``: ``floor(p^(1/n) * 2^64) mod 2^64``."""
    return _iroot(p << (64 * n), n) & MASK64


#: §4.2.3: the eighty round constants K_0 .. K_79.
K = tuple(_frac_root_bits(p, 3) for p in _primes(ROUNDS))
#: §5.3.5: the initial hash value H(0) = (a, b, c, d, e, f, g, h).
IV = tuple(_frac_root_bits(p, 2) for p in _primes(8))


def rotr(x, n):
    return ((x >> n) | (x << (64 - n))) & MASK64


# §4.1.3 functions
def ch(x, y, z):
    return (x & y) ^ (~x & z & MASK64)


def maj(x, y, z):
    return (x & y) ^ (x & z) ^ (y & z)


def big_sigma0(x):
    return rotr(x, 28) ^ rotr(x, 34) ^ rotr(x, 39)


def big_sigma1(x):
    return rotr(x, 14) ^ rotr(x, 18) ^ rotr(x, 41)


def small_sigma0(x):
    return rotr(x, 1) ^ rotr(x, 8) ^ (x >> 7)


def small_sigma1(x):
    return rotr(x, 19) ^ rotr(x, 61) ^ (x >> 6)


def pad(msg):
    """§5.1.2: ``msg ‖ 1 ‖ 0^k ‖ len`` with a 128-bit big-endian bit length; a multiple of 128 B."""
    msg = bytes(msg)
    zeros = (BLOCK_BYTES - 17 - len(msg)) % BLOCK_BYTES
    return msg + b"\x80" + b"\0" * zeros + (8 * len(msg)).to_bytes(16, "big")


def block_words(block):
    """§5.2.2: the sixteen big-endian 64-bit words ``M_0 .. M_15`` of one 128-byte block."""
    if len(block) != BLOCK_BYTES:
        raise ValueError(f"A SHA-512 block must be {BLOCK_BYTES} bytes, not {len(block)}")
    return [int.from_bytes(block[8 * j:8 * j + 8], "big") for j in range(16)]


def blocks(msg):
    """The padded message as a list of blocks, each a list of sixteen words."""
    padded = pad(msg)
    return [block_words(padded[i:i + BLOCK_BYTES]) for i in range(0, len(padded), BLOCK_BYTES)]


def schedule_step(w):
    """§6.4.2 step 1 for ``t >= 16``: ``W_t`` from the window ``w = [W_{t-16}, ..., W_{t-1}]``."""
    # W_t = sigma1(W_{t-2}) + W_{t-7} + sigma0(W_{t-15}) + W_{t-16}
    return (small_sigma1(w[14]) + w[9] + small_sigma0(w[1]) + w[0]) & MASK64


def message_schedule(M):
    """``W_0 .. W_79`` of one block (sixteen words)."""
    W = list(M)
    for t in range(16, ROUNDS):
        W.append(schedule_step(W[t - 16:t]))
    return W


def sha512_round(state, k, w):
    """§6.4.2 step 3, one round: ``state = (a, ..., h)``, round constant ``k``, word ``w``."""
    a, b, c, d, e, f, g, h = state
    t1 = (h + big_sigma1(e) + ch(e, f, g) + k + w) & MASK64
    t2 = (big_sigma0(a) + maj(a, b, c)) & MASK64
    return ((t1 + t2) & MASK64, a, b, c, (d + t1) & MASK64, e, f, g)


def compress_trace(H, M):
    """Working variables after every round of one block.

    Returns a list of 81 states: ``trace[0]`` is ``H`` (§6.4.2 step 2), ``trace[t]`` the
    state after round ``t - 1``. The new hash value is ``H + trace[80]`` word by word.
    """
    W = message_schedule(M)
    trace = [tuple(H)]
    for t in range(ROUNDS):
        trace.append(sha512_round(trace[-1], K[t], W[t]))
    return trace


def compress(H, M):
    """§6.4.2 step 4: the next hash value after block ``M``."""
    last = compress_trace(H, M)[-1]
    return tuple((x + y) & MASK64 for x, y in zip(H, last))


def sha512_trace(msg):
    """Per block: ``(words, round trace, hash value after the block)``."""
    H = IV
    out = []
    for M in blocks(msg):
        trace = compress_trace(H, M)
        H = tuple((x + y) & MASK64 for x, y in zip(H, trace[-1]))
        out.append((M, trace, H))
    return out


def digest_bytes(H):
    """The 64-byte digest of a final hash value (words big-endian)."""
    return b"".join(x.to_bytes(8, "big") for x in H)


def sha512(msg):
    """SHA-512 of ``msg`` (64 bytes)."""
    H = IV
    for M in blocks(msg):
        H = compress(H, M)
    return digest_bytes(H)
