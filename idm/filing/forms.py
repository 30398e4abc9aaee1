"""Request forms (R10-R12), kept as records under the node of the department that processes
them (`ou=forms,<node>`): the basis of every admin action.

A record holds the form's fields in two parts: `idmRecordData` (what the department's three
admins read) and, withheld by the access rules from all but the department's system admin and
the person it names, the ID number (`idmIdNumber`, masked copy in `idmIdMasked`) and the contact
data (`idmRecordPrivate`). Its status moves received -> executed (or rejected) with who and
when; the steps done on it, each with the entry it acted on, are recorded by the pipeline
(`idm.pipeline`), the one path of an admin operation. Whether a form fits an operation is
`idm.filing.fit`; lists and pages `idm.filing.listing`; the scan and retention
`idm.filing.keeping`.
"""

from __future__ import annotations

import hashlib
import json
import secrets
from dataclasses import asdict, dataclass, replace
from datetime import UTC, datetime
from typing import Any

from idm import validation
from idm.directory import names
from idm.directory.session import Session
from idm.errors import AlreadyExists, InvalidInput, NotFound, PermissionDenied
from idm.filing.fields import Address, FormData, join, split
from idm.filing.kinds import KINDS, check
from idm.identity import id_numbers
from idm.rules import actor as actors
from idm.rules.actor import Actor, now
from idm.tree import org

__all__ = ["Address", "Form", "FormData", "add", "get"]

STATUS_ZH = {"received": "已受理", "executed": "已执行", "rejected": "已驳回"}
FORM_ATTRS = ["cn", "idmRecordKind", "idmRecordStatus", "idmRecordData", "idmRecordPrivate",
              "idmIdNumber", "idmIdMasked", "idmRecordState", "idmRecordSubject", "idmRetainUntil",
              "idmAttachmentSha256"]
# a purged form (past retention, emptied: slapd deletes nothing) is a stub no list shows
FORM_FILTER = ("(&(objectClass=idmRecord)(!(idmRecordStatus=purged))(|"
               + "".join(f"(idmRecordKind={k})" for k in KINDS) + "))")


@dataclass(frozen=True)
class Form:
    dn: str
    form_id: str
    status: str
    data: FormData  # as the reader may see it: ID number masked, contact data empty, unless allowed
    digest: str
    history: list[dict[str, str]]
    steps: dict[str, dict[str, str]]
    subjects: tuple[str, ...]  # the entryUUIDs of the entries it acted on: they survive a move
    retain_until: str | None
    scan_sha256: str | None
    scan_type: str | None

    @property
    def node_dn(self) -> str:
        return names.parent_of(names.parent_of(self.dn))

    def content_digest(self) -> str:
        """SHA-256 of every field as recorded (printed in the QR code, so a scan can be matched
        back), whoever reads the record."""
        return self.digest


def digest_of(data: FormData) -> str:
    blob = json.dumps(asdict(data), ensure_ascii=False, sort_keys=True).encode("utf-8")
    return hashlib.sha256(blob).hexdigest()


def parse(dn: str, a: dict[str, list[str]]) -> Form:
    def one(name: str) -> str | None:
        return a[name][0] if a.get(name) else None

    public = one("idmRecordData") or "{}"
    raw = json.loads(one("idmRecordState") or "{}")
    return Form(
        dn=dn, form_id=a["cn"][0], status=a["idmRecordStatus"][0],
        data=join(public, one("idmRecordPrivate"), one("idmIdNumber"), one("idmIdMasked")),
        digest=str(json.loads(public).get("digest", "")),
        history=raw.get("history", []), steps=raw.get("steps", {}),
        subjects=tuple(v.lower() for v in a.get("idmRecordSubject", [])), retain_until=one("idmRetainUntil"),
        scan_sha256=one("idmAttachmentSha256"), scan_type=raw.get("scan_type"),
    )


def state_value(history: list[dict[str, str]], steps: dict[str, Any], scan_type: str | None = None,
                last: str | None = None) -> str:
    """The form's state as stored. `last`: the step this write records, so that the write log's
    record of it says which operation it closed (the auditor's one row per admin action)."""
    state: dict[str, Any] = {"history": history, "steps": steps, "scan_type": scan_type}
    if last is not None:
        state["last"] = last
    return json.dumps(state, ensure_ascii=False, sort_keys=True)


ID_ATTEMPTS = 5  # 24 random bits per unit and day: a second draw is rare, a fifth unheard of


def add(session: Session, actor: Actor, data: FormData) -> Form:
    """Record a received form at the acting admin's own node (the processing department), once
    its fields are right, its unit exists, and its ID number belongs to no one else."""
    actors.require(session, actor, "record_form", names.child_dn("ou", "forms", actor.node_dn))
    data = check(data)
    try:
        unit = org.find(session, data.unit)
    except NotFound as err:
        raise InvalidInput(f"申请单填写有误：单位 {data.unit} 不存在", f"the form's unit {data.unit} "
                           "does not exist") from err
    if actors.normal(actor.node_dn) not in (actors.normal(unit.dn), actors.normal(unit.parent_dn or "")):
        raise PermissionDenied(f"单位 {data.unit} 的申请单不由本部门受理：本部门受理本级及下一级单位的申请单",
                           f"a form about {data.unit} is not this department's: it receives forms about "
                           "its own unit and the next level's")
    id_numbers.require_same_name(session, data.id_number, data.name)
    for attempt in range(ID_ATTEMPTS):
        form_id, dn, attrs = record(data, actor)
        try:
            session.add(dn, attrs)
            break
        except AlreadyExists:  # a number drawn twice on one day at one unit: draw again
            if attempt == ID_ATTEMPTS - 1:
                raise
    return get(session, form_id)


def record(data: FormData, actor: Actor) -> tuple[str, str, dict[str, list[str]]]:
    """(id, DN, attributes) of a received form's record at the actor's node."""
    stamp = datetime.now(UTC).strftime("%Y%m%d")
    form_id = f"F{data.unit}-{stamp}-{secrets.token_hex(3)}"
    dn = names.child_dn("cn", form_id, names.child_dn("ou", "forms", actor.node_dn))
    public, private = split(data)
    public = json.dumps({**json.loads(public), "digest": digest_of(data)}, ensure_ascii=False,
                        sort_keys=True)
    history = [{"status": "received", "by": actor.dn, "at": now()}]
    return form_id, dn, {
        "objectClass": ["idmRecord"], "cn": [form_id], "idmRecordKind": [data.kind],
        "idmRecordStatus": ["received"], "idmRecordData": [public], "idmRecordPrivate": [private],
        "idmIdNumber": [data.id_number], "idmIdMasked": [validation.mask_id_number(data.id_number)],
        "idmRecordState": [state_value(history, {})]}


def get(session: Session, form_id: str) -> Form:
    for dn, attrs in session.search(session.suffix, names.all_of(FORM_FILTER, names.eq("cn", form_id)),
                                    FORM_ATTRS):
        return parse(dn, attrs)
    raise NotFound(f"找不到申请单 {form_id}：编号不存在，或不是本部门受理的申请单",
                   f"no form {form_id}: no such number, or not one your department received")


def record_step(session: Session, actor: Actor, form: Form, step: str, target_dn: str,
                final: bool, subject: str = "", **facts: str) -> Form:
    """Mark a step of the form done (create, role, change, ...), with the entry it acted on
    (its DN at the time, for the record; its entryUUID `subject`, the reference that follows it
    through a move) and what the pipeline says of it (`facts`: the operation, the login)."""
    step_facts = {"by": actor.dn, "at": now(), "target": target_dn, **facts}
    if subject:
        step_facts["subject"] = subject.lower()
    steps = {**form.steps, step: step_facts}
    subjects = tuple(sorted({*form.subjects, *([subject.lower()] if subject else [])}))
    history = list(form.history)
    status = "executed" if final else form.status
    if final:
        history.append({"status": "executed", "by": actor.dn, "at": now()})
    session.replace(form.dn, {
        "idmRecordStatus": [status],
        "idmRecordState": [state_value(history, steps, form.scan_type, last=step)],
        **({"idmRecordSubject": list(subjects)} if subjects else {}),
    })
    return replace(form, status=status, steps=steps, history=history, subjects=subjects)


def acted_on(step: dict[str, str], uuid: str, dn: str) -> bool:
    """Whether a recorded step acted on this entry: by its entryUUID, which survives a move
    (the DN, for steps recorded before subjects were)."""
    if step.get("subject"):
        return step["subject"].lower() == uuid.lower()
    return step.get("target", "").lower() == dn.lower()


def reject(session: Session, actor: Actor, form: Form, reason: str) -> None:
    if form.status != "received" or form.steps:
        raise InvalidInput(f"申请单 {form.form_id} 已处理，不能驳回",
                           f"form {form.form_id} is already acted on")
    validation.free_text(reason)
    actors.require(session, actor, "act_on_form", form.dn)
    history = [*form.history, {"status": "rejected", "by": actor.dn, "at": now(), "reason": reason}]
    session.replace(form.dn, {"idmRecordStatus": ["rejected"],
                              "idmRecordState": [state_value(history, form.steps, form.scan_type)]})


def naming(session: Session, uuid: str) -> list[Form]:
    """The forms that acted on an entry (by its entryUUID), wherever the entry is now."""
    flt = names.all_of(FORM_FILTER, names.eq("idmRecordSubject", uuid))
    return [parse(d, a) for d, a in session.search(session.suffix, flt, FORM_ATTRS)]


