"""WTForms: shape only (lengths, required). Rules are checked by `idm`."""

from __future__ import annotations

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import PasswordField, StringField
from wtforms.validators import DataRequired, EqualTo, Length


class LoginForm(FlaskForm):  # type: ignore[misc]
    uid = StringField(_l("登录账号"), validators=[DataRequired(message=_l("请输入登录账号")), Length(max=64)])
    password = PasswordField(_l("密码"), validators=[DataRequired(message=_l("请输入密码")), Length(max=128)])


class PasswordForm(FlaskForm):  # type: ignore[misc]
    current = PasswordField(_l("当前密码"), validators=[DataRequired(message=_l("请输入当前密码")),
                                                    Length(max=128, message=_l("密码最多 128 个字符"))])
    new = PasswordField(_l("新密码"), validators=[DataRequired(message=_l("请输入新密码")),
                                               Length(max=128, message=_l("密码最多 128 个字符"))])
    confirm = PasswordField(_l("再次输入新密码"),
                            validators=[DataRequired(), EqualTo("new", message=_l("两次输入的新密码不一致"))])
