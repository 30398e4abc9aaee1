"""Every kind of request form, declared once: its words, the fields only it carries, its checks,
its printed rows, and the operations a received form of it allows.

The seed gives two paper forms (管理类用户注册申请单, 管理类用户变更申请单, R10/R11); the
registration form also serves business users. The kinds it lacks have the same shape (unit,
the person, the department's opinion and stamp): a grant request (授权申请单) from the business
department, a certificate application (证书申请单), a downstream system's registration
(下游系统接入申请单) and a school's request to be managed by its parent (委托管理申请单, R2).
docs/forms-and-audit.md describes each. Adding a kind is one entry here (and its operations in
`idm.operations`).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, fields
from datetime import datetime
from typing import Any

from idm import operations, validation
from idm.errors import InvalidInput, ProblemList
from idm.filing.fields import FormData
from idm.operations import BY_NAME, Pending

CHANGE_TYPES = operations.change_types()
MAX_GRANTS = 32
Row = tuple[list[tuple[str, float]], float]  # cells (text, share of the width), height in rows


@dataclass(frozen=True)
class Kind:
    name: str
    zh: str  # as the console names it
    en: str
    title: str  # the printed form's title
    notes: tuple[str, ...]  # the printed form's notes
    about_account: bool  # names an existing login (登录账号)
    mobile_required: bool
    own: tuple[str, ...]  # fields no other kind carries
    check: Callable[[FormData, ProblemList], None]  # its own checks, beyond the common ones
    rows: Callable[[FormData, bool], list[Row]]  # its printed rows (business: a user's registration)
    pending: Callable[[FormData, dict[str, dict[str, str]]], list[Pending]]  # what it still allows


def _box(checked: bool) -> str:
    return "■" if checked else "□"


def _roles(role: str | None) -> str:
    return "    ".join(f"{_box(role == key)}{name}" for key, name in validation.ADMIN_ROLE_ZH.items())


def _reason(data: FormData) -> Row:
    return [("说明", 0.22), (data.reason or data.notes, 0.78)], 2


# ---------------------------------------------------------------- registration (R10)
def _unit_code(name: str, value: str | None, own: str, problems: ProblemList) -> None:
    """A transfer's other unit: a unit code, not the form's own unit."""
    try:
        validation.org_code(value or "")
    except InvalidInput as err:
        problems.add(name, err.zh, err.en)
        return
    if value == own:
        problems.add(name, "调动的另一方须是别的单位", "a transfer is between two different units")


def _check_registration(data: FormData, problems: ProblemList) -> None:
    if data.transfer_from is not None:  # 调入: the arriving person's login and the unit left
        _unit_code("transfer_from", data.transfer_from, data.unit, problems)
        if not data.account_uid:
            problems.add("account_uid", "调入须填写原登录账号", "a transfer in names the login it keeps")
        return
    if data.role is not None and data.account_uid:
        problems.add("account_uid", "管理员注册申请单不填写登录账号（转化岗位账号的是业务用户）",
                     "an admin's registration names no login (converting a post account is a business user's)")


def _registration_rows(d: FormData, business: bool) -> list[Row]:
    a = d.address
    rows: list[Row] = [([("办公电话", 0.12), (d.office_phone or "", 0.28), ("电子邮箱", 0.15), (d.email or "", 0.45)], 1),
                       ([("手机号码", 0.12), (d.mobile, 0.88)], 1)]
    if not business:
        rows.append(([("管理类用户岗位", 0.22), (_roles(d.role), 0.78)], 1))
    if d.transfer_from:
        rows.append(([("调入", 0.22), (f"由单位 {d.transfer_from} 调入，保留登录账号 {d.account_uid or ''}", 0.78)], 1))
    rows += [([("单位通讯地址", 0.22), (f"{a.province}  {a.city}  {a.district}  {a.street}", 0.78)], 1),
             ([("其他补充说明", 0.22), (d.notes, 0.78)], 2)]
    return rows


def _registration_pending(d: FormData, steps: dict[str, dict[str, str]]) -> list[Pending]:
    if d.transfer_from:  # 调入, then (an admin) the role the form names
        if "transfer" not in steps:
            return [Pending(BY_NAME["transfer-admin" if d.role else "transfer-user"], d.account_uid)]
        return [Pending(BY_NAME["set-role"], d.account_uid)] if d.role and "role" not in steps else []
    if d.account_uid and d.role is None:
        return [] if "convert" in steps else [Pending(BY_NAME["convert"], d.account_uid)]
    if "create" not in steps:
        return [Pending(BY_NAME["create-admin" if d.role else "create-user"])]
    if d.role and "role" not in steps:
        created = steps["create"]
        return [Pending(BY_NAME["set-role"], created.get("uid") or _uid_of(created["target"]))]
    return []


def _uid_of(dn: str) -> str:
    return dn.split(",")[0].split("=", 1)[1]


# ---------------------------------------------------------------- change (R11)
def _check_change(data: FormData, problems: ProblemList) -> None:
    if data.change_type not in CHANGE_TYPES:
        problems.add("change_type", f"变更类型应为：{'、'.join(CHANGE_TYPES)}",
                     f"change_type must be one of: {', '.join(CHANGE_TYPES)}")
    if data.change_type == "info" and not data.after:
        problems.add("after", "信息变更须填写变更后的内容", "an info change gives the values after")
    if data.change_type == "disable" and not data.reason.strip():
        problems.add("reason", "停用须注明原因", "a disable form gives the reason")
    if data.change_type == "release":
        _unit_code("transfer_to", data.transfer_to, data.unit, problems)
    elif data.transfer_to is not None:
        problems.add("transfer_to", "只有调出填写调往单位", "only a release names the unit it goes to")
    if (data.before or data.after) and data.change_type != "info":
        problems.add("after", "只有信息变更填写变更前后的内容", "only an info change gives values before and after")


def _change_rows(d: FormData, business: bool) -> list[Row]:
    boxes = {"info": "信息变更", "disable": "停用/恢复", "unlock": "账号解锁", "reset": "密码重置",
             "release": "调出"}
    ticked = "disable" if d.change_type == "restore" else d.change_type
    types = "  ".join(f"{_box(ticked == key)}{name}" for key, name in boxes.items())
    detail = ["信息变更：请分别写明修改前、后的详细情况。",
              *(f"  变更前 {k}：{v}" for k, v in d.before.items()),
              *(f"  变更后 {k}：{v}" for k, v in d.after.items()),
              f"停用/恢复：请写明账号停用原因。{d.reason}",
              *([f"调出：调往单位 {d.transfer_to}"] if d.transfer_to else [])]
    return [([("登录账号", 0.12), (d.account_uid or "", 0.28), ("账号 ID", 0.15), (d.account_id or "", 0.45)], 1),
            ([("变更类型", 0.22), (types, 0.78)], 1),
            ([("管理类用户岗位", 0.22), (_roles(d.role), 0.78)], 1),
            ([("变更详细说明", 0.22), ("\n".join(detail), 0.78)], max(3, len(detail) + 1) * 6 / 11)]


def _change_pending(d: FormData, steps: dict[str, dict[str, str]]) -> list[Pending]:
    if not d.change_type or "change" in steps:
        return []
    return [Pending(operations.by_change_type(d.change_type), d.account_uid)]


# ---------------------------------------------------------------- grant request
def _check_grant(data: FormData, problems: ProblemList) -> None:
    values = [*data.grants_add, *data.grants_remove]
    if not values:
        problems.add("grants_add", "授权申请单须列出授予或撤销的授权（系统#角色）",
                     "a grant request lists grants to add or remove (app#role)")
    if len(values) > MAX_GRANTS or len(set(values)) != len(values):
        problems.add("grants_add", f"授权最多 {MAX_GRANTS} 项且不得重复", f"at most {MAX_GRANTS} grants, none twice")
    for value in values:
        if not (isinstance(value, str) and "#" in value and len(value) <= 65):
            problems.add("grants_add", f"授权“{value}”应为 系统#角色", f"grant {value!r} must be app#role")


def _grant_rows(d: FormData, business: bool) -> list[Row]:
    return [([("手机号码", 0.12), (d.mobile, 0.88)], 1), ([("登录账号", 0.22), (d.account_uid or "", 0.78)], 1),
            ([("授予", 0.22), ("、".join(d.grants_add) or "-", 0.78)], 1),
            ([("撤销", 0.22), ("、".join(d.grants_remove) or "-", 0.78)], 1), _reason(d)]


def _grant_pending(d: FormData, steps: dict[str, dict[str, str]]) -> list[Pending]:
    return [*(Pending(BY_NAME["grant"], d.account_uid, g) for g in d.grants_add if f"+{g}" not in steps),
            *(Pending(BY_NAME["revoke"], d.account_uid, g) for g in d.grants_remove if f"-{g}" not in steps)]


# ---------------------------------------------------------------- certificate application (R19)
def _cert_rows(d: FormData, business: bool) -> list[Row]:
    return [([("手机号码", 0.12), (d.mobile, 0.88)], 1), ([("登录账号", 0.22), (d.account_uid or "", 0.78)], 1),
            _reason(d)]


def _cert_pending(d: FormData, steps: dict[str, dict[str, str]]) -> list[Pending]:
    return [] if "apply" in steps else [Pending(BY_NAME["apply-cert"], d.account_uid)]


# ---------------------------------------------------------------- downstream service registration
def _check_service(data: FormData, problems: ProblemList) -> None:
    name = data.service_name or ""
    if not (2 <= len(name) <= 64 and name[0].isalpha() and
            all(c in "abcdefghijklmnopqrstuvwxyz0123456789-" for c in name)):
        problems.add("service_name", "服务账号名：小写字母开头，仅含 a-z 0-9 -",
                     "service_name: a-z, 0-9 and -, starting with a letter")


def _service_rows(d: FormData, business: bool) -> list[Row]:
    return [([("手机号码", 0.12), (d.mobile, 0.88)], 1), ([("服务账号名", 0.22), (d.service_name or "", 0.78)], 1),
            _reason(d)]


def _service_pending(d: FormData, steps: dict[str, dict[str, str]]) -> list[Pending]:
    return [] if "create" in steps else [Pending(BY_NAME["create-service"])]


# ---------------------------------------------------------------- delegation request (R2)
def _check_delegation(data: FormData, problems: ProblemList) -> None:
    if not isinstance(data.delegate, bool):
        problems.add("delegate", "delegate 应为 true 或 false", "delegate must be true or false")


def _delegation_rows(d: FormData, business: bool) -> list[Row]:
    asked = f"{_box(d.delegate)}委托上级管理  {_box(not d.delegate)}撤销委托"
    return [([("手机号码", 0.12), (d.mobile, 0.88)], 1), ([("申请事项", 0.22), (asked, 0.78)], 1), _reason(d)]


def _delegation_pending(d: FormData, steps: dict[str, dict[str, str]]) -> list[Pending]:
    return [] if "delegate" in steps else [Pending(BY_NAME["delegate"])]


def _kept_by(title: str) -> tuple[str, ...]:
    return (f"1. 《{title}》原件由受理的用户管理部门保管。",)


def _nothing(data: FormData, problems: ProblemList) -> None:
    pass


KINDS: dict[str, Kind] = {k.name: k for k in (
    Kind("registration", "注册申请单", "registration form", "管理类用户注册申请单",
         ("1. 《管理类用户注册申请单》原件由本级用户管理部门保管。",), False, True, ("transfer_from",),
         _check_registration, _registration_rows, _registration_pending),
    Kind("change", "变更申请单", "change form", "管理类用户变更申请单",
         ("1. 《管理类用户变更申请单》适用于管理类用户信息更改（包括办公电话、电子邮箱、手机、",
          "   用户岗位等）、账号停用、账号解锁及重置密码等情况。",
          "2. 《管理类用户变更申请单》原件由本级用户管理部门保管。"), True, False,
         ("change_type", "account_id", "before", "after", "transfer_to"), _check_change, _change_rows,
         _change_pending),
    Kind("grant", "授权申请单", "grant request", "业务类用户授权申请单", _kept_by("业务类用户授权申请单"), True, False,
         ("grants_add", "grants_remove"), _check_grant, _grant_rows, _grant_pending),
    Kind("cert", "证书申请单", "certificate application", "教育 CA 证书申请单", _kept_by("教育 CA 证书申请单"), True,
         False, (), _nothing, _cert_rows, _cert_pending),
    Kind("service", "下游系统接入申请单", "downstream service registration", "下游系统接入申请单",
         _kept_by("下游系统接入申请单"), False, True, ("service_name",), _check_service, _service_rows,
         _service_pending),
    Kind("delegation", "委托管理申请单", "delegation request", "委托上级用户管理部门管理申请单",
         _kept_by("委托上级用户管理部门管理申请单"), False, False, ("delegate",), _check_delegation,
         _delegation_rows, _delegation_pending),
)}
BUSINESS_REGISTRATION = "业务类用户注册申请单"
DEFAULTS = {f.name: f.default for f in fields(FormData)}


def title(kind: str, business: bool = False) -> str:
    """The seed's registration form is the admin one; a business user's has its own title."""
    return BUSINESS_REGISTRATION if kind == "registration" and business else KINDS[kind].title


def pending(status: str, data: FormData, steps: dict[str, dict[str, str]]) -> list[Pending]:
    """What a received form still allows, in the order the form asks for it. (Whether the
    reader may do it is the permission table's business.)"""
    kind = KINDS.get(data.kind)
    return kind.pending(data, steps) if kind is not None and status == "received" else []


def _set(data: FormData, name: str) -> bool:
    value = getattr(data, name)
    return bool(value) if isinstance(value, list | dict) else value != DEFAULTS.get(name)


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

    kind = KINDS.get(data.kind) if isinstance(data.kind, str) else None
    if kind is None:
        problems.add("kind", f"申请单类型应为：{'、'.join(KINDS)}", f"kind must be one of: {', '.join(KINDS)}")
    for name, value in (("unit", data.unit), ("name", data.name), ("id_number", data.id_number)):
        if not isinstance(value, str):
            problems.add(name, "应为文本", "must be text")
    problems.raise_if_any("申请单填写有误，未做任何修改", "the form has errors; nothing was changed")
    assert kind is not None
    run("unit", validation.org_code, data.unit)
    run("name", validation.person_name, data.name)
    if data.surname:
        run("surname", lambda v: validation.surname(v, data.name), data.surname)
    data.id_number = run("id_number", validation.id_number, data.id_number)
    if data.mobile or kind.mobile_required:
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
    if kind.about_account and not data.account_uid:
        problems.add("account_uid", "须填写登录账号", "the form names the login account")
    if data.account_uid:
        run("account_uid", _account_uid, data.account_uid)
    for other in KINDS.values():
        for name in other.own:
            if other is not kind and name not in kind.own and _set(data, name):
                problems.add(name, f"只有{other.zh}填写此项", f"only a {other.en} has {name}")
    kind.check(data, problems)
    problems.raise_if_any("申请单填写有误，未做任何修改", "the form has errors; nothing was changed")
    return data


def _account_uid(value: str) -> str:
    if not (1 <= len(value) <= 64 and all(c.isascii() and (c.isalnum() or c in "._-") for c in value)):
        raise InvalidInput(f"登录账号“{value}”无效", f"login {value!r} is invalid")
    return value
