"""Security headers (CSP without inline scripts, frame-ancestors none), CSRF on every
state-changing route, rate limits on sign-in per address and per account."""

from __future__ import annotations

import os

from flask import Flask, request
from flask_limiter import Limiter
from flask_limiter.util import get_remote_address
from flask_talisman import Talisman
from flask_wtf.csrf import CSRFProtect
from werkzeug.middleware.proxy_fix import ProxyFix

from webui import ratelimit_store  # noqa: F401 - registers the idmsqlite:// storage
from webui.settings import WebSettings

CSP = {
    "default-src": "'self'",
    "script-src": "'self'",
    "style-src": "'self'",
    "img-src": "'self' data:",
    "form-action": "'self'",
    "frame-ancestors": "'none'",
    "base-uri": "'none'",
    "object-src": "'none'",
}
csrf = CSRFProtect()
limiter = Limiter(key_func=get_remote_address, default_limits=[])


def account_key() -> str:
    """Rate-limit key for sign-in attempts against one account, whoever sends them."""
    return "uid:" + (request.form.get("uid") or "").strip().lower()


def client_address() -> str:
    """The client's address: the peer's, or the one a configured number of trusted proxies
    put in X-Forwarded-For (`IDM_WEB_TRUSTED_PROXIES`); never a header nobody vouches for."""
    return request.remote_addr or "-"


def init(app: Flask, web: WebSettings) -> None:
    if web.trusted_proxies:
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=web.trusted_proxies)  # type: ignore[method-assign]
    Talisman(app, content_security_policy=CSP, force_https=False, frame_options="DENY",
             session_cookie_secure=web.secure_cookies, strict_transport_security=web.secure_cookies,
             referrer_policy="no-referrer")
    csrf.init_app(app)
    # benchmarks drive sign-in harder than any person: they may switch the limits off
    app.config["RATELIMIT_ENABLED"] = os.environ.get("IDM_WEB_NO_RATELIMIT") != "1"
    # counts shared by every worker (and, with a network store, every host): never per process
    app.config["RATELIMIT_STORAGE_URI"] = web.ratelimit_storage
    app.config["RATELIMIT_HEADERS_ENABLED"] = True  # 429 answers say when to try again
    limiter.init_app(app)
