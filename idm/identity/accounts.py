"""Admin and business accounts as the acting admin reads them (find, list, count), and the
writes to their entries that the operations make (R4, R15). The operations themselves
(`idm.identity.changes`, `registration`, ...) run through `idm.pipeline`, which checks the form
and the permission table first; slapd decides again: the directory is the guard.
"""

from __future__ import annotations

from dataclasses import dataclass

import ldap

from idm.directory import names
from idm.directory.session import Session
from idm.errors import AlreadyExists, ConstraintViolation, IdmError, InvalidInput, NotFound
from idm.identity import id_numbers
from idm.identity.passwords import one_time_password
from idm.identity.person import Person, uid_candidates
from idm.rules.actor import normal, now
from idm.rules.terms import LOOKUP_SERVICE
from idm.tree import org
from idm.validation import free_text
from idm.validation import uid as check_uid

DISABLED_LOCK = "000001010000Z"
ACCOUNT_CLASSES = "(|(objectClass=idmAdminAccount)(objectClass=idmBusinessAccount))"
ACCOUNT_ATTRS = ["uid", "cn", "objectClass", "idmStatus", "idmStatusChanged", "idmStatusReason",
                 "idmAdminRole", "idmScope", "idmGrant", "idmIdNumber", "idmIdMasked", "mobile",
                 "mail", "telephoneNumber", "idmLegacy", "idmPostName", "idmFormRef",
                 "pwdAccountLockedTime", "pwdReset", "entryUUID", "idmReleasedTo"]
# What an operation on an account needs to know of it (who, where, in which state), without
# the contact data and grants: what a bulk read asks for, and what a write reads back.
CORE_ATTRS = ["uid", "cn", "objectClass", "idmStatus", "idmIdMasked", "idmIdNumber", "idmReleasedTo",
              "entryUUID", "pwdAccountLockedTime"]


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
    uuid: str = ""  # entryUUID: what records name the account by; it survives a move
    released_to: str | None = None  # transfer: the unit it is released to, until that unit accepts

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
        status_reason=one("idmStatusReason"), uuid=(one("entryUUID") or "").lower(),
        released_to=one("idmReleasedTo"),
    )


def parse(dn: str, attrs: dict[str, list[str]]) -> Account:
    """An account from an entry read with ACCOUNT_ATTRS (by a bulk search)."""
    return _account(dn, attrs)


def find(session: Session, uid: str) -> Account:
    """The account with this login, if the bound identity may see it."""
    flt = names.all_of(ACCOUNT_CLASSES, names.eq("uid", uid))
    for dn, attrs in session.search(session.suffix, flt, ACCOUNT_ATTRS):
        return _account(dn, attrs)
    raise NotFound(f"找不到账号 {uid}，或不在您的管理范围内", f"no account {uid} within your reach")


def visible(session: Session, uid: str) -> Account | None:
    """The account with this login where the bound identity may see it, else None."""
    try:
        return find(session, uid)
    except NotFound:
        return None


def get(session: Session, dn: str) -> Account:
    entry = session.get(dn, ACCOUNT_ATTRS)
    if entry is None:
        raise NotFound(f"找不到账号 {dn}", f"no account {dn}")
    return _account(*entry)


def by_uuid(session: Session, uuid: str) -> Account:
    """The account a record names (by entryUUID), wherever it is now."""
    flt = names.all_of(ACCOUNT_CLASSES, names.eq("entryUUID", uuid))
    for dn, attrs in session.search(session.suffix, flt, ACCOUNT_ATTRS):
        return _account(dn, attrs)
    raise NotFound(f"找不到账号 {uuid}，或不在您的管理范围内", f"no account {uuid} within your reach")


def display_name(session: Session, dn: str) -> str | None:
    """An account's name as the reader may see it, or None where it cannot be read (a name
    must never fail a page)."""
    try:
        entry = session.get(dn, ["cn"])
    except IdmError:
        return None
    names_ = entry[1].get("cn") if entry else None
    return names_[0] if names_ else None


DETAILS = ("idmFormRef", "idmSignIn", "idmConfirmed", "idmDispute", "mail", "telephoneNumber")


def details(session: Session, dn: str) -> dict[str, str]:
    """The facts an account page shows beside the account: the last form, the last sign-in
    event (admins), the first-login check, contact data (where the reader may see them)."""
    entry = session.get(dn, list(DETAILS))
    return {k: v[0] for k, v in entry[1].items() if v} if entry else {}


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


def create(session: Session, unit: org.Node, container_name: str, person: Person, uid: str | None,
           form: str) -> Created:
    """A new account of the person at the unit (`people` or `admins`), once the number is free
    for it (one person, one business account; admin accounts at one unit only)."""
    admin = container_name == "admins"
    id_numbers.require_free_for(session, person.id_number, person.name, "admin" if admin else "business",
                                unit.dn)
    container = names.child_dn("ou", container_name, unit.dn)
    object_class = "idmAdminAccount" if admin else "idmBusinessAccount"
    return _create(session, container, object_class, person.attrs(), uid, person.name, {"idmFormRef": [form]})


def set_role(session: Session, account: Account, role: str, form: str) -> None:
    """Role and organisational scope of a next-level admin (R5): scope is the account's node."""
    session.replace(account.dn, {"idmAdminRole": [role], "idmScope": [normal(account.node_dn)],
                                 "idmFormRef": [form]})


def disable(session: Session, account: Account, reason: str, form: str) -> None:
    """Lock the account for good and mark it disabled; nothing of it is removed (R15)."""
    if not reason.strip():
        raise InvalidInput("停用须注明原因", "a reason is required to disable an account")
    free_text(reason)
    session.replace(account.dn, {"idmStatus": ["disabled"], "idmStatusChanged": [now()],
                                 "idmStatusReason": [reason], "pwdAccountLockedTime": [DISABLED_LOCK],
                                 "idmFormRef": [form]})


def restore(session: Session, account: Account, reason: str, form: str) -> None:
    free_text(reason)
    session.replace(account.dn, {"idmStatus": ["active"], "idmStatusChanged": [now()],
                                 "idmStatusReason": [reason or "restored"], "pwdAccountLockedTime": [],
                                 "idmFormRef": [form]})


def unlock(session: Session, account: Account, form: str) -> bool:
    """Lift a lockout after failed binds (账号解锁); False when it was not locked."""
    if not account.locked:
        return False
    session.replace(account.dn, {"pwdAccountLockedTime": [], "idmFormRef": [form]})
    return True


def change(session: Session, account: Account, changes: dict[str, list[str]], form: str) -> None:
    """Correct an account's name or contact data (信息变更)."""
    session.replace(account.dn, {**changes, "idmFormRef": [form]})


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
        found = session.search(container, names.all_of(*parts), ACCOUNT_ATTRS, scope=ldap.SCOPE_ONELEVEL,
                               small=True)
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



def counts_below(session: Session, parent_dn: str, kind: str) -> dict[str, dict[str, int]]:
    """Active and disabled accounts of one kind at each unit directly under `parent_dn`, from
    one search (not one per unit): the province's console lists a hundred units. Keyed by the
    unit's DN, lower-case; a unit with none is absent."""
    container = "admins" if kind == "admin" else "people"
    cls = "(objectClass=idmAdminAccount)" if kind == "admin" else "(objectClass=idmBusinessAccount)"
    out: dict[str, dict[str, int]] = {}
    try:
        for dn, attrs in session.search(parent_dn, cls, ["idmStatus"]):
            box = names.parent_of(dn)
            unit = names.parent_of(box)
            if not box.lower().startswith(f"ou={container},"):
                continue
            if names.parent_of(unit).lower() != parent_dn.lower():
                continue
            status = (attrs.get("idmStatus") or [""])[0]
            mine = out.setdefault(unit.lower(), {"active": 0, "disabled": 0})
            mine[status] = mine.get(status, 0) + 1
    except NotFound:
        pass
    return out


def counts(session: Session, node_dn: str, kind: str) -> dict[str, int]:
    """Active and disabled accounts of one kind at a unit, as far as the reader sees them."""
    container = names.child_dn("ou", "admins" if kind == "admin" else "people", node_dn)
    cls = "(objectClass=idmAdminAccount)" if kind == "admin" else "(objectClass=idmBusinessAccount)"
    out = {"active": 0, "disabled": 0}
    try:
        for _, attrs in session.search(container, cls, ["idmStatus"], scope=ldap.SCOPE_ONELEVEL, small=True):
            status = (attrs.get("idmStatus") or [""])[0]
            out[status] = out.get(status, 0) + 1
    except NotFound:
        pass
    return out
