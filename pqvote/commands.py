"""Consensus subcommands of ``pqvote``: ``keygen``, ``mint``, ``decide``, ``verify-cert``,
``batch``, ``batch-cert``, ``epoch propose`` / ``epoch apply`` and ``proofs get``.

Exit status: 0 success (``decide``: accepted; ``verify-cert``: valid), 1 a negative answer
(``decide``: rejected or no_quorum; ``verify-cert``: invalid, a well-formed JSON document
that is not a valid certificate included; ``proofs get``: nothing stored), 2 bad input —
reported on one line, with nothing already stored touched, 3 internal error (a backend or
program failure, one line, nothing stored). JSON input files are read strictly
(``consensus.jsonin``): at most :data:`MAX_DOCUMENT` bytes of UTF-8, no duplicate keys, no
unknown fields, hex of an even number of hex digits and nothing else.

A cluster directory (``pqvote keygen --out DIR``) holds raw key files and ``cluster.json``::

    <vendor>.key          the core's algorithm key (dk / sk / sk / SLH-DSA pk)    0600
    <vendor>.katt         the core's 32-byte attestation key K_att               0600
    minter/<vendor>.ek    the minter's encapsulation keys (KEM vendors)          0600
    minter/riscv.sk       the minter's SLH-DSA signing key                       0600
    collector.sk / .pk    the collector's ML-DSA-44 key pair                     0600 / 0644
    tls/ca.pem, ca.key    the cluster's TLS certificate authority                0644 / 0600
    tls/<name>.pem, .key  each node's TLS certificate and key (server auth)     0644 / 0600
    tls/collector.pem,.key  the collector's TLS certificate and key (client auth) 0644 / 0600
    cluster.json          validators (with their node addresses), quorum rule, file names

``pqvote node`` serves one validator over the network (``network.node``); ``pqvote decide
--network`` asks the nodes at the validators' addresses (docs/deployment.md).
"""

import json
import math
import os
import sys
from pathlib import Path

from golden.proof import KEY_LEN, mint, reference
from consensus.votes import (DEFAULT_RULE, RULES, ConfigError, Certificate, Validator,
                             ValidatorSet, VENDOR_IDS, strict_hex)
from consensus.jsonin import JsonInputError, loads, read_limited

__all__ = ["register", "load_cluster", "CliError"]

CLUSTER_FORMAT = "pqvote-cluster/1"
PROOFS_FORMAT = "pqvote-proofs/1"
MINTER_LEN = {"intel": 800, "amd": 994, "arm": 261120, "riscv": 64}
MINTER_FILE = {"intel": "minter/intel.ek", "amd": "minter/amd.ek", "arm": "minter/arm.ek",
               "riscv": "minter/riscv.sk"}
COLLECTOR_SK_LEN, COLLECTOR_PK_LEN = 2560, 1312
#: Largest JSON input file (proofs, certificate or report, cluster.json), in bytes.
MAX_DOCUMENT = 16 << 20

CLUSTER_FIELDS = ("format", "rule", "validators", "minter", "collector", "database")
VALIDATOR_FIELDS = ("name", "vendor", "power", "key", "attestation_key", "address")
PROOFS_FIELDS = ("format", "descriptor", "proofs")


class CliError(Exception):
    """Bad input: printed as one line, exit status 2."""


class InternalError(Exception):
    """A backend or program failure: printed as one line, exit status 3."""


def _fail(msg):
    raise CliError(msg)


def _hex(text, what, size=None):
    try:
        return strict_hex(text, what, size)
    except ValueError as e:
        _fail(str(e))


def _unknown(obj, allowed, where):
    extra = sorted(set(obj) - set(allowed))
    if extra:
        _fail(f"{where}: unknown field {extra[0]!r}")


def _read(path: Path, what, size=None) -> bytes:
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        _fail(f"missing {what} file {path}")
    except OSError as e:
        _fail(f"cannot read {what} file {path}: {e.strerror}")
    if size is not None and len(data) != size:
        _fail(f"{what} file {path}: expected {size} bytes, got {len(data)}")
    return data


def _write_new(path: Path, data: bytes, mode: int):
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, mode)
    with os.fdopen(fd, "wb") as f:
        f.write(data)
        f.flush()
        os.fsync(f.fileno())
    os.chmod(path, mode)


# -- cluster directory ---------------------------------------------------------------------------

class Cluster:
    """A loaded, checked cluster directory."""

    def __init__(self, root: Path, *, need_secrets=True, need_minter=False,
                 need_core_keys=None):
        self.root = root
        need_core_keys = need_secrets if need_core_keys is None else need_core_keys
        self.addresses = {}
        conf_path = root / "cluster.json"
        conf = _read_json(conf_path, "cluster description")
        if not isinstance(conf, dict) or conf.get("format") != CLUSTER_FORMAT:
            _fail(f"{conf_path}: not a {CLUSTER_FORMAT} description")
        _unknown(conf, CLUSTER_FIELDS, conf_path)
        if not isinstance(conf.get("database", ""), str):
            _fail(f"{conf_path}: database must be a file name")
        self.conf = conf
        validators, self.core_keys = [], {}
        entries = conf.get("validators")
        if not isinstance(entries, list) or not entries:
            _fail(f"{conf_path}: no validators")
        for e in entries:
            if isinstance(e, dict):
                _unknown(e, VALIDATOR_FIELDS, f"{conf_path}: validator entry")
            try:
                name, vendor = e["name"], e["vendor"]
                power = e.get("power", 1)
                key_file, katt_file = str(e["key"]), str(e["attestation_key"])
            except (KeyError, TypeError, AttributeError):
                _fail(f"{conf_path}: malformed validator entry")
            if not isinstance(name, str) or not name:
                _fail(f"{conf_path}: validator name must be a non-empty string, not {name!r}")
            if not isinstance(vendor, str) or vendor not in VENDOR_IDS:
                _fail(f"{conf_path}: unknown vendor {vendor!r}")
            k_att = _read(root / katt_file, f"{name} attestation key", 32)
            if e.get("address") is not None:
                self.addresses[name] = e["address"]
            if need_core_keys:
                self.core_keys[name] = _read(root / key_file, f"{name} key", KEY_LEN[vendor])
            try:
                validators.append(Validator(name, vendor, k_att, power))
            except ConfigError as e:
                _fail(f"{conf_path}: {e}")
        collector = conf.get("collector", {})
        if not isinstance(collector, dict):
            _fail(f"{conf_path}: malformed collector entry")
        self.collector_pk = _read(root / str(collector.get("public_key", "collector.pk")),
                                  "collector public key", COLLECTOR_PK_LEN)
        self.collector_sk = None
        if need_secrets:
            self.collector_sk = _read(root / str(collector.get("secret_key", "collector.sk")),
                                      "collector secret key", COLLECTOR_SK_LEN)
        try:
            self.validators = ValidatorSet(validators, conf.get("rule", DEFAULT_RULE),
                                           collector_pk=self.collector_pk)
        except ConfigError as e:
            _fail(f"{conf_path}: {e}")
        self.minter = {}
        if need_minter:
            files = conf.get("minter", MINTER_FILE)
            if not isinstance(files, dict) or \
                    not all(isinstance(f, str) for f in files.values()):
                _fail(f"{conf_path}: malformed minter entry")
            for vendor in sorted({v.vendor for v in validators}):
                self.minter[vendor] = _read(root / files.get(vendor, MINTER_FILE[vendor]),
                                            f"{vendor} minter key", MINTER_LEN[vendor])

    def core_key(self, validator):
        """The algorithm key of ``validator``'s core: from cluster.json, or ``<name>.key``
        in the cluster directory for a validator added by a set change."""
        if validator.name in self.core_keys:
            return self.core_keys[validator.name]
        return _read(self.root / f"{validator.name}.key", f"{validator.name} key",
                     KEY_LEN[validator.vendor])

    @property
    def database(self):
        """The store: a file in the cluster directory, or a ``postgresql://`` URL."""
        from consensus.store import is_postgres_url
        db = self.conf.get("database", "pqvote.db")
        return db if is_postgres_url(db) else self.root / db


def load_cluster(path, **kw) -> Cluster:
    root = Path(path)
    if not root.is_dir():
        _fail(f"no cluster directory at {root}")
    return Cluster(root, **kw)


# -- keygen --------------------------------------------------------------------------------------

def cmd_keygen(args):
    from pqcrypto.sign import ml_dsa_44
    try:
        rule = int(args.rule)
    except ValueError:
        rule = args.rule
    validators = [{"name": vendor, "vendor": vendor, "power": 1, "key": f"{vendor}.key",
                   "attestation_key": f"{vendor}.katt"} for vendor in VENDOR_IDS]
    addresses = _parse_addresses(args.address or (), [v["name"] for v in validators])
    for v in validators:
        if v["name"] in addresses:
            v["address"] = addresses[v["name"]]
    try:        # the rule against the set it will govern, before anything is written
        q = ValidatorSet([Validator(v["name"], v["vendor"], bytes([i]) * 32, v["power"])
                          for i, v in enumerate(validators)], rule).q
    except ConfigError as e:
        _fail(str(e))
    root = Path(args.out)
    if (root / "cluster.json").exists():
        _fail(f"{root} already holds a cluster; refusing to overwrite it")
    if not root.exists():
        root.mkdir(mode=0o700, parents=True)
        os.chmod(root, 0o700)         # secret keys inside: owner only, whatever the umask
    (root / "minter").mkdir(mode=0o700, exist_ok=True)
    (root / "tls").mkdir(mode=0o700, exist_ok=True)
    files = []
    for vendor in VENDOR_IDS:
        public, secret = reference(vendor).keygen()
        # the core holds dk / sk (KEM) or pk (SLH-DSA); the minter the other half
        core_key, minter_key = (public, secret) if vendor == "riscv" else (secret, public)
        files += [(f"{vendor}.key", core_key, 0o600), (f"{vendor}.katt", os.urandom(32), 0o600),
                  (MINTER_FILE[vendor], minter_key, 0o600)]
    cpk, csk = ml_dsa_44.keygen()
    files += [("collector.sk", csk, 0o600), ("collector.pk", cpk, 0o644)]
    from network.tls import provision, parse_host
    files += provision({v["name"]: [parse_host(v["address"])] if "address" in v else []
                        for v in validators})
    for name, _, _ in files:
        if (root / name).exists():
            _fail(f"{root / name} already exists; refusing to overwrite it")
    for name, data, mode in files:
        _write_new(root / name, data, mode)
    conf = {"format": CLUSTER_FORMAT, "rule": rule, "validators": validators,
            "minter": MINTER_FILE,
            "collector": {"public_key": "collector.pk", "secret_key": "collector.sk"},
            "database": "pqvote.db"}
    _write_new(root / "cluster.json", (json.dumps(conf, indent=2) + "\n").encode(), 0o644)
    print(json.dumps({"cluster": str(root), "validators": [v["name"] for v in validators],
                      "rule": rule, "quorum": q}))
    return 0


def _parse_addresses(specs, names) -> dict:
    """``NAME=HOST:PORT`` options → ``{name: "host:port"}``; a one-line error otherwise."""
    from network.client import parse_address
    out = {}
    for spec in specs:
        name, sep, address = spec.partition("=")
        if not sep:
            _fail(f"address {spec!r}: expected NAME=HOST:PORT")
        if name not in names:
            _fail(f"address {spec!r}: unknown validator {name!r}")
        try:
            parse_address(address)
        except ValueError as e:
            _fail(str(e))
        out[name] = address
    return out


# -- mint ----------------------------------------------------------------------------------------

def mint_proofs(cluster: Cluster, descriptor: bytes) -> dict:
    """Proofs for every vendor (SPEC §3.1, ``golden.proof.mint``)."""
    return {vendor: mint(vendor, key, descriptor) for vendor, key in cluster.minter.items()}


def cmd_mint(args):
    descriptor = _hex(args.descriptor, "descriptor", 24)
    cluster = load_cluster(args.keys, need_secrets=False, need_minter=True)
    if args.out and Path(args.out).exists():
        _fail(f"{args.out} already exists; refusing to overwrite it")
    try:
        proofs = mint_proofs(cluster, descriptor)
    except Exception as e:
        raise InternalError(f"minting failed: {type(e).__name__}: {e}") from None
    text = json.dumps({"format": PROOFS_FORMAT, "descriptor": descriptor.hex(),
                       "proofs": {v: p.hex() for v, p in sorted(proofs.items())}}) + "\n"
    if args.out:
        _write_new(Path(args.out), text.encode(), 0o644)
    else:
        sys.stdout.write(text)
    return 0


# -- decide --------------------------------------------------------------------------------------

def _read_json(path, what):
    """The JSON document in ``path`` (``-``: stdin), read strictly (:mod:`consensus.jsonin`);
    a one-line error names what is wrong."""
    try:
        if str(path) == "-":
            data = read_limited(sys.stdin.buffer, MAX_DOCUMENT)
        else:
            with open(path, "rb") as f:
                data = read_limited(f, MAX_DOCUMENT)
        return loads(data)
    except FileNotFoundError:
        _fail(f"missing {what} file {path}")
    except OSError as e:
        _fail(f"cannot read {what} file {path}: {e.strerror or e}")
    except JsonInputError as e:
        _fail(f"{path}: {e}")


def _load_proofs(path, vendors):
    obj = _read_json(path, "proofs")
    if not isinstance(obj, dict) or not isinstance(obj.get("proofs"), dict):
        _fail(f"{path}: expected an object with 'descriptor' and 'proofs'")
    _unknown(obj, PROOFS_FIELDS, path)
    if obj.get("format", PROOFS_FORMAT) != PROOFS_FORMAT:
        _fail(f"{path}: not a {PROOFS_FORMAT} file")
    descriptor = _hex(obj.get("descriptor"), f"{path}: descriptor", 24)
    proofs = {}
    for vendor, h in obj["proofs"].items():
        if vendor not in VENDOR_IDS:
            _fail(f"{path}: unknown vendor {vendor!r}")
        proofs[vendor] = _hex(h, f"{path}: {vendor} proof")
    missing = sorted(set(vendors) - set(proofs))
    if missing:
        _fail(f"{path}: no proof for {', '.join(missing)}")
    return descriptor, proofs


def _parse_faults(specs, cluster):
    from consensus.sources import FAULTS
    faults = {}
    for spec in specs or ():
        name, sep, kind = spec.partition(":")
        if not sep:
            _fail(f"fault {spec!r}: expected VENDOR:KIND")
        if name not in cluster.validators:
            _fail(f"fault {spec!r}: unknown vendor {name!r}")
        if kind not in FAULTS:
            _fail(f"fault {spec!r}: unknown kind {kind!r} (one of {', '.join(FAULTS)})")
        if name in faults:
            _fail(f"fault {spec!r}: {name} already has a fault")
        faults[name] = kind
    return faults


def _open_store(path, create=True):
    """The store at ``path``: a database file, or a ``postgresql://`` URL."""
    from consensus.store import StoreError, is_postgres_url, open_store
    try:
        return open_store(path if is_postgres_url(path) else Path(path), create=create)
    except StoreError as e:
        _fail(str(e))


def cmd_decide(args):
    import golden.proof as gp
    from consensus.cluster import Core, run_request
    from consensus.collector import Collector, ml_dsa_44_signer
    from consensus.sources import RtlSource, make_sources
    from consensus.store import AlreadyDecided, StoreError

    cluster = load_cluster(args.keys, need_core_keys=not args.network)
    history = _history(cluster, args.db or cluster.database)
    vs = history.current                # the set of the latest decided epoch
    descriptor, proofs = _load_proofs(args.proofs, {v.vendor for v in vs.validators})
    network = None
    if args.network:
        network = _network_source(cluster, args, history)
    else:
        try:
            sources = make_sources(args.backend or "golden")
        except ValueError as e:
            _fail(str(e))
        rtl = sorted({v.vendor for v in vs.validators
                      if isinstance(sources[v.vendor], RtlSource)})
        missing = sorted(set(rtl) - set(RtlSource.landed()))
        if missing:
            _fail(f"no landed RTL core for {', '.join(missing)}")
    faults = _parse_faults(args.fault, cluster)
    if args.nonce is not None and not 0 <= args.nonce < 1 << 64:
        _fail(f"nonce {args.nonce} is not an unsigned 64-bit integer")
    deadline = args.deadline
    if deadline is None:
        deadline = NETWORK_DEADLINE if args.network else 1_000_000.0
    if not (math.isfinite(deadline) and deadline > 0):
        _fail(f"deadline must be a finite positive number, not {deadline}")
    store = _open_store(args.db or cluster.database)
    lost = None
    try:
        try:
            nonce = store.next_nonce() if args.nonce is None else args.nonce
        except StoreError as e:
            _fail(str(e))
        if store.has_decision(nonce):
            _fail(f"request {nonce} is already decided")
        if nonce < history.start_of(vs.epoch):
            _fail(f"request {nonce} lies before validator-set epoch {vs.epoch} (which starts "
                  f"at request {history.start_of(vs.epoch)}): it cannot be decided any more")
        if network is not None:
            cores = {v.name: Core(None, network) for v in vs.validators}
        else:
            cores = {v.name: Core(cluster.core_key(v), sources[v.vendor])
                     for v in vs.validators}
        collector = Collector(vs, attest=gp.attestation,
                              sign=ml_dsa_44_signer(cluster.collector_sk))
        try:
            if network is not None:
                network.start()
            out = run_request(vs, cores, nonce=nonce, descriptor=descriptor, proofs=proofs,
                              faults=faults, deadline=deadline, collector=collector)
        except Exception as e:
            raise InternalError(f"backend failed: {type(e).__name__}: {e}") from None
        finally:
            if network is not None:
                network.close()
        d = out.decision
        try:
            store.record(nonce=nonce, descriptor=descriptor, opened_at=d.opened_at,
                         deadline=deadline, decision=d, votes=out.received,
                         evidence=out.evidence, proofs=proofs)
        except AlreadyDecided as e:
            if network is None:
                _fail(str(e))
            # Another collector stored its decision first: the store arbitrates. What this
            # collector saw is checked against it, and equivocation found is recorded.
            from network.arbiter import reconcile
            lost = (str(e), reconcile(collector, store, nonce))
        except StoreError as e:
            _fail(str(e))
    finally:
        store.close()
    if lost is not None:
        message, evidence = lost
        names = ", ".join(sorted({ev.validator for ev in evidence})) or "none"
        _fail(f"{message} (by another collector); equivocation recorded: {names}")
    report = {"nonce": nonce, "descriptor": descriptor.hex(), "outcome": d.outcome,
              "tally": {"yes": d.yes, "no": d.no, "quorum": vs.q,
                        "total_power": vs.total_power, "excluded": list(d.excluded)},
              "certificate": d.certificate.to_json() if d.certificate else None,
              "decision_latency": d.latency,
              "evidence": [e.to_json() for e in out.evidence],
              "responses": out.responses,
              "votes": [dict(_vote_json(v), counted=c, reason=r, at=at)
                        for v, c, r, at in out.received],
              "counters": out.collector.counters}
    print(json.dumps(report, indent=2))
    return 0 if d.outcome == "accepted" else 1


#: ``decide --network``: seconds each node has to answer, by default.
NETWORK_DEADLINE = 5.0


def _vote_json(v):
    from consensus.votes import Vote
    if isinstance(v, Vote):
        return v.to_json()
    raw = v if isinstance(v, bytes) else repr(v).encode()
    return {"malformed": raw[:256].hex()}


def _network_source(cluster, args, history):
    """The nodes of the current epoch's validators as one vote source
    (``network.client.NetworkSource``): the same set the in-process path asks. A validator
    retired by a set change is not asked (and no address may be given for it); one added by
    a change has its address from ``--node`` (``cluster.json`` names the genesis set)."""
    from network.client import NetworkSource
    from network.tls import TlsFiles
    if args.backend is not None:
        _fail("--backend does not apply to --network: each node runs its own backend")
    if args.fault:
        _fail("--fault does not apply to --network: a node's faults are its own "
              "(pqvote node --misbehave)")
    vs = history.current
    names = [v.name for v in vs.validators]
    for spec in args.node or ():
        name = spec.partition("=")[0]
        if name not in vs and any(name in history.set_of(e) for e in range(vs.epoch)):
            _fail(f"address {spec!r}: validator {name!r} is retired (not in the "
                  f"validator set of epoch {vs.epoch})")
    addresses = {n: a for n, a in cluster.addresses.items() if n in vs}
    addresses.update(_parse_addresses(args.node or (), names))
    missing = [n for n in names if n not in addresses]
    if missing:
        _fail(f"no network address for {', '.join(missing)} (cluster.json 'address' or "
              "--node NAME=HOST:PORT)")
    tls = TlsFiles.of(cluster.root, "collector")
    if tls.missing():
        _fail(f"missing TLS file {tls.missing()[0]} (provisioned by pqvote keygen)")
    try:
        return NetworkSource(addresses, tls)
    except (ValueError, OSError) as e:
        _fail(f"TLS or address configuration: {e}")


# -- node ----------------------------------------------------------------------------------------

def cmd_node(args):
    """One validator as a network service until SIGTERM (``network.node``)."""
    import asyncio
    import ssl
    from consensus.sources import make_sources
    from network.client import parse_address
    from network.node import Node, serve
    from network.tls import TlsFiles, server_context

    root = Path(args.keys)
    conf_path = root / "cluster.json"
    conf = _read_json(conf_path, "cluster description")
    if not isinstance(conf, dict) or conf.get("format") != CLUSTER_FORMAT:
        _fail(f"{conf_path}: not a {CLUSTER_FORMAT} description")
    entries = [e for e in conf.get("validators") or () if isinstance(e, dict)
               and e.get("name") == args.name]
    if entries:
        entry = entries[0]
        _unknown(entry, VALIDATOR_FIELDS, f"{conf_path}: validator entry")
        vendor = entry.get("vendor")
        if vendor not in VENDOR_IDS:
            _fail(f"{conf_path}: unknown vendor {vendor!r}")
        key = _read(root / str(entry.get("key")), f"{args.name} key", KEY_LEN[vendor])
        k_att = _read(root / str(entry.get("attestation_key")), f"{args.name} attestation key",
                      32)
    else:
        # a validator added by a set change: the store's validator-set history names it
        # (its K_att checked there against the change's digest); its files are NAME.key,
        # NAME.katt and tls/NAME.pem / .key
        cluster = load_cluster(root, need_secrets=False)
        history = _history(cluster, args.db or cluster.database)
        added = [history.set_of(e)[args.name] for e in range(len(history))
                 if args.name in history.set_of(e)]
        if not added:
            _fail(f"{conf_path}: no validator named {args.name!r} (nor in a validator-set "
                  "change of the store)")
        vendor, k_att, entry = added[-1].vendor, bytes(added[-1].k_att), {}
        key = _read(root / f"{args.name}.key", f"{args.name} key", KEY_LEN[vendor])
    listen = args.listen or entry.get("address")
    if not listen:
        _fail(f"no address to listen on for {args.name} (--listen HOST:PORT)")
    try:
        host, port = parse_address(listen, allow_any_port=True)
    except ValueError as e:
        _fail(str(e))
    try:
        source = make_sources(args.backend)[vendor]
    except ValueError as e:
        _fail(str(e))
    try:
        ctx = server_context(TlsFiles.of(root, args.name))
    except (FileNotFoundError, ssl.SSLError) as e:
        _fail(f"TLS: {e}")
    try:
        node = Node(name=args.name, vendor=vendor, key=key, k_att=k_att, source=source,
                    backend=args.backend, max_inflight=args.max_inflight,
                    timeout=args.timeout, misbehave=args.misbehave,
                    processes=args.processes)
    except ValueError as e:
        _fail(str(e))
    asyncio.run(serve(node, host=host, port=port, ssl_context=ctx))
    return 0


# -- verify-cert ---------------------------------------------------------------------------------

def _certificate_of(cls, obj):
    """``cls.from_json(obj)``, or None after printing why it is not one."""
    try:
        return cls.from_json(obj)
    except ValueError as e:
        print(f"invalid: {_one_line(e)}")
        return None


def cmd_verify_cert(args):
    from consensus.merkle import BATCH_FORMAT, BatchCertificate, check_batch_certificate
    cluster = load_cluster(args.keys, need_secrets=False)
    obj = _read_json(args.cert, "certificate")
    if isinstance(obj, dict) and obj.get("format") == BATCH_FORMAT:
        bc = _certificate_of(BatchCertificate, obj)
        if bc is None:
            return 1
        history = _history(cluster, args.db or cluster.database)
        reason = history.check(bc.entry, check_signature=False)
        if reason is None:
            keys = history.set_of(bc.entry.epoch)
            reason = check_batch_certificate(bc, keys)
        if reason is None:
            print(f"valid: request {bc.entry.nonce} {bc.entry.outcome} by "
                  f"{len(bc.entry.votes)} votes (quorum {keys.q} of {keys.total_power}, "
                  f"epoch {keys.epoch}), entry {bc.index} of a batch of {bc.batch.size}")
            return 0
        print(f"invalid: {reason}")
        return 1
    if isinstance(obj, dict) and "certificate" in obj:    # a `pqvote decide` report
        obj = obj["certificate"]
    if obj is None:
        print("invalid: no certificate (the request was not decided by a quorum)")
        return 1
    cert = _certificate_of(Certificate, obj)
    if cert is None:
        return 1
    history = _history(cluster, args.db or cluster.database)
    reason = history.check(cert)
    if reason is None:
        keys = history.set_of(cert.epoch)
        epoch = f", epoch {cert.epoch}" if cert.epoch else ""
        print(f"valid: request {cert.nonce} {cert.outcome} by {len(cert.votes)} votes "
              f"(quorum {keys.q} of {keys.total_power}{epoch})")
        return 0
    print(f"invalid: {reason}")
    return 1


# -- validator-set epochs ------------------------------------------------------------------------

def _history(cluster, db):
    """The validator-set history: cluster.json's set (epoch 0) and every set change stored
    in ``db`` (re-checked); the attestation key of an added validator is
    ``<name>.katt`` in the cluster directory."""
    from consensus.epochs import EpochHistory
    from consensus.store import NoDatabase, StoreError, is_postgres_url, open_store
    history = EpochHistory(cluster.validators)
    try:
        store = open_store(db if is_postgres_url(db) else Path(db), create=False)
    except NoDatabase:
        return history                  # nothing decided yet: the genesis set
    except StoreError as e:
        _fail(str(e))
    try:
        records = store.epochs()
    finally:
        store.close()
    k_att = {}
    for _, _, _, body in records:
        for a in body["change"]["add"]:
            k_att[a["name"]] = _read(cluster.root / f"{a['name']}.katt",
                                     f"{a['name']} attestation key", 32)
    try:
        return EpochHistory.from_records(cluster.validators, records, k_att)
    except (ConfigError, ValueError, KeyError) as e:
        raise InternalError(f"the stored validator-set history does not check: {e}") from None


def cmd_epoch_propose(args):
    """Write a set change for the current epoch (and a fresh K_att per added validator,
    unless ``<name>.katt`` exists); refused when the resulting set breaks a power rule."""
    from consensus.epochs import NewValidator, SetChange, katt_digest, resulting_set
    cluster = load_cluster(args.keys, need_secrets=False)
    history = _history(cluster, args.db or cluster.database)
    current = history.current
    if Path(args.out).exists():
        _fail(f"{args.out} already exists; refusing to overwrite it")
    powers, added, keys = [], [], {}
    for spec in args.power or ():
        name, sep, p = spec.partition("=")
        if not sep or not p.isdigit():
            _fail(f"--power {spec!r}: expected NAME=POWER")
        powers.append((name, int(p)))
    for spec in args.add or ():
        parts = spec.split(":")
        if len(parts) not in (2, 3) or not parts[0] or (len(parts) == 3 and not parts[2].isdigit()):
            _fail(f"--add {spec!r}: expected NAME:VENDOR[:POWER]")
        name, vendor = parts[0], parts[1]
        path = cluster.root / f"{name}.katt"
        keys[name] = _read(path, f"{name} attestation key", 32) if path.exists() \
            else os.urandom(32)
        added.append(NewValidator(name, vendor, int(parts[2]) if len(parts) == 3 else 1,
                                  katt_digest(keys[name])))
    rule = args.rule
    if rule is not None and rule.isdigit():
        rule = int(rule)
    change = SetChange(from_epoch=current.epoch, retire=tuple(args.retire or ()),
                       add=tuple(added), powers=tuple(powers), rule=rule)
    try:
        new = resulting_set(current, change, keys)
    except ConfigError as e:
        _fail(f"set change refused: {e}")
    tls = _node_tls_files(cluster.root, [a.name for a in added])
    for name, key in keys.items():
        if not (cluster.root / f"{name}.katt").exists():
            _write_new(cluster.root / f"{name}.katt", key, 0o600)
    for path, data, mode in tls:
        _write_new(cluster.root / path, data, mode)
    _write_new(Path(args.out), (json.dumps(change.to_json(), indent=2) + "\n").encode(), 0o644)
    print(json.dumps({"descriptor": change.descriptor().hex(), "from_epoch": current.epoch,
                      "validators": [{"name": v.name, "vendor": v.vendor, "power": v.power}
                                     for v in new.validators], "quorum": new.q}))
    return 0


def _node_tls_files(root: Path, names) -> list:
    """The TLS certificate and key of each new validator's node (``tls/NAME.pem``,
    ``.key``), issued by the cluster CA, for those that have none yet; none without the CA
    key (``tls/ca.key``: the nodes' certificates are then issued where it is kept)."""
    from network.tls import issue
    ca_key, ca_pem = root / "tls" / "ca.key", root / "tls" / "ca.pem"
    if not (ca_key.is_file() and ca_pem.is_file()):
        return []
    files = []
    for name in names:
        if (root / "tls" / f"{name}.pem").exists() or (root / "tls" / f"{name}.key").exists():
            continue
        key, cert = issue(_read(ca_key, "TLS CA key"), _read(ca_pem, "TLS CA certificate"),
                          name, "node")
        files += [(f"tls/{name}.pem", cert, 0o644), (f"tls/{name}.key", key, 0o600)]
    return files


def cmd_epoch_apply(args):
    """Open the next epoch with a change that the current set decided (request NONCE)."""
    from consensus.epochs import SetChange
    if not 0 <= args.nonce < 1 << 64:
        _fail(f"nonce {args.nonce} is not an unsigned 64-bit integer")
    cluster = load_cluster(args.keys, need_secrets=False)
    db = args.db or cluster.database
    history = _history(cluster, db)
    try:
        change = SetChange.from_json(_read_json(args.change, "set change"))
    except ValueError as e:
        _fail(f"{args.change}: {e}")
    store = _open_store(db, create=False)
    try:
        cert = store.certificate(args.nonce)
        if cert is None:
            _fail(f"request {args.nonce} has no certificate in the store")
        k_att = {a.name: _read(cluster.root / f"{a.name}.katt", f"{a.name} attestation key",
                               32) for a in change.add}
        try:
            new = history.apply(change, cert, k_att=k_att)
        except ConfigError as e:
            print(f"pqvote: set change refused: {_one_line(e)}", file=sys.stderr)
            return 1
        store.record_epoch(new.epoch, history.start_of(new.epoch), args.nonce,
                           history.to_record(new.epoch))
    finally:
        store.close()
    print(json.dumps({"epoch": new.epoch, "starts_at_request": history.start_of(new.epoch),
                      "validators": [{"name": v.name, "vendor": v.vendor, "power": v.power}
                                     for v in new.validators], "quorum": new.q}))
    return 0


# -- batch certificates --------------------------------------------------------------------------

def cmd_batch(args):
    """Seal every stored certificate that is in no batch yet (at most ``--max`` per batch)
    under one collector signature each; print the roots."""
    from consensus.collector import ml_dsa_44_signer
    from consensus.merkle import seal_batch
    cluster = load_cluster(args.keys)
    if args.max < 1:
        _fail(f"--max must be a positive integer, not {args.max}")
    store = _open_store(args.db or cluster.database, create=False)
    sealed = []
    try:
        pending = [store.certificate(n) for n in store.unbatched()]
        for epoch in sorted({c.epoch for c in pending}):
            group = [c for c in pending if c.epoch == epoch]
            for i in range(0, len(group), args.max):
                chunk = group[i:i + args.max]
                root, _ = seal_batch(chunk, ml_dsa_44_signer(cluster.collector_sk))
                store.record_batch(root, [c.nonce for c in chunk])
                sealed.append({"epoch": root.epoch, "size": root.size,
                               "root": root.root.hex(),
                               "nonces": [c.nonce for c in chunk]})
    finally:
        store.close()
    print(json.dumps({"batches": sealed}))
    if not sealed:
        print("pqvote: no certificate left to batch", file=sys.stderr)
        return 1
    return 0


def cmd_batch_cert(args):
    """The batch certificate of one request (entry, Merkle path, signed root)."""
    from consensus.merkle import BatchRoot, batch_certificate
    if not 0 <= args.nonce < 1 << 64:
        _fail(f"nonce {args.nonce} is not an unsigned 64-bit integer")
    cluster = load_cluster(args.keys, need_secrets=False)
    store = _open_store(args.db or cluster.database, create=False)
    try:
        found = store.batch_of(args.nonce)
    finally:
        store.close()
    if found is None:
        print(f"pqvote: request {args.nonce} has no batched certificate (run pqvote batch)",
              file=sys.stderr)
        return 1
    root, position, members = found
    bc = batch_certificate(BatchRoot.from_json(root),
                           [Certificate.from_json(m) for m in members], position)
    text = json.dumps(bc.to_json()) + "\n"
    if args.out:
        if Path(args.out).exists():
            _fail(f"{args.out} already exists; refusing to overwrite it")
        _write_new(Path(args.out), text.encode(), 0o644)
    else:
        sys.stdout.write(text)
    return 0


# -- proofs get ----------------------------------------------------------------------------------

def cmd_proofs_get(args):
    descriptor = _hex(args.descriptor, "descriptor", 24)
    if args.db:
        db = args.db
    elif args.keys:
        db = load_cluster(args.keys, need_secrets=False).database
    else:
        _fail("give --db PATH or --keys DIR")
    store = _open_store(db, create=False)
    try:
        proofs = store.proofs(descriptor)
    finally:
        store.close()
    if not proofs:
        print(f"pqvote: no accepted proofs for descriptor {descriptor.hex()}", file=sys.stderr)
        return 1
    print(json.dumps({"format": PROOFS_FORMAT, "descriptor": descriptor.hex(),
                      "proofs": {v: p.hex() for v, p in proofs.items()}}))
    return 0


# -- registration --------------------------------------------------------------------------------

def _one_line(text):
    return " ".join(str(text).split())


def _guard(func):
    def run(args):
        try:
            return func(args)
        except CliError as e:
            print(f"pqvote: {_one_line(e)}", file=sys.stderr)
            return 2
        except OSError as e:
            where = f" ({e.filename})" if e.filename else ""
            print(f"pqvote: {_one_line(e.strerror or e)}{where}", file=sys.stderr)
            return 2
        except InternalError as e:
            print(f"pqvote: internal error: {_one_line(e)}", file=sys.stderr)
            return 3
    run.__name__ = func.__name__
    return run


_DB_HELP = "database file or postgresql:// URL (default: the cluster's, DIR/pqvote.db)"


def _cluster_args(p, *, db_help=_DB_HELP):
    """``--keys DIR`` (required: the cluster directory) and ``--db PATH`` (its store)."""
    p.add_argument("--keys", required=True, metavar="DIR")
    p.add_argument("--db", metavar="PATH", help=db_help)
    return p


def register(subparsers):
    """Add the consensus subcommands to ``pqvote``'s argparse subparsers."""
    p = subparsers.add_parser("keygen", help="provision a cluster: core keys, K_att, minter "
                              "and collector keys, cluster.json")
    p.add_argument("--out", required=True, metavar="DIR")
    p.add_argument("--address", action="append", metavar="NAME=HOST:PORT",
                   help="a validator node's network address (written to cluster.json and "
                        "to its TLS certificate)")
    p.add_argument("--rule", default=DEFAULT_RULE,
                   help=f"quorum rule: {', '.join(RULES)} or an integer (default "
                        f"{DEFAULT_RULE}; refused below floor(2P/3)+1, or when one "
                        f"validator or one algorithm family could decide alone)")
    p.set_defaults(func=_guard(cmd_keygen))

    p = subparsers.add_parser("mint", help="mint proofs for every vendor (SPEC §3.1)")
    p.add_argument("--keys", required=True, metavar="DIR")
    p.add_argument("--descriptor", required=True, metavar="HEX", help="24 bytes, hex")
    p.add_argument("--out", metavar="FILE", help="write here instead of stdout")
    p.set_defaults(func=_guard(cmd_mint))

    p = subparsers.add_parser("decide", help="run a request through the cluster, decide, "
                              "store; exit 0 only when accepted")
    _cluster_args(p)
    p.add_argument("--proofs", required=True, metavar="FILE", help="output of `pqvote mint`")
    p.add_argument("--nonce", type=int, help="request number, 0 .. 2^64-1 (default: the next "
                   "free one)")
    p.add_argument("--backend", default=None, metavar="SPEC",
                   help="golden (default), software or rtl, or per vendor: "
                        "software,arm=golden")
    p.add_argument("--fault", action="append", metavar="VENDOR:KIND",
                   help="inject a fault: byzantine, corrupt, silent, late, replay, equivocate")
    p.add_argument("--deadline", type=float, default=None,
                   help="deadline in clock units, finite and positive (default 1e6; a core "
                        "answers at its cycle count or its position); with --network in "
                        f"seconds per node (default {NETWORK_DEADLINE})")
    p.add_argument("--network", action="store_true",
                   help="ask the validator nodes (pqvote node) at their addresses over "
                        "mutual TLS instead of in-process cores")
    p.add_argument("--node", action="append", metavar="NAME=HOST:PORT",
                   help="with --network: a node address instead of the one in cluster.json")
    p.set_defaults(func=_guard(cmd_decide))

    from network.protocol import DEFAULT_INFLIGHT, DEFAULT_TIMEOUT, MISBEHAVIOURS
    p = subparsers.add_parser("node", help="serve one validator over the network (mutual "
                              "TLS, HTTP); runs until SIGTERM")
    p.add_argument("--keys", required=True, metavar="DIR",
                   help="this host's part of the cluster directory")
    p.add_argument("--name", required=True, help="the validator to serve")
    p.add_argument("--listen", metavar="HOST:PORT",
                   help="default: the validator's address in cluster.json (port 0: any)")
    p.add_argument("--backend", default="software", choices=("software", "golden", "rtl"))
    p.add_argument("--max-inflight", type=int, default=DEFAULT_INFLIGHT,
                   help="validations at a time; one more is answered 503 busy "
                        f"(default {DEFAULT_INFLIGHT})")
    p.add_argument("--timeout", type=float, default=DEFAULT_TIMEOUT,
                   help=f"seconds to read and answer one request (default {DEFAULT_TIMEOUT})")
    p.add_argument("--processes", type=int, default=0,
                   help="validate in N worker processes (several cores for one node; "
                        "software and golden backends); 0: in the node's own process")
    p.add_argument("--misbehave", choices=MISBEHAVIOURS,
                   help="fault drill: answer as a faulty core would (docs/deployment.md)")
    p.add_argument("--db", metavar="PATH", help="for a validator added by a set change: the "
                   "store whose validator-set history names it (default: the cluster's)")
    p.set_defaults(func=_guard(cmd_node))

    p = subparsers.add_parser("verify-cert", help="check a certificate standalone; exit 0 "
                              "only if valid")
    _cluster_args(p, db_help="the store whose validator-set epochs apply (default: the "
                  "cluster's)")
    p.add_argument("cert", metavar="CERT", help="certificate JSON, a `decide` report, or a "
                   "batch certificate (`pqvote batch-cert`)")
    p.set_defaults(func=_guard(cmd_verify_cert))

    p = subparsers.add_parser("epoch", help="change the validator set by the current set's "
                              "quorum (retire, add, change powers)")
    sub = p.add_subparsers(dest="epoch_command", required=True)
    e = sub.add_parser("propose", help="write a set change; prints the descriptor to mint "
                       "proofs for and decide")
    _cluster_args(e)
    e.add_argument("--retire", action="append", metavar="NAME")
    e.add_argument("--add", action="append", metavar="NAME:VENDOR[:POWER]",
                   help="a new validator; its K_att is DIR/NAME.katt (made fresh if absent), "
                        "its node's TLS files DIR/tls/NAME.pem, .key (issued by the cluster "
                        "CA if absent), its core key DIR/NAME.key")
    e.add_argument("--power", action="append", metavar="NAME=POWER")
    e.add_argument("--rule", help="a new quorum rule")
    e.add_argument("--out", required=True, metavar="FILE")
    e.set_defaults(func=_guard(cmd_epoch_propose))
    e = sub.add_parser("apply", help="open the next epoch with a change the current set "
                       "decided; exit 1 if refused")
    _cluster_args(e)
    e.add_argument("--change", required=True, metavar="FILE")
    e.add_argument("--nonce", required=True, type=int, help="the request that decided it")
    e.set_defaults(func=_guard(cmd_epoch_apply))

    p = subparsers.add_parser("batch", help="seal the stored certificates not yet in a batch "
                              "under one collector signature over their Merkle root")
    _cluster_args(p)
    p.add_argument("--max", type=int, default=1024, help="most certificates per batch "
                   "(default 1024)")
    p.set_defaults(func=_guard(cmd_batch))

    p = subparsers.add_parser("batch-cert", help="the batch certificate of one request "
                              "(entry, Merkle path, signed root)")
    p.add_argument("nonce", type=int, metavar="NONCE")
    _cluster_args(p)
    p.add_argument("--out", metavar="FILE", help="write here instead of stdout")
    p.set_defaults(func=_guard(cmd_batch_cert))

    p = subparsers.add_parser("proofs", help="the proof store")
    sub = p.add_subparsers(dest="proofs_command", required=True)
    g = sub.add_parser("get", help="the stored proofs of an accepted descriptor")
    g.add_argument("descriptor", metavar="DESCRIPTOR", help="24 bytes, hex")
    g.add_argument("--db", metavar="PATH")
    g.add_argument("--keys", metavar="DIR", help="use the cluster's database")
    g.set_defaults(func=_guard(cmd_proofs_get))
