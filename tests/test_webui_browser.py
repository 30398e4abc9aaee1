"""The web UI in a real browser: Debian's Chromium driven by Playwright, against the real slapd.
Screenshots of the pages go to artifacts/screenshots/."""

from __future__ import annotations

import threading
from collections.abc import Iterator

import pytest
from playwright.sync_api import Browser, Page, expect, sync_playwright
from werkzeug.serving import make_server

from tests import world as w
from tests.conftest import ROOT, free_port, ops
from webui import create_app
from webui.security import limiter
from webui.settings import WebSettings

SHOTS = ROOT / "artifacts" / "screenshots"
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run", "--disable-quic"]


@pytest.fixture(scope="module")
def base_url(world: w.World) -> Iterator[str]:
    settings = WebSettings(idm=world.settings, secret_key="browser-test-secret-key-0123456789",
                           secure_cookies=False, sessions_db=world.settings.data_dir / "web-browser.sqlite")
    app = create_app(settings)
    with app.test_request_context():
        limiter.reset()  # the HTTP tests' attempts from 127.0.0.1 are not this browser's
    port = free_port()
    server = make_server("127.0.0.1", port, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{port}"
    server.shutdown()
    thread.join()


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    with sync_playwright() as p:
        b = p.chromium.launch(executable_path="/usr/bin/chromium", args=CHROMIUM_ARGS)
        yield b
        b.close()


@pytest.fixture()
def page(browser: Browser) -> Iterator[Page]:
    context = browser.new_context(locale="zh-CN", viewport={"width": 1000, "height": 720})
    p = context.new_page()
    yield p
    context.close()


def shot(page: Page, name: str) -> None:
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SHOTS / f"{name}.png"), full_page=True)


def person(world: w.World, password: str, must_change: bool = False, disabled: bool = False) -> str:
    dn = world.target("person", "own")
    with ops(world.settings) as session:
        session.set_password(dn, password)  # (a password change lifts a lock: disable afterwards)
        session.replace(dn, {"pwdReset": ["TRUE"] if must_change else []})
        if disabled:
            session.replace(dn, {"idmStatus": ["disabled"], "pwdAccountLockedTime": ["000001010000Z"]})
    return dn.split(",")[0].split("=")[1]


def sign_in(page: Page, base_url: str, uid: str, password: str) -> None:
    page.goto(f"{base_url}/login")
    page.fill("input[name=uid]", uid)
    page.fill("input[name=password]", password)
    page.click("main button[type=submit]")


def test_sign_in_and_my_account(world: w.World, base_url: str, page: Page) -> None:
    page.goto(f"{base_url}/login")
    shot(page, "login")
    uid = person(world, "Browser-Passw0rd-1")
    sign_in(page, base_url, uid, "Browser-Passw0rd-1")
    page.wait_for_url(f"{base_url}/")
    assert page.locator("h1").inner_text() == "我的账号"
    assert uid in page.content()
    shot(page, "account")


def test_forced_change_after_reset_with_weak_password_refused(world: w.World, base_url: str,
                                                             page: Page) -> None:
    uid = person(world, "Reset-Passw0rd-1", must_change=True)
    sign_in(page, base_url, uid, "Reset-Passw0rd-1")
    page.wait_for_url(f"{base_url}/password")
    assert "请先设置新密码" in page.content()
    for field, value in (("current", "Reset-Passw0rd-1"), ("new", "password1"), ("confirm", "password1")):
        page.fill(f"input[name={field}]", value)
    page.click("main button[type=submit]")
    expect(page.locator(".flash.error").first).to_be_visible()
    assert any("是常见密码" in text for text in page.locator(".flash.error").all_inner_texts())
    shot(page, "password-refused")
    for field, value in (("current", "Reset-Passw0rd-1"), ("new", "Steppe-Wind-2026!"),
                         ("confirm", "Steppe-Wind-2026!")):
        page.fill(f"input[name={field}]", value)
    page.click("main button[type=submit]")
    page.wait_for_url(f"{base_url}/")
    assert "密码已修改" in page.content()


def test_locked_account_message_and_english(world: w.World, base_url: str, page: Page) -> None:
    uid = person(world, "Locked-Passw0rd-1", disabled=True)
    sign_in(page, base_url, uid, "Locked-Passw0rd-1")
    expect(page.locator(".flash.error")).to_contain_text("账号或密码错误")  # as for a wrong password
    shot(page, "locked")
    page.goto(f"{base_url}/login?lang=en")
    assert page.locator("h1").inner_text() == "Sign in"
    shot(page, "login-en")


def test_admin_signs_in_with_a_second_factor(world: w.World, base_url: str, page: Page) -> None:
    import time

    import pyotp

    dn = world.target("admin", "child", role="secadmin")
    with ops(world.settings) as session:
        session.set_password(dn, "Admin-Passw0rd-1")
        session.replace(dn, {"pwdReset": []})
    uid = dn.split(",")[0].split("=")[1]
    sign_in(page, base_url, uid, "Admin-Passw0rd-1")
    page.wait_for_url(f"{base_url}/mfa/enrol")
    expect(page.locator("img")).to_be_visible()
    shot(page, "totp-enrol")
    secret = page.locator("code").inner_text()
    page.fill("input[name=code]", pyotp.TOTP(secret).now())
    page.click("main button[type=submit]")
    page.wait_for_url(f"{base_url}/")
    page.click("header button[type=submit]")  # sign out
    page.wait_for_url(f"{base_url}/login")
    sign_in(page, base_url, uid, "Admin-Passw0rd-1")
    page.wait_for_url(f"{base_url}/mfa/")
    shot(page, "totp-code")
    page.fill("input[name=code]", pyotp.TOTP(secret).at((int(time.time()) // 30 + 1) * 30))
    page.click("main button[type=submit]")
    page.wait_for_url(f"{base_url}/")
    assert "管理类用户" in page.content()


@pytest.fixture(scope="module")
def console(world: w.World) -> Iterator[tuple[str, WebSettings]]:
    """A second server with the nist profile, so the console flow needs no second factor."""
    import dataclasses

    settings = WebSettings(idm=dataclasses.replace(world.settings, password_profile="nist"),
                           secret_key="console-browser-secret-0123456789", secure_cookies=False,
                           sessions_db=world.settings.data_dir / "web-console-browser.sqlite")
    app = create_app(settings)
    port = free_port()
    server = make_server("127.0.0.1", port, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{port}", settings
    server.shutdown()
    thread.join()


def test_sysadmin_creates_from_a_form_secadmin_grants_auditor_sees_both(
    world: w.World, console: tuple[str, WebSettings], browser: Browser
) -> None:
    from idm import forms
    from idm.forms import FormData

    url, _ = console
    session, actor = world.session("sysadmin")
    with session:
        form = forms.add(session, actor, FormData(kind="registration", unit=w.CITY, name="浏览器丙",
                                                  id_number=w.id_number(446), mobile="13900000446"))

    def as_role(role: str) -> Page:
        context = browser.new_context(locale="zh-CN", viewport={"width": 1000, "height": 720})
        p = context.new_page()
        sign_in(p, url, f"m.{role}", w.PASSWORD)
        p.wait_for_url(f"{url}/")
        return p

    sysadmin = as_role("sysadmin")
    sysadmin.goto(f"{url}/admin/create")
    sysadmin.fill("input[name=form]", form.form_id)
    sysadmin.fill("input[name=uid]", "browser.bing")
    sysadmin.click("main button[type=submit]")
    expect(sysadmin.locator("#one-time")).to_be_visible()
    shot(sysadmin, "console-created")
    with ops(world.settings) as session:
        created = next(dn for dn, _ in session.search(world.settings.suffix, "(uid=browser.bing)", ["1.1"]))
    request = world.form_about("grant", created, grants_add=["teacher#viewer"])
    secadmin = as_role("secadmin")
    secadmin.goto(f"{url}/admin/account/browser.bing")
    secadmin.select_option("select[name=grant]", "teacher#viewer")
    secadmin.fill("main form[action$='/grant'] input[name=form]", request)
    secadmin.click("main form[action$='/grant'] button[type=submit]")
    expect(secadmin.locator("main")).to_contain_text("teacher#viewer")
    shot(secadmin, "console-granted")
    auditor = as_role("auditor")
    auditor.goto(f"{url}/admin/audit")
    expect(auditor.locator("main")).to_contain_text("browser.bing")
    expect(auditor.locator("main")).to_contain_text(form.form_id)
    assert "m.sysadmin" in auditor.content() and "m.secadmin" in auditor.content()
    shot(auditor, "console-audit")


def test_an_expired_session_sends_back_to_sign_in(world: w.World, base_url: str, page: Page) -> None:
    import sqlite3

    uid = person(world, "Expire-Passw0rd-1")
    sign_in(page, base_url, uid, "Expire-Passw0rd-1")
    page.wait_for_url(f"{base_url}/")
    db = sqlite3.connect(world.settings.data_dir / "web-browser.sqlite")
    db.execute("update sessions set seen = seen - 7200")  # as if idle for two hours
    db.commit()
    db.close()
    page.reload()
    page.wait_for_url(f"{base_url}/login")
    expect(page.locator(".flash")).to_contain_text("会话已结束")
    shot(page, "session-expired")
