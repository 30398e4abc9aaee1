"""The fields a request form can carry, read from JSON (a file or a record), and split into what
anyone with a duty may read and what stays private (R17). Which kind uses which field, and how
each is checked, is declared per kind in `idm.filing.kinds`.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field, fields
from typing import Any

from idm.errors import InvalidInput

PRIVATE_FIELDS = ("mobile", "office_phone", "email", "address")
PRIVATE_DETAILS = ("mobile", "office_phone", "email")  # keys of an info change's before/after


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
    transfer_to: str | None = None  # change form, transfer out (调出): the receiving unit's code
    transfer_from: str | None = None  # registration, transfer in (调入): the releasing unit's code


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
