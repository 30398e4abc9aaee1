"""Which education CA signs: the EC/RSA one (folder `ca`) or the SM2 one (folder `ca-sm2`).
A deployment may run both; a certificate record names the algorithm it was issued under, so
its revocation lands on the CRL of the CA that issued it.
"""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

from cryptography import x509

from idm import labels
from idm.errors import InvalidInput, ServerError
from idm.pki import ca, sm2, sm2_ca

AnyIssuer = ca.Issuer | sm2_ca.Sm2Issuer
ALGORITHMS = ("sm2", "ec")  # what an application may ask for; "ec" is the `ca` folder (EC or RSA)
FOLDERS = {"sm2": "ca-sm2", "ec": "ca"}


def folder(data_dir: Path, algorithm: str) -> Path:
    if algorithm not in FOLDERS:
        raise InvalidInput(f"证书算法应为：{'、'.join(ALGORITHMS)}",
                           f"the certificate algorithm must be one of: {', '.join(ALGORITHMS)}")
    return data_dir / FOLDERS[algorithm]


def available(data_dir: Path) -> list[str]:
    """The CAs initialised in this data folder, SM2 first."""
    return [a for a in ALGORITHMS if (folder(data_dir, a) / "issuing.crt.pem").is_file()]


def default_algorithm(data_dir: Path) -> str:
    """SM2 where its CA exists (the national algorithm, 密评), else the EC/RSA CA: a deployment
    with only the EC CA keeps working as it did."""
    found = available(data_dir)
    return found[0] if found else "ec"


def load(data_dir: Path, algorithm: str | None = None) -> AnyIssuer:
    algorithm = algorithm or default_algorithm(data_dir)
    config = ca.load_config(folder(data_dir, algorithm))
    if algorithm == "sm2":
        return sm2_ca.load(config)
    return ca.load(config)


def family(algorithm: str | None) -> str:
    """The CA a record's algorithm belongs to: "sm2", or "ec" for the `ca` folder (EC or RSA)."""
    return "sm2" if algorithm == "sm2" else "ec"


def algorithm_of(cert: x509.Certificate) -> str:
    """"sm2", "ec" or "rsa", read off the certificate's signature."""
    if cert.signature_algorithm_oid == sm2.SM2_WITH_SM3:
        return "sm2"
    return "rsa" if cert.signature_algorithm_oid.dotted_string.startswith("1.2.840.113549.") else "ec"


def label(algorithm: str, lang: str = "zh") -> str:
    return labels.label("cert_algorithm", algorithm, lang)


def issue_from_csr(issuer: AnyIssuer, csr_pem: bytes, subject: ca.Subject) -> x509.Certificate:
    if isinstance(issuer, sm2_ca.Sm2Issuer):
        sm2_ca.check_csr(csr_pem, subject)
        return sm2_ca.issue(issuer, csr_pem, subject)
    return ca.issue(issuer, ca.check_csr(csr_pem, subject).public_key(), subject)


def pkcs12_bundle(issuer: AnyIssuer, subject: ca.Subject,
                  cipher: str | None = None) -> tuple[bytes, str, x509.Certificate]:
    """A key and its certificate as PKCS#12. SM2: under SM4 unless the user picks AES-256
    (`cipher="aes256"`); EC/RSA: AES-256 as before."""
    if isinstance(issuer, sm2_ca.Sm2Issuer):
        return sm2_ca.pkcs12_bundle(issuer, subject, cipher or "sm4")
    if cipher not in (None, "aes256"):
        raise InvalidInput("SM4 保护的 PKCS#12 只用于国密证书",
                           "SM4-protected PKCS#12 is for SM2 certificates only")
    return ca.pkcs12_bundle(issuer, subject)


def crl(issuer: AnyIssuer, revoked: list[tuple[int, datetime, str]], days: int = 7) -> bytes:
    if isinstance(issuer, sm2_ca.Sm2Issuer):
        return sm2_ca.crl(issuer, revoked, days)
    return ca.crl(issuer, revoked, days)


def require(data_dir: Path, algorithm: str) -> None:
    """Refuse an application for a CA this deployment has not set up."""
    if algorithm not in available(data_dir):
        command = "idm ca init --algorithm sm2" if algorithm == "sm2" else "idm ca init"
        raise ServerError(f"{label(algorithm)} CA 尚未初始化：{command}",
                          f"the {label(algorithm, 'en')} CA is not initialised: {command}")
