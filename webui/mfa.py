"""The second factor: a code at sign-in, and enrolment with a QR code (mandatory for admins
under the mlps3 profile, optional for business users)."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, flash, g, redirect, render_template, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import StringField
from wtforms.validators import DataRequired, Length, Regexp

from idm import totp
from idm.directory import lookup
from idm.errors import InvalidInput
from webui.auth import finish, signed_in_or_midway, store, web
from webui.i18n import pick

bp = Blueprint("mfa", __name__, url_prefix="/mfa")


class CodeForm(FlaskForm):  # type: ignore[misc]
    code = StringField(_l("动态验证码"), validators=[DataRequired(), Length(min=6, max=6),
                                                   Regexp(r"^[0-9]{6}$", message=_l("验证码为 6 位数字"))])


def _service():  # type: ignore[no-untyped-def]
    settings = web().idm
    return lookup.service_session(settings.ldap_uri, settings.suffix, settings.secrets_dir)


@bp.route("/", methods=["GET", "POST"])
@signed_in_or_midway
def check() -> Any:
    if g.user.stage == "full":
        return redirect(url_for("account.home"))
    form = CodeForm()
    if form.validate_on_submit():
        with _service() as service:
            ok = totp.verify(service, g.user.dn, form.code.data)
        if ok:
            finish()
            return redirect(url_for("account.home"))
        flash(_("验证码不正确或已使用"), "error")
    return render_template("mfa.html", form=form)


@bp.route("/enrol", methods=["GET", "POST"])
@signed_in_or_midway
def enrol() -> Any:
    if g.user.stage != "full":
        with _service() as service:
            if totp.enrolled(service, g.user.dn):  # a second factor is proven, not replaced
                return redirect(url_for("mfa.check"))
    form = CodeForm()
    pending = store().pending(g.user.sid)
    if form.validate_on_submit() and pending:
        enrolment = totp.Enrolment(pending, "")
        try:
            with _service() as service:
                totp.confirm(service, g.user.dn, enrolment, form.code.data)
        except InvalidInput as err:
            flash(pick(err.zh, err.en), "error")
        else:
            store().set_pending(g.user.sid, None)
            flash(_("动态验证码已启用"), "success")
            if g.user.stage != "full":
                finish()
            return redirect(url_for("account.home"))
    if not pending or not form.is_submitted():
        pending = totp.begin(g.user.uid).secret
        store().set_pending(g.user.sid, pending)
    enrolment = totp.Enrolment(pending, totp.begin_uri(pending, g.user.uid))
    return render_template("enrol.html", form=form, qr=enrolment.qr_svg_data_uri(), secret=pending)
