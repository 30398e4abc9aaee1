"""Sign-in, sign-out, and the server-side session every request is checked against.

Every route declares the sign-in stages it answers at (`@stages(...)`; undeclared routes need a
full session). A request at any other stage is sent to the step it still owes, so no route can
be taken out of order: the password page before the code, the console before enrolment.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any, TypeVar

from flask import (
    Blueprint,
    Flask,
    Response,
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

from idm.auth import signin
from idm.auth.sessions import Record, Store
from idm.errors import AuthenticationFailed
from webui.errors import refused
from webui.forms import LoginForm
from webui.security import account_key, client_address, limiter
from webui.settings import WebSettings

bp = Blueprint("auth", __name__)
PUBLIC = "public"
# A session's last-seen time is written at most this often (seconds): the idle timeouts (15 and
# 30 minutes) then end a session up to this much later, and a page costs no write.
TOUCH_EVERY = 30.0
SIGNED_IN = (signin.FACTOR, signin.CHANGE, signin.ENROL, signin.FULL)
STAGE_PAGE = {signin.FACTOR: "mfa.check", signin.CHANGE: "account.password",
              signin.ENROL: "mfa.enrol", signin.FULL: "account.home"}


View = TypeVar("View", bound=Callable[..., Any])


def stages(*allowed: str) -> Callable[[View], View]:
    """Declare the stages a route answers at (PUBLIC: also without a session)."""
    def mark(view: View) -> View:
        view.idm_stages = frozenset(allowed)  # type: ignore[attr-defined]
        return view

    return mark


def declared(endpoint: str | None) -> frozenset[str]:
    if endpoint is None or endpoint == "static":
        return frozenset({PUBLIC})
    view = current_app.view_functions.get(endpoint)
    return getattr(view, "idm_stages", frozenset({signin.FULL}))


def web() -> WebSettings:
    return current_app.config["IDM_WEB"]  # type: ignore[no-any-return]


def store() -> Store:
    return current_app.extensions["idm_sessions"]  # type: ignore[no-any-return]


def init(app: Flask, settings: WebSettings) -> None:
    assert settings.sessions_db is not None
    app.extensions["idm_sessions"] = Store(settings.sessions_db)
    app.before_request(load_user)
    app.before_request(enforce_stage)
    app.after_request(no_store)


def _limits(record: Record, settings: WebSettings) -> tuple[int, int]:
    idle = (settings.idle_minutes_admin if record.admin else settings.idle_minutes_user) * 60
    return idle, settings.absolute_hours * 3600


def load_user() -> None:
    """g.user is this browser's session at whatever stage it has reached, or None. Expired,
    signed-out or disabled accounts' sessions are dropped here, on the server."""
    g.user = None
    if request.endpoint in ("static", "auth.healthz", "auth.ca_file"):
        return
    sid = session.get("sid")
    if not sid:
        return
    record = store().get(sid)
    settings = web()
    if (record is None or record.client != "web" or record.expired(*_limits(record, settings))
            or not signin.still_active(settings.idm, record.dn)):
        if record is not None:
            store().delete(record.sid)
        session.clear()
        flash(_("会话已结束，请重新登录"), "info")
        return
    if time.time() - record.seen > TOUCH_EVERY:  # a write per request was most of the store's cost
        store().touch(record.sid)
    g.user = record


def enforce_stage() -> Any:
    """Send a request the route does not take at this stage to the step still owed; the header
    says so (for tests and logs), the route itself never runs."""
    allowed = declared(request.endpoint)
    if PUBLIC in allowed:
        return None
    owed = "sign-in" if g.user is None else g.user.stage
    if owed in allowed:
        return None
    response = redirect(url_for("auth.login" if g.user is None else STAGE_PAGE[g.user.stage]))
    response.headers["X-Idm-Owed"] = owed
    return response


def no_store(response: Response) -> Response:
    """Nothing a signed-in person sees is kept by a browser or a proxy cache."""
    if request.endpoint != "static":
        response.headers["Cache-Control"] = "no-store"
        response.headers["Pragma"] = "no-cache"
    return response


def advance(progress: signin.Progress) -> Any:
    """The sign-in proved one more step: a new session id, and on to what is still owed."""
    g.user = store().advance(g.user, progress)
    session["sid"] = g.user.sid
    if progress.stage == signin.FULL:
        signin.finish(web().idm, progress, client_address())
    return redirect(url_for(STAGE_PAGE[progress.stage]))


def _start(progress: signin.Progress) -> Record:
    """A brand-new session id at sign-in (never reuse one the browser brought)."""
    old = session.get("sid")
    if old:
        store().delete(old)
    session.clear()
    record = store().create(progress, "web")
    session["sid"] = record.sid
    g.user = record
    return record


@bp.route("/login", methods=["GET", "POST"])
@stages(PUBLIC)
@limiter.limit("10 per minute", methods=["POST"])
@limiter.limit("5 per minute", key_func=account_key, methods=["POST"])
def login() -> Any:
    form = LoginForm()
    if form.validate_on_submit():
        settings = web()
        try:  # a refusal has the same words for every kind; anything else: the error boundary
            progress = signin.authenticate(settings.idm, form.uid.data, form.password.data, client_address())
        except AuthenticationFailed as err:
            refused(err)
            return render_template("login.html", form=form)
        record = _start(progress)
        if progress.grace_left is not None:
            flash(_("密码已过期，还可登录 %(n)s 次，请立即修改", n=progress.grace_left), "warning")
        elif progress.must_change:
            flash(_("首次登录或密码已被重置、已过期，请先设置新密码"), "warning")
        elif progress.expires_in:
            flash(_("密码将在 %(days)s 天后过期", days=max(1, progress.expires_in // 86400)), "warning")
        if record.stage == signin.FULL:
            signin.finish(settings.idm, progress, client_address())
        return redirect(url_for(STAGE_PAGE[record.stage]))
    return render_template("login.html", form=form)


@bp.route("/healthz")
@stages(PUBLIC)
def healthz() -> Any:
    """For load balancers and the web benchmark's baseline: no directory access."""
    return "ok", 200, {"Content-Type": "text/plain"}


@bp.route("/ca/<name>.pem", defaults={"family": "ca"})
@bp.route("/ca/sm2/<name>.pem", defaults={"family": "ca-sm2"})
@stages(PUBLIC)
def ca_file(name: str, family: str) -> Any:
    """The issuing chain and the CRL at stable URLs (R19 publication), of the EC CA at /ca/ and
    of the SM2 CA at /ca/sm2/; nothing secret here."""
    files = {"chain": ("issuing.crt.pem", "root.crt.pem"), "crl": ("crl.pem",), "root": ("root.crt.pem",)}
    if name not in files:
        return "not found", 404
    folder = web().idm.data_dir / family
    parts = [folder / f for f in files[name]]
    if not all(p.is_file() for p in parts):
        return "not found", 404
    return b"".join(p.read_bytes() for p in parts), 200, {"Content-Type": "application/x-pem-file"}


@bp.route("/logout", methods=["POST"])
@stages(*SIGNED_IN)
def logout() -> Any:
    if g.user is not None:
        store().delete(g.user.sid)
        signin.sign_out(web().idm, g.user.dn, client_address())
    session.clear()
    flash(_("已退出"), "info")
    return redirect(url_for("auth.login"))
