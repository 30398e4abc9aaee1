"""The auditor's view as admin actions (等保 8.1.4.3): one row per thing an admin did, not per
LDAP write. A business action writes 2–6 records (the account, its password, the forms'
retention dates, the form's step); a sign-in writes an event and a second-factor counter.

How records become rows, oldest first:
- the write that records a step on a form (its state names the operation, `last`) closes an
  action: it and the same admin's writes shortly before it are that action, on that form;
- a form added is an action of its own (登记申请单);
- a sign-in event is a row (success, failure, lockout, sign-out), and so is a second factor
  enrolled (its secret written through the web service); the counter writes of the second
  factor (last time step, failures) are no rows;
- any other write (a refused one, one made around the toolkit, a self-service change) is a row
  of its own, as the log has it. A refused write carrying the form of the step that follows
  (a login tried and taken, then another) belongs to that action, whose outcome is its step's.

The writes behind a row are kept with it, for the drill-down. Scoping is slapd's, as for the
records (`idm.oversight.audit`).
"""

from __future__ import annotations

import csv
import io
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from idm import labels
from idm.directory import names
from idm.directory.session import Session
from idm.errors import IdmError
from idm.oversight import audit

COUNTERS = frozenset(("oathTOTPLastTimeStep", "oathFailureCount", "oathLastFailure", "oathLastLogin"))
GAP_SECONDS = 30  # an action's writes come within this of its step; older ones are rows of their own
KINDS = ("operation", "form", "signin", "factor", "write")


@dataclass(frozen=True)
class Action:
    when: str  # the time of its last write (the step), or of the event
    actor: str  # the admin's DN
    kind: str  # one of KINDS
    name: str  # operation name, form kind, sign-in event, or the write's log op
    target: str  # the entry acted on
    form: str | None
    result: str  # "0", or the first refusal's code
    writes: tuple[audit.Operation, ...]
    detail: str = ""  # a sign-in's client address, a write's changed attributes

    @property
    def ok(self) -> bool:
        return self.result == "0"


def _seconds(when: str) -> float:
    return datetime.strptime(when[:14], "%Y%m%d%H%M%S").timestamp()


def _is_form(dn: str) -> bool:
    return dn.lower().startswith("cn=f") and ",ou=forms," in dn.lower()


def _form_id(dn: str) -> str:
    return names.first_value(dn)


def _single(op: audit.Operation) -> Action:
    """A write that is no part of a recorded action: a row as the log has it."""
    return Action(op.when, op.actor, "write", op.kind, op.target, op.form, op.result, (op,),
                  "、".join(op.changed))


def group(records: Iterable[audit.Operation]) -> list[Action]:
    """The records (any order) as actions, oldest first."""
    out: list[Action] = []
    pending: dict[str, list[audit.Operation]] = {}
    for op in sorted(records, key=lambda r: r.when):
        if op.kind == "signin":
            out.append(Action(op.when, op.actor, "signin", op.event, op.target, None, op.result, (op,),
                              op.message))
        elif op.changed and set(op.changed) <= COUNTERS and op.ok and _by_service(op.actor):
            continue  # a second factor's counter, kept by the web service: part of the sign-in
        elif op.kind == "modify" and _by_service(op.actor) and "oathTOTPParams" in op.changed:
            # a factor enrolled: its secret (withheld from the reader) and its parameters written
            out.append(Action(op.when, op.target, "factor", "enrolled", op.target, None, op.result, (op,)))
        elif op.step:
            mine = pending.pop(op.actor.lower(), [])
            form = _form_id(op.target) if _is_form(op.target) else op.form
            close = [w for w in mine if _seconds(op.when) - _seconds(w.when) <= GAP_SECONDS
                     and (w.ok or w.form == form)]  # a refusal joins only the action on its form
            out.extend(_single(w) for w in mine if w not in close)
            out.append(Action(op.when, op.actor, "operation", op.step, op.step_target or op.target, form,
                              op.result, (*close, op)))
        elif op.kind == "add" and _is_form(op.target) and op.record_kind:
            out.append(Action(op.when, op.actor, "form", op.record_kind, op.target, _form_id(op.target),
                              op.result, (op,)))
        else:  # refused ones too: a refusal on the form of the action that follows is part of it
            pending.setdefault(op.actor.lower(), []).append(op)
    out.extend(_single(w) for writes in pending.values() for w in writes)
    return sorted(out, key=lambda a: a.when)


def _by_service(dn: str) -> bool:
    return dn.lower().startswith("cn=idm-") and ",ou=system," in dn.lower()


def matching(found: list[Action], *, kind: str | None = None, name: str | None = None,
             person: str | None = None, form: str | None = None) -> list[Action]:
    """Filters that need the whole action: its kind and name, whom it touched, its form."""
    out = []
    for a in found:
        if kind and a.kind != kind:
            continue
        if name and a.name != name:
            continue
        if form and (a.form or "").lower() != form.lower():
            continue
        if person and not any(person.lower() in w.target.lower() for w in a.writes) \
                and person.lower() not in a.target.lower():
            continue
        out.append(a)
    return out


def actions(session: Session, *, kind: str | None = None, name: str | None = None, person: str | None = None,
            form: str | None = None, **filters: Any) -> list[Action]:
    """The actions the bound identity may see, oldest first. `filters` go to the log search
    (`actor`, `since`, `until`); the others are applied to whole actions."""
    return matching(group(audit.operations(session, **filters)), kind=kind, name=name, person=person,
                    form=form)


def page(session: Session, *, size: int = 50, before: str | None = None, kind: str | None = None,
         name: str | None = None, person: str | None = None, form: str | None = None,
         **filters: Any) -> tuple[list[Action], str | None]:
    """The newest actions, newest first, a page of the log at a time (`audit.page`: records
    read in windows); the cursor of the next page. An action whose writes straddle two pages of
    records shows its older writes on the next page, as rows of their own."""
    records, cursor = audit.page(session, size=size * 4, before=before, **filters)
    found = matching(group(records), kind=kind, name=name, person=person, form=form)
    return sorted(found, key=lambda a: a.when, reverse=True), cursor


def roles(session: Session, found: Iterable[Action]) -> dict[str, str]:
    """The admin role of each admin acting in `found`, as the reader may see it (DN -> role)."""
    out: dict[str, str] = {}
    for dn in {a.actor.lower(): a.actor for a in found if ",ou=admins," in a.actor.lower()}.values():
        try:
            entry = session.get(dn, ["idmAdminRole"])
        except IdmError:
            continue
        role = (entry[1].get("idmAdminRole") or [""])[0] if entry else ""
        if role:
            out[dn.lower()] = role
    return out


def title(action: Action, lang: str = "zh") -> str:
    """What the admin did, in words."""
    if action.kind == "operation":
        return labels.label("operation", action.name, lang)
    if action.kind == "form":
        word = "登记申请单：" if lang == "zh" else "recorded a form: "
        return word + labels.label("form_kind", action.name, lang)
    if action.kind == "signin":
        return labels.label("signin_event", action.name, lang)
    if action.kind == "factor":
        return "启用动态验证码" if lang == "zh" else "enrolled the second factor"
    what = labels.label("log_op", action.name, lang)
    attrs = [labels.label("attribute", a, lang) for a in action.detail.split("、") if a]
    return what + (("：" if lang == "zh" else ": ") + "、".join(attrs) if attrs else "")


def to_csv(found: Iterable[Action], namer: Callable[[str], str] = str) -> str:
    """The rows in words; `namer` names people (the caller's words: name, login, role)."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(["时间 when (UTC+8)", "操作人 admin", "操作 action", "对象 on", "申请单 form",
                     "结果 result", "目录写入 LDAP writes"])
    for a in found:
        result = f"{a.result} {labels.label('result', a.result)}"
        cells = (labels.local_time(a.when, seconds=True), namer(a.actor), title(a), namer(a.target),
                 a.form or "", result, str(len(a.writes)))
        writer.writerow([audit.safe_cell(v) for v in cells])
    return "\ufeff" + out.getvalue()
