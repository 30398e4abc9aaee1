"""What a load file asks for, record by record: checked for shape, not yet against anything else.

CSV files say what they hold by their header; LDIF records by their objectClass and DN. Each
record becomes an `Item` (a unit, a container, a business, admin or post account, a grant) or
is refused with its file:line. Links between records and with the directory (parents, logins,
ID numbers) are checked by `idm.bulk.plan`.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import ldap.dn

from idm import validation
from idm.bulk.source import FORMULA_START, Entry, Refused, Row, csv_header, csv_rows, ldif_entries
from idm.errors import InvalidInput
from idm.identity.person import Person
from idm.tree.org import CONTAINERS

# CSV kinds: required columns, optional columns
CSV_KINDS: dict[str, tuple[tuple[str, ...], tuple[str, ...]]] = {
    "tree": (("code", "name", "level", "parent"), ("managed_by",)),
    "people": (("uid", "unit", "name", "id_number", "mobile"), ("email", "grants")),
    "admins": (("uid", "unit", "role", "name", "id_number", "mobile"), ("email", "office_phone")),
    "legacy": (("uid", "unit", "post"), ()),
    "grants": (("uid", "grant"), ()),
}
KIND_ZH = {"tree": "组织机构", "people": "业务用户", "admins": "管理员", "legacy": "岗位账号",
           "grants": "授权", "ldif": "LDIF"}
LEGACY_UID = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{1,63}")
GRANT = re.compile(r"[a-z][a-z0-9_-]{0,31}#[a-z][a-z0-9_-]{0,31}")
PERSON_CLASSES = {"top", "person", "organizationalperson", "inetorgperson"}
# LDIF attributes an account record may carry (lower case); everything else is refused.
ACCOUNT_ATTRS = {"objectclass", "uid", "cn", "sn", "displayname", "givenname", "idmidnumber",
                 "idmidmasked", "mobile", "mail", "telephonenumber", "idmstatus"}
BUSINESS_ATTRS = ACCOUNT_ATTRS | {"idmgrant", "idmlegacy", "idmpostname"}
ADMIN_ATTRS = ACCOUNT_ATTRS | {"idmadminrole", "idmscope"}
UNIT_ATTRS = {"objectclass", "ou", "idmcode", "idmnamezh", "idmlevel", "description", "idmmanagedby"}
NAME_ATTRS = ("cn", "sn", "displayname", "givenname", "idmnamezh", "description", "idmpostname")


@dataclass(slots=True)
class Item:
    """One thing to load. DNs are resolved by the plan (a unit's parent may be in the file or in
    the directory)."""

    where: str
    kind: str  # unit | container | business | admin | legacy | grant
    code: str  # the unit's code (for accounts and containers: the unit they belong to)
    parent: str | None = None  # unit: the parent's code (None: directly under the suffix)
    name: str = ""
    level: str = ""
    delegated: bool = False
    uid: str = ""
    id_number: str = ""
    role: str = ""
    grants: tuple[str, ...] = ()
    container: str = ""
    given_dn: str = ""  # LDIF: the DN as written, normalised, to compare with the resolved one
    attrs: dict[str, list[str]] = field(default_factory=dict)


def normal_dn(dn: str) -> str:
    """Case and spacing variants of one DN compare equal (duplicate detection, parents)."""
    text: str = ldap.dn.dn2str([[(a.lower(), v.strip().lower(), t) for a, v, t in rdn]
                                for rdn in ldap.dn.str2dn(dn)])
    return text


def detect(path: Path, encoding: str) -> str:
    """The kind of a file: LDIF by its name, CSV by its header."""
    if path.suffix.lower() == ".ldif":
        return "ldif"
    header = csv_header(path, encoding)
    for kind, (required, optional) in CSV_KINDS.items():
        if set(required) <= set(header) <= set(required) | set(optional) and len(set(header)) == len(header):
            return kind
    shapes = "; ".join(f"{k}: {','.join(r)}" + (f"[,{','.join(o)}]" if o else "")
                       for k, (r, o) in CSV_KINDS.items())
    raise InvalidInput(f"{path}:1: 无法识别的表头，可用的表头：{shapes}",
                       f"{path}:1: unknown header; the headers a load reads: {shapes}")


def require_header(path: Path, encoding: str, kind: str) -> None:
    required, optional = CSV_KINDS[kind]
    header = csv_header(path, encoding)
    if not (set(required) <= set(header) <= set(required) | set(optional)) or len(set(header)) != len(header):
        shape = ",".join(required) + (f"[,{','.join(optional)}]" if optional else "")
        raise InvalidInput(f"{path}:1: 表头应为 {shape}", f"{path}:1: header must be {shape}")


def items(path: Path, kind: str, encoding: str) -> Iterator[Item | Refused]:
    if kind == "ldif":
        for entry in ldif_entries(path, encoding):
            yield entry if isinstance(entry, Refused) else _from_ldif(entry)
        return
    convert = {"tree": _unit, "people": _business, "admins": _admin, "legacy": _legacy,
               "grants": _grant}[kind]
    for row in csv_rows(path, encoding):
        yield row if isinstance(row, Refused) else _checked(row.where, convert, row)


def _checked(where: str, convert: Callable[[Row], Item], row: Row) -> Item | Refused:
    try:
        return convert(row)
    except InvalidInput as err:
        return Refused(where, err.zh, err.en)


def _field(name: str, check: Callable[[str], str], value: str) -> str:
    try:
        return check(value)
    except InvalidInput as err:
        raise InvalidInput(f"{name}：{err.zh}", f"{name}: {err.en}") from None


def _person(cells: dict[str, str]) -> Person:
    try:
        return Person.checked(cells["name"], cells["id_number"].strip(), cells["mobile"].strip(),
                              cells.get("email", "").strip() or None,
                              cells.get("office_phone", "").strip() or None)
    except InvalidInput as err:
        raise InvalidInput("；".join(f"{p.where}：{p.zh}" for p in err.problems) or err.zh,
                           "; ".join(f"{p.where}: {p.en}" for p in err.problems) or err.en) from None


def _unit(row: Row) -> Item:
    c = row.cells
    code, name, level = c["code"].strip(), c["name"], c["level"].strip()
    _field("code", validation.org_code, code)
    _field("name", validation.org_name, name)
    _field("level", validation.level, level)
    parent = c["parent"].strip() or None
    managed_by = c.get("managed_by", "").strip()
    if managed_by and managed_by != parent:
        raise InvalidInput("managed_by 只能是上级单位代码（R2 委托上级管理）",
                           "managed_by may only name the parent (R2: delegated to the parent)")
    return Item(row.where, "unit", code, parent, name=name, level=level, delegated=bool(managed_by))


def _grants_of(text: str) -> tuple[str, ...]:
    grants = tuple(g for g in re.split(r"[\s;]+", text.strip()) if g)
    bad = [g for g in grants if not GRANT.fullmatch(g)]
    if bad:
        raise InvalidInput(f"授权“{bad[0]}”格式应为 系统#角色", f"grant {bad[0]!r} must be app#role")
    if len(set(grants)) != len(grants):
        raise InvalidInput("授权重复", "a grant is listed twice")
    return grants


def _account(row: Row, kind: str) -> Item:
    c = row.cells
    uid = _field("uid", validation.uid, c["uid"].strip())
    unit = _field("unit", validation.org_code, c["unit"].strip())
    person = _person(c)
    item = Item(row.where, kind, unit, uid=uid, name=person.name, id_number=person.id_number,
                attrs=person.attrs())
    if kind == "admin":
        item.role = _field("role", validation.admin_role, c["role"].strip())
    else:
        item.grants = _grants_of(c.get("grants", ""))
    return item


def _business(row: Row) -> Item:
    return _account(row, "business")


def _admin(row: Row) -> Item:
    return _account(row, "admin")


def _legacy(row: Row) -> Item:
    c = row.cells
    uid, unit, post = c["uid"].strip(), c["unit"].strip(), c["post"]
    if not LEGACY_UID.fullmatch(uid):
        raise InvalidInput(f"账号“{uid}”无效", f"account id {uid!r} is invalid")
    _field("unit", validation.org_code, unit)
    _field("post", validation.org_name, post)
    return Item(row.where, "legacy", unit, uid=uid, name=post)


def _grant(row: Row) -> Item:
    uid = row.cells["uid"].strip()
    if not LEGACY_UID.fullmatch(uid):
        raise InvalidInput(f"账号“{uid}”无效", f"account id {uid!r} is invalid")
    return Item(row.where, "grant", "", uid=uid, grants=_grants_of(row.cells["grant"]))


# ---------------------------------------------------------------- LDIF
def _from_ldif(entry: Entry) -> Item | Refused:
    try:
        return _ldif_item(entry)
    except InvalidInput as err:
        return Refused(entry.where, err.zh, err.en)


def _ldif_item(entry: Entry) -> Item:
    try:
        rdns = ldap.dn.str2dn(entry.dn)
    except ldap.DECODING_ERROR:
        raise InvalidInput(f"DN 无效：{entry.dn}", f"invalid DN: {entry.dn}") from None
    if not rdns or any(len(rdn) != 1 for rdn in rdns):
        raise InvalidInput(f"DN 无效：{entry.dn}", f"invalid DN: {entry.dn}")
    values = {k.lower(): v for k, v in entry.attrs.items()}
    for name in NAME_ATTRS:
        for value in values.get(name, []):
            if value.startswith(FORMULA_START):
                raise InvalidInput(f"{name}：“{value[:20]}”以 = + - @ 等开头，已拒绝",
                                   f"{name}: {value[:20]!r} starts like a spreadsheet formula: refused")
    if "userpassword" in values:
        raise InvalidInput("不接受 userPassword：密码从不随数据导入（账号以一次性密码启用，"
                           "见 idm user reset）",
                           "userPassword is not accepted: passwords are never loaded (accounts get a "
                           "one-time password through idm user reset)")
    classes = {v.strip().lower() for v in values.get("objectclass", [])}
    given = normal_dn(entry.dn)
    first_type, first_value = rdns[0][0][0].lower(), rdns[0][0][1]
    parent_rdn = rdns[1][0] if len(rdns) > 1 else None
    parent_code = parent_rdn[1] if parent_rdn and parent_rdn[0].lower() == "ou" else None
    if "idmorgunit" in classes:
        _only(values, UNIT_ATTRS)
        code = _one(values, "idmcode")
        if first_type != "ou" or first_value != code:
            raise InvalidInput("单位的 DN 第一个 RDN 应为 ou=<代码>",
                               "a unit's DN must start with ou=<idmCode>")
        name, level = _one(values, "idmnamezh"), _one(values, "idmlevel")
        _field("idmCode", validation.org_code, code)
        _field("idmNameZh", validation.org_name, name)
        _field("idmLevel", validation.level, level)
        parent = parent_code if parent_code and parent_code.isdigit() else None
        return Item(entry.where, "unit", code, parent, name=name, level=level,
                    delegated=bool(values.get("idmmanagedby")), given_dn=given)
    if classes == {"organizationalunit"} or classes == {"organizationalunit", "top"}:
        _only(values, {"objectclass", "ou"})
        if first_type != "ou" or first_value.lower() not in CONTAINERS or not parent_code:
            raise InvalidInput(f"容器应为单位下的 ou={'|'.join(CONTAINERS)}",
                               f"a container is ou={'|'.join(CONTAINERS)} under a unit")
        return Item(entry.where, "container", parent_code, container=first_value.lower(), given_dn=given)
    account = ({"idmbusinessaccount"} & classes and "business") or ({"idmadminaccount"} & classes and "admin")
    if account:
        allowed = BUSINESS_ATTRS if account == "business" else ADMIN_ATTRS
        _only(values, allowed)
        cls = "idmbusinessaccount" if account == "business" else "idmadminaccount"
        if classes - PERSON_CLASSES - {cls}:
            raise InvalidInput(f"objectClass 不符：{', '.join(sorted(classes))}",
                               f"objectClass does not fit: {', '.join(sorted(classes))}")
        container = "people" if account == "business" else "admins"
        if (first_type != "uid" or len(rdns) < 3 or rdns[1][0][0].lower() != "ou"
                or rdns[1][0][1].lower() != container or rdns[2][0][0].lower() != "ou"):
            raise InvalidInput(f"账号的 DN 应为 uid=<登录账号>,ou={container},ou=<单位代码>,...",
                               f"an account's DN must be uid=<login>,ou={container},ou=<unit code>,...")
        uid = _one(values, "uid")
        if uid.lower() != first_value.lower():
            raise InvalidInput("DN 中的 uid 与 uid 属性不同", "the DN's uid differs from the uid attribute")
        status = (values.get("idmstatus") or ["active"])[0]
        if status != "active":
            raise InvalidInput("只导入启用的账号（idmStatus: active）", "only active accounts are loaded")
        unit = rdns[2][0][1]
        legacy = (values.get("idmlegacy") or ["FALSE"])[0].upper() == "TRUE"
        if legacy:
            if account != "business" or not LEGACY_UID.fullmatch(uid):
                raise InvalidInput("岗位账号应为业务账号，登录账号有效",
                                   "a post account is a business account")
            post = _one(values, "idmpostname")
            _field("idmPostName", validation.org_name, post)
            if values.get("idmidnumber") or values.get("idmgrant"):
                raise InvalidInput("岗位账号不带身份证号和授权（R9）",
                                   "a post account carries no ID number and no grants (R9)")
            return Item(entry.where, "legacy", unit, uid=uid, name=post, given_dn=given)
        _field("uid", validation.uid, uid)
        person = _person({"name": _one(values, "cn"), "id_number": _one(values, "idmidnumber"),
                          "mobile": _one(values, "mobile"), "email": (values.get("mail") or [""])[0],
                          "office_phone": (values.get("telephonenumber") or [""])[0]})
        item = Item(entry.where, account, unit, uid=uid, name=person.name, id_number=person.id_number,
                    attrs=person.attrs(), given_dn=given)
        if account == "admin":
            role = (values.get("idmadminrole") or [""])[0]
            item.role = _field("idmAdminRole", validation.admin_role, role) if role else ""
        else:
            item.grants = _grants_of(" ".join(values.get("idmgrant", [])))
        return item
    raise InvalidInput(f"不支持的条目类型（objectClass: {', '.join(sorted(classes)) or '-'}）；可导入单位、"
                       "容器、业务账号、管理员账号", f"unsupported kind of entry (objectClass: "
                       f"{', '.join(sorted(classes)) or '-'}); a load adds units, containers and accounts")


def _only(values: dict[str, list[str]], allowed: set[str]) -> None:
    extra = sorted(set(values) - allowed)
    if extra:
        raise InvalidInput(f"不符合模式：不允许的属性 {', '.join(extra)}",
                           f"schema violation: attributes not allowed here: {', '.join(extra)}")


def _one(values: dict[str, list[str]], name: str) -> str:
    found = values.get(name, [])
    if len(found) != 1:
        raise InvalidInput(f"不符合模式：{name} 应恰有一个值",
                           f"schema violation: {name} needs exactly one value")
    return found[0]
