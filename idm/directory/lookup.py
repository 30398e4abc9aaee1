"""Finding an account's DN from its login, with the lookup service account.

People sign in with a uid, but bind with a DN. The web UI's service account may search uids
(and nothing private) for exactly this; its secret is a 0600 file in the data folder.
"""

from __future__ import annotations

from pathlib import Path

from idm.directory import connection, names
from idm.directory.session import Session
from idm.errors import AuthenticationFailed, ServerError
from idm.permissions import LOOKUP_SERVICE

ACCOUNTS = "(|(objectClass=idmAdminAccount)(objectClass=idmBusinessAccount))"


def read_secret(path: Path) -> str:
    try:
        return path.read_text(encoding="utf-8").rstrip("\n")
    except OSError as exc:
        raise ServerError(f"无法读取服务账号密钥 {path}", f"cannot read the service secret {path}") from exc


def service_session(uri: str, suffix: str, secrets_dir: Path) -> Session:
    secret = read_secret(secrets_dir / f"{LOOKUP_SERVICE}.secret")
    return Session(connection.bind_as(uri, names.service_dn(LOOKUP_SERVICE, suffix), secret), suffix)


def account_dn(uri: str, suffix: str, secrets_dir: Path, uid: str) -> str:
    with service_session(uri, suffix, secrets_dir) as session:
        found = list(session.search(suffix, names.all_of(ACCOUNTS, names.eq("uid", uid)), ["1.1"]))
    if len(found) != 1:
        # the same words as a wrong password: nobody learns which logins exist
        raise AuthenticationFailed("账号或密码错误", "wrong account or password")
    return found[0][0]
