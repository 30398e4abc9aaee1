"""The words of the permission table: roles, kinds of target (by DN pattern), attribute groups,
relations, the toolkit's own identities, and what one rule is. The rules themselves are declared
per kind of target (`idm.rules.accounts`, `records`, `units`, `loader`) and gathered in
`idm.rules.permissions`.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Protocol

ROLES = ("sysadmin", "secadmin", "auditor")

# Kinds of target, as regular expressions over normalised DNs: $1 the node the target belongs
# to, $2 that node's parent. A node's RDN is its numeric code. The patterns are disjoint, so
# the order of their clauses changes no decision; it is the order slapd walks them in for every
# attribute it checks, most often asked first: users (every downstream read, every account
# write), units (every page names some), form records (every admin action writes one).
TARGETS: dict[str, str] = {
    "person": r"^uid=[^,]+,ou=people,(ou=[0-9]+,(.+))$",
    "node": r"^(ou=[0-9]+,(.+))$",
    "form": r"^cn=[^,]+,ou=forms,(ou=[0-9]+,(.+))$",
    "admin": r"^uid=[^,]+,ou=admins,(ou=[0-9]+,(.+))$",
    "people": r"^ou=people,(ou=[0-9]+,(.+))$",
    "admins": r"^ou=admins,(ou=[0-9]+,(.+))$",
    "forms": r"^ou=forms,(ou=[0-9]+,(.+))$",
    "services": r"^ou=services,(ou=[0-9]+,(.+))$",
    "service": r"^cn=[^,]+,ou=services,(ou=[0-9]+,(.+))$",
    "certs": r"^ou=certs,(ou=[0-9]+,(.+))$",
    "cert": r"^cn=[^,]+,ou=certs,(ou=[0-9]+,(.+))$",
    # R16: access review campaigns of a node, one record each
    "reviews": r"^ou=reviews,(ou=[0-9]+,(.+))$",
    "review": r"^cn=[^,]+,ou=reviews,(ou=[0-9]+,(.+))$",
}

ACTIVE = "(idmStatus=active)"
# What downstream systems may see: active, not under a disable's lock (were the status ever to
# say active while that lock stays, the account is still not listed), and not waiting for its
# owner to choose a password (pwdReset: a new account's first password and every admin reset
# are one-time passwords the admin knows and the hand-over slip prints; until the owner has
# changed it, no downstream system finds the account, whatever the client does with ppolicy's
# "must change" response).
USABLE = "(&(idmStatus=active)(!(pwdAccountLockedTime=000001010000Z))(!(pwdReset=TRUE)))"
LEGACY = "(idmLegacy=TRUE)"
# 调动: an active account released to another unit (idmReleasedTo), until that unit accepts it
RELEASED = "(&(idmReleasedTo=*)(idmStatus=active))"

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
    "transfer": ("idmReleasedTo",),
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
    "recordstate": ("idmRecordStatus", "idmRecordState", "idmRecordSubject", "idmRecordTarget",
                    "idmRetainUntil"),
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
#   receiving: the system admin of the unit an account is released to (idmReleasedTo);
#   receiving-delegated: of its parent, when that unit is delegated to it (R2);
#   receiving-parent: of that unit's parent (for an admin account, which the level above keeps);
#   anywhere: an admin of any node (moves out of a container need the entry's rights too)
RELATIONS = ("own", "parent", "delegated", "self", "users", "anonymous", "service", "receiving",
             "receiving-delegated", "receiving-parent", "anywhere")
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



# What an admin with a duty on an account reads of it, whatever else it may do.
READABLE = ("entry", "objectclass", "naming", "names", "profile", "status", "rest")


class Adder(Protocol):
    """Declares one rule per attribute group named (how the rule modules write the table)."""

    def __call__(self, who: str, relation: str, target: str, groups: Iterable[str], access: str, why: str,
                 when: str | None = None, value: str | None = None) -> None: ...


class Table:
    """The rules in the order they are declared. A write by an admin (or by `self` or the account
    a record names) is a write through a toolkit identity: the password service for passwords,
    the writer for everything else (`via`)."""

    def __init__(self) -> None:
        self.rules: list[Rule] = []

    def add(self, who: str, relation: str, target: str, groups: Iterable[str], access: str, why: str,
            when: str | None = None, value: str | None = None) -> None:
        for g in groups:
            via = None
            if who in (*ROLES, "self", "targeted") and writes(access):
                via = "password" if g == "password" else "writer"
            self.rules.append(Rule(who, relation, target, g, access, why, when, value, via))
