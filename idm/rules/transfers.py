"""Rules of a transfer (调动) of an account from one unit to another.

Both departments consent, each within its own scope. The releasing side writes where the
account goes (`idmReleasedTo`: 调出), the receiving side moves it (调入: a modrdn with a new
superior), which slapd allows only on an active entry released to the mover's own unit. A
modrdn needs write on the entry, delete on the old container's children and add on the new
one's; slapd's `olcRestrict: delete` keeps the first two from ever meaning a delete. At the new
place the receiving side removes what the person loses: the old unit's grants, an admin's role
and scope (the new level's security admin sets them afresh, R3/R13).
"""

from __future__ import annotations

from idm.rules.terms import ACTIVE, RELEASED, Adder

SEEN = ["objectclass", "naming", "names", "status", "profile", "transfer", "rest"]
DROPS = "=rscxdz"  # reads as before, and removes the values


# The receiving side's reads must not hide the holding side's writes of the same attributes: a
# clause of released entries gives whoever it names first what that rule says. So the holding
# side's writes of the release itself are declared for released entries too (its writes through
# the writer come before any plain read in a clause).


def transfers(add: Adder) -> None:
    for rel in ("own", "delegated"):
        add("sysadmin", rel, "person", ["transfer"], "write",
            "调出: releases an active user to another unit, or takes the release back", ACTIVE)
        add("sysadmin", rel, "person", ["transfer"], "write",
            "调出/调入: takes the release back, or ends it once the user has arrived", RELEASED)
        add("sysadmin", rel, "person", ["grants"], DROPS,
            "调入: the old unit's grants end with the move (the new unit's security admin grants "
            "afresh)", RELEASED)
    add("sysadmin", "parent", "admin", ["transfer"], "write",
        "调出: releases an active admin account of the next level, or takes the release back", ACTIVE)
    add("sysadmin", "parent", "admin", ["transfer"], "write",
        "调出/调入: takes the release back, or ends it once the account has arrived", RELEASED)
    add("sysadmin", "parent", "admin", ["role", "scope", "confirm"], DROPS,
        "调入: the role ends with the move; the new level's security admin sets one (R3/R13)", RELEASED)
    for rel in ("receiving", "receiving-delegated"):
        add("sysadmin", rel, "person", ["entry"], "write",
            "调入: moves the user released to its unit (its own rights decide where to)", RELEASED)
        add("sysadmin", rel, "person", ["naming"], "write", "调入: the moved entry keeps its login", RELEASED)
        add("sysadmin", rel, "person", SEEN, "read", "调入: sees whom it accepts", RELEASED)
        add("sysadmin", rel, "person", ["idnumber"], "search",
            "调入: matches the form's ID number, never reads it (R17)", RELEASED)
    add("sysadmin", "receiving-parent", "admin", ["entry"], "write",
        "调入: moves the admin account released to the next level", RELEASED)
    add("sysadmin", "receiving-parent", "admin", ["naming"], "write", "调入: it keeps its login", RELEASED)
    add("sysadmin", "receiving-parent", "admin", SEEN, "read", "调入: sees whom it accepts", RELEASED)
    add("sysadmin", "receiving-parent", "admin", ["idnumber"], "search",
        "调入: matches the form's ID number, never reads it (R17)", RELEASED)
    for container in ("people", "admins"):
        add("sysadmin", "anywhere", container, ["children"], "=z",
            "调动: an entry leaves its container (with the entry's own rights above; nothing is "
            "ever deleted: olcRestrict)")
        add("sysadmin", "anywhere", container, ["entry"], "search",
            "调入: searches a container for the accounts released to its unit (each entry's own "
            "rules decide what it finds)")
