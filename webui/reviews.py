"""R16 in the console: the level's open review with a decision per row, its progress, the
reports, and the units of the level below that are overdue. Every action is `idm.reviews`, run
as the signed-in admin."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, Response, abort, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _

from idm.identity import grants
from idm.oversight import review_report, reviews
from webui.acting import admin
from webui.console import admin_only, home_crumb, node_code

bp = Blueprint("reviews", __name__, url_prefix="/admin/reviews")


@bp.route("/")
@admin_only
def home() -> Any:
    with admin() as acting:
        session, actor = acting.session, acting.actor
        code = node_code(actor.node_dn)
        campaigns = reviews.list_campaigns(session, code)
        current = next((c for c in reversed(campaigns) if c.status != "closed"), None)
        overdue = reviews.overdue_below(session, code)
        grant_names = grants.labels(session)
    return render_template("reviews.html", actor=actor, code=code, current=current, campaigns=campaigns,
                           overdue=overdue, grant_names=grant_names,
                           crumbs=[home_crumb(), (_("定期核查"), None)])


def _act(action: Any, done: str) -> Any:
    """Run a review action as the signed-in admin; a refusal goes to the error boundary, which
    shows it on the page the admin came from."""
    with admin() as acting:
        action(acting.session, acting.actor)
    flash(done, "success")
    return redirect(url_for("reviews.home"))


@bp.route("/open", methods=["POST"])
@admin_only
def open_review() -> Any:
    return _act(lambda s, a: reviews.open_campaign(s, a, node_code(a.node_dn)), _("已发起核查"))


@bp.route("/<review_id>/decide", methods=["POST"])
@admin_only
def decide(review_id: str) -> Any:
    uid, decision = request.form.get("uid", ""), request.form.get("decision", "")
    grant = request.form.get("grant", "")
    return _act(lambda s, a: reviews.decide(s, a, review_id, uid, decision, [grant] if grant else None),
                _("已记录决定"))


@bp.route("/<review_id>/close", methods=["POST"])
@admin_only
def close(review_id: str) -> Any:
    return _act(lambda s, a: reviews.close(s, a, review_id), _("已关闭，待审计员会签"))


@bp.route("/<review_id>/countersign", methods=["POST"])
@admin_only
def countersign(review_id: str) -> Any:
    return _act(lambda s, a: reviews.countersign(s, a, review_id), _("已会签"))


@bp.route("/<review_id>/report.<fmt>")
@admin_only
def report(review_id: str, fmt: str) -> Any:
    with admin() as acting:
        session = acting.session
        campaign = reviews.get(session, review_id)
    if fmt == "csv":
        return Response(review_report.csv_text(campaign), mimetype="text/csv; charset=utf-8",
                        headers={"Content-Disposition": f"attachment; filename={review_id}.csv"})
    if fmt == "pdf":
        return Response(review_report.pdf(campaign), mimetype="application/pdf",
                        headers={"Content-Disposition": f"attachment; filename={review_id}.pdf"})
    abort(404)
