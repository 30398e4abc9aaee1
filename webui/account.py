"""My account and self-service password change (R18), for business users and admins."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, flash, g, render_template
from flask_babel import gettext as _

from idm import policy, selfservice
from idm.directory import lookup
from idm.errors import AuthenticationFailed, IdmError, InvalidInput
from webui.auth import login_required, next_step, signed_in_or_midway, web
from webui.forms import PasswordForm
from webui.i18n import pick

bp = Blueprint("account", __name__)


def _profile() -> policy.Profile:
    return policy.PROFILES[web().idm.password_profile]


@bp.route("/")
@login_required
def home() -> Any:
    settings = web().idm
    with lookup.service_session(settings.ldap_uri, settings.suffix, settings.secrets_dir) as service:
        entry = service.get(g.user.dn, ["uid", "idmStatus", "objectClass"])
    return render_template("account.html", entry=entry[1] if entry else {}, user=g.user)


@bp.route("/password", methods=["GET", "POST"])
@signed_in_or_midway
def password() -> Any:
    form = PasswordForm()
    if form.validate_on_submit():
        settings = web().idm
        try:
            selfservice.change_password(settings.ldap_uri, settings.suffix, settings.secrets_dir,
                                        g.user.dn, form.current.data, form.new.data, _profile())
        except InvalidInput as err:
            for problem in err.problems or [err]:
                flash(pick(problem.zh, problem.en), "error")
        except AuthenticationFailed:
            flash(_("当前密码错误"), "error")
        except IdmError as err:
            flash(pick(err.zh, err.en), "error")
        else:
            flash(_("密码已修改"), "success")
            return next_step()
    return render_template("password.html", form=form, rules=policy.describe(_profile()))

