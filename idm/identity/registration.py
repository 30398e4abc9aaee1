"""The operations of a registration form (R10, 注册申请单): the business user it asks for, the
next level's admin account it asks for (without a role), and then that admin's role and scope,
set by the security admin (R4, R5). Run by `idm.pipeline`, which has checked the form and the
permission table; each does what its form says and nothing else.
"""

from __future__ import annotations

from idm.errors import InvalidInput
from idm.filing.fit import mismatch
from idm.filing.forms import Form, acted_on
from idm.identity import accounts
from idm.identity.accounts import Created
from idm.identity.person import Person
from idm.pipeline import Step


def person(form: Form) -> Person:
    d = form.data
    return Person.checked(d.name, d.id_number, d.mobile, d.email, d.office_phone, d.surname or None)


def create_user(step: Step) -> Created:
    """The business user a registration without a role asks for, at the unit it names."""
    form = step.form
    if form.data.role is not None:
        raise mismatch(form, "角色 role", form.data.role, "（业务用户 business user）")
    if form.data.account_uid:
        raise mismatch(form, "登录账号 account_uid", form.data.account_uid,
                       "（新账号；转化岗位账号请用 legacy convert）")
    assert step.unit is not None
    return accounts.create(step.session, step.unit, "people", person(form), step.inputs.get("login"),
                           form.form_id)


def create_admin(step: Step) -> Created:
    """The next level's admin account a registration with a role asks for; no role yet."""
    form = step.form
    if form.data.role is None:
        raise mismatch(form, "角色 role", "（业务用户 business user）", "admin")
    assert step.unit is not None
    return accounts.create(step.session, step.unit, "admins", person(form), step.inputs.get("login"),
                           form.form_id)


def set_role(step: Step) -> None:
    """The role step of a registration form: the account it created, the role it names."""
    form, account = step.form, step.account
    assert account is not None
    created = form.steps.get("create") or form.steps.get("transfer")  # made here, or arrived (调入)
    if not created:
        raise InvalidInput(f"申请单 {form.form_id} 的账号尚未创建",
                           f"form {form.form_id}: no account created yet")
    if not acted_on(created, account.uuid, account.dn):
        raise mismatch(form, "账号 account", created.get("uid") or created["target"], account.uid)
    accounts.set_role(step.session, account, form.data.role or "", form.form_id)
