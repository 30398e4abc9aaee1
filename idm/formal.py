"""Admin actions on the basis of a form (R12): each names its form, does what the form says and
nothing else, and records itself on the form; a form is used once.

These wrap the primitives in `idm.accounts`: the transports call these, so no admin-account
action happens without its form. A mismatch is refused with the field that disagrees.
"""

from __future__ import annotations

from idm import accounts, certs, forms, org, totp
from idm import actor as actors
from idm.accounts import Account, Created
from idm.actor import Actor, now
from idm.directory.session import Session
from idm.errors import InvalidInput
from idm.forms import Form
from idm.person import Person


def _mismatch(form: Form, field: str, on_form: object, asked: object) -> InvalidInput:
    return InvalidInput(
        f"与申请单 {form.form_id} 不符：{field} 申请单为“{on_form}”，操作为“{asked}”",
        f"does not match form {form.form_id}: {field} is {on_form!r} on the form, {asked!r} here",
    )


def _expect(form: Form, kind: str, change_type: str | None = None) -> None:
    if form.status != "received":
        raise InvalidInput(f"申请单 {form.form_id} 已{forms.STATUS_ZH.get(form.status, form.status)}，"
                           "不能再次使用", f"form {form.form_id} is {form.status}: a form is used once")
    if form.data.kind != kind:
        raise _mismatch(form, "kind", form.data.kind, kind)
    if change_type is not None and form.data.change_type != change_type:
        raise _mismatch(form, "change_type", form.data.change_type, change_type)


def _person(form: Form) -> Person:
    d = form.data
    return Person.checked(d.name, d.id_number, d.mobile, d.email, d.office_phone)


def create_admin(session: Session, actor: Actor, form_id: str, uid: str | None = None) -> Created:
    """Registration form for an admin of a next-level unit: create exactly that account."""
    form = forms.get(session, form_id)
    _expect(form, "registration")
    if form.data.role is None:
        raise _mismatch(form, "role", "（业务用户）", "admin")
    if "create" in form.steps:
        raise InvalidInput(f"申请单 {form.form_id} 的账号已创建",
                           f"form {form.form_id}: account already created")
    created = accounts.create_admin(session, actor, form.data.unit, _person(form), uid, form.form_id)
    forms.record_step(session, actor, form, "create", created.dn, final=False)
    return created


def create_business_user(session: Session, actor: Actor, form_id: str,
                         uid: str | None = None) -> Created:
    form = forms.get(session, form_id)
    _expect(form, "registration")
    if form.data.role is not None:
        raise _mismatch(form, "role", form.data.role, "（业务用户 business user）")
    created = accounts.create_business_user(session, actor, form.data.unit, _person(form), uid,
                                            form.form_id)
    forms.record_step(session, actor, form, "create", created.dn, final=True)
    return created


def set_role(session: Session, actor: Actor, form_id: str, account: Account, role: str) -> None:
    """The role step of a registration form: the account it created, the role it names."""
    form = forms.get(session, form_id)
    _expect(form, "registration")
    created = form.steps.get("create")
    if not created:
        raise InvalidInput(f"申请单 {form.form_id} 的账号尚未创建",
                           f"form {form.form_id}: no account created yet")
    if created["target"].lower() != account.dn.lower():
        raise _mismatch(form, "account", created["target"], account.dn)
    if form.data.role != role:
        raise _mismatch(form, "role", form.data.role, role)
    accounts.set_role(session, actor, account, role, form.form_id)
    forms.record_step(session, actor, form, "role", account.dn, final=True)


def _change(session: Session, actor: Actor, form_id: str, account: Account, change_type: str) -> Form:
    form = forms.get(session, form_id)
    _expect(form, "change", change_type)
    if (form.data.account_uid or "").lower() != account.uid.lower():
        raise _mismatch(form, "account_uid", form.data.account_uid, account.uid)
    unit = org.find(session, form.data.unit)
    if unit.dn.lower() != account.node_dn.lower():
        raise _mismatch(form, "unit", form.data.unit, account.node_dn)
    return form


def disable(session: Session, actor: Actor, form_id: str, account: Account) -> None:
    form = _change(session, actor, form_id, account, "disable")
    certs.revoke_all_for_disable(session, actor, account)  # same operation (R19)
    accounts.disable(session, actor, account, form.data.reason, form.form_id)
    forms.record_step(session, actor, form, "change", account.dn, final=True)
    forms.retain_forms_of(session, account.dn)


def restore(session: Session, actor: Actor, form_id: str, account: Account) -> None:
    form = _change(session, actor, form_id, account, "restore")
    accounts.restore(session, actor, account, form.data.reason or "恢复", form.form_id)
    forms.record_step(session, actor, form, "change", account.dn, final=True)


def unlock(session: Session, actor: Actor, form_id: str, account: Account) -> bool:
    form = _change(session, actor, form_id, account, "unlock")
    done = accounts.unlock(session, actor, account, form.form_id)
    forms.record_step(session, actor, form, "change", account.dn, final=True)
    return done


def reset_password(session: Session, actor: Actor, form_id: str, account: Account) -> str:
    form = _change(session, actor, form_id, account, "reset")
    password = accounts.reset_password(session, actor, account, form.form_id)
    forms.record_step(session, actor, form, "change", account.dn, final=True)
    return password


def reset_factor(session: Session, actor: Actor, form_id: str, account: Account) -> None:
    """A lost second factor: removed (never read) on a change form; the owner enrols anew."""
    form = _change(session, actor, form_id, account, "factor")
    actors.require(session, actor, "reset_factor", account.dn)
    totp.remove(session, account.dn)
    session.replace(account.dn, {"idmFormRef": [form.form_id]})
    forms.record_step(session, actor, form, "change", account.dn, final=True)


INFO_FIELDS = {"name": "cn", "mobile": "mobile", "email": "mail", "office_phone": "telephoneNumber"}


def change_info(session: Session, actor: Actor, form_id: str, account: Account) -> None:
    """An info change: the 'before' on the form must be what the directory holds now."""
    form = _change(session, actor, form_id, account, "info")
    unknown = set(form.data.after) - set(INFO_FIELDS)
    if unknown:
        raise InvalidInput(f"不能变更：{'、'.join(sorted(unknown))}",
                           f"cannot change: {', '.join(sorted(unknown))}")
    current = {"name": account.name, "mobile": account.mobile or "", "email": account.mail or ""}
    for key, value in form.data.before.items():
        if key in current and current[key] != value:
            raise _mismatch(form, f"before.{key}", value, current[key])
    merged = Person.checked(form.data.after.get("name", account.name),
                            account.id_number or form.data.id_number,
                            form.data.after.get("mobile", account.mobile or ""),
                            form.data.after.get("email", account.mail), form.data.after.get("office_phone"))
    changes = {attr: merged.attrs()[attr] for key, attr in INFO_FIELDS.items()
               if key in form.data.after and attr in merged.attrs()}
    if "cn" in changes:
        changes["displayName"] = changes["cn"]
        changes["sn"] = merged.attrs()["sn"]
    accounts.change_info(session, actor, account, changes, form.form_id)
    forms.record_step(session, actor, form, "change", account.dn, final=True)


def confirm_first_login(session: Session, account: Account) -> None:
    """R13: the admin, signed in, confirms that role and scope match the registration form."""
    session.replace(account.dn, {"idmConfirmed": [now()]})


def first_login_view(session: Session, account: Account) -> tuple[Account, Form | None]:
    """R13: the account's role and scope next to its registration form, for the first login."""
    form = None
    if account.kind == "admin":
        for candidate in forms.naming(session, account.dn):
            if candidate.data.kind == "registration":
                form = candidate
    return account, form

