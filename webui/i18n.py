"""Chinese first, English available (?lang=en, remembered in a cookie)."""

from __future__ import annotations

from flask import Flask, request
from flask_babel import Babel, get_locale

LANGUAGES = ("zh_CN", "en")


def select_locale() -> str:
    wanted = request.args.get("lang") or request.cookies.get("idm_lang")
    return wanted if wanted in LANGUAGES else "zh_CN"


def init(app: Flask) -> None:
    Babel(app, locale_selector=select_locale)
    app.jinja_env.globals["get_locale"] = get_locale

    @app.after_request
    def remember(response):  # type: ignore[no-untyped-def]
        lang = request.args.get("lang")
        if lang in LANGUAGES:
            response.set_cookie("idm_lang", lang, samesite="Lax", httponly=True,
                                secure=app.config["SESSION_COOKIE_SECURE"])
        return response


def pick(zh: str, en: str) -> str:
    """The toolkit's errors carry both languages; show the one the page is in."""
    locale = get_locale()
    return zh if locale is None or locale.language == "zh" else en
