"""Account actions on the basis of a form (R12): each names its form, does what the form says and
nothing else, and records itself on the form; a form is used once.

These wrap the primitives in `idm.accounts`: the transports call these, so no account action
happens without its form. A form that does not fit (made up, another kind, unit or account,
used, rejected) is refused by `forms.expect` with what is wrong; a field that disagrees with the
directory is refused with the field.
"""

from __future__ import annotations

from idm.auth import totp
from idm.directory.session import Session
from idm.errors import InvalidInput, PermissionDenied
from idm.filing import forms
from idm.filing.forms import Form, mismatch
from idm.identity import accounts
from idm.identity.accounts import Account, Created
from idm.identity.person import Person
from idm.pki import certs
from idm.rules import actor as actors
from idm.rules.actor import Actor, normal, now


def _person(form: Form) -> Person:
    d = form.data
    return Person.checked(d.name, d.id_number, d.mobile, d.email, d.office_phone, d.surname or None)


def create_admin(session: Session, actor: Actor, form_id: str, uid: str | None = None) -> Created:
    """Registration form for an admin of a next-level unit: create exactly that account."""
    form = forms.expect(session, form_id, "registration")
    if form.data.role is None:
        raise mismatch(form, "角色 role", "（业务用户 business user）", "admin")
    if "create" in form.steps:
        raise InvalidInput(f"申请单 {form.form_id} 的账号已创建",
                           f"form {form.form_id}: account already created")
    accounts.may_create(session, actor, form.data.unit, "admins")
    created = accounts.create_admin(session, actor, form.data.unit, _person(form), uid, form.form_id)
    forms.record_step(session, actor, form, "create", created.dn, final=False)
    return created


def create_business_user(session: Session, actor: Actor, form_id: str,
                         uid: str | None = None) -> Created:
    form = forms.expect(session, form_id, "registration")
    if form.data.role is not None:
        raise mismatch(form, "角色 role", form.data.role, "（业务用户 business user）")
    if form.data.account_uid:
        raise mismatch(form, "登录账号 account_uid", form.data.account_uid,
                       "（新账号；转化岗位账号请用 legacy convert）")
    accounts.may_create(session, actor, form.data.unit, "people")
    created = accounts.create_business_user(session, actor, form.data.unit, _person(form), uid,
                                            form.form_id)
    forms.record_step(session, actor, form, "create", created.dn, final=True)
    return created


def set_role(session: Session, actor: Actor, form_id: str, account: Account, role: str) -> None:
    """The role step of a registration form: the account it created, the role it names."""
    form = forms.expect(session, form_id, "registration")
    created = form.steps.get("create")
    if not created:
        raise InvalidInput(f"申请单 {form.form_id} 的账号尚未创建",
                           f"form {form.form_id}: no account created yet")
    if created["target"].lower() != account.dn.lower():
        raise mismatch(form, "账号 account", created["target"], account.dn)
    if form.data.role != role:
        raise mismatch(form, "角色 role", form.data.role, role)
    accounts.set_role(session, actor, account, role, form.form_id)
    forms.record_step(session, actor, form, "role", account.dn, final=True)


def change_form(session: Session, form_id: str, account: Account, change_type: str) -> Form:
    """A change form for this account: its login, its unit, and (where the reader may see it)
    its ID number."""
    form = forms.expect(session, form_id, "change", unit_dn=account.node_dn,
                        account_uid=account.uid, change_type=change_type)
    forms.require_same_person(form, account.id_number, account.id_masked)
    return form


def disable(session: Session, actor: Actor, form_id: str, account: Account) -> None:
    form = change_form(session, form_id, account, "disable")
    certs.revoke_all_for_disable(session, actor, account)  # same operation (R19)
    accounts.disable(session, actor, account, form.data.reason, form.form_id)
    forms.record_step(session, actor, form, "change", account.dn, final=True)
    forms.retain_forms_of(session, account.dn)


def restore(session: Session, actor: Actor, form_id: str, account: Account) -> None:
    form = change_form(session, form_id, account, "restore")
    accounts.restore(session, actor, account, form.data.reason or "恢复", form.form_id)
    forms.record_step(session, actor, form, "change", account.dn, final=True)


def unlock(session: Session, actor: Actor, form_id: str, account: Account) -> bool:
    form = change_form(session, form_id, account, "unlock")
    done = accounts.unlock(session, actor, account, form.form_id)
    forms.record_step(session, actor, form, "change", account.dn, final=True)
    return done


def reset_password(session: Session, actor: Actor, form_id: str, account: Account) -> str:
    form = change_form(session, form_id, account, "reset")
    password = accounts.reset_password(session, actor, account, form.form_id)
    forms.record_step(session, actor, form, "change", account.dn, final=True)
    return password


def reset_factor(session: Session, actor: Actor, form_id: str, account: Account) -> None:
    """A lost second factor: removed (never read) on a change form; the owner enrols anew."""
    form = change_form(session, form_id, account, "factor")
    actors.require(session, actor, "reset_factor", account.dn)
    totp.remove(session, account.dn)
    session.replace(account.dn, {"idmFormRef": [form.form_id]})
    forms.record_step(session, actor, form, "change", account.dn, final=True)


INFO_FIELDS = {"name": "cn", "mobile": "mobile", "email": "mail", "office_phone": "telephoneNumber"}


def change_info(session: Session, actor: Actor, form_id: str, account: Account) -> None:
    """An info change: the 'before' on the form must be what the directory holds now."""
    form = change_form(session, form_id, account, "info")
    unknown = set(form.data.after) - set(INFO_FIELDS)
    if unknown:
        raise InvalidInput(f"不能变更：{'、'.join(sorted(unknown))}",
                           f"cannot change: {', '.join(sorted(unknown))}")
    current = {"name": account.name, "mobile": account.mobile or "", "email": account.mail or ""}
    for key, value in form.data.before.items():
        if key in current and current[key] != value:
            raise mismatch(form, f"before.{key}", value, current[key])
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


def first_login_view(session: Session, account: Account) -> tuple[Account, Form | None]:
    """R13: the account's role and scope next to its registration form, for the first login."""
    form = None
    if account.kind == "admin":
        for candidate in forms.naming(session, account.dn):
            if candidate.data.kind == "registration":
                form = candidate
    return account, form


def first_login_mismatches(session: Session, account: Account, form: Form | None
                           ) -> list[tuple[str, str, str]]:
    """(what, on the account, on the form) for every way role, scope and unit disagree."""
    if form is None:
        return [("申请单 form", "-", "（未找到注册申请单）")]
    out = []
    if account.role != form.data.role:
        out.append(("角色 role", account.role or "（无）", form.data.role or "（业务用户）"))
    if normal(account.scope or "") != normal(account.node_dn):
        out.append(("范围 scope", account.scope or "（无）", account.node_dn))
    unit = account.node_dn.split(",")[0].split("=")[1]
    if unit != form.data.unit:
        out.append(("单位 unit", unit, form.data.unit))
    return out


def confirm_first_login(session: Session, account: Account) -> None:
    """R13: the admin, signed in, confirms that role, scope and unit match the registration
    form; only a match can be confirmed."""
    _, form = first_login_view(session, account)
    wrong = first_login_mismatches(session, account, form)
    if wrong:
        raise PermissionDenied("角色、范围或单位与注册申请单不一致，不能确认；请报告上级用户管理部门",
                               "role, scope or unit do not match the registration form: report it to "
                               "the parent department instead")
    session.replace(account.dn, {"idmConfirmed": [now()], "idmDispute": []})


def report_first_login_mismatch(session: Session, account: Account) -> str:
    """R13: what does not match goes on the account, where the creating level sees it."""
    _, form = first_login_view(session, account)
    wrong = first_login_mismatches(session, account, form)
    if not wrong:
        raise InvalidInput("与注册申请单一致，无需报告", "everything matches the form: nothing to report")
    text = "；".join(f"{what}: 账号 {mine} / 申请单 {theirs}" for what, mine, theirs in wrong)[:1000]
    session.replace(account.dn, {"idmDispute": [f"{now()} {text}"]})
    return text


# The operations as `idm.operations` names them: (session, actor, form_id[, account, ...]).
def create_from_form(session: Session, actor: Actor, form_id: str, uid: str | None = None) -> Created:
    """The account a registration form asks for: an admin of the next level, or a business user."""
    form = forms.expect(session, form_id, "registration")
    make = create_admin if form.data.role else create_business_user
    return make(session, actor, form.form_id, uid)


def set_role_from_form(session: Session, actor: Actor, form_id: str, account: Account) -> None:
    """The role step, with the role the form names (nothing to choose)."""
    form = forms.expect(session, form_id, "registration")
    set_role(session, actor, form.form_id, account, form.data.role or "")
