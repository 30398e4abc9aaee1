"""The seed's whole top-down chain from the browser alone (Debian's Chromium, Playwright), on a
directory set up as `make demo` does, with no CLI step after it: the province's admins create
and role a city's three admins from their registration forms, the city does the same for a
county, the county for a school; at the school a business user is registered, created, granted,
given a certificate that the user downloads, disabled with a change form and restored; the
consoles and the auditor's view show it. Screenshots of each step: artifacts/screenshots/chain-*."""

from __future__ import annotations

import itertools
import re
from collections.abc import Iterator
from pathlib import Path

import pyotp
import pytest
from playwright.sync_api import Browser, BrowserContext, Page, expect

from idm.config import Settings
from tests import world as w
from tests.conftest import DEMO, PASSWORD_LINE, load_tree, run_cli, start_server
from tests.test_webui_browser import SHOTS, serve
from webui import create_app
from webui.settings import WebSettings

NEW_PASSWORD = "Grassland-Steppe-2026!"
_shots = iter(range(1, 1000))


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Settings, dict[str, str]]]:
    """A fresh directory as `make demo` makes it: the tree, the sample schools, the province's
    three admins with their one-time passwords."""
    from idm.ops import embedded

    settings = start_server(tmp_path_factory.mktemp("chain"))
    for name in ("inner-mongolia.csv", "schools-sample.csv"):
        load_tree(settings, DEMO / name)
    result = run_cli(settings, "bootstrap", str(DEMO / "province-admins.csv"))
    assert run_cli(settings, "ca", "init").exit_code == 0
    created = re.findall(r"created: uid=([^,]+),", result.output)
    yield settings, dict(zip(created, PASSWORD_LINE.findall(result.output), strict=True))
    embedded.stop(settings)


@pytest.fixture(scope="module")
def base_url(demo: tuple[Settings, dict[str, str]]) -> Iterator[str]:
    settings, _ = demo
    web = WebSettings(idm=settings, secret_key="chain-test-secret-key-0123456789", secure_cookies=False,
                      sessions_db=settings.data_dir / "web-chain.sqlite", trusted_proxies=1)
    with serve(create_app(web)) as url:
        yield url


def shot(page: Page, what: str) -> None:
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SHOTS / f"chain-{next(_shots):02d}-{what}.png"), full_page=True)


_desks = itertools.count(1)


class Person:
    """One admin (or user) at work in a browser window of its own."""

    def __init__(self, browser: Browser, base: str, uid: str) -> None:
        # every person sits at a desk of their own: one address each, behind the one trusted proxy
        self.context: BrowserContext = browser.new_context(
            locale="zh-CN", viewport={"width": 1280, "height": 900},
            extra_http_headers={"X-Forwarded-For": f"10.0.{next(_desks)}.1"})
        self.page = self.context.new_page()
        self.base = base
        self.uid = uid

    def go(self, path: str) -> Page:
        self.page.goto(self.base + path)
        return self.page

    def first_sign_in(self, one_time: str, enrol: bool = True, what: str = "") -> None:
        """The one-time password, a password of one's own, then (admins) the second factor."""
        page = self.go("/login")
        page.fill("input[name=uid]", self.uid)
        page.fill("input[name=password]", one_time)
        page.click("main button[type=submit]")
        page.wait_for_url(self.base + "/password")
        for field, value in (("current", one_time), ("new", NEW_PASSWORD), ("confirm", NEW_PASSWORD)):
            page.fill(f"input[name={field}]", value)
        page.click("main button[type=submit]")
        if enrol:
            page.wait_for_url(self.base + "/mfa/enrol")
            if what:
                shot(page, f"{what}-enrol")
            secret = page.locator("code.secret").get_attribute("data-secret") or ""
            page.fill("input[name=code]", pyotp.TOTP(secret).now())
            page.click("main button[type=submit]")
        page.wait_for_url(self.base + "/")

    def confirm_first_login(self) -> None:
        page = self.go("/admin/first-login")
        expect(page.locator("main")).not_to_contain_text("不一致")
        page.click("main form button[type=submit]")
        expect(page.locator("main")).to_contain_text("已确认")

    def fill(self, kind: str, unit: str, what: str = "", **fields: str) -> str:
        """Fill in a form of `kind` in the browser; returns the form's number."""
        page = self.go(f"/admin/forms/new?kind={kind}")
        page.select_option("select[name=unit]", unit)
        for name, value in fields.items():
            if name == "role":
                page.select_option("select[name=role]", value)
            elif name == "change_type":
                page.select_option("select[name=change_type]", value)
            elif name == "grant":
                page.check(f"input[name=grants_add][value='{value}']")
            else:
                page.fill(f"[name={name}]", value)
        if what:
            shot(page, f"{what}-form")
        page.click("main form#form-fill button[type=submit]")
        page.wait_for_url(re.compile(r".*/admin/forms/F[0-9]+-.*"))
        expect(page.locator(".flash.success")).to_contain_text("申请单已登记")
        return page.url.rsplit("/", 1)[1]

    def act(self, form_id: str, op_words: str, what: str = "") -> Page:
        """From the form's own page: the action it allows, its confirmation, done."""
        page = self.go(f"/admin/forms/{form_id}")
        page.click(f"ul.todo a.button:has-text('{op_words}')")
        expect(page.locator("h1")).to_contain_text("请确认")
        if what:
            shot(page, f"{what}-confirm")
        page.click("main form button[type=submit]")
        return page

    def slip(self) -> tuple[str, str]:
        """(login, one-time password) from the handover slip."""
        page = self.page
        expect(page.locator("h1")).to_contain_text("一次性密码交接单")
        uid = page.locator("dt:has-text('登录账号') + dd").inner_text()
        return uid, page.locator("#one-time").inner_text()


def test_the_whole_chain_from_the_browser(demo: tuple[Settings, dict[str, str]], base_url: str,
                                          browser: Browser, tmp_path: Path) -> None:
    _, one_time = demo
    people: dict[str, Person] = {}
    for uid in ("nmg.sys", "nmg.sec", "nmg.audit"):
        people[uid] = Person(browser, base_url, uid)
        people[uid].first_sign_in(one_time[uid], what="province" if uid == "nmg.sys" else "")
    shot(people["nmg.sys"].go("/admin/"), "province-console")
    n = iter(range(300_000, 301_000))

    def level(sys: Person, sec: Person, unit: str, names: dict[str, str], tag: str) -> dict[str, Person]:
        """The parent's system admin creates the unit's three admins from their registration forms,
        its security admin gives each the role its form names; each signs in and checks."""
        made = {}
        for role, name in names.items():
            form = sys.fill("registration", unit, what=f"{tag}-{role}" if role == "sysadmin" else "",
                            name=name, id_number=w.id_number(next(n)), mobile="13900000001", role=role,
                            opinion="同意", stamp_date="2026-11-30")
            sys.act(form, "按申请单创建管理员账号", what=f"{tag}-create" if role == "sysadmin" else "")
            uid, password = sys.slip()
            if role == "sysadmin":
                shot(sys.page, f"{tag}-slip")
            sec.act(form, "授予角色和范围", what=f"{tag}-role" if role == "sysadmin" else "")
            expect(sec.page.locator(".flash.success")).to_contain_text("已办理")
            person = Person(browser, base_url, uid)
            person.first_sign_in(password)
            person.confirm_first_login()
            made[role] = person
        return made

    city = level(people["nmg.sys"], people["nmg.sec"], "150100",
                 {"sysadmin": "赵一城", "secadmin": "钱二城", "auditor": "孙三城"}, "city")
    shot(city["sysadmin"].go("/admin/"), "city-console")
    county = level(city["sysadmin"], city["secadmin"], "150102",
                   {"sysadmin": "李一县", "secadmin": "周二县", "auditor": "吴三县"}, "county")
    school = level(county["sysadmin"], county["secadmin"], "2115010201",
                   {"sysadmin": "郑一校", "secadmin": "王二校", "auditor": "冯三校"}, "school")
    sys, sec = school["sysadmin"], school["secadmin"]

    # a business user at the school: registered, created, granted, certified, disabled, restored
    number = w.id_number(next(n))
    registration = sys.fill("registration", "2115010201", what="user", name="欧阳晓明", surname="欧阳",
                            id_number=number, mobile="13900000009")
    sys.act(registration, "按申请单创建业务用户")
    uid, password = sys.slip()
    grant = sys.fill("grant", "2115010201", name="欧阳晓明", id_number=number,
                     account_uid=uid, grant="teacher#viewer")
    sec.act(grant, "授权", what="user-grant")
    cert = sys.fill("cert", "2115010201", name="欧阳晓明", id_number=number, account_uid=uid)
    sec.act(cert, "申请证书")
    account = sec.go(f"/admin/account/{uid}")
    expect(account.locator("main")).to_contain_text("全国教师管理信息系统")
    expect(account.locator("main")).to_contain_text("待签发")
    shot(account, "user-account")
    user = Person(browser, base_url, uid)
    user.first_sign_in(password, enrol=False)
    certs = user.go("/certs/")
    shot(certs, "user-certs")
    certs.click("main form:not([enctype]) button[type=submit]")  # a key made here, as PKCS#12
    shot(certs, "user-cert-issued")
    with certs.expect_download() as download:
        certs.click("a[href$='.p12']")
    assert download.value.path() and Path(download.value.path()).stat().st_size > 500
    disable = sys.fill("change", "2115010201", name="欧阳晓明", id_number=number,
                       account_uid=uid, change_type="disable", reason="调离本校")
    sys.act(disable, "停用", what="user-disable")
    expect(sys.go(f"/admin/account/{uid}").locator("#status")).to_contain_text("停用")
    gone = user.go("/")
    expect(gone.locator("main")).to_contain_text("登录")  # the session ended with the disable
    restore = sys.fill("change", "2115010201", name="欧阳晓明", id_number=number,
                       account_uid=uid, change_type="restore")
    sys.act(restore, "恢复")
    expect(sys.go(f"/admin/account/{uid}").locator("#status")).to_contain_text("启用")

    audit = school["auditor"].go("/admin/audit/")
    for words in ("欧阳晓明", "按申请单创建业务用户", "停用", grant, disable, "郑一校", "系统管理员"):
        expect(audit.locator("main")).to_contain_text(words)
    shot(audit, "school-audit")
    # one row per admin action; its LDAP writes a click away
    row = audit.locator(f"tbody tr:has-text('{disable}'):has-text('停用')").first
    row.locator("details summary").click()
    expect(row.locator("details ul")).to_contain_text("状态")
    mine = school["auditor"].go(f"/admin/audit/?form={disable}")
    expect(mine.locator("tbody tr")).to_have_count(2)  # the form recorded, the disable on it
    mine.locator("tbody tr:has-text('停用') details summary").click()
    shot(mine, "school-audit-form")
    city_audit = city["auditor"].go("/admin/audit/")
    expect(city_audit.locator("main")).to_contain_text("李一县")  # the city's admins created the county's
    shot(city_audit, "city-audit")

    # the local operator publishes the city's evidence pack; the city's auditor checks it here
    from datetime import datetime
    from zoneinfo import ZoneInfo

    settings, _ = demo
    today = datetime.now(ZoneInfo("Asia/Shanghai")).strftime("%Y-%m-%d")
    made = run_cli(settings, "compliance", "pack", "150100", "--from", today, "--to", today,
                   "--out", str(tmp_path / "pack"), "--publish")
    assert made.exit_code == 0, made.output
    packs = city["auditor"].go("/admin/audit/packs/")
    shot(packs, "city-packs")
    packs.click("main a:has-text('校验')")
    expect(packs.locator("main")).to_contain_text("完好")
    expect(packs.locator("main")).to_contain_text("本站的封存公钥")
    shot(packs, "city-pack-check")
