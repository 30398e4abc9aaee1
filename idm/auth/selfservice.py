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

from idm.auth import policy
from idm.auth.policy import Profile
from idm.directory import lookup
from idm.errors import AuthenticationFailed, ConstraintViolation, InvalidInput

SERVICE = "idm-selfservice"


def change_password(uri: str, suffix: str, secrets_dir: Path, account_dn: str, old: str, new: str,
                    profile: Profile) -> None:
    if old == new:
        raise InvalidInput("新密码不能与当前密码相同", "the new password must differ from the current one")
    with lookup.service_session(uri, suffix, secrets_dir, SERVICE).act_as(account_dn) as session:
        entry = session.get(account_dn, ["uid", "cn", "idmIdNumber"])
        attrs = {k: v[0] for k, v in entry[1].items()} if entry else {}
        policy.check(new, profile, uid=attrs.get("uid", ""), name=attrs.get("cn", ""),
                     id_number=attrs.get("idmIdNumber", ""))
        try:
            session.change_password(account_dn, old, new)
        except ConstraintViolation as err:
            if "verify old password" in err.en or "correct old password" in err.en:
                raise AuthenticationFailed("当前密码错误", "the current password is wrong") from err
            raise
