"""The administrative tree (R1, R2): org nodes named by official code, with their containers.

Units are written by the bulk engine (`idm org import`, `idm load`: `idm.bulk`), which checks a
file against these rules before anything is written; here they are read.
"""

from __future__ import annotations

from dataclasses import dataclass

import ldap

from idm.directory import fresh, names
from idm.directory.session import Session
from idm.errors import IdmError, NotFound
from idm.validation import REGION_LEVELS

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


def name_of(session: Session, value: str) -> str:
    """A unit's Chinese name from its code, or from the DN of the unit or of anything in it;
    the value itself where none can be read (a name must never fail a page)."""
    try:
        if "=" not in value:
            return find(session, value).name
        entry = session.get(unit_of(value), ["idmNameZh"])
    except IdmError:
        return value
    return (entry[1].get("idmNameZh") or [value])[0] if entry else value


def unit_of(dn: str) -> str:
    """The org unit a DN belongs to (an account's or a record's node, or the unit itself)."""
    parts = dn.split(",")
    for i, part in enumerate(parts):
        if part.lower().startswith("ou=") and part[3:].isdigit():
            return ",".join(parts[i:])
    return dn


def code_fits(code: str, level: str, parent_code: str | None) -> tuple[str, str] | None:
    """GB/T 2260 nesting: a city shares its province's first 2 digits, a county its city's 4.
    None when the code fits; otherwise what is wrong, in Chinese and English."""
    if level not in REGION_LEVELS:
        return None if len(code) == 10 else ("学校标识码应为 10 位", "a school code has 10 digits")
    if len(code) != 6:
        return ("行政区划代码应为 6 位", "a division code has 6 digits")
    if level == "province" and not code.endswith("0000"):
        return ("省级代码应以 0000 结尾", "a province code ends in 0000")
    if level == "city":
        if not code.endswith("00") or code.endswith("0000"):
            return ("地市级代码应以 00 结尾（且不是 0000）", "a city code ends in 00 (not 0000)")
        if parent_code is not None and code[:2] != parent_code[:2]:
            return ("地市级代码前 2 位应与上级相同", "a city code starts with its province's 2 digits")
    if level == "county":
        if code.endswith("00"):
            return ("区县级代码不应以 00 结尾", "a county code does not end in 00")
        if parent_code is not None and code[:4] != parent_code[:4]:
            return ("区县级代码前 4 位应与上级相同", "a county code starts with its city's 4 digits")
    return None


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
        found = session.search(parent_dn, "(objectClass=idmOrgUnit)", ORG_ATTRS, scope=ldap.SCOPE_ONELEVEL,
                               small=True)
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

