"""Request forms (R10-R12), kept as records under the node of the department that processes
them (`ou=forms,<node>`): the basis of every admin action.

A record holds the form's fields in two parts: `idmRecordData` (what the department's three
admins read) and, withheld by the access rules from all but the department's system admin and
the person it names, the ID number (`idmIdNumber`, masked copy in `idmIdMasked`) and the contact
data (`idmRecordPrivate`). Its status moves received -> executed (or rejected) with who and
when; the scan of the stamped paper is attached once (sniffed, bounded, SHA-256 recorded); the
accounts it acted on and its retain-until date are kept with it.

`expect` is the one check that a form fits an action: it exists, is of the right kind, about
that account at that unit, and still unused. Every action that rests on a form calls it.
"""

from __future__ import annotations

import hashlib
import json
import secrets
from dataclasses import asdict, dataclass, replace
from datetime import UTC, datetime, timedelta
from typing import Any

import ldap

from idm import validation
from idm.directory import fresh, names
from idm.directory.session import Session
from idm.errors import AlreadyExists, InvalidInput, NotFound, PermissionDenied
from idm.filing.fields import CHANGE_TYPES, KINDS, KINDS_EN, Address, FormData, check, join, split
from idm.identity import id_numbers
from idm.rules import actor as actors
from idm.rules.actor import Actor, now
from idm.tree import org

__all__ = ["CHANGE_TYPES", "KINDS", "Address", "Form", "FormData", "add", "expect", "get"]

STATUS_ZH = {"received": "已受理", "executed": "已执行", "rejected": "已驳回"}
MAX_SCAN_BYTES = 2 * 1024 * 1024
SCAN_TYPES = ((b"%PDF-", "application/pdf"), (b"\xff\xd8\xff", "image/jpeg"),
              (b"\x89PNG\r\n\x1a\n", "image/png"))
RETENTION = timedelta(days=366)  # at least one year after the account is disabled (R12)
FORM_ATTRS = ["cn", "idmRecordKind", "idmRecordStatus", "idmRecordData", "idmRecordPrivate",
              "idmIdNumber", "idmIdMasked", "idmRecordState", "idmRecordTarget", "idmRetainUntil",
              "idmAttachmentSha256"]
FORM_FILTER = "(&(objectClass=idmRecord)(|" + "".join(f"(idmRecordKind={k})" for k in KINDS) + "))"


@dataclass(frozen=True)
class Form:
    dn: str
    form_id: str
    status: str
    data: FormData  # as the reader may see it: ID number masked, contact data empty, unless allowed
    digest: str
    history: list[dict[str, str]]
    steps: dict[str, dict[str, str]]
    targets: tuple[str, ...]
    retain_until: str | None
    scan_sha256: str | None
    scan_type: str | None

    @property
    def node_dn(self) -> str:
        return names.parent_of(names.parent_of(self.dn))

    def content_digest(self) -> str:
        """SHA-256 of every field as recorded (printed in the QR code, so a scan can be matched
        back), whoever reads the record."""
        return self.digest


def digest_of(data: FormData) -> str:
    blob = json.dumps(asdict(data), ensure_ascii=False, sort_keys=True).encode("utf-8")
    return hashlib.sha256(blob).hexdigest()


def _form(dn: str, a: dict[str, list[str]]) -> Form:
    def one(name: str) -> str | None:
        return a[name][0] if a.get(name) else None

    public = one("idmRecordData") or "{}"
    raw = json.loads(one("idmRecordState") or "{}")
    return Form(
        dn=dn, form_id=a["cn"][0], status=a["idmRecordStatus"][0],
        data=join(public, one("idmRecordPrivate"), one("idmIdNumber"), one("idmIdMasked")),
        digest=str(json.loads(public).get("digest", "")),
        history=raw.get("history", []), steps=raw.get("steps", {}),
        targets=tuple(a.get("idmRecordTarget", [])), retain_until=one("idmRetainUntil"),
        scan_sha256=one("idmAttachmentSha256"), scan_type=raw.get("scan_type"),
    )


def _state(history: list[dict[str, str]], steps: dict[str, Any], scan_type: str | None = None) -> str:
    return json.dumps({"history": history, "steps": steps, "scan_type": scan_type},
                      ensure_ascii=False, sort_keys=True)


ID_ATTEMPTS = 5  # 24 random bits per unit and day: a second draw is rare, a fifth unheard of


def add(session: Session, actor: Actor, data: FormData) -> Form:
    """Record a received form at the acting admin's own node (the processing department), once
    its fields are right, its unit exists, and its ID number belongs to no one else."""
    actors.require(session, actor, "record_form", names.child_dn("ou", "forms", actor.node_dn))
    data = check(data)
    try:
        unit = org.find(session, data.unit)
    except NotFound as err:
        raise InvalidInput(f"申请单填写有误：单位 {data.unit} 不存在", f"the form's unit {data.unit} "
                           "does not exist") from err
    if actors.normal(actor.node_dn) not in (actors.normal(unit.dn), actors.normal(unit.parent_dn or "")):
        raise PermissionDenied(f"单位 {data.unit} 的申请单不由本部门受理：本部门受理本级及下一级单位的申请单",
                           f"a form about {data.unit} is not this department's: it receives forms about "
                           "its own unit and the next level's")
    id_numbers.require_same_name(session, data.id_number, data.name)
    for attempt in range(ID_ATTEMPTS):
        form_id, dn, attrs = record(data, actor)
        try:
            session.add(dn, attrs)
            break
        except AlreadyExists:  # a number drawn twice on one day at one unit: draw again
            if attempt == ID_ATTEMPTS - 1:
                raise
    return get(session, form_id)


def record(data: FormData, actor: Actor) -> tuple[str, str, dict[str, list[str]]]:
    """(id, DN, attributes) of a received form's record at the actor's node."""
    stamp = datetime.now(UTC).strftime("%Y%m%d")
    form_id = f"F{data.unit}-{stamp}-{secrets.token_hex(3)}"
    dn = names.child_dn("cn", form_id, names.child_dn("ou", "forms", actor.node_dn))
    public, private = split(data)
    public = json.dumps({**json.loads(public), "digest": digest_of(data)}, ensure_ascii=False,
                        sort_keys=True)
    history = [{"status": "received", "by": actor.dn, "at": now()}]
    return form_id, dn, {
        "objectClass": ["idmRecord"], "cn": [form_id], "idmRecordKind": [data.kind],
        "idmRecordStatus": ["received"], "idmRecordData": [public], "idmRecordPrivate": [private],
        "idmIdNumber": [data.id_number], "idmIdMasked": [validation.mask_id_number(data.id_number)],
        "idmRecordState": [_state(history, {})]}


def get(session: Session, form_id: str) -> Form:
    for dn, attrs in session.search(session.suffix, names.all_of(FORM_FILTER, names.eq("cn", form_id)),
                                    FORM_ATTRS):
        return _form(dn, attrs)
    raise NotFound(f"找不到申请单 {form_id}：编号不存在，或不是本部门受理的申请单",
                   f"no form {form_id}: no such number, or not one your department received")


def expect(session: Session, form_id: str, kind: str, *, unit_dn: str | None = None,
           account_uid: str | None = None, change_type: str | None = None) -> Form:
    """The form an action rests on, refused with what does not fit: made up, another kind,
    another unit or account, already used, rejected."""
    if not (form_id or "").strip():
        raise InvalidInput(f"须注明依据的{KINDS[kind]}编号", f"name the {KINDS_EN[kind]} this rests on")
    form = get(session, form_id.strip())
    if form.status != "received":
        raise InvalidInput(f"申请单 {form.form_id} {STATUS_ZH.get(form.status, form.status)}，不能再用",
                           f"form {form.form_id} is {form.status}: it cannot be used again")
    if form.data.kind != kind:
        raise InvalidInput(
            f"申请单 {form.form_id} 是{KINDS.get(form.data.kind, form.data.kind)}，此操作须依据{KINDS[kind]}",
            f"form {form.form_id} is a {KINDS_EN.get(form.data.kind, form.data.kind)}; this action "
            f"rests on a {KINDS_EN[kind]}")
    if change_type is not None and form.data.change_type != change_type:
        on_form = form.data.change_type or "-"
        raise mismatch(form, "变更类型 change_type", f"{CHANGE_TYPES.get(on_form, '')} {on_form}".strip(),
                       f"{CHANGE_TYPES[change_type]} {change_type}")
    if unit_dn is not None:
        unit = org.find(session, form.data.unit)
        if unit.dn.lower() != unit_dn.lower():
            raise mismatch(form, "单位 unit", form.data.unit, names.first_value(unit_dn))
    if account_uid is not None and (form.data.account_uid or "").lower() != account_uid.lower():
        raise mismatch(form, "登录账号 account_uid", form.data.account_uid or "-", account_uid)
    return form


def require_same_person(form: Form, id_number: str | None, masked: str | None) -> None:
    """The form is about the person the entry holds: the full numbers where the reader sees
    both, otherwise their masked forms (a security admin sees only those). An unconverted post
    account holds no person yet: there is nothing to compare."""
    if not id_number and not masked:
        return
    on_form = form.data.id_number
    if "*" in on_form or not id_number:
        same = validation.mask_id_number(on_form) == masked if "*" not in on_form else on_form == masked
    else:
        same = on_form == id_number
    if not same:
        shown = on_form if "*" in on_form else validation.mask_id_number(on_form)
        raise mismatch(form, "身份证号 id_number", shown, masked or "-")


def step_done(form: Form, step: str) -> None:
    if step in form.steps:
        raise InvalidInput(f"申请单 {form.form_id} 的这一项已办理：{step}",
                           f"form {form.form_id}: this was already done: {step}")


def mismatch(form: Form, field: str, on_form: object, asked: object) -> InvalidInput:
    return InvalidInput(
        f"与申请单 {form.form_id} 不符：{field} 申请单为“{on_form}”，操作为“{asked}”",
        f"does not match form {form.form_id}: {field} is {on_form!r} on the form, {asked!r} here",
    )


def list_forms(session: Session, node_code: str, status: str | None = None) -> list[Form]:
    node = org.find(session, node_code)
    parts = [FORM_FILTER]
    if status:
        parts.append(names.eq("idmRecordStatus", status))
    try:
        found = session.search(names.child_dn("ou", "forms", node.dn), names.all_of(*parts), FORM_ATTRS,
                               scope=ldap.SCOPE_ONELEVEL)
        return sorted((_form(dn, a) for dn, a in found), key=lambda f: f.form_id)
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
    by_id = {f.form_id: f for f in (_form(dn, a) for dn, a in
                                    session.search(base, wanted, FORM_ATTRS, scope=ldap.SCOPE_ONELEVEL))}
    return FormPage([by_id[f] for f in shown if f in by_id], len(order), len(order) > number * size, complete)


def record_step(session: Session, actor: Actor, form: Form, step: str, target_dn: str,
                final: bool) -> Form:
    """Mark a step of the form done (create, role, change, ...), with the entry it acted on."""
    steps = {**form.steps, step: {"by": actor.dn, "at": now(), "target": target_dn}}
    history = list(form.history)
    status = "executed" if final else form.status
    if final:
        history.append({"status": "executed", "by": actor.dn, "at": now()})
    session.replace(form.dn, {
        "idmRecordStatus": [status],
        "idmRecordState": [_state(history, steps, form.scan_type)],
        "idmRecordTarget": sorted({*form.targets, target_dn}),
    })
    return replace(form, status=status, steps=steps, history=history,
                   targets=tuple(sorted({*form.targets, target_dn})))


def reject(session: Session, actor: Actor, form: Form, reason: str) -> None:
    if form.status != "received" or form.steps:
        raise InvalidInput(f"申请单 {form.form_id} 已处理，不能驳回",
                           f"form {form.form_id} is already acted on")
    validation.free_text(reason)
    actors.require(session, actor, "act_on_form", form.dn)
    history = [*form.history, {"status": "rejected", "by": actor.dn, "at": now(), "reason": reason}]
    session.replace(form.dn, {"idmRecordStatus": ["rejected"],
                              "idmRecordState": [_state(history, form.steps, form.scan_type)]})


def sniff(content: bytes) -> str:
    for magic, mime in SCAN_TYPES:
        if content.startswith(magic):
            return mime
    raise InvalidInput("扫描件应为 PDF、JPEG 或 PNG（按内容识别）",
                       "the scan must be a PDF, JPEG or PNG (recognised by content, not by name)")


def attach_scan(session: Session, actor: Actor, form: Form, content: bytes) -> str:
    """Attach the scan of the stamped paper form once; returns its SHA-256."""
    if len(content) > MAX_SCAN_BYTES:
        raise InvalidInput(f"扫描件超过 {MAX_SCAN_BYTES // 1024 // 1024} MiB",
                           f"the scan is larger than {MAX_SCAN_BYTES // 1024 // 1024} MiB")
    mime = sniff(content)
    if form.scan_sha256:
        raise InvalidInput(f"申请单 {form.form_id} 已有扫描件", f"form {form.form_id} already has a scan")
    digest = hashlib.sha256(content).hexdigest()
    session.add_binary(form.dn, "idmAttachment", content)
    session.modify(form.dn, [(ldap.MOD_ADD, "idmAttachmentSha256", [digest]),
                             (ldap.MOD_REPLACE, "idmRecordState", [_state(form.history, form.steps, mime)])])
    return digest


def scan(session: Session, form: Form) -> bytes | None:
    return session.get_binary(form.dn, "idmAttachment")


def naming(session: Session, dn: str) -> list[Form]:
    """The forms that acted on an entry."""
    flt = names.all_of(FORM_FILTER, names.eq("idmRecordTarget", dn))
    return [_form(d, a) for d, a in session.search(session.suffix, flt, FORM_ATTRS)]


def retain_forms_of(session: Session, account_dn: str) -> int:
    """R12: the account is disabled now, so its forms are kept at least a year from today."""
    until = (datetime.now(UTC) + RETENTION).strftime("%Y%m%d%H%M%SZ")
    count = 0
    for dn, _ in session.search(session.suffix, names.all_of(
            "(objectClass=idmRecord)", names.eq("idmRecordTarget", account_dn)), ["1.1"]):
        session.replace(dn, {"idmRetainUntil": [until]})
        count += 1
    return count


def past_retention(session: Session, node_code: str | None = None) -> list[Form]:
    """Forms whose retain-until date has passed (nothing is purged automatically)."""
    base = org.find(session, node_code).dn if node_code else session.suffix
    flt = names.all_of(FORM_FILTER, f"(idmRetainUntil<={now()})")
    return sorted((_form(dn, a) for dn, a in session.search(base, flt, FORM_ATTRS)),
                  key=lambda f: f.form_id)


def purge(session: Session, form: Form) -> None:
    """Remove a form past its retention (local operator only: admins hold no delete)."""
    if not form.retain_until or form.retain_until > now():
        raise InvalidInput(f"申请单 {form.form_id} 仍在保存期内", f"form {form.form_id} is still within "
                           "retention")
    session.delete(form.dn)
