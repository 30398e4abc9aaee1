"""Delegated administration beyond the matrix: no deletes, disable/restore with real binds,
downstream visibility, masking, the write log's actor, R3, legacy accounts, CLI, bad input."""

from __future__ import annotations

import subprocess
from pathlib import Path

import ldap
import pytest

from idm import pipeline
from idm.auth import policy, selfservice
from idm.config import Settings
from idm.errors import InvalidInput, NotFound, PermissionDenied
from idm.identity import accounts, grants, legacy
from idm.identity.person import Person
from tests import world as w
from tests.conftest import enrol_factor, ops, run_cli, snapshot, totp_code


@pytest.fixture(scope="module")
def downstream(world: w.World) -> str:
    """A downstream system's service account scoped to Hohhot (150100)."""
    return w.scoped_service(world.settings, "teacher-system", world.nodes["own"])


def ldap_cli(tool: str, settings: Settings, dn: str | None, *args: str) -> subprocess.CompletedProcess[str]:
    auth = ["-x", "-D", dn, "-w", w.PASSWORD] if dn else ["-x"]
    return subprocess.run([tool, "-H", settings.ldap_uri, *auth, *args], capture_output=True, text=True,
                          check=False)


def test_nobody_deletes_anything_with_ldapdelete(world: w.World, downstream: str) -> None:
    person = world.target("person", "own")
    user_dn = world.target("person", "own")
    with ops(world.settings) as session:
        session.set_password(user_dn, w.PASSWORD)
        session.conn.modify_s(user_dn, [(ldap.MOD_DELETE, "pwdReset", None)])
    victims = [person, world.target("admin", "child"), world.target("person", "delegated"),
               world.nodes["grandchild"], f"ou=people,{world.nodes['child']}",
               f"ou=admins,{world.nodes['child']}", f"cn=teacher,ou=apps,{world.settings.suffix}",
               downstream, world.actors["auditor"]]
    identities = [*world.actors.values(), user_dn, downstream, None]
    before = snapshot(world.settings)
    for who in identities:
        for victim in victims:
            proc = ldap_cli("ldapdelete", world.settings, who, victim)
            assert proc.returncode in (8, 32, 50, 53), (who, victim, proc.returncode, proc.stderr)
    assert snapshot(world.settings) == before


def test_disable_locks_binds_hides_from_downstream_and_keeps_data(world: w.World, downstream: str) -> None:
    dn = world.target("person", "own")
    with ops(world.settings) as session:
        session.set_password(dn, w.PASSWORD)
        session.conn.modify_s(dn, [(ldap.MOD_DELETE, "pwdReset", None)])
    uid = dn.split(",")[0].split("=")[1]

    def downstream_sees() -> bool:
        out = ldap_cli("ldapsearch", world.settings, downstream, "-LLL", "-b", world.nodes["own"],
                       f"(uid={uid})", "uid")
        return f"uid: {uid}" in out.stdout

    assert ldap_cli("ldapwhoami", world.settings, dn).returncode == 0
    assert downstream_sees()
    disable = world.form_about("change", dn, change_type="disable", reason="离职")
    world.act("sysadmin", "disable", disable, uid)
    assert ldap_cli("ldapwhoami", world.settings, dn).returncode == 49
    assert not downstream_sees()
    with ops(world.settings) as op_session:
        kept = accounts.get(op_session, dn)
    assert kept.status == "disabled" and kept.id_number and kept.status_reason == "离职"
    restore = world.form_about("change", dn, change_type="restore", reason="返岗")
    world.act("sysadmin", "restore", restore, uid)
    assert ldap_cli("ldapwhoami", world.settings, dn).returncode == 0
    assert downstream_sees()


def test_downstream_sees_active_users_in_scope_only_and_no_private_data(
    world: w.World, downstream: str
) -> None:
    mine = [world.target("person", rel) for rel in ("own", "child", "grandchild", "delegated")]
    theirs = [world.target("person", rel) for rel in ("sibling", "parent")]
    gone = world.target("person", "own", state="disabled")
    conn = ldap.initialize(world.settings.ldap_uri)
    conn.simple_bind_s(downstream, w.PASSWORD)
    found = {dn.lower(): attrs for dn, attrs in conn.search_s(
        world.settings.suffix, ldap.SCOPE_SUBTREE, "(objectClass=idmBusinessAccount)",
        ["uid", "idmIdNumber", "mobile", "idmGrant", "cn"])}
    assert all(dn.lower() in found for dn in mine)
    assert not any(dn.lower() in found for dn in [*theirs, gone])
    assert not any("idmIdNumber" in a or "mobile" in a for a in found.values())
    with pytest.raises((ldap.INSUFFICIENT_ACCESS, ldap.NO_SUCH_OBJECT)):
        conn.modify_s(mine[0], [(ldap.MOD_REPLACE, "cn", [b"x"])])


def test_id_numbers_are_masked_for_those_whose_duty_does_not_need_them(world: w.World) -> None:
    dn = world.target("person", "own")
    uid = dn.split(",")[0].split("=")[1]
    for role, full in (("sysadmin", True), ("secadmin", False), ("auditor", False)):
        session, _ = world.session(role)
        with session:
            account = accounts.find(session, uid)
        assert (account.id_number is not None) is full, role
        assert account.id_masked and "*" * 10 in account.id_masked


def test_the_write_log_names_the_admin(world: w.World) -> None:
    form = world.form("registration", world.nodes["own"], name="赵日志", id_number=w.id_number(901),
                      mobile="13900000009")
    created = world.act("sysadmin", "create-user", form).result
    with ops(world.settings) as op_session:
        log = list(op_session.search("cn=accesslog", f"(&(reqType=add)(reqDN={created.dn}))",
                                     ["reqAuthzID", "reqResult"]))
    assert len(log) == 1 and log[0][1]["reqResult"] == ["0"]
    assert log[0][1]["reqAuthzID"][0].lower() == world.actors["sysadmin"].lower()


def test_one_person_several_admin_accounts_is_listable(world: w.World) -> None:
    person = Person.checked("钱多号", w.id_number(777), "13900000007")
    made = []
    for uid, role in (("qian.sys", "sysadmin"), ("qian.aud", "auditor")):
        form = world.form("registration", "ou=150103," + world.nodes["own"], role=role, name=person.name,
                          id_number=person.id_number, mobile=person.mobile)
        made.append(world.act("sysadmin", "create-admin", form, login=uid).result)
    a, b = made
    session, actor = world.session("sysadmin")
    with session:
        shared = accounts.shared_holders(accounts.list_accounts(session, "150103", "admin"))
    assert {x.uid for x in shared[person.id_number]} == {a.uid, b.uid}


def test_legacy_post_accounts(world: w.World, tmp_path: Path) -> None:
    path = tmp_path / "posts.csv"
    path.write_text("uid,unit,post\nJS150100_01,150100,呼和浩特市教师管理岗\nJS150100_02,150100,"
                    "呼和浩特市教师审核岗\n", encoding="utf-8")
    with ops(world.settings) as session:
        earlier = dict((node.code, n) for node, n in legacy.report(session, "150100")).get("150100", 0)
        assert legacy.import_accounts(session, legacy.read(path)) == (2, 0)
        assert legacy.import_accounts(session, legacy.read(path)) == (0, 2)
        report = dict((node.code, n) for node, n in legacy.report(session, "150100"))
        assert report["150100"] == earlier + 2  # other tests of the shared tree leave posts too
        before = accounts.get(session, f"uid=JS150100_01,ou=people,{world.nodes['own']}")
        uuid_before = session.conn.search_s(before.dn, ldap.SCOPE_BASE, attrlist=["entryUUID"])[0][1]
        session.conn.modify_s(f"uid=JS150100_02,ou=people,{world.nodes['own']}",
                              [(ldap.MOD_ADD, "idmGrant", [b"teacher#viewer"])])  # carried over
    no_grant = world.form("grant", world.nodes["own"], account_uid="JS150100_01",
                          grants_add=["teacher#editor"])
    with pytest.raises(InvalidInput, match="R9"):
        world.act("secadmin", "grant", no_grant, before.uid, "teacher#editor")
    sec_session, sec = world.session("secadmin")
    with sec_session:
        with pytest.raises(PermissionDenied):  # slapd refuses it even through the writer
            sec_session.modify(before.dn, [(ldap.MOD_ADD, "idmGrant", ["teacher#editor"])])
    # revoking what a post account already had stays possible (R16), on a grant request
    second = f"uid=JS150100_02,ou=people,{world.nodes['own']}"
    revoke = world.form("grant", world.nodes["own"], account_uid="JS150100_02",
                        grants_remove=["teacher#viewer"])
    world.act("secadmin", "revoke", revoke, "JS150100_02", "teacher#viewer")
    with ops(world.settings) as op_session:
        assert not accounts.get(op_session, second).grants
    conversion = world.form("registration", world.nodes["own"], account_uid="JS150100_01", name="孙转化",
                            id_number=w.id_number(888), mobile="13900000008")
    password = world.act("sysadmin", "convert", conversion, "js150100_01").result
    assert password
    with ops(world.settings) as op_session:
        after = accounts.get(op_session, before.dn)
        uuid_after = op_session.conn.search_s(before.dn, ldap.SCOPE_BASE, attrlist=["entryUUID"])[0][1]
    assert after.uid == before.uid and not after.legacy and after.name == "孙转化"
    assert uuid_after == uuid_before
    grant = world.form_about("grant", after.dn, grants_add=["teacher#editor"])
    world.act("secadmin", "grant", grant, after.uid, "teacher#editor")


def test_admin_accounts_never_hold_grants(world: w.World) -> None:
    dn = world.target("admin", "child")
    with ops(world.settings) as session:
        account = accounts.get(session, dn)
        with pytest.raises(Exception, match="(?i)object class|not allowed"):
            session.conn.modify_s(dn, [(ldap.MOD_ADD, "idmGrant", [b"teacher#viewer"])])
    form = world.form_about("grant", dn, grants_add=["teacher#viewer"])
    with pytest.raises(InvalidInput, match="R8"):
        world.act("secadmin", "grant", form, account.uid, "teacher#viewer")


def test_a_disabled_admin_can_do_nothing_even_if_its_session_is_open(world: w.World) -> None:
    dn = world.target("person", "own")
    form = world.form_about("change", dn, change_type="disable", reason="x")
    session, actor = world.session("sysadmin")  # signed in while still active
    with ops(world.settings) as op_session:
        target = accounts.get(op_session, dn)
        op_session.replace(world.actors["sysadmin"], {"idmStatus": ["disabled"]})
    try:
        # slapd re-reads the actor's status: it may not even read the form any more
        with session, pytest.raises((PermissionDenied, NotFound)):
            pipeline.run(pipeline.Acting(session, actor), "disable", form, target.uid)
    finally:
        with ops(world.settings) as op_session:
            op_session.replace(world.actors["sysadmin"], {"idmStatus": ["active"]})


INJECTIONS = ["a,b", "a+b", "a=b", "a\\b", "#a", "a\x00b", "*)(uid=*", " a", "a ", "ａｂｃ", "x" * 300]


@pytest.mark.parametrize("value", INJECTIONS)
def test_injection_in_every_field_is_refused_or_inert(world: w.World, value: str) -> None:
    good = dict(name="王注入", id_number=w.id_number(950), mobile="13900000010")
    registration = world.form("registration", world.nodes["own"], **good)
    before = snapshot(world.settings)
    with pytest.raises(InvalidInput):
        world.act("sysadmin", "create-user", registration, login=value)
    assert snapshot(world.settings) == before
    session, actor = world.session("sysadmin")
    with session:
        for field in ("name", "id_number", "mobile", "email", "office_phone"):
            with pytest.raises(InvalidInput):
                Person.checked(**{**good, field: value})
        assert accounts.list_accounts(session, w.CITY, "business", text=value) == []
        with pytest.raises(Exception, match="no org unit|找不到"):
            accounts.list_accounts(session, value, "business")
    sec_session, sec = world.session("secadmin")
    with sec_session:
        before = snapshot(world.settings)
        with pytest.raises(InvalidInput):
            grants.check_grant(sec_session, f"teacher#{value}")
    assert snapshot(world.settings) == before


def test_overlong_reason_is_refused(world: w.World) -> None:
    dn = world.target("person", "own")
    before = snapshot(world.settings)
    with pytest.raises(InvalidInput, match="longer than 1024"):
        world.form_about("change", dn, change_type="disable", reason="因" * 1025)
    assert snapshot(world.settings) == before


def test_cli_as_admin_with_bilingual_refusal(world: w.World, cli_admins: dict[str, str],
                                             tmp_path: Path) -> None:
    import json

    form_file = tmp_path / "form.json"
    form_file.write_text(json.dumps({
        "kind": "registration", "unit": "150104", "name": "周管理", "id_number": w.id_number(960),
        "mobile": "13900000011", "role": "secadmin"}, ensure_ascii=False), encoding="utf-8")
    sys, sec, aud = cli_admins["sysadmin"], cli_admins["secadmin"], cli_admins["auditor"]
    added = run_cli(world.settings, "form", "add", str(form_file), "--as", sys)
    assert added.exit_code == 0, added.output
    form_id = added.output.split("recorded: ")[1].strip()
    created = run_cli(world.settings, "admin", "create", "--form", form_id, "--as", sys, "--uid", "zhou.yq")
    assert created.exit_code == 0, created.output
    assert "one-time password" in created.output
    role = run_cli(world.settings, "admin", "set-role", "zhou.yq", "--form", form_id, "--as", sec)
    assert role.exit_code == 0, role.output
    no_form = run_cli(world.settings, "user", "disable", "zhou.yq", "--as", sys)
    assert no_form.exit_code == 2 and "--form" in no_form.output
    refused = run_cli(world.settings, "user", "disable", "zhou.yq", "--form", form_id, "--as", aud)
    assert refused.exit_code == 1
    assert "cannot be used again" in refused.output  # the registration form is spent
    shown = run_cli(world.settings, "user", "show", "zhou.yq", "--as", sec)
    assert "安全管理员" in shown.output and "**********" in shown.output


def test_refusal_names_the_duty(world: w.World) -> None:
    dn = world.target("person", "own")
    form = world.form_about("change", dn, change_type="disable", reason="x")
    with pytest.raises(PermissionDenied) as err:
        world.act("auditor", "disable", form, dn.split(",")[0].split("=")[1])
    assert "系统管理员的职责" in err.value.zh
    assert "that is the sysadmin's duty" in err.value.en
    session, actor = world.session("sysadmin")
    with session, pytest.raises(NotFound, match="within your reach"):  # upward: not even visible
        accounts.find(session, "nmg.audit")


def test_cli_must_change_first_then_works(
    bootstrapped: tuple[Settings, dict[str, str]], tmp_path: Path
) -> None:
    settings, passwords = bootstrapped
    old = tmp_path / "old"
    old.write_text(passwords["nmg.sys"])
    refused = run_cli(settings, "user", "list", "150000", "--as", "nmg.sys", "--password-file", str(old))
    assert refused.exit_code == 1 and "idm password change" in refused.output
    new = tmp_path / "new"
    new.write_text("Nmg-Sys-Passw0rd-2026")
    changed = run_cli(settings, "password", "change", "--as", "nmg.sys", "--password-file", str(old),
                      "--new-password-file", str(new))
    assert changed.exit_code == 0, changed.output
    unenrolled = run_cli(settings, "user", "list", "150000", "--as", "nmg.sys", "--password-file", str(new))
    assert unenrolled.exit_code == 1 and "Web" in unenrolled.output  # mlps3: the factor first
    with ops(settings) as session:
        dn = accounts.find(session, "nmg.sys").dn
    secret = enrol_factor(settings, dn)
    no_code = run_cli(settings, "user", "list", "150000", "--as", "nmg.sys", "--password-file", str(new),
                      "--code", "000000" if totp_code(secret, 1) != "000000" else "111111")
    assert no_code.exit_code == 1 and "code" in no_code.output
    listed = run_cli(settings, "user", "list", "150000", "--as", "nmg.sys", "--password-file", str(new),
                     "--code", totp_code(secret, 1))
    assert listed.exit_code == 0, listed.output


def test_cli_unknown_login_and_wrong_password_say_the_same(
    world: w.World, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("IDM_PASSWORD", "wrong-password")
    unknown = run_cli(world.settings, "user", "list", w.CITY, "--as", "nobody.here")
    wrong = run_cli(world.settings, "user", "list", w.CITY, "--as", "m.sysadmin")
    assert unknown.exit_code == wrong.exit_code == 1
    assert unknown.output == wrong.output


def test_reset_gives_a_one_time_password_that_must_be_changed(world: w.World) -> None:
    from idm.directory import connection

    dn = world.target("person", "own")
    password = world.act("sysadmin", "reset-password", world.form_about("change", dn, change_type="reset"),
                         dn.split(",")[0].split("=")[1]).result
    conn, state = connection.bind_with_policy(world.settings.ldap_uri, dn, password)
    assert state.must_change
    with pytest.raises(ldap.INSUFFICIENT_ACCESS):  # nothing but a password change until then
        conn.search_s(dn, ldap.SCOPE_BASE)
    with pytest.raises((ldap.INSUFFICIENT_ACCESS, ldap.UNWILLING_TO_PERFORM)):  # not around the policy
        conn.passwd_s(dn, password, "Own-New-Passw0rd-9")
    selfservice.change_password(world.settings.ldap_uri, world.settings.suffix,
                                world.settings.secrets_dir, dn, password, "Own-New-Passw0rd-9",
                                policy.PROFILES["mlps3"])
    conn2, state2 = connection.bind_with_policy(world.settings.ldap_uri, dn, "Own-New-Passw0rd-9")
    assert not state2.must_change
    conn.unbind_s()
    conn2.unbind_s()


def test_a_disabled_accounts_password_cannot_be_reset(world: w.World) -> None:
    """ppolicy lifts pwdAccountLockedTime on a password change, so a reset would undo a disable:
    the toolkit refuses, and slapd refuses the raw Password Modify too."""
    dn = world.target("person", "own", state="disabled")
    form = world.form_about("change", dn, change_type="reset")
    with pytest.raises(InvalidInput, match="disabled: cannot reset password"):
        world.act("sysadmin", "reset-password", form, dn.split(",")[0].split("=")[1])
    with pytest.raises(ldap.INSUFFICIENT_ACCESS):
        world.raw("sysadmin").passwd_s(dn, None, "Sneaky-Passw0rd-1")
    assert ldap_cli("ldapwhoami", world.settings, dn).returncode != 0
