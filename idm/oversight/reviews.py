"""Access reviews (R16, 定期核查): every level reviews its users at least every six months.

A campaign of node N is a record at `ou=reviews,N`, opened by N's system admin. Its rows are
the accounts N answers for: the business users at N (and at the units delegated to N, R2) and
the admin accounts of the next level (which N's system admin creates), each with grants or role,
status, last successful sign-in (slapd's lastbind overlay, precise to the day) and flags:

    idle            no sign-in for 180 days (or never)
    admin+business  the same person (ID number) holds an admin and a business account
    several-admin   the same person holds several admin accounts
    legacy          a post account not converted to real-name (R9)
    no-form         grants, but no form behind the account's last action

The reviewer's decisions (keep / revoke a grant / disable) never write around the toolkit: a
revoke records a grant request (the security admin executes it with `idm grant remove`), a
disable records a change form and executes it at once through `idm.pipeline`. When every row is
decided the reviewer closes the campaign and the level's auditor countersigns it. A unit whose
last countersigned campaign is more than six months old (or that has none) is overdue, and the
level above sees it. The report is a CSV and a PDF.
"""

from __future__ import annotations

import json
import secrets
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import ldap

from idm import pipeline
from idm.directory import names
from idm.directory.session import Session
from idm.errors import InvalidInput, NotFound, PermissionDenied
from idm.filing import forms
from idm.filing.fields import FormData
from idm.identity import accounts
from idm.labels import VOCABULARY
from idm.rules import actor as actors
from idm.rules.actor import Actor
from idm.rules.terms import LOOKUP_SERVICE
from idm.tree import org

PERIOD = timedelta(days=183)  # six months
IDLE = timedelta(days=180)
# the words are idm.labels' (one vocabulary for the console, the CLI and the reports)
DECISIONS = {k: zh for k, (zh, _en) in VOCABULARY["review_decision"].items()}
FLAGS = {k: zh for k, (zh, _en) in VOCABULARY["review_flag"].items()}
STATUS_ZH = {k: zh for k, (zh, _en) in VOCABULARY["review_status"].items()}
REVIEW_ATTRS = ["cn", "idmRecordKind", "idmRecordStatus", "idmRecordData", "idmRecordState"]
ROW_ATTRS = ["uid", "cn", "objectClass", "idmStatus", "idmAdminRole", "idmGrant", "idmLegacy",
             "idmFormRef", "idmIdNumber", "authTimestamp", "mobile", "entryUUID"]
FILTER = "(&(objectClass=idmRecord)(idmRecordKind=review))"


@dataclass
class Row:
    uid: str
    dn: str
    kind: str  # business | admin
    name: str
    status: str
    role: str | None
    grants: list[str]
    last_signin: str | None  # YYYY-MM-DD
    flags: list[str]
    decision: str | None = None
    revoke: list[str] = field(default_factory=list)
    form: str | None = None
    by: str | None = None
    at: str | None = None
    uuid: str = ""  # the account's entryUUID: the row still finds it after a transfer


@dataclass
class Campaign:
    dn: str
    review_id: str
    unit: str  # code
    status: str
    opened_at: str
    opened_by: str
    rows: list[Row]
    history: list[dict[str, str]]

    @property
    def node_dn(self) -> str:
        return names.parent_of(names.parent_of(self.dn))

    @property
    def due(self) -> str:
        return (datetime.strptime(self.opened_at, "%Y%m%d%H%M%SZ") + PERIOD).strftime("%Y-%m-%d")

    @property
    def decided(self) -> int:
        return sum(1 for r in self.rows if r.decision)


def _stamp(when: datetime) -> str:
    return when.strftime("%Y%m%d%H%M%SZ")


def _day(stamp: str | None) -> str | None:
    return f"{stamp[:4]}-{stamp[4:6]}-{stamp[6:8]}" if stamp else None


def _campaign(dn: str, a: dict[str, list[str]]) -> Campaign:
    data = json.loads((a.get("idmRecordData") or ["{}"])[0])
    state = json.loads((a.get("idmRecordState") or ["{}"])[0])
    return Campaign(dn=dn, review_id=a["cn"][0], unit=str(data.get("unit", "")),
                    status=(a.get("idmRecordStatus") or ["open"])[0],
                    opened_at=str(state.get("opened_at", "")), opened_by=str(state.get("opened_by", "")),
                    rows=[Row(**r) for r in data.get("rows", [])], history=list(state.get("history", [])))


def _rows(session: Session, node: org.Node, now: datetime) -> list[Row]:
    """The accounts node N answers for, as N's system admin reads them."""
    bases = [(names.child_dn("ou", "people", node.dn), "(objectClass=idmBusinessAccount)")]
    for child in _children(session, node):
        bases.append((names.child_dn("ou", "admins", child.dn), "(objectClass=idmAdminAccount)"))
        if _delegated_to(child, node):  # R2: its users are this department's to review
            bases.append((names.child_dn("ou", "people", child.dn), "(objectClass=idmBusinessAccount)"))
    found: list[tuple[str, dict[str, list[str]]]] = []
    for base, flt in bases:
        try:
            found += list(session.search(base, flt, ROW_ATTRS, scope=ldap.SCOPE_ONELEVEL, small=True))
        except NotFound:
            continue
    numbers: dict[str, list[str]] = {}
    for dn, a in found:
        for number in a.get("idmIdNumber", []):
            numbers.setdefault(number, []).append(dn)
    business = [n for dn, a in found for n in a.get("idmIdNumber", []) if "idmAdminAccount" not in a.get(
        "objectClass", [])]
    in_business = set(business)  # a list here made a county of 100,000 users quadratic
    admin = [n for dn, a in found for n in a.get("idmIdNumber", []) if n not in in_business]
    both = (_held_by(session, business, "(objectClass=idmAdminAccount)")
            | _held_by(session, admin, "(objectClass=idmBusinessAccount)"))
    rows = []
    for dn, a in found:
        kind = "admin" if "idmAdminAccount" in a.get("objectClass", []) else "business"
        grants = sorted(a.get("idmGrant", []))
        role = a["idmAdminRole"][0] if a.get("idmAdminRole") else None
        if kind == "business" and not grants:
            continue  # nothing to review: no access
        last = a["authTimestamp"][0] if a.get("authTimestamp") else None
        flags = []
        if last is None or datetime.strptime(last, "%Y%m%d%H%M%SZ").replace(tzinfo=UTC) < now - IDLE:
            flags.append("idle")
        if (a.get("idmLegacy") or [""])[0] == "TRUE":
            flags.append("legacy")
        if grants and not a.get("idmFormRef"):
            flags.append("no-form")
        for number in a.get("idmIdNumber", []):
            if number in both:
                flags.append("admin+business")
            if kind == "admin" and len(numbers.get(number, [])) > 1:
                flags.append("several-admin")
        rows.append(Row(uid=(a.get("uid") or [""])[0], dn=dn, kind=kind, name=(a.get("cn") or [""])[0],
                        status=(a.get("idmStatus") or [""])[0], role=role, grants=grants,
                        last_signin=_day(last), flags=flags,
                        uuid=(a.get("entryUUID") or [""])[0].lower()))
    return sorted(rows, key=lambda r: (r.kind, r.uid))


def _held_by(session: Session, numbers: list[str], shape: str, chunk: int = 16) -> set[str]:
    """Which of these numbers an account of `shape` also holds, anywhere (the lookup account
    tests numbers it may not read): a few numbers per search, told apart only on a hit."""
    lookup = session.peer(LOOKUP_SERVICE)
    held: set[str] = set()
    for start in range(0, len(numbers), chunk):
        group = numbers[start:start + chunk]
        flt = names.all_of(shape, names.any_of(*(names.eq("idmIdNumber", n) for n in group)))
        if not any(True for _ in lookup.search(session.suffix, flt, ["1.1"])):
            continue
        held |= {n for n in group if any(True for _ in lookup.search(
            session.suffix, names.all_of(shape, names.eq("idmIdNumber", n)), ["1.1"]))}
    return held


def _children(session: Session, node: org.Node) -> list[org.Node]:
    """The units directly under `node` (one level: on the national set, a walk of the subtree
    below a county took five seconds)."""
    return org.children(session, node.dn)


def _delegated_to(child: org.Node, node: org.Node) -> bool:
    return (child.managed_by or "").lower() == node.dn.lower()


def _write(session: Session, campaign: Campaign, status: str | None = None) -> None:
    data = {"unit": campaign.unit, "rows": [asdict(r) for r in campaign.rows]}
    session.replace(campaign.dn, {"idmRecordData": [json.dumps(data, ensure_ascii=False, sort_keys=True)]})
    _state(session, campaign, status or campaign.status)


def _state(session: Session, campaign: Campaign, status: str) -> None:
    state = {"opened_at": campaign.opened_at, "opened_by": campaign.opened_by, "history": campaign.history}
    session.replace(campaign.dn, {"idmRecordStatus": [status],
                                  "idmRecordState": [json.dumps(state, ensure_ascii=False, sort_keys=True)]})
    campaign.status = status


def open_campaign(session: Session, actor: Actor, code: str, now: datetime | None = None) -> Campaign:
    """Start a campaign at the actor's own node: one open campaign per unit at a time."""
    now = now or datetime.now(UTC)
    node = org.find(session, code)
    if node.dn.lower() != actor.node_dn.lower():
        raise PermissionDenied(f"只能核查本级单位（{names.first_value(actor.node_dn)}）的用户",
                               f"you review the users of your own unit ({names.first_value(actor.node_dn)})")
    container = names.child_dn("ou", "reviews", node.dn)
    actors.require(session, actor, "open_review", container)
    if any(c.status != "closed" for c in list_campaigns(session, code)):
        raise InvalidInput("本单位已有未关闭的核查", "this unit has a review campaign that is not closed yet")
    review_id = f"R{code}-{now:%Y%m%d}-{secrets.token_hex(3)}"
    dn = names.child_dn("cn", review_id, container)
    campaign = Campaign(dn, review_id, code, "open", _stamp(now), actor.dn, _rows(session, node, now),
                        [{"status": "open", "by": actor.dn, "at": _stamp(now)}])
    data = {"unit": code, "rows": [asdict(r) for r in campaign.rows]}
    state = {"opened_at": campaign.opened_at, "opened_by": actor.dn, "history": campaign.history}
    session.add(dn, {"objectClass": ["idmRecord"], "cn": [review_id], "idmRecordKind": ["review"],
                     "idmRecordStatus": ["open"],
                     "idmRecordData": [json.dumps(data, ensure_ascii=False, sort_keys=True)],
                     "idmRecordState": [json.dumps(state, ensure_ascii=False, sort_keys=True)]})
    return campaign


def list_campaigns(session: Session, code: str) -> list[Campaign]:
    node = org.find(session, code)
    try:
        found = session.search(names.child_dn("ou", "reviews", node.dn), FILTER, REVIEW_ATTRS,
                               scope=ldap.SCOPE_ONELEVEL, small=True)
        return sorted((_campaign(dn, a) for dn, a in found), key=lambda c: c.opened_at)
    except NotFound:
        return []


def get(session: Session, review_id: str) -> Campaign:
    flt = names.all_of(FILTER, names.eq("cn", review_id))
    for dn, a in session.search(session.suffix, flt, REVIEW_ATTRS):
        return _campaign(dn, a)
    raise NotFound(f"找不到核查 {review_id}", f"no review campaign {review_id}")


def current(session: Session, code: str) -> Campaign | None:
    open_ones = [c for c in list_campaigns(session, code) if c.status != "closed"]
    return open_ones[-1] if open_ones else None


def _row(campaign: Campaign, uid: str) -> Row:
    for row in campaign.rows:
        if row.uid.lower() == uid.lower():
            return row
    raise NotFound(f"核查 {campaign.review_id} 中没有账号 {uid}",
                   f"no account {uid} in review {campaign.review_id}")


def _form(session: Session, actor: Actor, account: accounts.Account, kind: str, **fields: Any) -> forms.Form:
    unit = names.first_value(account.node_dn)
    data = FormData(kind=kind, unit=unit, name=account.name, id_number=account.id_number or "",
                    mobile=account.mobile or "", account_uid=account.uid, **fields)
    return forms.add(session, actor, data)


def decide(session: Session, actor: Actor, review_id: str, uid: str, decision: str,
           grants: list[str] | None = None, reason: str = "") -> Row:
    """Record the reviewer's decision on a row and act on it through the toolkit."""
    campaign = get(session, review_id)
    if campaign.status != "open":
        raise InvalidInput(f"核查 {review_id} 已关闭", f"review {review_id} is closed")
    actors.require(session, actor, "decide_review", campaign.dn)
    if decision not in DECISIONS:
        raise InvalidInput(f"决定应为：{'、'.join(DECISIONS)}",
                           f"decision must be one of: {', '.join(DECISIONS)}")
    row = _row(campaign, uid)
    if row.decision:
        raise InvalidInput(f"{uid} 已有决定：{row.decision}", f"{uid} is already decided: {row.decision}")
    account = accounts.by_uuid(session, row.uuid) if row.uuid else accounts.get(session, row.dn)
    now = actors.now()
    if decision == "revoke":
        wanted = grants or list(account.grants)
        unknown = [g for g in wanted if g not in account.grants]
        if account.kind != "business" or not wanted or unknown:
            raise InvalidInput(f"{uid} 没有可撤销的授权 {'、'.join(unknown)}",
                               f"{uid} holds no such grant to revoke {', '.join(unknown)}")
        form = _form(session, actor, account, "grant", grants_remove=wanted,
                     reason=reason or f"定期核查 {review_id}")
        row.revoke, row.form = wanted, form.form_id
    elif decision == "disable":
        form = _form(session, actor, account, "change", change_type="disable",
                     reason=reason or f"定期核查 {review_id}：停用")
        pipeline.run(pipeline.Acting(session, actor), "disable", form.form_id, account.uid)
        row.form = form.form_id
    row.decision, row.by, row.at = decision, actor.dn, now
    _write(session, campaign)
    return row


def close(session: Session, actor: Actor, review_id: str) -> Campaign:
    """The reviewer closes a campaign whose every row is decided; the auditor countersigns."""
    campaign = get(session, review_id)
    actors.require(session, actor, "decide_review", campaign.dn)
    if campaign.status != "open":
        raise InvalidInput(f"核查 {review_id} 不在进行中", f"review {review_id} is not open")
    left = [r.uid for r in campaign.rows if not r.decision]
    if left:
        raise InvalidInput(f"还有 {len(left)} 个账号未作决定：{'、'.join(left[:5])}",
                           f"{len(left)} accounts are not decided yet: {', '.join(left[:5])}")
    campaign.history.append({"status": "closing", "by": actor.dn, "at": actors.now()})
    _state(session, campaign, "closing")
    return campaign


def countersign(session: Session, actor: Actor, review_id: str) -> Campaign:
    campaign = get(session, review_id)
    if actor.role != "auditor" or actor.node_dn.lower() != campaign.node_dn.lower():
        raise PermissionDenied("会签须由本级审计员进行", "the level's auditor countersigns")
    actors.require(session, actor, "countersign_review", campaign.dn)
    if campaign.status != "closing":
        raise InvalidInput(f"核查 {review_id} 尚未由系统管理员关闭",
                           f"review {review_id} is not closed by the reviewer")
    campaign.history.append({"status": "closed", "by": actor.dn, "at": actors.now()})
    _state(session, campaign, "closed")
    return campaign


@dataclass(frozen=True)
class Overdue:
    unit: org.Node
    last_closed: str | None  # YYYY-MM-DD
    open_since: str | None


def overdue_below(session: Session, code: str, now: datetime | None = None) -> list[Overdue]:
    """Units of the level below whose last countersigned campaign is more than six months old
    (or that have none), as the level above reads their review records. A unit delegated to
    this level (R2) is reviewed in this level's campaigns instead."""
    now = now or datetime.now(UTC)
    node = org.find(session, code)
    # one search for the review records below (this level reads those of the level below only),
    # not one per unit: a county has hundreds of schools
    by_unit: dict[str, list[dict[str, list[str]]]] = {}
    for dn, attrs in session.search(node.dn, FILTER, ["idmRecordStatus", "idmRecordState"]):
        by_unit.setdefault(names.parent_of(names.parent_of(dn)).lower(), []).append(attrs)
    out = []
    for child in _children(session, node):
        if _delegated_to(child, node):
            continue  # reviewed with this level (R2)
        found = [("", a) for a in by_unit.get(child.dn.lower(), [])]
        closed, open_since = None, None
        for _, a in found:
            state = json.loads((a.get("idmRecordState") or ["{}"])[0])
            history = state.get("history", [])
            if (a.get("idmRecordStatus") or [""])[0] == "closed" and history:
                at = history[-1]["at"]
                closed = max(closed or at, at)
            elif state.get("opened_at"):
                open_since = state["opened_at"]
        if closed is None or datetime.strptime(closed, "%Y%m%d%H%M%SZ").replace(tzinfo=UTC) < now - PERIOD:
            out.append(Overdue(child, _day(closed), _day(open_since)))
    return sorted(out, key=lambda o: o.unit.code)
