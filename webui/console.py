"""The admin console: each role sees its duties only, and every action runs as the signed-in
admin through the toolkit's writer, so the directory's rules and log see that admin. Forms
(`webui/form_views.py`) and the audit view (`webui/audit_views.py`) have their own modules."""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from typing import Any

from flask import Blueprint, Response, abort, flash, g, redirect, render_template, request, url_for
from flask_babel import gettext as _

from idm import labels, operations
from idm.filing import kinds, listing
from idm.identity import accounts, grants
from idm.identity import first_login as first_login_check
from idm.pki import certs
from idm.rules import actor as actors
from idm.rules import permissions
from idm.rules.actor import Actor
from idm.tree import org
from webui.acting import admin, current_actor

bp = Blueprint("console", __name__, url_prefix="/admin")
PAGE = 50


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
        actor = current_actor()
        if actor.role is None or not actor.active:
            return render_template("console/waiting.html", actor=actor)
        return view(*args, **kwargs)

    return wrapped


def node_code(dn: str) -> str:
    return dn.split(",")[0].split("=")[1]


def home_crumb() -> tuple[str, str]:
    return _("管理控制台"), url_for("console.home")


@bp.route("/")
@admin_only
def home() -> Any:
    """The unit, its counts, and the scope as a tree: the next level, and deeper on request."""
    expand = request.args.get("expand", "")
    with admin() as acting:
        session, actor = acting.session, acting.actor
        node = org.find(session, node_code(actor.node_dn))
        own = {kind: accounts.counts(session, node.dn, kind) for kind in ("business", "admin")}
        rows = []
        admins = accounts.counts_below(session, node.dn, "admin")  # one search, not one per unit
        for child in org.children(session, node.dn):
            rows.append((0, child, admins.get(child.dn.lower(), {"active": 0, "disabled": 0}),
                         accounts.counts(session, child.dn, "business") if child.managed_by else None))
            if expand == child.code:  # one level deeper: names only (their accounts are not ours)
                rows += [(1, grandchild, {}, None) for grandchild in org.children(session, child.dn)]
        received = listing.page(session, node.code, status="received", size=TODO_WINDOW)
    todo = [(f, p) for f in received.forms for p in kinds.pending(f.status, f.data, f.steps)
            if duty(actor, p.operation)]
    return render_template("console/home.html", actor=actor, node=node, own=own, rows=rows,
                           expand=expand, todo=todo[:10], todo_count=len(todo), received=received.total,
                           crumbs=[(_("管理控制台"), None)])


TODO_WINDOW = 100  # the home page looks for work in the newest received forms; the list has all


def duty(actor: Actor, op: operations.Operation) -> bool:
    """Is this operation the actor's role's duty at all? (Where, the table says on the act.)"""
    return permissions.duty(actor.role, op.permission)


@bp.route("/first-login", methods=["GET", "POST"])
@any_admin
def first_login() -> Any:
    """R13: role, scope and unit side by side with the registration form; a match can be
    confirmed, a mismatch is reported to the creating level (also by an admin with no role)."""
    with admin() as acting:
        session, actor = acting.session, acting.actor
        acc = accounts.get(session, actor.dn)
        if request.method == "POST":
            if request.form.get("action") == "report":
                first_login_check.report_first_login_mismatch(session, acc)
                flash(_("已报告上级用户管理部门"), "success")
            else:
                first_login_check.confirm_first_login(session, acc)
                flash(_("已确认：角色、范围和单位与注册申请单一致"), "success")
            return redirect(url_for("console.first_login"))
        check = first_login_check.check(session, acc)
    return render_template("console/first_login.html", acc=acc, form=check.form, wrong=check.mismatches,
                           confirmed=check.confirmed, dispute=check.dispute,
                           crumbs=[home_crumb(), (_("首次登录核对"), None)])


@bp.route("/users")
@admin_only
def users() -> Any:
    kind = "admin" if request.args.get("kind") == "admin" else "business"
    text = request.args.get("q") or None
    status = request.args.get("status") if request.args.get("status") in ("active", "disabled") else None
    page = max(1, request.args.get("page", 1, type=int))
    with admin() as acting:
        session, actor = acting.session, acting.actor
        unit = request.args.get("unit") or node_code(actor.node_dn)
        units = org.unit_and_children(session, actor.node_dn)
        node = next((u for u in units if u.code == unit), None) or org.find(session, unit)
        found = accounts.list_accounts(session, unit, kind, text, status, node=node)
    shown = found[(page - 1) * PAGE: page * PAGE]
    return render_template("console/users.html", accounts=shown, node=node, kind=kind, q=text or "",
                           status=status or "", page=page, more=len(found) > page * PAGE, total=len(found),
                           units=units, crumbs=[home_crumb(), (_("账号"), None)])


@bp.route("/account/<uid>")
@admin_only
def account(uid: str) -> Any:
    """The account's facts, its certificates, and what the received forms about it allow."""
    with admin() as acting:
        session, actor = acting.session, acting.actor
        acc = accounts.find(session, uid)  # an account outside the admin's reach is not found
        grant_names = grants.labels(session)
        records = [(r, certs.status_now(r)) for r in certs.of_account(session, acc)] \
            if acc.kind == "business" else []
        todo = [(f, p) for f in listing.about_account(session, acc, {actor.node_dn, acc.node_dn})
                for p in kinds.pending(f.status, f.data, f.steps)
                if (p.account_uid or "").lower() == acc.uid.lower() and duty(actor, p.operation)]
        extra = accounts.details(session, acc.dn)
    users_url = url_for("console.users", unit=node_code(acc.node_dn), kind=acc.kind)
    return render_template("console/account.html", acc=acc, actor=actor, records=records, todo=todo,
                           grant_names=grant_names, extra=extra,
                           crumbs=[home_crumb(), (_("账号"), users_url), (acc.name, None)])


def one_time(uid: str, password: str, op: operations.Operation) -> Response:
    """A printable handover slip: shown once, never cached, with the next steps (R13)."""
    return Response(render_template("console/one_time.html", uid=uid, password=password, op=op,
                                    now=labels.local_time(actors.now()),
                                    crumbs=[home_crumb(), (_("一次性密码交接单"), None)]))
