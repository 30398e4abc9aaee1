"""The second factor: a code at sign-in, and enrolment with a QR code (mandatory for admins
under the mlps3 profile, optional for business users). A factor, once enrolled, is proven at
every sign-in and replaced only with the password and its current code."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, flash, g, redirect, render_template, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import PasswordField, StringField
from wtforms.validators import DataRequired, Length, Regexp

from idm.auth import signin, totp
from idm.errors import AuthenticationFailed, InvalidInput
from webui import acting
from webui.auth import advance, stages, store, web
from webui.errors import refused
from webui.security import client_address, limiter

bp = Blueprint("mfa", __name__, url_prefix="/mfa")
SIX_DIGITS = [DataRequired(message=_l("请输入验证码")), Length(min=6, max=6, message=_l("验证码为 6 位数字")),
              Regexp(r"^[0-9]{6}$", message=_l("验证码为 6 位数字"))]


class CodeForm(FlaskForm):  # type: ignore[misc]
    code = StringField(_l("动态验证码"), validators=SIX_DIGITS)


class ReplaceForm(FlaskForm):  # type: ignore[misc]
    """Replacing an enrolled factor: the password and the old app's code, then the new one's."""

    password = PasswordField(_l("当前密码"), validators=[DataRequired(), Length(max=128)])
    current = StringField(_l("原验证器当前的验证码"), validators=SIX_DIGITS)
    code = StringField(_l("新验证器显示的验证码"), validators=SIX_DIGITS)


def account_of_session() -> str:
    """Codes are limited per account (and counted on it in the directory as well)."""
    return "factor:" + (g.user.uid.lower() if g.user is not None else "-")


@bp.route("/", methods=["GET", "POST"])
@stages(signin.FACTOR)
@limiter.limit("10 per minute", key_func=account_of_session, methods=["POST"])
def check() -> Any:
    form = CodeForm()
    if form.validate_on_submit():
        try:
            return advance(signin.check_factor(web().idm, g.user.progress, form.code.data, client_address()))
        except AuthenticationFailed as err:
            refused(err)
    return render_template("mfa.html", form=form)


def _pending() -> str:
    """The secret being enrolled, kept on the server between showing it and confirming it."""
    pending = store().pending(g.user.sid)
    if not pending:
        pending = totp.begin(g.user.uid).secret
        store().set_pending(g.user.sid, pending)
    return pending


@bp.route("/enrol", methods=["GET", "POST"])
@stages(signin.ENROL, signin.FULL)
@limiter.limit("10 per minute", key_func=account_of_session, methods=["POST"])
def enrol() -> Any:
    with acting.lookup() as service:
        replacing = totp.enrolled(service, g.user.dn)
    form = ReplaceForm() if replacing else CodeForm()
    pending = _pending()
    if form.validate_on_submit():
        try:
            if replacing:  # prove the password and the factor being replaced, first
                signin.authenticate(web().idm, g.user.uid, form.password.data, client_address())
                signin.check_factor(web().idm, g.user.progress, form.current.data, client_address())
            with acting.lookup() as service:
                totp.confirm(service, g.user.dn, totp.Enrolment(pending, ""), form.code.data)
        except (InvalidInput, AuthenticationFailed) as err:
            refused(err)
        else:
            store().set_pending(g.user.sid, None)
            flash(_("动态验证码已启用"), "success")
            if g.user.stage != signin.FULL:
                return advance(signin.factor_enrolled(g.user.progress))
            return redirect(url_for("account.home"))
    enrolment = totp.Enrolment(pending, totp.begin_uri(pending, g.user.uid))
    groups = " ".join(pending[i:i + 4] for i in range(0, len(pending), 4))
    return render_template("enrol.html", form=form, qr=enrolment.qr_svg_data_uri(), secret=pending,
                           secret_groups=groups, replacing=replacing)
