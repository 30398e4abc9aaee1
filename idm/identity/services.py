"""Downstream service accounts (R20 platforms' consumers): created by the system admin of a
level with a form, under `ou=services` of its node. They bind with a random secret and read the
active users at and below that node — uid, name, status, grants, certificate — nothing private,
nothing disabled, no writes. Their reach comes from where they sit, not from any value.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass

from idm.directory import names
from idm.directory.session import Session
from idm.errors import InvalidInput
from idm.filing import forms
from idm.ops.render import service_policy_dn
from idm.rules import actor as actors
from idm.rules.actor import Actor
from idm.rules.terms import SELFSERVICE
from idm.tree import org

NAME_CHARS = "abcdefghijklmnopqrstuvwxyz0123456789-"


@dataclass(frozen=True)
class ServiceAccount:
    dn: str
    secret: str  # shown once, or written to a 0600 file


def create(session: Session, actor: Actor, unit: str, name: str, form: str,
           description: str = "") -> ServiceAccount:
    if not (2 <= len(name) <= 64 and name[0].isalpha() and all(c in NAME_CHARS for c in name)):
        raise InvalidInput(f"服务账号名“{name}”无效：小写字母开头，仅含 a-z 0-9 -",
                           f"service name {name!r} is invalid: a-z, 0-9 and -, starting with a letter")
    node = org.find(session, unit)
    container = names.child_dn("ou", "services", node.dn)
    actors.require(session, actor, "create_service", container)
    registration = forms.expect(session, form, "service", unit_dn=node.dn)
    if registration.data.service_name != name:
        raise forms.mismatch(registration, "服务账号名 service_name", registration.data.service_name, name)
    form = registration.form_id
    dn = names.child_dn("cn", name, container)
    session.add(dn, {"objectClass": ["idmServiceAccount"], "cn": [name], "idmStatus": ["active"],
                     "description": [description or f"下游系统 {name}"], "idmFormRef": [form],
                     "pwdPolicySubentry": [service_policy_dn(session.suffix)]})
    secret = secrets.token_urlsafe(32)
    session.through(SELFSERVICE).set_password(dn, secret)
    forms.record_step(session, actor, registration, "create", dn, final=True)
    return ServiceAccount(dn, secret)


def create_from_form(session: Session, actor: Actor, form_id: str) -> ServiceAccount:
    """The service account a registration names, at the unit it names."""
    registration = forms.expect(session, form_id, "service")
    return create(session, actor, registration.data.unit, registration.data.service_name or "", form_id)
