"""The node's request parser (``network.protocol.parse_request``): strict hex without a
per-character loop (a riscv proof is 16,384 digits)."""

import json

import pytest

from network.protocol import RequestError, parse_request

D = bytes(range(24))


def _body(**fields):
    obj = {"nonce": 7, "descriptor": D.hex(), "proof": "00ff" * 4}
    obj.update(fields)
    return json.dumps(obj).encode()


def test_accepts_hex_of_either_case():
    assert parse_request(_body(proof="aBcD" + "00" * 8190)) == (
        7, D, b"\xab\xcd" + bytes(8190))


@pytest.mark.parametrize("proof", ["0", "zz", "0 0", "00\n", " 00", "00\t11", "é0",
                                   "\uff10\uff11", "0x00", "00\x00"])
def test_refuses_anything_but_pairs_of_hex_digits(proof):
    with pytest.raises(RequestError, match=r"^proof: not valid hex"):
        parse_request(_body(proof=proof))


def test_descriptor_size_and_type():
    with pytest.raises(RequestError, match="descriptor: expected 24 bytes, got 23"):
        parse_request(_body(descriptor=D[:23].hex()))
    with pytest.raises(RequestError, match="proof: expected a hex string"):
        parse_request(_body(proof=12))


def test_request_body_is_the_json_of_the_request():
    from network.protocol import request_body
    proof = bytes(range(256)) * 32
    body = request_body(2**64 - 1, D, proof)
    assert body == json.dumps({"nonce": 2**64 - 1, "descriptor": D.hex(),
                               "proof": proof.hex()}).encode()
    assert parse_request(body) == (2**64 - 1, D, proof)
