"""R13: at first login an admin checks that its role, scope and unit match its registration
form; a match is confirmed, a mismatch is reported where the creating level sees it."""

from __future__ import annotations

from dataclasses import dataclass

from idm.directory.session import Session
from idm.errors import InvalidInput, PermissionDenied
from idm.filing import forms
from idm.filing.forms import Form
from idm.identity.accounts import Account
from idm.rules.actor import normal, now


@dataclass(frozen=True)
class Check:
    """The first-login check as the admin sees it."""

    account: Account
    form: Form | None
    mismatches: list[tuple[str, str, str]]
    confirmed: str | None  # when it was confirmed
    dispute: str | None  # what was reported


def check(session: Session, account: Account) -> Check:
    """The account beside its registration form, what disagrees, and what was done about it."""
    _, form = first_login_view(session, account)
    entry = session.get(account.dn, ["idmConfirmed", "idmDispute"])
    attrs = entry[1] if entry else {}
    first = {name: next(iter(attrs.get(name) or []), None) for name in ("idmConfirmed", "idmDispute")}
    return Check(account, form, first_login_mismatches(session, account, form), first["idmConfirmed"],
                 first["idmDispute"])


def first_login_view(session: Session, account: Account) -> tuple[Account, Form | None]:
    """R13: the account's role and scope next to its registration form, for the first login."""
    form = None
    if account.kind == "admin":
        for candidate in forms.naming(session, account.uuid):
            if candidate.data.kind == "registration":
                form = candidate
    return account, form


def first_login_mismatches(session: Session, account: Account, form: Form | None
                           ) -> list[tuple[str, str, str]]:
    """(what, on the account, on the form) for every way role, scope and unit disagree."""
    if form is None:
        return [("申请单 form", "-", "（未找到注册申请单）")]
    out = []
    if account.role != form.data.role:
        out.append(("角色 role", account.role or "（无）", form.data.role or "（业务用户）"))
    if normal(account.scope or "") != normal(account.node_dn):
        out.append(("范围 scope", account.scope or "（无）", account.node_dn))
    unit = account.node_dn.split(",")[0].split("=")[1]
    if unit != form.data.unit:
        out.append(("单位 unit", unit, form.data.unit))
    return out


def confirm_first_login(session: Session, account: Account) -> None:
    """R13: the admin, signed in, confirms that role, scope and unit match the registration
    form; only a match can be confirmed."""
    _, form = first_login_view(session, account)
    wrong = first_login_mismatches(session, account, form)
    if wrong:
        raise PermissionDenied("角色、范围或单位与注册申请单不一致，不能确认；请报告上级用户管理部门",
                               "role, scope or unit do not match the registration form: report it to "
                               "the parent department instead")
    session.replace(account.dn, {"idmConfirmed": [now()], "idmDispute": []})


def report_first_login_mismatch(session: Session, account: Account) -> str:
    """R13: what does not match goes on the account, where the creating level sees it."""
    _, form = first_login_view(session, account)
    wrong = first_login_mismatches(session, account, form)
    if not wrong:
        raise InvalidInput("与注册申请单一致，无需报告", "everything matches the form: nothing to report")
    text = "；".join(f"{what}: 账号 {mine} / 申请单 {theirs}" for what, mine, theirs in wrong)[:1000]
    session.replace(account.dn, {"idmDispute": [f"{now()} {text}"]})
    return text
