"""The administrative tree (R1, R2): org nodes named by official code, with their containers.

An import is planned in full against the file and the directory before anything is written:
a bad file changes nothing, and a re-import of the same file plans nothing.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

import ldap

from idm.directory import fresh, names
from idm.directory.session import Session
from idm.errors import NotFound, ProblemList
from idm.org_input import NodeSpec
from idm.validation import LEVEL_ZH, REGION_LEVELS

# Which levels may sit under which (None: directly under the suffix).
PARENT_LEVELS: dict[str, frozenset[str | None]] = {
    "ministry": frozenset({None}),
    "province": frozenset({None, "ministry"}),
    "city": frozenset({"province"}),
    "county": frozenset({"city"}),
    "university": frozenset({"province", "ministry"}),
    "school": frozenset({"county", "city", "province"}),
}
# Every node gets these children: accounts and the records that belong to it.
CONTAINERS = ("admins", "people", "forms", "certs", "reviews", "services")
ORG_ATTRS = ["idmCode", "idmNameZh", "idmLevel", "idmManagedBy"]


@dataclass(frozen=True)
class Node:
    dn: str
    code: str
    name: str
    level: str
    managed_by: str | None = None

    @property
    def parent_dn(self) -> str:
        return names.parent_of(self.dn)


@dataclass
class Plan:
    adds: list[tuple[str, NodeSpec]] = field(default_factory=list)
    changes: list[tuple[str, dict[str, list[str]], list[str]]] = field(default_factory=list)
    containers: list[str] = field(default_factory=list)
    unchanged: int = 0


def _node(dn: str, attrs: dict[str, list[str]]) -> Node:
    def one(name: str) -> str | None:
        values = attrs.get(name)
        return values[0] if values else None

    return Node(dn, one("idmCode") or "", one("idmNameZh") or "", one("idmLevel") or "",
                one("idmManagedBy"))


def all_nodes(session: Session, base: str | None = None) -> list[Node]:
    found = session.search(base or session.suffix, "(objectClass=idmOrgUnit)", ORG_ATTRS)
    return [_node(dn, attrs) for dn, attrs in found]


def find(session: Session, code: str) -> Node:
    """The node with this official code (searched with an escaped filter)."""
    flt = names.all_of("(objectClass=idmOrgUnit)", names.eq("idmCode", code))
    for dn, attrs in session.search(session.suffix, flt, ORG_ATTRS):
        return _node(dn, attrs)
    raise NotFound(f"找不到代码为 {code} 的单位", f"no org unit with code {code}")


def _code_fits(spec: NodeSpec, parent: Node | NodeSpec | None) -> tuple[str, str] | None:
    """GB/T 2260 nesting: a city shares its province's first 2 digits, a county its city's 4."""
    if spec.level not in REGION_LEVELS:
        return None if len(spec.code) == 10 else ("学校标识码应为 10 位", "a school code has 10 digits")
    if len(spec.code) != 6:
        return ("行政区划代码应为 6 位", "a division code has 6 digits")
    if spec.level == "province" and not spec.code.endswith("0000"):
        return ("省级代码应以 0000 结尾", "a province code ends in 0000")
    if spec.level == "city":
        if not spec.code.endswith("00") or spec.code.endswith("0000"):
            return ("地市级代码应以 00 结尾（且不是 0000）", "a city code ends in 00 (not 0000)")
        if parent is not None and spec.code[:2] != parent.code[:2]:
            return ("地市级代码前 2 位应与上级相同", "a city code starts with its province's 2 digits")
    if spec.level == "county":
        if spec.code.endswith("00"):
            return ("区县级代码不应以 00 结尾", "a county code does not end in 00")
        if parent is not None and spec.code[:4] != parent.code[:4]:
            return ("区县级代码前 4 位应与上级相同", "a county code starts with its city's 4 digits")
    return None


def plan(session: Session, specs: list[NodeSpec]) -> Plan:
    """Check the file against itself and the directory; say what an import would write."""
    problems = ProblemList()
    existing = {n.code: n for n in all_nodes(session)}
    by_code: dict[str, NodeSpec] = {}
    for spec in specs:
        if spec.code in by_code:
            problems.add(spec.where, f"代码 {spec.code} 重复（首次出现在 {by_code[spec.code].where}）",
                         f"duplicate code {spec.code} (first at {by_code[spec.code].where})")
            continue
        by_code[spec.code] = spec
    dns: dict[str, str] = {}
    result = Plan()

    def resolve(spec: NodeSpec, seen: frozenset[str]) -> str | None:
        """The DN the file asks for: under the parent as the file (or the directory) places it."""
        if spec.code in dns:
            return dns[spec.code]
        if spec.parent is None:
            parent_dn: str | None = session.suffix
        elif spec.parent in seen:
            return None
        elif spec.parent in by_code:
            parent_dn = resolve(by_code[spec.parent], seen | {spec.code})
        else:
            parent_dn = existing[spec.parent].dn if spec.parent in existing else None
        if parent_dn is None:
            return None
        dns[spec.code] = names.child_dn("ou", spec.code, parent_dn)
        return dns[spec.code]

    for spec in by_code.values():
        parent: Node | NodeSpec | None = None
        if spec.parent is not None:
            parent = by_code.get(spec.parent) or existing.get(spec.parent)
            if parent is None:
                problems.add(spec.where, f"上级代码 {spec.parent} 不存在",
                             f"unknown parent code {spec.parent}")
                continue
        parent_level = parent.level if parent is not None else None
        if parent_level not in PARENT_LEVELS[spec.level]:
            under = LEVEL_ZH.get(parent_level or "", "顶层")
            problems.add(spec.where,
                         f"{LEVEL_ZH[spec.level]}单位不能位于{under}之下",
                         f"a {spec.level} cannot sit under {parent_level or 'the top'}")
            continue
        misfit = _code_fits(spec, parent)
        if misfit:
            problems.add(spec.where, f"代码 {spec.code}：{misfit[0]}", f"code {spec.code}: {misfit[1]}")
            continue
        dn = resolve(spec, frozenset())
        if dn is None:
            problems.add(spec.where, f"上级链条有环：{spec.code}", f"parent chain loops at {spec.code}")
            continue
        current = existing.get(spec.code)
        if current is None:
            result.adds.append((dn, spec))
            continue
        if names.parent_of(current.dn).lower() != names.parent_of(dn).lower():
            problems.add(spec.where, f"单位 {spec.code} 已存在于其他上级之下：{current.dn}",
                         f"unit {spec.code} already exists under another parent: {current.dn}")
            continue
        if current.level != spec.level:
            problems.add(spec.where, f"单位 {spec.code} 的层级不能从 {current.level} 改为 {spec.level}",
                         f"unit {spec.code}: level cannot change from {current.level} to {spec.level}")
            continue
        change: dict[str, list[str]] = {}
        if current.name != spec.name:
            change["idmNameZh"] = [spec.name]
        wanted_manager = names.parent_of(current.dn) if spec.delegated else None
        if (current.managed_by or None) != wanted_manager:
            change["idmManagedBy"] = [wanted_manager] if wanted_manager else []
        if change:
            before = [f"{k}: {current.name if k == 'idmNameZh' else current.managed_by}" for k in change]
            result.changes.append((current.dn, change, before))
        else:
            result.unchanged += 1
    problems.raise_if_any("组织机构文件有错误，未做任何修改", "the org file has errors; nothing was changed")
    result.adds.sort(key=lambda item: item[0].count(","))
    result.containers = _missing_containers(session, existing.values())
    return result


def _missing_containers(session: Session, nodes: Iterable[Node]) -> list[str]:
    """Containers absent under existing nodes (e.g. after an interrupted import)."""
    present = {
        dn.lower()
        for dn, _ in session.search(session.suffix, "(&(objectClass=organizationalUnit)"
                                    "(!(objectClass=idmOrgUnit)))", ["1.1"])
    }
    return [
        names.child_dn("ou", c, node.dn)
        for node in nodes
        for c in CONTAINERS
        if names.child_dn("ou", c, node.dn).lower() not in present
    ]


def _node_attrs(spec: NodeSpec, dn: str) -> dict[str, list[str]]:
    attrs = {
        "objectClass": ["idmOrgUnit"],
        "ou": [spec.code],
        "idmCode": [spec.code],
        "idmNameZh": [spec.name],
        "idmLevel": [spec.level],
        "description": [spec.name],
    }
    if spec.delegated:
        attrs["idmManagedBy"] = [names.parent_of(dn)]
    return attrs


def apply(session: Session, result: Plan) -> None:
    """Write a plan, parents first. Each node comes with its containers."""
    for dn, spec in result.adds:
        session.add(dn, _node_attrs(spec, dn))
        for container in CONTAINERS:
            session.add(names.child_dn("ou", container, dn),
                        {"objectClass": ["organizationalUnit"], "ou": [container]})
    for dn in result.containers:
        session.add(dn, {"objectClass": ["organizationalUnit"], "ou": [names.first_value(dn)]})
    for dn, change, _ in result.changes:
        if "idmNameZh" in change:
            change = {**change, "description": change["idmNameZh"]}
        session.replace(dn, change)


def subtree(session: Session, code: str | None, depth: int | None) -> list[tuple[int, Node]]:
    """Nodes under `code` (or the whole tree) in tree order, with their depth."""
    if code is not None:
        top = find(session, code)
        nodes = all_nodes(session, top.dn)
        base_depth = top.dn.count(",")
    else:
        nodes = all_nodes(session)
        base_depth = min((n.dn.count(",") for n in nodes), default=0)
    children: dict[str, list[Node]] = {}
    for node in nodes:
        children.setdefault(node.parent_dn.lower(), []).append(node)
    roots = [n for n in nodes if n.dn.count(",") == base_depth]
    out: list[tuple[int, Node]] = []

    def walk(node: Node, level: int) -> None:
        out.append((level, node))
        if depth is not None and level >= depth:
            return
        for child in sorted(children.get(node.dn.lower(), []), key=lambda n: n.code):
            walk(child, level + 1)

    for root in sorted(roots, key=lambda n: n.code):
        walk(root, 0)
    return out


def unit_and_children(session: Session, node_dn: str) -> list[Node]:
    """A unit and the units directly under it (the choices of a console's unit filter), kept
    until the directory changes (`fresh`): every list page shows them."""
    return fresh.LISTS.get(session, session.suffix, ("units", node_dn.lower()),
                           lambda: [find(session, names.first_value(node_dn)), *children(session, node_dn)])


def children(session: Session, parent_dn: str) -> list[Node]:
    """The units directly under a unit, by code."""
    try:
        found = session.search(parent_dn, "(objectClass=idmOrgUnit)", ORG_ATTRS, scope=ldap.SCOPE_ONELEVEL)
        return sorted((_node(dn, a) for dn, a in found), key=lambda n: n.code)
    except NotFound:
        return []


@dataclass(frozen=True)
class NodeDetails:
    node: Node
    parent: Node | None
    children: int
    admins: int
    people: int


def show(session: Session, code: str) -> NodeDetails:
    node = find(session, code)
    parent_entry = session.get(node.parent_dn, ORG_ATTRS)
    parent = _node(*parent_entry) if parent_entry and parent_entry[1].get("idmCode") else None

    def count(base: str, flt: str, scope: int = ldap.SCOPE_ONELEVEL) -> int:
        try:
            return sum(1 for _ in session.search(base, flt, ["1.1"], scope=scope))
        except NotFound:
            return 0

    return NodeDetails(
        node=node,
        parent=parent,
        children=count(node.dn, "(objectClass=idmOrgUnit)"),
        admins=count(names.child_dn("ou", "admins", node.dn), "(objectClass=idmAdminAccount)"),
        people=count(names.child_dn("ou", "people", node.dn), "(objectClass=idmBusinessAccount)"),
    )

