"""The acting admin: who is bound, in which role, for which node; and the Python pre-check of
the permission table, which gives a clear refusal before slapd would give a terse one."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

import ldap.dn

from idm.directory import names
from idm.directory.session import Session
from idm.errors import NotFound, PermissionDenied
from idm.rules import permissions, terms
from idm.validation import ADMIN_ROLE_ZH


def normal(dn: str) -> str:
    """A DN in the form the access rules match: canonical spacing, lower case."""
    return str(ldap.dn.dn2str(ldap.dn.str2dn(dn))).lower()


def now() -> str:
    return datetime.now(UTC).strftime("%Y%m%d%H%M%SZ")


@dataclass(frozen=True)
class Actor:
    dn: str
    uid: str
    role: str | None
    node_dn: str
    active: bool

    @property
    def role_zh(self) -> str:
        return ADMIN_ROLE_ZH.get(self.role or "", "无角色")


def load(session: Session) -> Actor:
    """The admin bound on `session`, read from its own entry."""
    dn = session.acting_dn or session.whoami()  # acting for someone: that DN, no round trip
    entry = session.get(dn, ["uid", "idmAdminRole", "idmStatus", "objectClass"])
    if entry is None or "idmAdminAccount" not in entry[1].get("objectClass", []):
        raise PermissionDenied("当前账号不是管理员账号", f"{dn} is not an admin account")
    attrs = entry[1]
    node = names.parent_of(names.parent_of(dn))
    return Actor(
        dn=dn,
        uid=attrs["uid"][0],
        role=attrs["idmAdminRole"][0] if attrs.get("idmAdminRole") else None,
        node_dn=node,
        active=(attrs.get("idmStatus") or [""])[0] == "active",
    )


def relations(session: Session, actor: Actor, target_dn: str) -> tuple[str, set[str]]:
    """Kind of target and the actor's relations to it, as the access rules compute them."""
    target = normal(target_dn)
    found = permissions.target_kind(target)
    if found is None:
        raise NotFound(f"不是可管理的条目：{target_dn}", f"not a manageable entry: {target_dn}")
    kind, node, parent = found
    mine = normal(actor.node_dn)
    rel: set[str] = set()
    if target == normal(actor.dn):
        rel.add("self")
    if node == mine:
        rel.add("own")
    if parent == mine:
        rel.add("parent")
        entry = session.get(node, ["idmManagedBy"])
        if entry and entry[1].get("idmManagedBy"):
            rel.add("delegated")
    return kind, rel


def may(session: Session, actor: Actor, operation: str, target_dn: str) -> bool:
    kind, rel = relations(session, actor, target_dn)
    return actor.active and permissions.allowed(actor.role, rel, kind, operation)


def require(session: Session, actor: Actor, operation: str, target_dn: str) -> None:
    """Refuse, with the reason, what the permission table does not allow."""
    kind, rel = relations(session, actor, target_dn)
    if actor.active and permissions.allowed(actor.role, rel, kind, operation):
        return
    op_zh, op_en = permissions.OPERATIONS[operation].zh, permissions.OPERATIONS[operation].en
    if not actor.active:
        raise PermissionDenied(f"您的账号已停用，不能{op_zh}", f"your account is disabled: cannot {op_en}")
    others = [r for r in terms.ROLES if permissions.allowed(r, rel, kind, operation)]
    if others:
        names_zh = "、".join(ADMIN_ROLE_ZH[r] for r in others)
        raise PermissionDenied(
            f"{actor.role_zh}（{actor.uid}）不能{op_zh}：这是{names_zh}的职责（三员分立）",
            f"{actor.role or 'an admin without a role'} {actor.uid} may not {op_en}: that is the "
            f"{' or '.join(others)}'s duty (separation of duties)",
        )
    raise PermissionDenied(
        f"{actor.role_zh}（{actor.uid}）无权对 {target_dn} {op_zh}：只能管理本级，"
        "以及下一级的管理员账号",
        f"{actor.role or 'an admin without a role'} {actor.uid} may not {op_en} on {target_dn}: "
        "admins act on their own level and on the next level's admin accounts only",
    )
