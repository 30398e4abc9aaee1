"""Sign-in as one declared state machine, walked by the web UI and the CLI alike.

    password -> second factor (when enrolled) -> forced change (one-time, reset or expiring
    password) -> enrolment (where the policy makes the factor mandatory) -> full session

`authenticate` checks the password by binding as the person (an expired but right password
leads to the change stage); `check_factor` checks a code;
`stage` says what is still owed. Only a full session acts, and it acts through the writer as
the person (`admin_session`): the person's own password is never used to write.

An unknown login, a wrong password, a locked and a disabled account get the same words, and
about the same time: an unknown login is answered only after a bind with the typed password
against a dummy account, so it costs the same Argon2 verification. Admin sign-ins, failures,
lockouts, factor failures and sign-outs are recorded on the admin's entry by the lookup account;
the write log keeps each one where that level's auditor reads it.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace

from idm.auth import policy, totp
from idm.config import Settings
from idm.directory import connection, lookup, names
from idm.directory.connection import BindState
from idm.directory.session import Session
from idm.errors import AccountLocked, AuthenticationFailed, IdmError, PasswordExpired, PermissionDenied
from idm.rules.terms import WRITER

FACTOR, CHANGE, ENROL, FULL = "factor", "change", "enrol", "full"
STAGES = (FACTOR, CHANGE, ENROL, FULL)
DUMMY = "idm-dummy"
SIGN_IN_FAILED = ("账号或密码错误；连续输错将锁定账号，无法登录请联系本级系统管理员",
                  "wrong login or password; repeated failures lock the account: if you cannot "
                  "sign in, contact your system admin")
FACTOR_WRONG = ("验证码不正确或已使用", "the code is wrong or already used")
FACTOR_LOCKED = ("动态验证码错误次数过多，已暂时锁定，请稍后再试或联系本级系统管理员",
                 "too many wrong codes: the second factor is locked for a while; try later or "
                 "contact your system admin")


class FactorRefused(AuthenticationFailed):
    code = "factor_refused"


@dataclass(frozen=True)
class Progress:
    """What a sign-in has proven so far, and what the account still owes."""

    dn: str
    uid: str
    admin: bool
    must_change: bool
    factor_enrolled: bool
    factor_required: bool
    factor_done: bool = False
    expires_in: int | None = None  # seconds until the password expires, when ppolicy warns
    grace_left: int | None = None  # sign-ins left on an expired password

    @property
    def stage(self) -> str:
        if self.factor_enrolled and not self.factor_done:
            return FACTOR
        if self.must_change:
            return CHANGE
        if self.factor_required and not self.factor_enrolled:
            return ENROL
        return FULL


def _lookup(settings: Settings) -> Session:
    return lookup.service_session(settings.ldap_uri, settings.suffix, settings.secrets_dir)


def _find(settings: Settings, uid: str) -> str | None:
    with _lookup(settings) as session:
        found = list(session.search(settings.suffix, names.all_of(lookup.ACCOUNTS, names.eq("uid", uid)),
                                    ["1.1"]))
    return found[0][0] if len(found) == 1 else None


def _is_admin(dn: str) -> bool:
    return ",ou=admins," in dn.lower()


def record(settings: Settings, dn: str, event: str, address: str) -> None:
    """An admin's sign-in event, on its entry (the write log keeps the history). Recording must
    never decide a sign-in: a failure to record is not a failure to sign in."""
    if not _is_admin(dn):
        return
    value = f"{event} {address or '-'}"[:256]
    try:
        with _lookup(settings) as session:
            session.replace(dn, {"idmSignIn": [value]})
    except IdmError:
        pass


def _locked_now(settings: Settings, dn: str) -> bool:
    with _lookup(settings) as session:
        entry = session.get(dn, ["pwdAccountLockedTime"])
    return bool(entry and entry[1].get("pwdAccountLockedTime"))


def authenticate(settings: Settings, uid: str, password: str, address: str = "") -> Progress:
    """The first step: the password, checked by slapd with its policy. Raises
    AuthenticationFailed with the same words for every kind of refusal; a right password that
    has expired leads on to the change stage."""
    dn = _find(settings, uid.strip()) if uid.strip() else None
    if dn is None:
        _dummy_bind(settings, password)
        raise AuthenticationFailed(*SIGN_IN_FAILED)
    try:
        conn, state = connection.bind_with_policy(settings.ldap_uri, dn, password)
    except PasswordExpired:
        # slapd says "expired" only after the password proved right: the change is owed
        record(settings, dn, "expired", address)
        return _progress(settings, dn, uid.strip(), BindState(must_change=True))
    except AccountLocked as err:
        # slapd refuses a locked (or disabled) account before it verifies the password: spend
        # the verification here, or the quick answer would tell that such an account exists
        _dummy_bind(settings, password)
        record(settings, dn, "refused-locked", address)
        raise AuthenticationFailed(*SIGN_IN_FAILED) from err
    except AuthenticationFailed as err:
        record(settings, dn, "lockout" if _locked_now(settings, dn) else "failure", address)
        raise AuthenticationFailed(*SIGN_IN_FAILED) from err
    conn.unbind_s()
    return _progress(settings, dn, uid.strip(), state)


def _progress(settings: Settings, dn: str, uid: str, state: BindState) -> Progress:
    with _lookup(settings) as session:
        enrolled = totp.enrolled(session, dn)
    admin = _is_admin(dn)
    return Progress(dn=dn, uid=uid, admin=admin,
                    must_change=state.must_change or state.grace_left is not None,
                    factor_enrolled=enrolled,
                    factor_required=admin and policy.PROFILES[settings.password_profile].admin_second_factor,
                    expires_in=state.expires_in, grace_left=state.grace_left)


def _dummy_bind(settings: Settings, password: str) -> None:
    """Spend on an unknown login what a known one costs: one bind, one Argon2 verification."""
    conn = None
    try:
        conn, _ = connection.bind_with_policy(settings.ldap_uri,
                                              names.service_dn(DUMMY, settings.suffix), password)
    except IdmError:
        return
    finally:
        if conn is not None:
            conn.unbind_s()


def factor_limit(settings: Settings) -> totp.Limit:
    profile = policy.PROFILES[settings.password_profile]
    return totp.Limit(failures=profile.lockout_failures, seconds=profile.lockout_seconds)


def check_factor(settings: Settings, progress: Progress, code: str, address: str = "") -> Progress:
    """The second step: a code from the enrolled app. Wrong codes are counted on the account
    and lock the factor after as many failures as the password policy allows passwords."""
    with _lookup(settings) as session:
        result = totp.verify(session, progress.dn, code.strip(), factor_limit(settings))
    if result == totp.OK:
        return replace(progress, factor_done=True)
    record(settings, progress.dn, "factor-lockout" if result == totp.LOCKED else "factor-failure", address)
    raise FactorRefused(*(FACTOR_LOCKED if result == totp.LOCKED else FACTOR_WRONG))


def password_changed(progress: Progress) -> Progress:
    return replace(progress, must_change=False)


def factor_enrolled(progress: Progress) -> Progress:
    return replace(progress, factor_enrolled=True, factor_done=True)


def ready_to_enrol(settings: Settings, progress: Progress, current_code: str | None,
                   address: str = "") -> Progress:
    """Enrolment (first or replacing) as the web page has it: a replaced factor is proven with
    its current code first, and a password that must change is changed before anything else."""
    return _factor_then_change(settings, progress, lambda: current_code, address, (
        "更换动态验证码须先提供原验证器当前的验证码（--code）",
        "replacing the second factor needs the current app's code (--code)"))


def _factor_then_change(settings: Settings, progress: Progress, code: Callable[[], str | None], address: str,
                        no_code: tuple[str, str]) -> Progress:
    """The steps a client that cannot show pages walks after the password: the enrolled
    factor's code (`no_code` says what to give when it is missing), then no password owed."""
    if progress.stage == FACTOR:
        given = code()
        if not given:
            raise FactorRefused(*no_code)
        progress = check_factor(settings, progress, given, address)
    if progress.stage == CHANGE:
        raise PermissionDenied(f"须先修改密码：idm password change --as {progress.uid}",
                               f"change your password first: idm password change --as {progress.uid}")
    return progress


def enrol(settings: Settings, progress: Progress, enrolment: totp.Enrolment, code: str) -> Progress:
    """Store the new factor once the app shows the right code (by the lookup account, as on the
    web page: the write log keeps it where the level's auditor reads it)."""
    with _lookup(settings) as session:
        totp.confirm(session, progress.dn, enrolment, code.strip())
    return factor_enrolled(progress)


def finish(settings: Settings, progress: Progress, address: str = "", via: str = "web") -> None:
    """The full session begins: recorded for admins."""
    if progress.stage != FULL:
        raise AuthenticationFailed("登录步骤未完成", "sign-in is not complete")
    record(settings, progress.dn, f"signin-{via}", address)


def sign_out(settings: Settings, dn: str, address: str = "") -> None:
    record(settings, dn, "signout", address)


def admin_session(settings: Settings, dn: str) -> Session:
    """A full session's directory view: the writer, acting as the signed-in person. Call only
    once the sign-in is complete (the transports check the stage first)."""
    return lookup.acting(settings.ldap_uri, settings.suffix, settings.secrets_dir, dn, WRITER)


def still_active(settings: Settings, dn: str) -> bool:
    """Checked on every request, so disabling an account ends its sessions at once."""
    with _lookup(settings) as service:
        entry = service.get(dn, ["idmStatus", "pwdAccountLockedTime"])
    if entry is None:
        return False
    attrs = entry[1]
    return attrs.get("idmStatus") == ["active"] and "pwdAccountLockedTime" not in attrs


def sign_in_once(settings: Settings, uid: str, password: str, code: Callable[[], str | None],
                 address: str = "", via: str = "cli") -> Progress:
    """Every step in one go, for a client that cannot show pages (the CLI): the password, then
    the code (asked for only when a factor is enrolled); a password that must change or a factor
    that must be enrolled first sends the person to do that, as the web UI would."""
    progress = _factor_then_change(settings, authenticate(settings, uid, password, address), code, address, (
        "该账号已启用动态验证码，请同时提供验证码（--code）",
        "this account has a second factor: give its code too (--code)"))
    if progress.stage == ENROL:
        raise PermissionDenied("管理员须先启用动态验证码：Web 界面（我的账号 → 动态验证码）"
                               f"或 idm mfa enrol --as {progress.uid}",
                               f"admins enrol their second factor first: in the web UI (my account, "
                               f"second factor) or with idm mfa enrol --as {progress.uid}")
    finish(settings, progress, address, via)
    return progress
