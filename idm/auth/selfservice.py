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

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

from idm.auth import policy
from idm.auth.policy import Profile
from idm.directory import lookup
from idm.directory.session import Session
from idm.errors import AuthenticationFailed, ConstraintViolation, InvalidInput
from idm.identity import accounts, grants
from idm.identity.accounts import Account
from idm.tree import org

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


@dataclass(frozen=True)
class Overview:
    """What a person sees of their own account (read as themself)."""

    account: Account
    unit: str  # the unit's Chinese name
    expires: str | None  # the password's expiry date (YYYY-MM-DD), under a policy that has one
    grant_names: dict[str, str]


def overview(session: Session, dn: str, max_age_days: int | None) -> Overview:
    me = accounts.get(session, dn)
    changed = session.get(dn, ["pwdChangedTime"])
    expires = None
    if max_age_days and changed and changed[1].get("pwdChangedTime"):
        when = datetime.strptime(changed[1]["pwdChangedTime"][0], "%Y%m%d%H%M%SZ").replace(tzinfo=UTC)
        expires = (when + timedelta(days=max_age_days)).strftime("%Y-%m-%d")
    return Overview(me, org.name_of(session, me.node_dn), expires, grants.labels(session))
