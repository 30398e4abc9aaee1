"""The auditor's view of the write log (R6): people and units by name, operations and results in
words with refusals marked, the linked form, filters by date, person, operation, result and
target, newest first in pages (a window of the log at a time), CSV of the filtered view, the
sign-in events and the seal status."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, Response, abort, render_template, request, url_for
from flask_babel import gettext as _

from idm.oversight import audit, seal
from webui import rendered
from webui.acting import admin
from webui.console import admin_only, home_crumb

bp = Blueprint("audit", __name__, url_prefix="/admin/audit")
PAGE = 50
OPS = ("add", "modify", "modrdn", "extended", "signin")


def _filters(session: Any) -> dict[str, Any]:
    """The filters in the query string, as `idm.audit` takes them (dates as YYYY-MM-DD)."""
    args = request.args
    out: dict[str, Any] = {}
    if args.get("since"):
        out["since"] = args["since"].replace("-", "")
    if args.get("until"):
        out["until"] = args["until"].replace("-", "") + "235959Z"
    if args.get("op") == "signin":
        out["signin"] = True
    elif args.get("op") in OPS:
        out["kind"] = args["op"]
    if args.get("result") in ("ok", "failed"):
        out["failed"] = args["result"] == "failed"
    if args.get("target"):
        out["target"] = args["target"]
    if args.get("who"):
        out["actor"] = audit.actor_dn(session, args["who"])
    return out


@bp.route("/")
@admin_only
def index() -> Any:
    with admin() as acting:
        session, actor = acting.session, acting.actor
        if actor.role != "auditor":
            abort(403)
        filters = _filters(session)
        if request.args.get("format") == "csv":
            found = audit.operations(session, **filters)
            return Response(audit.to_csv(found), mimetype="text/csv",
                            headers={"Content-Disposition": "attachment; filename=audit.csv"})
        ops, cursor = audit.page(session, size=PAGE, before=request.args.get("before") or None, **filters)
        last_seal = seal.latest(session)
    args: dict[str, Any] = {k: v for k, v in request.args.items() if k != "before"}
    next_url = url_for("audit.index", before=cursor, **args) if cursor else None
    return render_template("audit/index.html", rows=rendered.rows(ops, "audit/_rows.html", ops=ops),
                           next_url=next_url, args=args, ops_kinds=OPS, last_seal=last_seal,
                           csv_url=url_for("audit.index", format="csv", **args),
                           crumbs=[home_crumb(), (_("审计"), None)])
