"""`idm cert verify`: does a certificate chain to this deployment's education CA, is it within
its validity, and is it off the CRL? For SM2 chains this is the check `openssl verify` cannot
make in 3.0 (it loses the distinguishing ID above the leaf, openssl issue #23471, and fails on
SM2 CRLs); for EC/RSA chains it is the same check, made the same way.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from cryptography import x509
from cryptography.exceptions import InvalidSignature, UnsupportedAlgorithm

from idm.errors import InvalidInput
from idm.pki import authority, sm2


@dataclass(frozen=True)
class Problem:
    zh: str
    en: str


@dataclass
class Verdict:
    subject: str
    serial: int
    algorithm: str
    not_after: datetime
    problems: list[Problem] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems


def _signed_by(tbs: bytes, signature: bytes, algorithm: str, issuer: x509.Certificate,
               child: x509.Certificate | None = None) -> bool:
    if algorithm == "sm2":
        return sm2.verify(sm2.certificate_public_pem(issuer), tbs, signature)
    try:
        if child is not None:
            child.verify_directly_issued_by(issuer)
            return True
    except (InvalidSignature, ValueError, TypeError, UnsupportedAlgorithm):
        return False
    return False


def _crl_signed_by(crl: x509.CertificateRevocationList, issuer: x509.Certificate) -> bool:
    if crl.signature_algorithm_oid == sm2.SM2_WITH_SM3:
        return sm2.verify(sm2.certificate_public_pem(issuer), crl.tbs_certlist_bytes, crl.signature)
    try:
        return crl.is_signature_valid(issuer.public_key())  # type: ignore[arg-type]
    except Exception:  # a key cryptography cannot load cannot have signed an EC/RSA CRL
        return False


def load_leaf(pem: bytes) -> x509.Certificate:
    try:
        found = x509.load_pem_x509_certificates(pem)
    except ValueError:
        try:
            found = [x509.load_der_x509_certificate(pem)]
        except ValueError:
            raise InvalidInput("不是 PEM 或 DER 格式的证书", "not a PEM or DER certificate") from None
    return found[0]


def verify(data_dir: Path, pem: bytes, at: datetime | None = None) -> Verdict:
    """Check the first certificate in `pem` against the CA of its algorithm in `data_dir`."""
    at = at or datetime.now(UTC)
    leaf = load_leaf(pem)
    algorithm = authority.algorithm_of(leaf)
    verdict = Verdict(leaf.subject.rfc4514_string(), leaf.serial_number, algorithm, leaf.not_valid_after_utc)
    folder = authority.folder(data_dir, authority.family(algorithm))
    if not (folder / "issuing.crt.pem").is_file():
        verdict.problems.append(Problem(f"本机没有{authority.label(algorithm)}的 CA",
                                        f"no {authority.label(algorithm, 'en')} CA here"))
        return verdict
    try:
        issuing = x509.load_pem_x509_certificate((folder / "issuing.crt.pem").read_bytes())
        root = x509.load_pem_x509_certificate((folder / "root.crt.pem").read_bytes())
    except (OSError, ValueError):
        verdict.problems.append(Problem(f"CA 文件缺失或损坏：{folder}",
                                        f"the CA's files are missing or damaged: {folder}"))
        return verdict
    links = [(leaf, issuing, "证书", "certificate"), (issuing, root, "签发 CA", "issuing CA"),
             (root, root, "根 CA", "root CA")]
    for child, parent, zh, en in links:
        child_alg = authority.algorithm_of(child)
        if child.issuer != parent.subject or not _signed_by(child.tbs_certificate_bytes, child.signature,
                                                            child_alg, parent, child):
            verdict.problems.append(Problem(f"{zh}不是本教育 CA 签发的（签名不符）",
                                            f"the {en} was not signed by this education CA"))
            return verdict
        if not child.not_valid_before_utc <= at <= child.not_valid_after_utc:
            start, end = f"{child.not_valid_before_utc:%Y-%m-%d}", f"{child.not_valid_after_utc:%Y-%m-%d}"
            verdict.problems.append(Problem(f"{zh}不在有效期内（{start} 至 {end}）",
                                            f"the {en} is outside its validity ({start} to {end})"))
    verdict.problems.extend(_revocation(folder, issuing, leaf, at))
    return verdict


def _revocation(folder: Path, issuing: x509.Certificate, leaf: x509.Certificate,
                at: datetime) -> list[Problem]:
    path = folder / "crl.pem"
    if not path.is_file():
        return [Problem("没有吊销列表，无法确认未被吊销（idm ca crl）",
                        "no CRL, so revocation cannot be checked (idm ca crl)")]
    try:
        crl = x509.load_pem_x509_crl(path.read_bytes())
    except ValueError:
        return [Problem(f"吊销列表已损坏：{path}", f"the CRL is damaged: {path}")]
    if crl.issuer != issuing.subject or not _crl_signed_by(crl, issuing):
        return [Problem("吊销列表的签名不符", "the CRL's signature does not verify")]
    problems = []
    if crl.next_update_utc is not None and crl.next_update_utc < at:
        problems.append(Problem(f"吊销列表已过期（应于 {crl.next_update_utc:%Y-%m-%d} 前更新，idm ca crl）",
                                f"the CRL is out of date (next update was {crl.next_update_utc:%Y-%m-%d})"))
    entry = crl.get_revoked_certificate_by_serial_number(leaf.serial_number)
    if entry is not None:
        problems.append(Problem(f"证书已于 {entry.revocation_date_utc:%Y-%m-%d} 吊销",
                                f"the certificate was revoked on {entry.revocation_date_utc:%Y-%m-%d}"))
    return problems
