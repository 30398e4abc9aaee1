"""Sign-in by LDAP bind as the person (the web UI's first factor).

The uid is looked up with an escaped filter by the lookup service; an unknown uid and a wrong
password give the same words. What ppolicy says (expiring soon, grace logins left, must change
now, locked) is returned or raised so the transport can show it.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from idm.directory import connection, lookup
from idm.directory.connection import BindState


@dataclass(frozen=True)
class SignedIn:
    dn: str
    uid: str
    admin: bool
    state: BindState


def authenticate(uri: str, suffix: str, secrets_dir: Path, uid: str, password: str) -> SignedIn:
    """Raises AuthenticationFailed (or AccountLocked, PasswordExpired) with user-safe words."""
    dn = lookup.account_dn(uri, suffix, secrets_dir, uid)
    conn, state = connection.bind_with_policy(uri, dn, password)
    conn.unbind_s()
    return SignedIn(dn=dn, uid=uid, admin=",ou=admins," in dn.lower(), state=state)


def still_active(uri: str, suffix: str, secrets_dir: Path, dn: str) -> bool:
    """Checked on every request, so disabling an account ends its web sessions at once."""
    service = lookup.service_session(uri, suffix, secrets_dir)
    with service:
        entry = service.get(dn, ["idmStatus", "pwdAccountLockedTime"])
    if entry is None:
        return False
    attrs = entry[1]
    return attrs.get("idmStatus") == ["active"] and "pwdAccountLockedTime" not in attrs

