"""The education CA's mechanics, checked with the openssl command line: chains, profiles, CSR
checks, PKCS#12, CRLs before and after revocation."""

from __future__ import annotations

import subprocess
from datetime import UTC, datetime
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.serialization import pkcs12
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from idm.errors import InvalidInput
from idm.pki import ca

SUBJECT = ca.Subject(name="阿拉坦·其其格", uid="alatan", email="alatan@demo.edu.cn", unit="新城区")


@pytest.fixture(scope="module")
def issuer(tmp_path_factory: pytest.TempPathFactory) -> ca.Issuer:
    config = ca.CaConfig(folder=tmp_path_factory.mktemp("ca") / "ca")
    assert ca.init(config) is True
    assert ca.init(config) is False
    return ca.load(config)


def csr_for(cn: str, uid: str | None = None) -> tuple[ec.EllipticCurvePrivateKey, bytes]:
    key = ec.generate_private_key(ec.SECP256R1())
    attrs = [x509.NameAttribute(NameOID.COMMON_NAME, cn)]
    if uid:
        attrs.append(x509.NameAttribute(NameOID.USER_ID, uid))
    csr = x509.CertificateSigningRequestBuilder().subject_name(x509.Name(attrs)).sign(key, hashes.SHA256())
    return key, csr.public_bytes(serialization.Encoding.PEM)


def openssl_verify(issuer: ca.Issuer, cert: x509.Certificate, tmp: Path, crl_pem: bytes | None) -> bool:
    (tmp / "chain.pem").write_bytes(issuer.chain_pem())
    (tmp / "cert.pem").write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    args = ["openssl", "verify", "-CAfile", str(tmp / "chain.pem"), "-purpose", "sslclient"]
    if crl_pem is not None:
        (tmp / "crl.pem").write_bytes(crl_pem)
        args += ["-crl_check", "-CRLfile", str(tmp / "crl.pem")]
    return subprocess.run([*args, str(tmp / "cert.pem")], capture_output=True, text=True).returncode == 0


def test_keys_are_encrypted_0600_files(issuer: ca.Issuer) -> None:
    for name in ("root.key.pem", "issuing.key.pem", "passphrase"):
        path = issuer.config.folder / name
        assert path.stat().st_mode & 0o777 == 0o600
    assert b"ENCRYPTED PRIVATE KEY" in (issuer.config.folder / "issuing.key.pem").read_bytes()


def test_issue_from_csr_with_the_user_profile_and_verify_then_revoke(
    issuer: ca.Issuer, tmp_path: Path
) -> None:
    _, csr_pem = csr_for(SUBJECT.name, SUBJECT.uid)
    csr = ca.check_csr(csr_pem, SUBJECT)
    cert = ca.issue(issuer, csr.public_key(), SUBJECT)
    assert cert.subject.get_attributes_for_oid(NameOID.COMMON_NAME)[0].value == "阿拉坦·其其格"
    eku = cert.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value
    assert ExtendedKeyUsageOID.CLIENT_AUTH in eku and ExtendedKeyUsageOID.EMAIL_PROTECTION in eku
    san = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert san.get_values_for_type(x509.RFC822Name) == ["alatan@demo.edu.cn"]
    assert cert.extensions.get_extension_for_class(x509.CRLDistributionPoints)
    assert openssl_verify(issuer, cert, tmp_path, ca.crl(issuer, []))
    revoked = ca.crl(issuer, [(cert.serial_number, datetime.now(UTC), "affiliation_changed")])
    assert not openssl_verify(issuer, cert, tmp_path, revoked)


@pytest.mark.parametrize(("cn", "uid", "reason"), [
    ("别人", "alatan", "CN"), ("阿拉坦·其其格", "someone", "UID")])
def test_csr_subject_must_match_the_directory(cn: str, uid: str, reason: str) -> None:
    _, csr_pem = csr_for(cn, uid)
    with pytest.raises(InvalidInput, match=reason):
        ca.check_csr(csr_pem, SUBJECT)


def test_csr_with_a_broken_signature_is_refused() -> None:
    _, csr_pem = csr_for(SUBJECT.name, SUBJECT.uid)
    der = bytearray(x509.load_pem_x509_csr(csr_pem).public_bytes(serialization.Encoding.DER))
    der[-5] ^= 0xFF  # flip bits inside the signature
    broken = x509.load_der_x509_csr(bytes(der)).public_bytes(serialization.Encoding.PEM)
    with pytest.raises(InvalidInput, match="signature"):
        ca.check_csr(broken, SUBJECT)
    with pytest.raises(InvalidInput, match="not a valid PEM"):
        bad = b"-----BEGIN CERTIFICATE REQUEST-----\nbad\n-----END CERTIFICATE REQUEST-----\n"
        ca.check_csr(bad, SUBJECT)


def test_pkcs12_opens_with_its_password_and_not_without(issuer: ca.Issuer) -> None:
    blob, password, cert = ca.pkcs12_bundle(issuer, SUBJECT)
    key, opened, _ = pkcs12.load_key_and_certificates(blob, password.encode())
    assert opened == cert and key is not None
    with pytest.raises(ValueError):
        pkcs12.load_key_and_certificates(blob, b"wrong")
    with pytest.raises((ValueError, TypeError)):
        pkcs12.load_key_and_certificates(blob, None)


def test_the_settings_the_ca_was_made_with_are_kept(tmp_path: Path) -> None:
    config = ca.CaConfig(folder=tmp_path / "ca", key_type="rsa", crl_url="http://crl.example/crl.pem",
                         user_days=365, issuing_name="内蒙古教育 CA")
    ca.init(config)
    loaded = ca.load_config(tmp_path / "ca")
    assert loaded == config
    issuer = ca.load(loaded)
    assert issuer.cert.subject.get_attributes_for_oid(NameOID.COMMON_NAME)[0].value == "内蒙古教育 CA"
    cert = ca.issue(issuer, ec.generate_private_key(ec.SECP256R1()).public_key(), SUBJECT)
    points = cert.extensions.get_extension_for_class(x509.CRLDistributionPoints).value
    assert points[0].full_name[0].value == "http://crl.example/crl.pem"
