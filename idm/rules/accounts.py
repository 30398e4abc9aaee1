"""Rules on accounts: business users at a node (R4, R5, R9, R15, R17, R19) and the admin accounts
of the next level (R4, R5, R7, R13)."""

from __future__ import annotations

from idm.rules.terms import ACTIVE, LEGACY, READABLE, ROLES, SCOPE_IS_NODE, Adder

MOVES = "=azrscxd"  # add, and remove by a move (a container's children: slapd refuses deletes)


def business(add: Adder) -> None:
    """Business users at node N, managed by N's admins (or its parent's, delegated)."""
    for rel in ("own", "delegated"):
        add("secadmin", rel, "person", ["grants"], "=dxcsrz",
            "R9: an unconverted post account can lose grants but not receive new ones", LEGACY)
        add("secadmin", rel, "person", ["grants"], "=dxcsrz",
            "R15: a disabled account can lose grants but not receive new ones", "(idmStatus=disabled)")
        add("sysadmin", rel, "people", ["entry"], "add", "R4: creates business users")
        add("sysadmin", rel, "people", ["children"], MOVES, "R4: creates business users; 调动: they "
            "also leave (deletes stay refused: olcRestrict)")
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
        add("secadmin", rel, "person", READABLE, "read", "R5: sees whom it grants")
        add("secadmin", rel, "person", ["grants"], "write", "R5: grants and revokes access")
        add("auditor", rel, "people", ["entry"], "read", "R6: reads")
        add("auditor", rel, "person", [*READABLE, "grants", "formref"], "read",
            "R6: reads, changes nothing")
    add("self", "-", "person", [*READABLE, "grants", "private", "idnumber", "formref", "certificate"],
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


def admins(add: Adder) -> None:
    """Admin accounts at node C, managed by the admins of C's parent P."""
    add("sysadmin", "parent", "admins", ["entry"], "add", "R4: creates the next level's admin accounts")
    add("sysadmin", "parent", "admins", ["children"], MOVES,
        "R4: creates the next level's admin accounts; 调动: they also leave (deletes stay refused)")
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
    add("secadmin", "parent", "admin", [*READABLE, "role", "scope", "confirm"], "read",
        "R5: sees whom it grants")
    add("secadmin", "parent", "admin", ["role"], "write", "R5: sets the role its form names")
    add("secadmin", "parent", "admin", ["scope"], "write",
        "R5: sets the scope, which can only be the account's own node", value=SCOPE_IS_NODE)
    add("secadmin", "parent", "admin", ["scope"], "=z", "R5: replaces a scope (the new value as above)")
    add("auditor", "parent", "admins", ["entry"], "read", "R6: reads")
    add("auditor", "parent", "admin", [*READABLE, "role", "scope", "formref", "confirm"], "read",
        "R6: reads")
    for role in ROLES:  # the three admins of one department see each other (R6 audits them)
        add(role, "own", "admins", ["entry"], "read", "colleagues of one department")
        add(role, "own", "admin", [*READABLE, "role", "scope", "formref", "signin"], "read",
            "colleagues of one department")
    add("self", "-", "admin", [*READABLE, "role", "scope", "private", "idnumber", "formref", "signin"],
        "read", "own data, R13 check")
    add("self", "-", "admin", ["confirm"], "write",
        "R13: confirms role and scope at first login, or reports a mismatch")
    add("self", "-", "admin", ["password"], "=wx",
        "R18: own password, only through the password service's policy check")
    add("anonymous", "-", "admin", ["password"], "auth", "bind")
