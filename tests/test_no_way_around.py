"""Every way around the rules found from outside (issue "No way around the rules"), each as a
regression test against the real slapd: an admin's own bind with the standard tools, the
toolkit's writer used with none of the toolkit's checks, an entry of another kind, a made-up
form, one ID number under two names, the downstream view, an admin's reset."""

from __future__ import annotations

import subprocess

import ldap
import pytest
from ldap.controls.simple import ProxyAuthzControl

from idm.auth import selfservice, signin
from idm.auth.policy import PROFILES
from idm.directory import connection, lookup
from idm.errors import InvalidInput, PermissionDenied
from idm.filing import forms
from idm.filing.fields import FormData
from idm.oversight import seal, seal_key
from idm.rules import actor as actors
from idm.rules.terms import WRITER
from tests import world as w
from tests.conftest import ops, snapshot


def ldapmodify(world: w.World, who: str, ldif: str) -> subprocess.CompletedProcess[str]:
    """The standard tool, with the admin's own password."""
    return subprocess.run(["ldapmodify", "-x", "-H", world.settings.ldap_uri, "-D", who, "-w", w.PASSWORD],
                          input=ldif, capture_output=True, text=True, check=False)


def writer(world: w.World, role: str) -> tuple[ldap.ldapobject.LDAPObject, list[ProxyAuthzControl]]:
    """The toolkit's writer acting as the admin, used raw: what slapd alone allows."""
    conn = ldap.initialize(world.settings.ldap_uri)
    conn.simple_bind_s(world.settings.service_dn(WRITER),
                       lookup.read_secret(world.settings.secrets_dir / f"{WRITER}.secret"))
    return conn, [ProxyAuthzControl(True, f"dn:{world.actors[role]}".encode())]


def bound(world: w.World, dn: str, password: str) -> bool:
    return subprocess.run(["ldapwhoami", "-x", "-H", world.settings.ldap_uri, "-D", dn, "-w", password],
                          capture_output=True, check=False).returncode == 0


def disabled_user(world: w.World) -> str:
    dn = world.target("person", "own")
    with ops(world.settings) as session:
        session.set_password(dn, "Disabled-Passw0rd-1")
        session.replace(dn, {"pwdReset": [], "idmStatus": ["disabled"],
                             "pwdAccountLockedTime": ["000001010000Z"]})
    return dn


def test_a_system_admins_own_ldapmodify_writes_nothing(world: w.World) -> None:
    dn = disabled_user(world)
    sysadmin = world.actors["sysadmin"]
    before = snapshot(world.settings)
    attempts = [
        f"dn: {dn}\nchangetype: modify\ndelete: pwdAccountLockedTime\n",  # unlock a disabled user
        f"dn: {dn}\nchangetype: modify\nreplace: idmStatus\nidmStatus: active\n",  # restore, no form
        f"dn: {dn}\nchangetype: modify\nadd: uid\nuid: second-login\n",  # a second uid
        f"dn: {dn}\nchangetype: modify\ndelete: idmFormRef\n",
        f"dn: {dn}\nchangetype: modify\ndelete: idmIdNumber\n-\ndelete: mobile\n",  # R15's tracing data
        # a business user with no form, a made-up form, and a password its adder chose
        f"dn: uid=noform1,ou=people,{world.nodes['own']}\nchangetype: add\nobjectClass: idmBusinessAccount\n"
        "uid: noform1\ncn: x\nsn: x\nidmStatus: active\n",
        f"dn: uid=noform2,ou=people,{world.nodes['own']}\nchangetype: add\nobjectClass: idmBusinessAccount\n"
        "uid: noform2\ncn: x\nsn: x\nidmStatus: active\nidmFormRef: MADE-UP\n"
        "userPassword: Chosen-Passw0rd-1\n",
    ]
    for ldif in attempts:
        proc = ldapmodify(world, sysadmin, ldif)
        # 50: the rules; 19: a second uid is refused by slapo-constraint even before them
        assert proc.returncode in (19, 50) if "add: uid" in ldif else proc.returncode == 50, \
            (ldif, proc.returncode, proc.stderr)
    assert snapshot(world.settings) == before
    assert not bound(world, dn, "Disabled-Passw0rd-1")


def test_no_entry_of_another_kind_under_services_even_through_the_writer(world: w.World) -> None:
    """A fake auditor under ou=services: refused by the sysadmin's own bind and by the writer
    acting as the sysadmin (objectClass value rules); so are grants and proxy rights there."""
    container = f"ou=services,{world.nodes['own']}"
    fake = [("objectClass", [b"idmAdminAccount"]), ("uid", [b"fake.audit"]), ("cn", [b"x"]), ("sn", [b"x"]),
            ("idmStatus", [b"active"]), ("idmAdminRole", [b"auditor"]),
            ("userPassword", [b"Fake-Passw0rd-1"])]
    with pytest.raises(ldap.INSUFFICIENT_ACCESS):
        world.raw("sysadmin").add_s(f"uid=fake.audit,{container}", fake)
    conn, as_sysadmin = writer(world, "sysadmin")
    before = snapshot(world.settings)
    for dn, entry in (
        (f"uid=fake.audit,{container}", fake),
        (f"uid=fake.audit,{container}", fake[:5]),  # another kind, even without role and password
        (f"cn=svc-grant,{container}", [("objectClass", [b"idmServiceAccount"]), ("cn", [b"svc-grant"]),
                                      ("idmStatus", [b"active"]), ("authzTo", [b"dn.regex:.*"])]),
        (f"cn=svc-scope,{container}", [("objectClass", [b"idmServiceAccount"]), ("cn", [b"svc-scope"]),
                                      ("idmStatus", [b"active"]),
                                      ("idmScope", [world.settings.suffix.encode()])]),
        (f"uid=person1,ou=people,{world.nodes['own']}",  # a business user born with a grant
         [("objectClass", [b"idmBusinessAccount"]), ("uid", [b"person1"]), ("cn", [b"x"]), ("sn", [b"x"]),
          ("idmStatus", [b"active"]), ("idmGrant", [b"teacher#viewer"])]),
        (f"uid=admin1,ou=admins,{world.nodes['child']}",  # an admin born with a role
         [("objectClass", [b"idmAdminAccount"]), ("uid", [b"admin1"]), ("cn", [b"x"]), ("sn", [b"x"]),
          ("idmStatus", [b"active"]), ("idmAdminRole", [b"auditor"])]),
        (f"uid=pw1,ou=people,{world.nodes['own']}",  # a password chosen by its adder
         [("objectClass", [b"idmBusinessAccount"]), ("uid", [b"pw1"]), ("cn", [b"x"]), ("sn", [b"x"]),
          ("idmStatus", [b"active"]), ("userPassword", [b"Chosen-Passw0rd-1"])]),
    ):
        with pytest.raises(ldap.INSUFFICIENT_ACCESS):
            conn.add_ext_s(dn, entry, serverctrls=as_sysadmin)
    assert snapshot(world.settings) == before


def test_a_role_held_outside_ou_admins_gives_no_authority(world: w.World) -> None:
    """Were such an entry ever put there (by the operator), it reads no seal and no log."""
    dn = f"cn=fake-auditor,ou=services,{world.nodes['own']}"
    with ops(world.settings) as session:
        session.conn.add_s(dn, [("objectClass", [b"idmServiceAccount"]), ("cn", [b"fake-auditor"]),
                                ("idmStatus", [b"active"])])
        session.conn.modify_s(dn, [(ldap.MOD_ADD, "objectClass", [b"extensibleObject"]),
                                   (ldap.MOD_ADD, "idmAdminRole", [b"auditor"])])
        session.set_password(dn, w.PASSWORD)
        session.conn.modify_s(dn, [(ldap.MOD_DELETE, "pwdReset", None)])
        # there is a seal to read
        seal.seal(session, seal_key.load(world.settings.data_dir, create=True), settle=seal.AT_ONCE)
        assert list(session.search(f"ou=seals,ou=system,{world.settings.suffix}", attrs=["1.1"]))
    conn = ldap.initialize(world.settings.ldap_uri)
    conn.simple_bind_s(dn, w.PASSWORD)
    for base in (f"ou=seals,ou=system,{world.settings.suffix}", "cn=accesslog"):
        with pytest.raises(ldap.NO_SUCH_OBJECT):
            conn.search_s(base, ldap.SCOPE_SUBTREE)


def test_a_security_admin_cannot_grant_to_a_disabled_user_or_widen_a_scope(world: w.World) -> None:
    dn = world.target("person", "own", state="disabled")
    request = world.form_about("grant", dn, grants_add=["teacher#viewer"])
    with pytest.raises(InvalidInput, match="disabled"):
        world.act("secadmin", "grant", request, dn.split(",")[0][4:], "teacher#viewer")
    session, actor = world.session("secadmin")
    with session:
        with pytest.raises(PermissionDenied):  # and slapd, were the toolkit to try
            session.modify(dn, [(ldap.MOD_ADD, "idmGrant", ["teacher#viewer"])])
    with pytest.raises(ldap.INSUFFICIENT_ACCESS):
        world.raw("secadmin").modify_s(dn, [(ldap.MOD_ADD, "idmGrant", [b"teacher#viewer"])])
    county_admin = world.target("admin", "child", role=None)
    conn, as_secadmin = writer(world, "secadmin")
    for scope in (world.nodes["parent"], world.settings.suffix, world.nodes["own"], world.nodes["sibling"]):
        with pytest.raises(ldap.INSUFFICIENT_ACCESS):
            conn.modify_ext_s(county_admin, [(ldap.MOD_REPLACE, "idmScope", [scope.encode()])],
                              serverctrls=as_secadmin)
    with pytest.raises(ldap.INSUFFICIENT_ACCESS):
        world.raw("secadmin").modify_s(county_admin,
                                       [(ldap.MOD_REPLACE, "idmScope", [b"ou=150000,dc=edu,dc=cn"])])
    conn.modify_ext_s(county_admin, [(ldap.MOD_REPLACE, "idmScope", [world.nodes["child"].encode()])],
                      serverctrls=as_secadmin)  # its own node: the one value allowed


def test_a_disabled_accounts_data_stays_even_through_the_writer(world: w.World) -> None:
    dn = disabled_user(world)
    session, _ = world.session("sysadmin")
    with session:
        for mods in ([(ldap.MOD_DELETE, "idmIdNumber", None)], [(ldap.MOD_DELETE, "mobile", None)],
                     [(ldap.MOD_REPLACE, "cn", ["改名"])]):
            with pytest.raises(PermissionDenied):
                session.modify(dn, mods)
    active = world.target("person", "own")
    session, _ = world.session("sysadmin")
    with session:  # an active account's ID number is written once, never replaced or removed
        for mods in ([(ldap.MOD_DELETE, "idmIdNumber", None)],
                     [(ldap.MOD_REPLACE, "idmIdNumber", [w.id_number(99_999)])]):
            with pytest.raises(PermissionDenied):
                session.modify(active, mods)


def test_a_still_locked_account_is_never_listed_active_downstream(world: w.World) -> None:
    """The own bind cannot mark a disabled account active; and were the status ever to say
    active while the disable's lock stays (the writer, used without the toolkit's restore),
    downstream systems still do not see it: their rule wants both."""
    dn = disabled_user(world)
    with pytest.raises(ldap.INSUFFICIENT_ACCESS):
        world.raw("sysadmin").modify_s(dn, [(ldap.MOD_REPLACE, "idmStatus", [b"active"])])
    probe = w.scoped_service(world.settings, "locked-probe", world.nodes["own"])
    session, _ = world.session("sysadmin")
    with session:
        session.replace(dn, {"idmStatus": ["active"]})
    conn = ldap.initialize(world.settings.ldap_uri)
    conn.simple_bind_s(probe, w.PASSWORD)
    uid = dn.split(",")[0].split("=")[1]
    assert conn.search_s(world.settings.suffix, ldap.SCOPE_SUBTREE, f"(uid={uid})", ["uid"]) == []
    assert not bound(world, dn, "Disabled-Passw0rd-1")


def test_one_id_number_one_name_across_units_and_pending_forms(world: w.World) -> None:
    """张大伟 registered and created at Hohhot; 李小童 with the same number at Baotou is refused,
    naming the unit, not the person; two pending forms under two names likewise; 张大伟's own
    disable form still works."""
    number = w.id_number(424_242 % 336_000)
    with ops(world.settings) as session:
        baotou = w.make_admin(session, world.nodes["sibling"], "bt2.sys", "sysadmin")
    registration = world.form("registration", world.nodes["own"], name="张大伟", id_number=number)
    created = world.act("sysadmin", "create-user", registration).result
    with signin.admin_session(world.settings, baotou) as bt, pytest.raises(InvalidInput) as refused:
        forms.add(bt, actors.load(bt), FormData(kind="registration", unit="150200", name="李小童",
                                               id_number=number, mobile="13900000001"))
    assert "呼和浩特市" in refused.value.zh and "张大伟" not in str(refused.value)
    other = w.id_number(424_243 % 336_000)
    world.form("registration", world.nodes["own"], name="王一", id_number=other)
    with pytest.raises(InvalidInput, match="under another name"):
        world.form("registration", world.nodes["own"], name="王二", id_number=other)
    with ops(world.settings) as op_session, pytest.raises(Exception, match="non-unique"):
        op_session.add(f"uid=copy,ou=people,{world.nodes['sibling']}", {  # slapd itself: one account
            "objectClass": ["idmBusinessAccount"], "uid": ["copy"], "cn": ["张大伟"], "sn": ["张"],
            "idmStatus": ["active"], "idmIdNumber": [number]})
    disable = world.form_about("change", created.dn, change_type="disable", reason="调离")
    world.act("sysadmin", "disable", disable, created.uid)


def test_downstream_sees_no_contact_data_and_no_masked_number(world: w.World) -> None:
    dn = w.scoped_service(world.settings, "contact-probe", world.nodes["own"])
    with ops(world.settings) as session:
        user = world.target("person", "own")
        session.replace(user, {"mail": ["someone@demo.edu.cn"], "telephoneNumber": ["0471-2850099"]})
    conn = ldap.initialize(world.settings.ldap_uri)
    conn.simple_bind_s(dn, w.PASSWORD)
    seen = conn.search_s(user, ldap.SCOPE_BASE, attrlist=["*"])[0][1]
    assert "uid" in seen and "cn" in seen and "idmStatus" in seen
    for private in ("mail", "idmIdMasked", "idmIdNumber", "mobile", "telephoneNumber"):
        assert private not in seen, private


def test_an_admins_reset_works_within_the_owners_minimum_age_and_forces_a_change(world: w.World) -> None:
    dn = world.target("person", "own")
    with ops(world.settings) as session:  # a one-time password, which the owner must change
        session.set_password(dn, "Owner-Passw0rd-1")
        session.replace(dn, {"pwdReset": ["TRUE"]})
    settings = world.settings
    selfservice.change_password(settings.ldap_uri, settings.suffix, settings.secrets_dir, dn,
                                "Owner-Passw0rd-1", "Owner-Passw0rd-2", PROFILES["mlps3"])  # the owner's own
    with pytest.raises(Exception, match="too young"):  # the minimum age binds the owner
        selfservice.change_password(settings.ldap_uri, settings.suffix, settings.secrets_dir, dn,
                                    "Owner-Passw0rd-2", "Owner-Passw0rd-3", PROFILES["mlps3"])
    reset = world.form_about("change", dn, change_type="reset")
    password = world.act("sysadmin", "reset-password", reset, dn.split(",")[0][4:]).result
    conn, state = connection.bind_with_policy(settings.ldap_uri, dn, password)
    conn.unbind_s()
    assert state.must_change
