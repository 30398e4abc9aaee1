"""Forms in the browser: filled in online (every field, checked as typed by a static script and
again on submit by `idm.form_fields`), listed with filters and paging, printed as PDF, the stamped
scan uploaded, and acted upon from the form's own page: each action the form allows is one click
away, behind a confirmation that shows exactly what will change."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, Response, abort, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _

from idm import pipeline
from idm.errors import InvalidInput, NotFound
from idm.filing import form_pdf, forms, keeping, kinds, listing
from idm.filing.fields import Address, FormData, from_dict
from idm.filing.kinds import CHANGE_TYPES, KINDS
from idm.identity import accounts, grants
from idm.operations import Operation, Pending
from idm.pki import authority
from idm.tree import org
from idm.validation import ADMIN_ROLES
from webui import rendered
from webui.acting import admin
from webui.auth import web
from webui.console import admin_only, duty, home_crumb, node_code, one_time
from webui.i18n import pick

bp = Blueprint("forms", __name__, url_prefix="/admin/forms")
PAGE = 50
STATES = ("received", "executed", "rejected")
TEXT_FIELDS = ("unit", "name", "surname", "id_number", "mobile", "office_phone", "email", "notes", "opinion",
               "stamp_date", "account_uid", "reason", "service_name", "transfer_to", "transfer_from")
INFO_KEYS = ("name", "mobile", "email", "office_phone")


def crumbs(*more: tuple[str, str | None]) -> list[tuple[str, str | None]]:
    return [home_crumb(), (_("申请单"), url_for("forms.index")), *more]


@bp.route("/")
@admin_only
def index() -> Any:
    """The department's forms, newest first, by state, kind, unit and date, in pages."""
    state = request.args.get("state", "")
    kind = request.args.get("kind", "")
    unit = request.args.get("unit", "")
    since = request.args.get("since", "")
    page = max(1, request.args.get("page", 1, type=int))
    with admin() as acting:
        session, actor = acting.session, acting.actor
        units = org.unit_and_children(session, actor.node_dn)
        found = listing.page(session, node_code(actor.node_dn), status=state if state in STATES else None,
                           kind=kind if kind in KINDS else None,
                           unit=unit if unit in {u.code for u in units} else None,
                           since=since or None, number=page, size=PAGE)
    rows = rendered.rows(found, "forms/_rows.html", forms=found.forms)
    return render_template("forms/index.html", rows=rows, total=found.total, complete=found.complete,
                           page=page, more=found.more, state=state, kind=kind, unit=unit, since=since,
                           kinds=KINDS, units=units, crumbs=[home_crumb(), (_("申请单"), None)])



@bp.route("/new", methods=["GET", "POST"])
@admin_only
def new() -> Any:
    """Fill in a form of any kind; `?account=UID` fills in the person from an existing account."""
    wanted = request.values.get("kind", "")
    kind = wanted if wanted in KINDS else "registration"
    with admin() as acting:
        session, actor = acting.session, acting.actor
        units = org.unit_and_children(session, actor.node_dn)
        catalogue = grants.catalogue(session)
        values = _prefill(session, request.args.get("account", ""), kind) if request.method == "GET" else \
            {k: v for k, v in request.form.items() if k != "csrf_token"}
        problems: dict[str, str] = {}
        if request.method == "POST":
            try:
                data = _form_data(kind, request.form)
                form = forms.add(session, actor, data)
            except InvalidInput as err:  # each field's problem beside the field, the values kept
                problems = {p.where: pick(p.zh, p.en) for p in err.problems}
                flash(pick(err.zh, err.en), "error")
            else:
                flash(_("申请单已登记：%(id)s", id=form.form_id), "success")
                return redirect(url_for("forms.view", form_id=form.form_id))
    return render_template("forms/new.html", kind=kind, kinds=KINDS, values=values, problems=problems,
                           units=units, roles=ADMIN_ROLES, change_types=CHANGE_TYPES, catalogue=catalogue,
                           info_keys=INFO_KEYS, crumbs=crumbs((_("填写申请单"), None)))


def _prefill(session: Any, uid: str, kind: str) -> dict[str, str]:
    if not uid:
        return {}
    acc = accounts.visible(session, uid)
    if acc is None:
        return {}
    values = {"account_uid": acc.uid, "name": acc.name, "unit": node_code(acc.node_dn),
              "mobile": acc.mobile or "", "email": acc.mail or ""}
    if acc.id_number:
        values["id_number"] = acc.id_number
    if kind == "change" and acc.status == "disabled":
        values["change_type"] = "restore"
    return values


def _form_data(kind: str, fields: Any) -> FormData:
    """The submitted fields as the form file would have them (shape only; `forms.add` checks)."""
    raw: dict[str, Any] = {"kind": kind}
    for name in TEXT_FIELDS:
        value = (fields.get(name) or "").strip()
        if value:
            raw[name] = value
    for name in ("unit", "name", "id_number"):
        raw.setdefault(name, "")
    if kind == "registration" and fields.get("role"):
        raw["role"] = fields.get("role")
    if kind == "change":
        raw["change_type"] = fields.get("change_type") or None
        for side in ("before", "after"):
            raw[side] = {k: fields.get(f"{side}_{k}", "").strip() for k in INFO_KEYS
                         if fields.get(f"{side}_{k}", "").strip()}
    if kind == "grant":
        raw["grants_add"] = fields.getlist("grants_add")
        raw["grants_remove"] = fields.getlist("grants_remove")
    if kind == "delegation":
        raw["delegate"] = fields.get("delegate", "yes") == "yes"
    data = from_dict(raw)
    data.address = Address(**{part: (fields.get(f"address_{part}") or "").strip()
                              for part in ("province", "city", "district", "street")})
    return data


@bp.route("/<form_id>")
@admin_only
def view(form_id: str) -> Any:
    with admin() as acting:
        session, actor = acting.session, acting.actor
        form = forms.get(session, form_id)
        todo = [p for p in kinds.pending(form.status, form.data, form.steps) if duty(actor, p.operation)]
        grant_names = grants.labels(session)
    return render_template("forms/view.html", form=form, todo=todo, actor=actor,
                           grant_names=grant_names,
                           crumbs=crumbs((form.form_id, None)))


def _pending(session: Any, form_id: str, op_name: str, value: str | None) -> tuple[forms.Form, Pending]:
    form = forms.get(session, form_id)
    for p in kinds.pending(form.status, form.data, form.steps):
        if p.operation.name == op_name and (p.value or None) == (value or None):
            return form, p
    raise NotFound("申请单不允许此操作，或已办理", "the form does not ask for this, or it is done")


@bp.route("/<form_id>/do/<op_name>", methods=["GET", "POST"])
@admin_only
def act(form_id: str, op_name: str) -> Any:
    """GET: what will change, to confirm. POST: do it, as the signed-in admin."""
    value = request.values.get("value") or None
    with admin() as acting:
        session = acting.session
        form, pending = _pending(session, form_id, op_name, value)
        op = pending.operation
        target = accounts.find(session, pending.account_uid) if pending.account_uid else None
        inputs = _certificate_inputs(op)
        if request.method == "GET":
            return render_template("forms/confirm.html", form=form, op=op, target=target, value=value,
                                   algorithms=authority.available(web().idm.data_dir),
                                   algorithm=inputs.get("algorithm"),
                                   crumbs=crumbs((form.form_id, url_for("forms.view", form_id=form_id)),
                                                 (op.label(_lang()), None)))
        outcome = pipeline.run(acting, op.name, form.form_id, pending.account_uid, value, **inputs)
    if op.shows_password and outcome.secret:
        return one_time(outcome.login, outcome.secret, op)
    flash(_("已办理：%(what)s", what=op.label(_lang())), "success")
    return redirect(url_for("forms.view", form_id=form_id))


def _certificate_inputs(op: Operation) -> dict[str, Any]:
    """A certificate application names its CA: the one picked on the confirmation page, else
    the deployment's default (SM2 where its CA is set up)."""
    if "algorithm" not in op.inputs:
        return {}
    data_dir = web().idm.data_dir
    picked = request.values.get("algorithm")
    if picked and picked not in authority.available(data_dir):
        raise InvalidInput(f"没有这种证书算法的 CA：{picked}",
                           f"no CA for the certificate algorithm {picked!r}")
    return {"algorithm": picked or authority.default_algorithm(data_dir)}


def _lang() -> str:
    from webui.filters import lang

    return lang()


@bp.route("/<form_id>/reject", methods=["POST"])
@admin_only
def reject(form_id: str) -> Any:
    with admin() as acting:
        session, actor = acting.session, acting.actor
        forms.reject(session, actor, forms.get(session, form_id), request.form.get("reason", "").strip())
    flash(_("申请单已驳回"), "success")
    return redirect(url_for("forms.view", form_id=form_id))


@bp.route("/<form_id>/scan", methods=["POST"])
@admin_only
def attach_scan(form_id: str) -> Any:
    upload = request.files.get("scan")
    with admin() as acting:
        session, actor = acting.session, acting.actor
        keeping.attach_scan(session, actor, forms.get(session, form_id), upload.read() if upload else b"")
    flash(_("扫描件已附加"), "success")
    return redirect(url_for("forms.view", form_id=form_id))


@bp.route("/<form_id>.pdf")
@admin_only
def pdf(form_id: str) -> Any:
    with admin() as acting:
        session = acting.session
        form = forms.get(session, form_id)
        unit = org.find(session, form.data.unit).name
    return Response(form_pdf.render(form.data.kind, form, unit), mimetype="application/pdf",
                    headers={"Content-Disposition": f"inline; filename={form.form_id}.pdf"})


@bp.route("/blank/<kind>.pdf")
@admin_only
def blank(kind: str) -> Any:
    if kind not in KINDS:
        abort(404)
    business = request.args.get("business") == "1"
    return Response(form_pdf.render(kind, business=business), mimetype="application/pdf",
                    headers={"Content-Disposition": f"inline; filename=blank-{kind}.pdf"})
