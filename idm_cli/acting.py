"""Commands an admin runs as themself (`--as UID`): users, admins, grants, delegation, legacy.

The CLI binds as the admin with the admin's own password (prompt, --password-file or
IDM_PASSWORD), so slapd's access rules and its write log see that admin and no one else.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

import click

from idm import accounts, delegation, grants, legacy
from idm import actor as actors
from idm.accounts import Account
from idm.actor import Actor
from idm.directory import connection, lookup
from idm.directory.session import Session
from idm.errors import PermissionDenied
from idm.person import Person
from idm.validation import ADMIN_ROLE_ZH, ADMIN_ROLES
from idm_cli.common import Context, friendly, pass_ctx


def _password(password_file: Path | None, prompt: str = "密码 / password") -> str:
    if password_file is not None:
        return password_file.read_text(encoding="utf-8").rstrip("\n")
    if os.environ.get("IDM_PASSWORD"):
        return os.environ["IDM_PASSWORD"]
    return str(click.prompt(prompt, hide_input=True))


def _dn_for(ctx: Context, as_uid: str) -> str:
    settings = ctx.settings()
    if "=" in as_uid:
        return as_uid
    return lookup.account_dn(settings.ldap_uri, settings.suffix, ctx.data_dir / "secrets", as_uid)


def acting(func: Callable[..., Any]) -> Callable[..., Any]:
    """Add --as/--password-file and pass an open (session, actor) to the command."""

    @click.option("--as", "as_uid", required=True, envvar="IDM_AS", help="您的登录账号 / your login (or DN)")
    @click.option("--password-file", type=click.Path(exists=True, dir_okay=False, path_type=Path),
                  help="file holding your password (else IDM_PASSWORD, else a prompt)")
    @pass_ctx
    @friendly
    def wrapper(ctx: Context, as_uid: str, password_file: Path | None, **kwargs: Any) -> Any:
        settings = ctx.settings()
        dn = _dn_for(ctx, as_uid)
        conn, state = connection.bind_with_policy(settings.ldap_uri, dn, _password(password_file))
        if state.must_change:
            conn.unbind_s()
            raise PermissionDenied(
                "密码已被重置，须先修改：idm password change --as " + as_uid,
                "your password was reset and must be changed first: idm password change --as " + as_uid)
        with Session(conn, settings.suffix) as session:
            return func(session, actors.load(session), **kwargs)

    wrapper.__name__ = func.__name__
    wrapper.__doc__ = func.__doc__
    return wrapper


def person_options(func: Callable[..., Any]) -> Callable[..., Any]:
    for opt in reversed([
        click.option("--name", required=True, help="姓名 / name"),
        click.option("--id-number", required=True, help="身份证号 / ID number"),
        click.option("--mobile", required=True, help="手机 / mobile"),
        click.option("--email", default=None, help="电子邮箱 / email"),
        click.option("--office-phone", default=None, help="办公电话 / office phone"),
    ]):
        func = opt(func)
    return func


def _person(kw: dict[str, Any]) -> Person:
    return Person.checked(kw.pop("name"), kw.pop("id_number"), kw.pop("mobile"),
                          kw.pop("email"), kw.pop("office_phone"))


def _show_created(created: accounts.Created) -> None:
    click.echo(f"已创建 / created: {created.uid}  ({created.dn})")
    click.echo("初始密码（仅显示一次，首次登录须修改）/ one-time password (shown once, must change at "
               f"first login): {created.password}")


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


@user.command("create")
@click.argument("unit")
@person_options
@click.option("--uid", default=None, help="登录账号（默认为姓名拼音）/ login (default: pinyin of the name)")
@click.option("--form", default=None, help="申请单编号 / form reference")
@acting
def user_create(session: Session, actor: Actor, unit: str, uid: str | None, form: str | None,
                **kw: Any) -> None:
    """在 UNIT 创建业务用户（系统管理员）/ create a business user at UNIT (system admin)."""
    _show_created(accounts.create_business_user(session, actor, unit, _person(kw), uid, form))


StatusChange = Callable[[Session, Actor, Account, str, str | None], Any]


def _status_command(name: str, doc: str, run: StatusChange) -> None:
    @user.command(name)
    @click.argument("uid")
    @click.option("--reason", default="", help="原因 / reason")
    @click.option("--form", default=None, help="申请单编号 / form reference")
    @acting
    def command(session: Session, actor: Actor, uid: str, reason: str, form: str | None) -> None:
        run(session, actor, accounts.find(session, uid), reason, form)
        click.echo(f"完成 / done: {name} {uid}")

    command.__doc__ = doc


_status_command("disable", "停用账号（不删除）/ disable an account (never deleted).",
                lambda s, a, acc, reason, form: accounts.disable(s, a, acc, reason, form))
_status_command("restore", "恢复已停用的账号 / restore a disabled account.",
                lambda s, a, acc, reason, form: accounts.restore(s, a, acc, reason, form))


@user.command("unlock")
@click.argument("uid")
@click.option("--form", default=None)
@acting
def user_unlock(session: Session, actor: Actor, uid: str, form: str | None) -> None:
    """解除因密码错误导致的锁定 / lift a lockout after failed logins."""
    done = accounts.unlock(session, actor, accounts.find(session, uid), form)
    click.echo("已解锁 / unlocked" if done else "账号未被锁定 / the account was not locked")


@user.command("reset-password")
@click.argument("uid")
@click.option("--form", default=None)
@acting
def user_reset(session: Session, actor: Actor, uid: str, form: str | None) -> None:
    """重置为一次性密码 / reset to a one-time password (must change at next login)."""
    password = accounts.reset_password(session, actor, accounts.find(session, uid), form)
    click.echo(f"一次性密码（仅显示一次）/ one-time password (shown once): {password}")


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


@admin.command("create")
@click.argument("unit")
@person_options
@click.option("--uid", default=None)
@click.option("--form", default=None)
@acting
def admin_create(session: Session, actor: Actor, unit: str, uid: str | None, form: str | None,
                 **kw: Any) -> None:
    """为下一级单位 UNIT 创建管理员账号（不含角色）/ create an admin account at the next-level UNIT."""
    _show_created(accounts.create_admin(session, actor, unit, _person(kw), uid, form))


@admin.command("set-role")
@click.argument("uid")
@click.argument("role", type=click.Choice(ADMIN_ROLES))
@click.option("--form", default=None)
@acting
def admin_set_role(session: Session, actor: Actor, uid: str, role: str, form: str | None) -> None:
    """授权角色和组织范围（安全管理员）/ set a next-level admin's role and scope (security admin)."""
    accounts.set_role(session, actor, accounts.find(session, uid), role, form)
    click.echo(f"已设置 / set: {uid} -> {ADMIN_ROLE_ZH[role]} ({role})")


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


@grant_group.command("add")
@click.argument("uid")
@click.argument("grant")
@click.option("--form", default=None)
@acting
def grant_add(session: Session, actor: Actor, uid: str, grant: str, form: str | None) -> None:
    """授权 GRANT（系统#角色，如 teacher#viewer）/ grant GRANT (app#role)."""
    grants.add(session, actor, accounts.find(session, uid), grant, form)
    click.echo(f"已授权 / granted: {uid} {grant}")


@grant_group.command("remove")
@click.argument("uid")
@click.argument("grant")
@click.option("--form", default=None)
@acting
def grant_remove(session: Session, actor: Actor, uid: str, grant: str, form: str | None) -> None:
    """撤销授权 / revoke a grant."""
    grants.remove(session, actor, accounts.find(session, uid), grant, form)
    click.echo(f"已撤销 / revoked: {uid} {grant}")


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


# ---------------------------------------------------------------- delegation, password
@click.command("delegate")
@click.argument("school")
@click.option("--undo", is_flag=True, help="撤销委托 / end the delegation")
@click.option("--form", default=None)
@acting
def delegate(session: Session, actor: Actor, school: str, undo: bool, form: str | None) -> None:
    """学校委托上级管理（上级安全管理员，R2）/ delegate a school to its parent (R2)."""
    changed = delegation.set_delegated(session, actor, school, not undo, form)
    state = "已撤销委托 / delegation ended" if undo else "已委托上级管理 / delegated to its parent"
    click.echo(state if changed else "未改变 / unchanged")


@click.group("password")
def password_group() -> None:
    """本人密码 / your own password."""


@password_group.command("change")
@click.option("--as", "as_uid", required=True, help="您的登录账号 / your login (or DN)")
@click.option("--password-file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--new-password-file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@pass_ctx
@friendly
def password_change(ctx: Context, as_uid: str, password_file: Path | None,
                    new_password_file: Path | None) -> None:
    """修改本人密码（首次登录须修改）/ change your own password (required after a reset)."""
    settings = ctx.settings()
    dn = _dn_for(ctx, as_uid)
    old = _password(password_file, "当前密码 / current password")
    if new_password_file is not None:
        new = new_password_file.read_text(encoding="utf-8").rstrip("\n")
    else:
        new = str(click.prompt("新密码 / new password", hide_input=True, confirmation_prompt=True))
    conn, _ = connection.bind_with_policy(settings.ldap_uri, dn, old)
    with Session(conn, settings.suffix) as session:
        session.change_own_password(dn, old, new)
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


@legacy_group.command("convert")
@click.argument("uid")
@person_options
@click.option("--form", default=None)
@acting
def legacy_convert(session: Session, actor: Actor, uid: str, form: str | None, **kw: Any) -> None:
    """把岗位账号绑定到实名人员（系统管理员）/ bind a verified person to a post account."""
    password = legacy.convert(session, actor, accounts.find(session, uid), _person(kw), form)
    click.echo(f"已转化 / converted: {uid}\n一次性密码（仅显示一次）/ one-time password (shown once): "
               f"{password}")


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
    for command in (user, admin, grant_group, delegate, password_group, legacy_group):
        cli.add_command(command)
