"""The web UI: a Flask app factory that reads like a table of contents. The views are thin:
every rule lives in `idm`, and every change is made as the signed-in person."""

from __future__ import annotations

from flask import Flask

from webui.settings import WebSettings


def create_app(settings: WebSettings | None = None) -> Flask:
    from webui import settings as settings_module

    app = Flask(__name__)
    web = settings or settings_module.load()
    setup_config(app, web)
    setup_i18n(app)
    setup_security(app, web)
    setup_sessions(app, web)
    setup_views(app)
    return app


def setup_config(app: Flask, web: WebSettings) -> None:
    app.config.update(
        SECRET_KEY=web.secret_key,
        IDM_WEB=web,
        SESSION_COOKIE_NAME="idm_session",
        SESSION_COOKIE_HTTPONLY=True,
        SESSION_COOKIE_SAMESITE="Lax",
        SESSION_COOKIE_SECURE=web.secure_cookies,
        WTF_CSRF_TIME_LIMIT=None,  # bound to the server-side session instead
        BABEL_DEFAULT_LOCALE="zh_CN",
        MAX_CONTENT_LENGTH=4 * 1024 * 1024,
    )


def setup_i18n(app: Flask) -> None:
    from webui import i18n

    i18n.init(app)


def setup_security(app: Flask, web: WebSettings) -> None:
    from webui import security

    security.init(app, web)


def setup_sessions(app: Flask, web: WebSettings) -> None:
    from webui import auth

    auth.init(app, web)


def setup_views(app: Flask) -> None:
    from webui import (
        account,
        audit_views,
        auth,
        certificates,
        console,
        errors,
        filters,
        form_views,
        mfa,
        nav,
        reviews,
    )

    filters.init(app)
    nav.init(app)
    errors.init(app)
    app.register_blueprint(certificates.bp)
    app.register_blueprint(console.bp)
    app.register_blueprint(form_views.bp)
    app.register_blueprint(audit_views.bp)
    app.register_blueprint(auth.bp)
    app.register_blueprint(account.bp)
    app.register_blueprint(mfa.bp)
    app.register_blueprint(reviews.bp)
