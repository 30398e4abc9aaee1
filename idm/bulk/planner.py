"""The first pass of a load: every record checked against the file and the directory, and what
a load would write decided, before anything is written.

The file is streamed in batches; each batch asks the directory its questions in a few searches
(units by code, accounts by login, ID numbers) and records a decision per record: add, change,
or nothing (already there: a rerun after an interruption finds what was written and plans only
the rest). What is kept in memory per record is a byte and, for the duplicate and one-number
checks, a hash: the file is never held whole.

Refused, each with its file:line: bad shape (see `records`), duplicates (a code, a login, a DN
in another case or spacing), a child before its parent or with none, a unit at the wrong level or
code, a login taken elsewhere, an ID number under two names in the file or anywhere in the
directory (counting forms not yet acted on), a second business account for a number, admin
accounts of one number at two units, a grant not in the catalogue or for an unconverted,
disabled or unknown account.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TextIO

from idm.bulk import records
from idm.bulk.numbers import Numbers
from idm.bulk.plan import (
    ADD,
    BATCH,
    CHANGE,
    DIR_CACHE,
    SAMPLE_LINES,
    SKIP,
    Plan,
)
from idm.bulk.records import Item
from idm.bulk.source import Refused
from idm.bulk.table import IntMap
from idm.bulk.view import Unit, View
from idm.directory import names
from idm.errors import InvalidInput
from idm.tree import org
from idm.tree.org import CONTAINERS
from idm.validation import LEVEL_ZH


class Planner:
    """Resolves units to DNs for both passes (the file's units and, cached, the directory's)."""

    def __init__(self, view: View, plan: Plan, plan_file: TextIO | None = None) -> None:
        self.view = view
        self.plan = plan
        self.plan_file = plan_file
        self.suffix_dn = view.suffix
        self.directory_units: dict[str, Unit | None] = {}
        self.uids = IntMap()  # hash(login) -> line
        self.numbers = Numbers(plan)  # one person, one number
        self.container_marks: dict[str, int] = {}  # unit code -> bit per container listed (LDIF)
        self._catalogue: dict[str, set[str]] | None = None

    # ------------------------------------------------------------ units
    def known(self, codes: set[str]) -> None:
        """Ask the directory about codes neither the file nor the cache knows."""
        wanted = [c for c in codes if c not in self.plan.units and c not in self.directory_units]
        if not wanted:
            return
        if len(self.directory_units) > DIR_CACHE:
            self.directory_units.clear()
        found = self.view.units(wanted)
        for code in wanted:
            self.directory_units[code] = found.get(code)

    def unit_dn(self, code: str) -> str | None:
        if code in self.plan.units:
            return self.plan.units[code][0]
        if code not in self.directory_units:
            self.known({code})
        unit = self.directory_units.get(code)
        return unit.dn if unit else None

    def _level(self, code: str) -> str | None:
        if code in self.plan.units:
            return self.plan.units[code][1]
        unit = self.directory_units.get(code)
        return unit.level if unit else None

    def catalogue(self) -> dict[str, set[str]]:
        if self._catalogue is None:
            self._catalogue = self.view.catalogue()
        return self._catalogue

    # ------------------------------------------------------------ output
    def line(self, text: str) -> None:
        self.plan.line_count += 1
        if len(self.plan.lines) < SAMPLE_LINES:
            self.plan.lines.append(text)
        if self.plan_file is not None:
            self.plan_file.write(text + "\n")

    def decide(self, ordinal: int, decision: int) -> None:
        self.plan.decisions[ordinal] = decision

    # ------------------------------------------------------------ batches
    def batch(self, batch: list[tuple[int, Item]]) -> None:
        codes: set[str] = set()
        for _, item in batch:
            if item.kind == "unit":
                codes.add(item.code)
                if item.parent:
                    codes.add(item.parent)
            elif item.code:
                codes.add(item.code)
        self.known(codes)
        units = [(o, i) for o, i in batch if i.kind == "unit"]
        containers = [(o, i) for o, i in batch if i.kind == "container"]
        accounts = [(o, i) for o, i in batch if i.kind in ("business", "admin", "legacy")]
        grants = [(o, i) for o, i in batch if i.kind == "grant"]
        # file order matters within a batch: a unit's parent must come before it
        existing_units: list[tuple[int, str]] = []
        for ordinal, item in units:
            dn = self._unit(ordinal, item)
            if dn is not None and self.plan.decisions[ordinal] != ADD:
                existing_units.append((ordinal, dn))
        if existing_units:
            present = self.view.containers([dn for _, dn in existing_units])
            for ordinal, dn in existing_units:
                lacking = [c for c in CONTAINERS if c not in present.get(dn.lower(), set())]
                if lacking:
                    self.plan.missing[ordinal] = lacking
                    self.plan.counts.containers += len(lacking)
                    for c in lacking:
                        self.line(f"+ {names.child_dn('ou', c, dn)}")
        for ordinal, item in containers:
            self._container(ordinal, item)
        if accounts:
            self._accounts(accounts)
        if grants:
            self._grants(grants)

    def _unit(self, ordinal: int, item: Item) -> str | None:
        plan = self.plan
        if item.code in plan.units:
            plan.refuse(item.where, f"代码 {item.code} 重复（同一单位出现两次）",
                        f"duplicate code {item.code} (the same unit twice)")
            return None
        if item.parent is None:
            parent_dn, parent_level = self.suffix_dn, None
        else:
            found = self.unit_dn(item.parent)
            if found is None:
                plan.refuse(item.where, f"上级代码 {item.parent} 不存在（目录中没有，文件中也不在此行之前）",
                            f"unknown parent code {item.parent} (not in the directory, nor on an "
                            "earlier line of the file)")
                return None
            parent_dn, parent_level = found, self._level(item.parent)
        if parent_level not in org.PARENT_LEVELS[item.level]:
            under = LEVEL_ZH.get(parent_level or "", "顶层")
            plan.refuse(item.where, f"{LEVEL_ZH[item.level]}单位不能位于{under}之下",
                        f"a {item.level} cannot sit under {parent_level or 'the top'}")
            return None
        misfit = org.code_fits(item.code, item.level, item.parent)
        if misfit:
            plan.refuse(item.where, f"代码 {item.code}：{misfit[0]}", f"code {item.code}: {misfit[1]}")
            return None
        dn = names.child_dn("ou", item.code, parent_dn)
        if item.given_dn and item.given_dn != records.normal_dn(dn):
            plan.refuse(item.where, f"DN 应为 {dn}", f"the DN should be {dn}")
            return None
        plan.units[item.code] = (dn, item.level)
        current = self.directory_units.get(item.code)
        if current is None:
            self.decide(ordinal, ADD)
            plan.counts.units += 1
            plan.counts.containers += len(CONTAINERS)
            self.line(f"+ {item.code} {item.name} [{item.level}]  {dn}")
            return dn
        if names.parent_of(current.dn).lower() != parent_dn.lower():
            plan.refuse(item.where, f"单位 {item.code} 已存在于其他上级之下：{current.dn}",
                        f"unit {item.code} already exists under another parent: {current.dn}")
            return None
        if current.level != item.level:
            plan.refuse(item.where, f"单位 {item.code} 的层级不能从 {current.level} 改为 {item.level}",
                        f"unit {item.code}: level cannot change from {current.level} to {item.level}")
            return None
        plan.units[item.code] = (current.dn, item.level)
        change: dict[str, list[str]] = {}
        if current.name != item.name:
            change["idmNameZh"] = [item.name]
            change["description"] = [item.name]
        wanted_manager = parent_dn if item.delegated else None
        if (current.managed_by or None) != wanted_manager:
            change["idmManagedBy"] = [wanted_manager] if wanted_manager else []
        if change:
            before = [f"idmNameZh: {current.name}" if k == "idmNameZh" else f"{k}: {current.managed_by}"
                      for k in change if k != "description"]
            plan.changes[ordinal] = (current.dn, change, before)
            self.decide(ordinal, CHANGE)
            plan.counts.changes += 1
            self.line(f"~ {current.dn}: {'; '.join(before)} -> "
                      f"{ {k: v for k, v in change.items() if k != 'description'} }")
        else:
            plan.counts.unchanged += 1
        return current.dn

    def _container(self, ordinal: int, item: Item) -> None:
        plan = self.plan
        bit = 1 << CONTAINERS.index(item.container)
        marks = self.container_marks.get(item.code, 0)
        if marks & bit:
            plan.refuse(item.where, "重复的 DN（同一容器出现两次）",
                        "duplicate DN (the same container twice)")
            return
        self.container_marks[item.code] = marks | bit
        unit_dn = self.unit_dn(item.code)
        if unit_dn is None:
            plan.refuse(item.where, f"容器的单位 {item.code} 不存在（或在此行之后）",
                        f"the container's unit {item.code} does not exist (or comes after this line)")
            return
        dn = names.child_dn("ou", item.container, unit_dn)
        if item.given_dn != records.normal_dn(dn):
            plan.refuse(item.where, f"DN 应为 {dn}", f"the DN should be {dn}")
            return
        plan.counts.unchanged += 1  # made with its unit, or already there (a lacking one is planned there)

    def _accounts(self, batch: list[tuple[int, Item]]) -> None:
        plan = self.plan
        ready: list[tuple[int, Item, str]] = []
        for ordinal, item in batch:
            key = hash(item.uid.lower())
            line = int(item.where.rsplit(":", 1)[1])
            if key in self.uids:
                plan.refuse(item.where, f"登录账号 {item.uid} 重复（首次在第 {self.uids[key]} 行）",
                            f"duplicate login {item.uid} (first on line {self.uids[key]})")
                continue
            self.uids[key] = line
            if item.id_number and not self.numbers.in_file(item, line):
                continue
            unit_dn = self.unit_dn(item.code)
            if unit_dn is None:
                plan.refuse(item.where, f"单位 {item.code} 不存在（目录中没有，文件中也不在此行之前）",
                            f"unknown unit {item.code} (not in the directory, nor on an earlier line)")
                continue
            container = "admins" if item.kind == "admin" else "people"
            dn = names.child_dn("uid", item.uid, names.child_dn("ou", container, unit_dn))
            if item.given_dn and item.given_dn != records.normal_dn(dn):
                plan.refuse(item.where, f"DN 应为 {dn}", f"the DN should be {dn}")
                continue
            if item.grants and not self._grants_known(item):
                continue
            ready.append((ordinal, item, dn))
        existing = self.view.accounts([i.uid for _, i, _ in ready], details=False)  # where, not what
        fresh: list[tuple[int, Item, str]] = []
        for ordinal, item, dn in ready:
            found = existing.get(item.uid.lower())
            if found is None:
                fresh.append((ordinal, item, dn))
            elif found.dn.lower() == dn.lower():
                plan.counts.unchanged += 1  # loaded before (a rerun): nothing to do
            else:
                plan.refuse(item.where, f"登录账号 {item.uid} 已被使用：{found.dn}",
                            f"login {item.uid} is taken: {found.dn}")
        holders = self.view.holders([(i.id_number, i.name) for _, i, _ in fresh if i.id_number])
        for ordinal, item, dn in fresh:
            if item.id_number and not self.numbers.free(item, dn, holders.get(item.id_number, [])):
                continue
            self.decide(ordinal, ADD)
            plan.counts.accounts += 1
            self.line(f"+ {dn} ({item.kind}{' ' + ' '.join(item.grants) if item.grants else ''})")

    def _grants_known(self, item: Item) -> bool:
        apps = self.catalogue()
        for grant in item.grants:
            app, _, role = grant.partition("#")
            if role not in apps.get(app, set()):
                self.plan.refuse(item.where, f"授权 {grant} 不在业务系统目录中",
                                 f"grant {grant} is not in the catalogue")
                return False
        return True

    def _grants(self, batch: list[tuple[int, Item]]) -> None:
        plan = self.plan
        existing = self.view.accounts([i.uid for _, i in batch])
        for ordinal, item in batch:
            if not self._grants_known(item):
                continue
            found = existing.get(item.uid.lower())
            if found is None or found.kind != "business":
                plan.refuse(item.where, f"找不到业务账号 {item.uid}", f"no business account {item.uid}")
                continue
            if found.legacy:
                plan.refuse(item.where, f"岗位账号 {item.uid} 尚未实名制转化，不能授权（R9）",
                            f"post account {item.uid} is not converted to real-name yet (R9)")
                continue
            if found.status != "active":
                plan.refuse(item.where, f"账号 {item.uid} 已停用，不能授权",
                            f"account {item.uid} is disabled")
                continue
            wanted = tuple(g for g in item.grants if g not in found.grants)
            if not wanted:
                plan.counts.unchanged += 1
                continue
            plan.grant_targets[ordinal] = (found.dn, wanted)
            self.decide(ordinal, CHANGE)
            plan.counts.grants += len(wanted)
            self.line(f"+ {found.dn} idmGrant: {' '.join(wanted)}")


def stream(path: Path, kind: str, encoding: str) -> Iterator[tuple[int, Item | Refused]]:
    yield from enumerate(records.items(path, kind, encoding))


def make(view: View, path: Path, encoding: str = "utf-8", kind: str | None = None,
         plan_file: TextIO | None = None, tick: Callable[[int], None] | None = None) -> tuple[Plan, Planner]:
    """The plan for a file (refusals collected, not raised: the caller shows them)."""
    if kind in records.CSV_KINDS and path.suffix.lower() != ".ldif":
        records.require_header(path, encoding, kind)
    elif kind is not None and (kind == "ldif") != (path.suffix.lower() == ".ldif"):
        raise InvalidInput(f"{path}: 文件类型应为 {kind}", f"{path}: expected a {kind} file")
    kind = kind or records.detect(path, encoding)
    plan = Plan(path, kind, encoding)
    planner = Planner(view, plan, plan_file)
    batch: list[tuple[int, Item]] = []
    for ordinal, item in stream(path, kind, encoding):
        plan.decisions.append(SKIP)
        plan.records += 1
        if isinstance(item, Refused):
            plan.refuse(item.where, item.zh, item.en)
            continue
        batch.append((ordinal, item))
        if len(batch) >= BATCH:
            planner.batch(batch)
            batch = []
            if tick:
                tick(plan.records)
    if batch:
        planner.batch(batch)
    if tick:
        tick(plan.records)
    return plan, planner
