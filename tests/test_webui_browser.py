"""The web UI in a real browser: Debian's Chromium driven by Playwright, against the real slapd.
Screenshots of the pages go to artifacts/screenshots/."""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Iterator

import pytest
from flask import Flask
from playwright.sync_api import Browser, Page, expect
from werkzeug.serving import make_server

from tests import world as w
from tests.conftest import ROOT, free_port, ops
from webui import create_app
from webui.security import limiter
from webui.settings import WebSettings

SHOTS = ROOT / "artifacts" / "screenshots"


@pytest.fixture(scope="module")
def base_url(world: w.World) -> Iterator[str]:
    settings = WebSettings(idm=world.settings, secret_key="browser-test-secret-key-0123456789",
                           secure_cookies=False, sessions_db=world.settings.data_dir / "web-browser.sqlite")
    with serve(create_app(settings)) as url:
        yield url


@contextlib.contextmanager
def serve(app: Flask) -> Iterator[str]:
    """The app on a free loopback port in a thread, its limits fresh (the HTTP tests' attempts
    from 127.0.0.1 are not this browser's)."""
    with app.test_request_context():
        limiter.reset()
    port = free_port()
    server = make_server("127.0.0.1", port, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.shutdown()
        thread.join()


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
    secret = page.locator("code.secret").get_attribute("data-secret") or ""
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
    with serve(create_app(settings)) as url:
        yield url, settings


def test_the_console_at_a_phones_width_and_by_keyboard(
    world: w.World, console: tuple[str, WebSettings], browser: Browser
) -> None:
    """At 375 px nothing runs off the side of the page; from the keyboard alone the skip link,
    the menu and a form's fields are reached in order, each with a visible focus ring. (The whole
    top-down chain at 1366 px is tests/test_webui_chain.py.)"""
    url, _ = console
    context = browser.new_context(locale="zh-CN", viewport={"width": 375, "height": 720})
    phone = context.new_page()
    sign_in(phone, url, "m.sysadmin", w.PASSWORD)
    phone.wait_for_url(f"{url}/")
    for path in ("/admin/", "/admin/forms/", "/admin/forms/new?kind=registration", "/admin/users",
                 "/admin/account/m.secadmin"):
        phone.goto(url + path)
        overflow = phone.evaluate("document.documentElement.scrollWidth - window.innerWidth")
        assert overflow <= 0, (path, overflow)
    shot(phone, "console-375")
    phone.goto(f"{url}/admin/forms/new?kind=registration")
    phone.keyboard.press("Tab")
    assert phone.evaluate("document.activeElement.className") == "skip"
    phone.keyboard.press("Enter")
    reached = []
    for _ in range(40):
        phone.keyboard.press("Tab")
        reached.append(phone.evaluate(
            "document.activeElement.name || document.activeElement.textContent.trim()"))
        if reached[-1] == "name":
            break
    assert "unit" in reached and reached[-1] == "name", reached  # from the skip link into the form
    ring = phone.evaluate("getComputedStyle(document.activeElement).outlineStyle")
    assert ring != "none"
    context.close()


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
