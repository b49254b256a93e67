"""Mutual TLS between the collector and the validator nodes.

``pqvote keygen`` makes a private certificate authority for the cluster and issues one
certificate per node and one for the collector (:func:`provision`). A node's certificate
names its validator (``DNS:<name>``) and is good for server authentication only; the
collector's is good for client authentication only. So:

* the collector checks that the node at an address holds the certificate of the validator
  it expects there (the TLS server name is the validator's name, whatever the address);
* a node answers only a client holding a collector certificate of the same cluster (a node
  certificate cannot be used to ask another node);
* nothing else on the network can read, change or inject requests or votes.

Key exchange: TLS 1.3 only. OpenSSL 3.5 and later offers the hybrid post-quantum group
``X25519MLKEM768`` first by default; :func:`key_exchange` says which applies to the linked
OpenSSL (docs/deployment.md, "Transport security").
"""

import dataclasses
import datetime
import ipaddress
import ssl
from pathlib import Path

__all__ = ["TlsFiles", "provision", "issue", "make_ca", "server_context", "client_context",
           "key_exchange", "HYBRID_GROUP", "peer_name", "parse_host"]

#: The hybrid post-quantum key exchange of TLS 1.3 (ML-KEM-768 with X25519).
HYBRID_GROUP = "X25519MLKEM768"
#: A leaf certificate is valid this long (rotation: docs/deployment.md).
LEAF_DAYS = 365
CA_DAYS = 3650


@dataclasses.dataclass(frozen=True)
class TlsFiles:
    """The TLS files of one party: the cluster CA certificate, its own certificate and key."""
    ca: Path
    cert: Path
    key: Path

    @classmethod
    def of(cls, root, name) -> "TlsFiles":
        """The files ``pqvote keygen`` writes for ``name`` under ``root/tls``."""
        tls = Path(root) / "tls"
        return cls(tls / "ca.pem", tls / f"{name}.pem", tls / f"{name}.key")

    def missing(self) -> list:
        return [str(p) for p in (self.ca, self.cert, self.key) if not p.is_file()]


def _x509():
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID
    return x509, hashes, serialization, ec, ExtendedKeyUsageOID, NameOID


def _pem_key(key) -> bytes:
    _, _, serialization, _, _, _ = _x509()
    return key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                             serialization.NoEncryption())


def make_ca(name="pqvote cluster CA"):
    """A new CA: ``(key_pem, cert_pem)`` (ECDSA P-256, self-signed, path length 0)."""
    x509, hashes, serialization, ec, _, NameOID = _x509()
    key = ec.generate_private_key(ec.SECP256R1())
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)])
    now = datetime.datetime.now(datetime.timezone.utc)
    cert = (x509.CertificateBuilder().subject_name(subject).issuer_name(subject)
            .public_key(key.public_key()).serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(minutes=5))
            .not_valid_after(now + datetime.timedelta(days=CA_DAYS))
            .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
            .add_extension(x509.KeyUsage(digital_signature=False, content_commitment=False,
                                         key_encipherment=False, data_encipherment=False,
                                         key_agreement=False, key_cert_sign=True,
                                         crl_sign=True, encipher_only=False,
                                         decipher_only=False), critical=True)
            .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()),
                           critical=False)
            .sign(key, hashes.SHA256()))
    return _pem_key(key), cert.public_bytes(serialization.Encoding.PEM)


def issue(ca_key_pem: bytes, ca_cert_pem: bytes, name: str, role: str, hosts=(),
          days=LEAF_DAYS):
    """A leaf certificate for ``name``: ``(key_pem, cert_pem)``.

    ``role`` is ``"node"`` (server authentication, ``DNS:<name>`` plus ``hosts``) or
    ``"collector"`` (client authentication).
    """
    x509, hashes, serialization, ec, EKU, NameOID = _x509()
    if role not in ("node", "collector"):
        raise ValueError(f"role must be 'node' or 'collector', not {role!r}")
    ca_key = serialization.load_pem_private_key(ca_key_pem, password=None)
    ca_cert = x509.load_pem_x509_certificate(ca_cert_pem)
    key = ec.generate_private_key(ec.SECP256R1())
    names = [x509.DNSName(name)]
    for h in hosts:
        try:
            names.append(x509.IPAddress(ipaddress.ip_address(h)))
        except ValueError:
            if h != name:
                names.append(x509.DNSName(h))
    now = datetime.datetime.now(datetime.timezone.utc)
    usage = EKU.SERVER_AUTH if role == "node" else EKU.CLIENT_AUTH
    cert = (x509.CertificateBuilder()
            .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name),
                                     x509.NameAttribute(NameOID.ORGANIZATIONAL_UNIT_NAME,
                                                        role)]))
            .issuer_name(ca_cert.subject).public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(minutes=5))
            .not_valid_after(now + datetime.timedelta(days=days))
            .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
            .add_extension(x509.KeyUsage(digital_signature=True, content_commitment=False,
                                         key_encipherment=False, data_encipherment=False,
                                         key_agreement=False, key_cert_sign=False,
                                         crl_sign=False, encipher_only=False,
                                         decipher_only=False), critical=True)
            .add_extension(x509.ExtendedKeyUsage([usage]), critical=True)
            .add_extension(x509.SubjectAlternativeName(names), critical=False)
            .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(
                ca_key.public_key()), critical=False)
            .sign(ca_key, hashes.SHA256()))
    return _pem_key(key), cert.public_bytes(serialization.Encoding.PEM)


def provision(nodes: dict, *, collector="collector") -> list:
    """The TLS files of a cluster, ``[(path under the cluster directory, bytes, mode)]``:
    the CA (``tls/ca.pem``, ``tls/ca.key``), one certificate per node (``nodes``: validator
    name → extra host names / addresses for its certificate) and the collector's."""
    ca_key, ca_cert = make_ca()
    files = [("tls/ca.pem", ca_cert, 0o644), ("tls/ca.key", ca_key, 0o600)]
    for name, hosts in nodes.items():
        key, cert = issue(ca_key, ca_cert, name, "node", hosts)
        files += [(f"tls/{name}.pem", cert, 0o644), (f"tls/{name}.key", key, 0o600)]
    key, cert = issue(ca_key, ca_cert, collector, "collector")
    files += [(f"tls/{collector}.pem", cert, 0o644), (f"tls/{collector}.key", key, 0o600)]
    return files


def parse_host(address: str) -> str:
    """The host part of ``"host:port"`` / ``"[v6]:port"``."""
    host = address.rpartition(":")[0]
    return host[1:-1] if host.startswith("[") and host.endswith("]") else host


def key_exchange() -> dict:
    """What the linked OpenSSL offers for the TLS 1.3 key exchange."""
    hybrid = ssl.OPENSSL_VERSION_INFO[:2] >= (3, 5)
    return {"openssl": ssl.OPENSSL_VERSION,
            "hybrid_pq": hybrid,
            "groups": f"{HYBRID_GROUP} (default first choice of OpenSSL >= 3.5)" if hybrid
            else "X25519 / ECDHE (classical: this OpenSSL has no post-quantum group)"}


def _prefer_hybrid(ctx: ssl.SSLContext):
    """Ask for the hybrid group explicitly where the ssl module can set groups (Python
    3.15's ``set_groups``) and OpenSSL has it; elsewhere OpenSSL >= 3.5 already offers it
    first, and older OpenSSL has nothing to offer."""
    setter = getattr(ctx, "set_groups", None)
    if setter is not None and ssl.OPENSSL_VERSION_INFO[:2] >= (3, 5):
        setter(f"{HYBRID_GROUP}:X25519")


def _context(purpose, files: TlsFiles) -> ssl.SSLContext:
    missing = files.missing()
    if missing:
        raise FileNotFoundError(f"missing TLS file {missing[0]} (run pqvote keygen)")
    ctx = ssl.SSLContext(purpose)
    ctx.minimum_version = ssl.TLSVersion.TLSv1_3
    ctx.verify_mode = ssl.CERT_REQUIRED
    ctx.load_verify_locations(cafile=str(files.ca))
    ctx.load_cert_chain(str(files.cert), str(files.key))
    _prefer_hybrid(ctx)
    return ctx


def server_context(files: TlsFiles) -> ssl.SSLContext:
    """A node's context: TLS 1.3, a client certificate from the cluster CA required (and,
    by OpenSSL's purpose check, one issued for client authentication: a collector's)."""
    return _context(ssl.PROTOCOL_TLS_SERVER, files)


def client_context(files: TlsFiles) -> ssl.SSLContext:
    """The collector's context: TLS 1.3, the node's certificate from the cluster CA, its
    name checked against the validator name (``server_hostname``)."""
    ctx = _context(ssl.PROTOCOL_TLS_CLIENT, files)
    ctx.check_hostname = True
    return ctx


def peer_name(transport) -> str | None:
    """The common name of the verified peer certificate on ``transport`` (or ``None``)."""
    cert = transport.get_extra_info("peercert") if transport is not None else None
    if not cert:
        return None
    for rdn in cert.get("subject", ()):
        for key, value in rdn:
            if key == "commonName":
                return value
    return None
