"""Vote sources (golden vs the independent software vendor) and fault injection through the
cluster shell."""

import random

import pytest

import golden.proof as gp
from consensus.cluster import Core, run_request
from consensus.collector import Collector, ml_dsa_44_signer
from consensus.simulation import make_cluster
from consensus.sources import (FAULTS, GoldenSource, SoftwareSource, make_sources,
                               software_attestation, software_digest)
from consensus.votes import verify_certificate
from golden.proof import Status

D = bytes(range(24))


@pytest.fixture(scope="module")
def material():
    """One key pair per vendor (core key, minter key) and one valid proof each."""
    keys = {}
    for vendor in gp.VENDORS:
        public, secret = gp.reference(vendor).keygen()
        keys[vendor] = (public, secret) if vendor == "riscv" else (secret, public)
    proofs = {v: gp.mint(v, keys[v][1], D) for v in keys}
    return keys, proofs


def corrupted_keys(vendor, key):
    """Corrupted (not only truncated) variants of a core key, by class; a class may still be
    a key the core accepts (its proofs then fail): every source must say the same."""
    from golden import mceliece, mlkem, sntrup

    def flip(pos, mask=0x01):
        k = bytearray(key)
        k[pos] ^= mask
        return bytes(k)

    out = {"short": key[:-8], "long": key + bytes(8)}
    if vendor == "intel":
        ek_at = mlkem.DK_PKE_LEN
        out.update(dk_pke=flip(0), ek=flip(ek_at + 5), h_ek=flip(ek_at + mlkem.EK_LEN),
                   z=flip(len(key) - 1))
    elif vendor == "amd":
        f = sntrup.small_decode(key[sntrup.SK_F:sntrup.SK_V])
        zero = f.index(0)                               # a zero coefficient of f: field 1
        out.update(f_field_3=flip(sntrup.SK_F, 0x03 & ~key[sntrup.SK_F]),   # field 0 ← 3
                   f_weight=flip(sntrup.SK_F + zero // 4, 0x03 << 2 * (zero % 4)),  # 0 → +1
                   f_unused_bits=flip(sntrup.SK_V - 1, 0x80),
                   v_field_3=flip(sntrup.SK_V, 0x03 & ~key[sntrup.SK_V]),
                   cache=flip(sntrup.SK_CACHE), pk=flip(sntrup.SK_PK), rho=flip(sntrup.SK_RHO))
    elif vendor == "arm":
        out.update(pivots=flip(mceliece.SK_C), g_high_bits=flip(mceliece.SK_G + 1, 0x10),
                   controlbits=flip(mceliece.SK_ALPHA + 3), delta=flip(mceliece.SK_DELTA),
                   s=flip(mceliece.SK_S))
    else:
        out.update(pk_seed=flip(0), pk_root=flip(len(key) - 1))
    return out


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


# Classes the core contract refuses (bad_key); every other class is a key the core accepts.
BAD_KEY_CLASSES = {"intel": {"short", "long", "ek", "h_ek"},
                   "amd": {"short", "long", "f_field_3", "f_weight", "f_unused_bits",
                           "v_field_3", "cache", "pk"},
                   "arm": {"short", "long", "pivots", "g_high_bits"},
                   "riscv": {"short", "long"}}


@pytest.mark.parametrize("vendor", ["intel", "amd", "arm", "riscv"])
def test_sources_agree_on_corrupted_keys(material, vendor):
    """Golden and software give the same response (status, vote, attestation) for every
    corrupted-key class of every vendor."""
    keys, proofs = material
    k_att = bytes(range(32))
    for name, key in corrupted_keys(vendor, keys[vendor][0]).items():
        rs = SoftwareSource().validate(vendor, key, k_att, D, 1, proofs[vendor])
        rg = GoldenSource().validate(vendor, key, k_att, D, 1, proofs[vendor])
        assert rs == rg, (vendor, name)
        want = Status.BAD_KEY if name in BAD_KEY_CLASSES[vendor] else Status.OK
        if vendor == "arm" and name == "controlbits":
            want = rg.status            # a permuted support: almost always still a valid key
        assert rs.status == want, (vendor, name, rs.status)
        assert not rs.vote or name in ("z", "delta", "s", "rho", "controlbits"), (vendor, name)


def test_a_length_only_key_check_is_caught(material, monkeypatch):
    """Negative control: a software source that checks only the key length (as it once did)
    disagrees with golden on a corrupted amd sk, and the comparison above would see it."""
    import consensus.sources
    keys, proofs = material
    monkeypatch.setattr(consensus.sources, "check_key", lambda v, k: len(k) == gp.KEY_LEN[v])
    key = corrupted_keys("amd", keys["amd"][0])["f_weight"]
    rs = SoftwareSource().validate("amd", key, bytes(32), D, 1, proofs["amd"])
    rg = GoldenSource().validate("amd", key, bytes(32), D, 1, proofs["amd"])
    assert rg.status == Status.BAD_KEY and rs.status == Status.OK and rs != rg


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
        assert verify_certificate(d.certificate, vs, attest=gp.attestation,
                                  allow_unsigned=True)
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


def test_replay_of_nonce_zero_stays_a_uint64(material):
    """A replayed response to request 0 is the core's answer under nonce 2^64 − 1."""
    vs, cores, proofs = _cluster(material)
    out = run_request(vs, cores, nonce=0, descriptor=D, proofs=proofs,
                      faults={"intel": "replay"}, attest=software_attestation)
    assert out.decision.outcome == "accepted"
    [(vote, counted, reason, _)] = [r for r in out.received if r[0].validator == "intel"]
    assert vote.nonce == (1 << 64) - 1 and not counted and reason == "unknown_request"
    with pytest.raises(ValueError, match="64-bit"):
        run_request(vs, cores, nonce=1 << 64, descriptor=D, proofs=proofs)


def test_core_repr_leaves_out_the_secret_key(material):
    keys, _ = material
    core = Core(keys["intel"][0], SoftwareSource())
    shown = repr(core)
    assert keys["intel"][0].hex()[:32] not in shown and str(keys["intel"][0][:16]) not in shown
