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
from collections.abc import Iterable
from dataclasses import dataclass

ROLES = ("sysadmin", "secadmin", "auditor")

# Kinds of target, as regular expressions over normalised DNs: $1 the node the target belongs
# to, $2 that node's parent. A node's RDN is its numeric code.
TARGETS: dict[str, str] = {
    "node": r"^(ou=[0-9]+,(.+))$",
    "people": r"^ou=people,(ou=[0-9]+,(.+))$",
    "person": r"^uid=[^,]+,ou=people,(ou=[0-9]+,(.+))$",
    "admins": r"^ou=admins,(ou=[0-9]+,(.+))$",
    "admin": r"^uid=[^,]+,ou=admins,(ou=[0-9]+,(.+))$",
    "forms": r"^ou=forms,(ou=[0-9]+,(.+))$",
    "form": r"^cn=[^,]+,ou=forms,(ou=[0-9]+,(.+))$",
    "services": r"^ou=services,(ou=[0-9]+,(.+))$",
    "service": r"^cn=[^,]+,ou=services,(ou=[0-9]+,(.+))$",
    "certs": r"^ou=certs,(ou=[0-9]+,(.+))$",
    "cert": r"^cn=[^,]+,ou=certs,(ou=[0-9]+,(.+))$",
    # R16: access review campaigns of a node, one record each
    "reviews": r"^ou=reviews,(ou=[0-9]+,(.+))$",
    "review": r"^cn=[^,]+,ou=reviews,(ou=[0-9]+,(.+))$",
}

ACTIVE = "(idmStatus=active)"
# What downstream systems may see: active, and not under a disable's lock (were the status ever
# to say active while that lock stays, the account is still not listed).
USABLE = "(&(idmStatus=active)(!(pwdAccountLockedTime=000001010000Z)))"
LEGACY = "(idmLegacy=TRUE)"

# Attribute groups: each kind of target is split into these; what no group names falls to "rest".
GROUPS: dict[str, tuple[str, ...]] = {
    "entry": ("entry",),
    "children": ("children",),
    # value-level rules fix which kind of entry may be added where
    "objectclass": ("objectClass",),
    "naming": ("uid",),
    "password": ("userPassword",),
    # R17: the ID number (written once, never changed or removed) and contact data, on accounts
    # and on form records alike
    "idnumber": ("idmIdNumber",),
    "private": ("mobile", "telephoneNumber", "homePhone", "postalAddress", "street", "l", "st",
                "postalCode", "mail", "idmRecordPrivate"),
    # pwdReset sits here, not with the password: the account itself must never clear it.
    "status": ("idmStatus", "idmStatusChanged", "idmStatusReason", "pwdAccountLockedTime",
               "pwdReset"),
    # R12: whoever acts on an account writes the reference of the form it acted on
    "formref": ("idmFormRef",),
    "grants": ("idmGrant",),
    "role": ("idmAdminRole",),
    # R5: an admin's organisational scope is its own node, whatever the writer sends
    "scope": ("idmScope",),
    "names": ("cn", "sn", "displayName", "givenName", "description"),
    "profile": ("idmIdMasked", "idmLegacy", "idmPostName"),
    "delegation": ("idmManagedBy",),
    "otpsecret": ("oathSecret",),
    "otpstate": ("oathTOTPParams", "oathTOTPLastTimeStep", "oathTOTPTimeStepDrift", "oathLastLogin",
                 "oathFailureCount", "oathLastFailure", "oathSecretTime"),
    "confirm": ("idmConfirmed", "idmDispute"),
    "signin": ("idmSignIn",),
    "certificate": ("userCertificate",),
    "recordkind": ("idmRecordKind",),
    "record": ("idmRecordData",),
    "recordstate": ("idmRecordStatus", "idmRecordState", "idmRecordTarget", "idmRetainUntil"),
    "attachment": ("idmAttachment", "idmAttachmentSha256"),
    # nobody writes proxy rights or a policy of their choosing; only the operator does
    "authz": ("authzTo", "authzFrom"),
    "policy": ("pwdPolicySubentry",),
    "rest": (),
}

# Relations between the acting admin and the target, rendered as `by` clauses.
#   own:       an admin of the target's node ($1)
#   parent:    an admin of the parent node ($2)
#   delegated: an admin of the parent node ($2), when the target's node is delegated to it (R2)
RELATIONS = ("own", "parent", "delegated", "self", "users", "anonymous", "service")
# The web UI's lookup account finds accounts by uid (sign-in), keeps the second factor's state,
# records sign-in events and tests ID numbers for uniqueness (search, never read).
LOOKUP_SERVICE = "idm-webui"
# Every password write: the owner's own change and an admin's reset, after the policy check.
SELFSERVICE = "idm-selfservice"
# Every other write an admin makes, acting as that admin (RFC 4370).
WRITER = "idm-writer"
VIA = {"writer": WRITER, "password": SELFSERVICE}
# Bulk loads (`idm load`): adds the tree and accounts as itself, through these rules, so slapd's
# policy, uniqueness and write log see every loaded entry; it acts for nobody.
LOADER = "idm-loader"
CONTAINER_TARGETS = ("people", "admins", "forms", "certs", "services", "reviews")
FORM_KINDS = ("registration", "change", "grant", "cert", "service", "delegation")
SERVICE_POLICY = "cn=service,ou=policies,ou=system"  # + suffix
SCOPE_IS_NODE = "=node"  # a value rule: the value must be the DN of the target's own node


@dataclass(frozen=True)
class Rule:
    who: str  # a role, a service account name, or "self" / "users" / "anonymous" / "downstream"
    relation: str
    target: str
    group: str
    access: str  # slapd access level or privileges
    why: str
    when: str | None = None  # an LDAP filter the target must match for this rule to apply
    value: str | None = None  # only these values (objectClass: a name; others: a regex)
    via: str | None = None  # "writer" / "password": the identity that must really be bound


WRITE_LETTERS = set("wazm")


def writes(access: str) -> bool:
    if access.startswith("="):
        return bool(WRITE_LETTERS & set(access[1:]))
    return access in ("add", "delete", "write", "manage")


def read_part(access: str) -> str | None:
    """What a rule grants an admin's own bind: its reading part, never a write."""
    if access.startswith("="):
        kept = "".join(c for c in access[1:] if c not in WRITE_LETTERS)
        return f"={kept}" if kept else None
    return "read" if writes(access) else access


def _rules() -> list[Rule]:
    r: list[Rule] = []

    def add(who: str, relation: str, target: str, groups: Iterable[str], access: str, why: str,
            when: str | None = None, value: str | None = None) -> None:
        for g in groups:
            via = None
            if who in (*ROLES, "self", "targeted") and writes(access):
                via = "password" if g == "password" else "writer"
            r.append(Rule(who, relation, target, g, access, why, when, value, via))

    readable = ("entry", "objectclass", "naming", "names", "profile", "status", "rest")
    for target in ("person", "admin"):
        add(LOOKUP_SERVICE, "service", target, ["entry", "objectclass", "naming", "names", "status"],
            "read", "sign-in and lookups by uid; one ID number, one name (R17)")
        add(LOOKUP_SERVICE, "service", target, ["idnumber"], "search",
            "one person, one number: tests an ID number, never reads it")
        add(LOOKUP_SERVICE, "service", target, ["otpsecret", "otpstate"], "write",
            "second factor: enrolment, codes checked once, failures counted")
    add(LOOKUP_SERVICE, "service", "admin", ["signin"], "write",
        "admin sign-ins, failures and sign-outs, for the level's auditor")
    # Downstream systems see what docs/integration.md promises: uid, name, status, grants and
    # certificate of active users; no ID number (not even masked), no contact data.
    visible = ["entry", "objectclass", "naming", "names", "status", "grants", "certificate"]
    add("downstream", "scope", "person", visible,
        "read", "downstream systems authenticate and authorise active users only", USABLE)
    # ... and service accounts a level's system admin created under its node (ou=services): their
    # view is fixed by their position, so no value they hold can widen it.
    add("downstream", "position", "person", visible, "read",
        "downstream systems of a level see its active users and those below", USABLE)

    # Downstream service accounts of a level (ou=services), created by its system admin on a
    # service registration form.
    add("sysadmin", "own", "services", ["entry", "children"], "add",
        "R4: creates its level's downstream service accounts, with a form")
    add("sysadmin", "own", "service", ["entry", "names"], "add", "R4")
    add("sysadmin", "own", "service", ["objectclass"], "add", "a service account and nothing else",
        value="idmServiceAccount")
    add("sysadmin", "own", "service", ["policy"], "add", "the service policy (no forced change)",
        value=SERVICE_POLICY)
    add("sysadmin", "own", "service", ["status", "formref", "password"], "write",
        "R4/R15: disables, restores, sets the secret")
    add("sysadmin", "own", "service", ["objectclass", "policy", "scope", "rest"], "read", "R4")
    for role in ("secadmin", "auditor"):
        add(role, "own", "services", ["entry"], "read", "R5/R6")
        add(role, "own", "service", ["entry", "objectclass", "names", "status", "rest", "formref"],
            "read", "R5/R6")
    add("anonymous", "-", "service", ["password"], "auth", "bind")
    add("self", "-", "service", ["entry", "objectclass", "names", "status"], "read", "own entry")

    # Business users at node N (R4, R5, R17).
    for rel in ("own", "delegated"):
        add("secadmin", rel, "person", ["grants"], "=dxcsrz",
            "R9: an unconverted post account can lose grants but not receive new ones", LEGACY)
        add("secadmin", rel, "person", ["grants"], "=dxcsrz",
            "R15: a disabled account can lose grants but not receive new ones", "(idmStatus=disabled)")
        add("sysadmin", rel, "people", ["entry", "children"], "add", "R4: creates business users")
        add("sysadmin", rel, "person", ["entry", "naming"], "add", "R4: creates business users")
        add("sysadmin", rel, "person", ["objectclass"], "add", "a business account and nothing else",
            value="idmBusinessAccount")
        add("sysadmin", rel, "person", ["names", "profile", "private"], "write",
            "R4/R11: fills in and corrects an active account", ACTIVE)
        add("sysadmin", rel, "person", ["idnumber"], "add", "R17: the ID number is written once", ACTIVE)
        add("sysadmin", rel, "person", ["names", "profile", "private", "idnumber"], "read",
            "R15: a disabled account's data stays as it was, for audit and tracing")
        add("sysadmin", rel, "person", ["status"], "write", "R4/R15: disables, restores, unlocks")
        add("sysadmin", rel, "person", ["password"], "manage",
            "R4: resets passwords of active accounts only (a reset would lift a disable's lock); "
            "as the password's manager, so the owner's minimum age does not bind the reset",
            ACTIVE)
        add("sysadmin", rel, "person", ["objectclass", "rest"], "read", "R4")
        add("sysadmin", rel, "person", ["otpsecret"], "=z",
            "a lost second factor is removed (never read) by the system admin, with a form")
        add("sysadmin", rel, "person", ["formref"], "write", "R12: the form behind the action")
        add("secadmin", rel, "person", ["formref"], "write", "R12: the form behind the grant")
        add("sysadmin", rel, "person", ["grants"], "read", "R4 grants nothing")
        add("secadmin", rel, "people", ["entry"], "read", "R5: lists whom to grant")
        add("secadmin", rel, "person", readable, "read", "R5: sees whom it grants")
        add("secadmin", rel, "person", ["grants"], "write", "R5: grants and revokes access")
        add("auditor", rel, "people", ["entry"], "read", "R6: reads")
        add("auditor", rel, "person", [*readable, "grants", "formref"], "read",
            "R6: reads, changes nothing")
    add("self", "-", "person", [*readable, "grants", "private", "idnumber", "formref", "certificate"],
        "read", "own data")
    for rel in ("own", "delegated"):
        add("secadmin", rel, "person", ["certificate"], "write",
            "R19: publishes the certificate it applied for, for an active user", ACTIVE)
        add("sysadmin", rel, "person", ["certificate"], "=rscxdz",
            "R19: a disabled account's certificate is withdrawn with the disable")
        add("auditor", rel, "person", ["certificate"], "read", "R6")
    add("self", "-", "person", ["password"], "=wx",
        "R18: own password, only through the password service's policy check")
    add("anonymous", "-", "person", ["password"], "auth", "bind")

    # Admin accounts at node C, managed by the admins of C's parent P (R4, R5, R7).
    add("sysadmin", "parent", "admins", ["entry", "children"], "add",
        "R4: creates the next level's admin accounts")
    add("sysadmin", "parent", "admin", ["entry", "naming"], "add", "R4: creates them without a role")
    add("sysadmin", "parent", "admin", ["objectclass"], "add", "an admin account and nothing else",
        value="idmAdminAccount")
    add("sysadmin", "parent", "admin", ["names", "profile", "private"], "write",
        "R4/R11/R14: fills in and corrects an active account", ACTIVE)
    add("sysadmin", "parent", "admin", ["idnumber"], "add", "R17: the ID number is written once", ACTIVE)
    add("sysadmin", "parent", "admin", ["names", "profile", "private", "idnumber"], "read",
        "R15: a disabled account's data stays as it was, for audit and tracing")
    add("sysadmin", "parent", "admin", ["status"], "write", "R4/R14: disables, restores, unlocks them")
    add("sysadmin", "parent", "admin", ["password"], "manage",
        "R4: resets passwords of active accounts only; the owner's minimum age does not bind it",
        ACTIVE)
    add("sysadmin", "parent", "admin", ["objectclass", "rest"], "read", "R4")
    add("sysadmin", "parent", "admin", ["otpsecret"], "=z",
        "a lost second factor is removed (never read) by the system admin, with a form")
    add("sysadmin", "parent", "admin", ["formref"], "write", "R12: the form behind the action")
    add("secadmin", "parent", "admin", ["formref"], "write", "R12: the form behind the role")
    add("sysadmin", "parent", "admin", ["role", "scope", "confirm"], "read",
        "R4 grants nothing; R13: sees the confirmation or the reported mismatch")
    add("secadmin", "parent", "admins", ["entry"], "read", "R5: lists whom to grant")
    add("secadmin", "parent", "admin", [*readable, "role", "scope", "confirm"], "read",
        "R5: sees whom it grants")
    add("secadmin", "parent", "admin", ["role"], "write", "R5: sets the role its form names")
    add("secadmin", "parent", "admin", ["scope"], "write",
        "R5: sets the scope, which can only be the account's own node", value=SCOPE_IS_NODE)
    add("secadmin", "parent", "admin", ["scope"], "=z", "R5: replaces a scope (the new value as above)")
    add("auditor", "parent", "admins", ["entry"], "read", "R6: reads")
    add("auditor", "parent", "admin", [*readable, "role", "scope", "formref", "confirm"], "read",
        "R6: reads")
    for role in ROLES:  # the three admins of one department see each other (R6 audits them)
        add(role, "own", "admins", ["entry"], "read", "colleagues of one department")
        add(role, "own", "admin", [*readable, "role", "scope", "formref", "signin"], "read",
            "colleagues of one department")
    add("self", "-", "admin", [*readable, "role", "scope", "private", "idnumber", "formref", "signin"],
        "read", "own data, R13 check")
    add("self", "-", "admin", ["confirm"], "write",
        "R13: confirms role and scope at first login, or reports a mismatch")
    add("self", "-", "admin", ["password"], "=wx",
        "R18: own password, only through the password service's policy check")
    add("anonymous", "-", "admin", ["password"], "auth", "bind")

    # Request forms (R10-R12 and the kinds the seed lacks), kept by the department that
    # processes them: written once (the fields, the scan), then only their state moves on.
    # Private fields (ID number, contact data) sit in their own attributes, so the rules withhold
    # them from everyone but the department's system admin and the person (R17).
    kinds = "^(" + "|".join(FORM_KINDS) + ")$"
    add("sysadmin", "own", "forms", ["entry", "children"], "add", "R12: records received forms")
    add("sysadmin", "own", "form", ["entry", "names", "record", "profile", "private", "idnumber",
                                    "attachment"],
        "add", "R12: a form's fields and scan are written once")
    add("sysadmin", "own", "form", ["objectclass"], "add", "a record and nothing else", value="idmRecord")
    add("sysadmin", "own", "form", ["recordkind"], "add", "a form of a known kind", value=kinds)
    add("sysadmin", "own", "form", ["recordstate"], "write", "R12: executes, rejects, retains")
    add("sysadmin", "own", "form", ["objectclass", "recordkind", "rest"], "read", "R12")
    form_public = ["entry", "objectclass", "names", "recordkind", "record", "profile", "rest"]
    add("secadmin", "own", "forms", ["entry"], "read", "R5: grants on the basis of forms")
    add("secadmin", "own", "form", [*form_public, "attachment"], "read",
        "R5: grants on the basis of forms (ID number masked)")
    add("secadmin", "own", "form", ["recordstate"], "write", "R5: executes the role or grant step")
    add("targeted", "-", "form", [*form_public, "private", "idnumber", "recordstate"], "read",
        "R13: an account reads the forms that acted on it (first-login check)")
    add("auditor", "own", "forms", ["entry"], "read", "R6: audits against the forms")
    add("auditor", "own", "form", [*form_public, "attachment", "recordstate"], "read",
        "R6: audits against the forms (ID number masked)")
    add(LOOKUP_SERVICE, "service", "form", ["entry", "objectclass", "names", "recordkind", "record",
                                            "recordstate"], "read",
        "one ID number, one name, counting forms not yet acted on")
    add(LOOKUP_SERVICE, "service", "form", ["idnumber"], "search",
        "one person, one number: tests an ID number, never reads it")

    # Certificate records (R19) under the user's node: the security admin applies, issues and
    # revokes; the system admin revokes with a disable; the auditor reads; the user reads its own.
    for rel in ("own", "delegated"):
        add("secadmin", rel, "certs", ["entry", "children"], "add", "R19: applies for certificates")
        add("secadmin", rel, "cert", ["entry", "names", "record", "formref"], "add",
            "R19: a request's fields are written once")
        add("secadmin", rel, "cert", ["objectclass"], "add", "a record and nothing else",
            value="idmRecord")
        add("secadmin", rel, "cert", ["recordkind"], "add", "a certificate record", value="^cert$")
        add("secadmin", rel, "cert", ["recordstate"], "write", "R19: issues, revokes")
        add("secadmin", rel, "cert", ["objectclass", "recordkind", "rest"], "read", "R19")
        add("sysadmin", rel, "certs", ["entry"], "read", "R15: finds what to revoke on disable")
        add("sysadmin", rel, "cert", ["entry", "objectclass", "names", "recordkind", "record", "rest"],
            "read", "R15")
        add("sysadmin", rel, "cert", ["recordstate"], "write", "R15: revokes with the disable")
        add("auditor", rel, "certs", ["entry"], "read", "R6")
        add("auditor", rel, "cert", ["entry", "objectclass", "names", "recordkind", "record", "rest",
                                     "recordstate"], "read", "R6")
    add("targeted", "-", "cert", ["entry", "objectclass", "names", "recordkind", "record", "rest",
                                  "recordstate"], "read",
        "R19: the user sees and downloads its certificates")
    add(LOOKUP_SERVICE, "service", "cert", ["entry", "objectclass", "names", "recordkind", "record",
                                            "rest"], "read",
        "R19: the web UI fulfils a request for the user it names")
    add(LOOKUP_SERVICE, "service", "cert", ["recordstate"], "write",
        "R19: fulfils a pending request, marks an issued one downloaded",
        "(|(idmRecordStatus=requested)(idmRecordStatus=issued))")
    add(LOOKUP_SERVICE, "service", "person", ["certificate"], "write",
        "R19: publishes the certificate it issued, for an active user", ACTIVE)

    # Org nodes: public within the toolkit; delegation set by the parent's security admin (R2).
    add("secadmin", "parent", "node", ["delegation", "formref"], "write",
        "R2/R5: assigns org scope, on a delegation form")
    add("users", "-", "node", ["entry", "objectclass", "names", "delegation", "formref", "rest"],
        "read", "the tree is not confidential")

    # R16: access reviews, kept at the node that reviews (ou=reviews): its system admin opens a
    # campaign and records the decisions, the auditor countersigns the closure, the security
    # admin reads (it acts on the revokes); levels above see the state of those below (overdue).
    add("sysadmin", "own", "reviews", ["entry", "children"], "add", "R16: opens review campaigns")
    add("sysadmin", "own", "review", ["entry", "names"], "add", "R16: a campaign")
    add("sysadmin", "own", "review", ["objectclass"], "add", "a record and nothing else", value="idmRecord")
    add("sysadmin", "own", "review", ["recordkind"], "add", "a review record", value="^review$")
    add("sysadmin", "own", "review", ["record", "recordstate"], "write", "R16: its rows, decisions, closure")
    add("sysadmin", "own", "review", ["objectclass", "recordkind", "rest"], "read", "R16")
    add("auditor", "own", "review", ["recordstate"], "write", "R16: countersigns the closure")
    for role in ("secadmin", "auditor"):
        add(role, "own", "reviews", ["entry"], "read", "R16")
        add(role, "own", "review", ["entry", "objectclass", "names", "recordkind", "record", "rest"],
            "read", "R16")
    add("secadmin", "own", "review", ["recordstate"], "read", "R16")
    for role in ROLES:  # overdue campaigns are flagged up the tree
        add(role, "parent", "reviews", ["entry"], "read", "R16: overdue reviews of the level below")
        add(role, "parent", "review", ["entry", "objectclass", "recordkind", "recordstate", "rest"], "read",
            "R16: overdue reviews of the level below")

    # Bulk loads: the loader adds (never replaces or deletes) the tree, its containers and the
    # accounts of a load, reading what it compares; it renames units and sets delegation as
    # `idm org import` always could. Grants never reach unconverted or disabled accounts (R9,
    # R15): for those the loader reads only.
    add(LOADER, "service", "node", ["entry", "children", "rest", "formref"], "add", "bulk loads")
    add(LOADER, "service", "node", ["names", "delegation"], "write", "org import renames, delegates")
    add(LOADER, "service", "node", ["objectclass"], "add", "org units only", value="idmOrgUnit")
    for target in CONTAINER_TARGETS:
        groups = ["entry", "children", "rest"] if target in ("people", "admins") else ["entry", "rest"]
        add(LOADER, "service", target, groups, "add", "bulk loads: a unit's containers")
        add(LOADER, "service", target, ["objectclass"], "add", "containers only",
            value="organizationalUnit")
    account_groups = ["entry", "naming", "names", "profile", "status", "formref"]
    add(LOADER, "service", "person", [*account_groups, "grants"], "add", "bulk loads of business users")
    add(LOADER, "service", "person", ["objectclass"], "add", "business accounts only",
        value="idmBusinessAccount")
    add(LOADER, "service", "admin", [*account_groups, "role", "scope"], "add", "bulk loads of admins")
    add(LOADER, "service", "admin", ["objectclass"], "add", "admin accounts only", value="idmAdminAccount")
    for target in ("node", *CONTAINER_TARGETS, "person", "admin"):
        add(LOADER, "service", target, ["objectclass"], "read", "finds what a rerun need not write")
    for target in ("person", "admin"):
        add(LOADER, "service", target, ["idnumber"], "=as", "R17: written once; one number, one name")
        add(LOADER, "service", target, ["private"], "=a", "R17: written, never read")
    for when in (LEGACY, "(idmStatus=disabled)"):
        add(LOADER, "service", "person", ["grants"], "read", "R9/R15: no grants for these", when)
    return r


RULES: tuple[Rule, ...] = tuple(_rules())

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
