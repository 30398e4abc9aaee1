"""The SM2 education CA (密评 8.4): every signature it makes (root, issuing CA, user
certificates, CRLs) is checked twice, by OpenSSL 3 given the standard distinguishing ID and by
gmalg, an independent pure-Python SM2; `idm cert verify`'s checker accepts a good chain and
refuses a revoked, an expired and a foreign one; PKCS#12 comes under SM4 or AES-256."""

from __future__ import annotations

import subprocess
from datetime import UTC, datetime, timedelta
from pathlib import Path

import gmalg
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.utils import decode_dss_signature
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from idm.errors import InvalidInput
from idm.pki import authority, ca, sm2, sm2_ca
from idm.pki import verify as chain

SUBJECT = ca.Subject(name="阿拉坦·其其格", uid="alatan", email="alatan@demo.edu.cn", unit="新城区/第一中学")
DISTID = b"1234567812345678"


def gmalg_verifies(signer: x509.Certificate, tbs: bytes, signature: bytes) -> bool:
    """Independent check: gmalg's SM2 with the standard ID over the signer's public point."""
    spki = subprocess.run(["openssl", "pkey", "-pubin", "-outform", "DER"], capture_output=True, check=True,
                          input=sm2.certificate_public_pem(signer)).stdout
    point = spki[-65:]  # the uncompressed point 04||x||y closes the SubjectPublicKeyInfo
    assert point[0] == 4
    r, s = decode_dss_signature(signature)
    return bool(gmalg.SM2(pk=point, uid=DISTID).verify(tbs, r.to_bytes(32, "big"), s.to_bytes(32, "big")))


def sm2_csr(tmp: Path, cn: str, uid: str, distid: bool = True) -> bytes:
    key = tmp / f"{uid}-{distid}.key"
    sm2.new_key(key, None)
    opts = ["-sm3", "-sigopt", "distid:1234567812345678"] if distid else ["-sm3"]
    return subprocess.run(["openssl", "req", "-new", "-utf8", "-key", str(key), *opts, "-subj",
                           f"/CN={cn}/UID={uid}"], capture_output=True, check=True).stdout


@pytest.fixture(scope="module")
def data_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("data")
    config = ca.CaConfig(folder=folder / "ca-sm2", key_type="sm2", root_name="教育 CA 根证书（SM2）",
                         issuing_name="教育 CA（SM2）", crl_url="http://127.0.0.1:8080/ca/sm2/crl.pem")
    assert sm2_ca.init(config) is True
    assert sm2_ca.init(config) is False
    return folder


@pytest.fixture(scope="module")
def issuer(data_dir: Path) -> sm2_ca.Sm2Issuer:
    loaded = authority.load(data_dir, "sm2")
    assert isinstance(loaded, sm2_ca.Sm2Issuer)
    return loaded


def root_of(issuer: sm2_ca.Sm2Issuer) -> x509.Certificate:
    return x509.load_pem_x509_certificate((issuer.config.folder / "root.crt.pem").read_bytes())


def test_keys_are_sm4_encrypted_0600_files(issuer: sm2_ca.Sm2Issuer) -> None:
    for name in ("root.key.pem", "issuing.key.pem", "passphrase"):
        assert (issuer.config.folder / name).stat().st_mode & 0o777 == 0o600
    key = (issuer.config.folder / "issuing.key.pem").read_bytes()
    assert b"ENCRYPTED PRIVATE KEY" in key
    listing = subprocess.run(["openssl", "asn1parse"], input=key, capture_output=True, check=True).stdout
    assert b"sm4-cbc" in listing.lower()


def test_root_and_issuing_ca_are_sm2_with_sm3_and_verify_twice(issuer: sm2_ca.Sm2Issuer) -> None:
    root = root_of(issuer)
    for cert, signer in ((root, root), (issuer.cert, root)):
        assert cert.signature_algorithm_oid == sm2.SM2_WITH_SM3
        assert sm2.names_sm2_curve(cert.public_bytes(serialization.Encoding.DER))
        assert gmalg_verifies(signer, cert.tbs_certificate_bytes, cert.signature)
    assert issuer.cert.extensions.get_extension_for_class(x509.BasicConstraints).value.path_length == 0
    assert issuer.cert.subject.get_attributes_for_oid(NameOID.COMMON_NAME)[0].value == "教育 CA（SM2）"
    # OpenSSL 3, one link at a time, given the ID; without it the same check fails
    args = ["openssl", "verify", "-CAfile", str(issuer.config.folder / "root.crt.pem"), str(issuer.cert_file)]
    assert subprocess.run([*args[:2], "-vfyopt", "distid:1234567812345678", *args[2:]],
                          capture_output=True).returncode == 0
    assert subprocess.run(args, capture_output=True).returncode != 0


def test_user_certificate_from_an_sm2_csr_in_the_gmt_0015_profile(issuer: sm2_ca.Sm2Issuer,
                                                                  tmp_path: Path) -> None:
    cert = authority.issue_from_csr(issuer, sm2_csr(tmp_path, "阿拉坦·其其格", "alatan"), SUBJECT)
    assert cert.signature_algorithm_oid == sm2.SM2_WITH_SM3
    assert authority.algorithm_of(cert) == "sm2"
    assert gmalg_verifies(issuer.cert, cert.tbs_certificate_bytes, cert.signature)
    names = {a.oid: a.value for a in cert.subject}
    assert names[NameOID.COMMON_NAME] == "阿拉坦·其其格" and names[NameOID.USER_ID] == "alatan"
    assert names[NameOID.ORGANIZATIONAL_UNIT_NAME] == "新城区/第一中学"  # the escaped "/" survives
    usage = cert.extensions.get_extension_for_class(x509.KeyUsage)
    assert usage.critical and usage.value.digital_signature and usage.value.content_commitment
    assert not usage.value.key_cert_sign
    eku = cert.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value
    assert ExtendedKeyUsageOID.CLIENT_AUTH in eku and ExtendedKeyUsageOID.EMAIL_PROTECTION in eku
    san = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert san.get_values_for_type(x509.RFC822Name) == ["alatan@demo.edu.cn"]
    points = cert.extensions.get_extension_for_class(x509.CRLDistributionPoints).value
    assert points[0].full_name[0].value == "http://127.0.0.1:8080/ca/sm2/crl.pem"
    assert cert.not_valid_after_utc - cert.not_valid_before_utc >= timedelta(days=730)
    # OpenSSL 3 checks the leaf against the issuing CA, given the ID
    (tmp_path / "leaf.pem").write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    done = subprocess.run(["openssl", "verify", "-vfyopt", "distid:1234567812345678", "-partial_chain",
                           "-CAfile", str(issuer.cert_file), str(tmp_path / "leaf.pem")], capture_output=True)
    assert done.returncode == 0, done.stderr


@pytest.mark.parametrize(("what", "match"), [
    ("ec", "SM2 key"), ("no-distid", "ID 1234567812345678"), ("cn", "CN"), ("uid", "UID"),
    ("garbage", "PEM")])
def test_csrs_the_sm2_ca_refuses(issuer: sm2_ca.Sm2Issuer, tmp_path: Path, what: str, match: str) -> None:
    if what == "ec":
        key = tmp_path / "ec.key"
        subprocess.run(["openssl", "genpkey", "-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-256",
                        "-out", str(key)], check=True, capture_output=True)
        csr = subprocess.run(["openssl", "req", "-new", "-key", str(key), "-subj", "/CN=x/UID=alatan"],
                             capture_output=True, check=True).stdout
    elif what == "garbage":
        csr = b"-----BEGIN CERTIFICATE REQUEST-----\nbad\n-----END CERTIFICATE REQUEST-----\n"
    else:
        csr = sm2_csr(tmp_path, "别人" if what == "cn" else SUBJECT.name,
                      "someone" if what == "uid" else "alatan", distid=what != "no-distid")
    with pytest.raises(InvalidInput, match=match):
        authority.issue_from_csr(issuer, csr, SUBJECT)


@pytest.mark.parametrize(("cipher", "named", "mac"), [("sm4", "SM4-CBC", "sm3"),
                                                     ("aes256", "AES-256-CBC", "sha256")])
def test_pkcs12_under_sm4_or_aes256(issuer: sm2_ca.Sm2Issuer, tmp_path: Path, cipher: str, named: str,
                                    mac: str) -> None:
    blob, password, cert = authority.pkcs12_bundle(issuer, SUBJECT, cipher)
    (tmp_path / "p.p12").write_bytes(blob)
    (tmp_path / "pw").write_text(password)
    info = subprocess.run(["openssl", "pkcs12", "-in", str(tmp_path / "p.p12"), "-passin",
                           f"file:{tmp_path / 'pw'}", "-info", "-noout"], capture_output=True, text=True)
    assert info.returncode == 0
    assert f"Shrouded Keybag: PBES2, PBKDF2, {named}" in info.stderr and f"MAC: {mac}" in info.stderr
    opened = subprocess.run(["openssl", "pkcs12", "-in", str(tmp_path / "p.p12"), "-passin",
                             f"file:{tmp_path / 'pw'}", "-nodes"], capture_output=True, text=True)
    assert "PRIVATE KEY" in opened.stdout and gmalg_verifies(issuer.cert, cert.tbs_certificate_bytes,
                                                             cert.signature)
    (tmp_path / "pw").write_text("wrong")
    assert subprocess.run(["openssl", "pkcs12", "-in", str(tmp_path / "p.p12"), "-passin",
                           f"file:{tmp_path / 'pw'}", "-noout"], capture_output=True).returncode != 0
    with pytest.raises(InvalidInput, match="cipher"):
        authority.pkcs12_bundle(issuer, SUBJECT, "des")


def test_crl_signed_with_sm2_and_the_verifier(issuer: sm2_ca.Sm2Issuer, data_dir: Path,
                                              tmp_path: Path) -> None:
    good = authority.issue_from_csr(issuer, sm2_csr(tmp_path, SUBJECT.name, "alatan"), SUBJECT)
    revoked = authority.issue_from_csr(issuer, sm2_csr(tmp_path, SUBJECT.name, "alatan"), SUBJECT)
    pem = {c: c.public_bytes(serialization.Encoding.PEM) for c in (good, revoked)}
    no_crl = chain.verify(data_dir, pem[good])
    assert [p.en for p in no_crl.problems] == ["no CRL, so revocation cannot be checked (idm ca crl)"]

    crl_pem = authority.crl(issuer, [(revoked.serial_number, datetime.now(UTC), "affiliation_changed")])
    crl = x509.load_pem_x509_crl(crl_pem)
    assert crl.signature_algorithm_oid == sm2.SM2_WITH_SM3
    assert gmalg_verifies(issuer.cert, crl.tbs_certlist_bytes, crl.signature)
    assert sm2.verify(sm2.certificate_public_pem(issuer.cert), crl.tbs_certlist_bytes, crl.signature)
    entry = crl.get_revoked_certificate_by_serial_number(revoked.serial_number)
    assert entry is not None and entry.extensions.get_extension_for_class(x509.CRLReason).value.reason == \
        x509.ReasonFlags.affiliation_changed
    (data_dir / "ca-sm2" / "crl.pem").write_bytes(crl_pem)

    ok = chain.verify(data_dir, pem[good])
    assert ok.ok and ok.algorithm == "sm2", ok.problems
    assert [p.en for p in chain.verify(data_dir, pem[revoked]).problems] == [
        f"the certificate was revoked on {datetime.now(UTC):%Y-%m-%d}"]
    later = chain.verify(data_dir, pem[good], at=datetime.now(UTC) + timedelta(days=800))
    assert any("outside its validity" in p.en for p in later.problems)
    assert any("CRL is out of date" in p.en for p in later.problems)


def test_a_certificate_of_another_sm2_ca_with_the_same_names_is_refused(data_dir: Path,
                                                                       tmp_path: Path) -> None:
    other = ca.CaConfig(folder=tmp_path / "ca-sm2", key_type="sm2", root_name="教育 CA 根证书（SM2）",
                        issuing_name="教育 CA（SM2）")
    sm2_ca.init(other)
    foreign = authority.issue_from_csr(sm2_ca.load(other), sm2_csr(tmp_path, SUBJECT.name, "alatan"), SUBJECT)
    verdict = chain.verify(data_dir, foreign.public_bytes(serialization.Encoding.PEM))
    assert [p.en for p in verdict.problems] == ["the certificate was not signed by this education CA"]
    tampered = bytearray(foreign.public_bytes(serialization.Encoding.DER))
    tampered[-10] ^= 0x01
    with pytest.raises(InvalidInput):
        chain.load_leaf(b"not a certificate")
    assert not chain.verify(tmp_path, bytes(tampered)).ok


def test_an_ec_deployment_verifies_as_before(tmp_path: Path) -> None:
    config = ca.CaConfig(folder=tmp_path / "ca")
    ca.init(config)
    issuer = authority.load(tmp_path)
    assert isinstance(issuer, ca.Issuer) and authority.default_algorithm(tmp_path) == "ec"
    blob, _password, cert = authority.pkcs12_bundle(issuer, SUBJECT)
    assert authority.algorithm_of(cert) == "ec"
    (tmp_path / "ca" / "crl.pem").write_bytes(authority.crl(issuer, []))
    assert chain.verify(tmp_path, cert.public_bytes(serialization.Encoding.PEM)).ok
    (tmp_path / "ca" / "crl.pem").write_bytes(authority.crl(issuer, [(cert.serial_number, datetime.now(UTC),
                                                                      "superseded")]))
    assert not chain.verify(tmp_path, cert.public_bytes(serialization.Encoding.PEM)).ok
    with pytest.raises(InvalidInput, match="SM4"):
        authority.pkcs12_bundle(issuer, SUBJECT, "sm4")


def test_an_sm2_csr_sent_to_the_ec_ca_is_refused_with_a_pointer(tmp_path: Path) -> None:
    ca.init(ca.CaConfig(folder=tmp_path / "ca"))
    with pytest.raises(InvalidInput, match="--algorithm sm2"):
        authority.issue_from_csr(authority.load(tmp_path, "ec"), sm2_csr(tmp_path, SUBJECT.name, "alatan"),
                                 SUBJECT)
