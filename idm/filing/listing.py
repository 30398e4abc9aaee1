"""A department's forms, listed and in pages, newest first (the console's form list, the CLI's
`idm form list`)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import ldap

from idm import validation
from idm.directory import fresh, names
from idm.directory.session import Session
from idm.errors import NotFound
from idm.filing.forms import FORM_ATTRS, FORM_FILTER, Form, acted_on, parse
from idm.identity.accounts import Account
from idm.tree import org


def list_forms(session: Session, node_code: str, status: str | None = None) -> list[Form]:
    node = org.find(session, node_code)
    parts = [FORM_FILTER]
    if status:
        parts.append(names.eq("idmRecordStatus", status))
    try:
        found = session.search(names.child_dn("ou", "forms", node.dn), names.all_of(*parts), FORM_ATTRS,
                               scope=ldap.SCOPE_ONELEVEL)
        return sorted((parse(dn, a) for dn, a in found), key=lambda f: f.form_id)
    except NotFound:
        return []


@dataclass(frozen=True)
class FormPage:
    forms: list[Form]
    total: int  # the matches in the window read (all of them when `complete`)
    more: bool
    complete: bool  # the window was the whole history (or reached `since`)


# Newest first, a window at a time: the last day, week, month, year, then everything. A page
# costs what the window holds, not what the department ever received (createTimestamp is
# indexed, and the directory's access rules are checked on each match only).
WINDOWS_DAYS = (1, 7, 31, 366, None)


def page(session: Session, node_code: str, *, status: str | None = None, kind: str | None = None,
         unit: str | None = None, since: str | None = None, number: int = 1, size: int = 50) -> FormPage:
    """One page of a department's forms, newest first. The filters go to the directory and only
    the names and times of the matches come back; the whole of just the page's forms is read.
    The answer is kept until the directory changes (`fresh`): a reload costs one base search."""
    key = ("forms.page", node_code, status, kind, unit, since, number, size)
    return fresh.LISTS.get(session, session.suffix, key, lambda: _page(
        session, node_code, status=status, kind=kind, unit=unit, since=since, number=number, size=size))


def _page(session: Session, node_code: str, *, status: str | None, kind: str | None, unit: str | None,
          since: str | None, number: int, size: int) -> FormPage:
    node = org.find(session, node_code)
    parts = [FORM_FILTER]
    if status:
        parts.append(names.eq("idmRecordStatus", status))
    if kind:
        parts.append(names.eq("idmRecordKind", kind))
    if unit:
        parts.append(f"(cn={ldap.filter.escape_filter_chars(f'F{unit}-')}*)")  # F<unit>-<date>-<n>
    floor = validation.local_day_start(since, "受理日期", "received since") if since else None
    base = names.child_dn("ou", "forms", node.dn)
    order: list[tuple[str, str]] = []
    start: str | None = None
    for days in WINDOWS_DAYS:
        start = (datetime.now(UTC) - timedelta(days=days)).strftime("%Y%m%d%H%M%SZ") if days else None
        if floor and (start is None or start < floor):
            start = floor
        window = [*parts, f"(createTimestamp>={start})"] if start else parts
        try:
            found = session.search(base, names.all_of(*window), ["createTimestamp"],
                                   scope=ldap.SCOPE_ONELEVEL)
            order = sorted(((a.get("createTimestamp", [""])[0], names.first_value(dn)) for dn, a in found),
                           reverse=True)
        except NotFound:
            return FormPage([], 0, False, True)
        if len(order) > number * size or start is None or start == floor:
            break
    complete = start is None or start == floor
    shown_window = order[(number - 1) * size: number * size]
    shown = [form_id for _, form_id in shown_window]
    if not shown:
        return FormPage([], len(order), False, complete)
    # the page's forms are the matches between its oldest and newest: a range, not a long OR
    wanted = names.all_of(*parts, f"(createTimestamp>={shown_window[-1][0]})",
                          f"(createTimestamp<={shown_window[0][0]})")
    by_id = {f.form_id: f for f in (parse(dn, a) for dn, a in
                                    session.search(base, wanted, FORM_ATTRS, scope=ldap.SCOPE_ONELEVEL))}
    return FormPage([by_id[f] for f in shown if f in by_id], len(order), len(order) > number * size, complete)




def about_account(session: Session, account: Account, departments: set[str]) -> list[Form]:
    """The received forms of these departments (node DNs) that name the account or created it."""
    out = []
    for node_dn in departments:
        try:
            received = list_forms(session, names.first_value(node_dn), "received")
        except NotFound:
            continue
        out += [f for f in received if (f.data.account_uid or "").lower() == account.uid.lower()
                or ("create" in f.steps and acted_on(f.steps["create"], account.uuid, account.dn))]
    return out
