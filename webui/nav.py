"""The header menu, by role, and the breadcrumbs: every page says where it is and how to get
to the rest of the admin's duties."""

from __future__ import annotations

from typing import Any

from flask import Flask, g, request, url_for
from flask_babel import lazy_gettext as _l

from idm.auth import signin
from webui.acting import current_actor

MENU = {
    "all": [("account.home", _l("我的账号")), ("account.password", _l("修改密码")),
            ("mfa.enrol", _l("动态验证码"))],
    "business": [("certs.index", _l("我的证书"))],
    "admin": [("console.home", _l("管理控制台")), ("forms.index", _l("申请单")),
              ("console.users", _l("账号")), ("console.first_login", _l("首次登录核对"))],
    "sysadmin": [("forms.new", _l("填写申请单")), ("reviews.home", _l("定期核查"))],
    "secadmin": [("reviews.home", _l("定期核查"))],  # executes the revokes; reads the reports
    "auditor": [("audit.index", _l("审计")), ("reviews.home", _l("定期核查"))],
}


def menu() -> list[tuple[str, Any, bool]]:
    """(url, label, current) for the signed-in person's role."""
    if g.get("user") is None or g.user.stage != signin.FULL:
        return []
    keys = ["all", "admin" if g.user.admin else "business"]
    role = current_actor().role if g.user.admin else None
    if role:
        keys.append(role)
    items = [item for key in keys for item in MENU[key]]
    return [(url_for(endpoint), text, request.endpoint == endpoint) for endpoint, text in items]


def init(app: Flask) -> None:
    @app.context_processor
    def navigation() -> dict[str, Any]:
        return {"menu": menu}
