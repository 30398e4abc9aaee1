"""One person, one number, across a load file and the directory (R9, R17): an ID number under
one name, at most one business account per number, admin accounts of one number at one unit.

What is kept per number is one int in a compact table (30 bits of the name's hash, a
business-account bit, the line): a national file has a million numbers.
"""

from __future__ import annotations

from idm.bulk.plan import BUSINESS_BIT, LINE_MASK, NAME_MASK, Plan
from idm.bulk.records import Item
from idm.bulk.table import IntMap
from idm.bulk.view import Holder
from idm.directory import names
from idm.validation import mask_id_number


class Numbers:
    def __init__(self, plan: Plan) -> None:
        self.plan = plan
        self.seen = IntMap()  # hash(number) -> packed name hash, business bit, line
        self.admin_numbers: dict[int, str] = {}  # hash(number) -> unit code

    def in_file(self, item: Item, line: int) -> bool:
        """The number under one name in the file, one business account per number, admin
        accounts of one number at one unit."""
        plan = self.plan
        key, name = hash(item.id_number), hash(item.name) & NAME_MASK
        masked = mask_id_number(item.id_number)
        seen = self.seen.get(key)
        if seen is not None and seen >> 33 != name:
            plan.refuse(item.where, f"身份证号 {masked} 在第 {seen & LINE_MASK} 行登记为另一人",
                        f"ID number {masked} is on line {seen & LINE_MASK} under another name")
            return False
        business = item.kind == "business"
        if business and seen is not None and seen & BUSINESS_BIT:
            plan.refuse(item.where, f"身份证号 {masked} 在文件中已有业务账号：一人只能有一个业务账号",
                        f"ID number {masked} already has a business account in the file: one "
                        "person, one business account")
            return False
        if seen is None:
            self.seen[key] = name << 33 | (BUSINESS_BIT if business else 0) | line
        elif business:
            self.seen[key] = seen | BUSINESS_BIT
        if item.kind == "admin":
            unit = self.admin_numbers.setdefault(key, item.code)
            if unit != item.code:
                plan.refuse(item.where, f"身份证号 {masked} 在文件中已在单位 {unit} 担任管理员",
                            f"ID number {masked} is an admin at unit {unit} in the file: one unit only")
                return False
        return True

    def free(self, item: Item, dn: str, holders: list[Holder]) -> bool:
        """The same against the directory's holders of the number (forms not yet acted on
        included)."""
        masked = mask_id_number(item.id_number)
        unit_dn = names.parent_of(names.parent_of(dn))
        for holder in holders:
            h_kind, h_name, h_dn, h_unit = holder.kind, holder.name, holder.dn, holder.unit_dn
            if h_dn.lower() == dn.lower():
                continue
            if h_name != item.name:
                where = h_unit if h_kind != "form" else f"申请单 form {names.first_value(h_dn)}"
                self.plan.refuse(item.where,
                                 f"身份证号 {masked} 已在 {where} 登记为另一人（与“{item.name}”不符）",
                                 f"ID number {masked} is registered at {where} under another name "
                                 f"than {item.name!r}")
                return False
            if item.kind == "business" and h_kind == "business":
                self.plan.refuse(item.where,
                                 f"身份证号 {masked} 已在 {h_unit} 有业务账号：一人只能有一个业务账号",
                                 f"ID number {masked} already holds a business account at {h_unit}: "
                                 "one person, one business account")
                return False
            if item.kind == "admin" and h_kind == "admin" and h_unit.lower() != unit_dn.lower():
                self.plan.refuse(item.where, f"身份证号 {masked} 已在 {h_unit} 担任管理员",
                                 f"ID number {masked} already holds an admin account at {h_unit}")
                return False
        return True
