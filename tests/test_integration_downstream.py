"""A downstream system, played by ldap3 (an independent LDAP client, no idm code): its service
account, created by the level's system admin, finds a user by uid, checks the grants, and
authenticates the user by binding as them — the recipe in docs/integration.md."""

from __future__ import annotations

import gc
from collections.abc import Iterator

import ldap3
import pytest
from ldap3.utils.conv import escape_filter_chars

from idm.errors import PermissionDenied
from tests import world as w
from tests.conftest import ops, run_cli

# ldap3 (the independent client, tests only) can leave the socket of a refused operation to the
# garbage collector; that is ldap3's housekeeping, not a finding about the directory. Collect
# here, so the warning is not reported against whichever test runs next.
pytestmark = [pytest.mark.filterwarnings("ignore::pytest.PytestUnraisableExceptionWarning"),
              pytest.mark.filterwarnings("ignore::ResourceWarning")]


@pytest.fixture(autouse=True)
def collect_ldap3_sockets() -> Iterator[None]:
    yield
    gc.collect()


@pytest.fixture(scope="module")
def service(world: w.World) -> tuple[str, str]:
    registration = world.form("service", world.nodes["own"], service_name="teacher-mis")
    created = world.act("sysadmin", "create-service", registration).result
    return created.dn, created.secret


def user(world: w.World, rel: str = "own", state: str = "active") -> tuple[str, str]:
    dn = world.target("person", rel)
    with ops(world.settings) as session:
        session.set_password(dn, "Downstream-Passw0rd-1")
        session.replace(dn, {"pwdReset": [], "idmGrant": ["teacher#viewer"]})
        if state == "disabled":
            session.replace(dn, {"idmStatus": ["disabled"], "pwdAccountLockedTime": ["000001010000Z"]})
    return dn, dn.split(",")[0].split("=")[1]


def authenticate(world: w.World, service: tuple[str, str], uid: str, password: str) -> list[str] | None:
    """The integration recipe: search by uid as the service, then bind as the user."""
    server = ldap3.Server(world.settings.host, port=world.settings.port)
    with ldap3.Connection(server, user=service[0], password=service[1], auto_bind=True) as svc:
        svc.search(world.settings.suffix,
                   f"(&(objectClass=idmBusinessAccount)(idmStatus=active)(uid={escape_filter_chars(uid)}))",
                   attributes=["cn", "idmGrant", "idmIdNumber", "mobile"])
        if len(svc.entries) != 1:
            return None
        entry = svc.entries[0]
        values = entry.entry_attributes_as_dict
        assert not values.get("idmIdNumber") and not values.get("mobile")  # asked for, not given
        dn, grants = entry.entry_dn, list(entry.idmGrant.values)
    person = ldap3.Connection(server, user=dn, password=password)
    try:
        ok = person.bind()
    finally:
        person.unbind()
        if person.socket is not None:  # ldap3 leaves the socket of a refused bind open
            person.socket.close()
    return grants if ok else None


def test_the_recipe_works_for_active_users_in_scope(world: w.World, service: tuple[str, str]) -> None:
    for rel in ("own", "child", "delegated"):
        _, uid = user(world, rel)
        assert authenticate(world, service, uid, "Downstream-Passw0rd-1") == ["teacher#viewer"], rel
    _, uid = user(world)
    assert authenticate(world, service, uid, "wrong") is None


def test_nothing_outside_scope_nothing_disabled_no_writes(world: w.World, service: tuple[str, str]) -> None:
    _, elsewhere = user(world, "sibling")
    _, gone = user(world, state="disabled")
    assert authenticate(world, service, elsewhere, "Downstream-Passw0rd-1") is None
    assert authenticate(world, service, gone, "Downstream-Passw0rd-1") is None
    dn, _ = user(world)
    server = ldap3.Server(world.settings.host, port=world.settings.port)
    with ldap3.Connection(server, user=service[0], password=service[1], auto_bind=True) as svc:
        assert not svc.modify(dn, {"cn": [(ldap3.MODIFY_REPLACE, ["x"])]})
        svc.search(f"ou=forms,{world.nodes['own']}", "(objectClass=*)")
        assert svc.entries == []


def test_only_the_levels_system_admin_creates_them(world: w.World, cli_admins: dict[str, str],
                                                    tmp_path) -> None:  # type: ignore[no-untyped-def]
    not_mine = world.form("service", world.nodes["own"], service_name="not-mine")
    with pytest.raises(PermissionDenied):
        world.act("secadmin", "create-service", not_mine)
    sibling = world.form("service", world.nodes["sibling"], service_name="sibling-svc")  # by the operator
    with pytest.raises(PermissionDenied):
        world.act("sysadmin", "create-service", sibling)  # a sibling city
    out = tmp_path / "svc.secret"
    made_up = run_cli(world.settings, "service", "create", "--form", "NO-SUCH-FORM", "--secret-out", str(out),
                      "--as", cli_admins["sysadmin"])
    assert made_up.exit_code == 1 and "NO-SUCH-FORM" in made_up.output and not out.exists()
    grant_form = world.form_about("grant", world.target("person", "own"), grants_add=["teacher#viewer"])
    wrong = run_cli(world.settings, "service", "create", "--form", grant_form, "--secret-out", str(out),
                    "--as", cli_admins["sysadmin"])
    assert wrong.exit_code == 1 and "downstream service registration" in wrong.output and not out.exists()
    registration = world.form("service", world.nodes["own"], service_name="student-mis")
    result = run_cli(world.settings, "service", "create", "--form", registration, "--secret-out", str(out),
                     "--as", cli_admins["sysadmin"])
    assert result.exit_code == 0, result.output
    assert out.stat().st_mode & 0o777 == 0o600
