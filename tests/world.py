"""A small world for the delegated-administration tests: the three admins of Hohhot (150100),
a school directly under it delegated to it (R2), and targets made to order by the operator."""

from __future__ import annotations

import itertools
from dataclasses import dataclass
from typing import Any

import ldap

from idm import pipeline
from idm.auth import signin
from idm.config import Settings
from idm.directory import names
from idm.directory.session import Session
from idm.filing import forms
from idm.filing.fields import FormData
from idm.filing.kinds import check
from idm.rules import actor as actors
from idm.rules.actor import Actor
from idm.tree import org
from idm.validation import id_check_digit, mask_id_number
from tests.conftest import load_tree, ops

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
TARGETS = 100_000  # numbers of the accounts `target` makes
FRESH = 200_000  # numbers of people who hold no account yet


def id_number(seq: int) -> str:
    """A valid, distinct ID number per seq (up to 336,000): one person, one number."""
    day, n = divmod(seq, 1000)
    first = f"150102199{day // 336 % 10}{day // 28 % 12 + 1:02d}{day % 28 + 1:02d}{n:03d}"
    return first + id_check_digit(first)


@dataclass
class World:
    settings: Settings
    nodes: dict[str, str]  # relation -> node DN
    actors: dict[str, str]  # role -> DN

    def session(self, role: str) -> tuple[Session, Actor]:
        """The admin as the toolkit opens it: password checked, then the writer acting as it."""
        uid = self.actors[role].split(",")[0].split("=")[1]
        progress = signin.authenticate(self.settings, uid, PASSWORD)
        session = signin.admin_session(self.settings, progress.dn)
        return session, actors.load(session)

    def raw(self, role: str) -> ldap.ldapobject.LDAPObject:
        conn = ldap.initialize(self.settings.ldap_uri)
        conn.simple_bind_s(self.actors[role], PASSWORD)
        return conn

    def form(self, kind: str, unit_dn: str, **fields: Any) -> str:
        """A form of `kind` about a unit, recorded by Hohhot's system admin (its department); a
        form about a unit it does not serve (which the toolkit refuses to record) is put there
        by the operator, so that an action on it meets the permission check and nothing else."""
        session, actor = self.session("sysadmin")
        code = unit_dn.split(",")[0].split("=")[1]
        defaults = {"name": "测试", "id_number": id_number(FRESH + next(_counter)),
                    "mobile": "13900000000"}
        data = FormData(kind=kind, unit=code, **{**defaults, **fields})
        with session:
            served = names.parent_of(unit_dn).lower() == actor.node_dn.lower() or unit_dn.lower() == \
                actor.node_dn.lower()
            if served:
                return forms.add(session, actor, data).form_id
        form_id, dn, attrs = forms.record(check(data), actor)
        with ops(self.settings) as op_session:
            op_session.add(dn, attrs)
        return form_id

    def act(self, role: str, operation: str, form_id: str, uid: str | None = None, value: str | None = None,
            **inputs: Any) -> pipeline.Outcome:
        """Run an operation as one of Hohhot's admins, as the web UI and the CLI do."""
        session, actor = self.session(role)
        with session:
            return pipeline.run(pipeline.Acting(session, actor), operation, form_id, uid, value, **inputs)

    def form_about(self, kind: str, account_dn: str, **fields: Any) -> str:
        """A form of `kind` about an existing account (its unit, login, name and number)."""
        with ops(self.settings) as session:
            entry = session.get(account_dn, ["uid", "cn", "idmIdNumber"])
        assert entry is not None
        a = entry[1]
        about = {"account_uid": a["uid"][0], "name": a["cn"][0], "id_number": a["idmIdNumber"][0], **fields}
        return self.form(kind, names.parent_of(names.parent_of(account_dn)), **about)

    def target(self, kind: str, relation: str, *, state: str = "active", role: str | None = "auditor",
               legacy: bool = False) -> str:
        """A fresh account at the relation's node, made by the operator."""
        n = next(_counter)
        uid = f"t{n:05d}"
        container = "people" if kind == "person" else "admins"
        dn = f"uid={uid},ou={container},{self.nodes[relation]}"
        number = id_number(TARGETS + n)
        attrs = {
            "objectClass": ["idmBusinessAccount" if kind == "person" else "idmAdminAccount"],
            "uid": [uid], "cn": ["测试"], "sn": ["测"], "idmStatus": [state],
            "idmIdNumber": [number], "idmIdMasked": [mask_id_number(number)], "mobile": ["13900000000"],
        }
        if kind == "admin" and role:
            attrs["idmAdminRole"] = [role]
        if legacy:  # a post account: nobody's data yet
            attrs["idmLegacy"] = ["TRUE"]
            for private in ("idmIdNumber", "idmIdMasked", "mobile"):
                del attrs[private]
        if state == "disabled":
            attrs["pwdAccountLockedTime"] = ["000001010000Z"]
        if state == "locked":
            attrs["idmStatus"] = ["active"]
            attrs["pwdAccountLockedTime"] = [actors.now()]
        with ops(self.settings) as session:
            session.add(dn, attrs)
        return dn


def scoped_service(settings: Settings, name: str, scope_dn: str) -> str:
    """A downstream service account the operator made under ou=system, scoped by idmScope."""
    dn = f"cn={name},ou=system,{settings.suffix}"
    with ops(settings) as session:
        session.add(dn, {"objectClass": ["idmServiceAccount"], "cn": [name], "idmScope": [scope_dn],
                         "idmStatus": ["active"]})
        session.set_password(dn, PASSWORD)
        session.conn.modify_s(dn, [(ldap.MOD_DELETE, "pwdReset", None)])
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
    load_tree(settings, tmp_csv)
    with ops(settings) as session:
        nodes = {rel: org.find(session, code).dn for rel, code in RELATION_CODES.items()}
        city = nodes["own"]
        admins = {role: make_admin(session, city, f"m.{role}", role)
                  for role in ("sysadmin", "secadmin", "auditor")}
    return World(settings, nodes, admins)
