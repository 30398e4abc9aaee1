"""Admin and business accounts: create, disable, restore, unlock, reset, show, list (R4, R15).

Every function runs on a session bound as the acting admin, checks the permission table first
for a clear refusal, and then lets slapd decide: the directory is the guard.
"""

from __future__ import annotations

from dataclasses import dataclass

import ldap

from idm.directory import names
from idm.directory.session import Session
from idm.errors import AlreadyExists, ConstraintViolation, InvalidInput, NotFound
from idm.identity import id_numbers
from idm.identity.passwords import one_time_password
from idm.identity.person import Person, uid_candidates
from idm.rules import actor as actors
from idm.rules.actor import Actor, normal, now
from idm.rules.terms import LOOKUP_SERVICE
from idm.tree import org
from idm.validation import free_text
from idm.validation import uid as check_uid

DISABLED_LOCK = "000001010000Z"
ACCOUNT_CLASSES = "(|(objectClass=idmAdminAccount)(objectClass=idmBusinessAccount))"
ACCOUNT_ATTRS = ["uid", "cn", "objectClass", "idmStatus", "idmStatusChanged", "idmStatusReason",
                 "idmAdminRole", "idmScope", "idmGrant", "idmIdNumber", "idmIdMasked", "mobile",
                 "mail", "telephoneNumber", "idmLegacy", "idmPostName", "idmFormRef",
                 "pwdAccountLockedTime", "pwdReset"]


@dataclass(frozen=True)
class Account:
    dn: str
    uid: str
    kind: str  # "admin" or "business"
    name: str
    status: str
    role: str | None
    scope: str | None
    grants: tuple[str, ...]
    id_number: str | None  # the full number only where the reader may see it (R17)
    id_masked: str | None
    mobile: str | None
    mail: str | None
    legacy: bool
    post: str | None
    locked: bool
    must_change: bool
    status_reason: str | None

    @property
    def node_dn(self) -> str:
        return names.parent_of(names.parent_of(self.dn))


@dataclass(frozen=True)
class Created:
    dn: str
    uid: str
    password: str  # one-time: shown once, must be changed at first login (R13)


def _account(dn: str, a: dict[str, list[str]]) -> Account:
    def one(name: str) -> str | None:
        return a[name][0] if a.get(name) else None

    lock = one("pwdAccountLockedTime")
    return Account(
        dn=dn, uid=one("uid") or "", name=one("cn") or "",
        kind="admin" if "idmAdminAccount" in a.get("objectClass", []) else "business",
        status=one("idmStatus") or "", role=one("idmAdminRole"), scope=one("idmScope"),
        grants=tuple(sorted(a.get("idmGrant", []))), id_number=one("idmIdNumber"),
        id_masked=one("idmIdMasked"), mobile=one("mobile"), mail=one("mail"),
        legacy=one("idmLegacy") == "TRUE", post=one("idmPostName"),
        locked=lock is not None and lock != DISABLED_LOCK, must_change=one("pwdReset") == "TRUE",
        status_reason=one("idmStatusReason"),
    )


def find(session: Session, uid: str) -> Account:
    """The account with this login, if the bound identity may see it."""
    flt = names.all_of(ACCOUNT_CLASSES, names.eq("uid", uid))
    for dn, attrs in session.search(session.suffix, flt, ACCOUNT_ATTRS):
        return _account(dn, attrs)
    raise NotFound(f"找不到账号 {uid}，或不在您的管理范围内", f"no account {uid} within your reach")


def get(session: Session, dn: str) -> Account:
    entry = session.get(dn, ACCOUNT_ATTRS)
    if entry is None:
        raise NotFound(f"找不到账号 {dn}", f"no account {dn}")
    return _account(*entry)


def _create(session: Session, container: str, object_class: str, person_attrs: dict[str, list[str]],
            uid: str | None, name: str, extra: dict[str, list[str]]) -> Created:
    """Add the entry under a free uid, then give it a one-time password via Password Modify."""
    candidates = [check_uid(uid)] if uid else uid_candidates(name)
    for candidate in candidates:
        dn = names.child_dn("uid", candidate, container)
        attrs = {"objectClass": [object_class], "uid": [candidate], "idmStatus": ["active"],
                 "idmStatusChanged": [now()], **person_attrs, **extra}
        try:
            session.add(dn, attrs)
        except (AlreadyExists, ConstraintViolation) as err:
            if isinstance(err, ConstraintViolation) and not _uid_taken(session, candidate):
                raise  # not the login: another unique value (the ID number) is taken
            if "not unique" in err.en or isinstance(err, AlreadyExists):
                if uid:
                    raise AlreadyExists(f"登录账号 {uid} 已被使用", f"login {uid} is taken") from err
                continue
            raise
        return Created(dn, candidate, one_time_password(session, dn))
    raise AlreadyExists(f"无法为“{name}”生成未被使用的登录账号，请用 --uid 指定",
                        f"no free login for {name!r}; give one with --uid")


def _uid_taken(session: Session, uid: str) -> bool:
    lookup = session.peer(LOOKUP_SERVICE)
    flt = names.all_of(ACCOUNT_CLASSES, names.eq("uid", uid))
    return any(True for _ in lookup.search(session.suffix, flt,
                                           ["1.1"]))


def create_business_user(session: Session, actor: Actor, node_code: str, person: Person,
                         uid: str | None = None, form: str | None = None) -> Created:
    return _create_at(session, actor, node_code, "people", person, uid, form)


def create_admin(session: Session, actor: Actor, node_code: str, person: Person,
                 uid: str | None = None, form: str | None = None) -> Created:
    """An admin account one level down, without a role: the security admin grants that (R4/R5)."""
    return _create_at(session, actor, node_code, "admins", person, uid, form)


def may_create(session: Session, actor: Actor, node_code: str, container_name: str) -> str:
    """The container where the actor may create accounts at that node (refused otherwise)."""
    node = org.find(session, node_code)
    container = names.child_dn("ou", container_name, node.dn)
    actors.require(session, actor, "create_admin" if container_name == "admins" else "create_person",
                   container)
    return container


def _create_at(session: Session, actor: Actor, node_code: str, container_name: str, person: Person,
               uid: str | None, form: str | None) -> Created:
    container = may_create(session, actor, node_code, container_name)
    node = org.find(session, node_code)
    admin = container_name == "admins"
    id_numbers.require_free_for(session, person.id_number, person.name,
                                      "admin" if admin else "business", node.dn)
    extra = {"idmFormRef": [form]} if form else {}
    object_class = "idmAdminAccount" if admin else "idmBusinessAccount"
    return _create(session, container, object_class, person.attrs(), uid, person.name, extra)


def set_role(session: Session, actor: Actor, account: Account, role: str,
             form: str | None = None) -> None:
    """Role and organisational scope of a next-level admin (R5): scope is the account's node."""
    if account.kind != "admin":
        raise InvalidInput("业务用户不能持有管理员角色（R8）",
                           "a business account cannot hold an admin role (R8)")
    actors.require(session, actor, "set_role", account.dn)
    changes = {"idmAdminRole": [role], "idmScope": [normal(account.node_dn)]}
    if form:
        changes["idmFormRef"] = [form]
    session.replace(account.dn, changes)


def disable(session: Session, actor: Actor, account: Account, reason: str,
            form: str | None = None) -> None:
    """Lock the account for good and mark it disabled; nothing of it is removed (R15)."""
    if not reason.strip():
        raise InvalidInput("停用须注明原因", "a reason is required to disable an account")
    free_text(reason)
    if account.status == "disabled":
        raise InvalidInput(f"账号 {account.uid} 已停用", f"account {account.uid} is already disabled")
    actors.require(session, actor, "change_status", account.dn)
    changes = {"idmStatus": ["disabled"], "idmStatusChanged": [now()],
               "idmStatusReason": [reason], "pwdAccountLockedTime": [DISABLED_LOCK]}
    if form:
        changes["idmFormRef"] = [form]
    session.replace(account.dn, changes)


def restore(session: Session, actor: Actor, account: Account, reason: str,
            form: str | None = None) -> None:
    if account.status != "disabled":
        raise InvalidInput(f"账号 {account.uid} 未停用", f"account {account.uid} is not disabled")
    free_text(reason)
    actors.require(session, actor, "change_status", account.dn)
    changes = {"idmStatus": ["active"], "idmStatusChanged": [now()],
               "idmStatusReason": [reason or "restored"], "pwdAccountLockedTime": []}
    if form:
        changes["idmFormRef"] = [form]
    session.replace(account.dn, changes)


def unlock(session: Session, actor: Actor, account: Account, form: str | None = None) -> bool:
    """Lift a lockout after failed binds (账号解锁). A disabled account needs `restore`."""
    if account.status == "disabled":
        raise InvalidInput(f"账号 {account.uid} 已停用，请使用恢复", f"account {account.uid} is "
                           "disabled: restore it instead")
    actors.require(session, actor, "change_status", account.dn)
    if not account.locked:
        return False
    changes: dict[str, list[str]] = {"pwdAccountLockedTime": []}
    if form:
        changes["idmFormRef"] = [form]
    session.replace(account.dn, changes)
    return True


def reset_password(session: Session, actor: Actor, account: Account, form: str | None = None) -> str:
    """A new one-time password, marked must-change (pwdReset) until the owner changes it.
    Not for a disabled account: ppolicy lifts the lock on a password change."""
    if account.status == "disabled":
        raise InvalidInput(f"账号 {account.uid} 已停用，不能重置密码（请先恢复）",
                           f"account {account.uid} is disabled: restore it before a reset")
    actors.require(session, actor, "reset_password", account.dn)
    return one_time_password(session, account.dn, form)


def change_info(session: Session, actor: Actor, account: Account, changes: dict[str, list[str]],
                form: str | None = None) -> None:
    """Correct an account's name or contact data (信息变更)."""
    actors.require(session, actor, "change_info", account.dn)
    if form:
        changes = {**changes, "idmFormRef": [form]}
    session.replace(account.dn, changes)


def list_accounts(session: Session, node_code: str, kind: str, text: str | None = None,
                  status: str | None = None, node: org.Node | None = None) -> list[Account]:
    """Accounts of one node that the bound identity may see; `text` matches login or name.
    `node`, when the caller has already read it, saves reading it again."""
    node = node if node is not None and node.code == node_code else org.find(session, node_code)
    container = names.child_dn("ou", "admins" if kind == "admin" else "people", node.dn)
    parts = ["(objectClass=idmAdminAccount)" if kind == "admin" else "(objectClass=idmBusinessAccount)"]
    if text:
        parts.append(names.any_of(names.contains("uid", text), names.contains("cn", text)))
    if status:
        parts.append(names.eq("idmStatus", status))
    try:
        found = session.search(container, names.all_of(*parts), ACCOUNT_ATTRS, scope=ldap.SCOPE_ONELEVEL)
        return sorted((_account(dn, a) for dn, a in found), key=lambda acc: acc.uid)
    except NotFound:
        return []


def shared_holders(accounts: list[Account]) -> dict[str, list[Account]]:
    """R3: one person holding several admin accounts, by ID number (where readable)."""
    by_id: dict[str, list[Account]] = {}
    for account in accounts:
        if account.id_number:
            by_id.setdefault(account.id_number, []).append(account)
    return {k: v for k, v in by_id.items() if len(v) > 1}



def counts(session: Session, node_dn: str, kind: str) -> dict[str, int]:
    """Active and disabled accounts of one kind at a unit, as far as the reader sees them."""
    container = names.child_dn("ou", "admins" if kind == "admin" else "people", node_dn)
    cls = "(objectClass=idmAdminAccount)" if kind == "admin" else "(objectClass=idmBusinessAccount)"
    out = {"active": 0, "disabled": 0}
    try:
        for _, attrs in session.search(container, cls, ["idmStatus"], scope=ldap.SCOPE_ONELEVEL):
            status = (attrs.get("idmStatus") or [""])[0]
            out[status] = out.get(status, 0) + 1
    except NotFound:
        pass
    return out
