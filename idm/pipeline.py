"""The one path of every admin operation (`idm.operations`), whichever transport asks for it:

    1. sign-in state: a full session of an active admin holding a role (the transports have
       walked the sign-in steps; the session is the writer acting as that admin);
    2. the form: it exists, is of the operation's kind, still to be acted on, and its fields
       agree with what the operation acts on (`idm.filing.fit`, called from here alone);
    3. the permission pre-check (`idm.rules.actor.require`): a clear refusal in words before
       slapd would give a terse one;
    4. the write, by the operation's function, as the admin through the writer: slapd's rules
       decide again, and its write log names the admin;
    5. the step recorded on the form, with the operation and the entry it acted on: the audit
       summary that ties the action to its form (R12).

Nothing else checks a form, and no transport calls an operation's function itself.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

from idm import operations
from idm.directory.session import Session
from idm.errors import InvalidInput, NotFound, PermissionDenied
from idm.filing import fit, forms, kinds
from idm.filing.forms import Form
from idm.identity import accounts
from idm.identity.accounts import Account
from idm.operations import Operation
from idm.rules import actor as actors
from idm.rules.actor import Actor
from idm.tree import org
from idm.tree.org import Node


@dataclass(frozen=True)
class Acting:
    """A signed-in admin at work: the writer acting as the admin, and who that admin is."""

    session: Session
    actor: Actor


@contextmanager
def acting(session: Session) -> Iterator[Acting]:
    """The admin a session acts as, for as long as the session is open."""
    with session:
        yield Acting(session, actors.load(session))


@dataclass(frozen=True)
class Step:
    """What an operation's function works with, everything already checked."""

    session: Session
    actor: Actor
    operation: Operation
    form: Form
    account: Account | None
    unit: Node | None
    value: str | None
    inputs: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Known:
    """What a bulk transport has read already, many at a time (forms by number, accounts by
    login, units by code): the pipeline checks them as it checks what it reads itself."""

    forms: dict[str, Form] = field(default_factory=dict)
    accounts: dict[str, Account] = field(default_factory=dict)
    units: dict[str, Node] = field(default_factory=dict)


NOTHING_KNOWN = Known()


class Unchanged:
    """An operation's function found nothing to do (the form stays unused)."""


UNCHANGED = Unchanged()


@dataclass(frozen=True)
class Outcome:
    operation: Operation
    form: Form  # as it stands after the step
    account: Account | None
    unit: Node | None
    result: Any  # what the function returned: a created account, a one-time password, ...
    changed: bool

    @property
    def secret(self) -> str | None:
        """A one-time password or a service's secret, to be shown once."""
        for name in ("password", "secret"):
            if isinstance(getattr(self.result, name, None), str):
                return str(getattr(self.result, name))
        return self.result if isinstance(self.result, str) else None

    @property
    def login(self) -> str:
        """The login (or service name) the outcome concerns, for a handover slip."""
        return str(getattr(self.result, "uid", None) or (self.account.uid if self.account else "")
                   or self.form.data.service_name or "")


def run(acting: Acting, name: str, form_id: str, uid: str | None = None, value: str | None = None,
        kind: str | None = None, known: Known = NOTHING_KNOWN, **inputs: Any) -> Outcome:
    """Carry out operation `name` on the form `form_id` (for the account `uid`, with `value`
    where the operation takes one), or refuse it with the reason and change nothing. `kind`
    ("admin"/"business"): the transport's word for the account the operation is meant for;
    `known`: entries a bulk transport read beforehand."""
    op = operations.get(name)
    session, actor = acting.session, acting.actor
    _signed_in(actor, op)
    form = fit.received(session, form_id, op.form_kind, known.forms.get(form_id))
    account = _account(session, op, form, uid, kind, known)
    unit = _unit(session, op, form, account, known)
    fit.check(op, form, account, unit, value)
    _state(op, account)
    actors.require(session, actor, op.permission, _where(op, account, unit))
    result = op.implementation()(Step(session, actor, op, form, account, unit, value, inputs))
    if isinstance(result, Unchanged):
        return Outcome(op, form, account, unit, result, False)
    target = getattr(result, "dn", None) or (account.dn if account else unit.dn if unit else form.dn)
    login = getattr(result, "uid", None) or (account.uid if account else "")
    after = {**form.steps, op.step_key(value): {"target": target, "uid": login}}
    final = not kinds.pending("received", form.data, after)
    subject = getattr(result, "uuid", "") or (account.uuid if account is not None and target == account.dn
                                              else _uuid_of(session, target))
    form = forms.record_step(session, actor, form, op.step_key(value), target, final, subject,
                             op=op.name, **({"uid": login} if login else {}))
    return Outcome(op, form, account, unit, result, True)


def _uuid_of(session: Session, dn: str) -> str:
    """The entryUUID a record names an entry by (empty where the admin may not read it)."""
    try:
        entry = session.get(dn, ["entryUUID"])
    except (NotFound, PermissionDenied):
        return ""
    return (entry[1].get("entryUUID") or [""])[0] if entry else ""


def _signed_in(actor: Actor, op: Operation) -> None:
    if not actor.active:
        raise PermissionDenied(f"您的账号已停用，不能{op.zh}", f"your account is disabled: cannot {op.en}")
    if actor.role is None:
        raise PermissionDenied(f"您的账号尚未授予管理员角色，不能{op.zh}",
                               f"your account holds no admin role yet: cannot {op.en}")


def _account(session: Session, op: Operation, form: Form, uid: str | None,
             kind: str | None, known: Known) -> Account | None:
    """The account an operation on an account acts on: the one named, else the form's."""
    if op.on != "account":
        return None
    wanted = uid or form.data.account_uid or _created_uid(form)
    if not wanted:
        raise InvalidInput(f"申请单 {form.form_id} 未写明登录账号", f"form {form.form_id} names no login")
    try:
        account = known.accounts.get(wanted.lower()) or accounts.find(session, wanted)
    except NotFound:
        if not op.arrives:
            raise
        raise InvalidInput(f"账号 {wanted} 尚未由原单位办理调出到{form.data.unit}，或已调入："
                           "须先由原单位按变更申请单办理调出",
                           f"account {wanted} is not released to {form.data.unit} (or has arrived already): "
                           "its unit releases it first, on a change form") from None
    if op.accounts and account.kind not in op.accounts:
        if op.accounts == ("business",):
            raise InvalidInput("管理类用户不应具有业务类用户权限（R8）",
                               "admin accounts never hold business permissions (R8)")
        raise InvalidInput(f"{account.uid} 是业务类用户：{op.zh}只适用于管理员账号",
                           f"{account.uid} is a business user: {op.en} is for admin accounts")
    if kind is not None and account.kind != kind:
        what = "管理员账号" if kind == "admin" else "业务类用户"
        raise InvalidInput(f"{account.uid} 不是{what}", f"{account.uid} is not a {kind} account")
    return account


def _created_uid(form: Form) -> str | None:
    created = form.steps.get("create", {})
    return created.get("uid") or (created["target"].split(",")[0].split("=", 1)[1] if created else None)


def _unit(session: Session, op: Operation, form: Form, account: Account | None,
          known: Known) -> Node | None:
    """The unit the form is about, as the directory has it."""
    try:
        return known.units.get(form.data.unit) or org.find(session, form.data.unit)
    except NotFound as err:
        raise InvalidInput(f"申请单 {form.form_id} 的单位 {form.data.unit} 不存在",
                           f"the unit {form.data.unit} of form {form.form_id} does not exist") from err


def _state(op: Operation, account: Account | None) -> None:
    """The account is in the state the operation needs."""
    if account is None or op.state is None:
        return
    uid = account.uid
    if op.state in ("active", "locked") and account.status == "disabled":
        hint = ("请使用恢复", "restore it instead") if op.state == "locked" else \
            ("请先恢复", "restore it first")
        raise InvalidInput(f"账号 {uid} 已停用，不能{op.zh}（{hint[0]}）",
                           f"account {uid} is disabled: cannot {op.en} ({hint[1]})")
    if op.state == "disabled" and account.status != "disabled":
        raise InvalidInput(f"账号 {uid} 未停用", f"account {uid} is not disabled")
    if op.state == "legacy" and not account.legacy:
        raise InvalidInput(f"{uid} 不是待转化的岗位账号", f"{uid} is not an unconverted post account")


def _where(op: Operation, account: Account | None, unit: Node | None) -> str:
    """The entry whose rules the permission row is checked on."""
    if op.where == "account":
        assert account is not None
        return account.dn
    arrived_at = unit.dn if unit else ""  # 调入: the rules of the receiving unit's container
    base = account.node_dn if account is not None and op.on == "account" and not op.arrives else arrived_at
    if op.where == "unit":
        return base
    return f"ou={op.where},{base}"
