"""Second factor (RFC 6238 TOTP, 30 s steps, 6 digits): enrolment, verification, replay refusal.

The token lives on the account entry itself, as OpenLDAP's OATH schema has it (auxiliary class
`oathTOTPToken`: raw secret bytes in `oathSecret`, parameters in `oathTOTPParams`, the last
accepted step in `oathTOTPLastTimeStep`), so the `otp` overlay can also require password+code
on LDAP binds for the accounts a site chooses (`require_on_ldap_bind`). Only the web UI's
service account reads secrets; a system admin can remove a lost factor but never read it.

A code is accepted once: its time step must be later than the last accepted one, and the new
step is written with a compare-and-swap modify (delete the old value, add the new one), which
slapd applies atomically, so of two concurrent submissions of one code exactly one succeeds.
"""

from __future__ import annotations

import base64
import io
import time
from dataclasses import dataclass

import ldap
import pyotp
import segno

from idm.directory.session import Session
from idm.errors import ConstraintViolation, InvalidInput, NotFound
from idm.server.render import totp_params_dn

PERIOD = 30
WINDOW = 1  # steps of tolerance either side, for clock drift
ISSUER = "教育管理信息系统"


@dataclass(frozen=True)
class Enrolment:
    secret: str  # base32, shown once as text and QR code
    uri: str

    def qr_svg_data_uri(self) -> str:
        out = io.BytesIO()
        segno.make(self.uri, error="m").save(out, kind="svg", scale=5, border=2)
        return "data:image/svg+xml;base64," + base64.b64encode(out.getvalue()).decode()


def begin(uid: str) -> Enrolment:
    secret = pyotp.random_base32()
    return Enrolment(secret, begin_uri(secret, uid))


def begin_uri(secret: str, uid: str) -> str:
    """The otpauth:// URI an authenticator app reads from the QR code."""
    return str(pyotp.TOTP(secret).provisioning_uri(name=uid, issuer_name=ISSUER))


def _state(service: Session, dn: str) -> tuple[bytes | None, int | None, bool]:
    """(secret, last accepted step, has the token class) as the service account sees them."""
    found = service.search_raw(dn, "(objectClass=*)", scope=ldap.SCOPE_BASE)
    if not found:
        raise NotFound("找不到账号", f"no account {dn}")
    attrs = {k.lower(): v for k, v in found[0][1].items()}
    secret = attrs.get("oathsecret", [None])[0]
    last = attrs.get("oathtotplasttimestep", [None])[0]
    classes = {v.decode().lower() for v in attrs.get("objectclass", [])}
    return secret, int(last) if last is not None else None, "oathtotptoken" in classes


def enrolled(service: Session, dn: str) -> bool:
    return _state(service, dn)[0] is not None


def _matching_step(secret: bytes, code: str, now: float | None = None) -> int | None:
    if not (code.isdigit() and len(code) == 6):
        return None
    totp = pyotp.TOTP(base64.b32encode(secret).decode())
    current = int((now or time.time()) // PERIOD)
    for step in range(current - WINDOW, current + WINDOW + 1):
        if totp.at(step * PERIOD) == code:
            return step
    return None


def confirm(service: Session, dn: str, enrolment: Enrolment, code: str) -> None:
    """Store the secret once the person proves their app shows the right code."""
    secret = base64.b32decode(enrolment.secret)
    step = _matching_step(secret, code)
    if step is None:
        raise InvalidInput("验证码不正确，请核对手机时间后重试", "the code is wrong; check the phone's clock")
    _, _, has_class = _state(service, dn)
    mods: list[tuple[int, str, list[bytes] | None]] = []
    if not has_class:
        mods.append((ldap.MOD_ADD, "objectClass", [b"oathTOTPToken"]))
    mods += [(ldap.MOD_REPLACE, "oathSecret", [secret]),
             (ldap.MOD_REPLACE, "oathTOTPParams", [totp_params_dn(service.suffix).encode()]),
             (ldap.MOD_REPLACE, "oathTOTPLastTimeStep", [str(step).encode()])]
    service.modify_raw(dn, mods)


def verify(service: Session, dn: str, code: str) -> bool:
    """True once per code: a replay, a stale code or a lost race is False."""
    secret, last, _ = _state(service, dn)
    if secret is None:
        return False
    step = _matching_step(secret, code)
    if step is None or (last is not None and step <= last):
        return False
    new = [str(step).encode()]
    mods: list[tuple[int, str, list[bytes] | None]] = [(ldap.MOD_ADD, "oathTOTPLastTimeStep", new)]
    if last is not None:
        mods.insert(0, (ldap.MOD_DELETE, "oathTOTPLastTimeStep", [str(last).encode()]))
    try:
        service.modify_raw(dn, mods)
    except (ConstraintViolation, NotFound):
        return False  # another submission took this step first
    return True


def remove(session: Session, dn: str) -> None:
    """A lost factor (the system admin, with a change form): the secret goes, the account stays."""
    session.modify_raw(dn, [(ldap.MOD_DELETE, "oathSecret", None)])


def require_on_ldap_bind(session: Session, dn: str) -> None:
    """Local operator: make slapd's otp overlay require password+code on this account's binds."""
    session.modify_raw(dn, [(ldap.MOD_ADD, "objectClass", [b"oathTOTPUser"]),
                            (ldap.MOD_REPLACE, "oathTOTPToken", [dn.encode()])])

