"""R17 as a sweep: every admin identity (province and city, all three roles), by its own bind
and through the writer acting as it, reads every entry of the directory and every record of the
write log it can, and finds a full ID number or mobile of another person only where the
permission table allows it: the managing system admin, and the person."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator

import ldap
import pytest
from ldap.controls import SimplePagedResultsControl
from ldap.controls.simple import ProxyAuthzControl

from idm.directory import lookup
from idm.rules.terms import WRITER
from tests import world as w
from tests.conftest import ops


@pytest.fixture(scope="module")
def people(world: w.World) -> dict[str, str]:
    """Private data in every place it can sit: accounts (active and disabled), forms of both
    departments (pending and executed, with contact data and an info change), and the write log
    of all of that."""
    province = world.nodes["parent"]
    with ops(world.settings) as session:
        for role in ("sysadmin", "secadmin", "auditor"):
            if not session.exists(f"uid=p.{role},ou=admins,{province}"):
                w.make_admin(session, province, f"p.{role}", role)
    planted = {}
    registration = world.form("registration", world.nodes["own"], name="隐私甲", id_number=w.id_number(700),
                              mobile="13712340001", email="yinsi@demo.edu.cn", office_phone="0471-2857001")
    created = world.act("sysadmin", "create-user", registration).result
    planted[created.dn] = "13712340001"
    info = world.form_about("change", created.dn, change_type="info", before={"mobile": "13712340001"},
                            after={"mobile": "13712340002"})
    world.act("sysadmin", "update", info, created.uid)
    world.form("registration", world.nodes["child"], name="隐私乙", id_number=w.id_number(701),
               mobile="13712340003", role="auditor")  # pending, for a county admin
    province_session = signin_session(world, f"uid=p.sysadmin,ou=admins,{province}")
    from idm.filing import forms
    from idm.filing.fields import FormData
    from idm.rules import actor as actors

    with province_session:
        forms.add(province_session, actors.load(province_session), FormData(
            kind="registration", unit="150100", name="隐私丙", id_number=w.id_number(702),
            mobile="13712340004", role="sysadmin"))
    return planted


def signin_session(world: w.World, dn: str):  # type: ignore[no-untyped-def]
    from idm.auth.signin import admin_session

    return admin_session(world.settings, dn)


def all_private_values(world: w.World) -> dict[str, set[str]]:
    """value -> the DNs of the entries (accounts, forms) that hold it, as the operator sees them."""
    found: dict[str, set[str]] = {}
    with ops(world.settings) as session:
        flt = "(|(idmIdNumber=*)(mobile=*)(idmRecordPrivate=*))"
        wanted = ["idmIdNumber", "mobile", "idmRecordPrivate"]
        for dn, attrs in session.search(world.settings.suffix, flt, wanted):
            values = [*attrs.get("idmIdNumber", []), *attrs.get("mobile", [])]
            for blob in attrs.get("idmRecordPrivate", []):
                private = json.loads(blob)
                values += [private.get("mobile") or "", *private.get("after", {}).values(),
                           *private.get("before", {}).values()]
            for value in values:
                if value and value[0].isdigit():
                    found.setdefault(value, set()).add(dn.lower())
    return found


def readable(conn: ldap.ldapobject.LDAPObject, base: str, ctrls: list[ProxyAuthzControl]
             ) -> Iterator[tuple[str, str]]:
    """(DN, all its values as text) of everything the identity reads under base (paged: the
    soft size limit must not hide anything from the sweep)."""
    page = SimplePagedResultsControl(True, size=500, cookie="")
    while True:
        try:
            msgid = conn.search_ext(base, ldap.SCOPE_SUBTREE, "(objectClass=*)", ["*", "+"],
                                    serverctrls=[*ctrls, page])
            _, results, _, controls = conn.result3(msgid)
        except ldap.NO_SUCH_OBJECT:
            return
        for dn, attrs in results:
            if dn:
                yield dn, " ".join(v.decode("utf-8", "replace") for vs in attrs.values() for v in vs)
        kind = SimplePagedResultsControl.controlType
        cookie = next((c.cookie for c in controls if c.controlType == kind), b"")
        if not cookie:
            return
        page.cookie = cookie


def _relation(reader: str, owner: str) -> bool:
    """Does the table let `reader` (an admin DN) see the private data of `owner` (an entry)?
    By hand: the system admin of the owner's node for people and forms, of the parent node for
    admin accounts (and a delegated school's people); the person itself."""
    reader, owner = reader.lower(), owner.lower()
    if reader == owner:
        return True
    if not reader.startswith("uid=") or ",ou=admins," not in reader:
        return False
    role = reader.split(",")[0].split("=")[1]
    if not role.endswith("sysadmin"):
        return False
    node = reader.split(",ou=admins,", 1)[1]
    parts = owner.split(",", 2)
    container, owner_node = parts[1], parts[2]
    delegated_school = "ou=2115019901," + node
    if container in ("ou=people", "ou=forms"):
        return owner_node in (node, delegated_school)
    if container == "ou=admins":
        return owner_node.endswith("," + node) and owner_node.count(",") == node.count(",") + 1
    return False


# ID numbers (18) and mobiles (11) as whole tokens in any text
NUMBERS = re.compile(r"(?<![0-9])(?:[0-9]{17}[0-9X]|[0-9]{11})(?![0-9X])")
IDENTITIES = [f"{who}.{role}" for who in ("m", "p") for role in ("sysadmin", "secadmin", "auditor")]


@pytest.mark.parametrize("path", ["own", "writer"])
@pytest.mark.parametrize("uid", IDENTITIES)
def test_private_values_only_where_the_table_allows(world: w.World, people: dict[str, str], uid: str,
                                                   path: str) -> None:
    reader = (world.actors[uid.split(".")[1]] if uid.startswith("m.")
              else f"uid={uid},ou=admins,{world.nodes['parent']}")
    values = all_private_values(world)
    assert "13712340002" in values and w.id_number(702) in values  # the sweep sees what it must
    if path == "own":
        conn = ldap.initialize(world.settings.ldap_uri)
        conn.simple_bind_s(reader, w.PASSWORD)
        ctrls: list[ProxyAuthzControl] = []
    else:
        conn = ldap.initialize(world.settings.ldap_uri)
        conn.simple_bind_s(world.settings.service_dn(WRITER),
                           lookup.read_secret(world.settings.secrets_dir / f"{WRITER}.secret"))
        ctrls = [ProxyAuthzControl(True, f"dn:{reader}".encode())]
    leaks = []
    for base in (world.settings.suffix, "cn=accesslog"):
        for dn, text in readable(conn, base, ctrls):
            for value in set(NUMBERS.findall(text)) & values.keys():
                allowed = base != "cn=accesslog" and dn.lower() in values[value] and _relation(reader, dn)
                if not allowed:
                    leaks.append((dn, value))
    conn.unbind_s()
    assert leaks == []


def test_the_sweep_can_fail(world: w.World, people: dict[str, str]) -> None:
    """The managing system admin does see the planted values (so the sweep is not blind)."""
    conn = ldap.initialize(world.settings.ldap_uri)
    conn.simple_bind_s(world.actors["sysadmin"], w.PASSWORD)
    seen = " ".join(text for _, text in readable(conn, world.settings.suffix, []))
    assert "13712340002" in seen and w.id_number(700) in seen and "13712340003" in seen
    conn.simple_bind_s(world.actors["auditor"], w.PASSWORD)
    log = " ".join(text for _, text in readable(conn, "cn=accesslog", []))
    assert "隐私甲" in log  # the auditor reads the log records, names and all, without the numbers
    conn.simple_bind_s(world.actors["secadmin"], w.PASSWORD)
    forms_seen = " ".join(text for _, text in readable(conn, f"ou=forms,{world.nodes['own']}", []))
    assert "隐私甲" in forms_seen and "13712340001" not in forms_seen and w.id_number(700) not in forms_seen
