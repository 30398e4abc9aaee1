"""How an admin's CLI command gets its session: exactly as the web UI does (`idm.signin`).

`idm login --as UID` walks the sign-in steps once (password, then the code when a factor is
enrolled) and keeps a server-side session in the same store as the web UI's, with the same idle
and absolute limits; the CLI holds only its random id, in a 0600 file. A later `--as UID`
command uses that session while it is valid, or walks the steps again for that one command.
Either way the command then runs through the writer acting as the admin: the admin's own
password is used to prove who they are, never to write.
"""

from __future__ import annotations

import hashlib
import os
import socket
from collections.abc import Callable
from pathlib import Path
from typing import Any

import click

from idm.auth import sessions, signin
from idm.config import Settings
from idm.directory.session import Session
from idm.ops.bootstrap import write_secret
from idm.rules import actor as actors
from idm_cli.common import Context, friendly, pass_ctx


def _password(password_file: Path | None, prompt: str = "密码 / password") -> str:
    if password_file is not None:
        return password_file.read_text(encoding="utf-8").rstrip("\n")
    if os.environ.get("IDM_PASSWORD"):
        return os.environ["IDM_PASSWORD"]
    return str(click.prompt(prompt, hide_input=True))


def _address() -> str:
    return f"cli@{socket.gethostname()}"


def session_file(settings: Settings, uid: str) -> Path:
    """Where the CLI keeps a session id: per data folder and login, 0600 in a 0700 folder."""
    folder = Path(os.environ.get("IDM_SESSION_DIR") or Path.home() / ".idm" / "sessions")
    tag = hashlib.sha256(str(settings.data_dir.resolve()).encode()).hexdigest()[:12]
    return folder / f"{tag}-{uid.lower()}"


def stored(settings: Settings, uid: str) -> sessions.Record | None:
    """A valid CLI session of this login, or None (an expired or disabled one is dropped)."""
    path = session_file(settings, uid)
    if not path.is_file():
        return None
    store = sessions.Store(settings.sessions_db)
    record = store.get(path.read_text(encoding="utf-8").strip())
    idle = sessions.IDLE_ADMIN if record and record.admin else sessions.IDLE_USER
    if (record is None or record.client != "cli" or record.uid.lower() != uid.lower()
            or record.stage != signin.FULL or record.expired(idle, sessions.ABSOLUTE)
            or not signin.still_active(settings, record.dn)):
        if record is not None:
            store.delete(record.sid)
        path.unlink(missing_ok=True)
        return None
    store.touch(record.sid)
    return record


def _code(given: str | None) -> Callable[[], str | None]:
    """The second factor's code, asked for only when the account has one."""
    return lambda: given or os.environ.get("IDM_CODE") or str(click.prompt("动态验证码 / code"))


def _sign_in(settings: Settings, uid: str, password_file: Path | None, code: str | None) -> signin.Progress:
    return signin.sign_in_once(settings, uid, _password(password_file), _code(code), _address(), "cli")


def open_acting(settings: Settings, uid: str, password_file: Path | None, code: str | None) -> Session:
    """The admin's session: a kept one, or every sign-in step for this one command."""
    record = stored(settings, uid)
    dn = record.dn if record is not None else _sign_in(settings, uid, password_file, code).dn
    return signin.admin_session(settings, dn)


def acting(func: Callable[..., Any]) -> Callable[..., Any]:
    """Add --as/--password-file/--code and pass an open (session, actor) to the command."""

    @click.option("--as", "as_uid", required=True, envvar="IDM_AS", help="您的登录账号 / your login")
    @click.option("--password-file", type=click.Path(exists=True, dir_okay=False, path_type=Path),
                  help="file holding your password (else IDM_PASSWORD, else a prompt)")
    @click.option("--code", default=None, help="动态验证码（已启用时）/ your second factor's code")
    @pass_ctx
    @friendly
    def wrapper(ctx: Context, /, as_uid: str, password_file: Path | None, code: str | None,
                **kwargs: Any) -> Any:
        with open_acting(ctx.settings(), as_uid, password_file, code) as session:
            return func(session, actors.load(session), **kwargs)

    wrapper.__name__ = func.__name__
    wrapper.__doc__ = func.__doc__
    return wrapper


@click.command("login")
@click.option("--as", "as_uid", required=True, envvar="IDM_AS", help="您的登录账号 / your login")
@click.option("--password-file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--code", default=None, help="动态验证码（已启用时）/ your second factor's code")
@pass_ctx
@friendly
def login(ctx: Context, as_uid: str, password_file: Path | None, code: str | None) -> None:
    """登录并保持会话（与 Web 界面相同的步骤与时限）/ sign in once and keep a session."""
    settings = ctx.settings()
    progress = _sign_in(settings, as_uid, password_file, code)
    record = sessions.Store(settings.sessions_db).create(progress, "cli")
    write_secret(session_file(settings, as_uid), record.sid)
    minutes = (sessions.IDLE_ADMIN if progress.admin else sessions.IDLE_USER) // 60
    click.echo(f"已登录 / signed in: {as_uid}（空闲 {minutes} 分钟后失效 / ends after {minutes} "
               "idle minutes）")


@click.command("logout")
@click.option("--as", "as_uid", required=True, envvar="IDM_AS", help="您的登录账号 / your login")
@pass_ctx
@friendly
def logout(ctx: Context, as_uid: str) -> None:
    """退出已保持的会话 / end the kept session."""
    settings = ctx.settings()
    record = stored(settings, as_uid)
    if record is not None:
        sessions.Store(settings.sessions_db).delete(record.sid)
        signin.sign_out(settings, record.dn, _address())
    session_file(settings, as_uid).unlink(missing_ok=True)
    click.echo("已退出 / signed out")


@click.group("mfa")
def mfa_group() -> None:
    """动态验证码 / your second factor."""


@mfa_group.command("enrol")
@click.option("--as", "as_uid", required=True, envvar="IDM_AS", help="您的登录账号 / your login")
@click.option("--password-file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--code", default=None, help="更换时：原验证器当前的验证码 / replacing: the current app's code")
@pass_ctx
@friendly
def mfa_enrol(ctx: Context, as_uid: str, password_file: Path | None, code: str | None) -> None:
    """在终端启用动态验证码（与 Web 页面相同的规则）/ enrol your second factor from a terminal.

    Prints the otpauth URI and a QR code for the authenticator app, then asks for the code it
    shows; three wrong codes end the attempt (run it again for a new secret)."""
    import segno

    from idm.auth import totp
    from idm.errors import InvalidInput

    settings = ctx.settings()
    progress = signin.authenticate(settings, as_uid, _password(password_file), _address())
    progress = signin.ready_to_enrol(settings, progress, code or os.environ.get("IDM_CODE"), _address())
    enrolment = totp.begin(progress.uid)
    click.echo("用验证器应用扫描二维码，或手动输入密钥 / scan the QR code with your authenticator app, "
               "or type the secret:")
    segno.make(enrolment.uri, error="m").terminal(compact=True)
    groups = " ".join(enrolment.secret[i:i + 4] for i in range(0, len(enrolment.secret), 4))
    click.echo(f"密钥 / secret: {groups}")
    click.echo(f"otpauth URI: {enrolment.uri}")
    for attempt in range(3):
        given = str(click.prompt("验证器显示的 6 位验证码 / the 6-digit code the app shows"))
        try:
            signin.enrol(settings, progress, enrolment, given)
        except InvalidInput as err:
            if attempt == 2:
                raise
            click.echo(f"{err.zh} / {err.en}", err=True)
        else:
            break
    click.echo("动态验证码已启用 / second factor enrolled")
