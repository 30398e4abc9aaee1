"""Self-service password change (R18): the only way an account changes its own password.

The self-service account binds with its secret and, by proxied authorization (RFC 4370), asks
slapd to run a Password Modify *as the account*, with the account's old password. The access
rules accept a password write only when the account is the target (`self`) and the identity
that really bound is the self-service account (`realdn`), so a direct `ldappasswd` is refused
and every change has passed `idm.policy.check` first. Because the operation runs as the
account, ppolicy treats it as the owner's own change: history, minimum age, must-change all
apply as usual.
"""

from __future__ import annotations

from pathlib import Path

import ldap
from ldap.controls.simple import ProxyAuthzControl

from idm import policy
from idm.directory import connection, names
from idm.directory.errors import translated
from idm.directory.lookup import read_secret
from idm.errors import AuthenticationFailed, ConstraintViolation, InvalidInput
from idm.policy import Profile

SERVICE = "idm-selfservice"


def change_password(uri: str, suffix: str, secrets_dir: Path, account_dn: str, old: str, new: str,
                    profile: Profile) -> None:
    if old == new:
        raise InvalidInput("新密码不能与当前密码相同", "the new password must differ from the current one")
    secret = read_secret(secrets_dir / f"{SERVICE}.secret")
    conn = connection.bind_as(uri, names.service_dn(SERVICE, suffix), secret)
    try:
        as_account = [ProxyAuthzControl(True, f"dn:{account_dn}".encode())]
        with translated("读取本人信息", "read own entry"):
            found = conn.search_ext_s(account_dn, ldap.SCOPE_BASE, attrlist=["uid", "cn", "idmIdNumber"],
                                      serverctrls=as_account)
        attrs = {k: v[0].decode() for k, v in found[0][1].items()} if found else {}
        policy.check(new, profile, uid=attrs.get("uid", ""), name=attrs.get("cn", ""),
                     id_number=attrs.get("idmIdNumber", ""))
        try:
            with translated("修改密码", "change password"):
                conn.passwd_s(account_dn, old, new, serverctrls=as_account)
        except ConstraintViolation as err:
            if "verify old password" in err.en or "correct old password" in err.en:
                raise AuthenticationFailed("当前密码错误", "the current password is wrong") from err
            raise
    finally:
        conn.unbind_s()
