"""The fields of every kind of request form, checked, and split into what anyone with a duty
may read and what stays private (R17).

The seed gives two paper forms (管理类用户注册申请单, 管理类用户变更申请单, R10/R11); the
registration form also serves business users. The kinds it lacks are defined here, with the
same shape (unit, the person, the department's opinion and stamp): a grant request (授权申请单)
from the business department, a certificate application (证书申请单), a downstream system's
registration (下游系统接入申请单) and a school's request to be managed by its parent
(委托管理申请单, R2). docs/forms-and-audit.md describes each.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field, fields
from datetime import datetime
from typing import Any

from idm import operations, validation
from idm.errors import InvalidInput, ProblemList

KINDS = {"registration": "注册申请单", "change": "变更申请单", "grant": "授权申请单",
         "cert": "证书申请单", "service": "下游系统接入申请单", "delegation": "委托管理申请单"}
KINDS_EN = {"registration": "registration form", "change": "change form", "grant": "grant request",
            "cert": "certificate application", "service": "downstream service registration",
            "delegation": "delegation request"}
CHANGE_TYPES = operations.change_types()  # info, disable, restore, unlock, reset, factor
# Kinds that name an existing account (登录账号)
ABOUT_ACCOUNT = ("change", "grant", "cert")
PRIVATE_FIELDS = ("mobile", "office_phone", "email", "address")
PRIVATE_DETAILS = ("mobile", "office_phone", "email")  # keys of an info change's before/after
MAX_GRANTS = 32


@dataclass
class Address:
    province: str = ""
    city: str = ""
    district: str = ""
    street: str = ""


@dataclass
class FormData:
    """The fields of the paper forms, for every kind."""

    kind: str
    unit: str  # the unit the form is about (单位名称, as its code)
    name: str
    id_number: str
    surname: str = ""  # 姓, as the person writes it (so 欧阳 stays whole); empty: from the name
    mobile: str = ""
    role: str | None = None  # registration: admin role; None: a business user
    office_phone: str | None = None
    email: str | None = None
    address: Address = field(default_factory=Address)
    notes: str = ""
    opinion: str = ""  # 用户管理部门意见 / 业务部门意见
    stamp_date: str = ""  # date on the department's stamp (YYYY-MM-DD)
    change_type: str | None = None
    account_uid: str | None = None  # 登录账号: change, grant, cert; registration: a post account to convert
    account_id: str | None = None  # change form: 账号ID (the entryUUID)
    before: dict[str, str] = field(default_factory=dict)  # info change: before
    after: dict[str, str] = field(default_factory=dict)  # info change: after
    reason: str = ""  # disable: why; delegation, grant: why
    grants_add: list[str] = field(default_factory=list)  # grant request: app#role to grant
    grants_remove: list[str] = field(default_factory=list)  # grant request: app#role to revoke
    service_name: str | None = None  # downstream service registration: its account name
    delegate: bool = True  # delegation request: True to delegate, False to end it


def from_dict(raw: dict[str, Any], where: str = "") -> FormData:
    """A form's fields from JSON (a file or a record), unknown or missing fields refused."""
    prefix = f"{where}: " if where else ""
    if not isinstance(raw, dict):
        raise InvalidInput(f"{prefix}应为 JSON 对象", f"{prefix}must be a JSON object")
    known = {f.name for f in fields(FormData)}
    unknown = sorted(set(raw) - known)
    if unknown:
        raise InvalidInput(f"{prefix}未知字段 {unknown}", f"{prefix}unknown fields {unknown}")
    raw = dict(raw)
    address = raw.pop("address", None) or {}
    if not isinstance(address, dict) or set(address) - {f.name for f in fields(Address)}:
        raise InvalidInput(f"{prefix}address 应为含 province/city/district/street 的对象",
                           f"{prefix}address must be an object of province, city, district, street")
    try:
        return FormData(**raw, address=Address(**address))
    except TypeError as exc:
        raise InvalidInput(f"{prefix}字段不全：{exc}", f"{prefix}missing fields: {exc}") from None


def check(data: FormData) -> FormData:
    """Every field as its kind wants it; all problems at once. (The unit's existence and the
    ID number's owner are checked against the directory by `forms.add`.)"""
    problems = ProblemList()

    def run(name: str, fn: Any, value: Any) -> Any:
        try:
            return fn(value)
        except InvalidInput as err:
            problems.add(name, err.zh, err.en)
            return value

    if data.kind not in KINDS:
        problems.add("kind", f"申请单类型应为：{'、'.join(KINDS)}",
                     f"kind must be one of: {', '.join(KINDS)}")
    for name, value in (("kind", data.kind), ("unit", data.unit), ("name", data.name),
                        ("id_number", data.id_number)):
        if not isinstance(value, str):
            problems.add(name, "应为文本", "must be text")
    problems.raise_if_any("申请单填写有误，未做任何修改", "the form has errors; nothing was changed")
    run("unit", validation.org_code, data.unit)
    run("name", validation.person_name, data.name)
    if data.surname:
        run("surname", lambda v: validation.surname(v, data.name), data.surname)
    data.id_number = run("id_number", validation.id_number, data.id_number)
    if data.mobile or data.kind in ("registration", "service"):
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
        except (TypeError, ValueError):
            problems.add("stamp_date", "盖章日期应为 YYYY-MM-DD", "stamp_date must be YYYY-MM-DD")
    if data.kind in ABOUT_ACCOUNT and not data.account_uid:
        problems.add("account_uid", "须填写登录账号", "the form names the login account")
    if data.account_uid:
        run("account_uid", _account_uid, data.account_uid)
    _check_kind(data, problems)
    problems.raise_if_any("申请单填写有误，未做任何修改", "the form has errors; nothing was changed")
    return data


def _account_uid(value: str) -> str:
    if not (1 <= len(value) <= 64 and all(c.isascii() and (c.isalnum() or c in "._-") for c in value)):
        raise InvalidInput(f"登录账号“{value}”无效", f"login {value!r} is invalid")
    return value


def _check_kind(data: FormData, problems: ProblemList) -> None:
    if data.kind == "change":
        if data.change_type not in CHANGE_TYPES:
            problems.add("change_type", f"变更类型应为：{'、'.join(CHANGE_TYPES)}",
                         f"change_type must be one of: {', '.join(CHANGE_TYPES)}")
        if data.change_type == "info" and not data.after:
            problems.add("after", "信息变更须填写变更后的内容", "an info change gives the values after")
        if data.change_type == "disable" and not data.reason.strip():
            problems.add("reason", "停用须注明原因", "a disable form gives the reason")
    elif data.change_type is not None:
        problems.add("change_type", "只有变更申请单有变更类型", "only a change form has a change type")
    if data.kind == "grant":
        values = [*data.grants_add, *data.grants_remove]
        if not values:
            problems.add("grants_add", "授权申请单须列出授予或撤销的授权（系统#角色）",
                         "a grant request lists grants to add or remove (app#role)")
        if len(values) > MAX_GRANTS or len(set(values)) != len(values):
            problems.add("grants_add", f"授权最多 {MAX_GRANTS} 项且不得重复",
                         f"at most {MAX_GRANTS} grants, none twice")
        for value in values:
            if not (isinstance(value, str) and "#" in value and len(value) <= 65):
                problems.add("grants_add", f"授权“{value}”应为 系统#角色",
                             f"grant {value!r} must be app#role")
    elif data.grants_add or data.grants_remove:
        problems.add("grants_add", "只有授权申请单列出授权", "only a grant request lists grants")
    if data.kind == "service":
        name = data.service_name or ""
        if not (2 <= len(name) <= 64 and name[0].isalpha() and
                all(c in "abcdefghijklmnopqrstuvwxyz0123456789-" for c in name)):
            problems.add("service_name", "服务账号名：小写字母开头，仅含 a-z 0-9 -",
                         "service_name: a-z, 0-9 and -, starting with a letter")
    elif data.service_name:
        problems.add("service_name", "只有下游系统接入申请单有服务账号名",
                     "only a downstream service registration names a service")
    if data.kind == "delegation" and not isinstance(data.delegate, bool):
        problems.add("delegate", "delegate 应为 true 或 false", "delegate must be true or false")


def split(data: FormData) -> tuple[str, str]:
    """(public JSON, private JSON): the ID number goes to its own attribute, contact data and an
    info change's private before/after values to the private one; the rest anyone with a duty
    may read."""
    everything = asdict(data)
    public = {k: v for k, v in everything.items() if k not in (*PRIVATE_FIELDS, "id_number")}
    private: dict[str, Any] = {k: everything[k] for k in PRIVATE_FIELDS}
    for side in ("before", "after"):
        public[side] = {k: v for k, v in data.__dict__[side].items() if k not in PRIVATE_DETAILS}
        private[side] = {k: v for k, v in data.__dict__[side].items() if k in PRIVATE_DETAILS}
    return (json.dumps(public, ensure_ascii=False, sort_keys=True),
            json.dumps(private, ensure_ascii=False, sort_keys=True))


def join(public: str, private: str | None, id_number: str | None, masked: str | None) -> FormData:
    """The fields as the reader may see them: without the private part, the ID number masked
    and contact data empty."""
    fields_ = json.loads(public)
    secret = json.loads(private) if private else {}
    for side in ("before", "after"):
        fields_[side] = {**fields_.get(side, {}), **secret.pop(side, {})}
    fields_.pop("digest", None)
    merged = {**fields_, **{k: v for k, v in secret.items() if k in PRIVATE_FIELDS}}
    merged["id_number"] = id_number or masked or ""
    return from_dict(merged)
