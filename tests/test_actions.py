"""The auditor's view as admin actions (issue 20, part 3), against the real slapd: one row per
business action with its form, the writes behind it in the drill-down, sign-in events and a
factor's enrolment as rows, its counter writes as none, a refused write as a refused row,
filters, CSV and PDF, and the oldest record held."""

from __future__ import annotations

import csv
import io
import subprocess
import time

import ldap
import pyotp
import pytest
from flask import Flask

from idm.auth import signin, totp
from idm.directory import lookup
from idm.oversight import actions, audit
from tests import world as w
from tests.conftest import run_cli, web_app
from tests.test_webui_console import signed_in, text


@pytest.fixture(scope="module")
def app(world: w.World) -> Flask:
    return web_app(world, "actions", "nist")


def auditor_actions(world: w.World, **filters: str) -> list[actions.Action]:
    session, _ = world.session("auditor")
    with session:
        return actions.actions(session, **filters)


def create_and_disable(world: w.World) -> tuple[str, str, str]:
    """A user created on a registration form and disabled on a change form: (uid, form, form)."""
    registration = world.form("registration", world.nodes["own"])
    made = world.act("sysadmin", "create-user", registration)
    assert made.account is not None or made.result is not None
    dn = made.account.dn if made.account else made.result.dn
    change = world.form_about("change", dn, change_type="disable", reason="调离")
    world.act("sysadmin", "disable", change)
    return dn.split(",")[0].split("=")[1], registration, change


def test_one_row_per_action_with_its_form_and_writes(world: w.World) -> None:
    uid, registration, change = create_and_disable(world)
    mine = [a for a in auditor_actions(world) if a.form in (registration, change)]
    assert [(a.kind, a.name) for a in mine] == [("form", "registration"), ("operation", "create-user"),
                                                ("form", "change"), ("operation", "disable")]
    created, disabled = mine[1], mine[3]
    assert created.target.startswith(f"uid={uid},") and disabled.target.startswith(f"uid={uid},")
    assert created.actor == world.actors["sysadmin"] and created.ok
    assert len(created.writes) >= 3  # the account, its password, the form's step
    assert any(w.kind == "add" and w.target.startswith(f"uid={uid},") for w in created.writes)
    assert created.writes[-1].target.startswith(f"cn={registration},")
    assert any("idmStatus" in w.changed for w in disabled.writes)
    # no write of these actions is left over as a row of its own
    everything = auditor_actions(world, person=f"uid={uid},")
    assert [a.kind for a in everything] == ["operation", "operation"]
    assert actions.title(disabled) == "停用" and actions.title(created, "en") == "create the business user"


def test_sign_in_events_are_rows_and_factor_counters_are_not(world: w.World) -> None:
    dn = world.actors["sysadmin"]
    signin.record(world.settings, dn, "signin-web", "10.1.2.3")
    signin.record(world.settings, dn, "failure", "10.1.2.4")
    s = world.settings
    enrolment = totp.begin("m.sysadmin")
    code = pyotp.TOTP(enrolment.secret).at(int(time.time()))
    with lookup.service_session(s.ldap_uri, s.suffix, s.secrets_dir) as service:
        totp.confirm(service, dn, enrolment, code)
        later = pyotp.TOTP(enrolment.secret).at(int(time.time()) + 30)
        assert totp.verify(service, dn, later) == totp.OK  # a counter write
        assert totp.verify(service, dn, "000000" if later != "000000" else "111111") == totp.WRONG
    try:
        found = auditor_actions(world, since=time.strftime("%Y%m%d", time.gmtime()))
        recent = [a for a in found if a.target.lower() == dn.lower() or a.actor.lower() == dn.lower()][-6:]
        kinds = [(a.kind, a.name) for a in recent]
        assert ("signin", "signin-web") in kinds and ("signin", "failure") in kinds
        assert ("factor", "enrolled") in kinds
        signed = next(a for a in recent if a.name == "signin-web")
        assert signed.detail == "10.1.2.3" and signed.actor.lower() == dn.lower()
        # the counter writes (last time step, failures) are no rows
        assert not any(set(w.changed) & actions.COUNTERS and a.kind == "write"
                       for a in found for w in a.writes)
        with world.session("auditor")[0] as session:
            raw = audit.operations(session, since=time.strftime("%Y%m%d", time.gmtime()))
        assert any(set(op.changed) <= actions.COUNTERS and op.changed for op in raw)  # they are in the log
    finally:
        with lookup.service_session(s.ldap_uri, s.suffix, s.secrets_dir) as service:
            service.modify_raw(dn, [(ldap.MOD_DELETE, "oathSecret", None)])


def test_a_refused_write_is_a_refused_row(world: w.World) -> None:
    raw = world.raw("sysadmin")  # around the toolkit: slapd refuses, the log keeps the attempt
    with pytest.raises(ldap.INSUFFICIENT_ACCESS):
        raw.modify_s(world.actors["secadmin"], [(ldap.MOD_REPLACE, "idmAdminRole", [b"sysadmin"])])
    refused = [a for a in auditor_actions(world) if not a.ok]
    last = refused[-1]
    assert last.kind == "write" and last.target == world.actors["secadmin"] and last.result == "50"
    assert last.actor == world.actors["sysadmin"]


def test_filters_by_admin_person_form_and_kind(world: w.World) -> None:
    uid, registration, change = create_and_disable(world)
    assert [a.name for a in auditor_actions(world, form=change)] == ["change", "disable"]
    assert [a.name for a in auditor_actions(world, person=f"uid={uid},")] == ["create-user", "disable"]
    disables = auditor_actions(world, kind="operation", name="disable", person=f"uid={uid},")
    assert [a.form for a in disables] == [change]
    by_sysadmin = auditor_actions(world, actor=world.actors["sysadmin"])
    assert by_sysadmin and all(a.actor == world.actors["sysadmin"] for a in by_sysadmin)
    assert auditor_actions(world, form="F-NO-SUCH-FORM") == []


def test_the_page_the_csv_and_the_pdf(world: w.World, app: Flask) -> None:
    uid, registration, change = create_and_disable(world)
    auditor = signed_in(app, "auditor")
    page = text(auditor, f"/admin/audit/?person={uid}")
    assert page.count("<tr class=") == 2 and "停用" in page and "按申请单创建业务用户" in page
    assert "系统管理员" in page and change in page and "目录写入" in page
    assert "最早的记录" in page and "日志保存 183 天（不少于 183 天）" in page
    only = text(auditor, f"/admin/audit/?kind=op:disable&person={uid}")
    assert only.count("<tr class=") == 1
    sheet = auditor.get(f"/admin/audit/?person={uid}&format=csv")
    rows = list(csv.reader(io.StringIO(sheet.get_data(as_text=True).lstrip("\ufeff"))))
    assert len(rows) == 3 and rows[2][2] == "停用" and rows[2][4] == change and "系统管理员" in rows[2][1]
    pdf = auditor.get(f"/admin/audit/?person={uid}&format=pdf")
    assert pdf.mimetype == "application/pdf"
    words = subprocess.run(["pdftotext", "-", "-"], input=pdf.data, capture_output=True, check=True).stdout
    assert "停用".encode() in words and change.encode() in words and "合计 2 项操作".encode() in words
    assert text(auditor, "/admin/audit/?kind=bogus").count("<tr class=") > 0  # an unknown kind: no filter
    assert signed_in(app, "sysadmin").get("/admin/audit/?format=pdf").status_code == 403


def test_the_oldest_record_is_the_first_written(world: w.World) -> None:
    session, _ = world.session("auditor")
    with session:
        oldest = audit.oldest(session)
        everything = audit.operations(session)
    assert oldest == everything[0].when


def test_the_cli_lists_actions_and_exports_them(world: w.World, cli_admins: dict[str, str], tmp_path) -> None:  # type: ignore[no-untyped-def]
    uid, _, change = create_and_disable(world)
    shown = run_cli(world.settings, "audit", "actions", "--as", cli_admins["auditor"], "--person", uid)
    assert shown.exit_code == 0, shown.output
    lines = [line for line in shown.output.splitlines() if "\t" in line]
    assert [line.split("\t")[2] for line in lines] == ["按申请单创建业务用户", "停用"]
    assert lines[1].split("\t")[4] == change and "合计 / total: 2" in shown.output
    out = tmp_path / "actions.csv"
    evil = actions.Action("20261127000000Z", "=cmd|' /C calc'!A0", "write", "modify", "+1", "@x", "0", ())
    assert actions.to_csv([evil]).splitlines()[1].split(",")[1].startswith("'=")
    exported = run_cli(world.settings, "audit", "actions", "--as", cli_admins["auditor"], "--form", change,
                       "--csv", str(out))
    assert exported.exit_code == 0, exported.output
    rows = list(csv.reader(io.StringIO(out.read_text(encoding="utf-8").lstrip("\ufeff"))))
    assert [r[2] for r in rows[1:]] == ["登记申请单：变更申请单", "停用"]


def test_a_retention_under_six_months_is_refused(world: w.World, tmp_path) -> None:  # type: ignore[no-untyped-def]
    """At init, in an idm.json edited by hand, and on the server itself (idm audit verify)."""
    import json

    from idm.config import load_settings

    short = run_cli(world.settings, "--data-dir", str(tmp_path / "new"), "server", "init",
                    "--log-purge-days", "90")
    assert short.exit_code != 0 and not (tmp_path / "new" / "idm.json").exists()
    folder = tmp_path / "copy"
    folder.mkdir()
    data = json.loads((world.settings.data_dir / "idm.json").read_text())
    (folder / "idm.json").write_text(json.dumps({**data, "log_purge_days": 30}))
    with pytest.raises(Exception, match="183"):
        load_settings(folder)
    from tests.conftest import ops

    with ops(world.settings) as session:
        db = next(dn for dn, _ in session.search("cn=config", "(olcAccessLogPurge=*)", ["1.1"]))
        assert audit.retention_days(session) == 183
        session.replace(db, {"olcAccessLogPurge": ["30+00:00 01+00:00"]})
    try:
        refused = run_cli(world.settings, "audit", "verify")
        assert refused.exit_code == 4 and "30" in refused.output and "183" in refused.output, refused.output
    finally:
        with ops(world.settings) as session:
            session.replace(db, {"olcAccessLogPurge": ["183+00:00 01+00:00"]})


def test_a_login_tried_and_taken_inside_an_action_belongs_to_it(world: w.World) -> None:
    """Two people of the same name: the second creation tries the pinyin login, slapd refuses
    it (taken), the toolkit takes the next. One row, a success, the refusal in its writes."""
    create_and_disable(world)
    uid, registration, _ = create_and_disable(world)  # the same name as before: its login is taken
    rows = [a for a in auditor_actions(world) if a.form == registration]
    assert [(a.kind, a.ok) for a in rows] == [("form", True), ("operation", True)]
    assert any(not w.ok and w.kind == "add" for w in rows[1].writes)
