"""The directory's access rules, generated as `olcAccess` values from `idm.permissions`.

The rules are the guard (ARCHITECTURE principle 1): the Python layer checks the same table
first only to give clearer errors. The number of clauses is fixed by the table: it never grows
with the number of org units.
"""

from __future__ import annotations

from idm.directory.names import replicator_dn, service_dn
from idm.permissions import GROUPS, LOOKUP_SERVICE, RULES, SELFSERVICE, TARGETS, Rule

ACCOUNT_REGEX = r"^uid=[^,]+,ou=(people|admins),ou=[0-9]+,.+$"


def role_set(role: str) -> str:
    """Non-empty (true) when the bound admin holds `role` and is active: `+` concatenates, so
    the result is empty as soon as either side is."""
    return f"(user/idmAdminRole & [{role}]) + (user/idmStatus & [active])"


def who(rule: Rule, suffix: str) -> str:
    if rule.who == "self" and rule.relation == "selfservice":
        return f'self realdn.exact="{service_dn(SELFSERVICE, suffix)}"'
    if rule.who in ("self", "users", "anonymous"):
        return rule.who
    if rule.who == "targeted":  # the entry the record names is the one asking
        return 'set="this/idmRecordTarget & user"'
    if rule.relation == "service":
        return f'dn.exact="{service_dn(rule.who, suffix)}"'
    # The DN conditions come first: slapd evaluates a clause's conditions in order, so for
    # everyone who is not a service account the (costly) set is never evaluated.
    if rule.relation == "position":  # a service account at ou=services,N, reading under N
        return ('dn.regex="^cn=[^,]+,ou=services,ou=[0-9]+,.+$" '
                'set="(this/-* & user/-2) + (user/objectClass & [idmServiceAccount]) + '
                '(user/idmStatus & [active])"')
    if rule.relation == "scope":  # a service account whose idmScope is an ancestor of the target
        return (f'dn.onelevel="ou=system,{suffix}" '
                'set="(this/-* & user/idmScope) + (user/objectClass & [idmServiceAccount])"')
    if rule.relation == "own":
        return f'dn.onelevel,expand="ou=admins,$1" set="{role_set(rule.who)}"'
    if rule.relation == "parent":
        return f'dn.onelevel,expand="ou=admins,$2" set="{role_set(rule.who)}"'
    if rule.relation == "delegated":
        return (f'dn.onelevel,expand="ou=admins,$2" '
                f'set.expand="[$1]/idmManagedBy + {role_set(rule.who)}"')
    raise ValueError(f"unknown relation {rule.relation}")


def generated_rules(suffix: str) -> list[str]:
    """One `to` clause per (kind of target, attribute group) that the table mentions, preceded
    by one per filter that some rule of that group depends on (those end in `break`, so whoever
    they do not name falls through to the unconditional clause)."""
    out: list[str] = []
    for target, regex in TARGETS.items():
        for group, attrs in GROUPS.items():
            rules = [r for r in RULES if r.target == target and r.group == group]
            what = f'dn.regex="{regex}"' + (f" attrs={','.join(attrs)}" if attrs else "")
            for when in sorted({r.when for r in rules if r.when}):
                bys = " ".join(f"by {who(r, suffix)} {r.access}" for r in rules if r.when == when)
                out.append(f'to dn.regex="{regex}" filter={when}'
                           + (f" attrs={','.join(attrs)}" if attrs else "") + f" {bys} by * break")
            plain = [r for r in rules if r.when is None]
            if plain:
                bys = " ".join(f"by {who(r, suffix)} {r.access}" for r in plain)
                out.append(f"to {what} {bys} by * none")
    return out


def ops_clause(ops_dn: str) -> str:
    """The local operating-system account (SASL EXTERNAL over ldapi) may do anything."""
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


def main_acl(suffix: str, ops_dn: str) -> list[str]:
    """Access rules of the main database."""
    system = f"ou=system,{suffix}"
    return [
        ops_clause(ops_dn),
        *replication_clauses(suffix),
        f'to dn.base="{suffix}" by users read by * none',
        f'to dn.subtree="{system}" attrs=userPassword by anonymous auth by * none',
        # auditors see the seal status of the write log (when it was last sealed)
        f'to dn.subtree="ou=seals,{system}" by set="{role_set("auditor")}" read by * none',
        f'to dn.subtree="{system}" by self read by * none',
        f'to dn.subtree="ou=apps,{suffix}" by users read by * none',
        # enrolling a second factor adds this one auxiliary class, and no other
        f'to dn.regex="{ACCOUNT_REGEX}" attrs=objectClass val=oathTOTPToken '
        f'by dn.exact="{service_dn(LOOKUP_SERVICE, suffix)}" =rscxda by * break',
        *generated_rules(suffix),
        "to * by * none",
    ]


# Logged values nobody reads in the log but the local operator: hashes and private data (R17).
HIDDEN_IN_LOG = ("userPassword", "pwdHistory", "idmIdNumber", "mobile", "telephoneNumber",
                 "homePhone", "postalAddress", "idmAttachment", "oathSecret", "userCertificate")


def log_acl(ops_dn: str, suffix: str) -> list[str]:
    """Access rules of cn=accesslog: nobody but slapd writes it; a level's auditor reads the
    records of the writes made by that level's admins (the actor's node is the auditor's)."""
    auditor = role_set("auditor")
    same_level = f"(this/reqAuthzID/-1 & user/-1) + {auditor}"  # actor in ou=admins of the node
    hidden = "|".join(HIDDEN_IN_LOG)
    return [
        f'to * by dn.exact="{ops_dn}" read by * break',
        f'to * by dn.exact="{replicator_dn(suffix)}" read by * break',  # replication (idm cluster)
        # delta-syncrepl resolves a conflicting change by reading the log as the main database's
        # rootDN (nobody can bind as it); refused, the older of two changes silently wins
        f'to * by dn.exact="cn=slapd-internal,{suffix}" read by * break',
        f'to dn.base="cn=accesslog" by set="{auditor}" read by * none',
        *(f'to dn.onelevel="cn=accesslog" attrs={attr} val.regex="^({hidden}):.*" by * none'
          for attr in ("reqMod", "reqOld")),
        f'to dn.onelevel="cn=accesslog" by set="{same_level}" read by * none',
    ]


def as_ldif(rules: list[str]) -> str:
    return "".join(f"olcAccess: {{{i}}}{rule}\n" for i, rule in enumerate(rules))
