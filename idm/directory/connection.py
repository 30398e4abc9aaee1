"""Opening connections to the directory.

Three ways in, each for one kind of caller:
- `ops_connection`: SASL EXTERNAL over the ldapi socket, i.e. the local operating-system account
  that owns the data folder. Used for initialisation, bootstrap and tree loading only.
- `bind_as`: simple bind as a person or service account with its own password; the directory
  then enforces its ACLs and ppolicy for exactly that identity.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import ldap
import ldap.sasl
from ldap.controls import RequestControlTuples
from ldap.controls.ppolicy import PasswordPolicyControl
from ldap.ldapobject import LDAPObject

from idm.directory.errors import translated
from idm.errors import AccountLocked, AuthenticationFailed, PasswordExpired

TIMEOUT_SECONDS = 10


def trust(ca_file: Path) -> None:
    """Verify the directory's TLS certificate against this CA file (the issuing chain)."""
    ldap.set_option(ldap.OPT_X_TLS_CACERTFILE, str(ca_file))
    ldap.set_option(ldap.OPT_X_TLS_REQUIRE_CERT, ldap.OPT_X_TLS_DEMAND)
    # libldap keeps one TLS context per process, built on first use: without a new one, a
    # process that trusts a second CA (a second data folder, a test session) keeps the first.
    ldap.set_option(ldap.OPT_X_TLS_NEWCTX, 0)


def _open(uri: str) -> LDAPObject:
    conn = ldap.initialize(uri, bytes_mode=False)
    conn.set_option(ldap.OPT_PROTOCOL_VERSION, 3)
    conn.set_option(ldap.OPT_REFERRALS, 0)
    conn.set_option(ldap.OPT_NETWORK_TIMEOUT, TIMEOUT_SECONDS)
    conn.set_option(ldap.OPT_TIMEOUT, TIMEOUT_SECONDS * 6)
    return conn


def external_bind(conn: LDAPObject) -> None:
    """SASL EXTERNAL (the peer's uid over ldapi), sent as one plain SASL bind. Why not
    `sasl_non_interactive_bind_s`: python-ldap 3.4 calls libldap's interactive bind without
    releasing the GIL, so while slapd holds such a bind unanswered no other thread of the process
    runs. That froze the keeper, probe thread and watcher alike, when slapd 2.5.13 hung after a
    loader holding a transaction was killed (two CI failures of test_load_resume; the hang is
    reproduced by tests/test_keeper.py with a socket that never answers)."""
    conn.sasl_bind_s("", "EXTERNAL", b"")  # an empty authzid; without any, slapd answers "in progress"


def ops_connection(ldapi_uri: str) -> LDAPObject:
    conn = _open(ldapi_uri)
    with translated("本机运维连接", "local ops connection"):
        external_bind(conn)
    return conn


@dataclass(frozen=True)
class BindState:
    """What ppolicy said about a successful bind."""

    must_change: bool = False
    expires_in: int | None = None
    grace_left: int | None = None


def bind_as(uri: str, dn: str, password: str) -> LDAPObject:
    conn, _ = bind_with_policy(uri, dn, password)
    return conn


def bind_with_policy(uri: str, dn: str, password: str) -> tuple[LDAPObject, BindState]:
    """Simple bind asking for the password policy response control (expiry, must change)."""
    conn = _open(uri)
    try:
        msgid = conn.simple_bind(dn, password, serverctrls=[PasswordPolicyControl()])
        _, _, _, ctrls = conn.result3(msgid)
    except ldap.INVALID_CREDENTIALS as exc:
        _raise_policy_refusal(exc)
        raise AuthenticationFailed("账号或密码错误", "wrong account or password") from exc
    except ldap.LDAPError:
        with translated("登录", "bind"):
            raise
    state = BindState()
    for ctrl in ctrls:
        if ctrl.controlType == PasswordPolicyControl.controlType:
            state = BindState(
                must_change=ctrl.error == 2,  # changeAfterReset
                expires_in=ctrl.timeBeforeExpiration,
                grace_left=ctrl.graceAuthNsRemaining,
            )
    return conn, state


def _raise_policy_refusal(exc: ldap.INVALID_CREDENTIALS) -> None:
    """ppolicy says why a bind failed when the account is locked or its password expired."""
    info = exc.args[0] if exc.args and isinstance(exc.args[0], dict) else {}
    for oid, _, value in info.get("ctrls", []):
        if oid != PasswordPolicyControl.controlType or value is None:
            continue
        ctrl = PasswordPolicyControl()
        ctrl.decodeControlValue(value)
        if ctrl.error == 1:  # accountLocked
            raise AccountLocked("账号已锁定或已停用，请联系本级系统管理员",
                                "the account is locked or disabled: contact your system admin") from exc
        if ctrl.error == 0:  # passwordExpired
            raise PasswordExpired("密码已过期，请联系本级系统管理员重置",
                                  "the password has expired: ask your system admin for a reset") from exc


def whoami(conn: LDAPObject, serverctrls: list[object] | None = None) -> str:
    # python-ldap passes whoami_s' controls on raw: they must be tuples already
    with translated("身份查询", "whoami"):
        who = conn.whoami_s(serverctrls=RequestControlTuples(serverctrls) if serverctrls else None)
    return str(who).removeprefix("dn:")
