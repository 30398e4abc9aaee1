"""The education CA (教育 CA, R19): a root and an issuing CA whose private keys live in 0600
files encrypted with a passphrase kept in a 0600 file beside them (chosen at `init`, from
IDM_CA_PASSPHRASE or at random), never in the directory, never logged, never needed in an
admin's environment. Certificates for client authentication and e-mail protection,
issued from a user's CSR or with a key generated once and handed over as PKCS#12; CRLs.
"""

from __future__ import annotations

import json
import os
import secrets
from dataclasses import asdict, dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

from cryptography import x509
from cryptography.exceptions import UnsupportedAlgorithm
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.hazmat.primitives.serialization import pkcs12
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from idm.errors import InvalidInput, ServerError
from idm.ops.bootstrap import write_secret

PrivateKey = ec.EllipticCurvePrivateKey | rsa.RSAPrivateKey


@dataclass(frozen=True)
class CaConfig:
    folder: Path
    root_name: str = "教育 CA 根证书"
    issuing_name: str = "教育 CA"
    organisation: str = "教育管理信息系统"
    key_type: str = "ec"  # "ec" (P-256) or "rsa" (3072); "sm2" in the SM2 CA's folder (sm2_ca)
    root_years: int = 20
    issuing_years: int = 10
    user_days: int = 730
    crl_url: str = "http://127.0.0.1:8080/ca/crl.pem"


def new_key(key_type: str) -> PrivateKey:
    if key_type == "ec":
        return ec.generate_private_key(ec.SECP256R1())
    if key_type == "rsa":
        return rsa.generate_private_key(public_exponent=65537, key_size=3072)
    raise InvalidInput(f"密钥类型应为 ec 或 rsa：{key_type}", f"key type must be ec or rsa: {key_type!r}")


def passphrase(folder: Path) -> bytes:
    """The keys' passphrase stays with the service that signs: a 0600 file written at `init`,
    readable by the service's own account only, never taken from anyone's environment."""
    path = folder / "passphrase"
    if not path.is_file():
        raise ServerError("找不到 CA 口令文件 ca/passphrase（由 idm ca init 创建）",
                          "no CA passphrase file ca/passphrase (idm ca init creates it)")
    if path.stat().st_mode & 0o077:
        raise ServerError(f"CA 口令文件 {path} 的权限应为 0600",
                          f"the CA passphrase file {path} must be 0600")
    return path.read_bytes().strip()


def _name(cn: str, org: str) -> x509.Name:
    # cryptography writes these as UTF8String, so Chinese names survive intact
    return x509.Name([x509.NameAttribute(NameOID.ORGANIZATION_NAME, org),
                      x509.NameAttribute(NameOID.COMMON_NAME, cn)])


def _save_key(path: Path, key: PrivateKey, secret: bytes) -> None:
    pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                            serialization.BestAvailableEncryption(secret))
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as handle:
        handle.write(pem)


def load_config(folder: Path) -> CaConfig:
    """The settings the CA was created with (names, validity, CRL URL), from ca.json."""
    path = folder / "ca.json"
    if not path.is_file():
        return CaConfig(folder=folder)
    data = json.loads(path.read_text(encoding="utf-8"))
    return CaConfig(folder=folder, **data)


def prepare(config: CaConfig) -> bool:
    """The CA's folder (0700), its settings and its passphrase file, for `init` of either CA.
    False if the CA already exists."""
    folder = config.folder
    if (folder / "issuing.crt.pem").exists():
        return False
    folder.mkdir(mode=0o700, parents=True, exist_ok=True)
    settings = {k: v for k, v in asdict(config).items() if k != "folder"}
    (folder / "ca.json").write_text(json.dumps(settings, ensure_ascii=False, indent=2), encoding="utf-8")
    if not (folder / "passphrase").exists():  # the operator may choose it, once, at init
        write_secret(folder / "passphrase", os.environ.get("IDM_CA_PASSPHRASE") or secrets.token_urlsafe(32))
    passphrase(folder)  # refuses a passphrase file others can read
    return True


def init(config: CaConfig) -> bool:
    """Create the root and the issuing CA. False if they already exist."""
    if not prepare(config):
        return False
    folder = config.folder
    secret = passphrase(folder)
    now = datetime.now(UTC)
    root_key = new_key(config.key_type)
    root_name = _name(config.root_name, config.organisation)
    root = (x509.CertificateBuilder().subject_name(root_name).issuer_name(root_name)
            .public_key(root_key.public_key()).serial_number(x509.random_serial_number())
            .not_valid_before(now - timedelta(minutes=5))
            .not_valid_after(now + timedelta(days=365 * config.root_years))
            .add_extension(x509.BasicConstraints(ca=True, path_length=1), critical=True)
            .add_extension(_ca_usage(), critical=True)
            .add_extension(x509.SubjectKeyIdentifier.from_public_key(root_key.public_key()), critical=False)
            .sign(root_key, hashes.SHA256()))
    issuing_key = new_key(config.key_type)
    issuing = (x509.CertificateBuilder().subject_name(_name(config.issuing_name, config.organisation))
               .issuer_name(root_name).public_key(issuing_key.public_key())
               .serial_number(x509.random_serial_number())
               .not_valid_before(now - timedelta(minutes=5))
               .not_valid_after(now + timedelta(days=365 * config.issuing_years))
               .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
               .add_extension(_ca_usage(), critical=True)
               .add_extension(x509.SubjectKeyIdentifier.from_public_key(issuing_key.public_key()),
                              critical=False)
               .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(root_key.public_key()),
                              critical=False)
               .sign(root_key, hashes.SHA256()))
    _save_key(folder / "root.key.pem", root_key, secret)
    _save_key(folder / "issuing.key.pem", issuing_key, secret)
    (folder / "root.crt.pem").write_bytes(root.public_bytes(serialization.Encoding.PEM))
    (folder / "issuing.crt.pem").write_bytes(issuing.public_bytes(serialization.Encoding.PEM))
    return True


def _ca_usage() -> x509.KeyUsage:
    return x509.KeyUsage(digital_signature=True, content_commitment=False, key_encipherment=False,
                         data_encipherment=False, key_agreement=False, key_cert_sign=True, crl_sign=True,
                         encipher_only=False, decipher_only=False)


@dataclass(frozen=True)
class Issuer:
    cert: x509.Certificate
    key: PrivateKey
    config: CaConfig

    @property
    def algorithm(self) -> str:
        return self.config.key_type

    def chain_pem(self) -> bytes:
        return chain_pem(self.cert, self.config.folder)


def chain_pem(issuing: x509.Certificate, folder: Path) -> bytes:
    """The issuing CA's certificate, then the root's: what clients are given to trust."""
    return issuing.public_bytes(serialization.Encoding.PEM) + (folder / "root.crt.pem").read_bytes()


def load(config: CaConfig) -> Issuer:
    folder = config.folder
    if not (folder / "issuing.crt.pem").exists():
        raise ServerError("CA 尚未初始化：idm ca init", "the CA is not initialised: idm ca init")
    key = serialization.load_pem_private_key((folder / "issuing.key.pem").read_bytes(), passphrase(folder))
    cert = x509.load_pem_x509_certificate((folder / "issuing.crt.pem").read_bytes())
    assert isinstance(key, (ec.EllipticCurvePrivateKey, rsa.RSAPrivateKey))
    return Issuer(cert, key, config)


@dataclass(frozen=True)
class Subject:
    """Who a certificate is for, as the directory knows them."""

    name: str
    uid: str
    email: str | None
    unit: str


def read_csr(csr_pem: bytes) -> x509.CertificateSigningRequest:
    try:
        return x509.load_pem_x509_csr(csr_pem)
    except ValueError:
        raise InvalidInput("不是有效的 PEM 证书请求（CSR）",
                           "not a valid PEM certificate signing request") from None


def check_csr(csr_pem: bytes, subject: Subject) -> x509.CertificateSigningRequest:
    """The CSR's signature must verify and its subject must be the directory identity."""
    csr = read_csr(csr_pem)
    try:
        valid = csr.is_signature_valid
    except UnsupportedAlgorithm:  # an SM2 key: the SM2 CA's business, not this one's
        raise InvalidInput("此 CA 不接受这种密钥；SM2 证书请求须交国密 CA（--algorithm sm2）",
                           "this CA does not take such a key; an SM2 CSR goes to the SM2 CA "
                           "(--algorithm sm2)") from None
    if not valid:
        raise InvalidInput("证书请求的签名无效", "the CSR's signature does not verify")
    check_identity(csr, subject)
    return csr


def check_identity(csr: x509.CertificateSigningRequest, subject: Subject) -> None:
    """The CSR's CN, and its UID if it has one, must be the directory identity's."""
    cns = [a.value for a in csr.subject.get_attributes_for_oid(NameOID.COMMON_NAME)]
    uids = [a.value for a in csr.subject.get_attributes_for_oid(NameOID.USER_ID)]
    if cns != [subject.name]:
        raise InvalidInput(f"证书请求的姓名（CN）与目录不符：{cns}",
                           f"the CSR's CN {cns} is not {subject.name!r}")
    if uids and uids != [subject.uid]:
        raise InvalidInput(f"证书请求的账号（UID）与目录不符：{uids}",
                           f"the CSR's UID {uids} is not {subject.uid!r}")


def issue(issuer: Issuer, public_key: object, subject: Subject) -> x509.Certificate:
    """The user profile: client authentication and e-mail protection, name and uid in the
    subject, e-mail in the SAN, CRL distribution point, validity from configuration."""
    now = datetime.now(UTC)
    name = x509.Name([x509.NameAttribute(NameOID.ORGANIZATION_NAME, issuer.config.organisation),
                      x509.NameAttribute(NameOID.ORGANIZATIONAL_UNIT_NAME, subject.unit),
                      x509.NameAttribute(NameOID.COMMON_NAME, subject.name),
                      x509.NameAttribute(NameOID.USER_ID, subject.uid)])
    is_rsa = isinstance(public_key, rsa.RSAPublicKey)
    builder = (x509.CertificateBuilder().subject_name(name).issuer_name(issuer.cert.subject)
               .public_key(public_key).serial_number(x509.random_serial_number())  # type: ignore[arg-type]
               .not_valid_before(now - timedelta(minutes=5))
               .not_valid_after(now + timedelta(days=issuer.config.user_days))
               .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
               .add_extension(x509.KeyUsage(digital_signature=True, content_commitment=False,
                                            key_encipherment=is_rsa, data_encipherment=False,
                                            key_agreement=not is_rsa, key_cert_sign=False, crl_sign=False,
                                            encipher_only=False, decipher_only=False), critical=True)
               .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.CLIENT_AUTH,
                                                     ExtendedKeyUsageOID.EMAIL_PROTECTION]), critical=False)
               .add_extension(x509.CRLDistributionPoints([x509.DistributionPoint(
                   full_name=[x509.UniformResourceIdentifier(issuer.config.crl_url)], relative_name=None,
                   reasons=None, crl_issuer=None)]), critical=False)
               .add_extension(x509.SubjectKeyIdentifier.from_public_key(public_key), critical=False)  # type: ignore[arg-type]
               .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(
                   issuer.key.public_key()), critical=False))
    if subject.email:
        builder = builder.add_extension(x509.SubjectAlternativeName([x509.RFC822Name(subject.email)]),
                                        critical=False)
    return builder.sign(issuer.key, hashes.SHA256())


def pkcs12_bundle(issuer: Issuer, subject: Subject) -> tuple[bytes, str, x509.Certificate]:
    """A new key and its certificate as PKCS#12 under a one-time password; the key is not kept."""
    key = new_key(issuer.config.key_type)
    cert = issue(issuer, key.public_key(), subject)
    password = secrets.token_urlsafe(12)
    blob = pkcs12.serialize_key_and_certificates(
        subject.uid.encode(), key, cert, [issuer.cert],
        serialization.BestAvailableEncryption(password.encode()))
    return blob, password, cert


REASONS = {"affiliation_changed": x509.ReasonFlags.affiliation_changed,
           "cessation_of_operation": x509.ReasonFlags.cessation_of_operation,
           "key_compromise": x509.ReasonFlags.key_compromise,
           "superseded": x509.ReasonFlags.superseded,
           "unspecified": x509.ReasonFlags.unspecified}


def crl(issuer: Issuer, revoked: list[tuple[int, datetime, str]], days: int = 7) -> bytes:
    """A CRL signed by the issuing CA listing (serial, when, reason)."""
    now = datetime.now(UTC)
    builder = (x509.CertificateRevocationListBuilder().issuer_name(issuer.cert.subject)
               .last_update(now - timedelta(minutes=5)).next_update(now + timedelta(days=days))
               .add_extension(x509.CRLNumber(int(now.timestamp())), critical=False)
               .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(issuer.key.public_key()),
                              critical=False))
    for serial, when, reason in revoked:
        builder = builder.add_revoked_certificate(
            x509.RevokedCertificateBuilder().serial_number(serial).revocation_date(when)
            .add_extension(x509.CRLReason(REASONS.get(reason, x509.ReasonFlags.unspecified)), critical=False)
            .build())
    return builder.sign(issuer.key, hashes.SHA256()).public_bytes(serialization.Encoding.PEM)
