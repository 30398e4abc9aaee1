"""Transfers (调动): an account moves from one unit to another, anywhere in the tree, with the
consent of both departments, each within its own scope and on its own form.

1. 调出 (release): the releasing unit's system admin, on a change form (change type `release`,
   `transfer_to`), writes where the account goes (`idmReleasedTo`) and revokes its certificates
   (their subject names the old unit). The account works as before until it arrives.
2. 调入 (accept): the receiving unit's system admin, on a registration form of the arriving
   person (same ID number and name, `transfer_from`, the login it keeps), moves the entry (a
   modrdn with a new superior: slapd allows it only on an active entry released to the mover's
   unit, `idm.rules.transfers`), then removes what the person loses there: the old unit's
   grants, an admin's role, scope and first-login confirmation, and the release itself.

The person keeps the uid, the password and its history, the second factor, the ID number, and
every record: records name the account by entryUUID, which a move does not change. No
transaction: slapd 2.5 cannot hold a modrdn in one (and crashed when asked to). If the second
write fails, accepting again completes it (the account is then at its new unit, still released
to it), which is also what lets a bulk load resume.
"""

from __future__ import annotations

import ldap

from idm.directory import names
from idm.directory.session import Session
from idm.errors import InvalidInput, NotFound
from idm.filing.fit import mismatch
from idm.identity import accounts
from idm.identity.accounts import Account
from idm.pipeline import Step
from idm.pki import certs
from idm.rules.actor import normal
from idm.tree import org

LOST_AT_ARRIVAL = ("idmGrant", "idmAdminRole", "idmScope", "idmConfirmed", "idmDispute")


def release(step: Step) -> Account:
    """调出: the account may now be accepted by the unit the form names."""
    account, form = step.account, step.form
    assert account is not None
    try:
        to = org.find(step.session, form.data.transfer_to or "")
    except NotFound as err:
        raise InvalidInput(f"调往单位 {form.data.transfer_to} 不存在", f"no unit {form.data.transfer_to} "
                           "to release to") from err
    if account.released_to:
        raise InvalidInput(f"账号 {account.uid} 已调出到 {names.first_value(account.released_to)}，"
                           "待对方调入（或先撤回调出）",
                           f"account {account.uid} is already released to "
                           f"{names.first_value(account.released_to)}")
    certs.revoke_all(step.session, step.actor, account)
    after = step.session.modify_read(account.dn, [(ldap.MOD_REPLACE, "idmReleasedTo", [to.dn]),
                                                  (ldap.MOD_REPLACE, "idmFormRef", [form.form_id])],
                                     accounts.CORE_ATTRS)
    return accounts.parse(account.dn, after)


def accept(step: Step) -> Account:
    """调入: the released account comes to the form's unit, keeping its login and history."""
    account, unit, form, session = step.account, step.unit, step.form, step.session
    assert account is not None and unit is not None
    to = step.inputs.get("to")
    if to and to != form.data.unit:
        raise mismatch(form, "调入单位 unit", form.data.unit, to)
    container = names.child_dn("ou", "admins" if account.kind == "admin" else "people", unit.dn)
    if normal(account.released_to or "") != normal(unit.dn):
        raise InvalidInput(
            f"账号 {account.uid} 未调出到{unit.name}（{unit.code}）：须先由原单位按变更申请单办理调出",
            f"account {account.uid} is not released to {unit.code}: its unit releases it first")
    if account.kind == "admin":  # one business account per person is slapd's (slapo-unique)
        _none_held_at(session, container, account, form.data.id_number)
    _same_number(session, account, form.data.id_number)
    # (not an RFC 4528 assertion on the move: slapo-unique passes it on to its own search)
    if normal(names.parent_of(account.dn)) != normal(container):
        dn, held = session.move(account.dn, container, read_after=[*LOST_AT_ARRIVAL, "idmReleasedTo"])
    else:  # moved before, and the rest failed: finish it (what makes a load resumable)
        dn, entry = account.dn, session.get(account.dn, [*LOST_AT_ARRIVAL, "idmReleasedTo"])
        held = entry[1] if entry else {}
    if not held.get("idmReleasedTo"):
        raise InvalidInput(f"账号 {account.uid} 已调入", f"account {account.uid} has arrived already")
    lost = [name for name in LOST_AT_ARRIVAL if held.get(name)]
    after = session.modify_read(dn, [*((ldap.MOD_DELETE, name, None) for name in lost),
                                     (ldap.MOD_DELETE, "idmReleasedTo", None),
                                     (ldap.MOD_REPLACE, "idmFormRef", [form.form_id])],
                                accounts.CORE_ATTRS)
    return accounts.parse(dn, after)


def _same_number(session: Session, account: Account, id_number: str) -> None:
    """The form's person is the account's: the exact ID number, compared by slapd (the
    receiving side may search the number, never read it, R17)."""
    flt = names.all_of(accounts.ACCOUNT_CLASSES, names.eq("idmIdNumber", id_number))
    if not session.search(account.dn, flt, ["1.1"], scope=ldap.SCOPE_BASE):
        raise InvalidInput(f"申请单的身份证号与账号 {account.uid} 不符", f"the form's ID number is not that "
                           f"of account {account.uid}")


def _none_held_at(session: Session, container: str, account: Account, id_number: str) -> None:
    """One person, one account at a unit: the ID number holds none there yet."""
    flt = names.all_of(accounts.ACCOUNT_CLASSES, names.eq("idmIdNumber", id_number))
    try:
        held = [dn for dn, _ in session.search(container, flt, ["uid"], scope=ldap.SCOPE_ONELEVEL, small=True)
                if normal(dn) != normal(account.dn)]
    except NotFound:
        held = []
    if held:
        raise InvalidInput(f"该身份证号在{names.first_value(container.split(',', 1)[1])}已有账号 "
                           f"{names.first_value(held[0])}：一人在一个单位只能有一个账号",
                           f"that ID number already holds account {names.first_value(held[0])} there: "
                           "one person, one account at a unit")
