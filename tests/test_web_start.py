"""`idm web start` as a site runs it: gunicorn with two workers on a fresh data folder. Both
boot (the shared files are made once, before any worker), the files are 0600, and the sign-in
rate limit is one count for all workers, not one per process."""

from __future__ import annotations

import http.cookiejar
import re
import stat
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path

from idm.config import new_settings
from idm.ops import embedded
from tests.conftest import free_port, run_cli


def test_two_workers_boot_on_a_fresh_folder_and_share_one_limit(tmp_path: Path) -> None:
    settings = new_settings(tmp_path / "fresh", port=free_port())
    embedded.init(settings)
    port = free_port()
    started = run_cli(settings, "web", "start", "--bind", f"127.0.0.1:{port}", "--workers", "2",
                      "--insecure-cookies")
    try:
        assert started.exit_code == 0, started.output
        log = (settings.data_dir / "log" / "web.log").read_text(encoding="utf-8")
        assert "Worker failed to boot" not in log and "database is locked" not in log
        for name in ("sessions.sqlite", "webui-limits.sqlite"):
            assert stat.S_IMODE((settings.data_dir / name).stat().st_mode) == 0o600, name
        jar = http.cookiejar.CookieJar()
        opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(jar))
        page = opener.open(f"http://127.0.0.1:{port}/login").read().decode()
        token = re.search(r'name="csrf_token"[^>]*value="([^"]+)"', page).group(1)  # type: ignore[union-attr]
        statuses = []
        for i in range(14):  # fresh connections: the kernel hands them to either worker
            fields = {"uid": f"nobody{i}", "password": "x", "csrf_token": token}
            body = urllib.parse.urlencode(fields).encode()
            try:
                statuses.append(opener.open(f"http://127.0.0.1:{port}/login", body).status)
            except urllib.error.HTTPError as err:
                statuses.append(err.code)
                assert err.code != 429 or err.headers.get("Retry-After"), "a 429 says when to retry"
        assert statuses.index(429) == 10, statuses  # "10 per minute" for all workers together
    finally:
        run_cli(settings, "web", "stop")


def test_server_tls_reloads_a_running_web_ui(tmp_path: Path) -> None:
    """After `idm server tls`, slapd refuses plain simple binds; a web UI started before it
    must use ldaps at once, or every sign-in would say the directory is unavailable."""
    import time

    from tests.conftest import DEMO

    settings = new_settings(tmp_path / "tls", port=free_port())
    embedded.init(settings)
    embedded.start(settings)
    port = free_port()
    try:
        assert run_cli(settings, "org", "import", str(DEMO / "inner-mongolia.csv")).exit_code == 0
        assert run_cli(settings, "bootstrap", str(DEMO / "province-admins.csv")).exit_code == 0
        assert run_cli(settings, "ca", "init").exit_code == 0
        assert run_cli(settings, "web", "start", "--bind", f"127.0.0.1:{port}", "--workers", "2",
                       "--insecure-cookies").exit_code == 0
        tls = run_cli(settings, "server", "tls", "--tls-port", str(free_port()))
        assert tls.exit_code == 0 and "reloaded" in tls.output, tls.output
        time.sleep(3)  # gunicorn replaces its workers
        for _ in range(4):  # every worker
            jar = http.cookiejar.CookieJar()
            opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(jar))
            page = opener.open(f"http://127.0.0.1:{port}/login").read().decode()
            token = re.search(r'name="csrf_token"[^>]*value="([^"]+)"', page).group(1)  # type: ignore[union-attr]
            fields = {"uid": "nmg.sys", "password": "wrong", "csrf_token": token}
            body = urllib.parse.urlencode(fields).encode()
            try:
                answer = opener.open(f"http://127.0.0.1:{port}/login", body).read().decode()
            except urllib.error.HTTPError as err:
                answer = err.read().decode()
                assert err.code != 503, answer
            assert "账号或密码错误" in answer
    finally:
        run_cli(settings, "web", "stop")
        embedded.stop(settings)
