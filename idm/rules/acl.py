"""The directory's access rules, generated as `olcAccess` values from `idm.permissions`.

The rules are the guard (ARCHITECTURE principle 1): the Python layer checks the same table
first only to give clearer errors. The number of clauses is fixed by the table: it never grows
with the number of org units.
"""

from __future__ import annotations

from idm.directory.names import replicator_dn, service_dn
from idm.rules.patterns import posix_escape, to_regex, uncaptured
from idm.rules.permissions import RULES
from idm.rules.terms import (
    GROUPS,
    LOADER,
    LOOKUP_SERVICE,
    ROLES,
    SCOPE_IS_NODE,
    TARGETS,
    VIA,
    Rule,
    read_part,
)

ACCOUNT_REGEX = r"^uid=[^,]+,ou=(people|admins),ou=[0-9]+,.+$"
# A role counts only on an admin account in the place admin accounts are kept: an entry that
# merely carries `idmAdminRole` elsewhere (were one ever added) holds no authority.
ADMIN_REGEX = r"^uid=[^,]+,ou=admins,ou=[0-9]+,.+$"
# A downstream system's service account kept at a level (ou=services of its node).
SERVICE_REGEX = r"^cn=[^,]+,ou=services,ou=[0-9]+,.+$"
# The receiving relations as sets: the asking admin's node (user/-2) is the unit the entry is
# released to, the unit's manager (delegated) or its parent (an admin account's next level up).
RECEIVING = {"receiving": "this/idmReleasedTo & user/-2",
             "receiving-delegated": "this/idmReleasedTo/idmManagedBy & user/-2",
             "receiving-parent": "this/idmReleasedTo/-1 & user/-2"}


def role_set(role: str) -> str:
    """Non-empty (true) when the bound admin holds `role` and is active: `+` concatenates, so
    the result is empty as soon as either side is. Kept for the few clauses that must combine
    the role with a value of the target; elsewhere `role_group` is used."""
    return f"(user/idmAdminRole & [{role}]) + (user/idmStatus & [active])"


SCOPED = "scoped-services"


def role_group_dn(role: str, suffix: str) -> str:
    return f"cn={role},ou=roles,ou=system,{suffix}"


def role_group(role: str, suffix: str) -> str:
    """True when the bound admin holds `role` and is active: membership of a dynamic group
    (`groupOfURLs`) whose URL filter is exactly that. slapd caches a group test per operation,
    where a set is evaluated again for every attribute it guards; that set was most of what the
    rules cost a search (docs/performance.md)."""
    return f'group/groupOfURLs/memberURL="{role_group_dn(role, suffix)}"'


def role_groups(suffix: str) -> list[tuple[str, dict[str, list[bytes]]]]:
    """The three role groups and the scoped downstream services (fixed: they do not grow with
    the tree)."""
    out: list[tuple[str, dict[str, list[bytes]]]] = [
        (f"ou=roles,ou=system,{suffix}", {"objectClass": [b"organizationalUnit"], "ou": [b"roles"]})]
    urls = {role: f"ldap:///{suffix}??sub?(&(objectClass=idmAdminAccount)(idmAdminRole={role})"
                  "(idmStatus=active))" for role in ROLES}
    # downstream service accounts scoped by idmScope (kept at ou=system, beside the toolkit's)
    urls[SCOPED] = f"ldap:///ou=system,{suffix}??one?(&(objectClass=idmServiceAccount)(idmScope=*))"
    for name, url in urls.items():
        out.append((role_group_dn(name, suffix), {"objectClass": [b"groupOfURLs"], "cn": [name.encode()],
                                                  "memberURL": [url.encode()]}))
    return out


def who(rule: Rule, suffix: str) -> str:
    """The `by` condition of a rule, without the toolkit identity it may require (`via`)."""
    if rule.who in ("self", "users", "anonymous"):
        return rule.who
    if rule.who == "targeted":  # the account the record names is the one asking, wherever it is now
        # accounts only: a service account named by its own registration form reads no form
        return f'dn.regex="{ACCOUNT_REGEX}" set="this/idmRecordSubject & user/entryUUID"'
    if rule.relation == "service":
        return f'dn.exact="{service_dn(rule.who, suffix)}"'
    # The DN conditions come first: slapd evaluates a clause's conditions in order, so for
    # everyone who is not a service account the (costly) set is never evaluated.
    if rule.relation == "position":  # a service account at ou=services,N, reading under N
        return (f'dn.regex="{SERVICE_REGEX}" '
                'set="(this/-* & user/-2) + (user/objectClass & [idmServiceAccount]) + '
                '(user/idmStatus & [active])"')
    if rule.relation == "scope":  # a service account whose idmScope is an ancestor of the target
        # the group (cached per operation) turns away the toolkit's own accounts, which share
        # ou=system, before the set would read their entry for every attribute
        return (f'dn.onelevel="ou=system,{suffix}" '
                f'group/groupOfURLs/memberURL="{role_group_dn(SCOPED, suffix)}" '
                'set="this/-* & user/idmScope"')
    role = role_group(rule.who, suffix)
    if rule.value == SCOPE_IS_NODE:  # the written value must be the target's own node ($1)
        role = f'set.expand="[${{v1}}] & [$1]" {role}'
    if rule.relation in RECEIVING:  # 调入: the unit the entry is released to is the asker's
        return f'dn.regex="{ADMIN_REGEX}" set="{RECEIVING[rule.relation]}" {role}'
    if rule.relation == "anywhere":
        return f'dn.regex="{ADMIN_REGEX}" {role}'
    if rule.relation == "own":
        return f'dn.onelevel,expand="ou=admins,$1" {role}'
    if rule.relation == "parent":
        return f'dn.onelevel,expand="ou=admins,$2" {role}'
    if rule.relation == "delegated":
        return f'dn.onelevel,expand="ou=admins,$2" set.expand="[$1]/idmManagedBy" {role}'
    raise ValueError(f"unknown relation {rule.relation}")



def _with_via(condition: str, rule: Rule, suffix: str) -> str:
    """Insert `realdn.exact=<toolkit identity>` after the DN condition (cheap checks first)."""
    real = f'realdn.exact="{service_dn(VIA[rule.via], suffix)}"' if rule.via else ""
    if not real:
        return condition
    head, sep, tail = condition.partition(" ")
    return f"{head} {real}{sep}{tail}"


def by_clauses(rules: list[Rule], suffix: str) -> str:
    """Rules as `by` clauses, in an order where none hides another: first the toolkit's own
    accounts acting as themselves (one exact DN each: the cheapest test, and the loader's bulk
    writes then skip every admin clause's DN expansion), then the writes through a toolkit
    identity (they match only that identity, acting for someone), then the other plain rules
    (those for anyone bound after those that name someone), and last, for an admin's own bind,
    only the reading part of those writes."""
    services = [r for r in rules if r.relation == "service"]
    through = [r for r in rules if r.via]
    out = [f"by {who(r, suffix)} {r.access}" for r in services]
    out += [f"by {_with_via(who(r, suffix), r, suffix)} {r.access}" for r in through]
    # anyone bound ("users") comes after the rules that name someone: it would hide them
    plain = sorted((r for r in rules if not r.via and r.relation != "service"),
                   key=lambda r: r.who in ("users", "anonymous"))
    out += [f"by {who(r, suffix)} {r.access}" for r in plain]
    for r in through:
        reading = read_part(r.access)
        if reading:
            out.append(f"by {who(r, suffix)} {reading}")
    return " ".join(out)


def _value_selector(group: str, value: str, suffix: str) -> str:
    attr = GROUPS[group][0]
    if value == SCOPE_IS_NODE:
        return f'attrs={attr} val.regex="^(.+)$"'
    if group == "objectclass":
        return f"attrs={attr} val={value}"
    if group == "policy":
        return f'attrs={attr} val.base="{value},{suffix}"'
    return f'attrs={attr} val.regex="{value}"'


MAX_DEPTH = 6  # levels of the tree under the suffix (ministry, province, city, county, school, +1)


def downstream_by_position(suffix: str) -> list[str]:
    """Downstream systems' service accounts at `ou=services,<N>` read the usable users at and
    below N: one clause per depth of the tree, whose nested groups are the user's node and each
    of its ancestors, compared with the service's DN as DNs (`dn.onelevel,expand`: no set, and
    no regular expression compiled at run time), so a downstream search stays cheap."""
    rules = [r for r in RULES if r.relation == "position"]
    attrs = ",".join(a for r in rules for a in GROUPS[r.group])
    (when,) = {r.when for r in rules}  # one filter, one kind of target: all in one clause
    assert {r.target for r in rules} == {"person"}
    out = []
    for depth in range(1, MAX_DEPTH + 1):
        nested = f"({posix_escape(suffix)})"
        for _ in range(depth):
            nested = f"(ou=[0-9]+,{nested})"
        bys = " ".join(f'by dn.onelevel,expand="ou=services,${k}" read' for k in range(1, depth + 1))
        out.append(f'to dn.regex="^uid=[^,]+,ou=people,{nested}$" filter={when} attrs={attrs} {bys} '
                   "by * break")
    return out


# The kinds of account (those a load adds), by the class every entry of that kind carries and no
# other kind may (each kind's objectClass rules admit only its own class, and only at its place).
LOADED_CLASSES = {"person": "idmBusinessAccount", "admin": "idmAdminAccount"}
POSITIONAL = ("entry", "children", "objectclass", "rest")


def loader_shortcuts(suffix: str) -> list[str]:
    """The loader's plain attribute rules on accounts, once more, ahead of every admin clause.
    A bulk add is checked attribute by attribute, and each check walked the twenty to forty
    account clauses before it, each a regular expression run on the entry's DN: two fifths of
    the loader's write rate. Here a check finds the loader's access within a few clauses, and
    costs anyone else a suffix comparison (and, for these attributes only, an objectClass test)
    before `break` sends them on as if the clause were not there.
    Only groups where the loader has exactly one rule, with no condition and no value, are
    taken, so its access is the one the later clauses would give; where an entry may be added
    and of which class (entry, children, objectClass) is still decided by the positional
    clauses, so a class names exactly the accounts those places hold."""
    loader = f'dn.exact="{service_dn(LOADER, suffix)}"'
    out = []
    for target, account_class in LOADED_CLASSES.items():
        by_access: dict[str, list[str]] = {}
        for group, attrs in GROUPS.items():
            mine = [r for r in RULES if r.who == LOADER and r.target == target and r.group == group]
            if group in POSITIONAL or len(mine) != 1 or mine[0].when or mine[0].value:
                continue
            by_access.setdefault(mine[0].access, []).extend(attrs)
        for access, names in by_access.items():
            out.append(f'to dn.subtree="{suffix}" attrs={",".join(names)} '
                       f"filter=(objectClass={account_class}) by {loader} {access} by * break")
    return out


def kind_guards() -> list[str]:
    """An account lives in its kind's container only: a business user under `ou=people`, an
    admin account under `ou=admins`. An add is checked against the entry's own class, but a move
    (modrdn) is checked by the container's `children` and by the entry's naming attribute at its
    new place; a system admin who may add admins at the next level and accepts a user released
    to a unit there would otherwise move the user into that unit's `ou=admins`. Nobody writes or
    reads the login of an entry of another kind in a container (none is ever made)."""
    return [f'to dn.regex="{uncaptured(TARGETS[target])}" attrs=uid filter=(!(objectClass={account_class})) '
            "by * none" for target, account_class in LOADED_CLASSES.items()]


# The order of a target's clauses. slapd runs a clause's DN regex (with its captures, about 9 µs
# in glibc) before it looks at the clause's attributes, so every check of an attribute walks the
# target's clauses ahead of the one that names it: a form list's check of `createTimestamp`
# walked all thirteen of a form's clauses to `rest`, twice per form. Groups that searches filter
# on and lists read therefore come first, and the operational attributes lists sort or link by
# get a copy of `rest`'s clauses of their own there. Each attribute is in one group only, so
# this order changes nobody's access; `rest` itself (what no group names) stays last.
HOT_GROUPS = ("entry", "objectclass", "hot", "status", "naming", "recordkind", "recordstate", "names")
HOT_REST = ("createTimestamp", "modifyTimestamp", "entryUUID")


def _group_order() -> list[str]:
    return [*HOT_GROUPS, *(g for g in GROUPS if g not in HOT_GROUPS and g != "rest"), "rest"]


def _group_clauses(target: str, regex: str, group: str, suffix: str) -> list[str]:
    """One target's clauses for one attribute group (`hot`: `rest`'s, for HOT_REST only)."""
    attrs = HOT_REST if group == "hot" else GROUPS[group]
    rules = [r for r in RULES if r.target == target and r.group == ("rest" if group == "hot" else group)
             and r.relation != "position"]
    attr_part = f" attrs={','.join(attrs)}" if attrs else ""
    out = []
    for when in sorted({r.when for r in rules if r.when}):
        bys = by_clauses([r for r in rules if r.when == when], suffix)
        out.append(f'{to_regex(regex, bys)} filter={when}{attr_part} {bys} by * break')
    plain = [r for r in rules if r.when is None and r.value is None]
    for value in sorted({r.value for r in rules if r.value}):
        bys = by_clauses([*(r for r in rules if r.value == value), *plain], suffix)
        out.append(f'{to_regex(regex, bys)} {_value_selector(group, value, suffix)} {bys} by * none')
    if plain:
        bys = by_clauses(plain, suffix)
        out.append(f'{to_regex(regex, bys)}{attr_part} {bys} by * none')
    return out


def generated_rules(suffix: str) -> list[str]:
    """One `to` clause per (kind of target, attribute group) that the table mentions, preceded
    by one per filter that some rule of that group depends on (those end in `break`, so whoever
    they do not name falls through to the unconditional clause), and by one per value that some
    rule restricts its writes to (each also carries the group's readers); groups in
    `_group_order`."""
    return [clause for target, regex in TARGETS.items() for group in _group_order()
            for clause in _group_clauses(target, regex, group, suffix)]


def ops_clause(ops_dn: str) -> str:
    """The local operating-system account (SASL EXTERNAL over ldapi) may do anything. In the
    embedded server it is the main database's rootDN instead, so no rule is spent on it: a
    `to *` clause first in the list is evaluated for every attribute of every entry read."""
    return f'to * by dn.exact="{ops_dn}" manage by * break'


# --- replication (idm cluster) -------------------------------------------------------------
# Password-policy state a consumer forwards to a provider (ppolicy_forward_updates and lastbind
# through the chain overlay), so that a lockout on one node holds on all of them.
FORWARDED_STATE = ("pwdFailureTime", "pwdAccountLockedTime", "pwdGraceUseTime", "authTimestamp")


def replication_clauses(suffix: str) -> list[str]:
    """The replication identity reads everything (a consumer's full refresh needs the hashes
    too) and manages the forwarded policy state; it writes nothing else. Only a node's
    certificate leads to it, so on a single server these clauses match nobody."""
    who = f'dn.exact="{replicator_dn(suffix)}"'
    return [f'to dn.subtree="{suffix}" attrs={",".join(FORWARDED_STATE)} by {who} manage by * break',
            f"to * by {who} read by * break"]
# ----------------------------------------------------------------------------------------------


def main_acl(suffix: str) -> list[str]:
    """Access rules of the main database."""
    system = f"ou=system,{suffix}"
    return [
        *replication_clauses(suffix),
        # the loader adds the top units (provinces, the ministry) under the suffix
        f'to dn.base="{suffix}" attrs=children by dn.exact="{service_dn(LOADER, suffix)}" add '
        'by users read by * none',
        f'to dn.base="{suffix}" by users read by * none',
        f'to dn.subtree="{system}" attrs=userPassword by anonymous auth by * none',
        # auditors see the seal status of the write log (when it was last sealed)
        f'to dn.subtree="ou=seals,{system}" by {auditor_anywhere(suffix)} read by * none',
        # the role groups: the toolkit's accounts and admins read them (the rules' own group
        # tests run as slapd and need no read); downstream systems have no use for them
        f'to dn.subtree="ou=roles,{system}" {downstream_none(suffix)} by users read by * none',
        f'to dn.subtree="{system}" by self read by * none',
        f'to dn.subtree="ou=apps,{suffix}" by users read by * none',
        # enrolling a second factor adds this one auxiliary class, and no other
        *(f'to dn.regex="{uncaptured(TARGETS[target])}" attrs=objectClass val=oathTOTPToken '
          f'by dn.exact="{service_dn(LOOKUP_SERVICE, suffix)}" =rscxda by * break'
          for target in LOADED_CLASSES),
        *kind_guards(),
        *downstream_by_position(suffix),
        *loader_shortcuts(suffix),
        # the org tree is public within the toolkit, but not to downstream systems: they
        # authenticate and authorise users, whose unit is in their DN (docs/permissions.md)
        # ... though a unit (or its ou=people) may be a search's base: slapd asks `search` on the
        # base entry, which discloses that the unit exists and nothing of it
        *(f'to dn.regex="{regex}" attrs=entry {downstream_none(suffix, "search")} by * break'
          for regex in (NODE_REGEX, f"^ou=people,{NODE_REGEX[1:]}")),
        f'to dn.regex="{NODE_REGEX}" {downstream_none(suffix)} by * break',
        *generated_rules(suffix),
        "to * by * none",
    ]


NODE_REGEX = r"^ou=[0-9]+,.+$"


def downstream_none(suffix: str, access: str = "none") -> str:
    """`by` clauses that give downstream systems' service accounts (of a level, or scoped at
    ou=system) nothing (or `access`), ahead of the rules for anyone bound."""
    return (f'by dn.regex="{SERVICE_REGEX}" {access} '
            f'by dn.onelevel="ou=system,{suffix}" '
            f'group/groupOfURLs/memberURL="{role_group_dn(SCOPED, suffix)}" {access}')


def auditor_anywhere(suffix: str) -> str:
    return f'dn.regex="{ADMIN_REGEX}" {role_group("auditor", suffix)}'


# Logged values nobody reads in the log but the local operator: hashes, secrets and every
# private attribute (R17), whichever entry they were written to (accounts and form records).
HIDDEN_IN_LOG = ("userPassword", "pwdHistory", *GROUPS["idnumber"], *GROUPS["private"], "idmAttachment",
                 "oathSecret", "userCertificate")


def log_acl(ops_dn: str, suffix: str) -> list[str]:
    """Access rules of cn=accesslog: nobody but slapd writes it; a level's auditor reads the
    records of the writes made by that level's admins (the actor's node is the auditor's), and
    the sign-in events the web UI's lookup account recorded on those admins' entries."""
    auditor = role_group("auditor", suffix)
    same_level = "this/reqAuthzID/-1 & user/-1"  # actor in ou=admins of the node
    about_level = "this/reqDN/-1 & user/-1"  # target in ou=admins of the node
    hidden = "|".join(HIDDEN_IN_LOG)
    lookup = service_dn(LOOKUP_SERVICE, suffix)
    return [
        # the local operator, which is also the main database's rootDN: delta-syncrepl resolves
        # a conflicting change by reading the log as that rootDN (refused, the older change wins)
        f'to * by dn.exact="{ops_dn}" read by * break',
        f'to * by dn.exact="{replicator_dn(suffix)}" read by * break',  # replication (idm cluster)
        f'to dn.base="cn=accesslog" by {auditor_anywhere(suffix)} read by * none',
        *(f'to dn.onelevel="cn=accesslog" attrs={attr} val.regex="^({hidden}):.*" by * none'
          for attr in ("reqMod", "reqOld")),
        f'to dn.onelevel="cn=accesslog" filter=(reqAuthzID={lookup}) '
        f'by dn.regex="{ADMIN_REGEX}" set="{about_level}" {auditor} read by * break',
        # a transfer (调动) is one action seen on both sides: the auditors of the unit left and
        # of the unit reached read its modrdn record, whoever of the two made it
        f'to dn.onelevel="cn=accesslog" filter=(reqType=modrdn) '
        f'by dn.regex="{ADMIN_REGEX}" set="this/reqDN/-2 & user/-2" {auditor} read '
        f'by dn.regex="{ADMIN_REGEX}" set="this/reqNewSuperior/-1 & user/-2" {auditor} read by * break',
        f'to dn.onelevel="cn=accesslog" by dn.regex="{ADMIN_REGEX}" set="{same_level}" {auditor} read '
        'by * none',
    ]


def as_ldif(rules: list[str]) -> str:
    return "".join(f"olcAccess: {{{i}}}{rule}\n" for i, rule in enumerate(rules))

