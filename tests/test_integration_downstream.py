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


def test_a_one_time_password_opens_no_downstream_system(world: w.World, service: tuple[str, str]) -> None:
    """After an admin's reset, the password the admin knows (and the hand-over slip prints)
    finds nothing downstream: ppolicy's "must change" on the bind is a response control that
    clients such as Apache's mod_authnz_ldap ignore, so the directory hides the account from
    services until its owner has chosen a password."""
    from idm.auth import policy, selfservice

    dn, uid = user(world)
    assert authenticate(world, service, uid, "Downstream-Passw0rd-1") == ["teacher#viewer"]
    reset = world.form_about("change", dn, change_type="reset")
    one_time = world.act("sysadmin", "reset-password", reset, uid).result
    assert authenticate(world, service, uid, one_time) is None
    server = ldap3.Server(world.settings.host, port=world.settings.port)
    with ldap3.Connection(server, user=service[0], password=service[1], auto_bind=True) as svc:
        svc.search(world.settings.suffix, f"(uid={escape_filter_chars(uid)})", attributes=["cn"])
        assert svc.entries == []  # not even found: nothing for a careless client to bind against
    selfservice.change_password(world.settings.ldap_uri, world.settings.suffix, world.settings.secrets_dir,
                                dn, one_time, "Owner-Chose-Passw0rd-9", policy.PROFILES["mlps3"])
    assert authenticate(world, service, uid, one_time) is None
    assert authenticate(world, service, uid, "Owner-Chose-Passw0rd-9") == ["teacher#viewer"]


def test_a_new_account_is_invisible_until_its_owner_signs_in(world: w.World,
                                                             service: tuple[str, str]) -> None:
    registration = world.form("registration", world.nodes["own"])
    created = world.act("sysadmin", "create-user", registration).result
    assert authenticate(world, service, created.uid, created.password) is None


def test_a_service_reads_no_form_no_private_data_no_tree(world: w.World, service: tuple[str, str]) -> None:
    """Not its own registration form (which names it, with the contact person's ID number and
    mobile), no unit, no role group: the user entries in its scope, its own entry, the suffix
    and the app catalogue are all it finds."""
    server = ldap3.Server(world.settings.host, port=world.settings.port)
    suffix = world.settings.suffix
    with ldap3.Connection(server, user=service[0], password=service[1], auto_bind=True) as svc:
        svc.search(suffix, "(objectClass=idmRecord)", attributes=["*"])
        assert svc.entries == []
        svc.search(suffix, "(|(idmIdNumber=*)(idmRecordPrivate=*)(mobile=*))", attributes=["*"])
        assert svc.entries == []
        svc.search(suffix, "(objectClass=*)", attributes=["1.1"])
        found = {e.entry_dn.lower() for e in svc.entries}
    allowed = (suffix, f"ou=apps,{suffix}", service[0].lower())
    strays = [dn for dn in found
              if dn not in allowed and not dn.endswith(f",ou=apps,{suffix}")
              and not (dn.startswith("uid=") and ",ou=people," in dn)]
    assert strays == []
    scoped = w.scoped_service(world.settings, "scoped-reader", world.nodes["own"])
    with ldap3.Connection(server, user=scoped, password=w.PASSWORD, auto_bind=True) as svc:
        svc.search(suffix, "(|(objectClass=idmOrgUnit)(objectClass=groupOfURLs)(objectClass=idmRecord))",
                   attributes=["1.1"])
        assert svc.entries == []
        dn, uid = user(world, "child")
        svc.search(suffix, f"(uid={uid})", attributes=["idmGrant"])
        assert [e.entry_dn for e in svc.entries] == [dn]  # its group test still works without reading it


def test_a_unit_can_be_the_search_base(world: w.World, service: tuple[str, str]) -> None:
    """Units are hidden from services, yet a unit or its ou=people may be a search's base
    (as nslcd or Apache are often configured), and the entry itself is still not returned."""
    _, uid = user(world)
    server = ldap3.Server(world.settings.host, port=world.settings.port)
    own = world.nodes["own"]
    with ldap3.Connection(server, user=service[0], password=service[1], auto_bind=True) as svc:
        for base in (own, f"ou=people,{own}"):
            svc.search(base, f"(uid={uid})", attributes=["uid"])
            assert [e.uid.value for e in svc.entries] == [uid], base
        svc.search(own, "(objectClass=*)", search_scope=ldap3.BASE, attributes=["*"])
        assert svc.entries == []
