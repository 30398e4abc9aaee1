"""Finding an account's DN from its login, with the lookup service account.

People sign in with a uid, but bind with a DN. The web UI's service account may search uids
(and nothing private) for exactly this; its secret is a 0600 file in the data folder.
"""

from __future__ import annotations

import select
import threading
from pathlib import Path

import ldap

from idm.directory import connection, names
from idm.directory.session import Session
from idm.errors import AuthenticationFailed, ServerError
from idm.rules.terms import LOOKUP_SERVICE, WRITER

ACCOUNTS = "(|(objectClass=idmAdminAccount)(objectClass=idmBusinessAccount))"


def read_secret(path: Path) -> str:
    try:
        return path.read_text(encoding="utf-8").rstrip("\n")
    except OSError as exc:
        raise ServerError(f"无法读取服务账号密钥 {path}", f"cannot read the service secret {path}") from exc


_pool = threading.local()


def _alive(conn: ldap.ldapobject.LDAPObject) -> bool:
    """Whether a kept connection still stands, without a round trip: between operations nothing
    is due from the server, so a socket with something to read has been closed (a stopped
    server, a dropped connection) or holds a notice of disconnection. A round trip here (a
    whoami) cost every web request three exchanges with slapd."""
    try:
        fd = conn.get_option(ldap.OPT_DESC)
    except ldap.LDAPError:
        return False
    if not isinstance(fd, int) or fd < 0:
        return False
    try:
        readable, _, _ = select.select([fd], [], [], 0)
    except (OSError, ValueError):
        return False
    return not readable


def service_session(uri: str, suffix: str, secrets_dir: Path, name: str = LOOKUP_SERVICE) -> Session:
    """A session of a toolkit service account on a connection kept per thread: binding costs
    an Argon2 verification, too much to pay on every web request. A connection the server has
    dropped is replaced on the next call."""
    key = (uri, suffix, str(secrets_dir), name)
    cached = getattr(_pool, "conns", {})
    conn = cached.get(key)
    if conn is not None and not _alive(conn):
        conn = None
    if conn is None:
        secret = read_secret(secrets_dir / f"{name}.secret")
        conn = connection.bind_as(uri, names.service_dn(name, suffix), secret)
        _pool.conns = {**cached, key: conn}
    return Session(conn, suffix, owns_connection=False,
                   opener=lambda other: service_session(uri, suffix, secrets_dir, other))


def acting(uri: str, suffix: str, secrets_dir: Path, dn: str, identity: str = WRITER) -> Session:
    """A toolkit identity acting as `dn` (RFC 4370): the writer carries an admin's writes, the
    password service its password writes. Only after the toolkit has checked who `dn` is."""
    return service_session(uri, suffix, secrets_dir, identity).act_as(dn)


def account_dn(uri: str, suffix: str, secrets_dir: Path, uid: str) -> str:
    with service_session(uri, suffix, secrets_dir) as session:
        found = list(session.search(suffix, names.all_of(ACCOUNTS, names.eq("uid", uid)), ["1.1"]))
    if len(found) != 1:
        # the same words as a wrong password: nobody learns which logins exist
        raise AuthenticationFailed("账号或密码错误", "wrong account or password")
    return found[0][0]
