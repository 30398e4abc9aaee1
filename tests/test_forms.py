"""Forms as the sole basis of admin actions (R10-R14): validation, matching, single use, the
form reference on the write and in the log, scans, retention, first-login view."""

from __future__ import annotations

import base64
import itertools
from dataclasses import replace
from datetime import UTC, datetime, timedelta

import ldap
import pytest

from idm import pipeline
from idm.errors import InvalidInput, NotFound, PermissionDenied
from idm.filing import forms, keeping
from idm.filing.forms import FormData
from idm.identity import accounts, first_login
from tests import world as w
from tests.conftest import ops, snapshot

_n = itertools.count(100)
PNG = base64.b64decode("iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8z8BQDwAEhQGAhKmMIQ"
                       "AAAABJRU5ErkJggg==")


def registration(unit: str = "150102", role: str | None = "secadmin", **kw: str) -> FormData:
    n = next(_n)
    fields = dict(kind="registration", unit=unit, name="吴表单", id_number=w.id_number(n),
                  mobile="13900000020", role=role, office_phone="0471-2850020", email="wu@demo.edu.cn")
    fields.update(kw)
    return FormData(**fields)  # type: ignore[arg-type]


def change(account: accounts.Account, change_type: str, unit: str, **kw: object) -> FormData:
    return FormData(kind="change", unit=unit, name=account.name, id_number=account.id_number or "",
                    mobile="13900000021", change_type=change_type, account_uid=account.uid,
                    reason="调离", **kw)  # type: ignore[arg-type]


def run(session, actor, operation: str, form_id: str, uid: str | None = None):  # type: ignore[no-untyped-def]
    return pipeline.run(pipeline.Acting(session, actor), operation, form_id, uid).result


def add(world: w.World, data: FormData) -> forms.Form:
    session, actor = world.session("sysadmin")
    with session:
        return forms.add(session, actor, data)


def test_registration_creates_exactly_that_account_then_the_role(world: w.World) -> None:
    form = add(world, registration())
    session, actor = world.session("sysadmin")
    with session:
        created = run(session, actor, "create-admin", form.form_id)
        with pytest.raises(InvalidInput, match="already done: create"):
            run(session, actor, "create-admin", form.form_id)
        with pytest.raises(PermissionDenied, match="secadmin's duty"):  # the role is not its to set
            run(session, actor, "set-role", form.form_id, created.uid)
    sec, sec_actor = world.session("secadmin")
    with sec:
        run(sec, sec_actor, "set-role", form.form_id, created.uid)  # the role the form names
        with pytest.raises(InvalidInput, match="cannot be used again"):
            run(sec, sec_actor, "set-role", form.form_id, created.uid)
        done = forms.get(sec, form.form_id)
    with ops(world.settings) as session:
        entry = accounts.get(session, created.dn)
    assert done.status == "executed" and done.subjects == (entry.uuid,)  # by entryUUID, not DN
    with ops(world.settings) as session:
        assert entry.role == "secadmin" and entry.name == "吴表单" and entry.mobile == "13900000020"
        log = list(session.search("cn=accesslog", f"(&(reqType=add)(reqDN={created.dn}))", ["reqMod"]))
    assert any(f"idmFormRef:+ {form.form_id}" in v for v in log[0][1]["reqMod"])


def test_a_form_for_one_unit_cannot_create_at_another(world: w.World) -> None:
    form = add(world, registration(unit="150100"))  # own level: an admin can't be made there
    business = add(world, registration(role=None))
    session, actor = world.session("sysadmin")
    with session:
        with pytest.raises(PermissionDenied, match="may not create admin accounts"):
            run(session, actor, "create-admin", form.form_id)
        with pytest.raises(InvalidInput, match="role"):
            run(session, actor, "create-admin", business.form_id)


def test_change_forms_do_only_what_they_say(world: w.World) -> None:
    target = world.target("person", "own", state="locked")
    other = world.target("person", "own", state="locked")
    with ops(world.settings) as session:
        account, bystander = accounts.get(session, target), accounts.get(session, other)
    unlock = add(world, change(account, "unlock", "150100"))
    session, actor = world.session("sysadmin")
    with session:
        with pytest.raises(InvalidInput, match="account_uid"):
            run(session, actor, "unlock", unlock.form_id, bystander.uid)
        with pytest.raises(InvalidInput,
                           match="change_type is '账号解锁 unlock' on the form, '密码重置 reset' here"):
            run(session, actor, "reset-password", unlock.form_id, account.uid)
        assert run(session, actor, "unlock", unlock.form_id, account.uid) is True
        with pytest.raises(InvalidInput, match="cannot be used again"):
            run(session, actor, "unlock", unlock.form_id, account.uid)
    with ops(world.settings) as session:
        assert not accounts.get(session, target).locked and accounts.get(session, other).locked
        assert accounts.get(session, target).dn and session.get(target, ["idmFormRef"])[1]["idmFormRef"] == [
            unlock.form_id]


def test_info_change_checks_before_and_applies_after(world: w.World) -> None:
    target = world.target("person", "own")
    with ops(world.settings) as session:
        account = accounts.get(session, target)
    wrong = add(world, change(account, "info", "150100", before={"mobile": "13000000000"},
                              after={"mobile": "13911112222"}))
    right = add(world, change(account, "info", "150100", before={"mobile": "13900000000"},
                              after={"mobile": "13911112222", "name": "测试改"}))
    session, actor = world.session("sysadmin")
    with session:
        with pytest.raises(InvalidInput, match="before.mobile"):
            run(session, actor, "update", wrong.form_id, account.uid)
        run(session, actor, "update", right.form_id, account.uid)
    with ops(world.settings) as session:
        after = accounts.get(session, target)
    assert after.mobile == "13911112222" and after.name == "测试改"


def test_disable_by_form_sets_retention_and_purge_waits(world: w.World) -> None:
    reg = add(world, registration(unit="150100", role=None, name="郑保存"))
    session, actor = world.session("sysadmin")
    with session:
        created = run(session, actor, "create-user", reg.form_id)
        account = accounts.get(session, created.dn)
    disable = add(world, change(account, "disable", "150100"))
    session, actor = world.session("sysadmin")
    with session:
        run(session, actor, "disable", disable.form_id, account.uid)
        kept = forms.get(session, reg.form_id)
    until = datetime.strptime(kept.retain_until or "", "%Y%m%d%H%M%SZ").replace(tzinfo=UTC)
    assert until - datetime.now(UTC) > timedelta(days=365)
    with ops(world.settings) as session:
        assert reg.form_id not in {f.form_id for f in keeping.past_retention(session)}
        with pytest.raises(InvalidInput, match="within retention"):
            keeping.purge(session, forms.get(session, reg.form_id))
        session.replace(kept.dn, {"idmRetainUntil": ["20200101000000Z"]})
        assert reg.form_id in {f.form_id for f in keeping.past_retention(session)}
        keeping.purge(session, forms.get(session, reg.form_id))
        stub = session.get(kept.dn)  # slapd deletes nothing: the content goes, the number stays
        assert stub is not None and stub[1]["idmRecordStatus"] == ["purged"]
        assert not {"idmRecordData", "idmRecordPrivate", "idmIdNumber", "idmIdMasked"} & set(stub[1])
        with pytest.raises(NotFound):
            forms.get(session, reg.form_id)
    # nobody deletes a form, even one past retention: an admin, nor the local operator
    with ops(world.settings) as session:
        spent = forms.get(session, disable.form_id).dn
        with pytest.raises(ldap.UNWILLING_TO_PERFORM):
            session.conn.delete_s(spent)
    with pytest.raises((ldap.INSUFFICIENT_ACCESS, ldap.UNWILLING_TO_PERFORM)):
        world.raw("sysadmin").delete_s(spent)


def test_scans_are_recognised_by_content_bounded_and_attached_once(world: w.World) -> None:
    form = add(world, registration())
    session, actor = world.session("sysadmin")
    with session:
        with pytest.raises(InvalidInput, match="PDF, JPEG or PNG"):
            keeping.attach_scan(session, actor, form, b"MZ\x90\x00 not an image.png")
        with pytest.raises(InvalidInput, match="larger than 2 MiB"):
            keeping.attach_scan(session, actor, form, PNG + b"\0" * (2 * 1024 * 1024))
        digest = keeping.attach_scan(session, actor, form, PNG)
        again = forms.get(session, form.form_id)
        assert again.scan_sha256 == digest and again.scan_type == "image/png"
        assert keeping.scan(session, again) == PNG
        with pytest.raises(InvalidInput, match="already has a scan"):
            keeping.attach_scan(session, actor, again, PNG)


@pytest.mark.parametrize(("field", "value", "reason"), [
    ("id_number", "150102199001010010", "check digit"),
    ("id_number", "150102199013010012", "does not exist"),
    ("name", "阿拉坦•其其格", "U+00B7"),
    ("mobile", "1390000002", "mobile"),
    ("office_phone", "2850020", "area code"),
    ("email", "wu@", "email"),
    ("unit", "159999", "does not exist"),
    ("role", "root", "admin role"),
    ("kind", "other", "kind must be one of"),
    ("notes", "x" * 1025, "longer than 1024"),
])
def test_bad_forms_are_refused_and_change_nothing(
    world: w.World, field: str, value: str, reason: str
) -> None:
    before = snapshot(world.settings)
    with pytest.raises(InvalidInput) as err:
        add(world, replace(registration(), **{field: value}))
    assert reason in str(err.value) and field in str(err.value)
    assert snapshot(world.settings) == before


def test_one_id_number_belongs_to_one_name(world: w.World) -> None:
    target = world.target("person", "own")  # named 测试, with its own ID number
    with ops(world.settings) as session:
        number = accounts.get(session, target).id_number
    with pytest.raises(InvalidInput, match="under another name"):
        add(world, registration(id_number=number or "", name="冯别名"))
    assert add(world, registration(id_number=number or "", name="测试", role="auditor"))


def test_first_login_view_puts_role_next_to_form(world: w.World) -> None:
    form = add(world, registration(unit="150105", role="auditor", name="陈首登"))
    session, actor = world.session("sysadmin")
    with session:
        created = run(session, actor, "create-admin", form.form_id)
    sec, sec_actor = world.session("secadmin")
    with sec:
        run(sec, sec_actor, "set-role", form.form_id, created.uid)
    with ops(world.settings) as session:
        account, shown = first_login.first_login_view(session, accounts.get(session, created.dn))
    assert shown is not None and shown.form_id == form.form_id and account.role == shown.data.role
