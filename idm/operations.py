"""Every admin operation, declared once: its name, its words in Chinese and English, the
permission row it needs and where that row is checked, the form kind it rests on, what it acts
on, the account state it needs, the CLI command it is, and the function that performs it.

`idm.pipeline.run` carries out any of them the same way (sign-in state, the form, the
permission pre-check, the write as the admin through the writer, the step recorded on the
form). The CLI's commands (`idm_cli.operation_cmds`), the console's actions and their
confirmations, the change types of the change form and the operations table of
docs/permissions.md are generated from here; the form kinds (`idm.filing.kinds`) say which of
these a received form allows.

The functions are named, not imported, so that this table can be read from anywhere without
an import circle.
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
    permission: str  # the row of idm.rules.permissions.OPERATIONS it needs
    form_kind: str  # the kind of form it rests on
    on: str  # "account" (an existing one), "new" (what the form asks to create), "unit"
    where: str  # where the permission is checked: "account", "unit", or a container of the unit
    cli: tuple[str, ...]  # its commands, "group command" ("" group: a top-level command)
    function: str  # "module:function", called with an `idm.pipeline.Step`
    step: str  # the step it records on its form ("+"/"-" and the value for grants)
    accounts: tuple[str, ...] = ()  # kinds of account it applies to: "business", "admin"
    change_type: str | None = None  # for change forms: the change type that asks for it
    state: str | None = None  # the account's state it needs: "active", "disabled", "locked", "legacy"
    value: str | None = None  # what its VALUE is: a grant the form lists to add or to revoke
    inputs: tuple[str, ...] = ()  # more a transport passes: "login", "csr", "pkcs12", "to",
    # "algorithm" (which CA), "p12_cipher" (SM4 or AES-256)
    confirm_zh: str = ""  # what the confirmation says will happen
    confirm_en: str = ""
    shows_password: bool = False  # hands over a one-time password or secret
    in_console: bool = True  # offered on the form's page
    arrives: bool = False  # the account comes to the form's unit (调入): the form names where from

    def implementation(self) -> Callable[..., Any]:
        module, _, name = self.function.partition(":")
        fn: Callable[..., Any] = getattr(importlib.import_module(module), name)
        return fn

    def label(self, lang: str = "zh") -> str:
        return self.zh if lang == "zh" else self.en

    def step_key(self, value: str | None) -> str:
        return f"{self.step}{value}" if self.value else self.step


ACCOUNT_KINDS = ("business", "admin")
CHANGES = "idm.identity.changes"
TRANSFERS = "idm.identity.transfers"
ARRIVAL_ZH = ("账号连同密码、动态验证码、身份证号和全部记录调入本单位；原单位的业务授权、管理员角色随之撤销，"
              "由本单位按申请单重新授予。")
ARRIVAL_EN = ("The account moves here with its password, second factor, ID number and whole history; the "
              "old unit's grants or admin role end, and this unit grants afresh on its forms.")
ALL: tuple[Operation, ...] = (
    Operation("disable", "停用", "disable", "change_status", "change", "account", "account", ("user disable",),
              f"{CHANGES}:disable", "change", ACCOUNT_KINDS, change_type="disable", state="active",
              confirm_zh="停用后该账号立即不能登录，下游系统不再可见，已签发的证书同时吊销；资料保留（不删除）。",
              confirm_en="Once disabled the account cannot sign in, downstream systems no longer see it and "
                         "its certificates are revoked; its data stays (nothing is deleted)."),
    Operation("restore", "恢复", "restore", "change_status", "change", "account", "account", ("user restore",),
              f"{CHANGES}:restore", "change", ACCOUNT_KINDS, change_type="restore", state="disabled",
              confirm_zh="恢复后该账号可以重新登录（旧证书不会恢复）。",
              confirm_en="Once restored the account can sign in again (old certificates stay revoked)."),
    Operation("unlock", "账号解锁", "unlock", "change_status", "change", "account", "account", ("user unlock",),
              f"{CHANGES}:unlock", "change", ACCOUNT_KINDS, change_type="unlock", state="locked",
              confirm_zh="解除因多次输错密码造成的锁定。", confirm_en="Lift the lockout after repeated wrong passwords."),
    Operation("reset-password", "密码重置", "reset password", "reset_password", "change", "account", "account",
              ("user reset-password",), f"{CHANGES}:reset_password", "change", ACCOUNT_KINDS, change_type="reset",
              state="active", confirm_zh="生成一次性密码，仅显示一次；本人首次登录须修改。",
              confirm_en="A one-time password, shown once; the owner must change it at the next sign-in.",
              shows_password=True),
    Operation("reset-factor", "动态验证码重置", "second factor reset", "reset_factor", "change", "account", "account",
              ("user reset-factor",), f"{CHANGES}:reset_factor", "change", ACCOUNT_KINDS, change_type="factor",
              state="active", confirm_zh="删除丢失的动态验证码（不读取），本人下次登录重新启用。",
              confirm_en="Remove the lost second factor (never read); the owner enrols anew at the next sign-in."),
    Operation("update", "信息变更", "information change", "change_info", "change", "account", "account",
              ("user update",), f"{CHANGES}:change_info", "change", ACCOUNT_KINDS, change_type="info", state="active",
              confirm_zh="按申请单写入变更后的姓名或联系方式（变更前须与目录一致）。",
              confirm_en="Write the name or contact data after the change (the 'before' must match)."),
    Operation("release", "调出", "release to another unit", "release", "change", "account", "account",
              ("user release", "admin release"), f"{TRANSFERS}:release", "change", ACCOUNT_KINDS,
              change_type="release", state="active",
              confirm_zh="同意该账号调往申请单所列单位，由对方单位办理调入；已签发的证书随即吊销。调入前账号照常使用。",
              confirm_en="Agree that the account moves to the unit the form names, which then accepts it; its "
                         "certificates are revoked now. Until then the account works as before."),
    Operation("transfer-user", "调入业务用户", "accept a transferred user", "transfer_in", "registration",
              "account", "people", ("user transfer",), f"{TRANSFERS}:accept", "transfer", ("business",),
              state="active", inputs=("to",), arrives=True, confirm_zh=ARRIVAL_ZH, confirm_en=ARRIVAL_EN),
    Operation("transfer-admin", "调入管理员账号", "accept a transferred admin account", "transfer_in",
              "registration", "account", "admins", ("admin transfer",), f"{TRANSFERS}:accept", "transfer",
              ("admin",), state="active", inputs=("to",), arrives=True, confirm_zh=ARRIVAL_ZH,
              confirm_en=ARRIVAL_EN),
    Operation("create-user", "按申请单创建业务用户", "create the business user", "create_person", "registration",
              "new", "people", ("user create",), "idm.identity.registration:create_user", "create",
              inputs=("login",), confirm_zh="按注册申请单创建业务用户，生成一次性密码（仅显示一次）。",
              confirm_en="Create the business user the registration form asks for, with a one-time password "
                         "(shown once).", shows_password=True),
    Operation("create-admin", "按申请单创建管理员账号", "create the admin account", "create_admin", "registration",
              "new", "admins", ("admin create",), "idm.identity.registration:create_admin", "create",
              inputs=("login",), confirm_zh="按注册申请单创建下一级管理员账号（不含角色），生成一次性密码（仅显示一次）。",
              confirm_en="Create the next level's admin account the registration form asks for (no role yet), "
                         "with a one-time password (shown once).", shows_password=True),
    Operation("set-role", "授予角色和范围", "set role and scope", "set_role", "registration", "account", "account",
              ("admin set-role",), "idm.identity.registration:set_role", "role", ("admin",), state="active",
              confirm_zh="授予申请单所列的管理员角色，管理范围为其本单位。",
              confirm_en="Give the admin role the form names, with its own unit as scope."),
    Operation("grant", "授权", "grant", "grant", "grant", "account", "account", ("grant add",),
              "idm.identity.grants:grant", "+", ("business",), state="active", value="grants_add",
              confirm_zh="授予业务系统角色。", confirm_en="Grant the business role."),
    Operation("revoke", "撤销授权", "revoke", "grant", "grant", "account", "account", ("grant remove",),
              "idm.identity.grants:revoke", "-", ("business",), value="grants_remove",
              confirm_zh="撤销业务系统角色。", confirm_en="Revoke the business role."),
    Operation("apply-cert", "申请证书", "apply for a certificate", "apply_cert", "cert", "account", "certs",
              ("cert apply",), "idm.pki.certs:apply", "apply", ("business",), state="active",
              inputs=("algorithm",), confirm_zh="为该用户申请教育 CA 证书，由本人登录后领取。",
              confirm_en="Apply for an education CA certificate, which the user then takes."),
    Operation("issue-cert", "签发证书", "issue a certificate", "apply_cert", "cert", "account", "certs",
              ("cert issue",), "idm.pki.certs:issue", "apply", ("business",), state="active",
              inputs=("csr", "pkcs12", "algorithm", "p12_cipher"), in_console=False,
              confirm_zh="按证书申请单立即签发：由用户的证书请求，或生成私钥交付 PKCS#12。",
              confirm_en="Issue at once on the application: from the user's CSR, or a key handed over as "
                         "PKCS#12."),
    Operation("convert", "实名制转化", "convert to real-name", "change_info", "registration", "account", "account",
              ("legacy convert",), "idm.identity.legacy:convert", "convert", ("business",), state="legacy",
              confirm_zh="把岗位账号绑定到申请单上的实名人员，生成一次性密码。",
              confirm_en="Bind the post account to the form's verified person, with a one-time password.",
              shows_password=True),
    Operation("create-service", "创建下游系统服务账号", "create the service account", "create_service", "service",
              "unit", "services", ("service create",), "idm.identity.services:create", "create",
              confirm_zh="创建下游系统服务账号，密钥仅显示一次。",
              confirm_en="Create the downstream system's service account; its secret is shown once.",
              shows_password=True),
    Operation("delegate", "委托或撤销委托", "delegate or end it", "delegate", "delegation", "unit", "unit",
              ("delegate",), "idm.tree.delegation:delegate", "delegate",
              confirm_zh="按申请单由上级用户管理部门管理该学校，或撤销委托。",
              confirm_en="Have the parent's department manage the school, or end that, as the form says."),
)
BY_NAME = {op.name: op for op in ALL}


def get(name: str) -> Operation:
    return BY_NAME[name]


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
