"""The education CA on the national algorithms (R19, 密评 8.4): an SM2 root and issuing CA,
user certificates signed SM2-with-SM3 in the GM/T 0015 profile, SM2 CSRs, CRLs signed with SM2,
and PKCS#12 files under SM4 (or AES-256, for clients that lack SM4).

It sits in its own folder (`ca-sm2`), apart from the EC/RSA CA (`ca`), so a deployment may run
both. Its keys are SM4-encrypted PKCS#8 files (0600) under the passphrase file beside them, as
the EC CA's are; the signing goes through `openssl` (see `idm.pki.sm2`), whose `ca` command is
fed a database made afresh from the directory's records each time, so nothing but the keys and
certificates is kept on disk.
"""

from __future__ import annotations

import re
import secrets
import tempfile
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import serialization

from idm.errors import InvalidInput, ServerError
from idm.ops.bootstrap import write_secret
from idm.pki import sm2
from idm.pki.ca import CaConfig, Subject, chain_pem, check_identity, passphrase, prepare, read_csr

P12_CIPHERS = {"sm4": "SM4-CBC", "aes256": "AES-256-CBC"}
_OPENSSL_REASONS = {"affiliation_changed": "affiliationChanged",
                    "cessation_of_operation": "cessationOfOperation", "key_compromise": "keyCompromise",
                    "superseded": "superseded", "unspecified": "unspecified"}
_EMAIL = re.compile(r"^[^\s,:;\\/]+@[^\s,:;\\/]+$")

# Extensions and the `openssl ca` settings. Values that come from the directory or the
# configuration reach openssl through the environment ($ENV::...), never pasted into this text.
_CONFIG = """\
[ca]
default_ca = education
[education]
database = $ENV::IDM_CA_DB/index.txt
new_certs_dir = $ENV::IDM_CA_DB
crlnumber = $ENV::IDM_CA_DB/crlnumber
serial = $ENV::IDM_CA_DB/serial
default_md = sm3
policy = anything
unique_subject = no
copy_extensions = none
crl_extensions = crl_ext
[anything]
organizationName = optional
organizationalUnitName = optional
commonName = supplied
userId = optional
[root]
basicConstraints = critical,CA:true,pathlen:1
keyUsage = critical,digitalSignature,keyCertSign,cRLSign
subjectKeyIdentifier = hash
[issuing]
basicConstraints = critical,CA:true,pathlen:0
keyUsage = critical,digitalSignature,keyCertSign,cRLSign
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid:always
[crl_ext]
authorityKeyIdentifier = keyid:always
[req]
distinguished_name = dn
[dn]
[user]
basicConstraints = critical,CA:false
keyUsage = critical,digitalSignature,nonRepudiation
extendedKeyUsage = clientAuth,emailProtection
crlDistributionPoints = URI:$ENV::IDM_CRL_URL
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid:always
"""
_SAN = "subjectAltName = email:$ENV::IDM_SAN_EMAIL\n"  # the user section's last line, with an e-mail


def _subj(pairs: list[tuple[str, str]]) -> str:
    """An openssl `-subj` string; `\\`, `/` and `+` in a value are escaped, as it parses them."""
    def esc(value: str) -> str:
        return re.sub(r"([\\/+])", r"\\\1", value)
    return "".join(f"/{k}={esc(v)}" for k, v in pairs)


class _Workspace:
    """A private temporary folder with the openssl configuration and an empty database."""

    def __init__(self, crl_url: str = "", email: str = "") -> None:
        self._tmp = tempfile.TemporaryDirectory(prefix="idm-sm2ca-")
        self.path = Path(self._tmp.name)
        self.config = self.path / "openssl.cnf"
        self.config.write_text(_CONFIG + (_SAN if email else ""), encoding="utf-8")
        (self.path / "index.txt").write_text("", encoding="ascii")
        (self.path / "serial").write_text("01\n", encoding="ascii")
        (self.path / "crlnumber").write_text(f"{int(datetime.now(UTC).timestamp()):x}\n", encoding="ascii")
        # the values reach openssl's configuration through its own environment, not the process's
        self.env = {"IDM_CA_DB": str(self.path), "IDM_CRL_URL": crl_url or "-", "IDM_SAN_EMAIL": email or "-"}

    def run(self, *args: str | Path) -> bytes:
        return sm2.openssl(*args, env=self.env)

    def __enter__(self) -> _Workspace:
        return self

    def __exit__(self, *exc: object) -> None:
        self._tmp.cleanup()


def init(config: CaConfig) -> bool:
    """Create the SM2 root and issuing CA. False if they already exist."""
    if not prepare(config):
        return False
    folder = config.folder
    pw = folder / "passphrase"
    root_key, issuing_key = folder / "root.key.pem", folder / "issuing.key.pem"
    sm2.new_key(root_key, pw)
    sm2.new_key(issuing_key, pw)
    root_subj = _subj([("O", config.organisation), ("CN", config.root_name)])
    with _Workspace() as ws:
        ws.run("req", "-new", "-x509", "-utf8", "-config", ws.config, "-extensions", "root",
                    "-key", *sm2.key_args(root_key, pw), *sm2.SIGN_OPTS, "-subj", root_subj,
                    "-days", str(365 * config.root_years), "-set_serial", _serial(),
                    "-out", folder / "root.crt.pem")
        csr = ws.path / "issuing.csr"
        ws.run("req", "-new", "-utf8", "-config", ws.config, "-key", *sm2.key_args(issuing_key, pw),
                    *sm2.SIGN_OPTS, "-subj", _subj([("O", config.organisation), ("CN", config.issuing_name)]),
                    "-out", csr)
        ws.run("x509", "-req", "-in", csr, "-CA", folder / "root.crt.pem",
                    "-CAkey", *sm2.key_args(root_key, pw), *sm2.SIGN_OPTS, *sm2.VERIFY_OPTS,
                    "-set_serial", _serial(), "-days", str(365 * config.issuing_years),
                    "-extfile", ws.config, "-extensions", "issuing", "-out", folder / "issuing.crt.pem")
    return True


def _serial() -> str:
    return f"0x{x509.random_serial_number():x}"


@dataclass(frozen=True)
class Sm2Issuer:
    """The SM2 issuing CA: its certificate, and where its key and passphrase files are."""

    cert: x509.Certificate
    config: CaConfig
    algorithm: str = "sm2"

    @property
    def cert_file(self) -> Path:
        return self.config.folder / "issuing.crt.pem"

    @property
    def key_file(self) -> Path:
        return self.config.folder / "issuing.key.pem"

    @property
    def passphrase_file(self) -> Path:
        return self.config.folder / "passphrase"

    def chain_pem(self) -> bytes:
        return chain_pem(self.cert, self.config.folder)


def load(config: CaConfig) -> Sm2Issuer:
    folder = config.folder
    if not (folder / "issuing.crt.pem").exists():
        raise ServerError("国密 CA 尚未初始化：idm ca init --algorithm sm2",
                          "the SM2 CA is not initialised: idm ca init --algorithm sm2")
    passphrase(folder)  # present and 0600
    return Sm2Issuer(x509.load_pem_x509_certificate((folder / "issuing.crt.pem").read_bytes()), config)


def check_csr(csr_pem: bytes, subject: Subject) -> None:
    """An SM2 CSR whose SM2-with-SM3 signature verifies with the standard ID, for the
    directory identity (CN, and UID if given)."""
    csr = read_csr(csr_pem)
    der = csr.public_bytes(serialization.Encoding.DER)
    if csr.signature_algorithm_oid != sm2.SM2_WITH_SM3 or not sm2.names_sm2_curve(der):
        raise InvalidInput("国密 CA 只接受 SM2 密钥、SM2-with-SM3 签名的证书请求",
                           "the SM2 CA accepts only CSRs with an SM2 key, signed SM2-with-SM3")
    if not sm2.csr_signature_ok(der):
        raise InvalidInput(f"证书请求的签名无效（SM2 签名须使用标准标识 {sm2.DISTID}）",
                           f"the CSR's signature does not verify (SM2 with the ID {sm2.DISTID})")
    check_identity(csr, subject)


def issue(issuer: Sm2Issuer, csr_pem: bytes, subject: Subject) -> x509.Certificate:
    """The user profile (GM/T 0015): signature certificate for client authentication and
    e-mail protection; the subject is the directory's, whatever the CSR said."""
    email = subject.email if subject.email and _EMAIL.match(subject.email) else ""
    subj = _subj([("O", issuer.config.organisation), ("OU", subject.unit), ("CN", subject.name),
                  ("UID", subject.uid)])
    start = (datetime.now(UTC) - timedelta(minutes=5)).strftime("%Y%m%d%H%M%SZ")
    end = (datetime.now(UTC) + timedelta(days=issuer.config.user_days)).strftime("%Y%m%d%H%M%SZ")
    with _Workspace(issuer.config.crl_url, email) as ws:
        (ws.path / "in.csr").write_bytes(csr_pem)
        ws.run("ca", "-batch", "-notext", "-utf8", "-preserveDN", "-rand_serial", "-config", ws.config,
                    "-extensions", "user", "-cert", issuer.cert_file,
                    "-keyfile", *sm2.key_args(issuer.key_file, issuer.passphrase_file),
                    "-md", "sm3", "-sigopt", f"distid:{sm2.DISTID}", *sm2.VERIFY_OPTS,
                    "-startdate", start, "-enddate", end, "-subj", subj,
                    "-in", ws.path / "in.csr", "-out", ws.path / "out.pem")
        out = ws.path / "out.pem"
        if not out.is_file() or not out.stat().st_size:  # openssl ca may refuse and still exit 0
            raise ServerError("国密 CA 未能签发证书（openssl ca 未输出证书）",
                              "the SM2 CA issued nothing (openssl ca wrote no certificate)")
        return x509.load_pem_x509_certificate(out.read_bytes())


def pkcs12_bundle(issuer: Sm2Issuer, subject: Subject,
                  cipher: str = "sm4") -> tuple[bytes, str, x509.Certificate]:
    """A new SM2 key and its certificate as PKCS#12 under a one-time password, the key and the
    certificates encrypted with SM4 (MAC SM3), or AES-256 (MAC SHA-256) for clients that lack
    SM4. The key exists only in a private temporary folder while this runs."""
    if cipher not in P12_CIPHERS:
        raise InvalidInput(f"PKCS#12 加密算法应为：{'、'.join(P12_CIPHERS)}",
                           f"the PKCS#12 cipher must be one of: {', '.join(P12_CIPHERS)}")
    password = secrets.token_urlsafe(12)
    with tempfile.TemporaryDirectory(prefix="idm-sm2p12-") as tmp:
        key, csr, cert_file, pw = (Path(tmp) / n for n in ("key.pem", "req.csr", "cert.pem", "pw"))
        sm2.new_key(key, None)
        write_secret(pw, password)
        with _Workspace() as ws:
            ws.run("req", "-new", "-utf8", "-config", ws.config, "-key", key, *sm2.SIGN_OPTS,
                        "-subj", _subj([("CN", subject.name), ("UID", subject.uid)]), "-out", csr)
        cert = issue(issuer, csr.read_bytes(), subject)
        cert_file.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
        algo = P12_CIPHERS[cipher]
        blob = sm2.openssl("pkcs12", "-export", "-inkey", key, "-in", cert_file,
                           "-certfile", issuer.cert_file, "-name", subject.uid,
                           "-keypbe", algo, "-certpbe", algo,
                           "-macalg", "sm3" if cipher == "sm4" else "sha256", "-passout", f"file:{pw}")
    return blob, password, cert


def _hex_even(serial: int) -> str:
    text = f"{serial:X}"
    return text if len(text) % 2 == 0 else "0" + text


def crl(issuer: Sm2Issuer, revoked: list[tuple[int, datetime, str]], days: int = 7) -> bytes:
    """A CRL signed SM2-with-SM3 by the issuing CA, listing (serial, when, reason)."""
    with _Workspace() as ws:
        far = (datetime.now(UTC) + timedelta(days=3650)).strftime("%y%m%d%H%M%SZ")
        lines = [f"R\t{far}\t{when.strftime('%y%m%d%H%M%SZ')},{_OPENSSL_REASONS.get(reason, 'unspecified')}"
                 f"\t{_hex_even(serial)}\tunknown\t/CN=-\n" for serial, when, reason in revoked]
        (ws.path / "index.txt").write_text("".join(lines), encoding="ascii")
        return ws.run("ca", "-gencrl", "-config", ws.config, "-cert", issuer.cert_file,
                           "-keyfile", *sm2.key_args(issuer.key_file, issuer.passphrase_file),
                           "-md", "sm3", "-sigopt", f"distid:{sm2.DISTID}", "-crldays", str(days))
