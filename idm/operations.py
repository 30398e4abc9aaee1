"""Every admin operation, declared once: its name, its words in Chinese and English, the
permission row it needs, the form it rests on, what it acts on, in which state of an account it
makes sense, and the function that performs it. The CLI's commands, the console's actions and
their confirmations, the change types of the change form and the docs are generated from here.

The functions are named, not imported, so that the form vocabulary can be read from here
without a cycle (`form_fields` takes its change types from this table).
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class Operation:
    name: str  # URL slug and CLI command
    zh: str
    en: str
    permission: str  # the row of permissions.OPERATIONS it needs
    form_kind: str  # the kind of form it rests on
    on: str  # "account", "form" (creates from the form), "unit"
    accounts: tuple[str, ...] = ()  # kinds of account it applies to: "business", "admin"
    change_type: str | None = None  # for change forms: the change type that asks for it
    state: str | None = None  # the account's state it needs: "active", "disabled", "locked", "legacy"
    function: str = ""  # "module:function", called (session, actor, form_id, account[, ...])
    confirm_zh: str = ""  # what the confirmation says will happen
    confirm_en: str = ""
    shows_password: bool = False  # hands over a one-time password

    def run(self, *args: Any, **kwargs: Any) -> Any:
        module, _, name = self.function.partition(":")
        fn: Callable[..., Any] = getattr(importlib.import_module(module), name)
        return fn(*args, **kwargs)

    def label(self, lang: str = "zh") -> str:
        return self.zh if lang == "zh" else self.en


ACCOUNT_KINDS = ("business", "admin")
ALL: tuple[Operation, ...] = (
    Operation("disable", "停用", "disable", "change_status", "change", "account", ACCOUNT_KINDS,
              change_type="disable", state="active", function="idm.identity.formal:disable",
              confirm_zh="停用后该账号立即不能登录，下游系统不再可见，已签发的证书同时吊销；资料保留（不删除）。",
              confirm_en="Once disabled the account cannot sign in, downstream systems no longer see it and "
                         "its certificates are revoked; its data stays (nothing is deleted)."),
    Operation("restore", "恢复", "restore", "change_status", "change", "account", ACCOUNT_KINDS,
              change_type="restore", state="disabled", function="idm.identity.formal:restore",
              confirm_zh="恢复后该账号可以重新登录（旧证书不会恢复）。",
              confirm_en="Once restored the account can sign in again (old certificates stay revoked)."),
    Operation("unlock", "账号解锁", "unlock", "change_status", "change", "account", ACCOUNT_KINDS,
              change_type="unlock", state="locked", function="idm.identity.formal:unlock",
              confirm_zh="解除因多次输错密码造成的锁定。", confirm_en="Lift the lockout after repeated wrong passwords."),
    Operation("reset-password", "密码重置", "reset password", "reset_password", "change", "account",
              ACCOUNT_KINDS, change_type="reset", state="active", function="idm.identity.formal:reset_password",
              confirm_zh="生成一次性密码，仅显示一次；本人首次登录须修改。",
              confirm_en="A one-time password, shown once; the owner must change it at the next sign-in.",
              shows_password=True),
    Operation("reset-factor", "动态验证码重置", "second factor reset", "reset_factor", "change", "account",
              ACCOUNT_KINDS, change_type="factor", state="active", function="idm.identity.formal:reset_factor",
              confirm_zh="删除丢失的动态验证码（不读取），本人下次登录重新启用。",
              confirm_en="Remove the lost second factor (never read); the owner enrols anew at the next sign-in."),
    Operation("update", "信息变更", "information change", "change_info", "change", "account", ACCOUNT_KINDS,
              change_type="info", state="active", function="idm.identity.formal:change_info",
              confirm_zh="按申请单写入变更后的姓名或联系方式（变更前须与目录一致）。",
              confirm_en="Write the name or contact data after the change (the 'before' must match)."),
    Operation("create", "按申请单创建账号", "create the account", "create_person", "registration", "form",
              function="idm.identity.formal:create_from_form",
              confirm_zh="按注册申请单创建账号，生成一次性密码（仅显示一次）。",
              confirm_en="Create the account the registration form asks for, with a one-time password "
                         "(shown once).", shows_password=True),
    Operation("set-role", "授予角色和范围", "set role and scope", "set_role", "registration", "account",
              ("admin",), state="active", function="idm.identity.formal:set_role_from_form",
              confirm_zh="授予申请单所列的管理员角色，管理范围为其本单位。",
              confirm_en="Give the admin role the form names, with its own unit as scope."),
    Operation("grant", "授权", "grant", "grant", "grant", "account", ("business",), state="active",
              function="idm.identity.grants:add_on_form", confirm_zh="授予业务系统角色。", confirm_en="Grant the business role."),
    Operation("revoke", "撤销授权", "revoke", "grant", "grant", "account", ("business",),
              function="idm.identity.grants:remove_on_form", confirm_zh="撤销业务系统角色。", confirm_en="Revoke the business role."),
    Operation("apply-cert", "申请证书", "apply for a certificate", "apply_cert", "cert", "account", ("business",),
              state="active", function="idm.pki.certs:apply_on_form",
              confirm_zh="为该用户申请教育 CA 证书，由本人登录后领取。",
              confirm_en="Apply for an education CA certificate, which the user then takes."),
    Operation("convert", "实名制转化", "convert to real-name", "change_info", "registration", "account",
              ("business",), state="legacy", function="idm.identity.legacy:convert_on_form",
              confirm_zh="把岗位账号绑定到申请单上的实名人员，生成一次性密码。",
              confirm_en="Bind the post account to the form's verified person, with a one-time password.",
              shows_password=True),
    Operation("create-service", "创建下游系统服务账号", "create the service account", "create_service", "service",
              "unit", function="idm.identity.services:create_from_form",
              confirm_zh="创建下游系统服务账号，密钥仅显示一次。",
              confirm_en="Create the downstream system's service account; its secret is shown once.",
              shows_password=True),
    Operation("delegate", "委托或撤销委托", "delegate or end it", "delegate", "delegation", "unit",
              function="idm.tree.delegation:from_form",
              confirm_zh="按申请单由上级用户管理部门管理该学校，或撤销委托。",
              confirm_en="Have the parent's department manage the school, or end that, as the form says."),
)
BY_NAME = {op.name: op for op in ALL}


def change_types() -> dict[str, str]:
    """The change form's change types, each the Chinese word of the operation it asks for."""
    return {op.change_type: op.zh for op in ALL if op.change_type}


def by_change_type(change_type: str) -> Operation:
    return next(op for op in ALL if op.change_type == change_type)


@dataclass(frozen=True)
class Pending:
    """An operation a received form allows: on which account (by login), with which value."""

    operation: Operation
    account_uid: str | None = None
    value: str | None = None  # the grant to add or revoke


def pending(form: Any) -> list[Pending]:
    """What a received form still allows, in the order the form asks for it. (Whether the
    reader may do it is the permission table's business: see `actor.may`.)"""
    if form.status != "received":
        return []
    d, steps = form.data, form.steps
    if d.kind == "registration":
        if d.account_uid and d.role is None:
            return [Pending(BY_NAME["convert"], d.account_uid)]
        if "create" not in steps:
            return [Pending(BY_NAME["create"])]
        if d.role and "role" not in steps:
            uid = steps["create"]["target"].split(",")[0].split("=", 1)[1]
            return [Pending(BY_NAME["set-role"], uid)]
        return []
    if d.kind == "change" and d.change_type:
        return [Pending(by_change_type(d.change_type), d.account_uid)]
    if d.kind == "grant":
        return [*(Pending(BY_NAME["grant"], d.account_uid, g) for g in d.grants_add if f"+{g}" not in steps),
                *(Pending(BY_NAME["revoke"], d.account_uid, g) for g in d.grants_remove if f"-{g}" not in steps)]
    if d.kind == "cert":
        return [Pending(BY_NAME["apply-cert"], d.account_uid)]
    if d.kind == "service":
        return [Pending(BY_NAME["create-service"])]
    if d.kind == "delegation":
        return [Pending(BY_NAME["delegate"])]
    return []
