"""R9: post-based accounts (岗位制账号) brought in as they are, then bound to real people.

Import is a bulk operation of the local operator. Conversion is the system admin's: it keeps
the account's uid, entry and grants (the write log keeps its history) and adds the verified
person. An unconverted account cannot receive grants (the access rules refuse it).
"""

from __future__ import annotations

import csv
import io
import re
from dataclasses import dataclass
from pathlib import Path

import ldap

from idm import validation
from idm.bulk.source import read_text
from idm.directory import names
from idm.directory.session import Session
from idm.errors import InvalidInput, NotFound, ProblemList
from idm.filing.fit import mismatch
from idm.identity import id_numbers
from idm.identity.passwords import one_time_password
from idm.identity.person import Person
from idm.pipeline import Step
from idm.rules.actor import now
from idm.tree import org

COLUMNS = ("uid", "unit", "post")
FILE_ERRORS = ("岗位账号文件有错误，未做任何修改", "the post account file has errors; nothing was changed")
LEGACY_UID = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{1,63}")


@dataclass(frozen=True)
class PostAccount:
    uid: str
    unit: str
    post: str
    where: str


def read(path: Path) -> list[PostAccount]:
    text = read_text(path)
    reader = csv.DictReader(io.StringIO(text, newline=""))
    if tuple(reader.fieldnames or ()) != COLUMNS:
        raise InvalidInput(f"{path}:1: 表头应为 {','.join(COLUMNS)}", f"{path}:1: header must be "
                           f"{','.join(COLUMNS)}")
    problems = ProblemList()
    out: list[PostAccount] = []
    seen: dict[str, str] = {}
    for row in reader:
        where = f"{path}:{reader.line_num}"
        if None in row or any(v is None for v in row.values()):
            problems.add(where, "列数不对", "wrong number of fields")
            continue
        uid, unit, post = row["uid"].strip(), row["unit"].strip(), row["post"]
        if not LEGACY_UID.fullmatch(uid):
            problems.add(where, f"账号“{uid}”无效", f"account id {uid!r} is invalid")
            continue
        if uid.lower() in seen:
            problems.add(where, f"账号 {uid} 重复（首次在 {seen[uid.lower()]}）",
                         f"duplicate account {uid} (first at {seen[uid.lower()]})")
            continue
        try:
            validation.org_code(unit)
            validation.org_name(post)
        except InvalidInput as err:
            problems.add(where, err.zh, err.en)
            continue
        seen[uid.lower()] = where
        out.append(PostAccount(uid, unit, post, where))
    problems.raise_if_any(*FILE_ERRORS)
    return out


def import_accounts(session: Session, accounts: list[PostAccount]) -> tuple[int, int]:
    """(added, already there). Units and clashes are all checked before anything is written."""
    problems = ProblemList()
    units: dict[str, org.Node | None] = {}
    for code in sorted({a.unit for a in accounts}):
        try:
            units[code] = org.find(session, code)
        except NotFound:
            units[code] = None
    plan = []
    existing = 0
    for account in accounts:
        unit = units[account.unit]
        if unit is None:
            problems.add(account.where, f"单位 {account.unit} 不存在", f"unknown unit {account.unit}")
            continue
        dn = names.child_dn("uid", account.uid, names.child_dn("ou", "people", unit.dn))
        found = list(session.search(session.suffix, names.eq("uid", account.uid), ["1.1"]))
        if found and found[0][0].lower() == dn.lower():
            existing += 1
        elif found:
            problems.add(account.where, f"账号 {account.uid} 已存在于 {found[0][0]}",
                         f"account {account.uid} already exists at {found[0][0]}")
        else:
            plan.append((dn, account))
    problems.raise_if_any(*FILE_ERRORS)
    for dn, account in plan:
        session.add(dn, {"objectClass": ["idmBusinessAccount"], "uid": [account.uid],
                         "cn": [account.post], "sn": ["岗位账号"], "idmPostName": [account.post],
                         "idmLegacy": ["TRUE"], "idmStatus": ["active"], "idmStatusChanged": [now()]})
    return len(plan), existing


def convert(step: Step) -> str:
    """Bind the verified person of a business registration form to the post account it names
    (实名制转化); returns the new one-time password."""
    session, form, account = step.session, step.form, step.account
    assert account is not None
    if form.data.role is not None:
        raise mismatch(form, "角色 role", form.data.role, "（业务用户 business user）")
    d = form.data
    person = Person.checked(d.name, d.id_number, d.mobile, d.email, d.office_phone, d.surname or None)
    id_numbers.require_free_for(session, person.id_number, person.name, "business", account.node_dn)
    attrs = person.attrs()
    number = attrs.pop("idmIdNumber")  # written once: added, never replaced
    changes = {**attrs, "idmLegacy": ["FALSE"], "idmFormRef": [form.form_id]}
    session.modify(account.dn, [*((ldap.MOD_REPLACE, k, v) for k, v in changes.items()),
                                (ldap.MOD_ADD, "idmIdNumber", number)])
    return one_time_password(session, account.dn, form.form_id)


def report(session: Session, code: str | None = None) -> list[tuple[org.Node, int]]:
    """Unconverted post accounts per node, for the nodes the bound identity can see."""
    base = org.find(session, code).dn if code else session.suffix
    counts: dict[str, int] = {}
    for dn, _ in session.search(base, "(&(objectClass=idmBusinessAccount)(idmLegacy=TRUE))", ["1.1"]):
        node = names.parent_of(names.parent_of(dn)).lower()
        counts[node] = counts.get(node, 0) + 1
    nodes = {n.dn.lower(): n for n in org.all_nodes(session, base)}
    return sorted(((nodes[k], v) for k, v in counts.items() if k in nodes), key=lambda x: x[0].code)
