"""Sign-in, sign-out, and the server-side session that every request is checked against."""

from __future__ import annotations

import time
from collections.abc import Callable
from functools import wraps
from typing import Any

from flask import (
    Blueprint,
    Flask,
    current_app,
    flash,
    g,
    redirect,
    render_template,
    request,
    session,
    url_for,
)
from flask_babel import gettext as _

from idm import policy, signin, totp
from idm.directory import lookup
from idm.errors import AccountLocked, AuthenticationFailed, IdmError, PasswordExpired
from webui.forms import LoginForm
from webui.security import account_key, limiter
from webui.sessions import Store, WebSession
from webui.settings import WebSettings

bp = Blueprint("auth", __name__)


def web() -> WebSettings:
    return current_app.config["IDM_WEB"]  # type: ignore[no-any-return]


def store() -> Store:
    return current_app.extensions["idm_sessions"]  # type: ignore[no-any-return]


def init(app: Flask, settings: WebSettings) -> None:
    assert settings.sessions_db is not None
    app.extensions["idm_sessions"] = Store(settings.sessions_db)
    app.before_request(load_user)


def _expired(s: WebSession, settings: WebSettings) -> bool:
    idle = (settings.idle_minutes_admin if s.admin else settings.idle_minutes_user) * 60
    now = time.time()
    return now - s.seen > idle or now - s.created > settings.absolute_hours * 3600


def load_user() -> None:
    """g.user is the valid, fully signed-in session, or None. Expired, signed-out or disabled
    accounts' sessions are dropped here, on the server."""
    g.user = None
    if request.endpoint in ("auth.healthz", "auth.ca_file"):
        return
    sid = session.get("sid")
    if not sid:
        return
    s = store().get(sid)
    settings = web()
    if s is None or _expired(s, settings) or not signin.still_active(
            settings.idm.ldap_uri, settings.idm.suffix, settings.idm.secrets_dir, s.dn):
        if s is not None:
            store().delete(s.sid)
        session.clear()
        flash(_("会话已结束，请重新登录"), "info")
        return
    store().touch(s.sid)
    g.user = s


def signed_in_or_midway(view: Callable[..., Any]) -> Callable[..., Any]:
    """Pages open between the password and the second factor (password change, the factor)."""
    @wraps(view)
    def wrapped(*args: Any, **kwargs: Any) -> Any:
        if g.user is None:
            return redirect(url_for("auth.login"))
        return view(*args, **kwargs)

    return wrapped


def next_step() -> Any:
    """After the password (or a forced change): the second factor if due, else home."""
    if g.user is None:
        return redirect(url_for("auth.login"))
    if g.user.stage == "full":
        return redirect(url_for("account.home"))
    settings = web().idm
    with lookup.service_session(settings.ldap_uri, settings.suffix, settings.secrets_dir) as service:
        has_factor = totp.enrolled(service, g.user.dn)
    if has_factor:
        return redirect(url_for("mfa.check"))
    if g.user.admin and policy.PROFILES[settings.password_profile].admin_second_factor:
        return redirect(url_for("mfa.enrol"))
    finish()
    return redirect(url_for("account.home"))


def finish() -> None:
    """Both factors done: a new session id for the full session."""
    g.user = store().rotate(g.user, "full")
    session["sid"] = g.user.sid


def login_required(view: Callable[..., Any]) -> Callable[..., Any]:
    @wraps(view)
    def wrapped(*args: Any, **kwargs: Any) -> Any:
        if g.user is None or g.user.stage != "full":
            return redirect(url_for("auth.login"))
        return view(*args, **kwargs)

    return wrapped


def _start(dn: str, uid: str, admin: bool) -> WebSession:
    """A brand-new session id at sign-in (never reuse one the browser brought)."""
    old = session.get("sid")
    if old:
        store().delete(old)
    session.clear()
    s = store().create(dn, uid, admin, "password")
    session["sid"] = s.sid
    g.user = s
    return s


@bp.route("/login", methods=["GET", "POST"])
@limiter.limit("10 per minute", methods=["POST"])
@limiter.limit("5 per minute", key_func=account_key, methods=["POST"])
def login() -> Any:
    form = LoginForm()
    if form.validate_on_submit():
        settings = web()
        try:
            who = signin.authenticate(settings.idm.ldap_uri, settings.idm.suffix, settings.idm.secrets_dir,
                                      form.uid.data.strip(), form.password.data)
        except AccountLocked:
            flash(_("账号已锁定或已停用，请联系本级系统管理员"), "error")
        except PasswordExpired:
            flash(_("密码已过期，请联系本级系统管理员重置"), "error")
        except AuthenticationFailed:
            flash(_("账号或密码错误"), "error")
        except IdmError:
            flash(_("目录服务暂不可用，请稍后再试"), "error")
        else:
            _start(who.dn, who.uid, who.admin)
            if who.state.must_change:
                flash(_("密码已被重置，请先修改密码"), "warning")
                return redirect(url_for("account.password"))
            if who.state.expires_in:
                days = max(1, who.state.expires_in // 86400)
                flash(_("密码将在 %(days)s 天后过期", days=days), "warning")
            if who.state.grace_left is not None:
                flash(_("密码已过期，还可登录 %(n)s 次，请立即修改", n=who.state.grace_left), "warning")
            return next_step()
    return render_template("login.html", form=form)


@bp.route("/healthz")
def healthz() -> Any:
    """For load balancers and the web benchmark's baseline: no directory access."""
    return "ok", 200, {"Content-Type": "text/plain"}


@bp.route("/ca/<name>.pem")
def ca_file(name: str) -> Any:
    """The issuing chain and the CRL at stable URLs (R19 publication); nothing secret here."""
    files = {"chain": ("issuing.crt.pem", "root.crt.pem"), "crl": ("crl.pem",), "root": ("root.crt.pem",)}
    if name not in files:
        return "not found", 404
    folder = web().idm.data_dir / "ca"
    parts = [folder / f for f in files[name]]
    if not all(p.is_file() for p in parts):
        return "not found", 404
    return b"".join(p.read_bytes() for p in parts), 200, {"Content-Type": "application/x-pem-file"}


@bp.route("/logout", methods=["POST"])
def logout() -> Any:
    sid = session.get("sid")
    if sid:
        store().delete(sid)
    session.clear()
    flash(_("已退出"), "info")
    return redirect(url_for("auth.login"))
