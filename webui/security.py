"""Security headers (CSP without inline scripts, frame-ancestors none), CSRF on every
state-changing route, rate limits on sign-in per address and per account."""

from __future__ import annotations

import os

from flask import Flask, request
from flask_limiter import Limiter
from flask_limiter.util import get_remote_address
from flask_talisman import Talisman
from flask_wtf.csrf import CSRFProtect

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
limiter = Limiter(key_func=get_remote_address, storage_uri="memory://", default_limits=[])


def account_key() -> str:
    """Rate-limit key for sign-in attempts against one account, whoever sends them."""
    return "uid:" + (request.form.get("uid") or "").strip().lower()


def init(app: Flask, web: WebSettings) -> None:
    Talisman(app, content_security_policy=CSP, force_https=False, frame_options="DENY",
             session_cookie_secure=web.secure_cookies, strict_transport_security=web.secure_cookies,
             referrer_policy="no-referrer")
    csrf.init_app(app)
    # benchmarks drive sign-in harder than any person: they may switch the limits off
    app.config["RATELIMIT_ENABLED"] = os.environ.get("IDM_WEB_NO_RATELIMIT") != "1"
    limiter.init_app(app)
