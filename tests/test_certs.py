"""Certificates in the directory (R19): who may apply, for whom, publication, automatic
revocation with a disable, the CRL, and openssl verify before and after."""

from __future__ import annotations

import subprocess
from pathlib import Path

import ldap
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from idm.errors import InvalidInput, PermissionDenied
from idm.identity import accounts
from idm.pki import ca, certs
from tests import world as w
from tests.conftest import ops, run_cli


@pytest.fixture(scope="module")
def issuer(world: w.World) -> ca.Issuer:
    config = ca.CaConfig(folder=world.settings.data_dir / "ca")
    ca.init(config)
    return ca.load(config)


def granted_user(world: w.World) -> accounts.Account:
    dn = world.target("person", "own")
    with ops(world.settings) as session:
        session.replace(dn, {"idmGrant": ["teacher#viewer"], "mail": ["user@demo.edu.cn"]})
        return accounts.get(session, dn)


def csr(account: accounts.Account) -> bytes:
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, account.name),
                      x509.NameAttribute(NameOID.USER_ID, account.uid)])
    return x509.CertificateSigningRequestBuilder().subject_name(name).sign(key, hashes.SHA256()).public_bytes(
        serialization.Encoding.PEM)


def verify(issuer: ca.Issuer, cert: x509.Certificate, crl_pem: bytes, tmp: Path) -> bool:
    (tmp / "chain.pem").write_bytes(issuer.chain_pem())
    (tmp / "crl.pem").write_bytes(crl_pem)
    (tmp / "cert.pem").write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    return subprocess.run(["openssl", "verify", "-crl_check", "-CAfile", str(tmp / "chain.pem"),
                           "-CRLfile", str(tmp / "crl.pem"), str(tmp / "cert.pem")],
                          capture_output=True, check=False).returncode == 0


def test_issue_publish_disable_revokes_and_restore_does_not_bring_it_back(
    world: w.World, issuer: ca.Issuer, tmp_path: Path
) -> None:
    account = granted_user(world)
    application = world.form_about("cert", account.dn)
    issued = world.act("secadmin", "issue-cert", application, account.uid, issuer=issuer,
                       csr=csr(account)).result
    record, cert = issued.record, issued.certificate
    assert record.status == "issued"
    with ops(world.settings) as op_session:
        published = op_session.get_binary(account.dn, "userCertificate;binary")
        assert published == cert.public_bytes(serialization.Encoding.DER)
        assert verify(issuer, cert, ca.crl(issuer, certs.revoked_list(op_session)), tmp_path)
    disable = world.form_about("change", account.dn, change_type="disable", reason="调离")
    world.act("sysadmin", "disable", disable, account.uid)
    with ops(world.settings) as op_session:
        assert certs.get(op_session, record.dn.split(",")[0][3:]).status == "revoked"
        assert op_session.get_binary(account.dn, "userCertificate;binary") is None
        revoked = certs.revoked_list(op_session)
        assert cert.serial_number in [s for s, _, _ in revoked]
        assert not verify(issuer, cert, ca.crl(issuer, revoked), tmp_path)
        restored = accounts.get(op_session, account.dn)
    restore = world.form_about("change", restored.dn, change_type="restore", reason="返岗")
    world.act("sysadmin", "restore", restore, restored.uid)
    with ops(world.settings) as op_session:
        assert op_session.get_binary(account.dn, "userCertificate;binary") is None


def test_only_active_authorised_business_users(world: w.World, issuer: ca.Issuer) -> None:
    no_grant = world.target("person", "own")
    disabled = world.target("person", "own", state="disabled")
    admin = world.target("admin", "child")
    with ops(world.settings) as op_session:
        cases = [(accounts.get(op_session, dn), reason) for dn, reason in
                 ((no_grant, "no grant"), (disabled, "disabled"), (admin, "business permissions"))]
    for account, reason in cases:
        application = world.form_about("cert", account.dn)
        with pytest.raises(InvalidInput, match=reason):
            world.act("secadmin", "issue-cert", application, account.uid, issuer=issuer, pkcs12=True)
    account = granted_user(world)
    application = world.form_about("cert", account.dn)
    with pytest.raises(PermissionDenied):  # the security admin applies (R19)
        world.act("sysadmin", "issue-cert", application, account.uid, issuer=issuer, pkcs12=True)


def test_pkcs12_and_the_cli(world: w.World, issuer: ca.Issuer, tmp_path: Path,
                            cli_admins: dict[str, str], monkeypatch: pytest.MonkeyPatch) -> None:
    """The security admin issues from the CLI with no CA passphrase of its own: the passphrase
    stays in the signing service's 0600 file."""
    account = granted_user(world)
    monkeypatch.delenv("IDM_CA_PASSPHRASE", raising=False)
    assert (world.settings.data_dir / "ca" / "passphrase").stat().st_mode & 0o777 == 0o600
    application = world.form_about("cert", account.dn)
    out = tmp_path / "user.p12"
    made_up = run_cli(world.settings, "cert", "issue", account.uid, "--form", "NO-SUCH-FORM", "--pkcs12",
                      str(out), "--as", cli_admins["secadmin"])
    assert made_up.exit_code == 1 and "NO-SUCH-FORM" in made_up.output and not out.exists()
    result = run_cli(world.settings, "cert", "issue", account.uid, "--form", application, "--pkcs12",
                     str(out),
                     "--as", cli_admins["secadmin"])
    assert result.exit_code == 0, result.output
    assert out.stat().st_mode & 0o777 == 0o600
    password = result.output.split("(shown once): ")[1].strip()
    opened = subprocess.run(["openssl", "pkcs12", "-in", str(out), "-nokeys", "-passin", f"pass:{password}"],
                            capture_output=True, text=True, check=False)
    assert opened.returncode == 0 and "BEGIN CERTIFICATE" in opened.stdout
    wrong = subprocess.run(["openssl", "pkcs12", "-in", str(out), "-nokeys", "-passin", "pass:wrong"],
                           capture_output=True, text=True, check=False)
    assert wrong.returncode != 0
    crl = run_cli(world.settings, "ca", "crl")
    assert crl.exit_code == 0, crl.output
    assert (world.settings.data_dir / "ca" / "crl.pem").read_bytes().startswith(b"-----BEGIN X509 CRL")
    with pytest.raises(ldap.NO_SUCH_OBJECT):  # nobody else reads certificate records
        world.raw("secadmin").search_s(f"ou=certs,{world.nodes['sibling']}", ldap.SCOPE_ONELEVEL)
