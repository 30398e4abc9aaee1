"""Certificates of a cluster's nodes, from the education CA's issuing CA.

Each node gets a server certificate (for the names in its URI) and a replication certificate
(client authentication, subject `CN=<node>,OU=idm-replication,O=<organisation>`), which slapd maps
to the replication identity over SASL EXTERNAL. The keys are written once, 0600, into a folder
per node, to be carried to that node and installed with `idm cluster apply --tls`.
"""

from __future__ import annotations

import os
import shutil
from datetime import UTC, datetime, timedelta
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from idm.errors import InvalidInput
from idm.ops import tls
from idm.ops.bootstrap import write_secret
from idm.ops.cluster import Cluster, Node, NodeFiles
from idm.pki import ca

VALID_DAYS = 825


def replication_certificate(issuer: ca.Issuer, node: Node) -> tuple[bytes, bytes]:
    """(key PEM, certificate PEM) with which `node` authenticates to the other nodes."""
    key = ec.generate_private_key(ec.SECP256R1())
    now = datetime.now(UTC)
    subject = x509.Name([x509.NameAttribute(NameOID.ORGANIZATION_NAME, issuer.config.organisation),
                         x509.NameAttribute(NameOID.ORGANIZATIONAL_UNIT_NAME, "idm-replication"),
                         x509.NameAttribute(NameOID.COMMON_NAME, node.name)])
    cert = (x509.CertificateBuilder().subject_name(subject).issuer_name(issuer.cert.subject)
            .public_key(key.public_key()).serial_number(x509.random_serial_number())
            .not_valid_before(now - timedelta(minutes=5)).not_valid_after(now + timedelta(days=VALID_DAYS))
            .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
            .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.CLIENT_AUTH]), critical=False)
            .sign(issuer.key, hashes.SHA256()))
    key_pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                serialization.NoEncryption())
    return key_pem, cert.public_bytes(serialization.Encoding.PEM)


def write_bundles(issuer: ca.Issuer, cluster: Cluster, out: Path) -> list[Path]:
    """One folder per node under `out` (0700), with its keys (0600), certificates and CA chain."""
    folders = []
    for node in cluster.nodes:
        files = NodeFiles(out / node.name)
        files.folder.mkdir(mode=0o700, parents=True, exist_ok=True)
        server_key, server_cert = tls.server_certificate(issuer, [node.host])
        client_key, client_cert = replication_certificate(issuer, node)
        write_secret(files.server_key, server_key)
        write_secret(files.client_key, client_key)
        files.server_cert.write_bytes(server_cert)
        files.client_cert.write_bytes(client_cert)
        files.ca.write_bytes(issuer.chain_pem())
        folders.append(files.folder)
    return folders


def install(bundle: Path, data_dir: Path) -> NodeFiles:
    """Copy a node's bundle into <data>/tls (keys stay 0600); refuses an incomplete bundle."""
    source = NodeFiles(bundle)
    missing = [p.name for p in source.all() if not p.is_file()]
    if missing:
        raise InvalidInput(f"证书目录 {bundle} 缺少：{', '.join(missing)}（idm cluster certs 生成）",
                           f"the bundle {bundle} lacks {', '.join(missing)} (made by idm cluster certs)")
    target = NodeFiles(data_dir / "tls")
    if target.folder.resolve() == source.folder.resolve():
        return target
    target.folder.mkdir(mode=0o700, parents=True, exist_ok=True)
    for src, dst in zip(source.all(), target.all(), strict=True):
        if dst.name.endswith(".key.pem"):
            write_secret(dst, src.read_bytes())
        else:
            shutil.copyfile(src, dst)
            os.chmod(dst, 0o644)
    return target
