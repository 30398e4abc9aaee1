"""Initialise, start, stop and query an embedded slapd under a data folder.

slapd runs in the foreground (`-d`), as the child of its keeper (`idm.ops.keeper`) in a session
of its own, so the CLI can leave it running, its log goes to `<data>/log/slapd.log` rather than
to a syslog that may not exist, and a crash is followed by a restart.
"""

from __future__ import annotations

import io
import logging
import os
import re
import shutil
import signal
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import ldap
import ldif

from idm.config import Settings, save_settings
from idm.directory.connection import external_bind
from idm.errors import ServerError
from idm.ops import crash, render

log = logging.getLogger(__name__)
SLAPD = os.environ.get("IDM_SLAPD", "/usr/sbin/slapd")
SLAPADD = os.environ.get("IDM_SLAPADD", "/usr/sbin/slapadd")
START_TIMEOUT = 20.0

# keepers (and so slapd processes) started by this Python process, kept so they can be waited
# for (no zombies, no "still running" warnings when a test session ends).
_children: dict[int, subprocess.Popen[bytes]] = {}


@dataclass(frozen=True)
class Status:
    initialised: bool
    pid: int | None
    answering: bool
    keeper: int | None = None

    @property
    def running(self) -> bool:
        """slapd runs, or its keeper is about to start it again."""
        return self.pid is not None or self.keeper is not None


def _require(binary: str) -> None:
    if not Path(binary).exists():
        raise ServerError(
            f"找不到 {binary}：请先运行 scripts/setup.sh 安装 slapd",
            f"{binary} not found: run scripts/setup.sh to install slapd",
        )


def _run(args: list[str], what: str) -> str:
    proc = subprocess.run(args, capture_output=True, text=True, check=False)
    if proc.returncode != 0:
        raise ServerError(
            f"{what} 失败：{proc.stderr.strip()[-2000:]}",
            f"{what} failed: {proc.stderr.strip()[-2000:]}",
        )
    return proc.stdout + proc.stderr


def is_initialised(settings: Settings) -> bool:
    return (settings.config_dir / "cn=config.ldif").is_file()


def init(settings: Settings) -> bool:
    """Create the data folder, cn=config and the top entries. False if it already existed."""
    if is_initialised(settings):
        return False
    _require(SLAPD)
    _require(SLAPADD)
    data = settings.data_dir
    for sub in ("slapd.d", "db/main", "db/accesslog", "run", "log"):
        (data / sub).mkdir(parents=True, exist_ok=True)
    settings.secrets_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
    os.chmod(data, 0o750)
    config_ldif = data / "config.ldif"
    config_ldif.write_text(render.render_config(settings), encoding="utf-8")
    try:
        _run([SLAPADD, "-n0", "-F", str(settings.config_dir), "-l", str(config_ldif)],
             "slapadd cn=config")
        check_config(settings)
        base = data / "base.ldif"
        base.write_text(_entries_ldif(render.base_entries(settings.suffix, settings.password_profile)),
                        encoding="utf-8")
        _run([SLAPADD, "-F", str(settings.config_dir), "-b", settings.suffix, "-l", str(base)],
             "slapadd base entries")
    except ServerError:
        shutil.rmtree(settings.config_dir, ignore_errors=True)
        raise
    save_settings(settings)
    return True


def check_config(settings: Settings) -> str:
    """`slapd -Ttest -u`: slapd's own verdict on the configuration (databases not opened)."""
    return _run([SLAPD, "-Ttest", "-u", "-F", str(settings.config_dir)], "slapd -Ttest")


def _entries_ldif(entries: list[tuple[str, dict[str, list[bytes]]]]) -> str:
    out = io.StringIO()
    writer = ldif.LDIFWriter(out, cols=10000)
    for dn, attrs in entries:
        writer.unparse(dn, attrs)
    return out.getvalue()


def keeper_pid_file(settings: Settings) -> Path:
    return settings.data_dir / "run" / "keeper.pid"


def _read_keeper_pid(settings: Settings) -> int | None:
    """The keeper's pid, if that process is alive and is a keeper (pids are reused)."""
    pid = _pid_in(keeper_pid_file(settings))
    if pid is None:
        return None
    try:
        cmdline = Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return pid
    return pid if b"idm.ops.keeper" in cmdline else None


def _read_pid(settings: Settings) -> int | None:
    return _pid_in(settings.pid_file)


def _pid_in(path: Path) -> int | None:
    try:
        pid = int(path.read_text().strip())
    except (OSError, ValueError):
        return None
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return None
    except PermissionError:
        return pid
    return pid


PROBE_TIMEOUT = 3.0


def probe(settings: Settings) -> str | None:
    """None when slapd takes a bind (SASL EXTERNAL over ldapi) and reads its root entry within
    PROBE_TIMEOUT each: the listener, a worker thread, the bind and the database all work;
    otherwise what failed. The start, `status` and the keeper all ask this one question. A
    search alone is not enough: the hung slapd of the fault tests still answered anonymous
    searches while every bind waited."""
    conn = ldap.initialize(settings.ldapi_uri)
    try:
        conn.set_option(ldap.OPT_NETWORK_TIMEOUT, PROBE_TIMEOUT)
        conn.set_option(ldap.OPT_TIMEOUT, PROBE_TIMEOUT)
        external_bind(conn)
        conn.search_st("", ldap.SCOPE_BASE, "(objectClass=*)", ["1.1"], timeout=PROBE_TIMEOUT)
        return None
    except ldap.LDAPError as err:
        info = err.args[0] if err.args and isinstance(err.args[0], dict) else {}
        return str(info.get("desc", type(err).__name__))
    finally:
        conn.unbind_s()


def _answers(settings: Settings) -> bool:
    return probe(settings) is None


def clear_socket(settings: Settings) -> None:
    """The ldapi socket a stopped or crashed slapd left behind, which a new one cannot bind."""
    settings.socket_path.parent.mkdir(parents=True, exist_ok=True)
    settings.socket_path.unlink(missing_ok=True)


def status(settings: Settings) -> Status:
    pid = _read_pid(settings)
    return Status(
        initialised=is_initialised(settings),
        pid=pid,
        answering=pid is not None and _answers(settings),
        keeper=_read_keeper_pid(settings),
    )


def command(settings: Settings, cookies: list[str] | None = None) -> list[str]:
    """slapd in the foreground on the LDAP port, the ldapi socket and (with TLS) the ldaps port;
    after a crash, with where its replication consumers start (`idm.server.crash`)."""
    urls = f"{settings.plain_uri}/ {settings.ldapi_uri}"
    if settings.tls_port:
        urls += f" ldaps://{settings.host}:{settings.tls_port}/"
    starts = [arg for cookie in cookies or [] for arg in ("-c", cookie)]
    return [SLAPD, *debug_levels(settings.log_level), "-F", str(settings.config_dir), "-h", urls, *starts]


def debug_levels(log_level: str) -> list[str]:
    """slapd in the foreground writes to its standard error only what `-d` names (olcLogLevel
    goes to a syslog that may not exist): `none` -> `-d 0`, `stats sync` -> `-d stats -d sync`."""
    levels = [w for w in log_level.replace(",", " ").split() if w != "none"]
    bad = [w for w in levels if not re.fullmatch(r"[a-z0-9]+", w)]
    if bad:
        raise ServerError(f"idm.json 中 log_level 无效：{' '.join(bad)}（如 stats）",
                          f"invalid log_level in idm.json: {' '.join(bad)} (e.g. stats)")
    return [arg for level in levels or ["0"] for arg in ("-d", level)]


def run(settings: Settings) -> None:
    """Replace this process with slapd (containers, systemd): the supervisor then sees slapd's
    own exit status and signals, and no Python process stays in between."""
    if not is_initialised(settings):
        raise ServerError("数据目录未初始化", f"{settings.data_dir} is not initialised")
    _require(SLAPD)
    clear_socket(settings)
    argv = command(settings, after_a_crash(settings))
    os.execv(argv[0], argv)


def after_a_crash(settings: Settings) -> list[str]:
    """slapd left its pid file behind (killed, power lost): where its replication consumers
    start (`idm.server.crash`), or replication through it may stall."""
    if not crash.crashed(settings):
        return []
    cookies = crash.cookies(settings)
    log.warning("slapd had not stopped cleanly; its consumers start from: %s", cookies or "(none)")
    settings.pid_file.unlink(missing_ok=True)
    return cookies


def start(settings: Settings) -> bool:
    """Start slapd under its keeper and wait until it answers. False if it was already running."""
    if not is_initialised(settings):
        raise ServerError("数据目录未初始化", f"{settings.data_dir} is not initialised")
    current = status(settings)
    if current.answering:
        return False
    if current.running:
        stop(settings)
    _require(SLAPD)
    clear_socket(settings)
    _require_free_port(settings)
    log_path = settings.data_dir / "log" / "slapd.log"
    log_path.parent.mkdir(exist_ok=True)
    with open(log_path, "ab") as log_file:
        proc = subprocess.Popen([sys.executable, "-m", "idm.ops.keeper", str(settings.data_dir)],
                                stdin=subprocess.PIPE, stdout=log_file, stderr=log_file,
                                start_new_session=True)
    assert proc.stdin is not None
    proc.stdin.write(settings.to_json().encode())
    proc.stdin.close()
    _children[proc.pid] = proc
    deadline = time.monotonic() + START_TIMEOUT
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            _children.pop(proc.pid, None)
            tail = log_path.read_text(errors="replace")[-2000:].strip() or (
                f"exit code {proc.returncode}; set log_level in idm.json (e.g. \"stats\") for details")
            raise ServerError(f"slapd 启动失败：{tail}", f"slapd failed to start: {tail}")
        if _answers(settings):
            return True
        time.sleep(0.1)
    stop(settings)
    raise ServerError("slapd 启动超时", f"slapd did not answer within {START_TIMEOUT:.0f}s")


def _require_free_port(settings: Settings) -> None:
    """A clear message for the commonest failure: another server holds the port."""
    import socket

    with socket.socket() as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((settings.host, settings.port))
        except OSError:
            raise ServerError(
                f"端口 {settings.host}:{settings.port} 已被占用（另一个 slapd？请先 idm server stop，"
                "或在 idm.json 中修改 port）",
                f"port {settings.host}:{settings.port} is in use (another slapd? stop it first, or "
                "change port in idm.json)",
            ) from None


def stop(settings: Settings, timeout: float = 30.0) -> bool:
    """Stop slapd cleanly (SIGTERM lets it flush), through its keeper when it has one, so that
    the keeper does not start it again. False if neither was running."""
    keeper = _read_keeper_pid(settings)
    pid = _read_pid(settings)
    if keeper is None and pid is None:
        return False
    first = keeper if keeper is not None else pid
    assert first is not None
    os.kill(first, signal.SIGTERM)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if not any(_alive(p) for p in (keeper, pid) if p is not None):
            return True
        time.sleep(0.05)
    for p in (keeper, pid):
        if p is not None and _alive(p):
            os.kill(p, signal.SIGKILL)
            _reap(p)
    return True


def _alive(pid: int) -> bool:
    _reap(pid)
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


def _reap(pid: int) -> None:
    """Collect the exit status when the keeper is our own child (tests), so it is not a zombie."""
    child = _children.get(pid)
    if child is not None and child.poll() is not None:
        _children.pop(pid, None)
