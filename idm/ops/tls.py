"""TLS for the embedded slapd: a server certificate from the education CA's issuing CA,
StartTLS on the LDAP port and an ldaps port, and (by default outside the demo) simple binds
refused without TLS (`olcSecurity: simple_bind=64`; ldapi, being local, keeps working)."""

from __future__ import annotations

import ipaddress
import os
from dataclasses import replace
from datetime import UTC, datetime, timedelta

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from idm.config import Settings, save_settings
from idm.directory import connection
from idm.directory.session import Session
from idm.pki import ca


def _own_names() -> list[str]:
    """This machine's host names, and what 127.0.0.1 resolves back to, as DNS names go."""
    import re
    import socket

    found = [socket.gethostname(), socket.getfqdn()]
    try:
        found.append(socket.gethostbyaddr("127.0.0.1")[0])
    except OSError:
        pass
    return [n.lower() for n in found if re.fullmatch(r"[A-Za-z0-9]([A-Za-z0-9.-]{0,252})", n)]


def server_certificate(issuer: ca.Issuer, host_names: list[str]) -> tuple[bytes, bytes]:
    """(key PEM, certificate PEM) for slapd, valid for localhost, 127.0.0.1, this machine's own
    names and the names given. libldap checks `ldaps://localhost` not against "localhost" but
    against the name the connected address resolves back to (on many hosts the machine's own
    name), so without that name a client on the same machine is refused."""
    key = ec.generate_private_key(ec.SECP256R1())
    names: list[x509.GeneralName] = [x509.DNSName("localhost"),
                                     x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]
    seen = {"localhost", "127.0.0.1"}
    for h in [*host_names, *_own_names()]:
        if h in seen:
            continue
        seen.add(h)
        try:  # an address belongs in an IP entry: TLS clients never match it against a DNS one
            names.append(x509.IPAddress(ipaddress.ip_address(h)))
        except ValueError:
            names.append(x509.DNSName(h))
    now = datetime.now(UTC)
    common_name = host_names[0] if host_names else "localhost"
    subject = x509.Name([x509.NameAttribute(NameOID.ORGANIZATION_NAME, issuer.config.organisation),
                         x509.NameAttribute(NameOID.COMMON_NAME, common_name)])
    cert = (x509.CertificateBuilder()
            .subject_name(subject)
            .issuer_name(issuer.cert.subject).public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - timedelta(minutes=5)).not_valid_after(now + timedelta(days=825))
            .add_extension(x509.SubjectAlternativeName(names), critical=False)
            .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
            .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
            .sign(issuer.key, hashes.SHA256()))
    key_pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                serialization.NoEncryption())
    return key_pem, cert.public_bytes(serialization.Encoding.PEM)


def enable(settings: Settings, issuer: ca.Issuer, host_names: list[str], tls_port: int,
           require: bool) -> Settings:
    """Write key, certificate and chain under <data>/tls, point cn=config at them, and record
    the ldaps port; the caller restarts slapd so it listens on it."""
    folder = settings.data_dir / "tls"
    folder.mkdir(mode=0o700, exist_ok=True)
    key_pem, cert_pem = server_certificate(issuer, host_names)
    fd = os.open(folder / "server.key.pem", os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as handle:
        handle.write(key_pem)
    (folder / "server.crt.pem").write_bytes(cert_pem)
    (folder / "ca.pem").write_bytes(issuer.chain_pem())
    with Session(connection.ops_connection(settings.ldapi_uri), settings.suffix) as session:
        session.replace("cn=config", {
            "olcTLSCACertificateFile": [str(folder / "ca.pem")],
            "olcTLSCertificateFile": [str(folder / "server.crt.pem")],
            "olcTLSCertificateKeyFile": [str(folder / "server.key.pem")],
            "olcSecurity": ["simple_bind=64"] if require else [],
        })
    updated = replace(settings, tls_port=tls_port, require_tls=require)
    save_settings(updated)
    connection.trust(folder / "ca.pem")
    return updated
