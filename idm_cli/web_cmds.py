"""`idm web start|stop|status`: the web UI under gunicorn, beside the embedded slapd."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import click

from idm.auth import sessions
from idm.errors import ServerError
from idm_cli.common import Context, friendly, pass_ctx


def _pid_file(ctx: Context) -> Path:
    return ctx.data_dir / "run" / "web.pid"


def _running(ctx: Context) -> int | None:
    try:
        pid = int(_pid_file(ctx).read_text().strip())
        os.kill(pid, 0)
        return pid
    except (OSError, ValueError):
        return None


def reload_if_running(ctx: Context) -> bool:
    """Have a running web UI start fresh workers (gunicorn's HUP), which read idm.json again:
    after `idm server tls` the old ones would still dial the plain port slapd now refuses."""
    import signal

    pid = _running(ctx)
    if pid is None:
        return False
    os.kill(pid, signal.SIGHUP)
    return True


@click.group("web")
def web_group() -> None:
    """Web 界面 / the web UI (gunicorn)."""


@web_group.command("start")
@click.option("--bind", default="127.0.0.1:8080", show_default=True)
@click.option("--workers", type=int, default=2, show_default=True)
@click.option("--insecure-cookies", is_flag=True,
              help="不设置 Secure（仅限本机 http 演示）/ cookies without Secure, for a local http demo")
@pass_ctx
@friendly
def web_start(ctx: Context, bind: str, workers: int, insecure_cookies: bool) -> None:
    """启动 Web 界面 / start the web UI in the background."""
    settings = ctx.settings()  # the data folder must be initialised
    if _running(ctx):
        click.echo(f"已在运行 / already running: http://{bind}/")
        return
    env = {**os.environ, "IDM_DATA_DIR": str(ctx.data_dir)}
    if insecure_cookies:
        env["IDM_WEB_INSECURE_COOKIES"] = "1"
    # shared files made once, here, before any worker: workers never race to create them
    sessions.prepare(settings.sessions_db)
    from webui.ratelimit_store import SqliteStorage  # Flask and limits: only for this command

    SqliteStorage(f"idmsqlite://{settings.data_dir / 'webui-limits.sqlite'}")
    log = ctx.data_dir / "log" / "web.log"
    gunicorn = Path(sys.executable).with_name("gunicorn")
    subprocess.run([str(gunicorn), "--daemon", "--pid", str(_pid_file(ctx)), "--bind", bind,
                    "--workers", str(workers), "--error-logfile", str(log), "--access-logfile", str(log),
                    "webui:create_app()"], env=env, check=True)
    for _ in range(100):
        try:
            urllib.request.urlopen(f"http://{bind}/login", timeout=1)  # noqa: S310 - our own loopback
            click.echo(f"已启动 / started: http://{bind}/")
            return
        except OSError:
            time.sleep(0.1)
    raise ServerError("Web 界面未能启动，见 " + str(log), f"the web UI did not start; see {log}")


@web_group.command("stop")
@pass_ctx
@friendly
def web_stop(ctx: Context) -> None:
    """停止 Web 界面 / stop the web UI."""
    pid = _running(ctx)
    if pid is None:
        click.echo("未在运行 / not running")
        return
    os.kill(pid, signal.SIGTERM)
    click.echo("已停止 / stopped")
