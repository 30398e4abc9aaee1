"""Certificates in the web UI (R19): the user fulfils a request the security admin made — by
uploading a CSR (the key never leaves the user) or by taking a PKCS#12 whose one-time password
is shown once — and downloads the certificate; the chain and CRL are public at /ca/."""

from __future__ import annotations

from typing import Any

from cryptography.hazmat.primitives import serialization
from flask import Blueprint, Response, abort, flash, g, redirect, render_template, request, url_for
from flask_babel import gettext as _

from idm.auth import selfservice
from idm.directory import lookup
from idm.directory.session import Session
from idm.errors import IdmError, NotFound
from idm.identity import accounts
from idm.pki import ca, certs
from webui.auth import store, web
from webui.i18n import pick

bp = Blueprint("certs", __name__, url_prefix="/certs")


def _as_self() -> Session:
    """The signed-in person's own view (the self-service account, proxied as them)."""
    settings = web().idm
    service = lookup.service_session(settings.ldap_uri, settings.suffix, settings.secrets_dir,
                                     selfservice.SERVICE)
    return service.act_as(g.user.dn)


def _mine() -> list[certs.CertRecord]:
    with _as_self() as session:
        return certs.of_account(session, g.user.dn)


def _record(name: str) -> certs.CertRecord:
    for record in _mine():
        if record.dn.split(",")[0].split("=")[1] == name:
            return record
    abort(404)


@bp.route("/")
def index() -> Any:
    records = [(r, certs.status_now(r), r.dn.split(",")[0].split("=")[1]) for r in _mine()]
    return render_template("certs.html", records=records)


@bp.route("/<name>/fulfil", methods=["POST"])
def fulfil(name: str) -> Any:
    record = _record(name)
    settings = web().idm
    csr = request.files.get("csr")
    try:
        issuer = ca.load(ca.load_config(settings.data_dir / "ca"))
        with lookup.service_session(settings.ldap_uri, settings.suffix, settings.secrets_dir) as service:
            account = _self_account()
            cert, blob, password = certs.fulfil(service, issuer, record, account,
                                                csr.read() if csr and csr.filename else None)
    except IdmError as err:
        flash(pick(err.zh, err.en), "error")
        return redirect(url_for("certs.index"))
    if blob is not None:
        store().put_download(g.user.sid, blob)
        response = Response(render_template("cert_issued.html", password=password, name=name))
        response.headers["Cache-Control"] = "no-store"
        return response
    flash(_("证书已签发"), "success")
    return redirect(url_for("certs.index"))


def _self_account() -> accounts.Account:
    with _as_self() as session:
        return accounts.get(session, g.user.dn)


@bp.route("/<name>.p12")
def pkcs12(name: str) -> Any:
    blob = store().take_download(g.user.sid)
    if blob is None:
        abort(404)  # handed over once
    return Response(blob, mimetype="application/x-pkcs12",
                    headers={"Content-Disposition": f"attachment; filename={name}.p12",
                             "Cache-Control": "no-store"})


@bp.route("/<name>.pem")
def pem(name: str) -> Any:
    record = _record(name)
    settings = web().idm
    with lookup.service_session(settings.ldap_uri, settings.suffix, settings.secrets_dir) as service:
        try:
            der = _own_certificate()
        except NotFound:
            abort(404)
        certs.mark_downloaded(service, record)
    from cryptography import x509

    return Response(x509.load_der_x509_certificate(der).public_bytes(serialization.Encoding.PEM),
                    mimetype="application/x-pem-file",
                    headers={"Content-Disposition": f"attachment; filename={name}.pem"})


def _own_certificate() -> bytes:
    with _as_self() as session:
        der = session.get_binary(g.user.dn, "userCertificate;binary")
    if der is None:
        raise NotFound("尚无证书", "no certificate yet")
    return der
