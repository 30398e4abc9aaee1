"""Who may do what: one table, from which the slapd access rules, `docs/permissions.md` and the
Python layer's pre-checks are all derived (ARCHITECTURE principles 1 and 5).

The rules are positional: an admin account at `uid=..,ou=admins,<node>` acts for `<node>`, in
the role held in its `idmAdminRole`, while its `idmStatus` is `active`. Relations are read off
the target's DN with one regular expression per kind of target, so the number of rules is fixed
and does not grow with the tree.
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
}

ACTIVE = "(idmStatus=active)"
LEGACY = "(idmLegacy=TRUE)"

# Attribute groups: each kind of target is split into these; what no group names falls to "rest".
GROUPS: dict[str, tuple[str, ...]] = {
    "entry": ("entry",),
    "children": ("children",),
    "naming": ("objectClass", "uid"),
    "password": ("userPassword",),
    "private": ("idmIdNumber", "mobile", "telephoneNumber", "homePhone", "postalAddress",
                "street", "l", "st", "postalCode"),
    # pwdReset sits here, not with the password: ppolicy sets it on an admin's reset only when the
    # admin may write it, and the account itself must never be able to clear it.
    "status": ("idmStatus", "idmStatusChanged", "idmStatusReason", "pwdAccountLockedTime",
               "pwdReset"),
    # R12: whoever acts on an account writes the reference of the form it acted on
    "formref": ("idmFormRef",),
    "grants": ("idmGrant",),
    "role": ("idmAdminRole", "idmScope"),
    "identity": ("cn", "sn", "displayName", "givenName", "mail", "idmIdMasked", "idmLegacy",
                 "idmPostName"),
    "delegation": ("idmManagedBy",),
    "otpsecret": ("oathSecret",),
    "otpstate": ("oathTOTPParams", "oathTOTPLastTimeStep", "oathTOTPTimeStepDrift", "oathLastLogin",
                 "oathFailureCount", "oathLastFailure", "oathSecretTime"),
    "confirm": ("idmConfirmed",),
    "certificate": ("userCertificate",),
    "record": ("idmRecordKind", "idmRecordData"),
    "recordstate": ("idmRecordStatus", "idmRecordState", "idmRecordTarget", "idmRetainUntil"),
    "attachment": ("idmAttachment", "idmAttachmentSha256"),
    "rest": (),
}

# Relations between the acting admin and the target, rendered as `by` clauses.
#   own:       an admin of the target's node ($1)
#   parent:    an admin of the parent node ($2)
#   delegated: an admin of the parent node ($2), when the target's node is delegated to it (R2)
RELATIONS = ("own", "parent", "delegated", "self", "users", "anonymous", "service")
# The web UI's service account finds accounts by uid (sign-in, lookups) and sees their status.
LOOKUP_SERVICE = "idm-webui"
SELFSERVICE = "idm-selfservice"


@dataclass(frozen=True)
class Rule:
    who: str  # a role, a service account name, or "self" / "users" / "anonymous" / "downstream"
    relation: str
    target: str
    group: str
    access: str  # slapd access level or privileges
    why: str
    when: str | None = None  # an LDAP filter the target must match for this rule to apply


def _rules() -> list[Rule]:
    r: list[Rule] = []

    def add(who: str, relation: str, target: str, groups: Iterable[str], access: str, why: str,
            when: str | None = None) -> None:
        r.extend(Rule(who, relation, target, g, access, why, when) for g in groups)

    readable = ("entry", "naming", "identity", "status", "rest")
    for target in ("person", "admin"):
        add(LOOKUP_SERVICE, "service", target, ["entry", "naming", "status"], "read",
            "sign-in and lookups by uid")
        add(LOOKUP_SERVICE, "service", target, ["otpsecret", "otpstate"], "write",
            "second factor: enrolment, and codes checked once (last time step)")
    # Downstream systems: service accounts with an idmScope see the active users under it.
    add("downstream", "scope", "person", ["entry", "naming", "identity", "status", "grants", "certificate"],
        "read", "downstream systems authenticate and authorise active users only", ACTIVE)
    # ... and service accounts a level's system admin created under its node (ou=services): their
    # view is fixed by their position, so no value they hold can widen it.
    visible = ["entry", "naming", "identity", "status", "grants", "certificate"]
    add("downstream", "position", "person", visible, "read",
        "downstream systems of a level see its active users and those below", ACTIVE)
    add("sysadmin", "own", "services", ["entry", "children"], "add",
        "R4: creates its level's downstream service accounts, with a form")
    add("sysadmin", "own", "service", ["entry", "naming", "identity", "rest"], "add", "R4")
    add("sysadmin", "own", "service", ["status", "password", "formref"], "write",
        "R4/R15: disables, restores, sets the secret")
    for role in ("secadmin", "auditor"):
        add(role, "own", "services", ["entry"], "read", "R5/R6")
        add(role, "own", "service", ["entry", "naming", "identity", "status", "rest", "formref"], "read",
            "R5/R6")
    add("anonymous", "-", "service", ["password"], "auth", "bind")
    add("self", "-", "service", ["entry", "naming", "identity", "status"], "read", "own entry")

    # Business users at node N (R4, R5, R17).
    for rel in ("own", "delegated"):
        add("secadmin", rel, "person", ["grants"], "=dxcsrz",
            "R9: an unconverted post account can lose grants but not receive new ones", LEGACY)
        add("sysadmin", rel, "people", ["entry", "children"], "add", "R4: creates business users")
        add("sysadmin", rel, "person", ["entry", "naming"], "add", "R4: creates business users")
        add("sysadmin", rel, "person", ["identity", "private", "status"], "write",
            "R4/R11/R15: fills in and corrects; disables, restores, unlocks")
        add("sysadmin", rel, "person", ["password"], "write",
            "R4: resets passwords of active accounts only (a reset would lift a disable's lock)",
            ACTIVE)
        add("sysadmin", rel, "person", ["rest"], "read", "R4")
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
    add("self", "-", "person", [*readable, "grants", "private", "formref", "certificate"], "read",
        "own data")
    for rel in ("own", "delegated"):
        add("secadmin", rel, "person", ["certificate"], "write",
            "R19: publishes the certificate it applied for, for an active user", ACTIVE)
        add("sysadmin", rel, "person", ["certificate"], "=rscxdz",
            "R19: a disabled account's certificate is withdrawn with the disable")
        add("auditor", rel, "person", ["certificate"], "read", "R6")
    add("self", "selfservice", "person", ["password"], "=wx",
        "R18: own password, only through the self-service account's policy check")
    add("anonymous", "-", "person", ["password"], "auth", "bind")

    # Admin accounts at node C, managed by the admins of C's parent P (R4, R5, R7).
    add("sysadmin", "parent", "admins", ["entry", "children"], "add",
        "R4: creates the next level's admin accounts")
    add("sysadmin", "parent", "admin", ["entry", "naming"], "add", "R4: creates them without a role")
    add("sysadmin", "parent", "admin", ["identity", "private", "status"], "write",
        "R4/R11/R14: fills in and corrects; disables, restores, unlocks them")
    add("sysadmin", "parent", "admin", ["password"], "write",
        "R4: resets passwords of active accounts only (a reset would lift a disable's lock)", ACTIVE)
    add("sysadmin", "parent", "admin", ["rest"], "read", "R4")
    add("sysadmin", "parent", "admin", ["otpsecret"], "=z",
        "a lost second factor is removed (never read) by the system admin, with a form")
    add("sysadmin", "parent", "admin", ["formref"], "write", "R12: the form behind the action")
    add("secadmin", "parent", "admin", ["formref"], "write", "R12: the form behind the role")
    add("sysadmin", "parent", "admin", ["role"], "read", "R4 grants nothing")
    add("secadmin", "parent", "admins", ["entry"], "read", "R5: lists whom to grant")
    add("secadmin", "parent", "admin", readable, "read", "R5: sees whom it grants")
    add("secadmin", "parent", "admin", ["role"], "write", "R5: sets role and scope")
    add("auditor", "parent", "admins", ["entry"], "read", "R6: reads")
    add("auditor", "parent", "admin", [*readable, "role", "formref"], "read", "R6: reads")
    for role in ROLES:  # the three admins of one department see each other (R6 audits them)
        add(role, "own", "admins", ["entry"], "read", "colleagues of one department")
        add(role, "own", "admin", [*readable, "role", "formref"], "read", "colleagues of one department")
    add("self", "-", "admin", [*readable, "role", "private", "formref"], "read", "own data, R13 check")
    add("self", "-", "admin", ["confirm"], "write", "R13: confirms role and scope at first login")
    add("sysadmin", "parent", "admin", ["confirm"], "read", "R13: sees the confirmation")
    add("self", "selfservice", "admin", ["password"], "=wx",
        "R18: own password, only through the self-service account's policy check")
    add("anonymous", "-", "admin", ["password"], "auth", "bind")

    # Request forms (R10-R12), kept by the department that processes them: written once (the
    # fields, the scan), then only their state moves on; read by the department's three admins.
    add("sysadmin", "own", "forms", ["entry", "children"], "add", "R12: records received forms")
    add("sysadmin", "own", "form", ["entry", "naming", "identity", "record", "attachment"], "add",
        "R12: a form's fields and scan are written once")
    add("sysadmin", "own", "form", ["recordstate"], "write", "R12: executes, rejects, retains")
    add("sysadmin", "own", "form", ["rest"], "read", "R12")
    add("secadmin", "own", "forms", ["entry"], "read", "R5: grants on the basis of forms")
    add("secadmin", "own", "form", ["entry", "naming", "identity", "record", "attachment", "rest"],
        "read", "R5: grants on the basis of forms")
    add("secadmin", "own", "form", ["recordstate"], "write", "R5: executes the role step")
    add("targeted", "-", "form", ["entry", "naming", "identity", "record", "rest", "recordstate"],
        "read", "R13: an account reads the forms that acted on it (first-login check)")
    add("auditor", "own", "forms", ["entry"], "read", "R6: audits against the forms")
    add("auditor", "own", "form", ["entry", "naming", "identity", "record", "attachment", "rest",
                                   "recordstate"], "read", "R6: audits against the forms")

    # Certificate records (R19) under the user's node: the security admin applies, issues and
    # revokes; the system admin revokes with a disable; the auditor reads; the user reads its own.
    for rel in ("own", "delegated"):
        add("secadmin", rel, "certs", ["entry", "children"], "add", "R19: applies for certificates")
        add("secadmin", rel, "cert", ["entry", "naming", "identity", "record", "formref"], "add",
            "R19: a request's fields are written once")
        add("secadmin", rel, "cert", ["recordstate"], "write", "R19: issues, revokes")
        add("secadmin", rel, "cert", ["rest"], "read", "R19")
        add("sysadmin", rel, "certs", ["entry"], "read", "R15: finds what to revoke on disable")
        add("sysadmin", rel, "cert", ["entry", "naming", "identity", "record", "rest"], "read", "R15")
        add("sysadmin", rel, "cert", ["recordstate"], "write", "R15: revokes with the disable")
        add("auditor", rel, "certs", ["entry"], "read", "R6")
        add("auditor", rel, "cert", ["entry", "naming", "identity", "record", "rest", "recordstate"],
            "read", "R6")
    add("targeted", "-", "cert", ["entry", "naming", "identity", "record", "rest", "recordstate"],
        "read", "R19: the user sees and downloads its certificates")
    add(LOOKUP_SERVICE, "service", "cert", ["entry", "naming", "identity", "record", "rest"], "read",
        "R19: the web UI fulfils a request for the user it names")
    add(LOOKUP_SERVICE, "service", "cert", ["recordstate"], "write",
        "R19: fulfils a pending request, marks an issued one downloaded",
        "(|(idmRecordStatus=requested)(idmRecordStatus=issued))")
    add(LOOKUP_SERVICE, "service", "person", ["certificate"], "write",
        "R19: publishes the certificate it issued, for an active user", ACTIVE)

    # Org nodes: public within the toolkit; delegation set by the parent's security admin (R2).
    add("secadmin", "parent", "node", ["delegation"], "write", "R2/R5: assigns org scope")
    add("users", "-", "node", ["entry", "identity", "delegation", "rest"], "read",
        "the tree is not confidential")
    return r


RULES: tuple[Rule, ...] = tuple(_rules())

# What each operation needs: (kinds of target, attribute group, access level).
OPERATIONS: dict[str, tuple[tuple[str, ...], str, str]] = {
    "create_person": (("people",), "children", "add"),
    "create_admin": (("admins",), "children", "add"),
    "set_role": (("admin",), "role", "write"),
    "grant": (("person",), "grants", "write"),
    "change_status": (("person", "admin"), "status", "write"),
    "reset_password": (("person", "admin"), "password", "write"),
    "change_info": (("person", "admin"), "identity", "write"),
    "read_private": (("person", "admin"), "private", "read"),
    "delegate": (("node",), "delegation", "write"),
    "delete": (("person", "admin", "node", "people", "admins", "form"), "entry", "delete"),
    "record_form": (("forms",), "children", "add"),
    "reset_factor": (("person", "admin"), "otpsecret", "delete"),
    "apply_cert": (("certs",), "children", "add"),
    "create_service": (("services",), "children", "add"),
    "revoke_cert": (("cert",), "recordstate", "write"),
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
    `operation` on a target of `kind`? A rule that depends on the target's state (`when`) counts
    here; the domain checks that state itself, with its own words, and slapd checks it again."""
    kinds, group, need = OPERATIONS[operation]
    if kind not in kinds:
        return False
    for rule in RULES:
        if rule.target != kind or rule.group != group:
            continue
        if rule.who == "self" and "self" in relations and _grants(rule.access, need):
            return True
        if rule.who == role and rule.relation in relations and _grants(rule.access, need):
            return True
    return False
