"""`idm load` and `idm org import`: the bulk engine (`idm.bulk`) with a plan first, a progress
bar on a terminal (plain lines otherwise), and Ctrl-C ending the load after the current batch."""

from __future__ import annotations

import os
import signal
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, TextIO, TypeVar

import click
from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    ProgressColumn,
    Task,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)
from rich.text import Text

from idm import pipeline
from idm.auth import signin
from idm.bulk import load as engine
from idm.bulk import transfers
from idm.bulk.plan import Plan
from idm.bulk.planner import Planner
from idm.bulk.source import ENCODINGS
from idm.bulk.view import View
from idm.directory.session import Session
from idm.rules import actor as actors
from idm_cli.common import Context, friendly, pass_ctx
from idm_cli.signin_cmds import open_acting

PLAIN_EVERY = 5.0  # seconds between progress lines when not on a terminal


class RateColumn(ProgressColumn):
    """Entries a second (rich's own speed columns speak of bytes)."""

    def render(self, task: Task) -> Text:
        return Text(f"{task.speed:,.0f}/s" if task.speed else "-/s")


class Shown:
    """A rich progress bar with rate and ETA on a terminal; otherwise a line every few seconds."""

    def __init__(self) -> None:
        self.console = Console(stderr=True)
        self.bar: Progress | None = None
        self.task = None
        self.total: int | None = None
        self.count = 0
        self.name = ""
        self.started = 0.0
        self.last = 0.0

    def phase(self, name: str, total: int | None) -> None:
        self.name, self.total, self.count = name, total, 0
        self.started = self.last = time.monotonic()
        if self.console.is_terminal:
            self.bar = Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
                                RateColumn(), TimeElapsedColumn(), TimeRemainingColumn(),
                                console=self.console, transient=False)
            self.bar.start()
            self.task = self.bar.add_task(name, total=total)  # type: ignore[assignment]

    def advance(self, n: int) -> None:
        self.count += n
        if self.bar is not None:
            self.bar.advance(self.task, n)  # type: ignore[arg-type]
            return
        now = time.monotonic()
        if now - self.last >= PLAIN_EVERY:
            self.last = now
            rate = self.count / max(now - self.started, 1e-9)
            of = f"/{self.total}" if self.total else ""
            eta = f", ETA {(self.total - self.count) / rate:.0f}s" if self.total and rate else ""
            click.echo(f"{self.name}: {self.count}{of} ({rate:.0f}/s{eta})", err=True)

    def done(self) -> None:
        if self.bar is not None:
            self.bar.stop()
            self.bar = None


class Interrupt:
    """The first Ctrl-C asks the load to stop after the batch it is writing. A second one, or a
    SIGTERM, SIGHUP or SIGQUIT, stops it within the batch: an open transaction (--atomic) is
    ended without a commit before the loader exits, because slapd 2.5 crashes when a client
    goes away while it holds one (`benches/txn_crash.py`); what was committed stands and the
    next plan finds it. Only SIGKILL cannot be caught: the keeper (`idm.ops.keeper`) then starts
    slapd again. The signals are blocked in the loading thread and waited for in another:
    delivered there, they would cut libldap's system calls short (EINTR, seen as a lost
    connection) in the middle of a batch."""

    SIGNALS = {signal.SIGINT, signal.SIGTERM, signal.SIGHUP, signal.SIGQUIT}
    GRACE = 10.0  # seconds the batch may take to end before the loader exits regardless

    def __init__(self) -> None:
        self.asked = False
        self.now = False
        self.signum = 0
        self._closed = threading.Event()

    def __enter__(self) -> Interrupt:
        signal.pthread_sigmask(signal.SIG_BLOCK, self.SIGNALS)
        threading.Thread(target=self._wait, daemon=True).start()
        return self

    def _wait(self) -> None:
        while not self._closed.is_set():
            got = signal.sigtimedwait(self.SIGNALS, 0.2)
            if got is None:
                continue
            self.signum = got.si_signo
            if got.si_signo == signal.SIGINT and not self.asked:
                self.asked = True
                click.echo("\n收到中断，本批写完后停止 / interrupted: stopping after the current batch",
                           err=True)
                continue
            self.asked = self.now = True
            click.echo(f"\n收到 {signal.Signals(got.si_signo).name}，立即停止（未提交的事务已撤销）/ "
                       "stopping now (an open transaction is aborted)", err=True)
            if not self._closed.wait(self.GRACE):
                os._exit(128 + got.si_signo)
            return

    @property
    def exit_code(self) -> int:
        return 128 + (self.signum or signal.SIGINT)

    def __exit__(self, *exc: object) -> None:
        self._closed.set()
        signal.pthread_sigmask(signal.SIG_UNBLOCK, self.SIGNALS)


def show_plan(plan: Plan, tree_lines: bool) -> None:
    for line in plan.lines:
        click.echo(line)
    more = plan.line_count - len(plan.lines)
    if more > 0:
        click.echo(f"… 另有 {more} 行 / {more} more lines (--plan-file FILE for the full plan)")
    zh, en = plan.summary()
    click.echo(f"计划 / plan: {zh} / {en}")


def _writing_session(ctx: Context) -> Session:
    """The loader; on a site's own slapd (--ldapi) the local operator, as before the engine."""
    return ctx.ops_session() if ctx.ldapi else engine.loader_session(ctx.settings())


def run(ctx: Context, file: Path, *, kind: str | None, encoding: str, dry_run: bool, plan_file: Path | None,
        batch: int, atomic: bool, offline: bool) -> None:
    shown = Shown()
    out: TextIO | None = open(plan_file, "w", encoding="utf-8") if plan_file else None  # noqa: SIM115
    try:
        def checked(source: View) -> tuple[Plan, Planner] | None:
            """The whole file checked and its plan shown; None when that was all (a dry run)."""
            plan, planner = engine.make_plan(source, file, encoding, kind, out, shown)
            show_plan(plan, kind == "tree")
            plan.raise_if_refused()
            if dry_run:
                click.echo("演练，未写入 / dry run, nothing written")
                return None
            return plan, planner

        if offline:
            settings = ctx.settings()
            planned = checked(engine.offline_view(settings))
            if planned is None:
                return
            done = engine.write_offline(settings, *planned, shown)
            click.echo(f"离线导入完成 / offline load done: {done.operations} entries in {done.seconds:.1f}s; "
                       "recorded in the write log")
            return
        with _writing_session(ctx) as session, Interrupt() as interrupt:
            planned = checked(engine.online_view(session, None if ctx.ldapi else ctx.settings()))
            if planned is None:
                return
            plan = planned[0]
            done = engine.write_online(session, *planned, batch, shown, lambda: interrupt.asked, atomic,
                                       lambda: interrupt.now)
    finally:
        if out is not None:
            out.close()
    rate = done.operations / done.seconds if done.seconds else 0.0
    if done.interrupted:
        click.echo(f"已中断 / interrupted: {done.operations} of {plan.counts.entries} written in "
                   f"{done.batches} whole batches; run the same command again to finish")
        sys.exit(interrupt.exit_code)
    zh, en = plan.summary()
    click.echo(f"{zh} / {en}")
    click.echo(f"已写入 / written: {done.operations} operations in {done.batches} batches, "
               f"{done.seconds:.1f}s ({rate:.0f}/s)")


def run_transfers(ctx: Context, file: Path, *, encoding: str, dry_run: bool, plan_file: Path | None,
                  as_uid: str | None, password_file: Path | None, code: str | None, connections: int) -> None:
    """A transfer file: the steps that are the signed-in admin's department's, each through the
    pipeline as that admin (not the loader: a transfer rests on both departments' forms)."""
    if not as_uid:
        raise click.UsageError("调动文件须以管理员身份办理：--as UID / a transfer file needs --as UID")
    settings = ctx.settings()
    rows, refused = transfers.read(file, encoding)
    first = open_acting(settings, as_uid, password_file, code)
    acting = pipeline.Acting(first, actors.load(first))
    try:
        plan = transfers.plan(acting, rows, refused)
    finally:
        first.close()
    lines = list(plan.lines())
    if plan_file:
        plan_file.write_text("\n".join(lines) + "\n", encoding="utf-8")
    for line in lines[:SHOWN_LINES]:
        click.echo(line)
    if len(lines) > SHOWN_LINES:
        click.echo(f"… 另有 {len(lines) - SHOWN_LINES} 行 / {len(lines) - SHOWN_LINES} more lines "
                   "(--plan-file FILE for the full plan)")
    zh, en = plan.summary()
    click.echo(f"计划 / plan: {zh} / {en}")
    plan.raise_if_refused()
    if dry_run:
        click.echo("演练，未写入 / dry run, nothing written")
        return
    shown = Shown()
    shown.phase("调动 transfers", plan.count("todo"))
    started = time.monotonic()
    dn = acting.actor.dn

    def opened() -> pipeline.Acting:
        session = signin.admin_session(settings, dn)
        return pipeline.Acting(session, actors.load(session))

    with Interrupt() as interrupt:
        done = transfers.write(opened, plan, connections, shown.advance, lambda: interrupt.asked)
    shown.done()
    seconds = time.monotonic() - started
    for where, zh_text, en_text in done.failed:
        click.echo(f"{where}: 未办理 / not done: {zh_text} / {en_text}", err=True)
    click.echo(f"已办理 / done: {done.steps} steps in {seconds:.1f}s "
               f"({done.steps / seconds if seconds else 0:.0f}/s); {len(done.failed)} rows not done")
    if done.interrupted:
        click.echo("已中断：再次运行同一命令即可继续 / interrupted: run the same command again to finish")
        sys.exit(130)
    if done.failed:
        sys.exit(1)


SHOWN_LINES = 40
F = TypeVar("F", bound=Callable[..., Any])


def options(func: F) -> F:
    """The options `idm load` and `idm org import` share."""
    for option in reversed([
        click.option("--dry-run", is_flag=True, help="只检查并显示计划 / check and show the plan only"),
        click.option("--encoding", default="utf-8", show_default=True,
                     type=click.Choice([*ENCODINGS, "gb2312", "cp936"], case_sensitive=False),
                     help="文件编码（Excel 另存的 CSV 常为 gb18030）/ the file's encoding"),
        click.option("--plan-file", type=click.Path(dir_okay=False, path_type=Path), default=None,
                     help="完整计划写入此文件 / write the full plan to this file"),
        click.option("--batch", type=click.IntRange(1, 5000), default=engine.DEFAULT_BATCH, show_default=True,
                     help="每个事务的操作数 / operations per transaction"),
        click.option("--atomic", is_flag=True,
                     help="每批一个事务（RFC 5805）；导入进程被强杀（kill -9）时 slapd 可能崩溃并由守护进程"
                          "重启，宜在维护时段使用 / one transaction per batch: slapd may crash when a "
                          "client holding one is killed -9 (its keeper restarts it): use in maintenance"),
        click.option("--offline", is_flag=True,
                     help="slapd 停止时用 slapadd -q 导入（首次导入或恢复）/ "
                          "slapadd -q into a stopped server"),
    ]):
        func = option(func)
    return func


def register(cli: click.Group, org_group: click.Group) -> None:
    @cli.command("load")
    @click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
    @click.option("--kind", type=click.Choice(["tree", "people", "admins", "legacy", "grants", "ldif",
                                               "transfers"]),
                  default=None, help="默认按表头或扩展名判断 / default: from the header or .ldif")
    @options
    @click.option("--as", "as_uid", envvar="IDM_AS", default=None,
                  help="调动文件：您的登录账号 / a transfer file: your login")
    @click.option("--password-file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
    @click.option("--code", default=None, help="动态验证码（已启用时）/ your second factor's code")
    @click.option("--connections", type=click.IntRange(1, 16), default=4, show_default=True,
                  help="调动文件：同时使用的连接数 / a transfer file: connections at once")
    @pass_ctx
    @friendly
    def load_cmd(ctx: Context, file: Path, kind: str | None, dry_run: bool, encoding: str,
                 plan_file: Path | None, batch: int, atomic: bool, offline: bool, as_uid: str | None,
                 password_file: Path | None, code: str | None, connections: int) -> None:
        """批量导入（组织机构、账号、授权、调动；CSV 或 LDIF）/ bulk load: tree, accounts, grants,
        transfers."""
        if kind == "transfers" or (kind is None and transfers.is_transfer_file(file, encoding)):
            run_transfers(ctx, file, encoding=encoding, dry_run=dry_run, plan_file=plan_file, as_uid=as_uid,
                          password_file=password_file, code=code, connections=connections)
            return
        run(ctx, file, kind=kind, encoding=encoding, dry_run=dry_run, plan_file=plan_file, batch=batch,
            atomic=atomic, offline=offline)

    @org_group.command("import")
    @click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
    @options
    @pass_ctx
    @friendly
    def org_import(ctx: Context, file: Path, dry_run: bool, encoding: str, plan_file: Path | None,
                   batch: int, atomic: bool, offline: bool) -> None:
        """从 CSV（code,name,level,parent[,managed_by]）或 LDIF 导入 / import from CSV or LDIF."""
        run(ctx, file, kind="ldif" if file.suffix.lower() == ".ldif" else "tree", encoding=encoding,
            dry_run=dry_run, plan_file=plan_file, batch=batch, atomic=atomic, offline=offline)
