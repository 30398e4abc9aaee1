"""Certificates through the web UI (R19): the security admin applies in the console, the user
fulfils with a CSR or takes a PKCS#12 once, downloads, and the chain and CRL are public."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.serialization import pkcs12
from cryptography.x509.oid import NameOID
from flask import Flask
from flask.testing import FlaskClient

from idm.pki import ca
from tests import world as w
from tests.conftest import ops, run_cli, web_app
from tests.test_webui_http import csrf, login
from webui.security import limiter


@pytest.fixture(scope="module")
def app(world: w.World) -> Flask:
    ca.init(ca.CaConfig(folder=world.settings.data_dir / "ca"))
    return web_app(world, "certs", "nist")


def client_for(app: Flask, uid: str, password: str) -> FlaskClient:
    with app.test_request_context():
        limiter.reset()
    client = app.test_client()
    assert login(client, uid, password).status_code == 302
    return client


def user(world: w.World) -> tuple[str, str, str]:
    dn = world.target("person", "own")
    with ops(world.settings) as session:
        session.set_password(dn, "Cert-User-Passw0rd-1")
        session.replace(dn, {"pwdReset": [], "idmGrant": ["teacher#viewer"], "mail": ["u@demo.edu.cn"]})
    return dn, dn.split(",")[0].split("=")[1], "Cert-User-Passw0rd-1"


def apply(app: Flask, uid: str, world: w.World) -> None:
    """The security admin applies from the certificate application's page; a made-up form number
    gets nowhere and records nothing."""
    sec = client_for(app, "m.secadmin", w.PASSWORD)
    token = csrf(sec, f"/admin/account/{uid}")
    for method in ("get", "post"):
        made_up = getattr(sec, method)("/admin/forms/NO-SUCH-FORM-123/do/apply-cert",
                                       data={"csrf_token": token})
        assert made_up.status_code == 404
    assert "待签发" not in sec.get(f"/admin/account/{uid}").get_data(as_text=True)
    with ops(world.settings) as session:
        account_dn = next(dn for dn, _ in session.search(world.settings.suffix, f"(uid={uid})", ["1.1"]))
    application = world.form_about("cert", account_dn)
    assert application in sec.get(f"/admin/account/{uid}").get_data(as_text=True)  # waiting, one click away
    page = sec.post(f"/admin/forms/{application}/do/apply-cert", data={"csrf_token": token},
                    follow_redirects=True).get_data(as_text=True)
    assert "已办理" in page
    assert "待签发" in sec.get(f"/admin/account/{uid}").get_data(as_text=True)


def pending(client: FlaskClient) -> str:
    page = client.get("/certs/").get_data(as_text=True)
    match = re.search(r"<td>(R[0-9a-f]+)</td><td>[^<]+</td><td>待签发</td>", page)
    assert match, page
    return match.group(1)


def test_csr_flow_download_and_verify(world: w.World, app: Flask, tmp_path: Path) -> None:
    dn, uid, password = user(world)
    apply(app, uid, world)
    me = client_for(app, uid, password)
    name = pending(me)
    key = ec.generate_private_key(ec.SECP256R1())
    csr = x509.CertificateSigningRequestBuilder().subject_name(x509.Name([
        x509.NameAttribute(NameOID.COMMON_NAME, "测试"), x509.NameAttribute(NameOID.USER_ID, uid)])).sign(
        key, hashes.SHA256()).public_bytes(serialization.Encoding.PEM)
    import io

    token = csrf(me, "/certs/")
    done = me.post(f"/certs/{name}/fulfil", data={"csrf_token": token, "csr": (io.BytesIO(csr), "me.csr")},
                   content_type="multipart/form-data", follow_redirects=True)
    assert "已签发" in done.get_data(as_text=True)
    pem = me.get(f"/certs/{name}.pem")
    assert pem.status_code == 200 and pem.data.startswith(b"-----BEGIN CERTIFICATE")
    assert "已下载" in me.get("/certs/").get_data(as_text=True)
    chain = me.get("/ca/chain.pem").data
    (tmp_path / "chain.pem").write_bytes(chain)
    (tmp_path / "cert.pem").write_bytes(pem.data)
    verify = ["openssl", "verify", "-CAfile", str(tmp_path / "chain.pem"), str(tmp_path / "cert.pem")]
    assert subprocess.run(verify, capture_output=True, check=False).returncode == 0
    assert run_cli(world.settings, "ca", "crl").exit_code == 0
    assert me.get("/ca/crl.pem").data.startswith(b"-----BEGIN X509 CRL")


def test_pkcs12_once_with_its_password(world: w.World, app: Flask) -> None:
    _, uid, password = user(world)
    apply(app, uid, world)
    me = client_for(app, uid, password)
    name = pending(me)
    page = me.post(f"/certs/{name}/fulfil", data={"csrf_token": csrf(me, "/certs/")})
    assert page.headers["Cache-Control"] == "no-store"
    secret = re.search(r'<code id="p12-password">([^<]+)</code>', page.get_data(as_text=True)).group(1)  # type: ignore[union-attr]
    blob = me.get(f"/certs/{name}.p12")
    assert blob.status_code == 200
    key, cert, _ = pkcs12.load_key_and_certificates(blob.data, secret.encode())
    assert key is not None and cert is not None
    assert me.get(f"/certs/{name}.p12").status_code == 404  # handed over once


def test_no_request_no_certificate(world: w.World, app: Flask) -> None:
    _, uid, password = user(world)
    me = client_for(app, uid, password)
    assert me.post("/certs/Rdeadbeef0000/fulfil", data={"csrf_token": csrf(me, "/certs/")}).status_code == 404


def test_sm2_in_the_browser_flow(world: w.World, app: Flask, tmp_path: Path) -> None:
    """With the SM2 CA set up beside the EC one, the confirmation page offers both (SM2 first),
    the application records the algorithm, the user sees it and takes a PKCS#12 under SM4 or
    AES-256, and the SM2 chain is public at /ca/sm2/."""
    import shutil

    from tests.test_sm2_ca import gmalg_verifies

    assert run_cli(world.settings, "ca", "init", "--algorithm", "sm2").exit_code == 0
    try:
        _, uid, password = user(world)
        sec = client_for(app, "m.secadmin", w.PASSWORD)
        with ops(world.settings) as session:
            account_dn = next(dn for dn, _ in session.search(world.settings.suffix, f"(uid={uid})", ["1.1"]))
        application = world.form_about("cert", account_dn)
        confirm = sec.get(f"/admin/forms/{application}/do/apply-cert").get_data(as_text=True)
        assert '<option value="sm2" selected>SM2（国密，SM2-with-SM3）</option>' in confirm
        assert "ECDSA P-256（SHA-256）" in confirm
        token = csrf(sec, f"/admin/forms/{application}/do/apply-cert")
        made_up = sec.post(f"/admin/forms/{application}/do/apply-cert", data={"csrf_token": token,
                                                                              "algorithm": "dsa"})
        assert made_up.status_code in (302, 400)
        done = sec.post(f"/admin/forms/{application}/do/apply-cert",
                        data={"csrf_token": token, "algorithm": "sm2"}, follow_redirects=True)
        assert "已办理" in done.get_data(as_text=True)
        me = client_for(app, uid, password)
        listing = me.get("/certs/").get_data(as_text=True)
        assert "SM2（国密，SM2-with-SM3）" in listing and 'name="p12_cipher"' in listing
        name = pending(me)
        page = me.post(f"/certs/{name}/fulfil", data={"csrf_token": csrf(me, "/certs/"), "p12_cipher": "sm4"})
        secret = re.search(r'<code id="p12-password">([^<]+)</code>',  # type: ignore[union-attr]
                           page.get_data(as_text=True)).group(1)
        (tmp_path / "u.p12").write_bytes(me.get(f"/certs/{name}.p12").data)
        (tmp_path / "pw").write_text(secret)
        info = subprocess.run(["openssl", "pkcs12", "-in", str(tmp_path / "u.p12"), "-info", "-nokeys",
                               "-passin", f"file:{tmp_path / 'pw'}"], capture_output=True, text=True)
        assert info.returncode == 0 and "SM4-CBC" in info.stderr
        cert = x509.load_pem_x509_certificate(info.stdout.encode())
        chain = x509.load_pem_x509_certificates(me.get("/ca/sm2/chain.pem").data)
        assert gmalg_verifies(chain[0], cert.tbs_certificate_bytes, cert.signature)
        assert gmalg_verifies(chain[1], chain[0].tbs_certificate_bytes, chain[0].signature)
    finally:
        shutil.rmtree(world.settings.data_dir / "ca-sm2")
