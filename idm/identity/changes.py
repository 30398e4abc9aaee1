"""The operations of a change form (R11, 管理类用户变更申请单): disable, restore, unlock, reset
the password or the second factor, change the information. Each is declared in
`idm.operations` and run by `idm.pipeline`, which has checked the form (its change type, the
account's login, unit and person) and the permission table; each does what its form says and
nothing else.
"""

from __future__ import annotations

from idm.auth import totp
from idm.errors import InvalidInput
from idm.filing import keeping
from idm.filing.fit import mismatch
from idm.identity import accounts
from idm.identity.passwords import one_time_password
from idm.identity.person import Person
from idm.pipeline import Step
from idm.pki import certs

INFO_FIELDS = {"name": "cn", "mobile": "mobile", "email": "mail", "office_phone": "telephoneNumber"}


def _account(step: Step) -> accounts.Account:
    assert step.account is not None  # an operation on an account (idm.operations)
    return step.account


def disable(step: Step) -> None:
    """The account can no longer sign in nor be seen downstream; its certificates are revoked
    in the same operation (R19); its forms are kept a year from now (R12)."""
    account = _account(step)
    certs.revoke_all(step.session, step.actor, account)
    accounts.disable(step.session, account, step.form.data.reason, step.form.form_id)
    keeping.retain_forms_of(step.session, account.uuid, also=step.form.dn)


def restore(step: Step) -> None:
    accounts.restore(step.session, _account(step), step.form.data.reason or "恢复", step.form.form_id)


def unlock(step: Step) -> bool:
    return accounts.unlock(step.session, _account(step), step.form.form_id)


def reset_password(step: Step) -> str:
    """A new one-time password, marked must-change (pwdReset) until the owner changes it."""
    return one_time_password(step.session, _account(step).dn, step.form.form_id)


def reset_factor(step: Step) -> None:
    """A lost second factor: removed (never read); the owner enrols anew."""
    account = _account(step)
    totp.remove(step.session, account.dn)
    step.session.replace(account.dn, {"idmFormRef": [step.form.form_id]})


def change_info(step: Step) -> None:
    """An info change: the 'before' on the form must be what the directory holds now."""
    account, form = _account(step), step.form
    unknown = set(form.data.after) - set(INFO_FIELDS)
    if unknown:
        raise InvalidInput(f"不能变更：{'、'.join(sorted(unknown))}",
                           f"cannot change: {', '.join(sorted(unknown))}")
    current = {"name": account.name, "mobile": account.mobile or "", "email": account.mail or ""}
    for key, value in form.data.before.items():
        if key in current and current[key] != value:
            raise mismatch(form, f"before.{key}", value, current[key])
    after = form.data.after
    merged = Person.checked(after.get("name", account.name), account.id_number or form.data.id_number,
                            after.get("mobile", account.mobile or ""), after.get("email", account.mail),
                            after.get("office_phone"))
    changes = {attr: merged.attrs()[attr] for key, attr in INFO_FIELDS.items()
               if key in after and attr in merged.attrs()}
    if "cn" in changes:
        changes["displayName"] = changes["cn"]
        changes["sn"] = merged.attrs()["sn"]
    accounts.change(step.session, account, changes, form.form_id)
