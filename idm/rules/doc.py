"""Render the permission table as `docs/permissions.md`: `python -m idm.rules.doc`.

A test checks that the committed file equals this rendering, so the document cannot drift
from the rules slapd runs.
"""

from __future__ import annotations

from idm import operations
from idm.filing.kinds import KINDS
from idm.rules import acl
from idm.rules.permissions import OPERATIONS, RULES
from idm.rules.terms import GROUPS, TARGETS

WHO_ZH = {"sysadmin": "系统管理员", "secadmin": "安全管理员", "auditor": "安全审计员",
          "self": "本人", "users": "任何已登录者", "anonymous": "匿名（仅用于登录）",
          "downstream": "下游系统服务账号", "idm-webui": "Web 服务账号（查找账号）",
          "targeted": "记录所涉账号"}
RELATION_EN = {"own": "of the target's node", "parent": "of the parent node",
               "delegated": "of the parent node, school delegated to it (R2)",
               "scope": "whose idmScope is above the target", "service": "", "-": "",
               "receiving": "of the unit the target is released to (调入)",
               "receiving-delegated": "managing the unit the target is released to (R2, 调入)",
               "receiving-parent": "of the parent of the unit the target is released to (调入)",
               "anywhere": "of any node"}


def render() -> str:
    lines = [
        "# Permissions",
        "",
        "Generated from `idm/rules/` (the rules per kind of target, gathered in `permissions.py`) by",
        "`python -m idm.rules.doc`; do not edit by hand.",
        "The same table produces slapd's `olcAccess` rules (`idm/rules/acl.py`) and the Python layer's",
        "pre-checks; `tests/test_permissions_matrix.py` checks the result against the rules R4-R7,",
        "written out by hand, through the toolkit and through raw binds.",
        "",
        "An admin account `uid=…,ou=admins,<node>` acts for `<node>`, in the role of its",
        "`idmAdminRole`, while its `idmStatus` is `active`. Nobody deletes any entry: slapd refuses",
        "every delete (`olcRestrict: delete`), whoever asks. A transfer (调动) is a modrdn, allowed",
        "only on an active entry released (`idmReleasedTo`) to the mover's unit (`idm/rules/transfers.py`).",
        "",
        "## What downstream systems see",
        "",
        "A downstream system's service account (`cn=…,ou=services,<node>`, or one the operator",
        "scoped with `idmScope` at `ou=system`) finds exactly this, and nothing else:",
        "",
        "- the **usable** business users in its scope: `idmStatus=active`, not under a disable's",
        "  lock, and not waiting for their owner to choose a password (`pwdReset`). A new account's",
        "  first password and every admin reset are one-time passwords the admin knows and the",
        "  hand-over slip prints; until the owner has changed it at first sign-in, no service finds",
        "  the account, whatever the client does with ppolicy's \"must change\" response. Of them it",
        "  reads the login, names, status, grants and certificate: no ID number, no contact data;",
        "- its own entry, the suffix entry, and the app catalogue (`ou=apps`: what an `app#role`",
        "  grant means);",
        "- **not** the org tree, the role groups, any form (not its own registration form), any",
        "  certificate record or review. The org tree is public to the toolkit's accounts and",
        "  admins; a downstream system has a user's unit in the user's DN, and needs no more.",
        "",
        "The same holds on a downstream replica (`idm cluster`, role `downstream`), where these",
        "are the only rules.",
        "",
        "## Kinds of target",
        "",
        "| kind | DN pattern ($1 = its node, $2 = the node's parent) |",
        "| --- | --- |",
        *(f"| {kind} | `{regex}` |" for kind, regex in TARGETS.items()),
        "",
        "## Attribute groups",
        "",
        "| group | attributes |",
        "| --- | --- |",
        *(f"| {g} | {', '.join(f'`{a}`' for a in attrs) or 'everything else'} |"
          for g, attrs in GROUPS.items()),
        "",
        "## The table",
        "",
        "| who | relation | target | group | access | when | why |",
        "| --- | --- | --- | --- | --- | --- | --- |",
    ]
    for r in RULES:
        who = f"{WHO_ZH.get(r.who, r.who)} ({r.who})"
        rel = f"{r.relation} {RELATION_EN.get(r.relation, '')}".strip()
        lines.append(f"| {who} | {rel} | {r.target} | {r.group} | `{r.access}` | "
                     f"{f'`{r.when}`' if r.when else ''} | {r.why} |")
    lines += [
        "",
        "## Admin operations",
        "",
        "Declared once in `idm/operations.py`; each runs through `idm.pipeline` (sign-in state, the",
        "form, this pre-check, the write as the admin through the writer, the step on the form).",
        "",
        "| operation | command | rests on | change type | acts on | account state | permission row |",
        "| --- | --- | --- | --- | --- | --- | --- |",
        *(f"| {op.name} ({op.zh}) | {', '.join(f'`idm {c}`' for c in op.cli)} | {KINDS[op.form_kind].zh} "
          f"({op.form_kind}) | {op.change_type or ''} | {op.on} | {op.state or ''} | {op.permission} |"
          for op in operations.ALL),
        "",
        "## Permission rows",
        "",
        "| row | target kinds | group | needs |",
        "| --- | --- | --- | --- |",
        *(f"| {op} ({row.zh}) | {', '.join(row.kinds)} | {row.group} | {row.access} |"
          for op, row in OPERATIONS.items()),
        "",
        f"## The generated rules ({len(acl.main_acl('dc=edu,dc=cn'))} clauses, "
        "whatever the size of the tree)",
        "",
        "```",
        *acl.main_acl("dc=edu,dc=cn"),
        "```",
        "",
    ]
    return "\n".join(lines)


if __name__ == "__main__":
    print(render(), end="")
