"""Downstream service accounts (R20 platforms' consumers): created by the system admin of a
level with a form, under `ou=services` of its node. They bind with a random secret and read the
active users at and below that node — uid, name, status, grants, certificate — nothing private,
nothing disabled, no writes. Their reach comes from where they sit, not from any value.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass

from idm.directory import names
from idm.errors import InvalidInput
from idm.ops.render import service_policy_dn
from idm.pipeline import Step
from idm.rules.terms import SELFSERVICE

NAME_CHARS = "abcdefghijklmnopqrstuvwxyz0123456789-"


@dataclass(frozen=True)
class ServiceAccount:
    dn: str
    secret: str  # shown once, or written to a 0600 file


def create(step: Step) -> ServiceAccount:
    """The service account a downstream system's registration names, under ou=services of the
    unit it names, with a random secret set through the password service."""
    name = step.form.data.service_name or ""
    if not (2 <= len(name) <= 64 and name[0].isalpha() and all(c in NAME_CHARS for c in name)):
        raise InvalidInput(f"服务账号名“{name}”无效：小写字母开头，仅含 a-z 0-9 -",
                           f"service name {name!r} is invalid: a-z, 0-9 and -, starting with a letter")
    assert step.unit is not None
    session, form = step.session, step.form.form_id
    dn = names.child_dn("cn", name, names.child_dn("ou", "services", step.unit.dn))
    session.add(dn, {"objectClass": ["idmServiceAccount"], "cn": [name], "idmStatus": ["active"],
                     "description": [f"下游系统 {name}"], "idmFormRef": [form],
                     "pwdPolicySubentry": [service_policy_dn(session.suffix)]})
    secret = secrets.token_urlsafe(32)
    session.through(SELFSERVICE).set_password(dn, secret)
    return ServiceAccount(dn, secret)
