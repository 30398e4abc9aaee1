"""My account and self-service password change (R18), for business users and admins."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, flash, g, redirect, render_template, url_for
from flask_babel import gettext as _

from idm.auth import policy, selfservice, signin
from idm.errors import AuthenticationFailed, InvalidInput
from webui import acting
from webui.auth import advance, stages, web
from webui.errors import refused
from webui.forms import PasswordForm
from webui.security import limiter

bp = Blueprint("account", __name__)


def _profile() -> policy.Profile:
    return policy.PROFILES[web().idm.password_profile]


@bp.route("/")
def home() -> Any:
    """Name, unit, grants (business) or role and scope (admin), status, password expiry: read as
    the person (proxied by the self-service account), so it shows exactly what they may see."""
    with acting.own() as session:
        mine = selfservice.overview(session, g.user.dn, _profile().max_age_days)
    return render_template("account.html", me=mine.account, user=g.user, unit=mine.unit, expires=mine.expires,
                           grant_names=mine.grant_names)


@bp.route("/password", methods=["GET", "POST"])
@stages(signin.CHANGE, signin.FULL)
@limiter.limit("10 per minute", key_func=lambda: "password:" + g.user.uid.lower(), methods=["POST"])
def password() -> Any:
    """A forced change (one-time, reset or expired password) after the factor, or a voluntary
    one in a full session: never before the second factor."""
    form = PasswordForm()
    if form.validate_on_submit():
        settings = web().idm
        try:
            selfservice.change_password(settings.ldap_uri, settings.suffix, settings.secrets_dir,
                                        g.user.dn, form.current.data, form.new.data, _profile())
        except (InvalidInput, AuthenticationFailed) as err:  # the policy's reasons, beside the fields
            refused(err)
        else:
            flash(_("密码已修改"), "success")
            if g.user.stage == signin.CHANGE:
                return advance(signin.password_changed(g.user.progress))
            return redirect(url_for("account.home"))
    return render_template("password.html", form=form, rules=policy.describe(_profile()), profile=_profile(),
                           max_length=policy.MAX_LENGTH, crumbs=[(_("我的账号"), url_for("account.home")),
                                                                 (_("修改密码"), None)])

