"""Certificate records (R19): applied for by the security admin of the user's level, for an
active business user holding at least one grant; issued from the user's CSR or as a PKCS#12 with
a one-time password; published on the user (`userCertificate;binary`); revoked on request or,
automatically, when the account is disabled (in the same operation).
"""

from __future__ import annotations

import json
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import ldap
from cryptography import x509
from cryptography.hazmat.primitives import serialization

from idm.directory import names
from idm.directory.session import Session
from idm.errors import InvalidInput, NotFound
from idm.identity.accounts import Account
from idm.pipeline import Step
from idm.pki import authority, ca
from idm.rules import actor as actors
from idm.rules.actor import Actor, now
from idm.validation import free_text

CERT_ATTRS = ["cn", "idmRecordStatus", "idmRecordData", "idmRecordState", "idmRecordSubject"]


@dataclass(frozen=True)
class CertRecord:
    dn: str
    serial: int
    status: str  # issued, downloaded, revoked
    subject: str  # the entryUUID of the account it is for (it survives a move)
    data: dict[str, str]
    state: dict[str, Any]


def _record(dn: str, a: dict[str, list[str]]) -> CertRecord:
    data = json.loads(a["idmRecordData"][0])
    state = json.loads(a["idmRecordState"][0]) if a.get("idmRecordState") else {}
    serial = state.get("serial") or data.get("serial") or "0"
    return CertRecord(dn, int(serial, 16), a["idmRecordStatus"][0],
                      (a.get("idmRecordSubject") or [""])[0].lower(), data, state)


def subject_of(session: Session, account: Account) -> ca.Subject:
    unit = session.get(account.node_dn, ["idmNameZh"])
    return ca.Subject(name=account.name, uid=account.uid, email=account.mail,
                      unit=(unit[1].get("idmNameZh") or ["-"])[0] if unit else "-")


def _eligible(account: Account) -> None:
    if account.kind != "business":
        raise InvalidInput("管理类用户不申请业务证书", "admin accounts do not get user certificates")
    if account.status != "active":
        raise InvalidInput(f"账号 {account.uid} 已停用", f"account {account.uid} is disabled")
    if account.legacy or not account.grants:
        raise InvalidInput(f"{account.uid} 尚未获授权，不能申请证书（R19）",
                           f"{account.uid} holds no grant yet: no certificate (R19)")


def _store(session: Session, actor: Actor, account: Account, cert: x509.Certificate, method: str,
           form: str) -> CertRecord:
    """The record of an issued certificate; `algorithm` says which CA's CRL revokes it."""
    container = names.child_dn("ou", "certs", account.node_dn)
    serial = format(cert.serial_number, "x")
    dn = names.child_dn("cn", f"C{serial}", container)
    data = {"serial": serial, "subject": cert.subject.rfc4514_string(), "method": method,
            "not_after": cert.not_valid_after_utc.strftime("%Y%m%d%H%M%SZ"), "requested_by": actor.dn,
            "form": form, "profile": "user", "algorithm": authority.algorithm_of(cert)}
    state = {"history": [{"status": "issued", "by": actor.dn, "at": now()}]}
    session.add(dn, {"objectClass": ["idmRecord"], "cn": [f"C{serial}"], "idmRecordKind": ["cert"],
                     "idmRecordStatus": ["issued"], "idmRecordSubject": [account.uuid],
                     "idmRecordData": [json.dumps(data, ensure_ascii=False, sort_keys=True)],
                     "idmRecordState": [json.dumps(state, ensure_ascii=False, sort_keys=True)],
                     "idmFormRef": [form]})
    _publish(session, account.dn, cert)
    return CertRecord(dn, cert.serial_number, "issued", account.dn, data, state)


def _publish(session: Session, account_dn: str, cert: x509.Certificate) -> None:
    """R19 publication: the certificate on the user entry, where downstream systems read it."""
    session.modify_raw(account_dn, [(ldap.MOD_REPLACE, "userCertificate;binary",
                                     [cert.public_bytes(serialization.Encoding.DER)])])


@dataclass(frozen=True)
class Issued:
    record: CertRecord
    certificate: x509.Certificate
    pkcs12: bytes | None  # the key and certificate, handed over once
    password: str | None  # the PKCS#12's one-time password

    @property
    def dn(self) -> str:
        return self.record.dn


def issue(step: Step) -> Issued:
    """On a certificate application, at once: from the user's CSR (`inputs["csr"]`, the key
    never leaves the user), or a key made here and handed over once as PKCS#12 under a one-time
    password (`inputs["pkcs12"]`, SM4 or AES-256 as `inputs["p12_cipher"]` says for SM2), never
    kept. `inputs["issuer"]`: the issuing CA, EC/RSA or SM2 (`idm.pki.authority`)."""
    account = step.account
    assert account is not None
    _eligible(account)
    issuer: authority.AnyIssuer = step.inputs["issuer"]
    subject = subject_of(step.session, account)
    blob = password = None
    if step.inputs.get("csr") is not None:
        cert = authority.issue_from_csr(issuer, step.inputs["csr"], subject)
        method = "csr"
    elif step.inputs.get("pkcs12"):
        blob, password, cert = authority.pkcs12_bundle(issuer, subject, step.inputs.get("p12_cipher"))
        method = "pkcs12"
    else:
        raise InvalidInput("须给出证书请求（CSR），或选择生成 PKCS#12", "give a CSR, or ask for a PKCS#12")
    record = _store(step.session, step.actor, account, cert, method, step.form.form_id)
    return Issued(record, cert, blob, password)


def apply(step: Step) -> CertRecord:
    """The security admin applies for a user (R19); the user then sends a CSR or takes a
    PKCS#12 in the web UI, where the request is fulfilled. `inputs["algorithm"]`: the CA it
    asks for ("sm2" or "ec"), as the transport found it set up; left out, the deployment's
    default at fulfilment."""
    account = step.account
    assert account is not None
    _eligible(account)
    session, actor, form = step.session, step.actor, step.form.form_id
    container = names.child_dn("ou", "certs", account.node_dn)
    name = f"R{secrets.token_hex(6)}"
    dn = names.child_dn("cn", name, container)
    data = {"requested_by": actor.dn, "form": form, "profile": "user", "requested_at": now()}
    if step.inputs.get("algorithm"):
        data["algorithm"] = authority.family(step.inputs["algorithm"])
    state = {"history": [{"status": "requested", "by": actor.dn, "at": now()}]}
    session.add(dn, {"objectClass": ["idmRecord"], "cn": [name], "idmRecordKind": ["cert"],
                     "idmRecordStatus": ["requested"], "idmRecordSubject": [account.uuid],
                     "idmRecordData": [json.dumps(data, ensure_ascii=False, sort_keys=True)],
                     "idmRecordState": [json.dumps(state, ensure_ascii=False, sort_keys=True)],
                     "idmFormRef": [form]})
    return CertRecord(dn, 0, "requested", account.uuid, data, state)


def fulfil(service: Session, issuer: authority.AnyIssuer, record: CertRecord, account: Account,
           csr_pem: bytes | None,
           p12_cipher: str | None = None) -> tuple[x509.Certificate, bytes | None, str | None]:
    """Issue a requested certificate for the user it names: from their CSR, or as a PKCS#12
    (returned with its one-time password). Written by the web UI's service account, which may
    do so only for requests in state `requested` and active users."""
    if record.status != "requested" or record.subject != account.uuid:
        raise InvalidInput("没有待签发的证书申请", "no pending certificate request for this account")
    _eligible(account)
    subject = subject_of(service, account)
    blob = password = None
    if csr_pem is not None:
        cert = authority.issue_from_csr(issuer, csr_pem, subject)
    else:
        blob, password, cert = authority.pkcs12_bundle(issuer, subject, p12_cipher)
    serial = format(cert.serial_number, "x")
    history = [*record.state.get("history", []), {"status": "issued", "at": now(),
                                                  "method": "csr" if csr_pem else "pkcs12"}]
    state = {**record.state, "history": history, "serial": serial, "algorithm": authority.algorithm_of(cert),
             "not_after": cert.not_valid_after_utc.strftime("%Y%m%d%H%M%SZ")}
    service.replace(record.dn, {"idmRecordStatus": ["issued"], "idmRecordState": [
        json.dumps(state, ensure_ascii=False, sort_keys=True)]})
    _publish(service, account.dn, cert)
    return cert, blob, password


def mark_downloaded(service: Session, record: CertRecord) -> None:
    if record.status == "issued":
        history = [*record.state.get("history", []), {"status": "downloaded", "at": now()}]
        service.replace(record.dn, {"idmRecordStatus": ["downloaded"], "idmRecordState": [
            json.dumps({**record.state, "history": history}, ensure_ascii=False, sort_keys=True)]})


def status_now(record: CertRecord) -> str:
    """`expired` is read off the certificate's end date; the others are stored."""
    not_after = record.state.get("not_after") or record.data.get("not_after")
    if record.status in ("issued", "downloaded") and not_after and not_after < now():
        return "expired"
    return record.status


def get(session: Session, name: str) -> CertRecord:
    flt = names.all_of("(objectClass=idmRecord)", "(idmRecordKind=cert)", names.eq("cn", name))
    for dn, a in session.search(session.suffix, flt, CERT_ATTRS):
        return _record(dn, a)
    raise NotFound(f"找不到证书记录 {name}", f"no certificate record {name}")


def of_account(session: Session, account: Account) -> list[CertRecord]:
    """The account's certificate records, at whichever unit it held them."""
    flt = names.all_of("(objectClass=idmRecord)", "(idmRecordKind=cert)",
                       names.eq("idmRecordSubject", account.uuid))
    return [_record(dn, a) for dn, a in session.search(session.suffix, flt, CERT_ATTRS)]


def published(session: Session, account_dn: str) -> bytes | None:
    """The certificate published on the account (DER), as the reader may see it."""
    return session.get_binary(account_dn, "userCertificate;binary")


def revoke(session: Session, actor: Actor, record: CertRecord, reason: str) -> None:
    if reason not in ca.REASONS:
        raise InvalidInput(f"吊销原因应为：{'、'.join(ca.REASONS)}",
                           f"reason must be one of: {', '.join(ca.REASONS)}")
    if record.status == "revoked":
        return
    free_text(reason)
    actors.require(session, actor, "revoke_cert", record.dn)
    history = [*record.state.get("history", []),
               {"status": "revoked", "by": actor.dn, "at": now(), "reason": reason}]
    session.replace(record.dn, {"idmRecordStatus": ["revoked"], "idmRecordState": [
        json.dumps({**record.state, "history": history, "revoked_at": now(), "reason": reason},
                   ensure_ascii=False, sort_keys=True)]})


def revoke_all(session: Session, actor: Actor, account: Account) -> int:
    """With a disable or a release (调出: the subject names the old unit): revoke every live
    certificate and withdraw the published one, so the account never gets it back."""
    live = [r for r in of_account(session, account) if r.status != "revoked"]
    for record in live:
        revoke(session, actor, record, "affiliation_changed")
    if live:
        session.modify_raw(account.dn, [(ldap.MOD_DELETE, "userCertificate;binary", None)])
    return len(live)


def algorithm(record: CertRecord, unnamed: str = "ec") -> str:
    """The algorithm the record's certificate was (or will be) issued under; `unnamed` where the
    record names none (records from before there was an SM2 CA are EC/RSA; a request made
    without a choice takes the deployment's default)."""
    return str(record.state.get("algorithm") or record.data.get("algorithm") or unnamed)


def revoked_list(session: Session, family: str = "ec") -> list[tuple[int, datetime, str]]:
    """(serial, when, reason) of every certificate revoked from one CA ("ec": the EC/RSA CA,
    "sm2"), for its CRL (local operator)."""
    out = []
    flt = "(&(objectClass=idmRecord)(idmRecordKind=cert)(idmRecordStatus=revoked))"
    for dn, a in session.search(session.suffix, flt, CERT_ATTRS):
        r = _record(dn, a)
        if authority.family(algorithm(r)) != family:
            continue
        when = datetime.strptime(str(r.state.get("revoked_at", now())), "%Y%m%d%H%M%SZ").replace(tzinfo=UTC)
        out.append((r.serial, when, str(r.state.get("reason", "unspecified"))))
    return out
