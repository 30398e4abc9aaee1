"""Request forms (R10-R12): the registration form and the change form, kept as records under
the node of the department that processes them (`ou=forms,<node>`).

A form holds every field of the paper form (as JSON in `idmRecordData`), its status
(received -> executed, or rejected) with who and when, the scan of the stamped paper (sniffed
by content, bounded, SHA-256 recorded), the accounts it acted on, and its retain-until date.
"""

from __future__ import annotations

import hashlib
import json
import secrets
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import ldap

from idm import actor as actors
from idm import org, validation
from idm.actor import Actor, now
from idm.directory import names
from idm.directory.session import Session
from idm.errors import InvalidInput, NotFound, ProblemList

KINDS = ("registration", "change")
CHANGE_TYPES = {"info": "信息变更", "disable": "停用", "restore": "恢复", "unlock": "账号解锁",
                "reset": "密码重置", "factor": "动态验证码重置"}
STATUS_ZH = {"received": "已受理", "executed": "已执行", "rejected": "已驳回"}
MAX_SCAN_BYTES = 2 * 1024 * 1024
SCAN_TYPES = ((b"%PDF-", "application/pdf"), (b"\xff\xd8\xff", "image/jpeg"),
              (b"\x89PNG\r\n\x1a\n", "image/png"))
RETENTION = timedelta(days=366)  # at least one year after the account is disabled (R12)
FORM_ATTRS = ["cn", "idmRecordKind", "idmRecordStatus", "idmRecordData", "idmRecordState",
              "idmRecordTarget", "idmRetainUntil", "idmAttachmentSha256"]


@dataclass
class Address:
    province: str = ""
    city: str = ""
    district: str = ""
    street: str = ""


@dataclass
class FormData:
    """The fields of the paper forms (管理类用户注册申请单 / 管理类用户变更申请单)."""

    kind: str
    unit: str  # the unit code the form is about (单位名称 as its code)
    name: str
    id_number: str
    mobile: str
    role: str | None = None  # admin role; None: a business user
    office_phone: str | None = None
    email: str | None = None
    address: Address = field(default_factory=Address)
    notes: str = ""
    opinion: str = ""  # 用户管理部门意见
    stamp_date: str = ""  # date on the department's stamp (YYYY-MM-DD)
    change_type: str | None = None
    account_uid: str | None = None  # change form: 登录账号
    account_id: str | None = None  # change form: 账号ID (the entryUUID)
    before: dict[str, str] = field(default_factory=dict)  # info change: before
    after: dict[str, str] = field(default_factory=dict)  # info change: after
    reason: str = ""  # disable: why


@dataclass(frozen=True)
class Form:
    dn: str
    form_id: str
    status: str
    data: FormData
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
        """SHA-256 of the form's fields: printed in the QR code, so a scan can be matched back."""
        blob = json.dumps(asdict(self.data), ensure_ascii=False, sort_keys=True).encode("utf-8")
        return hashlib.sha256(blob).hexdigest()


def check(data: FormData, session: Session) -> FormData:
    """Every field as R10/R11 and the validation rules want it; all problems at once."""
    problems = ProblemList()

    def run(name: str, fn: Any, value: Any) -> Any:
        try:
            return fn(value)
        except InvalidInput as err:
            problems.add(name, err.zh, err.en)
            return value

    if data.kind not in KINDS:
        problems.add("kind", "申请单类型应为 registration 或 change", "kind must be registration or change")
    run("name", validation.person_name, data.name)
    data.id_number = run("id_number", validation.id_number, data.id_number)
    run("mobile", validation.mobile, data.mobile)
    if data.office_phone:
        run("office_phone", validation.office_phone, data.office_phone)
    if data.email:
        run("email", validation.email, data.email)
    if data.role is not None:
        run("role", validation.admin_role, data.role)
    for part in ("province", "city", "district", "street"):
        run(f"address.{part}", lambda v: validation.free_text(v, 128), getattr(data.address, part))
    for name in ("notes", "opinion", "reason"):
        run(name, validation.free_text, getattr(data, name))
    if data.stamp_date:
        try:
            datetime.strptime(data.stamp_date, "%Y-%m-%d")
        except ValueError:
            problems.add("stamp_date", "盖章日期应为 YYYY-MM-DD", "stamp_date must be YYYY-MM-DD")
    if data.kind == "change":
        if data.change_type not in CHANGE_TYPES:
            problems.add("change_type", f"变更类型应为：{'、'.join(CHANGE_TYPES)}",
                         f"change_type must be one of: {', '.join(CHANGE_TYPES)}")
        if not data.account_uid:
            problems.add("account_uid", "变更申请单须填写登录账号", "a change form names the login account")
        if data.change_type == "info" and not data.after:
            problems.add("after", "信息变更须填写变更后的内容", "an info change gives the values after")
        if data.change_type == "disable" and not data.reason.strip():
            problems.add("reason", "停用须注明原因", "a disable form gives the reason")
    try:
        validation.org_code(data.unit)
        org.find(session, data.unit)
    except (InvalidInput, NotFound) as err:
        problems.add("unit", err.zh, err.en)
    problems.raise_if_any("申请单填写有误，未做任何修改", "the form has errors; nothing was changed")
    _one_number_one_name(session, data)
    return data


def _one_number_one_name(session: Session, data: FormData) -> None:
    """One ID number belongs to one name, across the accounts and forms the actor can see."""
    flt = names.any_of(
        names.all_of("(|(objectClass=idmAdminAccount)(objectClass=idmBusinessAccount))",
                     names.eq("idmIdNumber", data.id_number)),
    )
    for _, attrs in session.search(session.suffix, flt, ["cn"]):
        if attrs.get("cn") and attrs["cn"][0] != data.name:
            raise InvalidInput(
                f"身份证号 {validation.mask_id_number(data.id_number)} 已登记为另一姓名，与“{data.name}”不符",
                f"ID number {validation.mask_id_number(data.id_number)} is registered under another "
                f"name than {data.name!r}",
            )


def _form(dn: str, a: dict[str, list[str]]) -> Form:
    fields = json.loads(a["idmRecordData"][0])
    raw = json.loads(a["idmRecordState"][0]) if a.get("idmRecordState") else {}
    data = FormData(**{**fields, "address": Address(**fields.get("address", {}))})
    return Form(
        dn=dn, form_id=a["cn"][0], status=a["idmRecordStatus"][0], data=data,
        history=raw.get("history", []), steps=raw.get("steps", {}),
        targets=tuple(a.get("idmRecordTarget", [])),
        retain_until=a["idmRetainUntil"][0] if a.get("idmRetainUntil") else None,
        scan_sha256=a["idmAttachmentSha256"][0] if a.get("idmAttachmentSha256") else None,
        scan_type=raw.get("scan_type"),
    )


def _fields(form: FormData) -> str:
    return json.dumps(asdict(form), ensure_ascii=False, sort_keys=True)


def _state(history: list[dict[str, str]], steps: dict[str, Any], scan_type: str | None = None) -> str:
    return json.dumps({"history": history, "steps": steps, "scan_type": scan_type},
                      ensure_ascii=False, sort_keys=True)


def add(session: Session, actor: Actor, data: FormData) -> Form:
    """Record a received form at the acting admin's own node (the processing department)."""
    actors.require(session, actor, "record_form", names.child_dn("ou", "forms", actor.node_dn))
    data = check(data, session)
    stamp = datetime.now(UTC).strftime("%Y%m%d")
    form_id = f"F{data.unit}-{stamp}-{secrets.token_hex(3)}"
    dn = names.child_dn("cn", form_id, names.child_dn("ou", "forms", actor.node_dn))
    history = [{"status": "received", "by": actor.dn, "at": now()}]
    session.add(dn, {"objectClass": ["idmRecord"], "cn": [form_id], "idmRecordKind": [data.kind],
                     "idmRecordStatus": ["received"], "idmRecordData": [_fields(data)],
                     "idmRecordState": [_state(history, {})]})
    return get(session, form_id)


def get(session: Session, form_id: str) -> Form:
    flt = names.all_of("(objectClass=idmRecord)", "(|(idmRecordKind=registration)(idmRecordKind=change))",
                       names.eq("cn", form_id))
    for dn, attrs in session.search(session.suffix, flt, FORM_ATTRS):
        return _form(dn, attrs)
    raise NotFound(f"找不到申请单 {form_id}，或不在您的范围内", f"no form {form_id} within your reach")


def list_forms(session: Session, node_code: str, status: str | None = None) -> list[Form]:
    node = org.find(session, node_code)
    parts = ["(objectClass=idmRecord)"]
    if status:
        parts.append(names.eq("idmRecordStatus", status))
    try:
        found = session.search(names.child_dn("ou", "forms", node.dn), names.all_of(*parts), FORM_ATTRS,
                               scope=ldap.SCOPE_ONELEVEL)
        return sorted((_form(dn, a) for dn, a in found), key=lambda f: f.form_id)
    except NotFound:
        return []


def record_step(session: Session, actor: Actor, form: Form, step: str, target_dn: str,
                final: bool) -> None:
    """Mark a step of the form done (create, role, change), with the account it acted on."""
    steps = {**form.steps, step: {"by": actor.dn, "at": now(), "target": target_dn}}
    history = list(form.history)
    status = "executed" if final else form.status
    if final:
        history.append({"status": "executed", "by": actor.dn, "at": now()})
    changes: dict[str, list[str]] = {
        "idmRecordStatus": [status],
        "idmRecordState": [_state(history, steps, form.scan_type)],
        "idmRecordTarget": sorted({*form.targets, target_dn}),
    }
    session.replace(form.dn, changes)


def reject(session: Session, actor: Actor, form: Form, reason: str) -> None:
    if form.status != "received" or form.steps:
        raise InvalidInput(f"申请单 {form.form_id} 已处理，不能驳回",
                           f"form {form.form_id} is already acted on")
    validation.free_text(reason)
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
    flt = names.all_of("(objectClass=idmRecord)", names.eq("idmRecordTarget", dn))
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
    flt = names.all_of("(objectClass=idmRecord)", f"(idmRetainUntil<={now()})")
    return sorted((_form(dn, a) for dn, a in session.search(base, flt, FORM_ATTRS)),
                  key=lambda f: f.form_id)


def purge(session: Session, form: Form) -> None:
    """Remove a form past its retention (local operator only: admins hold no delete)."""
    if not form.retain_until or form.retain_until > now():
        raise InvalidInput(f"申请单 {form.form_id} 仍在保存期内", f"form {form.form_id} is still within "
                           "retention")
    session.delete(form.dn)
