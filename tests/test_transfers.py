"""Transfers (调动) on a real slapd: both departments consent, each on its own form and within
its scope; the person keeps login, password, factor, ID number and records, and loses the old
unit's grants (an admin: the role); downstream sees the move at once; every way around it
(raw modrdn, a made-up form, a disabled account, a second acceptance, ...) is refused."""

from __future__ import annotations

import itertools
from dataclasses import dataclass
from pathlib import Path

import ldap
import ldap3
import pytest
from ldap.controls.simple import ProxyAuthzControl

from idm import pipeline
from idm.auth import signin
from idm.directory.session import Session
from idm.errors import IdmError, InvalidInput
from idm.filing import forms
from idm.filing.fields import FormData
from idm.oversight import audit
from idm.rules.actor import Actor
from idm.rules.actor import load as load_actor
from idm.rules.terms import WRITER
from idm.tree import org
from idm.validation import mask_id_number
from tests import world as w
from tests.conftest import enrol_factor, ops, run_cli, snapshot, totp_code

SCHOOL_A = "2115010201"  # 新城区第一小学 (新城区, 呼和浩特市)
SCHOOL_A2 = "2115010202"  # 新城区第二中学, same county
SCHOOL_B = "2115020301"  # 昆都仑区实验中学 (昆都仑区, 包头市)
SCHOOL_C = "2115250201"  # 锡林浩特市蒙古族中学: a third unit
DELEGATED = "2115010203"  # 新城区草原小学, managed by 新城区 (150102)
UNIVERSITY = "4115010126"  # 内蒙古大学, under the province
_seq = itertools.count(300_000)


@dataclass
class Dept:
    """A unit's department: its system, security admin and auditor, signed in as the toolkit does."""

    world: w.World
    code: str
    dns: dict[str, str]

    def session(self, role: str = "sysadmin") -> tuple[Session, Actor]:
        uid = self.dns[role].split(",")[0].split("=")[1]
        progress = signin.authenticate(self.world.settings, uid, w.PASSWORD)
        session = signin.admin_session(self.world.settings, progress.dn)
        return session, load_actor(session)

    def form(self, **fields: object) -> str:
        session, actor = self.session()
        with session:
            return forms.add(session, actor, FormData(**{"mobile": "13900000000", **fields})).form_id  # type: ignore[arg-type]

    def act(self, operation: str, form_id: str, uid: str | None = None, role: str = "sysadmin",
            **inputs: object) -> pipeline.Outcome:
        session, actor = self.session(role)
        with session:
            return pipeline.run(pipeline.Acting(session, actor), operation, form_id, uid, **inputs)


_depts: dict[str, Dept] = {}


def dept(world: w.World, code: str) -> Dept:
    if code not in _depts:
        with ops(world.settings) as session:
            node = org.find(session, code).dn
            dns = {role: w.make_admin(session, node, f"x{code}.{role}", role)
                   for role in ("sysadmin", "secadmin", "auditor")}
        _depts[code] = Dept(world, code, dns)
    return _depts[code]


@dataclass
class Person:
    uid: str
    dn: str
    name: str
    number: str


def person_at(world: w.World, code: str, *, kind: str = "person", grant: bool = True) -> Person:
    """A person with an account at the unit, a password of their own, a second factor, a grant."""
    n = next(_seq)
    uid, number, name = f"mv{n}", w.id_number(n), "调动测试"
    with ops(world.settings) as session:
        node = org.find(session, code).dn
        container = "people" if kind == "person" else "admins"
        dn = f"uid={uid},ou={container},{node}"
        attrs = {"objectClass": ["idmBusinessAccount" if kind == "person" else "idmAdminAccount"],
                 "uid": [uid], "cn": [name], "sn": ["调"], "idmStatus": ["active"],
                 "idmIdNumber": [number], "idmIdMasked": [mask_id_number(number)],
                 "mobile": ["13900000000"]}
        if kind == "person" and grant:
            attrs["idmGrant"] = ["teacher#viewer"]
        if kind == "admin":
            attrs.update(idmAdminRole=["auditor"], idmScope=[node], idmConfirmed=["20260101000000Z"])
        session.add(dn, attrs)
        session.set_password(dn, w.PASSWORD)
        session.conn.modify_s(dn, [(ldap.MOD_DELETE, "pwdReset", None)])
    return Person(uid, dn, name, number)


def release_form(d: Dept, p: Person, to: str, unit: str | None = None) -> str:
    return d.form(kind="change", unit=unit or d.code, change_type="release", transfer_to=to,
                  account_uid=p.uid, name=p.name, id_number=p.number)


def accept_form(d: Dept, p: Person, came_from: str, unit: str | None = None, **more: object) -> str:
    return d.form(kind="registration", unit=unit or d.code, transfer_from=came_from, account_uid=p.uid,
                  name=p.name, id_number=p.number, **more)


def entry(world: w.World, uid: str) -> tuple[str, dict[str, list[bytes]]]:
    with ops(world.settings) as session:
        found = session.conn.search_s(world.settings.suffix, ldap.SCOPE_SUBTREE, f"(uid={uid})", ["*", "+"])
    assert len(found) == 1
    return found[0]


def downstream(world: w.World, code: str) -> ldap3.Connection:
    """A downstream system at the unit (`ou=services`), bound with ldap3: an independent client."""
    name = f"svc{code}"
    with ops(world.settings) as session:
        node = org.find(session, code).dn
        dn = f"cn={name},ou=services,{node}"
        if not session.exists(dn):
            session.add(dn, {"objectClass": ["idmServiceAccount"], "cn": [name], "idmStatus": ["active"]})
            session.set_password(dn, w.PASSWORD)
            session.conn.modify_s(dn, [(ldap.MOD_DELETE, "pwdReset", None)])
    host, port = world.settings.ldap_uri.removeprefix("ldap://").split(":")
    conn = ldap3.Connection(ldap3.Server(host, int(port)), dn, w.PASSWORD, auto_bind=True)
    return conn


def sees(conn: ldap3.Connection, uid: str) -> bool:
    conn.search(conn.user.split(",", 2)[2], f"(uid={uid})", attributes=["uid"])
    return len(conn.entries) == 1


def test_a_teacher_moves_to_a_school_in_another_city_and_keeps_everything(world: w.World) -> None:
    a, b = dept(world, SCHOOL_A), dept(world, SCHOOL_B)
    p = person_at(world, SCHOOL_A)
    secret = enrol_factor(world.settings, p.dn)
    before_dn, before = entry(world, p.uid)
    old_service, new_service = downstream(world, SCHOOL_A), downstream(world, SCHOOL_B)
    assert sees(old_service, p.uid) and not sees(new_service, p.uid)

    released = a.act("release", release_form(a, p, SCHOOL_B), p.uid)
    assert released.changed and sees(old_service, p.uid)  # it works as before until it arrives
    accepted = b.act("transfer-user", accept_form(b, p, SCHOOL_A), p.uid, to=SCHOOL_B)
    assert accepted.form.status == "executed"

    after_dn, after = entry(world, p.uid)
    assert after_dn == f"uid={p.uid},ou=people,{org_dn(world, SCHOOL_B)}" != before_dn
    for kept in ("entryUUID", "userPassword", "oathSecret", "idmIdNumber", "cn", "createTimestamp"):
        assert after[kept] == before[kept], kept
    assert "idmGrant" not in after and "idmReleasedTo" not in after  # the old unit's grants end
    assert not sees(old_service, p.uid) and sees(new_service, p.uid)  # downstream, at once
    # the person signs in with the same password and factor
    progress = signin.authenticate(world.settings, p.uid, w.PASSWORD)
    assert progress.dn.lower() == after_dn.lower()
    signin.check_factor(world.settings, progress, totp_code(secret, 1))  # refuses a wrong code
    # both forms follow the person by entryUUID, and the person still reads them
    uuid = after["entryUUID"][0].decode()
    with ops(world.settings) as session:
        named = {f.form_id for f in forms.naming(session, uuid)}
    assert {released.form.form_id, accepted.form.form_id} <= named
    old_service.unbind()
    new_service.unbind()


def org_dn(world: w.World, code: str) -> str:
    with ops(world.settings) as session:
        return org.find(session, code).dn


def test_within_a_county_across_levels_and_into_a_delegated_school(world: w.World) -> None:
    a, a2, county, uni = (dept(world, c) for c in (SCHOOL_A, SCHOOL_A2, "150102", UNIVERSITY))
    p = person_at(world, SCHOOL_A)
    a.act("release", release_form(a, p, SCHOOL_A2), p.uid)
    a2.act("transfer-user", accept_form(a2, p, SCHOOL_A), p.uid)
    assert entry(world, p.uid)[0].lower() == f"uid={p.uid},ou=people,{org_dn(world, SCHOOL_A2)}".lower()
    # a university's teacher to a school that its county manages (R2): the county accepts it
    q = person_at(world, UNIVERSITY)
    uni.act("release", release_form(uni, q, DELEGATED), q.uid)
    county.act("transfer-user", accept_form(county, q, UNIVERSITY, unit=DELEGATED), q.uid)
    assert entry(world, q.uid)[0].lower() == f"uid={q.uid},ou=people,{org_dn(world, DELEGATED)}".lower()


def test_an_admin_moves_from_a_city_to_a_county_of_another_city(world: w.World) -> None:
    """A city admin's account is kept by the province; a county's by its city (R4)."""
    province, baotou = dept(world, "150000"), dept(world, "150200")
    p = person_at(world, "150100", kind="admin")
    province.act("release", province.form(kind="change", unit="150100", change_type="release",
                                          transfer_to="150203", account_uid=p.uid, name=p.name,
                                          id_number=p.number), p.uid)
    form = accept_form(baotou, p, "150100", unit="150203", role="secadmin")
    outcome = baotou.act("transfer-admin", form, p.uid, to="150203")
    dn, after = entry(world, p.uid)
    assert dn.lower() == f"uid={p.uid},ou=admins,{org_dn(world, '150203')}".lower()
    assert not {"idmAdminRole", "idmScope", "idmConfirmed", "idmReleasedTo"} & set(after)
    assert outcome.form.status == "received"  # the role step is the security admin's
    baotou.act("set-role", form, p.uid, role="secadmin")
    _, after = entry(world, p.uid)
    with ops(world.settings) as session:
        assert forms.get(session, form).status == "executed"
    assert after["idmAdminRole"] == [b"secadmin"]


def test_each_refusal_says_why_and_changes_nothing(world: w.World) -> None:
    a, b, c = dept(world, SCHOOL_A), dept(world, SCHOOL_B), dept(world, SCHOOL_C)
    p = person_at(world, SCHOOL_A)
    before = snapshot(world.settings)

    def refused(d: Dept, op: str, form: str, uid: str, match: str, **inputs: object) -> None:
        with pytest.raises(IdmError, match=match):
            d.act(op, form, uid, **inputs)

    early = accept_form(b, p, SCHOOL_A)
    refused(b, "transfer-user", early, p.uid, "not released")  # no release yet
    refused(b, "transfer-user", "F2115020301-20261206-abcdef", p.uid, "no form")  # made up
    refused(a, "release", "F2115010201-20261206-abcdef", p.uid, "no form")
    refused(b, "release", release_form(b, p, SCHOOL_C, unit=SCHOOL_B), p.uid, "within your reach")
    assert _changed_only_forms(before, snapshot(world.settings))

    release = release_form(a, p, SCHOOL_B)
    a.act("release", release, p.uid)
    refused(c, "transfer-user", accept_form(c, p, SCHOOL_A), p.uid, "not released")  # a third unit
    refused(b, "transfer-user", early, p.uid, "调入单位 unit", to=SCHOOL_C)  # --to not the form's
    wrong = b.form(kind="registration", unit=SCHOOL_B, transfer_from=SCHOOL_A, account_uid=p.uid,
                   name=p.name, id_number=w.id_number(next(_seq)))
    refused(b, "transfer-user", wrong, p.uid, "id_number")  # another person's form
    b.act("transfer-user", early, p.uid)
    refused(b, "transfer-user", early, p.uid, "cannot be used again")  # the same acceptance twice
    refused(b, "transfer-user", accept_form(b, p, SCHOOL_A), p.uid, "transfer_from")  # a second one


def test_a_disabled_account_is_not_released_nor_accepted(world: w.World) -> None:
    a, b = dept(world, SCHOOL_A), dept(world, SCHOOL_B)
    p = person_at(world, SCHOOL_A)
    a.act("disable", a.form(kind="change", unit=SCHOOL_A, change_type="disable", reason="调离",
                            account_uid=p.uid, name=p.name, id_number=p.number), p.uid)
    with pytest.raises(InvalidInput, match="restore it first"):
        a.act("release", release_form(a, p, SCHOOL_B), p.uid)
    q = person_at(world, SCHOOL_A)  # released, then disabled: slapd refuses the move too
    a.act("release", release_form(a, q, SCHOOL_B), q.uid)
    with ops(world.settings) as session:
        session.replace(q.dn, {"idmStatus": ["disabled"]})
    with pytest.raises(InvalidInput):
        b.act("transfer-user", accept_form(b, q, SCHOOL_A), q.uid)
    assert _raw_move(world, b, q.dn, SCHOOL_B) is False


def test_an_id_number_already_holding_an_admin_account_at_the_target_is_refused(world: w.World) -> None:
    province, baotou = dept(world, "150000"), dept(world, "150200")
    p = person_at(world, "150100", kind="admin")
    with ops(world.settings) as session:  # the same person already has an admin account at 150203
        node = org.find(session, "150203").dn
        session.add(f"uid=dup{p.uid},ou=admins,{node}", {
            "objectClass": ["idmAdminAccount"], "uid": [f"dup{p.uid}"], "cn": [p.name], "sn": ["调"],
            "idmStatus": ["active"], "idmIdNumber": [p.number]})
    province.act("release", province.form(kind="change", unit="150100", change_type="release",
                                          transfer_to="150203", account_uid=p.uid, name=p.name,
                                          id_number=p.number), p.uid)
    with pytest.raises(InvalidInput, match="one person, one account at a unit"):
        baotou.act("transfer-admin", accept_form(baotou, p, "150100", unit="150203", role="auditor"), p.uid)
    assert entry(world, p.uid)[0].lower() == p.dn.lower()


def _raw_move(world: w.World, d: Dept, dn: str, to: str, *, via_writer: bool = True,
              container: str = "people") -> bool:
    """A modrdn as the admin: through the writer (acting as it), or with its own password."""
    conn = ldap.initialize(world.settings.ldap_uri)
    new_parent = f"ou={container},{org_dn(world, to)}"
    try:
        if via_writer:
            secret = (world.settings.secrets_dir / f"{WRITER}.secret").read_text().strip()
            conn.simple_bind_s(world.settings.service_dn(WRITER), secret)
            ctrls = [ProxyAuthzControl(True, f"dn:{d.dns['sysadmin']}".encode())]
        else:
            conn.simple_bind_s(d.dns["sysadmin"], w.PASSWORD)
            ctrls = []
        conn.rename_s(dn, dn.split(",")[0], new_parent, delold=1, serverctrls=ctrls)
        return True
    except (ldap.INSUFFICIENT_ACCESS, ldap.NO_SUCH_OBJECT, ldap.UNWILLING_TO_PERFORM):
        return False
    finally:
        conn.unbind_s()


def test_slapd_refuses_a_raw_move_without_both_sides(world: w.World) -> None:
    a, b, c = dept(world, SCHOOL_A), dept(world, SCHOOL_B), dept(world, SCHOOL_C)
    p = person_at(world, SCHOOL_A)
    assert _raw_move(world, b, p.dn, SCHOOL_B) is False  # not released: the receiver cannot
    assert _raw_move(world, a, p.dn, SCHOOL_A2) is False  # the holder alone cannot either
    with ops(world.settings) as session:  # the release, as the releasing side writes it
        session.replace(p.dn, {"idmReleasedTo": [org_dn(world, SCHOOL_B)]})
    assert _raw_move(world, c, p.dn, SCHOOL_C) is False  # a third unit
    assert _raw_move(world, b, p.dn, SCHOOL_B, via_writer=False) is False  # own bind writes nothing
    assert _raw_move(world, b, p.dn, SCHOOL_A2) is False  # not into another unit than its own
    assert _raw_move(world, b, p.dn, SCHOOL_B, container="admins") is False  # nor another container
    for who in (a, b, c):  # a released entry is deleted by nobody
        conn = ldap.initialize(world.settings.ldap_uri)
        secret = (world.settings.secrets_dir / f"{WRITER}.secret").read_text().strip()
        conn.simple_bind_s(world.settings.service_dn(WRITER), secret)
        with pytest.raises((ldap.UNWILLING_TO_PERFORM, ldap.INSUFFICIENT_ACCESS)):
            as_who = ProxyAuthzControl(True, f"dn:{who.dns['sysadmin']}".encode())
            conn.delete_ext_s(p.dn, serverctrls=[as_who])
    with pytest.raises(ldap.INSUFFICIENT_ACCESS):  # nor written by the other side's system admin
        conn = ldap.initialize(world.settings.ldap_uri)
        conn.simple_bind_s(world.settings.service_dn(WRITER), secret)
        conn.modify_ext_s(p.dn, [(ldap.MOD_REPLACE, "idmReleasedTo", [org_dn(world, SCHOOL_C).encode()])],
                          serverctrls=[ProxyAuthzControl(True, f"dn:{b.dns['sysadmin']}".encode())])
    assert _raw_move(world, b, p.dn, SCHOOL_B) is True  # both sides: the move slapd allows
    assert entry(world, p.uid)[0].lower() == f"uid={p.uid},ou=people,{org_dn(world, SCHOOL_B)}".lower()


def test_a_raw_move_keeps_each_kind_in_its_own_container(world: w.World) -> None:
    """A county's system admin adds the admin accounts of the schools it manages; a user
    released to such a school moves into its people, never into its admins (nor an admin
    account into people)."""
    county, baotou = dept(world, "150102"), dept(world, "150200")
    q = person_at(world, UNIVERSITY)
    p = person_at(world, "150100", kind="admin")
    with ops(world.settings) as session:  # the releases, as the releasing sides write them
        session.replace(q.dn, {"idmReleasedTo": [org_dn(world, DELEGATED)]})
        session.replace(p.dn, {"idmReleasedTo": [org_dn(world, "150203")]})
    assert _raw_move(world, county, q.dn, DELEGATED, container="admins") is False
    assert _raw_move(world, baotou, p.dn, "150203", container="people") is False
    assert entry(world, q.uid)[0].lower() == q.dn.lower() and entry(world, p.uid)[0].lower() == p.dn.lower()
    assert _raw_move(world, county, q.dn, DELEGATED) is True  # into its own kind's container
    assert _raw_move(world, baotou, p.dn, "150203", container="admins") is True


def test_the_auditors_of_both_units_see_the_move_as_one_action(world: w.World) -> None:
    a, b = dept(world, SCHOOL_A), dept(world, SCHOOL_B)
    p = person_at(world, SCHOOL_A)
    a.act("release", release_form(a, p, SCHOOL_B), p.uid)
    b.act("transfer-user", accept_form(b, p, SCHOOL_A), p.uid)
    for d in (a, b):
        session, _ = d.session("auditor")
        with session:
            moves = [op for op in audit.operations(session, kind="modrdn") if p.uid in op.target]
        assert len(moves) == 1 and moves[0].moved_to.lower().startswith("ou=people,")
        assert moves[0].actor.lower() == b.dns["sysadmin"].lower()
        assert moves[0].moved_to.lower().endswith(org_dn(world, SCHOOL_B).lower())


def test_the_cli_releases_and_accepts(world: w.World, tmp_path: Path, cli_admins: dict[str, str]) -> None:
    """(`cli_admins` gives the CLI its session folder.)"""
    a, b = dept(world, SCHOOL_A), dept(world, SCHOOL_B)
    p = person_at(world, SCHOOL_A)
    a_uid, b_uid = cli_login(world, a, tmp_path), cli_login(world, b, tmp_path)
    out = run_cli(world.settings, "user", "release", p.uid, "--form", release_form(a, p, SCHOOL_B),
                  "--as", a_uid)
    assert out.exit_code == 0, out.output
    missing = run_cli(world.settings, "user", "transfer", p.uid, "--form", accept_form(b, p, SCHOOL_A),
                      "--as", b_uid)
    assert missing.exit_code == 2 and "--to" in missing.output
    form = accept_form(b, p, SCHOOL_A)
    done = run_cli(world.settings, "user", "transfer", p.uid, "--to", SCHOOL_B, "--form", form, "--as", b_uid)
    assert done.exit_code == 0 and "调入业务用户" in done.output, done.output


def cli_login(world: w.World, d: Dept, tmp_path: Path, role: str = "sysadmin") -> str:
    """`idm login` for the department's admin (enrolling a factor first): its uid."""
    uid = d.dns[role].split(",")[0].split("=")[1]
    password = tmp_path / "password"
    password.write_text(w.PASSWORD, encoding="utf-8")
    code = [] if _has_factor(world, d, role) else \
        ["--code", totp_code(enrol_factor(world.settings, d.dns[role]), 1)]
    signed_in = run_cli(world.settings, "login", "--as", uid, "--password-file", str(password), *code)
    assert signed_in.exit_code == 0, signed_in.output
    return uid


def test_the_cli_moves_an_admin_account(world: w.World, tmp_path: Path, cli_admins: dict[str, str]) -> None:
    province, baotou = dept(world, "150000"), dept(world, "150200")
    p = person_at(world, "150100", kind="admin")
    sys_p, sys_b = cli_login(world, province, tmp_path), cli_login(world, baotou, tmp_path)
    sec_b = cli_login(world, baotou, tmp_path, "secadmin")
    release = province.form(kind="change", unit="150100", change_type="release", transfer_to="150203",
                            account_uid=p.uid, name=p.name, id_number=p.number)
    out = run_cli(world.settings, "admin", "release", p.uid, "--form", release, "--as", sys_p)
    assert out.exit_code == 0, out.output
    form = accept_form(baotou, p, "150100", unit="150203", role="auditor")
    wrong = run_cli(world.settings, "user", "transfer", p.uid, "--to", "150203", "--form", form,
                    "--as", sys_b)
    assert wrong.exit_code == 1 and "admin" in wrong.output  # the user command is for business users
    out = run_cli(world.settings, "admin", "transfer", p.uid, "--to", "150203", "--form", form, "--as", sys_b)
    assert out.exit_code == 0, out.output
    out = run_cli(world.settings, "admin", "set-role", p.uid, "--form", form, "--as", sec_b)
    assert out.exit_code == 0, out.output
    dn, after = entry(world, p.uid)
    assert "ou=150203," in dn and after["idmAdminRole"] == [b"auditor"]


def _has_factor(world: w.World, d: Dept, role: str = "sysadmin") -> bool:
    with ops(world.settings) as session:
        found = session.get(d.dns[role], ["objectClass"])
    return found is not None and "oathTOTPToken" in found[1]["objectClass"]


def _changed_only_forms(before: dict[str, dict[str, list[bytes]]],
                        after: dict[str, dict[str, list[bytes]]]) -> bool:
    """Nothing changed but new form records (refusals record nothing else)."""
    changed = {dn for dn in set(before) | set(after) if before.get(dn) != after.get(dn)}
    assert all(",ou=forms," in dn or dn.startswith("ou=forms,") for dn in changed), [
        (dn, {k for k in set(before.get(dn, {})) | set(after.get(dn, {}))
              if before.get(dn, {}).get(k) != after.get(dn, {}).get(k)}) for dn in changed]
    return True



def test_a_transfer_file_is_checked_whole_then_loaded_and_resumes(world: w.World, tmp_path: Path,
                                                                   cli_admins: dict[str, str]) -> None:
    """A county's system admin moves teachers between a school it manages (R2) and its own
    people: both sides are its department's, so one load does both steps of each row."""
    county = dept(world, "150102")
    people = [person_at(world, DELEGATED) for _ in range(3)]
    password = tmp_path / "password"
    password.write_text(w.PASSWORD, encoding="utf-8")
    uid = county.dns["sysadmin"].split(",")[0].split("=")[1]
    if not _has_factor(world, county):
        secret = enrol_factor(world.settings, county.dns["sysadmin"])
        signed_in = run_cli(world.settings, "login", "--as", uid, "--password-file", str(password),
                            "--code", totp_code(secret, 1))
        assert signed_in.exit_code == 0, signed_in.output
    rows = [(p.uid if i != 1 else p.number, DELEGATED, "150102",
             release_form(county, p, "150102", unit=DELEGATED),
             accept_form(county, p, DELEGATED, unit="150102")) for i, p in enumerate(people)]
    path = tmp_path / "transfers.csv"

    def write(extra: str = "") -> None:
        text = "account,from,to,release_form,accept_form\n" + "".join(f"{','.join(r)}\n" for r in rows)
        path.write_text(text + extra, encoding="utf-8")

    write("nobody.here,2115010203,150102,F1,F2\nx,2115010203,99,F1,F2\n")
    before = snapshot(world.settings)
    refused = run_cli(world.settings, "load", str(path), "--as", uid)
    assert refused.exit_code == 1, refused.output
    assert "transfers.csv:6" in refused.output and "transfers.csv:5" in refused.output
    assert _changed_only_forms(before, snapshot(world.settings))  # the whole file first: nothing done
    write()
    county.act("release", rows[2][3], people[2].uid)  # a load stopped half way: released, not moved
    dry = run_cli(world.settings, "load", str(path), "--as", uid, "--dry-run")
    assert dry.exit_code == 0 and "3 to do (5 steps)" in dry.output, dry.output
    done = run_cli(world.settings, "load", str(path), "--as", uid)
    assert done.exit_code == 0 and "done: 5 steps" in done.output, done.output
    for p in people:
        assert entry(world, p.uid)[0].lower() == f"uid={p.uid},ou=people,{org_dn(world, '150102')}".lower()
    again = run_cli(world.settings, "load", str(path), "--as", uid, "--dry-run")
    assert "3 done already" in again.output, again.output
