"""Keeping the paper (R12): the scan of the stamped form, attached once (sniffed, bounded,
SHA-256 recorded), and retention: a form is kept at least a year after the account it acted
on is disabled; past that, the local operator may purge it."""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime, timedelta

import ldap

from idm.directory import names
from idm.directory.session import Session
from idm.errors import InvalidInput
from idm.filing.forms import FORM_ATTRS, FORM_FILTER, Form, parse, state_value
from idm.rules.actor import Actor, now
from idm.tree import org

MAX_SCAN_BYTES = 2 * 1024 * 1024
SCAN_TYPES = ((b"%PDF-", "application/pdf"), (b"\xff\xd8\xff", "image/jpeg"),
              (b"\x89PNG\r\n\x1a\n", "image/png"))
RETENTION = timedelta(days=366)  # at least one year after the account is disabled (R12)


def sniff(content: bytes) -> str:
    for magic, mime in SCAN_TYPES:
        if content.startswith(magic):
            return mime
    raise InvalidInput("扫描件应为 PDF、JPEG 或 PNG（按内容识别）",
                       "the scan must be a PDF, JPEG or PNG (recognised by content, not by name)")


def attach_scan(session: Session, actor: Actor, form: Form, content: bytes) -> str:
    """Attach the scan of the stamped paper form once; returns its SHA-256."""
    if len(content) > MAX_SCAN_BYTES:
        raise InvalidInput(f"扫描件超过 {MAX_SCAN_BYTES // 1024 // 1024} MiB",
                           f"the scan is larger than {MAX_SCAN_BYTES // 1024 // 1024} MiB")
    mime = sniff(content)
    if form.scan_sha256:
        raise InvalidInput(f"申请单 {form.form_id} 已有扫描件", f"form {form.form_id} already has a scan")
    digest = hashlib.sha256(content).hexdigest()
    session.add_binary(form.dn, "idmAttachment", content)
    state = state_value(form.history, form.steps, mime)
    session.modify(form.dn, [(ldap.MOD_ADD, "idmAttachmentSha256", [digest]),
                             (ldap.MOD_REPLACE, "idmRecordState", [state])])
    return digest


def scan(session: Session, form: Form) -> bytes | None:
    return session.get_binary(form.dn, "idmAttachment")




def retain_forms_of(session: Session, account_uuid: str, also: str | None = None) -> int:
    """R12: the account is disabled now, so its forms (and `also`, the form that disables it)
    are kept at least a year from today."""
    until = (datetime.now(UTC) + RETENTION).strftime("%Y%m%d%H%M%SZ")
    found = {dn.lower(): dn for dn, _ in session.search(session.suffix, names.all_of(
        "(objectClass=idmRecord)", names.eq("idmRecordSubject", account_uuid)), ["1.1"])}
    if also:
        found.setdefault(also.lower(), also)
    for dn in found.values():
        session.replace(dn, {"idmRetainUntil": [until]})
    return len(found)


def past_retention(session: Session, node_code: str | None = None) -> list[Form]:
    """Forms whose retain-until date has passed (nothing is purged automatically)."""
    base = org.find(session, node_code).dn if node_code else session.suffix
    flt = names.all_of(FORM_FILTER, f"(idmRetainUntil<={now()})")
    return sorted((parse(dn, a) for dn, a in session.search(base, flt, FORM_ATTRS)),
                  key=lambda f: f.form_id)


PURGED_ATTRS = ("idmRecordData", "idmRecordPrivate", "idmIdNumber", "idmIdMasked", "idmAttachment",
                "idmAttachmentSha256", "idmRecordSubject", "idmRecordTarget", "idmRetainUntil")


def purge(session: Session, form: Form) -> None:
    """Erase a form past its retention (local operator only): its content goes, its number and
    status stay as a stub. slapd deletes nothing (olcRestrict), so the record is emptied."""
    if not form.retain_until or form.retain_until > now():
        raise InvalidInput(f"申请单 {form.form_id} 仍在保存期内", f"form {form.form_id} is still within "
                           "retention")
    entry = session.get(form.dn, list(PURGED_ATTRS))
    present = [name for name in PURGED_ATTRS if entry and entry[1].get(name)]
    history = [{"status": "purged", "at": now()}]
    session.modify(form.dn, [*((ldap.MOD_DELETE, name, None) for name in present),
                             (ldap.MOD_REPLACE, "idmRecordStatus", ["purged"]),
                             (ldap.MOD_REPLACE, "idmRecordState", [state_value(history, {})])])
