"""Rules on the tree and on the toolkit's and downstream systems' service accounts: who finds
accounts at sign-in, what downstream systems read, who reads and delegates org units."""

from __future__ import annotations

from idm.rules.terms import LOOKUP_SERVICE, SERVICE_POLICY, USABLE, Adder


def lookup_and_downstream(add: Adder) -> None:
    """The web UI's lookup account and downstream systems' reading of accounts."""
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


def services(add: Adder) -> None:
    """Downstream service accounts of a level (ou=services)."""
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


def nodes(add: Adder) -> None:
    """Org nodes: public within the toolkit; delegation set by the parent's security admin (R2)."""
    add("secadmin", "parent", "node", ["delegation", "formref"], "write",
        "R2/R5: assigns org scope, on a delegation form")
    add("users", "-", "node", ["entry", "objectclass", "names", "delegation", "formref", "rest"],
        "read", "the tree is not confidential")
