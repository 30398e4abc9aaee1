"""The auditor's view of the write log (R6): `cn=accesslog`, written by slapd alone, read by the
security auditor of a level for the operations of that level's admins, refused ones included.

Scoping is done by slapd (the log's access rules compare the actor's node with the auditor's);
this module only filters and shapes. Sensitive values inside logged modifications (passwords,
ID numbers, contact data) are withheld by value-level rules.
"""

from __future__ import annotations

import csv
import io
import json
import re
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import ldap

from idm import labels
from idm.directory import fresh, names
from idm.directory.session import Session
from idm.errors import InvalidInput, NotFound
from idm.identity import accounts

LOG_BASE = "cn=accesslog"
LOG_ATTRS = ["reqStart", "reqType", "reqDN", "reqAuthzID", "reqResult", "reqMessage", "reqMod",
             "reqNewSuperior"]
FORM_REF = re.compile(r"^idmFormRef:[+=] (.+)$", re.IGNORECASE)
SIGN_IN = re.compile(r"^idmSignIn:[+=] (\S+) (.*)$", re.IGNORECASE)
# Cells a spreadsheet would read as a formula (CWE-1236).
FORMULA_START = ("=", "+", "-", "@", "\t", "\r", "|", "%")


@dataclass(frozen=True)
class Operation:
    when: str
    actor: str
    kind: str
    target: str
    result: str
    message: str
    form: str | None
    changed: tuple[str, ...] = ()  # attributes a modify touched, for "what changed" in words
    event: str = ""  # a sign-in event's kind (labels' "signin_event"); `message` is then the address
    moved_to: str = ""  # a transfer (modrdn, 调动): the container the entry moved to
    step: str = ""  # the operation whose step on a form this write records (`idm.operations`)
    step_target: str = ""  # the entry that operation acted on, as the form's step names it
    record_kind: str = ""  # an added record's kind (a form: its form kind)

    @property
    def ok(self) -> bool:
        return self.result == "0"


# what slapd writes by itself on every change: no one's decision, so not shown as "what changed"
BOOKKEEPING = frozenset(("modifiersName", "modifyTimestamp", "entryCSN", "idmFormRef", "creatorsName",
                         "createTimestamp", "entryUUID", "structuralObjectClass", "entryDN",
                         "subschemaSubentry", "hasSubordinates"))


def _operation(attrs: dict[str, list[str]]) -> Operation:
    """One log record; a sign-in event (recorded by the web UI's lookup account on the admin's
    entry) is shown as the admin's own, with the event and the client address."""
    def one(name: str) -> str:
        return attrs[name][0] if attrs.get(name) else ""

    form = None
    changed: list[str] = []
    step = step_target = record_kind = ""
    for line in attrs.get("reqMod", []):
        if line.startswith("idmRecordState:= "):
            step, step_target = _step(line[len("idmRecordState:= "):])
        elif line.startswith("idmRecordKind:+ "):
            record_kind = line[len("idmRecordKind:+ "):]
        attr = line.split(":", 1)[0]
        if attr not in changed and attr not in BOOKKEEPING:
            changed.append(attr)
        match = FORM_REF.match(line)
        if match:
            form = match.group(1)
        event = SIGN_IN.match(line)
        if event:
            return Operation(when=one("reqStart"), actor=one("reqDN"), kind="signin",
                             target=one("reqDN"), result=one("reqResult"),
                             message=event.group(2), form=None, event=event.group(1))
    return Operation(when=one("reqStart"), actor=one("reqAuthzID").removeprefix("dn:"),
                     kind=one("reqType"), target=one("reqDN"), result=one("reqResult"),
                     message=one("reqMessage"), form=form, changed=tuple(changed),
                     moved_to=one("reqNewSuperior"), step=step, step_target=step_target,
                     record_kind=record_kind)


def from_raw(attrs: dict[str, list[bytes]]) -> Operation:
    """A record as read raw (the local operator's one read of the log)."""
    return _operation({k: [v.decode("utf-8", "replace") for v in vs] for k, vs in attrs.items()
                       if k in LOG_ATTRS})


def _step(state: str) -> tuple[str, str]:
    """(operation, target) of the step a form's state says its write recorded (`last`)."""
    try:
        data = json.loads(state)
        done = data["steps"][data["last"]]
        return str(done.get("op") or ""), str(done.get("target") or "")
    except (ValueError, KeyError, TypeError, AttributeError):
        return "", ""


# Windows searched newest first until a page is full: the log is read a slice at a time, not whole.
WINDOWS_HOURS = (1 / 60, 1 / 6, 1, 24, 24 * 7, 24 * 31, 24 * 366, None)


def page(session: Session, *, size: int = 50, before: str | None = None, since: str | None = None,
         until: str | None = None, **filters: Any) -> tuple[list[Operation], str | None]:
    """The newest `size` records before `before` (a record's time: the cursor) within
    [`since`, `until`], and the cursor of the next page (None at the end).

    A page reads little: first only the names of the matching records (a record's name is its
    time) in a window of the log, the last hour, day, week, ... until the window holds more than a
    page; then the whole of just the records shown. The answer is kept until the log changes
    (`fresh`): a reload costs one base search."""
    key = ("audit.page", size, before, since, until, tuple(sorted(filters.items())))
    return fresh.LISTS.get(session, LOG_BASE, key, lambda: _page(
        session, size=size, before=before, since=since, until=until, **filters))


def _page(session: Session, *, size: int, before: str | None, since: str | None, until: str | None,
          **filters: Any) -> tuple[list[Operation], str | None]:
    cursor = _gentime(before) if before else None
    floor = _gentime(since) if since else None
    limits = [t for t in (cursor, _gentime(until) if until else None) if t]
    ceiling = min(limits) if limits else None
    end = datetime.strptime(ceiling[:14], "%Y%m%d%H%M%S").replace(tzinfo=UTC) if ceiling else \
        datetime.now(UTC)
    # Each window reads only the slice older than the one before: a reader who may see few
    # records never fills a page, and every wider window read the same records again (five
    # times over a log of one day, for a province's auditor).
    found: set[str] = set()
    upto = ceiling
    for hours in WINDOWS_HOURS:
        start = (end - timedelta(hours=hours)).strftime("%Y%m%d%H%M%SZ") if hours else None
        if floor and (start is None or start < floor):
            start = floor
        found.update(t for t in _times(session, since=start, until=upto, **filters)
                     if cursor is None or t < cursor)
        if len(found) > size or start is None or start == floor:
            break
        upto = start  # the next slice ends where this one began (the record there is kept once)
    newest = sorted(found, reverse=True)
    shown = newest[:size]
    return _records(session, shown, filters), (shown[-1] if len(newest) > size else None)


def _filter(*, actor: str | None = None, kind: str | None = None, since: str | None = None,
            until: str | None = None, failed: bool | None = None, signin: bool = False) -> str:
    """Every term is checked against the reader's access rules for each candidate record, so
    there are no more terms than asked for (only write records live under cn=accesslog)."""
    parts = []
    if actor:
        parts.append(names.eq("reqAuthzID", actor))
    if kind:
        parts.append(names.eq("reqType", kind))
    if since:
        parts.append(f"(reqStart>={_gentime(since)})")
    if until:
        parts.append(_at_most(_gentime(until)))
    if failed is True:
        parts.append("(!(reqResult=0))")
    elif failed is False:
        parts.append("(reqResult=0)")
    if signin:
        parts.append("(reqMod=idmSignIn:*)")
    return names.all_of(*parts) if parts else "(objectClass=auditWriteObject)"


def _times(session: Session, target: str | None = None, **filters: Any) -> list[str]:
    """The times (names) of the matching records the bound identity may read."""
    found = session.search(LOG_BASE, _filter(**filters), ["reqDN"] if target else ["1.1"],
                           scope=ldap.SCOPE_ONELEVEL)
    return [names.first_value(dn) for dn, a in found
            if not target or target.lower() in (a.get("reqDN") or [""])[0].lower()]


def _records(session: Session, times: list[str], filters: dict[str, Any]) -> list[Operation]:
    """These records in full, in the order given: the matching records between the oldest and
    the newest of them are exactly these (a range costs far less than a long OR of names)."""
    if not times:
        return []
    bounded = {**filters, "since": min(times), "until": max(times)}
    bounded.pop("target", None)
    found = {a["reqStart"][0]: _operation(a) for _, a in
             session.search(LOG_BASE, _filter(**bounded), LOG_ATTRS, scope=ldap.SCOPE_ONELEVEL)}
    return [found[t] for t in times if t in found]


def operations(session: Session, *, target: str | None = None, **filters: Any) -> list[Operation]:
    """The log records the bound identity may read, filtered; oldest first.

    Filters: `actor` (a DN), `kind` (add, modify, ...), `since`/`until` (generalized times,
    YYYYmmddHHMMSSZ or YYYYMMDD), `failed`, `signin`; `target` matches part of the DN.
    """
    found = [_operation(a) for _, a in session.search(LOG_BASE, _filter(**filters), LOG_ATTRS,
                                                      scope=ldap.SCOPE_ONELEVEL)]
    if target:
        found = [op for op in found if target.lower() in op.target.lower()]
    return sorted(found, key=lambda op: op.when)


def _at_most(time: str) -> str:
    """reqStart at or before `time`. slapd 2.5's ordering match drops a record at exactly a
    record's own time when that time's fraction ends in 0 (the assertion is normalized without
    the trailing zeros, the stored value is not, and the longer string compares greater), so the
    record at the bound itself is asked for by equality, which compares them alike."""
    if "." in time:
        return f"(|(reqStart<={time})(reqStart={time}))"
    return f"(reqStart<={time})"


def _gentime(value: str) -> str:
    if re.fullmatch(r"[0-9]{14}\.[0-9]{1,6}Z", value):  # a record's own time: a page cursor
        try:
            datetime.strptime(value[:14], "%Y%m%d%H%M%S")
        except ValueError:
            raise InvalidInput(f"时间不存在：{value}", f"no such time: {value!r}") from None
        return value
    if not re.fullmatch(r"[0-9]{8}([0-9]{6})?Z?", value):
        raise InvalidInput(f"时间应为 YYYYMMDD 或 YYYYMMDDHHMMSSZ：{value}",
                           f"time must be YYYYMMDD or YYYYMMDDHHMMSSZ: {value!r}")
    digits = (value.rstrip("Z") + "000000")[:14]
    try:
        datetime.strptime(digits, "%Y%m%d%H%M%S")
    except ValueError:
        raise InvalidInput(f"时间不存在：{value}（YYYYMMDD 或 YYYYMMDDHHMMSSZ）",
                           f"no such time: {value!r} (YYYYMMDD or YYYYMMDDHHMMSSZ)") from None
    return digits + "Z"


def safe_cell(value: str) -> str:
    """Neutralise spreadsheet formulas: a leading formula character gets a leading quote."""
    return "'" + value if value.startswith(FORMULA_START) else value


def to_csv(ops: Iterable[Operation]) -> str:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(["时间 when (UTC+8)", "操作人 actor", "操作 operation", "对象 target", "结果 result",
                     "说明 message", "申请单 form"])
    for op in ops:
        what = labels.label("log_op", op.kind)
        if op.event:
            what += "：" + labels.label("signin_event", op.event)
        elif op.changed:
            what += "：" + "、".join(labels.label("attribute", a) for a in op.changed)
        result = f"{op.result} {labels.label('result', op.result)}"
        writer.writerow([safe_cell(v) for v in (labels.local_time(op.when, seconds=True), op.actor, what,
                                                 op.target, result, op.message, op.form or "")])
    return "\ufeff" + out.getvalue()  # BOM: spreadsheets then read the file as UTF-8


def retention_days(session: Session) -> int | None:
    """The write log's retention as slapd has it (olcAccessLogPurge, in cn=config: the local
    operator reads it), in days; None where there is no purge setting (kept for ever)."""
    for _, attrs in session.search("cn=config", "(olcAccessLogPurge=*)", ["olcAccessLogPurge"]):
        age = attrs["olcAccessLogPurge"][0].split()[0]  # "183+00:00" or "00:00" (d+hh:mm)
        days, _, _ = age.partition("+")
        return int(days) if "+" in age else 0
    return None


# Slices of the log, oldest first, in which `oldest` looks (days back from now; 0: up to now).
OLDEST_SLICES_DAYS = (182, 150, 90, 30, 7, 1, 0)


def oldest(session: Session) -> str | None:
    """The time of the oldest log record the reader may see (the log keeps ≥ 183 days). Kept
    until the log changes (`fresh`): the audit page shows it on every load."""
    return fresh.LISTS.get(session, LOG_BASE, ("audit.oldest",), lambda: _oldest(session))


def _oldest(session: Session) -> str | None:
    """Looked for a slice at a time from the far end: slapd stops at the first record the
    reader may read, but checks the rules on every record before it, and a province's auditor
    may read none of the cities' records (the whole log, on every load of the audit page, was
    most of its 13 s under load). The first slice, what the purge takes next, is small."""
    now = datetime.now(UTC)
    low: str | None = None
    for days in OLDEST_SLICES_DAYS:
        high = (now - timedelta(days=days)).strftime("%Y%m%d%H%M%SZ") if days else None
        terms = ([f"(reqStart>={low})"] if low else []) + ([f"(reqStart<={high})"] if high else [])
        window = names.all_of(*terms) if terms else "(reqStart=*)"
        found = session.first(LOG_BASE, window, ["reqStart"], scope=ldap.SCOPE_ONELEVEL)
        if found:
            return str(found[1]["reqStart"][0])
        low = high
    return None


def actor_dn(session: Session, uid: str) -> str:
    """The DN to filter the log by for a login: the account's, or one that names nobody (an
    empty result, not an error: the auditor asked about someone the log cannot hold)."""
    try:
        return accounts.find(session, uid).dn
    except NotFound:
        return names.child_dn("uid", uid, "ou=none")
