"""Commands an admin runs as themself (`--as UID`) to read: users, admins, grants, the first-login
check; and the groups the operations' generated commands join (`idm_cli.operation_cmds`).

The CLI signs the admin in as the web UI does (password, then the second factor's code; or a
session kept by `idm login`) and then acts through the writer as that admin, so slapd's access
rules and its write log see that admin and no one else.
"""

from __future__ import annotations

from pathlib import Path

import click

from idm.auth import policy, selfservice, signin
from idm.directory.session import Session
from idm.filing import forms
from idm.identity import accounts, first_login, grants, legacy
from idm.identity.accounts import Account
from idm.rules.actor import Actor
from idm.validation import ADMIN_ROLE_ZH
from idm_cli.common import Context, friendly, pass_ctx
from idm_cli.signin_cmds import _address, _code, _password, acting


def _print_account(a: Account) -> None:
    status = {"active": "启用 active", "disabled": "停用 disabled"}.get(a.status, a.status)
    click.echo(f"账号 uid:         {a.uid}")
    click.echo(f"DN:               {a.dn}")
    click.echo(f"姓名 name:        {a.name}" + (f"  (岗位 post: {a.post})" if a.post else ""))
    click.echo(f"类型 kind:        {'管理类用户 admin' if a.kind == 'admin' else '业务类用户 business'}"
               + ("  岗位制未转化 legacy" if a.legacy else ""))
    click.echo(f"状态 status:      {status}" + (f"  ({a.status_reason})" if a.status_reason else "")
               + ("  已锁定 locked" if a.locked else "") + ("  须改密 must change" if a.must_change else ""))
    if a.kind == "admin":
        click.echo(f"角色 role:        {ADMIN_ROLE_ZH.get(a.role or '', '未设置 none')} {a.role or ''}")
        click.echo(f"范围 scope:       {a.scope or '-'}")
    else:
        click.echo(f"授权 grants:      {', '.join(a.grants) or '-'}")
    click.echo(f"身份证号 ID:      {a.id_number or a.id_masked or '-'}")
    if a.mobile:
        click.echo(f"手机 mobile:      {a.mobile}")


# ---------------------------------------------------------------- users
@click.group()
def user() -> None:
    """业务类用户 / business users (R4, R9, R15)."""


@user.command("show")
@click.argument("uid")
@acting
def user_show(session: Session, actor: Actor, uid: str) -> None:
    """显示账号（身份证号按职责脱敏）/ show an account (ID number masked unless your duty needs it)."""
    _print_account(accounts.find(session, uid))


@user.command("list")
@click.argument("unit")
@click.option("--search", "text", default=None, help="按账号或姓名查找 / match login or name")
@click.option("--status", type=click.Choice(["active", "disabled"]), default=None)
@acting
def user_list(session: Session, actor: Actor, unit: str, text: str | None, status: str | None) -> None:
    """列出 UNIT 的业务用户 / list the business users of UNIT."""
    for a in accounts.list_accounts(session, unit, "business", text, status):
        id_shown = a.id_number or a.id_masked or "-"
        click.echo(f"{a.uid}\t{a.name}\t{a.status}\t{id_shown}\t{','.join(a.grants)}")


# ---------------------------------------------------------------- admins
@click.group()
def admin() -> None:
    """管理类用户（三员）/ admin accounts (R3-R7)."""


@admin.command("first-login")
@click.option("--report", is_flag=True, help="报告不一致之处 / report what does not match")
@acting
def admin_first_login(session: Session, actor: Actor, report: bool) -> None:
    """首次登录核对：角色与范围对照注册申请单（R13）/ your role and scope next to your form."""
    check = first_login.check(session, accounts.get(session, actor.dn))
    _print_account(check.account)
    if check.form is not None:
        d = check.form.data
        click.echo(f"申请单 form:      {check.form.form_id} "
                   f"({forms.STATUS_ZH.get(check.form.status, check.form.status)})")
        click.echo(f"申请角色 role:    {ADMIN_ROLE_ZH.get(d.role or '', '-')} {d.role or ''}")
        click.echo(f"申请单位 unit:    {d.unit}")
    if not check.mismatches:
        click.echo("一致 / matches")
    elif report:
        click.echo("已报告上级用户管理部门 / reported to the parent department: "
                   + first_login.report_first_login_mismatch(session, check.account))
    else:
        for what, mine, theirs in check.mismatches:
            click.echo(f"不一致 MISMATCH {what}: 账号 {mine} / 申请单 {theirs}")
        click.echo("请用 --report 报告上级用户管理部门 / report it with --report")


@admin.command("list")
@click.argument("unit")
@click.option("--shared", is_flag=True, help="只列出一人多号 / only people holding several accounts (R3)")
@acting
def admin_list(session: Session, actor: Actor, unit: str, shared: bool) -> None:
    """列出 UNIT 的管理员 / list the admin accounts of UNIT."""
    found = accounts.list_accounts(session, unit, "admin")
    if shared:
        for id_number, holders in accounts.shared_holders(found).items():
            listed = ", ".join(f"{a.uid} ({a.role or '-'})" for a in holders)
            click.echo(f"{id_number}: {listed}")
        return
    for a in found:
        click.echo(f"{a.uid}\t{a.name}\t{a.role or '-'}\t{a.status}\t{a.id_number or a.id_masked or '-'}")


# ---------------------------------------------------------------- grants
@click.group("grant")
def grant_group() -> None:
    """业务授权（安全管理员）/ business access (security admin)."""


@grant_group.command("list")
@click.argument("uid", required=False)
@acting
def grant_list(session: Session, actor: Actor, uid: str | None) -> None:
    """列出某用户的授权，或业务系统目录 / a user's grants, or the catalogue."""
    if uid:
        for g in accounts.find(session, uid).grants:
            click.echo(g)
        return
    for app in grants.catalogue(session).values():
        click.echo(f"{app.code} {app.name}: " + ", ".join(f"{k} {v}" for k, v in app.roles.items()))


# ---------------------------------------------------------------- password
@click.group("password")
def password_group() -> None:
    """本人密码 / your own password."""


@password_group.command("change")
@click.option("--as", "as_uid", required=True, help="您的登录账号 / your login")
@click.option("--password-file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--new-password-file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--code", default=None, help="动态验证码（已启用时）/ your second factor's code")
@pass_ctx
@friendly
def password_change(ctx: Context, as_uid: str, password_file: Path | None,
                    new_password_file: Path | None, code: str | None) -> None:
    """修改本人密码（首次登录须修改；已启用动态验证码的须先验证）/ change your own password."""
    settings = ctx.settings()
    old = _password(password_file, "当前密码 / current password")
    progress = signin.authenticate(settings, as_uid, old, _address())
    if progress.stage == signin.FACTOR:  # the factor first, as on the web
        progress = signin.check_factor(settings, progress, _code(code)() or "", _address())
    if new_password_file is not None:
        new = new_password_file.read_text(encoding="utf-8").rstrip("\n")
    else:
        new = str(click.prompt("新密码 / new password", hide_input=True, confirmation_prompt=True))
    profile = policy.PROFILES[settings.password_profile]
    selfservice.change_password(settings.ldap_uri, settings.suffix, settings.secrets_dir, progress.dn,
                                old, new, profile)
    click.echo("密码已修改 / password changed")


# ---------------------------------------------------------------- legacy
@click.group("legacy")
def legacy_group() -> None:
    """岗位制账号的实名制转化 / post-based accounts and their conversion (R9)."""


@legacy_group.command("import")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@pass_ctx
@friendly
def legacy_import(ctx: Context, file: Path) -> None:
    """导入岗位账号（CSV：uid,unit,post；本机运维）/ import post accounts (local operator)."""
    rows = legacy.read(file)
    with ctx.ops_session() as session:
        added, existing = legacy.import_accounts(session, rows)
    click.echo(f"新增 {added}，已存在 {existing} / added {added}, already there {existing}")


@legacy_group.command("report")
@click.argument("unit", required=False)
@pass_ctx
@friendly
def legacy_report(ctx: Context, unit: str | None) -> None:
    """各单位未转化的岗位账号数 / unconverted post accounts per unit (local operator)."""
    with ctx.ops_session() as session:
        rows = legacy.report(session, unit)
    for node, count in rows:
        click.echo(f"{node.code} {node.name}\t{count}")
    click.echo(f"合计 / total: {sum(c for _, c in rows)}")


def register(cli: click.Group) -> None:
    from idm_cli import operation_cmds
    from idm_cli.audit_cmds import audit_group
    from idm_cli.ca_cmds import ca_group, cert_group, service_group
    from idm_cli.compliance_cmds import compliance_group
    from idm_cli.form_cmds import form_group
    from idm_cli.review_cmds import review_group
    from idm_cli.signin_cmds import login, logout, mfa_group
    from idm_cli.web_cmds import web_group

    for command in (user, admin, grant_group, password_group, legacy_group, form_group,
                    audit_group, web_group, ca_group, cert_group, service_group, review_group, login,
                    logout, compliance_group, mfa_group):
        cli.add_command(command)
    operation_cmds.register(cli, {"user": user, "admin": admin, "grant": grant_group, "legacy": legacy_group,
                                  "cert": cert_group, "service": service_group})
