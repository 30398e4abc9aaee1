"""A real, throwaway slapd per test session, started by the same code as `idm server start`."""

from __future__ import annotations

import os
import re
import socket
from collections.abc import Iterator
from pathlib import Path

import ldap
import pytest
from click.testing import CliRunner, Result

from idm.config import Settings, new_settings
from idm.directory import connection
from idm.directory.session import Session
from idm.ops import embedded

ROOT = Path(__file__).resolve().parents[1]
DEMO = ROOT / "data" / "demo"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def start_server(folder: Path) -> Settings:
    settings = new_settings(folder, port=free_port())
    embedded.init(settings)
    embedded.start(settings)
    return settings


@pytest.fixture(scope="session")
def slapd(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Settings]:
    settings = start_server(tmp_path_factory.mktemp("idm"))
    yield settings
    embedded.stop(settings)


@pytest.fixture(scope="session")
def demo_tree(slapd: Settings) -> Settings:
    """The Inner Mongolia tree with the sample schools, loaded once per session."""
    for name in ("inner-mongolia.csv", "schools-sample.csv"):
        load_tree(slapd, DEMO / name)
    return slapd


def load_tree(settings: Settings, path: Path) -> None:
    """Units from a file, the way `idm org import` loads them: planned whole, then written by
    the loader (made by the first load, as on a new deployment)."""
    from idm.bulk import load

    load.load_file(settings, path, kind="ldif" if path.suffix == ".ldif" else "tree")


PASSWORD_LINE = re.compile(r"one-time password \(shown once, must change at first login\): (\S+)")


@pytest.fixture(scope="session")
def bootstrapped(demo_tree: Settings) -> tuple[Settings, dict[str, str]]:
    """Service accounts and the province's three admins, with their one-time passwords."""
    result = run_cli(demo_tree, "bootstrap", str(DEMO / "province-admins.csv"))
    assert result.exit_code == 0, result.output
    created = re.findall(r"created: uid=([^,]+),", result.output)
    return demo_tree, dict(zip(created, PASSWORD_LINE.findall(result.output), strict=True))


def power_loss(settings: Settings) -> int:
    """kill -9 of slapd and of its keeper, as a power loss does (a crash of slapd alone is
    followed by the keeper's restart). The pid slapd had."""
    import signal
    import time

    keeper = embedded.status(settings).keeper
    if keeper is not None:
        os.kill(keeper, signal.SIGKILL)
    pid = int(settings.pid_file.read_text())
    os.kill(pid, signal.SIGKILL)
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        if not any(embedded._alive(p) for p in (keeper, pid) if p is not None):
            return pid
        time.sleep(0.05)
    raise AssertionError(f"slapd {pid} survived SIGKILL")


def ops(settings: Settings) -> Session:
    return Session(connection.ops_connection(settings.ldapi_uri), settings.suffix)


def snapshot(settings: Settings) -> dict[str, dict[str, list[bytes]]]:
    """Every entry of the main database, raw, with operational attributes (password hashes,
    policy state) but the stamps below: 'unchanged' means equal."""
    with ops(settings) as session:
        found = session.conn.search_s(settings.suffix, ldap.SCOPE_SUBTREE, "(objectClass=*)",
                                      ["*", "+"])
    return {dn: {k: v for k, v in attrs.items() if k not in STAMPS} for dn, attrs in found}


# The lastbind overlay records an account's first bind of the day (authTimestamp), which also
# moves the entry's modify stamps and the suffix's contextCSN: a sign-in, not a change an action
# made. Snapshots compare everything else (every value an action could write).
STAMPS = ("authTimestamp", "modifyTimestamp", "modifiersName", "entryCSN", "contextCSN")


def run_cli(settings: Settings, *args: str) -> Result:
    from idm_cli.main import cli

    return CliRunner().invoke(cli, ["--data-dir", str(settings.data_dir), *args])


@pytest.fixture(scope="session")
def world(bootstrapped: tuple[Settings, dict[str, str]], tmp_path_factory: pytest.TempPathFactory):  # type: ignore[no-untyped-def]
    """Hohhot's three admins and a delegated school, for the delegated-administration tests."""
    from tests import world as w

    return w.build(bootstrapped[0], tmp_path_factory.mktemp("world") / "school.csv")


def web_app(world, name: str, profile: str | None = None):  # type: ignore[no-untyped-def]
    """A web UI app on the test directory, with its own session store, limits reset."""
    import dataclasses

    from webui import create_app
    from webui.security import limiter
    from webui.settings import WebSettings

    idm_settings = world.settings
    if profile:
        idm_settings = dataclasses.replace(idm_settings, password_profile=profile)
    settings = WebSettings(idm=idm_settings, secret_key=f"{name}-test-secret-key-0123456789",
                           secure_cookies=False, sessions_db=world.settings.data_dir / f"web-{name}.sqlite")
    app = create_app(settings)
    app.config["TESTING"] = True
    with app.test_request_context():
        limiter.reset()
    return app


def totp_code(secret_b32: str, steps_ahead: int = 0) -> str:
    import time

    import pyotp

    return str(pyotp.TOTP(secret_b32).at((int(time.time()) // 30 + steps_ahead) * 30))


def enrol_factor(settings: Settings, dn: str) -> str:
    """Enrol a second factor for an account, as the web UI's enrolment page does; its secret."""
    from idm.auth import totp
    from idm.directory import lookup

    enrolment = totp.begin("t")
    with lookup.service_session(settings.ldap_uri, settings.suffix, settings.secrets_dir) as service:
        totp.confirm(service, dn, enrolment, totp_code(enrolment.secret))
    return enrolment.secret


@pytest.fixture(scope="session")
def cli_admins(world, tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:  # type: ignore[no-untyped-def]
    """Hohhot's three admins as the CLI has them: accounts `cli.<role>` with an enrolled second
    factor (mlps3 requires one), each signed in once with `idm login`; the kept sessions live in a
    temporary folder. Maps role -> uid."""
    import os

    from tests import world as w

    os.environ["IDM_SESSION_DIR"] = str(tmp_path_factory.mktemp("cli-sessions"))
    password = tmp_path_factory.mktemp("cli-password") / "password"
    password.write_text(w.PASSWORD, encoding="utf-8")
    uids = {}
    for role in ("sysadmin", "secadmin", "auditor"):
        with ops(world.settings) as session:
            dn = w.make_admin(session, world.nodes["own"], f"cli.{role}", role)
        secret = enrol_factor(world.settings, dn)
        result = run_cli(world.settings, "login", "--as", f"cli.{role}", "--password-file", str(password),
                         "--code", totp_code(secret, 1))
        assert result.exit_code == 0, result.output
        uids[role] = f"cli.{role}"
    return uids


# --lang and LANGUAGE (with Debian's chromium-l10n) make date fields read 年/月/日 as in China
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run", "--disable-quic",
                 "--lang=zh-CN"]


@pytest.fixture(scope="module")
def browser():  # type: ignore[no-untyped-def]
    """Debian's Chromium, driven by Playwright (no browser download)."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        b = p.chromium.launch(executable_path="/usr/bin/chromium", args=CHROMIUM_ARGS,
                              env={**os.environ, "LANGUAGE": "zh_CN:zh"})
        yield b
        b.close()

