"""R2: a school without its own user management department is managed by its parent's.

The parent's security admin records the delegation (it assigns organisational scope, R5); the
access rules then let the parent's admins act for the school. The value is always the parent:
the rules derive who may act from the school's position, never from the value itself.
"""

from __future__ import annotations

from idm.directory.session import Session
from idm.errors import InvalidInput
from idm.filing import forms
from idm.rules import actor as actors
from idm.rules.actor import Actor
from idm.tree import org


def set_delegated(session: Session, actor: Actor, school_code: str, delegated: bool,
                  form_id: str) -> bool:
    """On a delegation request for the school (R2: with the parent's approval). Returns False
    when the school already was in the asked state (the form stays unused)."""
    node = org.find(session, school_code)
    if node.level != "school":
        raise InvalidInput(f"{school_code} 不是学校：只有学校可以委托上级管理",
                           f"{school_code} is not a school: only schools can be delegated")
    if bool(node.managed_by) == delegated:
        return False
    actors.require(session, actor, "delegate", node.dn)
    form = forms.expect(session, form_id, "delegation", unit_dn=node.dn)
    if form.data.delegate != delegated:
        raise forms.mismatch(form, "委托 delegate", "委托" if form.data.delegate else "撤销委托",
                             "委托" if delegated else "撤销委托")
    session.replace(node.dn, {"idmManagedBy": [node.parent_dn] if delegated else [],
                              "idmFormRef": [form.form_id]})
    forms.record_step(session, actor, form, "delegate", node.dn, final=True)
    return True


def from_form(session: Session, actor: Actor, form_id: str) -> bool:
    """What a delegation request asks: the school it names, delegated or no longer."""
    form = forms.expect(session, form_id, "delegation")
    return set_delegated(session, actor, form.data.unit, form.data.delegate, form.form_id)
