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
from datetime import UTC, datetime

import ldap
import pyotp
import segno

from idm.directory.session import Session
from idm.errors import ConstraintViolation, InvalidInput, NotFound
from idm.ops.render import totp_params_dn

PERIOD = 30
WINDOW = 1  # steps of tolerance either side, for clock drift
ISSUER = "教育管理信息系统"


@dataclass(frozen=True)
class Limit:
    """Wrong codes allowed before the factor locks, and for how long it stays locked: by
    default the password policy's own numbers (mlps3: 5 and 15 minutes)."""

    failures: int = 5
    seconds: int = 900


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


@dataclass(frozen=True)
class TokenState:
    secret: bytes | None
    last_step: int | None
    has_class: bool
    failures: int
    last_failure: datetime | None


def _state(service: Session, dn: str) -> TokenState:
    """The token as the service account sees it (raw: the secret is bytes)."""
    found = service.search_raw(dn, "(objectClass=*)", scope=ldap.SCOPE_BASE)
    if not found:
        raise NotFound("找不到账号", f"no account {dn}")
    attrs = {k.lower(): v for k, v in found[0][1].items()}

    def one(name: str) -> bytes | None:
        return attrs.get(name, [None])[0]

    last, failures, failed_at = one("oathtotplasttimestep"), one("oathfailurecount"), one("oathlastfailure")
    classes = {v.decode().lower() for v in attrs.get("objectclass", [])}
    return TokenState(
        secret=one("oathsecret"), last_step=int(last) if last is not None else None,
        has_class="oathtotptoken" in classes, failures=int(failures) if failures is not None else 0,
        last_failure=datetime.strptime(failed_at.decode(), "%Y%m%d%H%M%SZ").replace(tzinfo=UTC)
        if failed_at else None)


def enrolled(service: Session, dn: str) -> bool:
    return _state(service, dn).secret is not None


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
    mods: list[tuple[int, str, list[bytes] | None]] = []
    if not _state(service, dn).has_class:
        mods.append((ldap.MOD_ADD, "objectClass", [b"oathTOTPToken"]))
    mods += [(ldap.MOD_REPLACE, "oathSecret", [secret]),
             (ldap.MOD_REPLACE, "oathTOTPParams", [totp_params_dn(service.suffix).encode()]),
             (ldap.MOD_REPLACE, "oathTOTPLastTimeStep", [str(step).encode()]),
             (ldap.MOD_REPLACE, "oathFailureCount", None), (ldap.MOD_REPLACE, "oathLastFailure", None)]
    service.modify_raw(dn, mods)


OK, WRONG, LOCKED = "ok", "wrong", "locked"


def locked(state: TokenState, limit: Limit, at: datetime) -> bool:
    return (limit.failures > 0 and state.failures >= limit.failures and state.last_failure is not None
            and (at - state.last_failure).total_seconds() < limit.seconds)


def verify(service: Session, dn: str, code: str, limit: Limit | None = None) -> str:
    """OK once per code; WRONG for a wrong, stale, replayed or lost-race code; LOCKED after too
    many wrong codes (counted on the account, so every worker and host sees them), until the
    lock period has passed or the system admin resets the factor."""
    limit = limit or Limit()
    state = _state(service, dn)
    at = datetime.now(UTC)
    if state.secret is None:
        return WRONG
    if locked(state, limit, at):
        return LOCKED
    step = _matching_step(state.secret, code)
    if step is None or (state.last_step is not None and step <= state.last_step):
        return LOCKED if _count_failure(service, dn, limit, at) else WRONG
    new = [str(step).encode()]
    mods: list[tuple[int, str, list[bytes] | None]] = [(ldap.MOD_ADD, "oathTOTPLastTimeStep", new)]
    if state.last_step is not None:
        mods.insert(0, (ldap.MOD_DELETE, "oathTOTPLastTimeStep", [str(state.last_step).encode()]))
    mods += [(ldap.MOD_REPLACE, "oathFailureCount", None), (ldap.MOD_REPLACE, "oathLastLogin",
                                                            [at.strftime("%Y%m%d%H%M%SZ").encode()])]
    try:
        service.modify_raw(dn, mods)
    except (ConstraintViolation, NotFound):
        return WRONG  # another submission took this step first
    return OK


def _count_failure(service: Session, dn: str, limit: Limit, at: datetime) -> bool:
    """One more wrong code, by compare-and-swap so concurrent failures all count; a count from
    before the last lock period starts again. True when this failure locks the factor."""
    for _ in range(5):
        state = _state(service, dn)
        stale = state.last_failure is None or (at - state.last_failure).total_seconds() >= limit.seconds
        count = 1 if stale else state.failures + 1
        mods: list[tuple[int, str, list[bytes] | None]] = []
        if state.failures:
            mods.append((ldap.MOD_DELETE, "oathFailureCount", [str(state.failures).encode()]))
        mods += [(ldap.MOD_ADD, "oathFailureCount", [str(count).encode()]),
                 (ldap.MOD_REPLACE, "oathLastFailure", [at.strftime("%Y%m%d%H%M%SZ").encode()])]
        try:
            service.modify_raw(dn, mods)
        except (ConstraintViolation, NotFound):
            continue
        return limit.failures > 0 and count >= limit.failures
    return False


def remove(session: Session, dn: str) -> None:
    """A lost factor (the system admin, with a change form): the secret goes, the account stays;
    its state (last step, failures) goes with it through the lookup account at re-enrolment."""
    session.modify_raw(dn, [(ldap.MOD_DELETE, "oathSecret", None)])


def require_on_ldap_bind(session: Session, dn: str) -> None:
    """Local operator: make slapd's otp overlay require password+code on this account's binds."""
    session.modify_raw(dn, [(ldap.MOD_ADD, "objectClass", [b"oathTOTPUser"]),
                            (ldap.MOD_REPLACE, "oathTOTPToken", [dn.encode()])])

