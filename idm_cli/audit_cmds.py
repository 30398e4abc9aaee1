"""`idm audit ...`: the auditor's view of the write log, its CSV export, and the seals."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import click

from idm import labels
from idm.config import MIN_LOG_DAYS
from idm.directory.session import Session
from idm.identity import accounts
from idm.oversight import actions, audit, seal, seal_key
from idm.rules.actor import Actor
from idm_cli.common import Context, friendly, pass_ctx
from idm_cli.signin_cmds import acting


@click.group("audit")
def audit_group() -> None:
    """审计（安全审计员，R6）/ audit the admins' operations (security auditor)."""


def window_options(command: Callable[..., Any]) -> Callable[..., Any]:
    """The options both views of the log take (a time window, the outcome, a CSV), then the
    signed-in auditor."""
    command = acting(command)
    for option in reversed((
            click.option("--since", default=None, help="YYYYMMDD[HHMMSS]"),
            click.option("--until", default=None, help="YYYYMMDD[HHMMSS]"),
            click.option("--result", type=click.Choice(["ok", "failed"]), default=None),
            click.option("--csv", "csv_out", type=click.Path(dir_okay=False, path_type=Path), default=None,
                         help="导出 CSV（防公式注入）/ export as CSV (safe against formula injection)"))):
        command = option(command)
    return command


@audit_group.command("list")
@click.option("--actor", "who", default=None, help="操作人登录账号 / the admin's login")
@click.option("--op", "kind", type=click.Choice(["add", "modify", "delete", "modrdn", "extended"]),
              default=None)
@click.option("--target", default=None, help="对象 DN 包含 / target DN contains")
@window_options
def audit_list(session: Session, actor: Actor, who: str | None, kind: str | None, target: str | None,
               since: str | None, until: str | None, result: str | None, csv_out: Path | None) -> None:
    """本级系统管理员与安全管理员的操作（含被拒绝的）/ this level's admins' operations, refused ones too."""
    found = audit.operations(
        session, actor=accounts.find(session, who).dn if who else None, kind=kind, target=target,
        since=since, until=until, failed=None if result is None else result == "failed",
    )
    if csv_out is not None:
        csv_out.write_text(audit.to_csv(found), encoding="utf-8")
        click.echo(f"已导出 / exported: {csv_out} ({len(found)})")
        return
    for op in found:
        mark = "ok" if op.ok else f"refused {op.result} {labels.label('result', op.result)}"
        kind = f"{op.kind}:{op.event} {op.message}" if op.event else op.kind
        click.echo(f"{op.when}\t{op.actor}\t{kind}\t{op.target}\t{mark}\t{op.form or '-'}")
    click.echo(f"合计 / total: {len(found)}")
    seals = seal.list_seals(session)
    click.echo(f"最近封存 / last sealed: {seals[-1].sealed_at}" if seals else
               "封存状态仅本机运维可见 / seal status: local operator only (idm audit verify)")


@audit_group.command("actions")
@click.option("--actor", "who", default=None, help="操作人登录账号 / the admin's login")
@click.option("--person", default=None, help="对象登录账号 / the login acted on")
@click.option("--form", "form_id", default=None, help="申请单编号 / the form")
@window_options
def audit_actions(session: Session, actor: Actor, who: str | None, person: str | None, form_id: str | None,
                  since: str | None, until: str | None, result: str | None, csv_out: Path | None) -> None:
    """本级管理员的操作，每项一行（含登录事件）/ this level's admins' actions, one row each (sign-ins too)."""
    found = actions.actions(session, actor=audit.actor_dn(session, who) if who else None,
                            person=f"uid={person}," if person else None, form=form_id, since=since,
                            until=until)
    if result is not None:
        found = [a for a in found if a.ok == (result == "ok")]
    if csv_out is not None:
        csv_out.write_text(actions.to_csv(found), encoding="utf-8")
        click.echo(f"已导出 / exported: {csv_out} ({len(found)})")
        return
    for a in found:
        mark = "ok" if a.ok else f"refused {a.result} {labels.label('result', a.result)}"
        click.echo(f"{a.when}\t{a.actor}\t{actions.title(a)}\t{a.target}\t{a.form or '-'}\t{mark}"
                   f"\t{len(a.writes)} writes")
    click.echo(f"合计 / total: {len(found)}")


@audit_group.command("seal")
@pass_ctx
@friendly
def audit_seal(ctx: Context) -> None:
    """对新增日志记录封存并以 SM2 签名（本机运维，可定时执行）/ seal the new log records, SM2-signed
    (local operator; run it from a timer)."""
    # a site's own slapd (--ldapi, no data folder) is one server: server 1
    server_id = ctx.settings().server_id if not ctx.ldapi else 1
    key = seal_key.load(ctx.data_dir, create=True)
    with ctx.ops_session() as session:
        done = seal.seal(session, key, server_id)
    click.echo(f"已封存 / sealed: {done.count} 条记录 records, SM3 chain {done.chain[:16]}…, "
               f"SM2 签名 / signed (key {key.fingerprint()[:16]}…)")


@audit_group.command("verify")
@click.option("--public-key", type=click.Path(exists=True, dir_okay=False, path_type=Path), default=None,
              help="用于校验的封存公钥（默认：本机 <data>/seal/seal.pub.pem）/ the seal public key to trust "
                   "(default: this server's)")
@click.option("--export", "export_dir", type=click.Path(file_okay=False, path_type=Path), default=None,
              help="另写出每个封存的签名内容与签名，供 openssl 独立校验 / also write each seal's signed "
                   "bytes and signature, for openssl")
@pass_ctx
@friendly
def audit_verify(ctx: Context, public_key: Path | None, export_dir: Path | None) -> None:
    """校验日志与封存：记录被删、改、挪动或插入，封存被改、删或由他人密钥签名 / report log records
    removed, altered, moved or inserted, and seals altered, removed or signed by another key."""
    settings = ctx.settings()
    with ctx.ops_session() as session:
        kept = audit.retention_days(session)
    if kept is not None and kept < MIN_LOG_DAYS:
        click.echo(f"日志保存期仅 {kept} 天，少于 {MIN_LOG_DAYS} 天（olcAccessLogPurge）/ the write log "
                   f"is kept only {kept} days, less than {MIN_LOG_DAYS}", err=True)
        raise SystemExit(4)
    has_key = (seal_key.folder_of(ctx.data_dir) / seal_key.KEY).is_file()
    local = seal_key.load(ctx.data_dir) if public_key is None or has_key else None
    trusted = public_key.read_bytes() if public_key else local.public_pem() if local else b""
    seal_key.fingerprint(trusted)  # a file that is no PEM public key is refused here, in words
    anchor = local.anchor(settings.server_id) if local else None
    with ctx.ops_session() as session:
        findings = seal.verify(session, trusted, settings.log_purge_days, settings.server_id, anchor=anchor)
        seals = seal.list_seals(session, settings.server_id)
        if export_dir is not None:
            written = seal.export(session, seals, export_dir)
            (export_dir / "seal.pub.pem").write_bytes(trusted)
            click.echo(f"已写出 / written: {written} 个封存 seals -> {export_dir}")
    bad = [f for f in findings if f.problem not in seal.NOTES]
    for f in findings:
        click.echo(f"{f.problem}\t{f.record}" + (f"\t{f.detail}" if f.detail else ""))
    count = len(seals)
    if bad:
        click.echo(f"日志已被改动 / the log was tampered with: {len(bad)} 处 findings", err=True)
        raise SystemExit(4)
    click.echo(f"完好 / intact: {count} 个封存 seals")
