"""One-time passwords: generated here, hashed by slapd, never stored or logged by the toolkit."""

from __future__ import annotations

import secrets
import string

from idm.directory.session import Session
from idm.rules.terms import SELFSERVICE


def random_password(length: int = 16) -> str:
    """Random, with all four character classes, so it passes any of the policy profiles."""
    alphabet = string.ascii_letters + string.digits + "!#%+-=?@^_"
    while True:
        value = "".join(secrets.choice(alphabet) for _ in range(length))
        classes = [any(c in s for c in value) for s in
                   (string.ascii_lowercase, string.ascii_uppercase, string.digits, "!#%+-=?@^_")]
        if all(classes):
            return value


def one_time_password(session: Session, dn: str, form: str | None = None) -> str:
    """Password Modify through the password service as the acting admin (slapd hashes; the
    admin manages the password, so the owner's minimum age does not stand in the way), then
    pwdReset: ppolicy lets the owner do nothing else until they choose their own."""
    password = session.through(SELFSERVICE).set_password(dn, random_password())
    changes = {"pwdReset": ["TRUE"]}
    if form:
        changes["idmFormRef"] = [form]
    session.replace(dn, changes)
    return password

