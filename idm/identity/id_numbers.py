"""One person, one number (R9, R17): an ID number belongs to one name across the whole
directory, whoever registers it and at whatever unit, counting forms not yet acted on.

The check cannot rest on what the acting admin happens to see (a county's admin sees nothing of
the next county), so it runs as the toolkit's lookup account, which may *test* ID numbers
everywhere (search access) but never read them. slapd itself refuses a second business account
for a number (slapo-unique); the refusals here name the unit that holds the number, never the
other person's data.

A person may hold several admin accounts of one department where staff is short (R3,
一人担任多个用户), so admin accounts of one number must all be at one unit.
"""

from __future__ import annotations

import json
from dataclasses import dataclass

from idm import validation
from idm.directory import names
from idm.directory.session import Session
from idm.errors import InvalidInput, NotFound
from idm.rules.terms import LOOKUP_SERVICE
from idm.tree import org

ACCOUNTS = "(|(objectClass=idmAdminAccount)(objectClass=idmBusinessAccount))"


@dataclass(frozen=True)
class Holder:
    kind: str  # "admin", "business" or "form"
    name: str
    unit_dn: str


def holders(session: Session, id_number: str) -> list[Holder]:
    """Every account, and every form not yet acted on, that carries this number."""
    lookup = session.peer(LOOKUP_SERVICE)
    found: list[Holder] = []
    for dn, attrs in lookup.search(session.suffix, names.all_of(ACCOUNTS, names.eq("idmIdNumber", id_number)),
                                   ["cn", "objectClass"]):
        kind = "admin" if "idmAdminAccount" in attrs.get("objectClass", []) else "business"
        found.append(Holder(kind, (attrs.get("cn") or [""])[0], names.parent_of(names.parent_of(dn))))
    flt = names.all_of("(objectClass=idmRecord)", "(idmRecordStatus=received)",
                       names.eq("idmIdNumber", id_number))
    for _, attrs in lookup.search(session.suffix, flt, ["idmRecordData"]):
        data = json.loads((attrs.get("idmRecordData") or ["{}"])[0])
        try:
            unit = org.find(session, str(data.get("unit", ""))).dn
        except NotFound:
            unit = ""
        found.append(Holder("form", str(data.get("name", "")), unit))
    return found


def _unit_words(session: Session, unit_dn: str) -> str:
    entry = session.get(unit_dn, ["idmNameZh", "idmCode"]) if unit_dn else None
    if not entry:
        return "另一单位"
    attrs = entry[1]
    return f"{(attrs.get('idmNameZh') or ['-'])[0]}（{(attrs.get('idmCode') or ['-'])[0]}）"


def require_same_name(session: Session, id_number: str, name: str) -> None:
    masked = validation.mask_id_number(id_number)
    for holder in holders(session, id_number):
        if holder.name != name:
            unit = _unit_words(session, holder.unit_dn)
            raise InvalidInput(
                f"身份证号 {masked} 已在{unit}登记为另一人，与“{name}”不符；请核实后再办理",
                f"ID number {masked} is registered at {unit} under another name than {name!r}; "
                "check it before going on")


def require_free_for(session: Session, id_number: str, name: str, kind: str, unit_dn: str) -> None:
    """Before an account is created for this number: same name everywhere; at most one business
    account; admin accounts only at one unit."""
    require_same_name(session, id_number, name)
    masked = validation.mask_id_number(id_number)
    for holder in holders(session, id_number):
        unit = _unit_words(session, holder.unit_dn)
        if kind == "business" and holder.kind == "business":
            raise InvalidInput(f"身份证号 {masked} 已在{unit}有业务账号：一人只能有一个业务账号",
                               f"ID number {masked} already holds a business account at {unit}: "
                               "one person, one business account")
        if kind == "admin" and holder.kind == "admin" and holder.unit_dn.lower() != unit_dn.lower():
            raise InvalidInput(f"身份证号 {masked} 已在{unit}担任管理员：一人只能在一个单位担任管理员",
                               f"ID number {masked} already holds an admin account at {unit}: one "
                               "person may be an admin at one unit only")
