"""The admin console: each role sees its duties only, and every action runs as the signed-in
admin by proxied authorization, so the directory's rules and log see that admin."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from functools import wraps
from typing import Any

from flask import Blueprint, Response, abort, flash, g, redirect, render_template, request, url_for
from flask_babel import gettext as _

from idm import accounts, audit, certs, form_pdf, formal, forms, grants, org, seal, signin
from idm import actor as actors
from idm.actor import Actor
from idm.directory.session import Session
from idm.errors import IdmError, NotFound
from idm.validation import ADMIN_ROLES
from webui.auth import web
from webui.i18n import pick

bp = Blueprint("console", __name__, url_prefix="/admin")
PAGE = 50


@contextmanager
def as_admin() -> Iterator[tuple[Session, Actor]]:
    """The signed-in admin's view: the writer acting as the admin (slapd applies the admin's
    rules and logs the admin), opened the same way as the CLI's. The admin's own entry is read
    once per request."""
    with signin.admin_session(web().idm, g.user.dn) as session:
        if getattr(g, "actor", None) is None:
            g.actor = actors.load(session)
        yield session, g.actor


def any_admin(view: Callable[..., Any]) -> Callable[..., Any]:
    """Admin accounts only (a business user is refused)."""
    @wraps(view)
    def wrapped(*args: Any, **kwargs: Any) -> Any:
        if not g.user.admin:
            abort(403)
        return view(*args, **kwargs)

    return wrapped


def admin_only(view: Callable[..., Any]) -> Callable[..., Any]:
    """Admins with a role: an admin whose role is not yet set sees a waiting page."""
    @wraps(view)
    @any_admin
    def wrapped(*args: Any, **kwargs: Any) -> Any:
        with as_admin() as (_, actor):
            if actor.role is None or not actor.active:
                return render_template("console/waiting.html", actor=actor)
        return view(*args, **kwargs)

    return wrapped


def _node_code(actor: Actor) -> str:
    return actor.node_dn.split(",")[0].split("=")[1]


@bp.route("/")
@admin_only
def home() -> Any:
    with as_admin() as (session, actor):
        node = org.find(session, _node_code(actor))
        children = [n for _, n in org.subtree(session, node.code, 1)][1:]
    return render_template("console/home.html", actor=actor, node=node, children=children)


@bp.route("/first-login", methods=["GET", "POST"])
@any_admin
def first_login() -> Any:
    """R13: role, scope and unit side by side with the registration form; a match can be
    confirmed, a mismatch is reported to the creating level (also by an admin with no role)."""
    with as_admin() as (session, actor):
        acc, form = formal.first_login_view(session, accounts.get(session, actor.dn))
        if request.method == "POST":
            try:
                if request.form.get("action") == "report":
                    formal.report_first_login_mismatch(session, acc)
                    flash(_("已报告上级用户管理部门"), "success")
                else:
                    formal.confirm_first_login(session, acc)
                    flash(_("已确认"), "success")
            except IdmError as err:
                flash(pick(err.zh, err.en), "error")
            return redirect(url_for("console.first_login"))
        wrong = formal.first_login_mismatches(session, acc, form)
        mine = session.get(actor.dn, ["idmConfirmed", "idmDispute"])
    attrs = mine[1] if mine else {}
    return render_template("console/first_login.html", acc=acc, form=form, wrong=wrong,
                           confirmed=(attrs.get("idmConfirmed") or [None])[0],
                           dispute=(attrs.get("idmDispute") or [None])[0])


@bp.route("/users")
@admin_only
def users() -> Any:
    unit = request.args.get("unit", "")
    kind = "admin" if request.args.get("kind") == "admin" else "business"
    text = request.args.get("q") or None
    page = max(1, request.args.get("page", 1, type=int))
    with as_admin() as (session, actor):
        unit = unit or _node_code(actor)
        try:
            found = accounts.list_accounts(session, unit, kind, text)
        except NotFound:
            abort(404)
    shown = found[(page - 1) * PAGE: page * PAGE]
    return render_template("console/users.html", accounts=shown, unit=unit, kind=kind, q=text or "",
                           page=page, more=len(found) > page * PAGE, total=len(found))


@bp.route("/account/<uid>")
@admin_only
def account(uid: str) -> Any:
    with as_admin() as (session, actor):
        try:
            acc = accounts.find(session, uid)  # an account outside the admin's reach is not found
        except NotFound:
            abort(404)
        catalogue = grants.catalogue(session) if actor.role == "secadmin" else {}
        records = [(r, certs.status_now(r), r.dn.split(",")[0].split("=")[1])
                   for r in certs.of_account(session, acc.dn)] if acc.kind == "business" else []
    return render_template("console/account.html", acc=acc, actor=actor, catalogue=catalogue,
                           roles=ADMIN_ROLES, records=records)


ACTIONS: dict[str, Callable[[Session, Actor, str, accounts.Account], Any]] = {
    "disable": formal.disable,
    "restore": formal.restore,
    "unlock": formal.unlock,
    "reset-password": formal.reset_password,
    "reset-factor": formal.reset_factor,
}


@bp.route("/account/<uid>/<action>", methods=["POST"])
@admin_only
def act(uid: str, action: str) -> Any:
    form_id = request.form.get("form", "").strip()
    with as_admin() as (session, actor):
        try:
            acc = accounts.find(session, uid)
        except NotFound:
            abort(404)
        try:
            if action in ACTIONS:
                result = ACTIONS[action](session, actor, form_id, acc)
                if action == "reset-password":
                    return _one_time(acc.uid, str(result))
            elif action == "set-role":
                formal.set_role(session, actor, form_id, acc, request.form.get("role", ""))
            elif action == "apply-cert":
                certs.apply(session, actor, acc, form_id)
            elif action == "revoke-cert":
                certs.revoke(session, actor, certs.get(session, request.form.get("record", "")),
                             request.form.get("reason", "unspecified"))
            elif action in ("grant", "revoke"):
                change = grants.add if action == "grant" else grants.remove
                change(session, actor, acc, request.form.get("grant", ""), form_id)
            else:
                abort(404)
        except IdmError as err:
            flash(pick(err.zh, err.en), "error")
        else:
            flash(_("已完成"), "success")
    return redirect(url_for("console.account", uid=uid))


def _one_time(uid: str, password: str) -> Response:
    """Shown once, never cached (R13)."""
    response = Response(render_template("console/one_time.html", uid=uid, password=password))
    response.headers["Cache-Control"] = "no-store"
    return response


@bp.route("/create", methods=["GET", "POST"])
@admin_only
def create() -> Any:
    if request.method == "POST":
        form_id = request.form.get("form", "").strip()
        uid = request.form.get("uid", "").strip() or None
        with as_admin() as (session, actor):
            try:
                form = forms.get(session, form_id)
                make = formal.create_admin if form.data.role else formal.create_business_user
                created = make(session, actor, form_id, uid)
            except IdmError as err:
                flash(pick(err.zh, err.en), "error")
            else:
                return _one_time(created.uid, created.password)
    return render_template("console/create.html")


@bp.route("/forms")
@admin_only
def form_list() -> Any:
    with as_admin() as (session, actor):
        found = forms.list_forms(session, _node_code(actor), request.args.get("status") or None)
    return render_template("console/forms.html", forms=found)


@bp.route("/forms/<form_id>/scan", methods=["POST"])
@admin_only
def attach_scan(form_id: str) -> Any:
    upload = request.files.get("scan")
    with as_admin() as (session, actor):
        try:
            form = forms.get(session, form_id)
            forms.attach_scan(session, actor, form, upload.read() if upload else b"")
        except NotFound:
            abort(404)
        except IdmError as err:
            flash(pick(err.zh, err.en), "error")
        else:
            flash(_("扫描件已附加"), "success")
    return redirect(url_for("console.form_list"))


@bp.route("/forms/<form_id>.pdf")
@admin_only
def form_pdf_view(form_id: str) -> Any:
    with as_admin() as (session, _):
        try:
            form = forms.get(session, form_id)
        except NotFound:
            abort(404)
        unit = org.find(session, form.data.unit).name
    return Response(form_pdf.render(form.data.kind, form, unit), mimetype="application/pdf")


@bp.route("/audit")
@admin_only
def audit_view() -> Any:
    with as_admin() as (session, actor):
        if actor.role != "auditor":
            abort(403)
        try:
            found = audit.operations(session, since=request.args.get("since") or None,
                                     until=request.args.get("until") or None,
                                     failed={"failed": True, "ok": False}.get(request.args.get("result", "")))
        except IdmError as err:
            flash(pick(err.zh, err.en), "error")
            found = []
        seals = seal.list_seals(session)
    if request.args.get("format") == "csv":
        return Response(audit.to_csv(found), mimetype="text/csv",
                        headers={"Content-Disposition": "attachment; filename=audit.csv"})
    return render_template("console/audit.html", ops=found, last_seal=seals[-1] if seals else None)
