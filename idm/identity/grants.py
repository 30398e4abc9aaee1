"""Business access (R5, R9): grants as `app#role` values on business accounts, from the catalogue
under ou=apps. Only the security admin of the user's level grants; admin accounts never hold
grants (R8, enforced by the schema); unconverted post accounts receive none (R9, by the ACLs)."""

from __future__ import annotations

from dataclasses import dataclass

import ldap

from idm.directory.session import Session
from idm.errors import InvalidInput
from idm.filing import forms
from idm.filing.forms import Form
from idm.identity.accounts import Account
from idm.rules import actor as actors
from idm.rules.actor import Actor


@dataclass(frozen=True)
class App:
    code: str
    name: str
    roles: dict[str, str]


def catalogue(session: Session) -> dict[str, App]:
    apps = {}
    for _, a in session.search(f"ou=apps,{session.suffix}", "(objectClass=idmApp)",
                               ["cn", "idmNameZh", "idmAppRole"], scope=ldap.SCOPE_ONELEVEL):
        roles = dict(v.split("#", 1) for v in a.get("idmAppRole", []) if "#" in v)
        apps[a["cn"][0]] = App(a["cn"][0], a["idmNameZh"][0], roles)
    return apps


def labels(session: Session) -> dict[str, str]:
    """`app#role` -> "subsystem · role" in words, for every grant in the catalogue."""
    return {f"{a.code}#{code}": f"{a.name} · {role}" for a in catalogue(session).values()
            for code, role in a.roles.items()}


def check_grant(session: Session, grant: str) -> str:
    app, _, role = grant.partition("#")
    apps = catalogue(session)
    if app not in apps:
        raise InvalidInput(f"未知的业务系统“{app}”，可选：{'、'.join(apps)}",
                           f"unknown subsystem {app!r}; one of: {', '.join(apps)}")
    if role not in apps[app].roles:
        raise InvalidInput(f"{apps[app].name} 没有角色“{role}”，可选：{'、'.join(apps[app].roles)}",
                           f"{app} has no role {role!r}; one of: {', '.join(apps[app].roles)}")
    return f"{app}#{role}"


def _form(session: Session, form_id: str, account: Account, step: str) -> Form:
    """The grant request this rests on: about this account at its unit, listing this change
    (`+app#role` to grant, `-app#role` to revoke), not yet done."""
    form = forms.expect(session, form_id, "grant", unit_dn=account.node_dn, account_uid=account.uid)
    forms.require_same_person(form, account.id_number, account.id_masked)
    listed = form.data.grants_add if step.startswith("+") else form.data.grants_remove
    if step[1:] not in listed:
        raise forms.mismatch(form, "授权 grants", "、".join(listed) or "-", step[1:])
    forms.step_done(form, step)
    return form


def _record(session: Session, actor: Actor, form: Form, step: str, account: Account) -> None:
    wanted = {f"+{g}" for g in form.data.grants_add} | {f"-{g}" for g in form.data.grants_remove}
    forms.record_step(session, actor, form, step, account.dn, final=wanted <= {*form.steps, step})


def add(session: Session, actor: Actor, account: Account, grant: str, form_id: str) -> None:
    """Grant what a grant request lists (R5): the security admin of the user's level."""
    grant = check_grant(session, grant)
    if account.kind != "business":
        raise InvalidInput("管理类用户不应具有业务类用户权限（R8）",
                           "admin accounts never hold business permissions (R8)")
    if account.status != "active":
        raise InvalidInput(f"账号 {account.uid} 已停用，不能授权", f"account {account.uid} is disabled")
    if account.legacy:
        raise InvalidInput(f"岗位账号 {account.uid} 尚未实名制转化，不能授权（R9）",
                           f"post account {account.uid} is not converted to real-name yet (R9)")
    if grant in account.grants:
        raise InvalidInput(f"{account.uid} 已有授权 {grant}", f"{account.uid} already holds {grant}")
    actors.require(session, actor, "grant", account.dn)
    form = _form(session, form_id, account, f"+{grant}")
    _modify(session, account.dn, ldap.MOD_ADD, grant, form.form_id)
    _record(session, actor, form, f"+{grant}", account)


def remove(session: Session, actor: Actor, account: Account, grant: str, form_id: str) -> None:
    """Revoke what a grant request lists; a disabled or unconverted account can lose grants."""
    if grant not in account.grants:
        raise InvalidInput(f"{account.uid} 没有授权 {grant}", f"{account.uid} does not hold {grant}")
    actors.require(session, actor, "grant", account.dn)
    form = _form(session, form_id, account, f"-{grant}")
    _modify(session, account.dn, ldap.MOD_DELETE, grant, form.form_id)
    _record(session, actor, form, f"-{grant}", account)


def _modify(session: Session, dn: str, op: int, grant: str, form: str) -> None:
    session.modify(dn, [(op, "idmGrant", [grant]), (ldap.MOD_REPLACE, "idmFormRef", [form])])



def add_on_form(session: Session, actor: Actor, form_id: str, account: Account, grant: str) -> None:
    add(session, actor, account, grant, form_id)


def remove_on_form(session: Session, actor: Actor, form_id: str, account: Account, grant: str) -> None:
    remove(session, actor, account, grant, form_id)
