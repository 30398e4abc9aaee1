"""R4-R7 as a matrix: every role x relation x operation, run through `idm` and through raw
python-ldap binds with the admin's own password. Both must agree with the expected table,
which is written out here by hand from the rules (not derived from `idm.permissions`)."""

from __future__ import annotations

import itertools
from collections.abc import Callable
from pathlib import Path

import ldap
import pytest

from idm import accounts, acl, grants, org, org_input
from idm import actor as actors
from idm.errors import NotFound, PermissionDenied
from idm.person import Person
from idm.server import render
from tests import world as w
from tests.conftest import ops

ROLES = ("sysadmin", "secadmin", "auditor")
RELATIONS = tuple(w.RELATION_CODES)
ACCOUNT_OPS = ("disable", "restore", "unlock", "reset", "delete", "read_id")
OPERATIONS = ("create_person", "create_admin", "set_role", "grant",
              *(f"{op}_{kind}" for op in ACCOUNT_OPS for kind in ("person", "admin")))

# The rules, by hand: (role, operation) -> relations where it is allowed; everything else is refused.
MANAGES_PEOPLE = {"own", "delegated"}  # R4: its own level's users, and a delegated school's (R2)
MANAGES_ADMINS = {"child", "delegated"}  # R4: the next level's admin accounts
EXPECTED: dict[tuple[str, str], set[str]] = {
    ("sysadmin", "create_person"): MANAGES_PEOPLE,
    ("sysadmin", "create_admin"): MANAGES_ADMINS,
    **{("sysadmin", f"{op}_person"): MANAGES_PEOPLE for op in ACCOUNT_OPS if op != "delete"},
    **{("sysadmin", f"{op}_admin"): MANAGES_ADMINS for op in ACCOUNT_OPS if op != "delete"},
    ("secadmin", "grant"): MANAGES_PEOPLE,  # R5
    ("secadmin", "set_role"): MANAGES_ADMINS,  # R5
}



_uids = itertools.count(1)


def _person_for(n: int) -> Person:
    return Person.checked("王测试", w.id_number(500 + n % 400), "13900000001")


def _target_for(world: w.World, operation: str, relation: str) -> str | None:
    if operation.startswith(("create_",)):
        return None
    kind = "admin" if operation.endswith("_admin") or operation == "set_role" else "person"
    state = {"restore": "disabled", "unlock": "locked"}.get(operation.split("_")[0], "active")
    role = None if operation == "set_role" else "auditor"
    return world.target(kind, relation, state=state, role=role)


def via_idm(world: w.World, role: str, operation: str, relation: str) -> bool:
    session, actor = world.session(role)
    target = _target_for(world, operation, relation)
    code = w.RELATION_CODES[relation]
    with ops(world.settings) as op_session:
        account = accounts.get(op_session, target) if target else None
    calls: dict[str, Callable[[], object]] = {
        "create_person": lambda: accounts.create_business_user(
            session, actor, code, _person_for(next(_uids)), f"n{next(_uids):05d}"),
        "create_admin": lambda: accounts.create_admin(
            session, actor, code, _person_for(next(_uids)), f"n{next(_uids):05d}"),
        "set_role": lambda: accounts.set_role(session, actor, account, "sysadmin"),  # type: ignore[arg-type]
        "grant": lambda: grants.add(session, actor, account, "teacher#viewer"),  # type: ignore[arg-type]
    }
    name = operation.rsplit("_", 1)[0]
    if name == "disable":
        calls[operation] = lambda: accounts.disable(session, actor, account, "调离")  # type: ignore[arg-type]
    elif name == "restore":
        calls[operation] = lambda: accounts.restore(session, actor, account, "返岗")  # type: ignore[arg-type]
    elif name == "unlock":
        calls[operation] = lambda: accounts.unlock(session, actor, account)  # type: ignore[arg-type]
    elif name == "reset":
        calls[operation] = lambda: accounts.reset_password(session, actor, account)  # type: ignore[arg-type]
    elif name == "delete":
        calls[operation] = lambda: actors.require(session, actor, "delete", target)  # type: ignore[arg-type]
    try:
        if name == "read_id":
            may = actors.may(session, actor, "read_private", target)  # type: ignore[arg-type]
            try:
                seen = accounts.get(session, target).id_number is not None  # type: ignore[arg-type]
            except NotFound:
                seen = False
            assert may == seen, "the Python pre-check and slapd disagree"
            return seen
        calls[operation]()
        return True
    except (PermissionDenied, NotFound):
        return False
    finally:
        session.close()


def via_raw(world: w.World, role: str, operation: str, relation: str) -> bool:
    conn = world.raw(role)
    target = _target_for(world, operation, relation)
    node = world.nodes[relation]
    n = next(_uids)

    def new_entry(cls: str) -> list[tuple[str, list[bytes]]]:
        return [("objectClass", [cls.encode()]), ("uid", [f"r{n:05d}".encode()]), ("cn", [b"x"]),
                ("sn", [b"x"]), ("idmStatus", [b"active"])]

    name = operation.rsplit("_", 1)[0]
    try:
        if operation == "create_person":
            conn.add_s(f"uid=r{n:05d},ou=people,{node}", new_entry("idmBusinessAccount"))
        elif operation == "create_admin":
            conn.add_s(f"uid=r{n:05d},ou=admins,{node}", new_entry("idmAdminAccount"))
        elif operation == "set_role":
            conn.modify_s(target, [(ldap.MOD_REPLACE, "idmAdminRole", [b"sysadmin"])])
        elif operation == "grant":
            conn.modify_s(target, [(ldap.MOD_ADD, "idmGrant", [b"teacher#viewer"])])
        elif name == "disable":
            conn.modify_s(target, [(ldap.MOD_REPLACE, "idmStatus", [b"disabled"]),
                                   (ldap.MOD_REPLACE, "pwdAccountLockedTime", [b"000001010000Z"])])
        elif name == "restore":
            conn.modify_s(target, [(ldap.MOD_REPLACE, "idmStatus", [b"active"]),
                                   (ldap.MOD_DELETE, "pwdAccountLockedTime", None)])
        elif name == "unlock":
            conn.modify_s(target, [(ldap.MOD_DELETE, "pwdAccountLockedTime", None)])
        elif name == "reset":
            conn.passwd_s(target, None, "Reset-Passw0rd-1")
        elif name == "delete":
            conn.delete_s(target)
        elif name == "read_id":
            found = conn.search_s(target, ldap.SCOPE_BASE, attrlist=["idmIdNumber"])
            return bool(found and found[0][1].get("idmIdNumber"))
        return True
    except (ldap.INSUFFICIENT_ACCESS, ldap.NO_SUCH_OBJECT):
        return False
    finally:
        conn.unbind_s()


CASES = [(role, rel, op) for role in ROLES for rel in RELATIONS for op in OPERATIONS]


@pytest.mark.parametrize("path", ["idm", "raw"])
@pytest.mark.parametrize(("role", "relation", "operation"), CASES)
def test_matrix(world: w.World, path: str, role: str, relation: str, operation: str) -> None:
    expected = relation in EXPECTED.get((role, operation), set())
    run = via_idm if path == "idm" else via_raw
    assert run(world, role, operation, relation) is expected


@pytest.mark.parametrize("role", ROLES)
def test_nobody_writes_their_own_role(world: w.World, role: str) -> None:
    session, actor = world.session(role)
    with session:
        assert not actors.may(session, actor, "set_role", actor.dn)
    conn = world.raw(role)
    with pytest.raises(ldap.INSUFFICIENT_ACCESS):
        conn.modify_s(world.actors[role], [(ldap.MOD_REPLACE, "idmAdminRole", [b"sysadmin"])])


def test_the_live_rules_are_the_generated_ones_and_do_not_grow(world: w.World, tmp_path: Path) -> None:
    """slapd runs exactly the rules generated from the table, and loading more units adds none."""
    def live() -> list[str]:
        with ops(world.settings) as session:
            found = session.search("cn=config", f"(olcSuffix={world.settings.suffix})", ["olcAccess"])
            return [v.split("}", 1)[1] for _, a in found for v in a["olcAccess"]]

    generated = acl.main_acl(world.settings.suffix, render.ops_dn())
    assert live() == generated
    more = tmp_path / "more.csv"
    more.write_text("code,name,level,parent\n" + "".join(
        f"21150299{i:02d},样例·学校{i},school,150203\n" for i in range(50)), encoding="utf-8")
    with ops(world.settings) as session:
        org.apply(session, org.plan(session, org_input.read_nodes(more)))
    assert live() == generated
