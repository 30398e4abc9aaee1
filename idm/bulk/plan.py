"""What the first pass of a load decided, record by record: a byte per record (skip, add,
change), the few details the second pass needs, the counts, and the refusals with their
file:line (`idm.bulk.planner` makes it; `idm.bulk.write` carries it out)."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from idm.errors import InvalidInput, Problem

SKIP, ADD, CHANGE = 0, 1, 2
BATCH = 500
MAX_PROBLEMS = 1000  # kept in full; beyond, only counted
SAMPLE_LINES = 20
DIR_CACHE = 50_000
NAME_MASK = (1 << 30) - 1  # the packed value stays within 63 bits
BUSINESS_BIT = 1 << 32
LINE_MASK = (1 << 32) - 1  # directory units kept for resolving DNs; cleared when it grows past this


@dataclass
class Counts:
    units: int = 0
    containers: int = 0
    accounts: int = 0
    grants: int = 0
    changes: int = 0
    unchanged: int = 0

    @property
    def adds(self) -> int:
        return self.units + self.accounts + self.grants

    @property
    def entries(self) -> int:
        """LDAP operations a load will send."""
        return self.units + self.containers + self.accounts + self.grants + self.changes


@dataclass
class Plan:
    path: Path
    kind: str
    encoding: str
    counts: Counts = field(default_factory=Counts)
    decisions: bytearray = field(default_factory=bytearray)
    # per record ordinal: a unit's change, the containers an existing unit lacks, a grant's target
    changes: dict[int, tuple[str, dict[str, list[str]], list[str]]] = field(default_factory=dict)
    missing: dict[int, list[str]] = field(default_factory=dict)
    grant_targets: dict[int, tuple[str, tuple[str, ...]]] = field(default_factory=dict)
    problems: list[Problem] = field(default_factory=list)
    problem_count: int = 0
    lines: list[str] = field(default_factory=list)
    line_count: int = 0
    records: int = 0
    units: dict[str, tuple[str, str]] = field(default_factory=dict)  # file units: code -> (dn, level)

    def refuse(self, where: str, zh: str, en: str) -> None:
        self.problem_count += 1
        if len(self.problems) < MAX_PROBLEMS:
            self.problems.append(Problem(where, zh, en))

    def summary(self) -> tuple[str, str]:
        c = self.counts
        zh = (f"新增 {c.adds}（单位 {c.units}，账号 {c.accounts}，授权 {c.grants}），修改 {c.changes}，"
              f"补齐容器 {c.containers}，未变 {c.unchanged}")
        en = (f"add {c.adds}, change {c.changes}, containers {c.containers}, unchanged {c.unchanged} "
              f"(units {c.units}, accounts {c.accounts}, grants {c.grants})")
        return zh, en

    def raise_if_refused(self) -> None:
        if self.problem_count:
            more = self.problem_count - len(self.problems)
            extra_zh = f"（另有 {more} 处未列出）" if more > 0 else ""
            extra_en = f" ({more} more not listed)" if more > 0 else ""
            raise InvalidInput(f"导入文件有 {self.problem_count} 处错误，未做任何修改{extra_zh}",
                               f"the load file has {self.problem_count} problems; nothing was changed"
                               f"{extra_en}", problems=list(self.problems))


