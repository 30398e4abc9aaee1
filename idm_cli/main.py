"""`idm` command line. Thin: parse options, call `idm`, print the result or the error.

Errors print in Chinese and English, never as a traceback (set IDM_DEBUG=1 to see one).
"""

from __future__ import annotations

import sys
from pathlib import Path

import click

from idm import __version__, config
from idm.ops import bootstrap, embedded, site
from idm.tree import org
from idm.validation import LEVEL_ZH
from idm_cli import acting, cluster_cmds, load_cmds
from idm_cli.common import Context, friendly, pass_ctx


@click.group()
@click.version_option(__version__)
@click.option("--data-dir", envvar="IDM_DATA_DIR", default=None,
              help="数据目录 / data folder (default ./var/idm, env IDM_DATA_DIR)")
@click.option("--ldapi", envvar="IDM_LDAPI_URI", default=None,
              help="an existing slapd's ldapi URI (SASL EXTERNAL) instead of the embedded one")
@click.option("--suffix", envvar="IDM_SUFFIX", default=None, help="base DN with --ldapi")
@click.pass_context
def cli(ctx: click.Context, data_dir: str | None, ldapi: str | None, suffix: str | None) -> None:
    """idm：教育管理信息系统实名制用户管理 / identity management for education authorities."""
    ctx.obj = Context(data_dir, ldapi, suffix)


# ---------------------------------------------------------------- server
@cli.group()
def server() -> None:
    """内置 OpenLDAP 服务 / the embedded OpenLDAP server."""


@server.command("init")
@click.option("--port", type=int, default=None,
              help=f"LDAP port on 127.0.0.1 (default {config.DEFAULT_PORT})")
@click.option("--host", default=None, help="listen address (default 127.0.0.1)")
@click.option("--suffix", default=None, help=f"base DN (default {config.DEFAULT_SUFFIX})")
@click.option("--log-purge-days", type=click.IntRange(min=183), default=None,
              help="accesslog retention in days (default and minimum 183)")
@click.option("--password-profile", type=click.Choice(["mlps3", "nist"]), default=None,
              help="password policy profile (default mlps3)")
@click.option("--server-id", type=click.IntRange(1, 4095), default=None,
              help="olcServerID, unique per server of a cluster (default 1)")
@pass_ctx
@friendly
def server_init(ctx: Context, port: int | None, host: str | None, suffix: str | None,
                log_purge_days: int | None, password_profile: str | None, server_id: int | None) -> None:
    """初始化数据目录与 cn=config / create the data folder and cn=config."""
    settings = config.new_settings(ctx.data_dir, port=port, host=host, suffix=suffix,
                                   log_purge_days=log_purge_days, password_profile=password_profile,
                                   server_id=server_id)
    if embedded.init(settings):
        click.echo(f"已初始化 / initialised: {settings.data_dir}")
    else:
        click.echo(f"已存在，未改动 / already initialised, unchanged: {settings.data_dir}")


@server.command("start")
@pass_ctx
@friendly
def server_start(ctx: Context) -> None:
    """启动 slapd / start slapd and wait until it answers."""
    settings = ctx.settings()
    started = embedded.start(settings)
    state = "已启动 / started" if started else "已在运行 / already running"
    click.echo(f"{state}: {settings.ldap_uri} {settings.ldapi_uri}")


@server.command("run")
@pass_ctx
@friendly
def server_run(ctx: Context) -> None:
    """在前台运行 slapd（容器、systemd）/ run slapd in the foreground (containers, systemd)."""
    embedded.run(ctx.settings())


@server.command("stop")
@pass_ctx
@friendly
def server_stop(ctx: Context) -> None:
    """停止 slapd / stop slapd cleanly."""
    stopped = embedded.stop(ctx.settings())
    click.echo("已停止 / stopped" if stopped else "未在运行 / not running")


@server.command("status")
@pass_ctx
@friendly
def server_status(ctx: Context) -> None:
    """运行状态 / is it initialised, running, answering."""
    settings = ctx.settings()
    st = embedded.status(settings)
    click.echo(f"data dir:    {settings.data_dir}")
    click.echo(f"initialised: {st.initialised}")
    click.echo(f"pid:         {st.pid or '-'}")
    click.echo(f"answering:   {st.answering}")
    from idm.ops import keeper

    events = keeper.events(settings)
    if st.keeper or events:
        click.echo(f"keeper:      {st.keeper or '-'} ({len(events)} events in {keeper.events_file(settings)}"
                   + (f"; last: {events[-1]}" if events else "") + ")")
    click.echo(f"ldap:        {settings.ldap_uri}")
    click.echo(f"ldapi:       {settings.ldapi_uri}")
    click.echo(f"suffix:      {settings.suffix}")
    if not st.answering:
        sys.exit(3)


@server.command("monitor")
@click.option("--failures", is_flag=True,
              help="按下游系统与客户端地址统计登录失败 / failed user binds per service and client address")
@click.option("--hours", type=float, default=None, help="with --failures: only the last N hours")
@pass_ctx
@friendly
def server_monitor(ctx: Context, failures: bool, hours: float | None) -> None:
    """slapd 计数器（连接、操作、线程）/ slapd's counters (cn=Monitor): connections, operations."""
    from idm.ops import bind_failures, monitor

    if not failures:
        for name, value in monitor.counters(ctx.settings()).items():
            click.echo(f"{name:32} {value}")
        return
    found = bind_failures.from_log(ctx.settings(), hours)
    click.echo(f"登录失败合计 / failed binds: {found.total}")
    click.echo("按下游系统（同一连接上先绑定的服务账号）/ by service (bound first on the same connection):")
    for dn, n in found.by_service.most_common():
        label = "（无：用户在自己的连接上绑定）/ (none: the user's bind had a connection of its own)" \
            if dn == bind_failures.NO_SERVICE else dn
        click.echo(f"  {n:8} {label}")
    click.echo("按客户端地址 / by client address:")
    for address, n in found.by_address.most_common():
        click.echo(f"  {n:8} {address}")
    click.echo("失败最多的账号 / accounts failed most:")
    for dn, n in found.by_account.most_common(10):
        click.echo(f"  {n:8} {dn}")


@server.command("tls")
@click.option("--host-name", "host_names", multiple=True, help="DNS name clients use (repeatable)")
@click.option("--tls-port", type=int, default=None, help="ldaps port (default: LDAP port + 247)")
@click.option("--allow-plain", is_flag=True,
              help="也接受未加密的简单绑定（仅限演示）/ keep accepting simple binds without TLS (demo only)")
@pass_ctx
@friendly
def server_tls(ctx: Context, host_names: tuple[str, ...], tls_port: int | None, allow_plain: bool) -> None:
    """为 slapd 启用 TLS（StartTLS 与 ldaps）/ TLS for slapd with a certificate from the education CA."""
    from idm.ops import tls
    from idm.pki import ca

    settings = ctx.settings()
    issuer = ca.load(ca.load_config(ctx.data_dir / "ca"))
    updated = tls.enable(settings, issuer, list(host_names), tls_port or settings.port + 247,
                         require=not allow_plain)
    embedded.stop(updated)
    embedded.start(updated)
    click.echo(f"已启用 / enabled: ldaps://{updated.host}:{updated.tls_port} and StartTLS on "
               f"{updated.plain_uri}; plain simple binds {'allowed' if allow_plain else 'refused'}")
    click.echo(f"CA: {updated.tls_ca_file}")
    from idm_cli.web_cmds import reload_if_running

    if reload_if_running(ctx):
        click.echo("Web 界面已重新加载，改用 ldaps / the web UI reloaded its workers, which now use ldaps")


@server.command("print-config")
@click.option("--suffix", default=config.DEFAULT_SUFFIX, show_default=True)
@click.option("--database", default="{1}mdb", show_default=True,
              help="the site's database that holds the suffix, as in olcDatabase=...,cn=config")
@click.option("--log-db-dir", default="/var/lib/ldap/accesslog", show_default=True,
              help="folder for the new cn=accesslog database (must exist, owned by slapd's user)")
@click.option("--skip-module", multiple=True,
              help="a module the site's slapd already loads (repeatable), e.g. syncprov")
@friendly
def server_print_config(suffix: str, database: str, log_db_dir: str,
                        skip_module: tuple[str, ...]) -> None:
    """为已有的 OpenLDAP 输出配置 LDIF / LDIF for an existing slapd (ldapmodify -Y EXTERNAL)."""
    click.echo(site.render_site_changes(suffix, database, log_db_dir, frozenset(skip_module)),
               nl=False)


# ---------------------------------------------------------------- org
@cli.group("org")
def org_group() -> None:
    """组织机构树 / the administrative tree."""


@org_group.command("tree")
@click.argument("code", required=False)
@click.option("--depth", type=click.IntRange(min=0), default=None)
@pass_ctx
@friendly
def org_tree(ctx: Context, code: str | None, depth: int | None) -> None:
    """显示组织机构树 / print the tree with Chinese names."""
    with ctx.ops_session() as session:
        for level, node in org.subtree(session, code, depth):
            marker = "  (委托上级管理 / managed by parent)" if node.managed_by else ""
            click.echo(f"{'    ' * level}{node.code} {node.name} [{LEVEL_ZH[node.level]}]{marker}")


@org_group.command("show")
@click.argument("code")
@pass_ctx
@friendly
def org_show(ctx: Context, code: str) -> None:
    """显示单位详情 / show one unit."""
    with ctx.ops_session() as session:
        d = org.show(session, code)
    n = d.node
    click.echo(f"代码 code:        {n.code}")
    click.echo(f"名称 name:        {n.name}")
    click.echo(f"层级 level:       {LEVEL_ZH[n.level]} ({n.level})")
    click.echo(f"DN:               {n.dn}")
    click.echo(f"上级 parent:      {f'{d.parent.code} {d.parent.name}' if d.parent else '-'}")
    click.echo(f"管理 managed by:  {n.managed_by or '本单位 / itself'}")
    click.echo(f"下级 children:    {d.children}")
    click.echo(f"管理员 admins:    {d.admins}")
    click.echo(f"业务用户 people:  {d.people}")


# ---------------------------------------------------------------- bootstrap
@cli.command("bootstrap")
@click.argument("admins_file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@pass_ctx
@friendly
def bootstrap_cmd(ctx: Context, admins_file: Path) -> None:
    """创建服务账号与省级三员 / service accounts and the province's three admins.

    ADMINS_FILE: CSV with uid,role,name,id_number,mobile,email,office_phone,unit.
    """
    specs = bootstrap.read_admins(admins_file)
    secrets_dir = ctx.data_dir / "secrets"
    with ctx.ops_session() as session:
        for c in bootstrap.service_accounts(session, secrets_dir):
            click.echo(f"服务账号 service account: {c.dn}  (secret: {secrets_dir}/{c.uid}.secret)")
        for c in bootstrap.province_admins(session, specs):
            if c.password is None:
                click.echo(f"已存在 / exists: {c.dn}")
            else:
                click.echo(f"已创建 / created: {c.dn}\n  初始密码（仅显示一次，首次登录须修改）/ "
                           f"one-time password (shown once, must change at first login): {c.password}")


@cli.command("require-otp-bind")
@click.argument("uid")
@pass_ctx
@friendly
def require_otp_bind(ctx: Context, uid: str) -> None:
    """本机运维：该账号的 LDAP 登录须“密码+动态码” / LDAP binds of UID need password+code."""
    from idm.auth import totp
    from idm.identity import accounts

    with ctx.ops_session() as session:
        account = accounts.find(session, uid)
        totp.require_on_ldap_bind(session, account.dn)
    click.echo(f"已启用 / required: {account.dn}")


acting.register(cli)
cluster_cmds.register(cli)
load_cmds.register(cli, org_group)


def main() -> None:
    cli()


if __name__ == "__main__":
    main()
