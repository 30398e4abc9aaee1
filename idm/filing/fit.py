"""Whether a form fits an operation: the one form check, called by the pipeline alone
(`idm.pipeline`). A form that does not fit is refused with what is wrong: made up, another
kind, another unit, account or person, already used or rejected, a change type or a grant it
does not ask for, a step already done.
"""

from __future__ import annotations

from idm import validation
from idm.directory import names
from idm.directory.session import Session
from idm.errors import InvalidInput
from idm.filing.forms import STATUS_ZH, Form, get
from idm.filing.kinds import CHANGE_TYPES, KINDS
from idm.identity.accounts import Account
from idm.operations import Operation
from idm.tree.org import Node


def received(session: Session, form_id: str, kind: str, read: Form | None = None) -> Form:
    """The form an operation rests on: it exists (where the reader may see it), is of the
    operation's kind, and is still to be acted on. (`read`: the form as a bulk read found it.)"""
    if not (form_id or "").strip():
        raise InvalidInput(f"须注明依据的{KINDS[kind].zh}编号", f"name the {KINDS[kind].en} this rests on")
    form = read if read is not None and read.form_id == form_id.strip() else get(session, form_id.strip())
    if form.status != "received":
        raise InvalidInput(f"申请单 {form.form_id} {STATUS_ZH.get(form.status, form.status)}，不能再用",
                           f"form {form.form_id} is {form.status}: it cannot be used again")
    if form.data.kind != kind:
        raise InvalidInput(
            f"申请单 {form.form_id} 是{KINDS[form.data.kind].zh}，此操作须依据{KINDS[kind].zh}",
            f"form {form.form_id} is a {KINDS[form.data.kind].en}; this action rests on a {KINDS[kind].en}")
    return form


def check(op: Operation, form: Form, account: Account | None, unit: Node | None, value: str | None) -> None:
    """The form's fields agree with what the operation acts on: its change type, the account's
    login, unit and person for a form about an account, the grant it lists, a step not done."""
    d = form.data
    if op.change_type is not None and d.change_type != op.change_type:
        on_form = d.change_type or "-"
        raise mismatch(form, "变更类型 change_type", f"{CHANGE_TYPES.get(on_form, '')} {on_form}".strip(),
                       f"{CHANGE_TYPES[op.change_type]} {op.change_type}")
    if account is not None and (KINDS[d.kind].about_account or d.account_uid):
        if (d.account_uid or "").lower() != account.uid.lower():
            raise mismatch(form, "登录账号 account_uid", d.account_uid or "-", account.uid)
        here = names.first_value(account.node_dn)
        if op.arrives:  # 调入: the form is the receiving unit's; it names the unit left
            if (d.transfer_from or "") != here:
                raise mismatch(form, "原单位 transfer_from", d.transfer_from or "-", here)
        elif unit is not None and unit.dn.lower() != account.node_dn.lower():
            raise mismatch(form, "单位 unit", d.unit, here)
        if op.arrives and d.name != account.name:
            raise mismatch(form, "姓名 name", d.name, account.name)
        same_person(form, account.id_number, account.id_masked)
    if op.value is not None:
        listed: list[str] = getattr(d, op.value)
        if value not in listed:
            raise mismatch(form, "授权 grants", "、".join(listed) or "-", value or "-")
    if op.step_key(value) in form.steps:
        raise InvalidInput(f"申请单 {form.form_id} 的这一项已办理：{op.step_key(value)}",
                           f"form {form.form_id}: this was already done: {op.step_key(value)}")


def same_person(form: Form, id_number: str | None, masked: str | None) -> None:
    """The form is about the person the entry holds: the full numbers where the reader sees
    both, otherwise their masked forms (a security admin sees only those). An unconverted post
    account holds no person yet: there is nothing to compare."""
    if not id_number and not masked:
        return
    on_form = form.data.id_number
    if "*" in on_form or not id_number:
        same = validation.mask_id_number(on_form) == masked if "*" not in on_form else on_form == masked
    else:
        same = on_form == id_number
    if not same:
        shown = on_form if "*" in on_form else validation.mask_id_number(on_form)
        raise mismatch(form, "身份证号 id_number", shown, masked or "-")


def mismatch(form: Form, field: str, on_form: object, asked: object) -> InvalidInput:
    return InvalidInput(
        f"与申请单 {form.form_id} 不符：{field} 申请单为“{on_form}”，操作为“{asked}”",
        f"does not match form {form.form_id}: {field} is {on_form!r} on the form, {asked!r} here",
    )
