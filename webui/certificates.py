"""Certificates in the web UI (R19): the user fulfils a request the security admin made — by
uploading a CSR (the key never leaves the user) or by taking a PKCS#12 whose one-time password
is shown once — and downloads the certificate; the chain and CRL are public at /ca/."""

from __future__ import annotations

from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives import serialization
from flask import Blueprint, Response, abort, flash, g, redirect, render_template, request, url_for
from flask_babel import gettext as _

from idm.identity import accounts
from idm.pki import authority, certs
from webui import acting
from webui.auth import store, web

bp = Blueprint("certs", __name__, url_prefix="/certs")


def _mine() -> list[certs.CertRecord]:
    with acting.own() as session:
        return certs.of_account(session, accounts.get(session, g.user.dn))


def _record(name: str) -> certs.CertRecord:
    for record in _mine():
        if record.dn.split(",")[0].split("=")[1] == name:
            return record
    abort(404)


@bp.route("/")
def index() -> Any:
    default = authority.default_algorithm(web().idm.data_dir)
    records = [(r, certs.status_now(r), r.dn.split(",")[0].split("=")[1],
                certs.algorithm(r, default if r.status == "requested" else "ec")) for r in _mine()]
    return render_template("certs.html", records=records, sm2=authority.family(default) == "sm2")


@bp.route("/<name>/fulfil", methods=["POST"])
def fulfil(name: str) -> Any:
    """Issue the requested certificate; a refusal goes to the error boundary (back to the list)."""
    record = _record(name)
    csr = request.files.get("csr")
    data_dir = web().idm.data_dir
    issuer = authority.load(data_dir, certs.algorithm(record, authority.default_algorithm(data_dir)))
    with acting.own() as session:
        account = accounts.get(session, g.user.dn)
    with acting.lookup() as service:
        _cert, blob, password = certs.fulfil(service, issuer, record, account,
                                             csr.read() if csr and csr.filename else None,
                                             request.form.get("p12_cipher") or None)
    if blob is not None:
        store().put_download(g.user.sid, blob)
        response = Response(render_template("cert_issued.html", password=password, name=name))
        response.headers["Cache-Control"] = "no-store"
        return response
    flash(_("证书已签发"), "success")
    return redirect(url_for("certs.index"))


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
    with acting.own() as session:
        der = certs.published(session, g.user.dn)
    if der is None:
        abort(404)
    with acting.lookup() as service:
        certs.mark_downloaded(service, record)
    return Response(x509.load_der_x509_certificate(der).public_bytes(serialization.Encoding.PEM),
                    mimetype="application/x-pem-file",
                    headers={"Content-Disposition": f"attachment; filename={name}.pem"})
