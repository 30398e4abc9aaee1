"""One place that turns errors into pages: HTTP errors (400 CSRF, 403, 404, 405, 413, 429 with
Retry-After, 500) inside the layout in the page's language, and the toolkit's public errors:
a refusal of a submitted form goes back to that page with the message; a refusal of a page is a
page of its own. Nothing else in the web UI catches them, but for the four forms that show a
refusal beside what was typed (sign-in, the code, the new password, a form filled in online):
they catch only that refusal and show it with `refused`."""

from __future__ import annotations

import logging
from typing import Any
from urllib.parse import urlparse

from flask import Flask, current_app, flash, redirect, render_template, request, url_for
from flask_babel import lazy_gettext as _l
from werkzeug.exceptions import HTTPException

from idm.errors import DirectoryUnavailable, IdmError, NotFound, PermissionDenied
from webui.i18n import pick

log = logging.getLogger("idm.webui")
WORDS = {
    400: (_l("请求无效"), _l("页面已过期或请求不完整（例如表单在很久以前打开），请返回重试。")),
    403: (_l("无权访问"), _l("您的账号不能打开此页面。")),
    404: (_l("找不到页面"), _l("地址有误，或要找的内容不在您的管理范围内。")),
    405: (_l("请求方式不对"), _l("请从页面上的按钮进入。")),
    413: (_l("文件太大"), _l("上传的文件超过 4 MiB（扫描件最大 2 MiB）。")),
    429: (_l("请求过于频繁"), _l("请稍后再试。")),
    500: (_l("系统内部错误"), _l("已记录，请稍后再试；如持续出现，请联系运维人员。")),
    503: (_l("目录服务暂不可用"), _l("请稍后再试。")),
}


def page(status: int, detail: str | None = None) -> Any:
    title, text = WORDS.get(status, WORDS[500])
    response = render_template("error.html", status=status, title=title, text=detail or text)
    return response, status


def _same_site_referrer() -> str | None:
    ref = request.referrer
    if ref and urlparse(ref).netloc in ("", request.host):
        return ref
    return None


def refused(err: IdmError) -> None:
    """A refusal shown on the page: each problem of an input on its own line, else the error."""
    for zh, en in [(p.zh, p.en) for p in err.problems] or [(err.zh, err.en)]:
        flash(pick(zh, en), "error")


def _back() -> str:
    """Where a refused submission returns: the page it came from, else the same address when it
    is a page, else the account page."""
    if _same_site_referrer():
        return str(_same_site_referrer())
    rule = request.url_rule
    return request.path if rule is not None and "GET" in (rule.methods or ()) else url_for("account.home")


def toolkit_error(err: IdmError) -> Any:
    """The one boundary of public errors. What is not there is a 404 page, whatever asked; a
    refused submission goes back to the page it came from with the reasons (each problem of an
    input on its own line); a refused page is a page of its own, with the error's own words."""
    if request.method == "POST" and not isinstance(err, DirectoryUnavailable | NotFound):
        refused(err)
        return redirect(_back())
    status = 404 if isinstance(err, NotFound) else 403 if isinstance(err, PermissionDenied) else \
        503 if isinstance(err, DirectoryUnavailable) else 400
    return page(status, pick(err.zh, err.en))


def http_error(err: HTTPException) -> Any:
    response, status = page(err.code or 500)
    if status == 429:
        retry = getattr(err, "retry_after", None) or 60
        return response, status, {"Retry-After": str(int(retry))}
    return response, status


def internal_error(err: Exception) -> Any:
    if current_app.testing:  # a test sees the bug itself, not a polite page
        raise err
    log.exception("internal error", exc_info=err)
    return page(500)


def init(app: Flask) -> None:
    app.register_error_handler(IdmError, toolkit_error)
    app.register_error_handler(HTTPException, http_error)
    app.register_error_handler(Exception, internal_error)
