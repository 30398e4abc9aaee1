"""`idm cluster ...` (multi-provider replication) and `idm backup` / `idm restore` (local operator)."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import click

from idm.config import save_settings
from idm.errors import InvalidInput
from idm.ops import backup, cluster, cluster_config, cluster_state, embedded
from idm.pki import ca, cluster_certs
from idm_cli.common import Context, friendly, pass_ctx

CLUSTER_ARG = click.argument("cluster_file", type=click.Path(exists=True, dir_okay=False, path_type=Path))


@click.group("cluster")
def cluster_group() -> None:
    """多主复制集群（R20）/ multi-provider replication (local operator)."""


@cluster_group.command("check")
@CLUSTER_ARG
@friendly
def cluster_check(cluster_file: Path) -> None:
    """检查集群描述 / validate a cluster description and print its nodes."""
    c = cluster.load(cluster_file)
    for n in c.nodes:
        click.echo(f"{n.name}\t{n.role}\tserver_id={n.server_id}\t{n.uri}")
    click.echo(f"正确 / valid: {len(c.providers)} provider(s), {len(c.nodes) - len(c.providers)} consumer(s)")


@cluster_group.command("certs")
@CLUSTER_ARG
@click.option("--out", "out_dir", required=True, type=click.Path(file_okay=False, path_type=Path),
              help="每个节点一个子目录 / one folder per node is written here")
@pass_ctx
@friendly
def cluster_certs_cmd(ctx: Context, cluster_file: Path, out_dir: Path) -> None:
    """用教育 CA 为各节点签发服务器与复制证书 / issue each node's server and replication certificates."""
    c = cluster.load(cluster_file)
    issuer = ca.load(ca.load_config(ctx.data_dir / "ca"))
    for folder in cluster_certs.write_bundles(issuer, c, out_dir):
        click.echo(f"已签发 / issued: {folder}")
    click.echo("私钥为 0600 文件：以安全方式送到对应节点 / "
               "keys are 0600 files: carry each folder to its node")


@cluster_group.command("show")
@CLUSTER_ARG
@click.option("--node", "node_name", required=True)
@pass_ctx
@friendly
def cluster_show(ctx: Context, cluster_file: Path, node_name: str) -> None:
    """输出该节点的 cn=config 修改（LDIF）/ print the node's cn=config changes as LDIF."""
    c = cluster.load(cluster_file)
    node = c.node(node_name)
    services = None
    if node.is_downstream:  # its rules name the services in its directory
        with ctx.ops_session() as session:
            services = cluster_config.downstream_services(session)
    click.echo(cluster_config.to_ldif(cluster_config.changes(c, node, ctx.settings(), services=services)),
               nl=False)


@cluster_group.command("rules")
@click.argument("cluster_file", required=False, type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--node", "node_name", default=None,
              help="本机在集群中的名字（默认：按 server_id）/ this node's name (default: by server_id)")
@pass_ctx
@friendly
def cluster_rules(ctx: Context, cluster_file: Path | None, node_name: str | None) -> None:
    """下游只读节点：按目录中的服务账号更新规则（不重启）/ a downstream node: its rules from the services now
    in the directory, applied live (by default this node, from the cluster.json apply kept)."""
    settings = ctx.settings()
    c = cluster.load(cluster_file or settings.data_dir / cluster.CLUSTER_FILE)
    if node_name is not None:
        node = c.node(node_name)
    else:
        found = [n for n in c.nodes if n.server_id == settings.server_id]
        if not found:
            raise InvalidInput(f"集群中没有 server_id {settings.server_id} 的节点：请用 --node",
                               f"no node with server_id {settings.server_id} in the cluster: give --node")
        node = found[0]
    with ctx.ops_session() as session:
        count, changed = cluster_config.refresh_rules(session, node)
    click.echo(f"{'已更新 / updated' if changed else '无变化 / unchanged'}: {count} 个服务账号 / services")


@cluster_group.command("apply")
@CLUSTER_ARG
@click.option("--node", "node_name", required=True, help="本机在集群中的名字 / this node's name")
@click.option("--tls", "bundle", type=click.Path(exists=True, file_okay=False, path_type=Path), default=None,
              help="idm cluster certs 为本节点生成的目录 / this node's folder made by `idm cluster certs`")
@click.option("--allow-plain", is_flag=True,
              help="客户端仍可不加密简单绑定（仅限测试）/ keep accepting simple binds without TLS (tests)")
@click.option("--listen-port", type=int, default=None,
              help="ldaps 监听端口（与 URI 端口不同时，如经代理）/ ldaps port to listen on, if not the URI's")
@click.option("--source", default=None,
              help="consumer 改为跟随此 provider（原 provider 丢失时）/ "
                   "a consumer follows this provider instead")
@pass_ctx
@friendly
def cluster_apply(ctx: Context, cluster_file: Path, node_name: str, bundle: Path | None,
                  allow_plain: bool, listen_port: int | None, source: str | None) -> None:
    """配置本节点的复制并重启 slapd / configure this node's replication, then restart slapd."""
    c = cluster.load(cluster_file)
    if source is not None:
        c = cluster.follow(c, node_name, source)
    node = c.node(node_name)
    settings = ctx.settings()
    if bundle is not None:
        cluster_certs.install(bundle, settings.data_dir)
    was_running = embedded.status(settings).answering
    if not was_running:
        embedded.start(settings)
    with ctx.ops_session() as session:
        updated = cluster_config.configure(session, c, node, settings, require_tls=not allow_plain,
                                    listen_port=listen_port)
        services = len(cluster_config.downstream_services(session)) if node.is_downstream else 0
    embedded.stop(updated)
    if was_running:
        embedded.start(updated)
    sources = [p.name for p in c.providers if p.name != node.name] if node.is_provider \
        else [c.source_of(node).name]
    click.echo(f"已配置 / configured: {node.name} ({node.role}, server_id {node.server_id}); "
               f"replicates from {', '.join(sources) or '-'}")
    click.echo(f"客户端地址 / client URIs: {updated.ldap_uri}")
    if node.is_downstream:
        click.echo(f"只读层规则 / read-tier rules: {services} 个服务账号 / services; after a service is "
                   "created, run: idm cluster rules (or its timer, scripts/systemd/)")
    if not was_running:
        click.echo("slapd 未启动；启动：idm server start / slapd left stopped: idm server start")


@cluster_group.command("status")
@click.argument("cluster_file", required=False, type=click.Path(exists=True, dir_okay=False, path_type=Path))
@pass_ctx
@friendly
def cluster_status(ctx: Context, cluster_file: Path | None) -> None:
    """各节点已见到的最新修改与落后秒数 / each node's newest changes and how far behind it is."""
    settings = ctx.settings()
    c = cluster.load(cluster_file or settings.data_dir / cluster.CLUSTER_FILE)
    files = cluster.NodeFiles(settings.data_dir / "tls")
    states = [cluster_state.node_state(n, files, settings.suffix) for n in c.nodes]
    lags = cluster_state.lag_seconds(states)
    worst = 0
    for s in states:
        if s.error:
            click.echo(f"{s.node.name}\t{s.node.role}\t不可达 / unreachable: {s.error}")
            worst = 2
            continue
        csns = " ".join(f"{sid}:{csn.split('#')[0]}" for sid, csn in sorted(s.csns.items()))
        traffic = ""
        if s.counters is not None:
            traffic = "\t" + " ".join(f"{k} {v}" for k, v in s.counters.items())
        click.echo(f"{s.node.name}\t{s.node.role}\tlag {lags[s.node.name]:.1f}s\t{csns}{traffic}")
        worst = max(worst, 1 if lags[s.node.name] > 0 else 0)
    here = next((n for n in c.nodes if n.server_id == settings.server_id), None)
    if here is not None and here.is_downstream:
        with ctx.ops_session() as session:
            stale = cluster_config.rules_stale(session, here)
        if stale:
            click.echo(f"本机规则未含最新服务账号 / this node's rules are stale ({', '.join(stale)}): "
                       "run idm cluster rules")
            worst = max(worst, 1)
        else:
            click.echo("本机规则与服务账号一致 / this node's rules name every active service")
    raise SystemExit(worst)


@cluster_group.command("recover")
@click.option("--since", default=None,
              help="YYYYmmddHHMMSS.ffffffZ（默认：上次检查点）/ default: the last checkpoint")
@pass_ctx
@friendly
def cluster_recover(ctx: Context, since: str | None) -> None:
    """崩溃重启后，补发未写入日志的修改 / after a crash, re-issue changes missing from the write log."""
    settings = ctx.settings()
    c = cluster.load(settings.data_dir / cluster.CLUSTER_FILE)
    node = next((n for n in c.nodes if n.server_id == settings.server_id), None)
    if node is None or not node.is_provider:
        raise InvalidInput("本机不是集群中的 provider", "this server is not a provider of its cluster")
    with ctx.ops_session() as session:
        found = cluster_state.recover(session, node, since)
    for o in found:
        click.echo(f"{o.dn}\t{o.csn}")
    click.echo(f"已补发 / re-issued: {len(found)}")


@cluster_group.command("client-settings")
@CLUSTER_ARG
@click.option("--out-dir", required=True, type=click.Path(file_okay=False, path_type=Path),
              help="客户端（如 Web 界面）的数据目录 / the data folder of a client such as the web UI")
@pass_ctx
@friendly
def cluster_client_settings(ctx: Context, cluster_file: Path, out_dir: Path) -> None:
    """为不运行 slapd 的主机（Web 界面）写 idm.json / idm.json for a host without slapd (the web UI)."""
    c = cluster.load(cluster_file)
    settings = ctx.settings()
    client = replace(settings, data_dir=out_dir.resolve(), uris=tuple(p.uri for p in c.providers))
    save_settings(client)
    (client.data_dir / "secrets").mkdir(mode=0o700, exist_ok=True)
    if settings.tls_ca_file.is_file():
        client.tls_ca_file.parent.mkdir(mode=0o700, exist_ok=True)
        client.tls_ca_file.write_bytes(settings.tls_ca_file.read_bytes())
    click.echo(f"已写入 / written: {client.data_dir / 'idm.json'} ({client.ldap_uri})")
    click.echo(f"服务密钥放入 / put the service secrets (0600) in: {client.secrets_dir}")
    downstream = " ".join(n.uri for n in [*c.read_tier, *c.providers])
    click.echo(f"下游系统连接（依次尝试）/ for downstream systems (in order): {downstream}")


# ---------------------------------------------------------------- backup and restore
@click.command("backup")
@click.option("--out", "out_dir", required=True, type=click.Path(file_okay=False, path_type=Path),
              help="在此目录下新建备份 / a new backup folder is made in here")
@click.option("--with-secrets", is_flag=True,
              help="同时备份服务密钥、CA 与 TLS 私钥（0600）/ also copy secrets, CA and TLS keys")
@pass_ctx
@friendly
def backup_cmd(ctx: Context, out_dir: Path, with_secrets: bool) -> None:
    """一致性备份：三个数据库 + 设置 + SHA-256 / consistent copy of data, log and configuration."""
    done = backup.create(ctx.settings(), out_dir, with_secrets)
    m = done.manifest
    click.echo(f"已备份 / backed up: {done.folder}")
    click.echo(f"  {m['entries']} entries, {m['log_records']} log records, secrets: {m['with_secrets']}")


@click.command("restore")
@click.argument("backup_dir", type=click.Path(exists=True, file_okay=False, path_type=Path))
@click.option("--server-id", type=click.IntRange(1, 4095), default=None,
              help="新节点的 server ID（不同于备份：作为集群新节点）/ another ID makes a new node")
@click.option("--port", type=int, default=None)
@click.option("--host", default=None)
@click.option("--tls-port", type=int, default=None)
@click.option("--no-log", is_flag=True, help="不恢复写日志 / leave the write log empty")
@pass_ctx
@friendly
def restore_cmd(ctx: Context, backup_dir: Path, server_id: int | None, port: int | None, host: str | None,
                tls_port: int | None, no_log: bool) -> None:
    """校验后恢复到空数据目录 / verify a backup, then restore it into an empty data folder."""
    settings = backup.restore(backup_dir, ctx.data_dir, server_id=server_id, port=port, host=host,
                              tls_port=tls_port, with_log=not no_log)
    click.echo(f"已恢复 / restored: {settings.data_dir} (server_id {settings.server_id}); "
               "启动 / start: idm server start")


def register(cli: click.Group) -> None:
    for command in (cluster_group, backup_cmd, restore_cmd):
        cli.add_command(command)
