"""Rules on the records a node keeps: request forms (R10-R12), certificate records (R19), access
review campaigns (R16)."""

from __future__ import annotations

from idm.rules.terms import ACTIVE, FORM_KINDS, LOOKUP_SERVICE, ROLES, Adder


def forms(add: Adder) -> None:
    """Request forms, kept by the department that processes them."""
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


def certs(add: Adder) -> None:
    """Certificate records under the user's node."""
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


def reviews(add: Adder) -> None:
    """Access reviews, kept at the node that reviews."""
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
