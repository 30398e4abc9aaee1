"""The auditor's view of cn=accesslog (R6): scoped to its level by slapd, refused attempts
included, private values withheld, read-only; CSV export; seal and verify."""

from __future__ import annotations

import csv
import io
import subprocess

import ldap
import pytest

from idm import pipeline
from idm.auth import signin
from idm.config import Settings
from idm.errors import PermissionDenied
from idm.oversight import audit, seal, seal_key
from tests import world as w
from tests.conftest import ops, run_cli


@pytest.fixture(scope="module")
def activity(world: w.World) -> dict[str, str]:
    """Some work by Hohhot's admins, a refused attempt, and work by another city's admin."""
    registration = world.form("registration", world.nodes["own"], name="审计甲", id_number=w.id_number(611),
                              mobile="13900000611")
    created = world.act("sysadmin", "create-user", registration).result
    grant_form = world.form_about("grant", created.dn, grants_add=["teacher#viewer"])
    session, actor = world.session("sysadmin")
    with session:
        with pytest.raises(PermissionDenied):
            # Python refuses first
            pipeline.run(pipeline.Acting(session, actor), "grant", grant_form, created.uid, "teacher#viewer")
        with pytest.raises(PermissionDenied):  # slapd refuses too; the log keeps the attempt
            session.modify(created.dn, [(ldap.MOD_ADD, "idmGrant", ["teacher#viewer"])])
    raw = world.raw("sysadmin")
    with pytest.raises(ldap.INSUFFICIENT_ACCESS):  # its own bind writes nothing; logged as well
        raw.modify_s(created.dn, [(ldap.MOD_ADD, "idmGrant", [b"teacher#viewer"])])
    with ops(world.settings) as session:
        other = w.make_admin(session, f"ou=150200,ou=150000,{world.settings.suffix}", "bt.sys", "sysadmin")
    elsewhere = f"uid=bt.user1,ou=people,ou=150200,ou=150000,{world.settings.suffix}"
    with signin.admin_session(world.settings, other) as session:
        session.add(elsewhere, {"objectClass": ["idmBusinessAccount"], "uid": ["bt.user1"], "cn": ["x"],
                                "sn": ["x"], "idmStatus": ["active"], "idmFormRef": ["F-ELSEWHERE"]})
    return {"created": created.dn, "elsewhere": elsewhere, "other_admin": other, "form": registration}


def auditor_ops(world: w.World) -> list[audit.Operation]:
    session, _ = world.session("auditor")
    with session:
        return audit.operations(session)


def test_the_auditor_sees_its_levels_admins_including_refusals(
    world: w.World, activity: dict[str, str]
) -> None:
    seen = auditor_ops(world)
    created = [op for op in seen if op.target.lower() == activity["created"].lower()]
    assert any(op.kind == "add" and op.ok and op.form == activity["form"] for op in created)
    assert any(op.kind == "modify" and op.result == "50" for op in created)
    own = f"ou=admins,{world.nodes['own']}".lower()
    webui = f"cn=idm-webui,ou=system,{world.settings.suffix}".lower()  # records sign-ins on admins' entries
    node = world.nodes["own"].lower()

    def moved_here_or_away(op: audit.Operation) -> bool:  # 调动: both units' auditors see the move
        return op.kind == "modrdn" and node in (op.target.lower().split(",", 2)[2],
                                                op.moved_to.lower().split(",", 1)[1])

    assert all(op.actor.lower().endswith(own) or op.actor.lower() == webui and op.target.lower().endswith(own)
               or moved_here_or_away(op) for op in seen)
    assert not any(op.target.lower() == activity["elsewhere"].lower() for op in seen)


def test_private_values_are_withheld_from_the_auditor(world: w.World, activity: dict[str, str]) -> None:
    session, _ = world.session("auditor")
    flt = f"(&(reqType=add)(reqDN={activity['created']}))"
    with session:
        mine = list(session.search("cn=accesslog", flt, ["reqMod"]))
    with ops(world.settings) as op_session:
        full = list(op_session.search("cn=accesslog", flt, ["reqMod"]))
    assert any(v.startswith("idmIdNumber:") for v in full[0][1]["reqMod"])
    assert not any(v.startswith(("idmIdNumber:", "mobile:", "userPassword:")) for v in mine[0][1]["reqMod"])
    assert any(v.startswith("cn:") for v in mine[0][1]["reqMod"])


def test_nobody_but_slapd_writes_the_log(world: w.World, activity: dict[str, str]) -> None:
    with ops(world.settings) as session:
        record = next(iter(session.search("cn=accesslog", f"(reqDN={activity['created']})", ["1.1"])))[0]
    for role in ("auditor", "sysadmin", "secadmin"):
        conn = world.raw(role)
        with pytest.raises((ldap.INSUFFICIENT_ACCESS, ldap.NO_SUCH_OBJECT, ldap.UNWILLING_TO_PERFORM)):
            conn.modify_s(record, [(ldap.MOD_REPLACE, "reqResult", [b"0"])])
        with pytest.raises((ldap.INSUFFICIENT_ACCESS, ldap.NO_SUCH_OBJECT, ldap.UNWILLING_TO_PERFORM)):
            conn.delete_s(record)
    sysadmin = world.raw("sysadmin")  # other roles do not read the log at all
    with pytest.raises(ldap.NO_SUCH_OBJECT):
        sysadmin.search_s("cn=accesslog", ldap.SCOPE_ONELEVEL, "(reqType=add)")


def test_csv_export_is_safe_against_formula_injection(world: w.World, activity: dict[str, str],
                                                       cli_admins: dict[str, str], tmp_path) -> None:  # type: ignore[no-untyped-def]
    evil = audit.Operation("20261127000000Z", "=cmd|' /C calc'!A0", "add", "+1+1", "0", "@SUM(A1)", "-2")
    text = audit.to_csv([evil])
    assert text.startswith("\ufeff")
    rows = list(csv.reader(io.StringIO(text.lstrip("\ufeff"))))
    assert rows[1][1].startswith("'=") and rows[1][3].startswith("'+") and rows[1][5].startswith("'@")
    assert rows[1][6] == "'-2"
    out = tmp_path / "audit.csv"
    result = run_cli(world.settings, "audit", "list", "--as", cli_admins["auditor"], "--result", "failed",
                     "--csv", str(out))
    assert result.exit_code == 0, result.output
    exported = list(csv.reader(io.StringIO(out.read_text(encoding="utf-8").lstrip("\ufeff"))))
    assert len(exported) > 1 and all("refused" not in r for r in exported)
    assert all(row[4].split()[0] != "0" for row in exported[1:])


def test_filters(world: w.World, activity: dict[str, str]) -> None:
    session, _ = world.session("auditor")
    with session:
        by_actor = audit.operations(session, actor=world.actors["sysadmin"], kind="add")
        failed = audit.operations(session, failed=True)
        window = audit.operations(session, since="20000101", until="20991231")
        none = audit.operations(session, since="20991231")
        target = audit.operations(session, target=activity["created"].split(",")[0])
    assert by_actor and all(op.kind == "add" for op in by_actor)
    assert failed and all(not op.ok for op in failed)
    assert window and none == []
    assert target and all(activity["created"].split(",")[0] in op.target for op in target)


def test_a_record_at_the_bound_of_a_window_is_in_it(world: w.World) -> None:
    """A record's own time as both bounds finds that record, whatever its time's fraction: slapd
    compares a stored time ending in 0 (…12.000050Z) as greater than the same time asserted,
    so a plain `reqStart<=` bound lost such a record (the newest row of a page, at random)."""
    session, _ = world.session("auditor")
    for _ in range(100):  # each write takes the next number of its second: some end in 0
        with session:
            ending = [op for op in audit.operations(session) if op.when.endswith("0Z")]
        if ending:
            break
        world.form("registration", world.nodes["own"])
    assert ending, "no record with a time ending in 0 after 100 writes"
    with session:
        for op in ending[-5:]:
            assert [o.when for o in audit.operations(session, since=op.when, until=op.when)] == [op.when]


def test_seal_then_verify_names_altered_and_removed_records(world: w.World, activity: dict[str, str]) -> None:
    with ops(world.settings) as session:
        key = seal_key.load(world.settings.data_dir, create=True)
        first = seal.seal(session, key, settle=seal.AT_ONCE)
        assert first.count > 0
        assert seal.verify(session, key.public_pem(), world.settings.log_purge_days) == []
        records = sorted(dn for dn, _ in session.search("cn=accesslog", "(reqType=add)", ["1.1"]))
        altered, removed = records[0], records[1]
        db = next(dn for dn, _ in session.search("cn=config", "(olcSuffix=cn=accesslog)", ["1.1"]))
        session.replace(db, {"olcRootPW": ["rootdn-for-this-test-only"]})
    try:
        root = ldap.initialize(world.settings.ldap_uri)
        root.simple_bind_s("cn=accesslog", "rootdn-for-this-test-only")
        root.modify_s(altered, [(ldap.MOD_REPLACE, "reqResult", [b"32"])])
        root.delete_s(removed)
    finally:
        with ops(world.settings) as session:
            session.replace(db, {"olcRootPW": []})
    result = run_cli(world.settings, "audit", "verify")
    assert result.exit_code == 4
    starts = {dn.split(",")[0].split("=", 1)[1]: dn for dn in (altered, removed)}
    found = {line.split("\t")[1]: line.split("\t")[0] for line in result.output.splitlines() if "\t" in line}
    assert found[list(starts)[0]] == "altered"
    assert found[list(starts)[1]] == "removed"
    assert "tampered" in result.output


def test_log_retention_is_at_least_half_a_year_by_default(slapd: Settings) -> None:
    out = subprocess.run(["ldapsearch", "-Q", "-LLL", "-Y", "EXTERNAL", "-H", slapd.ldapi_uri,
                          "-b", "cn=config", "(olcAccessLogPurge=*)", "olcAccessLogPurge"],
                         capture_output=True, text=True, check=True)
    assert "olcAccessLogPurge: 183+00:00" in out.stdout


def test_the_auditor_does_not_see_business_users_own_changes(world: w.World) -> None:
    """A business user's own password change is no admin operation (R6 audits the admins)."""
    from idm.auth import policy, selfservice

    dn = world.target("person", "own")
    with ops(world.settings) as session:
        session.set_password(dn, "Own-Passw0rd-1")
        session.replace(dn, {"pwdReset": ["TRUE"]})
    selfservice.change_password(world.settings.ldap_uri, world.settings.suffix, world.settings.secrets_dir,
                                dn, "Own-Passw0rd-1", "Own-Passw0rd-Changed-2", policy.PROFILES["mlps3"])
    assert not any(op.actor.lower() == dn.lower() for op in auditor_ops(world))
