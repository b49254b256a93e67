"""Vote sources (golden vs the independent software vendor) and fault injection through the
cluster shell."""

import random

import pytest

import golden.proof as gp
from consensus.cluster import Core, run_request
from consensus.collector import Collector, ml_dsa_44_signer
from consensus.simulation import make_cluster
from consensus.sources import (FAULTS, FRAMES, GoldenSource, SoftwareSource, Status,
                               make_sources, software_attestation, software_digest,
                               software_mint)
from consensus.votes import verify_certificate

D = bytes(range(24))


@pytest.fixture(scope="module")
def material():
    """One key pair per vendor (core key, minter key) and one valid proof each."""
    from pqcrypto.kem import mceliece_348864, ml_kem_512, sntrup_653
    from pqcrypto.sign import slh_dsa_shake_128s
    keys = {}
    for vendor, mod in (("intel", ml_kem_512), ("amd", sntrup_653), ("arm", mceliece_348864)):
        ek, dk = mod.keygen()
        keys[vendor] = (dk, ek)
    pk, sk = slh_dsa_shake_128s.keygen()
    keys["riscv"] = (pk, sk)
    proofs = {v: software_mint(v, keys[v][1], D) for v in keys}
    return keys, proofs


def _variants(vendor, proof, rng):
    """Valid and invalid proofs of one vendor."""
    body = {"intel": 800, "amd": 929, "arm": 128, "riscv": 7856}[vendor]
    out = {"valid": proof}
    for name, pos in (("object", 0), ("object_end", body - 33), ("tag", body - 1)):
        p = bytearray(proof)
        p[pos] ^= 0x01
        out[name] = bytes(p)
    p = bytearray(proof)
    p[-1] = 1
    out["padding"] = bytes(p)
    out["short"] = proof[:-8]
    out["long"] = proof + bytes(8)
    out["odd_length"] = proof[:-3]
    out["empty"] = b""
    out["random"] = rng.randbytes(len(proof))
    return out


@pytest.mark.parametrize("vendor", ["intel", "amd", "arm", "riscv"])
def test_software_vendor_agrees_with_golden(material, vendor):
    keys, proofs = material
    rng = random.Random(vendor)
    key = keys[vendor][0]
    k_att = rng.randbytes(32)
    g, s = GoldenSource(), SoftwareSource()
    cases = 0
    for name, proof in _variants(vendor, proofs[vendor], rng).items():
        for descriptor in (D, bytes(24)):
            if vendor == "riscv" and descriptor != D and name != "valid":
                continue        # golden SLH-DSA verification takes ~2 s: fewer cases
            if vendor == "riscv" and name in ("object_end", "tag", "padding", "random"):
                continue
            rs = s.validate(vendor, key, k_att, descriptor, 7, proof)
            rg = g.validate(vendor, key, k_att, descriptor, 7, proof)
            assert rs == rg, (vendor, name)
            assert rs.vote == (name == "valid" and descriptor == D), (vendor, name)
            if name in ("short", "long", "odd_length", "empty"):
                assert rs.status == Status.BAD_LENGTH
            cases += 1
    # no key / bad key
    for key_, katt_ in ((None, None), (key, None)):
        rs = s.validate(vendor, key_, katt_, D, 7, proofs[vendor])
        assert rs == g.validate(vendor, key_, katt_, D, 7, proofs[vendor])
        assert rs.status == Status.NO_KEY and rs.attestation == bytes(32)
    bad = key[:-1]
    rs = s.validate(vendor, bad, k_att, D, 7, proofs[vendor])
    assert rs.status == Status.BAD_KEY and not rs.vote
    assert rs == g.validate(vendor, bad, k_att, D, 7, proofs[vendor])
    assert cases == (7 if vendor == "riscv" else 20)


def test_software_mlkem_key_check(material):
    keys, proofs = material
    dk = bytearray(keys["intel"][0])
    dk[768 + 800] ^= 1                  # H(ek) no longer matches ek
    k_att = bytes(32)
    rs = SoftwareSource().validate("intel", bytes(dk), k_att, D, 1, proofs["intel"])
    rg = GoldenSource().validate("intel", bytes(dk), k_att, D, 1, proofs["intel"])
    assert rs == rg and rs.status == Status.BAD_KEY


def test_software_primitives_match_golden():
    rng = random.Random(1)
    for _ in range(20):
        k, d, pd = rng.randbytes(32), rng.randbytes(24), rng.randbytes(32)
        vendor, nonce, vote = rng.choice(list(gp.VENDORS)), rng.getrandbits(64), rng.random() < .5
        assert software_attestation(k, vendor, nonce, d, vote, pd) == \
            gp.attestation(k, vendor, nonce, d, vote, pd)
    for n in (0, 1, 7, 8, 9, 1024, 8192):
        m = rng.randbytes(n)
        assert software_digest(m) == gp.proof_digest(m)
    assert FRAMES == gp.FRAMES and {int(s) for s in Status} == {int(s) for s in gp.Status}


def test_make_sources():
    s = make_sources("software,arm=golden")
    assert [type(s[v]).__name__ for v in ("intel", "amd", "arm", "riscv")] == \
        ["SoftwareSource", "SoftwareSource", "GoldenSource", "SoftwareSource"]
    assert all(type(x).__name__ == "GoldenSource" for x in make_sources(None).values())
    with pytest.raises(ValueError, match="unknown backend"):
        make_sources("fpga")
    with pytest.raises(ValueError, match="unknown vendor"):
        make_sources("sparc=golden")


# -- the cluster shell with fault injection ----------------------------------------------------

def _cluster(material, backend="software"):
    keys, proofs = material
    vs = make_cluster(4, seed=11)
    sources = make_sources(backend)
    cores = {v.name: Core(keys[v.vendor][0], sources[v.vendor]) for v in vs.validators}
    return vs, cores, proofs


@pytest.mark.parametrize("kind", FAULTS)
def test_one_fault_of_each_kind_is_tolerated(material, kind):
    vs, cores, proofs = _cluster(material)
    for victim in ("intel", "riscv"):
        out = run_request(vs, cores, nonce=5, descriptor=D, proofs=proofs,
                          faults={victim: kind}, attest=software_attestation)
        d = out.decision
        assert d.outcome == "accepted", (kind, victim)
        assert verify_certificate(d.certificate, vs, attest=gp.attestation)
        signers = {v.validator for v in d.certificate.votes}
        if kind in ("byzantine", "corrupt", "silent", "late", "replay"):
            assert victim not in signers
        refused = {r for v, counted, r, _ in out.received if v.validator == victim and r}
        expected = {"byzantine": set(), "corrupt": {"invalid_attestation"}, "silent": set(),
                    "late": {"closed"}, "replay": {"unknown_request"},
                    "equivocate": {"equivocation"}}[kind]
        if kind == "byzantine":
            # its (valid) opposite vote is counted as a no or arrives after the decision
            assert all(not v.vote for v, *_ in out.received if v.validator == victim)
        else:
            if kind == "equivocate":    # its first vote may come after the decision
                assert refused - {"closed", "withdrawn"} == expected, (kind, victim, refused)
            else:
                assert refused == expected, (kind, victim, refused)
        if kind == "equivocate":
            assert [e.validator for e in out.evidence] == [victim]


def test_two_faults_block_acceptance(material):
    vs, cores, proofs = _cluster(material)
    out = run_request(vs, cores, nonce=6, descriptor=D, proofs=proofs,
                      faults={"intel": "silent", "amd": "corrupt"},
                      attest=software_attestation)
    assert out.decision.outcome == "no_quorum"
    out = run_request(vs, cores, nonce=7, descriptor=D, proofs=proofs,
                      faults={"intel": "byzantine", "amd": "byzantine"},
                      attest=software_attestation)
    assert out.decision.outcome == "rejected"
    assert out.decision.certificate.reason == "unreachable"


def test_invalid_proof_is_rejected_by_every_vendor(material):
    vs, cores, proofs = _cluster(material)
    bad = {v: p[:5] + bytes([p[5] ^ 1]) + p[6:] for v, p in proofs.items()}
    out = run_request(vs, cores, nonce=8, descriptor=D, proofs=bad, attest=software_attestation)
    assert out.decision.outcome == "rejected"
    # the descriptor binds the proofs too
    out = run_request(vs, cores, nonce=9, descriptor=bytes(24), proofs=proofs,
                      attest=software_attestation)
    assert out.decision.outcome == "rejected"


@pytest.mark.parametrize("backend", ["golden", "software,arm=golden,intel=golden"])
def test_cluster_golden_and_mixed(material, backend):
    from pqcrypto.sign import ml_dsa_44
    pk, sk = ml_dsa_44.keygen()
    vs, cores, proofs = _cluster(material, backend)
    col = Collector(vs, attest=gp.attestation, sign=ml_dsa_44_signer(sk))
    out = run_request(vs, cores, nonce=10, descriptor=D, proofs=proofs, collector=col,
                      faults={"arm": "equivocate"})
    assert out.decision.outcome == "accepted"
    assert verify_certificate(out.decision.certificate, vs, collector_pk=pk)
    assert out.responses["riscv"]["status"] == "ok"


def test_unknown_fault_refused(material):
    vs, cores, proofs = _cluster(material)
    with pytest.raises(ValueError, match="unknown fault"):
        run_request(vs, cores, nonce=1, descriptor=D, proofs=proofs, faults={"intel": "nap"})
    with pytest.raises(ValueError, match="unknown validator"):
        run_request(vs, cores, nonce=1, descriptor=D, proofs=proofs, faults={"x": "silent"})
