"""Business access (R5, R9): grants as `app#role` values on business accounts, from the catalogue
under ou=apps. Only the security admin of the user's level grants; admin accounts never hold
grants (R8, enforced by the schema); unconverted post accounts receive none (R9, by the ACLs)."""

from __future__ import annotations

from dataclasses import dataclass

import ldap

from idm.directory.session import Session
from idm.errors import InvalidInput
from idm.pipeline import Step


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


def grant(step: Step) -> None:
    """Grant what a grant request lists (R5): the security admin of the user's level."""
    account = step.account
    assert account is not None and step.value is not None
    value = check_grant(step.session, step.value)
    if account.legacy:
        raise InvalidInput(f"岗位账号 {account.uid} 尚未实名制转化，不能授权（R9）",
                           f"post account {account.uid} is not converted to real-name yet (R9)")
    if value in account.grants:
        raise InvalidInput(f"{account.uid} 已有授权 {value}", f"{account.uid} already holds {value}")
    _modify(step, ldap.MOD_ADD, value)


def revoke(step: Step) -> None:
    """Revoke what a grant request lists; a disabled or unconverted account can lose grants."""
    account = step.account
    assert account is not None and step.value is not None
    if step.value not in account.grants:
        raise InvalidInput(f"{account.uid} 没有授权 {step.value}",
                           f"{account.uid} does not hold {step.value}")
    _modify(step, ldap.MOD_DELETE, step.value)


def _modify(step: Step, op: int, value: str) -> None:
    assert step.account is not None
    step.session.modify(step.account.dn, [(op, "idmGrant", [value]),
                                          (ldap.MOD_REPLACE, "idmFormRef", [step.form.form_id])])
