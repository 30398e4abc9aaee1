"""SM2 certificates end to end against the real directory: `idm ca init --algorithm sm2` beside
the EC CA, the security admin issues on a cert form from the CLI, the certificate is published
on the user, a disable revokes it onto the SM2 CA's CRL (not the EC one's), and
`idm cert verify` says so. The EC CA is left as it was for the other tests."""

from __future__ import annotations

import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import serialization

from idm.pki import authority, ca, certs, sm2
from tests import world as w
from tests.conftest import ops, run_cli
from tests.test_certs import granted_user
from tests.test_sm2_ca import gmalg_verifies


@pytest.fixture
def sm2_ca_dir(world: w.World) -> Iterator[Path]:
    ca.init(ca.CaConfig(folder=world.settings.data_dir / "ca"))
    made = run_cli(world.settings, "ca", "init", "--algorithm", "sm2")
    assert made.exit_code == 0, made.output
    assert "SM2" in made.output
    yield world.settings.data_dir / "ca-sm2"
    shutil.rmtree(world.settings.data_dir / "ca-sm2")  # later tests expect the EC CA as default


def test_issue_publish_disable_and_verify_with_sm2(world: w.World, sm2_ca_dir: Path, tmp_path: Path,
                                                   cli_admins: dict[str, str]) -> None:
    assert authority.available(world.settings.data_dir) == ["sm2", "ec"]
    assert authority.default_algorithm(world.settings.data_dir) == "sm2"
    account = granted_user(world)
    application = world.form_about("cert", account.dn)
    out = tmp_path / "user.p12"
    issued = run_cli(world.settings, "cert", "issue", account.uid, "--form", application,
                     "--algorithm", "sm2", "--pkcs12", str(out), "--as", cli_admins["secadmin"])
    assert issued.exit_code == 0, issued.output
    assert "SM2" in issued.output and out.stat().st_mode & 0o777 == 0o600
    password = issued.output.split("(shown once): ")[1].strip()
    info = subprocess.run(["openssl", "pkcs12", "-in", str(out), "-info", "-noout",
                           "-passin", f"pass:{password}"], capture_output=True, text=True)
    assert info.returncode == 0 and "SM4-CBC" in info.stderr
    with ops(world.settings) as session:
        der = certs.published(session, account.dn)
        records = [r for r in certs.of_account(session, account) if r.status != "revoked"]
    assert der is not None
    cert = x509.load_der_x509_certificate(der)
    issuing = x509.load_pem_x509_certificate((sm2_ca_dir / "issuing.crt.pem").read_bytes())
    assert cert.signature_algorithm_oid == sm2.SM2_WITH_SM3
    assert gmalg_verifies(issuing, cert.tbs_certificate_bytes, cert.signature)
    assert [certs.algorithm(r) for r in records] == ["sm2"]

    pem = tmp_path / "user.pem"
    pem.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    assert run_cli(world.settings, "ca", "crl").exit_code == 0
    good = run_cli(world.settings, "cert", "verify", str(pem))
    assert good.exit_code == 0 and "OK" in good.output and "SM2" in good.output, good.output

    disable = world.form_about("change", account.dn, change_type="disable", reason="调离")
    world.act("sysadmin", "disable", disable, account.uid)
    stale = run_cli(world.settings, "cert", "verify", str(pem))  # the CRL not yet rewritten
    assert stale.exit_code == 1 and "not yet on the CRL" in stale.output, stale.output
    crl_run = run_cli(world.settings, "ca", "crl")
    assert crl_run.exit_code == 0, crl_run.output
    sm2_crl = x509.load_pem_x509_crl((sm2_ca_dir / "crl.pem").read_bytes())
    ec_crl = x509.load_pem_x509_crl((world.settings.data_dir / "ca" / "crl.pem").read_bytes())
    assert sm2_crl.get_revoked_certificate_by_serial_number(cert.serial_number) is not None
    assert ec_crl.get_revoked_certificate_by_serial_number(cert.serial_number) is None
    assert gmalg_verifies(issuing, sm2_crl.tbs_certlist_bytes, sm2_crl.signature)
    refused = run_cli(world.settings, "cert", "verify", str(pem))
    assert refused.exit_code == 1 and "revoked" in refused.output, refused.output
