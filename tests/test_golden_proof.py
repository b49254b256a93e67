"""golden.proof: tag, digest, attestation and the JSON Lines request model (SPEC §3)."""

import json

import pytest
from Crypto.Hash import KMAC256, SHA3_256

from golden import proof as gp


def test_sizes_follow_the_spec():
    assert gp.BODY_LEN == {"intel": 800, "amd": 929, "arm": 128, "riscv": 7856}
    assert all(gp.BODY_LEN[v] <= gp.proof_len(v) for v in gp.VENDORS)
    assert gp.proof_len("riscv") == 8192


def test_tag_digest_attestation_match_pycryptodome():
    K, D, k_att = bytes(range(32)), bytes(range(24)), bytes(range(100, 132))
    assert gp.proof_tag(K, D) == KMAC256.new(key=K, data=D, mac_len=32, custom=b"pqvote/proof").digest()
    proof = bytes(range(256)) * 4
    pd = gp.proof_digest(proof)
    assert pd == SHA3_256.new(proof).digest()
    msg = bytes([3]) + (2**64 - 2).to_bytes(8, "little") + D + b"\x01" + pd
    assert gp.attestation(k_att, "riscv", 2**64 - 2, D, True, pd) == \
        KMAC256.new(key=k_att, data=msg, mac_len=32, custom=b"pqvote/vote").digest()


def test_received_bytes_are_whole_beats():
    assert gp.received_bytes(b"") == bytes(8)
    assert gp.received_bytes(b"\x01" * 9) == b"\x01" * 9 + bytes(7)


def test_no_key_and_bad_length():
    D = bytes(24)
    r = gp.validate("riscv", None, None, D, 1, bytes(8192))
    assert (r.vote, r.status, r.attestation) == (False, gp.Status.NO_KEY, bytes(32))
    r = gp.validate("riscv", bytes(32), bytes(32), D, 1, bytes(1024))
    assert (r.vote, r.status) == (False, gp.Status.BAD_LENGTH)
    assert r.attestation == gp.attestation(bytes(32), "riscv", 1, D, False, gp.proof_digest(bytes(1024)))


@pytest.mark.parametrize("line, message", [
    ("{", "bad JSON"),
    ("[]", "expected a JSON object"),
    ('{"vendor": "zilog"}', "unknown vendor"),
    ('{"vendor": "riscv", "key": "zz", "attestation_key": "00", "descriptor": "", "nonce": 1, "proof": ""}',
     "key: not valid hex"),
    ('{"vendor": "riscv", "key": "00", "attestation_key": "00", "descriptor": "", "nonce": 1, "proof": ""}',
     "key: expected 32 bytes"),
    (json.dumps({"vendor": "riscv", "key": "00" * 32, "attestation_key": "00" * 32,
                 "descriptor": "00" * 23, "nonce": 1, "proof": ""}), "descriptor: expected 24 bytes"),
    (json.dumps({"vendor": "riscv", "key": "00" * 32, "attestation_key": "00" * 32,
                 "descriptor": "00" * 24, "nonce": -1, "proof": ""}), "nonce"),
    (json.dumps({"vendor": "riscv", "key": "00" * 32, "descriptor": "00" * 24, "nonce": 1,
                 "proof": ""}), "given together"),
])
def test_malformed_requests_name_the_problem(line, message):
    with pytest.raises(gp.RequestError, match=message):
        gp.parse_request(line)
