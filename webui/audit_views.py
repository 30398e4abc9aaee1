"""The auditor's view (R6, 等保 8.1.4.3): one row per admin action — when, who (name and role),
which action in words, on whom, on which form, the outcome — with the LDAP writes behind it a
click away; sign-in events as rows of their own. Filters by date, admin, person, form, kind and
outcome; CSV and PDF of the filtered view; the seal status and the oldest record held."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, Response, abort, render_template, request, url_for
from flask_babel import gettext as _

from idm import operations
from idm.compliance import published
from idm.labels import label, local_time
from idm.oversight import action_report, actions, audit, seal
from idm.rules.actor import now
from webui import rendered
from webui.acting import admin
from webui.auth import web
from webui.console import admin_only, home_crumb
from webui.filters import person_name

bp = Blueprint("audit", __name__, url_prefix="/admin/audit")
PAGE = 50
KINDS = ("form", "signin", "factor", "write")
FILTER_WORDS = {"since": "起始", "until": "截止", "who": "操作人", "person": "对象", "form": "申请单",
                "kind": "操作", "result": "结果"}


def _filters(session: Any) -> dict[str, Any]:
    """The filters in the query string, as `idm.oversight.actions` takes them (dates as
    YYYY-MM-DD)."""
    args = request.args
    out: dict[str, Any] = {}
    if args.get("since"):
        out["since"] = args["since"].replace("-", "")
    if args.get("until"):
        out["until"] = args["until"].replace("-", "") + "235959Z"
    kind = args.get("kind") or ""
    if kind in KINDS:
        out["kind"] = kind
    elif kind.startswith("op:") and kind[3:] in {op.name for op in operations.ALL}:
        out["kind"], out["name"] = "operation", kind[3:]
    if args.get("who"):
        out["actor"] = audit.actor_dn(session, args["who"])
    if args.get("person"):
        out["person"] = f"uid={args['person']},"
    if args.get("form"):
        out["form"] = args["form"].strip()
    return out


def _outcome(found: list[actions.Action]) -> list[actions.Action]:
    wanted = request.args.get("result")
    if wanted in ("ok", "failed"):
        return [a for a in found if a.ok == (wanted == "ok")]
    return found


def _namer(page_lang: str, roles: dict[str, str]) -> Any:
    def name(dn: str) -> str:
        role = roles.get(dn.lower())
        return person_name(dn, page_lang) + (f" · {label('role', role, page_lang)}" if role else "")
    return name


def _in_scope(actor: Any, manifest: dict[str, Any]) -> bool:
    """A pack of the auditor's own unit or of one below it (by the unit's DN the pack names)."""
    mine, unit = actor.node_dn.lower(), str(manifest.get("unit_dn", "")).lower()
    return bool(unit) and (unit == mine or unit.endswith("," + mine))


@bp.route("/packs/")
@admin_only
def packs() -> Any:
    """The evidence packs the local operator published for this auditor's levels."""
    with admin() as acting:
        if acting.actor.role != "auditor":
            abort(403)
        found = [(name, m) for name, m in published.listing(web().idm.data_dir)
                 if _in_scope(acting.actor, m)]
    return render_template("audit/packs.html", packs=found,
                           crumbs=[home_crumb(), (_("审计"), url_for("audit.index")),
                                   (_("测评证据包"), None)])


def _auditors_pack(name: str) -> dict[str, Any]:
    """The manifest of a published pack this auditor may take: 403 for another role, 404 for a
    pack that is not there or not of the auditor's levels."""
    with admin() as acting:
        if acting.actor.role != "auditor":
            abort(403)
        listed = dict(published.listing(web().idm.data_dir))
        if name not in listed or not _in_scope(acting.actor, listed[name]):
            abort(404)
    return listed[name]


@bp.route("/packs/<name>.zip")
@admin_only
def pack_zip(name: str) -> Any:
    _auditors_pack(name)
    return Response(published.zipped(web().idm.data_dir, name), mimetype="application/zip",
                    headers={"Content-Disposition": f"attachment; filename={name}.zip",
                             "Cache-Control": "no-store"})


@bp.route("/packs/<name>/check")
@admin_only
def pack_check(name: str) -> Any:
    """The auditor checks a published pack in the browser: its SM2 signature with this site's
    seal key, every file's SM3, and what the pack's own seal check found at its making."""
    manifest = _auditors_pack(name)
    result = published.check(web().idm.data_dir, name, manifest)
    return render_template("audit/pack_check.html", name=name, m=manifest, result=result,
                           crumbs=[home_crumb(), (_("审计"), url_for("audit.index")),
                                   (_("测评证据包"), url_for("audit.packs")), (_("校验"), None)])


@bp.route("/")
@admin_only
def index() -> Any:
    with admin() as acting:
        session, actor = acting.session, acting.actor
        if actor.role != "auditor":
            abort(403)
        filters = _filters(session)
        fmt = request.args.get("format")
        if fmt in ("csv", "pdf"):
            found = _outcome(actions.actions(session, **filters))
            namer = _namer("zh", actions.roles(session, found))
            if fmt == "csv":
                return Response(actions.to_csv(found, namer), mimetype="text/csv",
                                headers={"Content-Disposition": "attachment; filename=audit.csv"})
            asked = "，".join(f"{FILTER_WORDS.get(k, k)} {v}" for k, v in request.args.items()
                             if k != "format" and v)
            scope = (f"导出人 {person_name(actor.dn, 'zh')} · 导出时间 {local_time(now(), seconds=True)}"
                     f" · 筛选：{asked or '全部'}")
            blob = action_report.pdf(found, namer, "审计：管理员操作", scope)
            return Response(blob, mimetype="application/pdf",
                            headers={"Content-Disposition": "attachment; filename=audit.pdf"})
        found, cursor = actions.page(session, size=PAGE, before=request.args.get("before") or None,
                                     **filters)
        found = _outcome(found)
        roles = actions.roles(session, found)
        last_seal = seal.latest(session)
        oldest = audit.oldest(session)
    args: dict[str, Any] = {k: v for k, v in request.args.items() if k != "before"}
    next_url = url_for("audit.index", before=cursor, **args) if cursor else None
    return render_template("audit/index.html",
                           rows=rendered.rows(found, "audit/_rows.html", found=found, roles=roles),
                           next_url=next_url, args=args, kinds=KINDS, operations=operations.ALL,
                           last_seal=last_seal,
                           oldest=oldest, kept_days=web().idm.log_purge_days,
                           csv_url=url_for("audit.index", format="csv", **args),
                           pdf_url=url_for("audit.index", format="pdf", **args),
                           crumbs=[home_crumb(), (_("审计"), None)])
