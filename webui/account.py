"""My account and self-service password change (R18), for business users and admins."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from flask import Blueprint, flash, g, redirect, render_template, url_for
from flask_babel import gettext as _

from idm.auth import policy, selfservice, signin
from idm.directory import lookup
from idm.errors import AuthenticationFailed, IdmError, InvalidInput
from idm.identity import accounts, grants
from webui.auth import advance, stages, web
from webui.forms import PasswordForm
from webui.i18n import pick
from webui.security import limiter

bp = Blueprint("account", __name__)


def _profile() -> policy.Profile:
    return policy.PROFILES[web().idm.password_profile]


@bp.route("/")
def home() -> Any:
    """Name, unit, grants (business) or role and scope (admin), status, password expiry: read as
    the person (proxied by the self-service account), so it shows exactly what they may see."""
    settings = web().idm
    service = lookup.service_session(settings.ldap_uri, settings.suffix, settings.secrets_dir,
                                     selfservice.SERVICE)
    with service.act_as(g.user.dn) as session:
        me = accounts.get(session, g.user.dn)
        unit = session.get(me.node_dn, ["idmNameZh", "idmCode"])
        changed = session.get(g.user.dn, ["pwdChangedTime"])
        grant_names = grants.labels(session)
    max_age = policy.PROFILES[settings.password_profile].max_age_days
    expires = None
    if max_age and changed and changed[1].get("pwdChangedTime"):
        when = datetime.strptime(changed[1]["pwdChangedTime"][0], "%Y%m%d%H%M%SZ").replace(tzinfo=UTC)
        expires = (when + timedelta(days=max_age)).strftime("%Y-%m-%d")
    unit_name = unit[1].get("idmNameZh", ["-"])[0] if unit else "-"
    return render_template("account.html", me=me, user=g.user, unit=unit_name, expires=expires,
                           grant_names=grant_names)


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
        except InvalidInput as err:
            for zh, en in [(p.zh, p.en) for p in err.problems] or [(err.zh, err.en)]:
                flash(pick(zh, en), "error")
        except AuthenticationFailed:
            flash(_("当前密码错误"), "error")
        except IdmError as err:
            flash(pick(err.zh, err.en), "error")
        else:
            flash(_("密码已修改"), "success")
            if g.user.stage == signin.CHANGE:
                return advance(signin.password_changed(g.user.progress))
            return redirect(url_for("account.home"))
    return render_template("password.html", form=form, rules=policy.describe(_profile()), profile=_profile(),
                           max_length=policy.MAX_LENGTH, crumbs=[(_("我的账号"), url_for("account.home")),
                                                                 (_("修改密码"), None)])

