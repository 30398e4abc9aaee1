"""R4-R7 as a matrix: every role x relation x operation, tried three ways, against an expected
table written out here by hand from the rules (not derived from `idm.permissions`):

- idm:    through the toolkit, with a fitting form, as the web UI and the CLI do;
- writer: raw python-ldap through the writer (or the password service) acting as the admin,
          with none of the toolkit's checks: what slapd alone allows. It must equal the table;
- own:    raw python-ldap with the admin's own password: every write refused, whatever the
          table says (ARCHITECTURE principle 1); reading the ID number as the table says.
"""

from __future__ import annotations

import itertools
import json
from collections.abc import Callable
from pathlib import Path

import ldap
import pytest
from ldap.controls.simple import ProxyAuthzControl

from idm import pipeline
from idm.directory import lookup
from idm.directory.session import Session
from idm.errors import NotFound, PermissionDenied
from idm.filing import forms
from idm.filing.fields import FormData
from idm.identity import accounts
from idm.pki import certs
from idm.rules import acl
from idm.rules import actor as actors
from idm.rules.actor import Actor
from idm.rules.terms import SELFSERVICE, WRITER
from idm.tree import org
from tests import world as w
from tests.conftest import load_tree, ops

ROLES = ("sysadmin", "secadmin", "auditor")
RELATIONS = tuple(w.RELATION_CODES)
ACCOUNT_OPS = ("disable", "restore", "unlock", "reset", "factor", "info", "release", "delete", "read_id")
ELSEWHERE = "152502"  # a unit where no relation's target lives: where a release sends them
OPERATIONS = ("create_person", "create_admin", "set_role", "grant", "revoke", "apply_cert",
              "revoke_cert", "create_service", "legacy_convert", "record_form",
              *(f"{op}_{kind}" for op in ACCOUNT_OPS for kind in ("person", "admin")))
PATHS = ("idm", "writer", "own")

# The rules, by hand: (role, operation) -> relations where it is allowed; everything else refused.
PEOPLE = {"own", "delegated"}  # R4/R5: its own level's users, and a delegated school's (R2)
NEXT_ADMINS = {"child", "delegated"}  # R4/R5: the next level's admin accounts
EXPECTED: dict[tuple[str, str], set[str]] = {
    ("sysadmin", "create_person"): PEOPLE,
    ("sysadmin", "create_admin"): NEXT_ADMINS,
    ("sysadmin", "legacy_convert"): PEOPLE,
    ("sysadmin", "create_service"): {"own"},
    ("sysadmin", "record_form"): {"own"},
    ("sysadmin", "revoke_cert"): PEOPLE,  # R15: with a disable
    **{("sysadmin", f"{op}_person"): PEOPLE for op in ACCOUNT_OPS if op != "delete"},
    **{("sysadmin", f"{op}_admin"): NEXT_ADMINS for op in ACCOUNT_OPS if op != "delete"},
    ("secadmin", "grant"): PEOPLE,  # R5
    ("secadmin", "revoke"): PEOPLE,
    ("secadmin", "apply_cert"): PEOPLE,  # R19
    ("secadmin", "revoke_cert"): PEOPLE,
    ("secadmin", "set_role"): NEXT_ADMINS,  # R5
}
_ids = itertools.count(1)


def _kind(operation: str) -> str:
    return "admin" if operation.endswith("_admin") or operation in ("set_role", "create_admin") else "person"


def _target(world: w.World, operation: str, relation: str) -> str | None:
    """A fresh account in the state the operation needs, made by the operator."""
    if operation in ("create_person", "create_admin", "create_service", "record_form"):
        return None
    name = operation.rsplit("_", 1)[0] if operation.endswith(("_person", "_admin")) else operation
    state = {"restore": "disabled", "unlock": "locked"}.get(name, "active")
    dn = world.target(_kind(operation), relation, state=state,
                      role=None if operation == "set_role" else "auditor",
                      legacy=operation == "legacy_convert")
    with ops(world.settings) as session:
        if operation in ("revoke", "apply_cert", "revoke_cert"):  # holds a grant already
            session.modify(dn, [(ldap.MOD_ADD, "idmGrant", ["teacher#viewer"])])
        if name == "factor":
            session.modify_raw(dn, [(ldap.MOD_ADD, "objectClass", [b"oathTOTPToken"]),
                                    (ldap.MOD_ADD, "oathSecret", [b"0123456789abcdef0123"])])
    return dn


def _uuid(world: w.World, dn: str | None) -> str:
    with ops(world.settings) as session:
        return accounts.get(session, dn or "").uuid


def _cert_record(world: w.World, account_dn: str) -> str:
    node = ",".join(account_dn.split(",")[2:])
    name = f"Cmx{next(_ids)}"
    dn = f"cn={name},ou=certs,{node}"
    with ops(world.settings) as session:
        session.add(dn, {"objectClass": ["idmRecord"], "cn": [name], "idmRecordKind": ["cert"],
                         "idmRecordStatus": ["issued"],
                         "idmRecordSubject": [accounts.get(session, account_dn).uuid],
                         "idmRecordData": [json.dumps({"serial": "1"})],
                         "idmRecordState": [json.dumps({"history": []})]})
    return name


def _registered(world: w.World, account_dn: str, role: str) -> str:
    """A registration form whose create step made this account (as create_admin would)."""
    code = account_dn.split(",")[2].split("=")[1]
    with ops(world.settings) as session:
        entry = session.get(account_dn, ["cn", "idmIdNumber"])
        assert entry is not None
    form_id = world.form("registration", ",".join(account_dn.split(",")[2:]), role=role,
                         name=entry[1]["cn"][0], id_number=entry[1]["idmIdNumber"][0])
    with ops(world.settings) as session:
        dn = next(d for d, _ in session.search(world.settings.suffix, f"(cn={form_id})", ["1.1"]))
        state = {"history": [], "steps": {"create": {"by": "-", "at": "-", "target": account_dn}}}
        session.replace(dn, {"idmRecordState": [json.dumps(state)]})
    assert code
    return form_id


CHANGES = {"disable": {"change_type": "disable", "reason": "调离"}, "restore": {"change_type": "restore"},
           "unlock": {"change_type": "unlock"}, "reset": {"change_type": "reset"},
           "factor": {"change_type": "factor"},
           "info": {"change_type": "info", "after": {"mobile": "13800000001"}},
           "release": {"change_type": "release", "transfer_to": ELSEWHERE}}
CHANGE_OPERATION = {"release": "release", "disable": "disable", "restore": "restore", "unlock": "unlock",
                    "reset": "reset-password",
                    "factor": "reset-factor", "info": "update"}


def _run(name: str, form_id: str, uid: str | None = None, value: str | None = None,
         **inputs: object) -> Callable[[Session, Actor], object]:
    """The operation as every transport runs it: through the pipeline, as the admin."""
    return lambda s, a: pipeline.run(pipeline.Acting(s, a), name, form_id, uid, value, **inputs)


def _prepared(world: w.World, operation: str, relation: str) -> Callable[[Session, Actor], object]:
    """The operation, with its target and a fitting form made beforehand (by the operator and
    by Hohhot's system admin, who records the forms of its department)."""
    target = _target(world, operation, relation)
    node, code, n = world.nodes[relation], w.RELATION_CODES[relation], next(_ids)
    with ops(world.settings) as op_session:
        account = accounts.get(op_session, target) if target else None
    name = operation.rsplit("_", 1)[0] if operation.endswith(("_person", "_admin")) else operation

    def form(kind: str, **fields: object) -> str:
        return world.form_about(kind, target, **fields) if target else world.form(kind, node, **fields)

    if name in CHANGES:
        assert account is not None
        return _run(CHANGE_OPERATION[name], form("change", **CHANGES[name]), account.uid)
    if name == "delete":
        return lambda s, a: actors.require(s, a, "delete", target)
    if name == "read_id":
        return lambda s, a: _reads_id(s, a, target)
    if operation == "create_person":
        return _run("create-user", form("registration"), login=f"n{n:05d}")
    if operation == "create_admin":
        return _run("create-admin", form("registration", role="auditor"), login=f"n{n:05d}")
    if operation == "set_role":
        assert target is not None and account is not None
        return _run("set-role", _registered(world, target, "auditor"), account.uid)
    if operation in ("grant", "revoke"):
        f = form("grant", **{"grants_add" if operation == "grant" else "grants_remove": ["teacher#viewer"]})
        assert account is not None
        return _run(operation, f, account.uid, "teacher#viewer")
    if operation == "apply_cert":
        assert account is not None
        return _run("apply-cert", form("cert"), account.uid)
    if operation == "revoke_cert":
        record = _cert_record(world, target)
        return lambda s, a: certs.revoke(s, a, certs.get(s, record), "unspecified")
    if operation == "create_service":
        return _run("create-service", form("service", service_name=f"svc{n}"))
    if operation == "legacy_convert":
        assert account is not None
        return _run("convert", world.form("registration", node, account_uid=account.uid), account.uid)
    if operation == "record_form":  # at the admin's own node, about the relation's unit
        return lambda s, a: forms.add(s, a, FormData(kind="registration", unit=code, name="测试",
                                                     mobile="13900000000",
                                                     id_number=w.id_number(w.FRESH + 60_000 + n)))
    raise AssertionError(operation)


def _reads_id(session: Session, actor: Actor, target: str) -> bool:
    may = actors.may(session, actor, "read_private", target)
    try:
        seen = accounts.get(session, target).id_number is not None
    except NotFound:
        seen = False
    assert may == seen, "the Python pre-check and slapd disagree"
    if not seen:
        raise PermissionDenied("-", "-")
    return seen


def via_idm(world: w.World, role: str, operation: str, relation: str) -> bool:
    run = _prepared(world, operation, relation)
    session, actor = world.session(role)
    try:
        run(session, actor)
        return True
    except (PermissionDenied, NotFound):
        return False
    finally:
        session.close()


def _bound(world: w.World, role: str, path: str, password: bool = False) -> ldap.ldapobject.LDAPObject:
    """A raw connection: the admin's own bind, or a toolkit identity that will act as the admin."""
    if path == "own":
        return world.raw(role)
    name = SELFSERVICE if password else WRITER
    conn = ldap.initialize(world.settings.ldap_uri)
    conn.simple_bind_s(world.settings.service_dn(name),
                       lookup.read_secret(world.settings.secrets_dir / f"{name}.secret"))
    return conn


def via_raw(world: w.World, role: str, operation: str, relation: str, path: str) -> bool:
    target = _target(world, operation, relation)
    node = world.nodes[relation]
    n = next(_ids)
    ctrls = [] if path == "own" else [ProxyAuthzControl(True, f"dn:{world.actors[role]}".encode())]
    name = operation.rsplit("_", 1)[0] if operation.endswith(("_person", "_admin")) else operation
    conn = _bound(world, role, path, password=name == "reset")

    def account(cls: str) -> list[tuple[str, list[bytes]]]:
        number = w.id_number(w.FRESH + 50_000 + n).encode()
        return [("objectClass", [cls.encode()]), ("uid", [f"r{n:05d}".encode()]), ("cn", [b"x"]),
                ("sn", [b"x"]), ("idmStatus", [b"active"]), ("idmIdNumber", [number]),
                ("idmFormRef", [b"F-matrix"])]

    def modify(mods: list[tuple[int, str, list[bytes] | None]]) -> None:
        conn.modify_ext_s(target, mods, serverctrls=ctrls)

    try:
        if operation == "create_person":
            conn.add_ext_s(f"uid=r{n:05d},ou=people,{node}", account("idmBusinessAccount"), serverctrls=ctrls)
        elif operation == "create_admin":
            conn.add_ext_s(f"uid=r{n:05d},ou=admins,{node}", account("idmAdminAccount"), serverctrls=ctrls)
        elif operation == "record_form":
            conn.add_ext_s(f"cn=Fraw{n},ou=forms,{node}", [
                ("objectClass", [b"idmRecord"]), ("cn", [f"Fraw{n}".encode()]),
                ("idmRecordKind", [b"change"]), ("idmRecordStatus", [b"rejected"]),
                ("idmRecordData", [json.dumps({"kind": "change", "unit": w.RELATION_CODES[relation],
                                               "name": "测试"}).encode()])], serverctrls=ctrls)
        elif operation == "create_service":
            conn.add_ext_s(f"cn=raw{n},ou=services,{node}", [
                ("objectClass", [b"idmServiceAccount"]), ("cn", [f"raw{n}".encode()]),
                ("idmStatus", [b"active"]), ("idmFormRef", [b"F-matrix"])], serverctrls=ctrls)
        elif operation == "set_role":
            modify([(ldap.MOD_REPLACE, "idmAdminRole", [b"auditor"])])
        elif operation == "grant":
            modify([(ldap.MOD_ADD, "idmGrant", [b"teacher#viewer"])])
        elif operation == "revoke":
            modify([(ldap.MOD_DELETE, "idmGrant", [b"teacher#viewer"])])
        elif operation == "apply_cert":
            container = ",".join(target.split(",")[2:])  # type: ignore[union-attr]
            conn.add_ext_s(f"cn=Rraw{n},ou=certs,{container}", [
                ("objectClass", [b"idmRecord"]), ("cn", [f"Rraw{n}".encode()]), ("idmRecordKind", [b"cert"]),
                ("idmRecordStatus", [b"requested"]), ("idmRecordSubject", [_uuid(world, target).encode()])],
                serverctrls=ctrls)
        elif operation == "revoke_cert":
            record = _cert_record(world, target)  # type: ignore[arg-type]
            conn.modify_ext_s(f"cn={record},ou=certs,{','.join(target.split(',')[2:])}",  # type: ignore[union-attr]
                              [(ldap.MOD_REPLACE, "idmRecordStatus", [b"revoked"])], serverctrls=ctrls)
        elif operation == "legacy_convert":
            modify([(ldap.MOD_REPLACE, "idmLegacy", [b"FALSE"]), (ldap.MOD_REPLACE, "cn", [b"x"])])
        elif name == "disable":
            modify([(ldap.MOD_REPLACE, "idmStatus", [b"disabled"]),
                    (ldap.MOD_REPLACE, "pwdAccountLockedTime", [b"000001010000Z"])])
        elif name == "restore":
            modify([(ldap.MOD_REPLACE, "idmStatus", [b"active"]),
                    (ldap.MOD_DELETE, "pwdAccountLockedTime", None)])
        elif name == "unlock":
            modify([(ldap.MOD_DELETE, "pwdAccountLockedTime", None)])
        elif name == "reset":
            conn.passwd_s(target, None, "Reset-Passw0rd-1", serverctrls=ctrls)
        elif name == "factor":
            modify([(ldap.MOD_DELETE, "oathSecret", None)])
        elif name == "info":
            modify([(ldap.MOD_REPLACE, "mobile", [b"13800000002"])])
        elif name == "release":
            with ops(world.settings) as session:
                elsewhere = org.find(session, ELSEWHERE).dn
            modify([(ldap.MOD_REPLACE, "idmReleasedTo", [elsewhere.encode()])])
        elif name == "delete":
            conn.delete_ext_s(target, serverctrls=ctrls)
        elif name == "read_id":
            found = conn.search_ext_s(target, ldap.SCOPE_BASE, attrlist=["idmIdNumber"], serverctrls=ctrls)
            return bool(found and found[0][1].get("idmIdNumber"))
        return True
    except (ldap.INSUFFICIENT_ACCESS, ldap.NO_SUCH_OBJECT, ldap.UNWILLING_TO_PERFORM):
        return False  # (a delete: slapd deletes nothing, whoever asks: olcRestrict)
    finally:
        conn.unbind_s()


CASES = [(role, rel, op) for role in ROLES for rel in RELATIONS for op in OPERATIONS]


@pytest.mark.parametrize("path", PATHS)
@pytest.mark.parametrize(("role", "relation", "operation"), CASES)
def test_matrix(world: w.World, path: str, role: str, relation: str, operation: str) -> None:
    expected = relation in EXPECTED.get((role, operation), set())
    if path == "own" and not operation.startswith("read_id"):
        expected = False  # an admin's own bind writes nothing
    if path == "idm" and (role, operation) == ("sysadmin", "record_form"):
        expected = relation in ("own", "child", "delegated")  # forms about the units it serves
    if path == "idm":
        assert via_idm(world, role, operation, relation) is expected
    else:
        assert via_raw(world, role, operation, relation, path) is expected


@pytest.mark.parametrize("role", ROLES)
def test_nobody_writes_their_own_role(world: w.World, role: str) -> None:
    session, actor = world.session(role)
    with session:
        assert not actors.may(session, actor, "set_role", actor.dn)
        with pytest.raises(PermissionDenied):
            session.replace(actor.dn, {"idmAdminRole": ["sysadmin"]})
    conn = world.raw(role)
    with pytest.raises(ldap.INSUFFICIENT_ACCESS):
        conn.modify_s(world.actors[role], [(ldap.MOD_REPLACE, "idmAdminRole", [b"sysadmin"])])


def test_delegation_by_the_parents_security_admin_on_a_form(world: w.World, tmp_path: Path) -> None:
    """R2: only the parent's security admin delegates a school, and only on a delegation form."""
    csv = tmp_path / "school.csv"
    csv.write_text("code,name,level,parent\n2115019902,样例·委托测试学校,school,150100\n", encoding="utf-8")
    load_tree(world.settings, csv)
    with ops(world.settings) as session:
        school = org.find(session, "2115019902")
    for role in ("sysadmin", "auditor"):
        form = world.form("delegation", school.dn, delegate=True)
        with pytest.raises(PermissionDenied):
            world.act(role, "delegate", form)
    form = world.form("delegation", school.dn, delegate=True)
    assert world.act("secadmin", "delegate", form).changed
    for role in ROLES:
        conn = world.raw(role)
        with pytest.raises(ldap.INSUFFICIENT_ACCESS):
            conn.modify_s(school.dn, [(ldap.MOD_DELETE, "idmManagedBy", None)])
    with ops(world.settings) as session:
        assert org.find(session, "2115019902").managed_by


def test_the_live_rules_are_the_generated_ones_and_do_not_grow(world: w.World, tmp_path: Path) -> None:
    """slapd runs exactly the rules generated from the table, and loading more units adds none."""
    def live() -> list[str]:
        with ops(world.settings) as session:
            found = session.search("cn=config", f"(olcSuffix={world.settings.suffix})", ["olcAccess"])
            return [v.split("}", 1)[1] for _, a in found for v in a["olcAccess"]]

    generated = acl.main_acl(world.settings.suffix)
    assert live() == generated
    more = tmp_path / "more.csv"
    more.write_text("code,name,level,parent\n" + "".join(
        f"21150299{i:02d},样例·学校{i},school,150203\n" for i in range(50)), encoding="utf-8")
    load_tree(world.settings, more)
    assert live() == generated
