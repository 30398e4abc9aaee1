"""Who may do what: one table, from which the slapd access rules, `docs/permissions.md` and the
Python layer's pre-checks are all derived (ARCHITECTURE principles 1 and 5).

The rules are positional: an admin account at `uid=..,ou=admins,<node>` acts for `<node>`, in
the role held in its `idmAdminRole`, while its `idmStatus` is `active`. Relations are read off
the target's DN with one regular expression per kind of target, so the number of rules is fixed
and does not grow with the tree.

One way in for writes: every write an admin makes reaches slapd through a toolkit identity that
acts as the admin by proxied authorization, and the rule requires that identity (`realdn`). The
writer (`idm-writer`) carries every write that rests on a form; the password service
(`idm-selfservice`) carries every password write, the owner's own change and an admin's reset
alike. An admin's own bind (a raw `ldapmodify` with its own password) reads what its duty needs
and writes nothing.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from idm.rules import accounts, loader, records, transfers, units
from idm.rules.terms import TARGETS, Rule, Table


def _declared() -> tuple[Rule, ...]:
    """Every rule, in the order the generated clauses have always listed them."""
    table = Table()
    for declare in (units.lookup_and_downstream, units.services, accounts.business, accounts.admins,
                    transfers.transfers, records.forms, records.certs, units.nodes, records.reviews,
                    loader.loader):
        declare(table.add)
    return tuple(table.rules)


RULES: tuple[Rule, ...] = _declared()

@dataclass(frozen=True)
class Need:
    """What a kind of action needs of the table, and how a refusal names it."""

    kinds: tuple[str, ...]  # kinds of target
    group: str  # attribute group
    access: str  # access level
    zh: str
    en: str


# The permission rows the toolkit checks before acting (and the matrix tests), each once.
OPERATIONS: dict[str, Need] = {
    "create_person": Need(("people",), "children", "add", "创建业务用户", "create business users"),
    "create_admin": Need(("admins",), "children", "add", "创建管理员账号", "create admin accounts"),
    "set_role": Need(("admin",), "role", "write", "设置管理员角色", "set admin roles"),
    "grant": Need(("person",), "grants", "write", "授权", "grant access"),
    "change_status": Need(("person", "admin"), "status", "write", "停用/恢复/解锁",
                          "disable, restore or unlock"),
    "reset_password": Need(("person", "admin"), "password", "write", "重置密码", "reset passwords"),
    "change_info": Need(("person", "admin"), "names", "write", "变更信息", "change account information"),
    "read_private": Need(("person", "admin"), "idnumber", "read", "查看身份证号与联系方式",
                         "read ID numbers and contact data"),
    "release": Need(("person", "admin"), "transfer", "write", "调出", "release to another unit"),
    "transfer_in": Need(("people", "admins"), "children", "add", "调入", "accept a transfer"),
    "delegate": Need(("node",), "delegation", "write", "委托管理", "delegate management"),
    "delete": Need(("person", "admin", "node", "people", "admins", "form"), "entry", "delete", "删除",
                   "delete"),
    "record_form": Need(("forms",), "children", "add", "登记申请单", "record forms"),
    "act_on_form": Need(("form",), "recordstate", "write", "办理申请单", "act on forms"),
    "reset_factor": Need(("person", "admin"), "otpsecret", "delete", "重置动态验证码",
                         "reset a second factor"),
    "apply_cert": Need(("certs",), "children", "add", "申请证书", "apply for certificates"),
    "create_service": Need(("services",), "children", "add", "创建下游系统服务账号",
                           "create downstream service accounts"),
    "change_service": Need(("service",), "status", "write", "停用或恢复下游系统服务账号",
                           "disable or restore downstream service accounts"),
    "revoke_cert": Need(("cert",), "recordstate", "write", "吊销证书", "revoke certificates"),
    "confirm_first_login": Need(("admin",), "confirm", "write", "首次登录核对",
                                "confirm the first-login check"),
    "open_review": Need(("reviews",), "children", "add", "发起定期核查", "open an access review"),
    "decide_review": Need(("review",), "record", "write", "核查决定", "decide in an access review"),
    "countersign_review": Need(("review",), "recordstate", "write", "会签核查",
                               "countersign an access review"),
}
_LEVELS = {"none": 0, "disclose": 1, "auth": 2, "compare": 3, "search": 4, "read": 5, "add": 6,
           "delete": 7, "write": 8, "=wx": 8, "manage": 9}


def _grants(access: str, need: str) -> bool:
    if access.startswith("="):
        letters = {"read": "r", "add": "a", "write": "w", "delete": "z"}
        return letters.get(need, "?") in access or (need in ("add", "delete") and "w" in access)
    if need == "delete":  # the "add" level grants =a only; "write" grants =az
        return access in ("write", "manage")
    return _LEVELS[access] >= _LEVELS[need]


def target_kind(dn: str) -> tuple[str, str, str] | None:
    """(kind, node DN, parent DN) of a normalised DN, as the access rules see it."""
    for kind, regex in TARGETS.items():
        match = re.match(regex, dn)
        if match:
            return kind, match.group(1), match.group(2)
    return None


def allowed(role: str | None, relations: set[str], kind: str, operation: str) -> bool:
    """Does the table let an admin holding `role`, related to the target by `relations`, do
    `operation` on a target of `kind` (through the toolkit)? A rule that depends on the target's
    state (`when`) counts here; the domain checks that state itself, with its own words, and
    slapd checks it again."""
    row = OPERATIONS[operation]
    kinds, group, need = row.kinds, row.group, row.access
    if kind not in kinds:
        return False
    for rule in RULES:
        if rule.target != kind or rule.group != group or rule.value is not None:
            continue
        if rule.who == "self" and "self" in relations and _grants(rule.access, need):
            return True
        if rule.who == role and rule.relation in relations and _grants(rule.access, need):
            return True
    return False


def duty(role: str | None, operation: str) -> bool:
    """Is `operation` a duty of `role` anywhere (own level, next level, a delegated school)?"""
    relations = {"own", "parent", "delegated"}
    return any(allowed(role, relations, kind, operation) for kind in OPERATIONS[operation].kinds)
