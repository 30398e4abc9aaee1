"""A small world for the delegated-administration tests: the three admins of Hohhot (150100),
a school directly under it delegated to it (R2), and targets made to order by the operator."""

from __future__ import annotations

import itertools
from dataclasses import dataclass

import ldap

from idm import actor as actors
from idm import org, org_input
from idm.actor import Actor
from idm.config import Settings
from idm.directory import connection
from idm.directory.session import Session
from idm.validation import id_check_digit, mask_id_number
from tests.conftest import ops

CITY = "150100"
RELATION_CODES = {
    "own": "150100",
    "child": "150102",
    "grandchild": "2115010201",
    "sibling": "150200",
    "parent": "150000",
    "delegated": "2115019901",
}
PASSWORD = "Matrix-Passw0rd!"
_counter = itertools.count(1)


def id_number(seq: int) -> str:
    first = f"15010219900101{seq % 1000:03d}"
    return first + id_check_digit(first)


@dataclass
class World:
    settings: Settings
    nodes: dict[str, str]  # relation -> node DN
    actors: dict[str, str]  # role -> DN

    def session(self, role: str) -> tuple[Session, Actor]:
        conn = connection.bind_as(self.settings.ldap_uri, self.actors[role], PASSWORD)
        session = Session(conn, self.settings.suffix)
        return session, actors.load(session)

    def raw(self, role: str) -> ldap.ldapobject.LDAPObject:
        conn = ldap.initialize(self.settings.ldap_uri)
        conn.simple_bind_s(self.actors[role], PASSWORD)
        return conn

    def target(self, kind: str, relation: str, *, state: str = "active", role: str | None = "auditor",
               legacy: bool = False) -> str:
        """A fresh account at the relation's node, made by the operator."""
        n = next(_counter)
        uid = f"t{n:05d}"
        container = "people" if kind == "person" else "admins"
        dn = f"uid={uid},ou={container},{self.nodes[relation]}"
        number = id_number(n)
        attrs = {
            "objectClass": ["idmBusinessAccount" if kind == "person" else "idmAdminAccount"],
            "uid": [uid], "cn": ["测试"], "sn": ["测"], "idmStatus": [state],
            "idmIdNumber": [number], "idmIdMasked": [mask_id_number(number)], "mobile": ["13900000000"],
        }
        if kind == "admin" and role:
            attrs["idmAdminRole"] = [role]
        if legacy:
            attrs["idmLegacy"] = ["TRUE"]
        if state == "disabled":
            attrs["pwdAccountLockedTime"] = ["000001010000Z"]
        if state == "locked":
            attrs["idmStatus"] = ["active"]
            attrs["pwdAccountLockedTime"] = [actors.now()]
        with ops(self.settings) as session:
            session.add(dn, attrs)
        return dn


def make_admin(session: Session, node_dn: str, uid: str, role: str | None) -> str:
    dn = f"uid={uid},ou=admins,{node_dn}"
    attrs = {"objectClass": ["idmAdminAccount"], "uid": [uid], "cn": [uid], "sn": [uid],
             "idmStatus": ["active"]}
    if role:
        attrs["idmAdminRole"] = [role]
        attrs["idmScope"] = [node_dn]
    session.add(dn, attrs)
    session.set_password(dn, PASSWORD)
    session.conn.modify_s(dn, [(ldap.MOD_DELETE, "pwdReset", None)])  # as if changed at first login
    return dn


def build(settings: Settings, tmp_csv) -> World:  # type: ignore[no-untyped-def]
    tmp_csv.write_text("code,name,level,parent,managed_by\n"
                       "2115019901,样例·呼和浩特市委托学校,school,150100,150100\n", encoding="utf-8")
    with ops(settings) as session:
        org.apply(session, org.plan(session, org_input.read_nodes(tmp_csv)))
        nodes = {rel: org.find(session, code).dn for rel, code in RELATION_CODES.items()}
        city = nodes["own"]
        admins = {role: make_admin(session, city, f"m.{role}", role)
                  for role in ("sysadmin", "secadmin", "auditor")}
    return World(settings, nodes, admins)
