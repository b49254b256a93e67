"""Keccak-f[1600] and the SHA-3 family, written from FIPS 202 and SP 800-185.

The state is a list of 25 lanes of 64 bits, lane ``(x, y)`` at index ``x + 5*y``
(FIPS 202 §3.1.2 with ``w = 64``). Bytes enter and leave lanes little-endian
(FIPS 202 §B.1), the same order as the hardware's 64-bit words.

The model is structured like the hardware: :func:`keccak_round` is one clock of the
one-round-per-cycle permutation and :func:`keccak_f1600_trace` gives the state after
every round, so a bench can compare the RTL state on every cycle.
"""

MASK64 = (1 << 64) - 1


def _rc_bit(t):
    """FIPS 202 Algorithm 5: rc(t), the output of an LFSR with x^8+x^6+x^5+x^4+1."""
    if t % 255 == 0:
        return 1
    r = [1, 0, 0, 0, 0, 0, 0, 0]
    for _ in range(t % 255):
        r = [0] + r
        r[0] ^= r[8]
        r[4] ^= r[8]
        r[5] ^= r[8]
        r[6] ^= r[8]
        r = r[:8]
    return r[0]


def _round_constant(ir):
    """FIPS 202 Algorithm 6 (iota): RC[2^j - 1] = rc(j + 7*ir) for j = 0..6."""
    rc = 0
    for j in range(7):
        rc |= _rc_bit(j + 7 * ir) << ((1 << j) - 1)
    return rc


def _rho_offsets():
    """FIPS 202 Algorithm 2 (rho): offsets (t+1)(t+2)/2 mod 64 along (x, y) -> (y, 2x+3y)."""
    offsets = [0] * 25
    x, y = 1, 0
    for t in range(24):
        offsets[x + 5 * y] = ((t + 1) * (t + 2) // 2) % 64
        x, y = y, (2 * x + 3 * y) % 5
    return tuple(offsets)


ROUND_CONSTANTS = tuple(_round_constant(ir) for ir in range(24))
RHO_OFFSETS = _rho_offsets()
# pi: A'[x, y] = A[(x + 3y) mod 5, x]; PI_SOURCE[x + 5y] is the source lane index.
PI_SOURCE = tuple((x + 3 * y) % 5 + 5 * x for y in range(5) for x in range(5))


def rotl64(v, n):
    n %= 64
    return ((v << n) | (v >> (64 - n))) & MASK64 if n else v


def theta(A):
    # C[x] = A[x,0] ^ ... ^ A[x,4];  D[x] = C[x-1] ^ rot(C[x+1], 1)
    C = [A[x] ^ A[x + 5] ^ A[x + 10] ^ A[x + 15] ^ A[x + 20] for x in range(5)]
    D = [C[(x - 1) % 5] ^ rotl64(C[(x + 1) % 5], 1) for x in range(5)]
    return [A[i] ^ D[i % 5] for i in range(25)]


def rho(A):
    return [rotl64(A[i], RHO_OFFSETS[i]) for i in range(25)]


def pi(A):
    return [A[PI_SOURCE[i]] for i in range(25)]


def chi(A):
    # A'[x,y] = A[x,y] ^ (~A[x+1,y] & A[x+2,y])
    return [A[i] ^ ((~A[(i % 5 + 1) % 5 + 5 * (i // 5)]) & A[(i % 5 + 2) % 5 + 5 * (i // 5)])
            for i in range(25)]


def iota(A, ir):
    return [A[0] ^ ROUND_CONSTANTS[ir]] + list(A[1:])


def keccak_round(A, ir):
    """One round Rnd(A, ir) = iota(chi(pi(rho(theta(A)))), ir)."""
    return iota(chi(pi(rho(theta(A)))), ir)


def _unrolled_round_source():
    """Python source of one round with every lane in a local variable.

    It is generated from the same tables (RHO_OFFSETS, PI_SOURCE) as :func:`keccak_round`,
    only unrolled, so the golden models that hash a lot (SLH-DSA, McEliece) run fast;
    ``test_golden_keccak`` checks that both give the same permutation.
    """
    lines = ["def _rounds(A, rcs):",
             "    (" + ", ".join(f"a{i}" for i in range(25)) + ",) = A",
             "    for rc in rcs:"]
    body = []
    for x in range(5):
        body.append(f"c{x} = a{x} ^ a{x + 5} ^ a{x + 10} ^ a{x + 15} ^ a{x + 20}")
    for x in range(5):
        cm, cp = (x - 1) % 5, (x + 1) % 5
        body.append(f"d{x} = c{cm} ^ (((c{cp} << 1) | (c{cp} >> 63)) & M)")
    # b[i] = rot(a[src] ^ d[src % 5], rho[src]) with src = PI_SOURCE[i]
    for i in range(25):
        src, r = PI_SOURCE[i], RHO_OFFSETS[PI_SOURCE[i]]
        t = f"(a{src} ^ d{src % 5})"
        body.append(f"b{i} = ((({t} << {r}) | ({t} >> {64 - r})) & M)" if r else f"b{i} = {t}")
    for i in range(25):
        x, y = i % 5, i // 5
        n1, n2 = (x + 1) % 5 + 5 * y, (x + 2) % 5 + 5 * y
        body.append(f"a{i} = b{i} ^ ((b{n1} ^ M) & b{n2})")
    body.append("a0 ^= rc")
    lines += ["        " + b for b in body]
    lines.append("    return [" + ", ".join(f"a{i}" for i in range(25)) + "]")
    return "\n".join(lines)


_namespace = {"M": MASK64}
exec(compile(_unrolled_round_source(), "<golden.keccak unrolled rounds>", "exec"), _namespace)
_rounds = _namespace["_rounds"]


def keccak_f1600(A, rounds=24):
    """Keccak-p[1600, rounds] (the last ``rounds`` of the 24 round indices)."""
    return _rounds(A, ROUND_CONSTANTS[24 - rounds:])


def keccak_f1600_trace(A):
    """The state before round 0 and after each of the 24 rounds (25 states)."""
    trace = [list(A)]
    for ir in range(24):
        trace.append(keccak_round(trace[-1], ir))
    return trace


def state_from_bytes(b):
    b = bytes(b).ljust(200, b"\0")
    return [int.from_bytes(b[8 * i:8 * i + 8], "little") for i in range(25)]


def state_to_bytes(A):
    return b"".join(lane.to_bytes(8, "little") for lane in A)


def words_le(data, nbytes=8):
    """Split a byte string into little-endian integers of ``nbytes`` (the final one
    zero-padded): Keccak lanes for ``nbytes = 8``, the order of every 64-bit word pqvote
    streams or stores."""
    data = bytes(data)
    data += b"\0" * (-len(data) % nbytes)
    return [int.from_bytes(data[i:i + nbytes], "little") for i in range(0, len(data), nbytes)]


def sponge(rate, suffix, message, outlen):
    """KECCAK[c] sponge with pad10*1; ``suffix`` holds the domain bits and the first pad bit
    (0x06 SHA-3, 0x1F SHAKE, 0x04 cSHAKE), as in FIPS 202 §B.2."""
    padded = bytearray(message)
    padded.append(suffix)
    padded.extend(b"\0" * (-len(padded) % rate))
    padded[-1] |= 0x80
    A = [0] * 25
    for off in range(0, len(padded), rate):
        block = state_from_bytes(padded[off:off + rate])
        A = keccak_f1600([a ^ b for a, b in zip(A, block)])
    out = bytearray()
    while True:
        out += state_to_bytes(A)[:rate]
        if len(out) >= outlen:
            return bytes(out[:outlen])
        A = keccak_f1600(A)


#: Rate in bytes per function: r = 1600 - 2d bits (FIPS 202 §6; cSHAKE256: SP 800-185 §3).
RATE = {"sha3_256": 136, "sha3_512": 72, "shake128": 168, "shake256": 136, "cshake256": 136}
#: Domain-separation bits plus the first pad bit, as one byte (FIPS 202 §B.2, SP 800-185 §3.3).
DOMAIN = {"sha3_256": 0x06, "sha3_512": 0x06, "shake128": 0x1F, "shake256": 0x1F,
          "cshake256": 0x04}


def sha3_256(m):
    return sponge(RATE["sha3_256"], DOMAIN["sha3_256"], m, 32)


def sha3_512(m):
    return sponge(RATE["sha3_512"], DOMAIN["sha3_512"], m, 64)


def shake128(m, outlen):
    return sponge(RATE["shake128"], DOMAIN["shake128"], m, outlen)


def shake256(m, outlen):
    return sponge(RATE["shake256"], DOMAIN["shake256"], m, outlen)


def left_encode(x):
    """SP 800-185 §2.3.1: the byte length n of x, then x big-endian."""
    body = x.to_bytes(max(1, (x.bit_length() + 7) // 8), "big")
    return bytes([len(body)]) + body


def right_encode(x):
    """SP 800-185 §2.3.1: x big-endian, then its byte length."""
    body = x.to_bytes(max(1, (x.bit_length() + 7) // 8), "big")
    return body + bytes([len(body)])


def encode_string(s):
    return left_encode(8 * len(s)) + bytes(s)


def bytepad(x, w):
    z = left_encode(w) + bytes(x)
    return z + b"\0" * (-len(z) % w)


def cshake256(m, outlen, N=b"", S=b""):
    """SP 800-185 §3.3; with empty N and S it is SHAKE256."""
    if not N and not S:
        return shake256(m, outlen)
    rate = RATE["cshake256"]
    return sponge(rate, DOMAIN["cshake256"], bytepad(encode_string(N) + encode_string(S), rate)
                  + bytes(m), outlen)


def kmac256(key, m, outlen=32, S=b""):
    """SP 800-185 §4.3: KMAC256(K, X, L, S) with L = 8*outlen."""
    newX = kmac256_key_block(key) + bytes(m) + right_encode(8 * outlen)
    return cshake256(newX, outlen, N=b"KMAC", S=S)


def kmac256_prefix_block(S):
    """The first absorbed block of KMAC256 with customisation S (a constant for the RTL)."""
    return bytepad(encode_string(b"KMAC") + encode_string(S), RATE["cshake256"])


def kmac256_key_block(key):
    """The second absorbed block of KMAC256: bytepad(encode_string(K), 136)."""
    return bytepad(encode_string(key), RATE["cshake256"])
