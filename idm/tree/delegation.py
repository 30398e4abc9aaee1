"""R2: a school without its own user management department is managed by its parent's.

The parent's security admin records the delegation (it assigns organisational scope, R5); the
access rules then let the parent's admins act for the school. The value is always the parent:
the rules derive who may act from the school's position, never from the value itself.
"""

from __future__ import annotations

from idm.errors import InvalidInput
from idm.pipeline import UNCHANGED, Step, Unchanged


def delegate(step: Step) -> bool | Unchanged:
    """What a delegation request asks for the school it names (R2: with the parent's approval):
    managed by its parent's department, or no longer. Nothing to do when the school already is
    in that state (the form stays unused)."""
    node = step.unit
    assert node is not None
    if node.level != "school":
        raise InvalidInput(f"{node.code} 不是学校：只有学校可以委托上级管理",
                           f"{node.code} is not a school: only schools can be delegated")
    if bool(node.managed_by) == step.form.data.delegate:
        return UNCHANGED
    step.session.replace(node.dn, {"idmManagedBy": [node.parent_dn] if step.form.data.delegate else [],
                                   "idmFormRef": [step.form.form_id]})
    return True
