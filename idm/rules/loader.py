"""Rules of the loader (`idm load`): it adds the tree, its containers and accounts as itself,
through the same rules as everyone, and acts for nobody."""

from __future__ import annotations

from idm.rules.terms import CONTAINER_TARGETS, LEGACY, LOADER, Adder


def loader(add: Adder) -> None:
    """Bulk loads: add, never replace or delete; read what a rerun compares."""
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
