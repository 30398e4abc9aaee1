"""Act as the person: the toolkit's writer runs each admin operation as the signed-in admin by
proxied authorization; slapd applies that admin's rules and logs that admin."""

from __future__ import annotations

import pytest

from idm.auth import signin
from idm.errors import NotFound, PermissionDenied
from idm.identity import accounts
from idm.rules import actor as actors
from tests import world as w
from tests.conftest import ops


def as_admin(world: w.World, role: str):  # type: ignore[no-untyped-def]
    return signin.admin_session(world.settings, world.actors[role])


def test_operations_run_with_the_admins_rights_and_are_logged_as_the_admin(world: w.World) -> None:
    dn = world.target("person", "own")
    with as_admin(world, "sysadmin") as session:
        actor = actors.load(session)
        assert actor.role == "sysadmin" and actor.dn == world.actors["sysadmin"]
        account = accounts.get(session, dn)
        assert account.id_number  # the sysadmin's own view, not the service account's
        accounts.disable(session, account, "经由 Web 界面", "F-proxied")  # the write alone: slapd decides
    with ops(world.settings) as session:
        log = list(session.search("cn=accesslog", f"(&(reqType=modify)(reqDN={dn}))", ["reqAuthzID"]))
    assert log[-1][1]["reqAuthzID"][0].lower() == world.actors["sysadmin"].lower()


def test_the_service_cannot_exceed_the_admin(world: w.World) -> None:
    dn = world.target("person", "sibling")
    with as_admin(world, "auditor") as session:
        with pytest.raises(NotFound):
            accounts.get(session, dn)  # the auditor of 150100 cannot see 150200's users
        own = accounts.get(session, world.target("person", "own"))
        with pytest.raises(PermissionDenied):
            accounts.disable(session, own, "x", "F-proxied")
