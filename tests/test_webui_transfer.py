"""A transfer (调动) in the browser alone (Debian's Chromium, zh-CN, 1280 px): the releasing
school's system admin fills in the change form and releases the teacher; the receiving school's
fills in the registration of the arriving teacher and accepts; the account page and both
auditors' views show it. Screenshots: artifacts/screenshots/transfer-*."""

from __future__ import annotations

import itertools
import re
from collections.abc import Iterator

import ldap
import pyotp
import pytest
from playwright.sync_api import Browser, Page, expect

from idm.validation import mask_id_number
from tests import world as w
from tests.conftest import ops
from tests.test_webui_browser import SHOTS, serve
from webui import create_app
from webui.settings import WebSettings

SCHOOL_A, SCHOOL_B = "2115010202", "2115020301"  # 新城区第二中学 (呼和浩特) → 昆都仑区实验中学 (包头)
NEW_PASSWORD = "Grassland-Steppe-2026!"
ONE_TIME = "One-Time-Passw0rd-2026"
_shots = itertools.count(1)
_desks = itertools.count(1)


@pytest.fixture(scope="module")
def base_url(world: w.World) -> Iterator[str]:
    web = WebSettings(idm=world.settings, secret_key="transfer-test-secret-key-0123456789",
                      secure_cookies=False, sessions_db=world.settings.data_dir / "web-transfer.sqlite",
                      trusted_proxies=1)
    with serve(create_app(web)) as url:
        yield url


def shot(page: Page, what: str) -> None:
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SHOTS / f"transfer-{next(_shots):02d}-{what}.png"), full_page=True)


def admin_at(world: w.World, code: str, role: str) -> str:
    """An admin account as its level creates it: a one-time password, no second factor yet."""
    uid = f"web{code[-4:]}.{role}"
    with ops(world.settings) as session:
        node = next(session.search(world.settings.suffix, f"(idmCode={code})", ["1.1"]))[0]
        dn = f"uid={uid},ou=admins,{node}"
        if not session.exists(dn):
            session.add(dn, {"objectClass": ["idmAdminAccount"], "uid": [uid], "cn": [f"{role}{code[-2:]}"],
                             "sn": ["管"], "idmStatus": ["active"], "idmAdminRole": [role],
                             "idmScope": [node], "idmConfirmed": ["20260101000000Z"]})
            session.set_password(dn, ONE_TIME)
    return uid


class Desk:
    """One admin at work in a browser window of its own."""

    def __init__(self, browser: Browser, base: str, uid: str) -> None:
        self.context = browser.new_context(locale="zh-CN", viewport={"width": 1280, "height": 900},
                                           extra_http_headers={"X-Forwarded-For": f"10.9.{next(_desks)}.1"})
        self.page = self.context.new_page()
        self.base = base
        page = self.go("/login")
        page.fill("input[name=uid]", uid)
        page.fill("input[name=password]", ONE_TIME)
        page.click("main button[type=submit]")
        page.wait_for_url(base + "/password")
        for field, value in (("current", ONE_TIME), ("new", NEW_PASSWORD), ("confirm", NEW_PASSWORD)):
            page.fill(f"input[name={field}]", value)
        page.click("main button[type=submit]")
        page.wait_for_url(base + "/mfa/enrol")
        secret = page.locator("code.secret").get_attribute("data-secret") or ""
        page.fill("input[name=code]", pyotp.TOTP(secret).now())
        page.click("main button[type=submit]")
        page.wait_for_url(base + "/")

    def go(self, path: str) -> Page:
        self.page.goto(self.base + path)
        return self.page

    def fill(self, kind: str, unit: str, what: str, **fields: str) -> str:
        page = self.go(f"/admin/forms/new?kind={kind}")
        page.select_option("select[name=unit]", unit)
        for name, value in fields.items():
            if name in ("change_type", "role"):
                page.select_option(f"select[name={name}]", value)
            else:
                page.fill(f"[name={name}]", value)
        shot(page, f"{what}-form")
        page.click("main form#form-fill button[type=submit]")
        page.wait_for_url(re.compile(r".*/admin/forms/F[0-9]+-.*"))
        expect(page.locator(".flash.success")).to_contain_text("申请单已登记")
        return page.url.rsplit("/", 1)[1]

    def act(self, form_id: str, words: str, what: str) -> Page:
        page = self.go(f"/admin/forms/{form_id}")
        page.click(f"ul.todo a.button:has-text('{words}')")
        expect(page.locator("h1")).to_contain_text("请确认")
        shot(page, f"{what}-confirm")
        page.click("main form button[type=submit]")
        expect(page.locator(".flash.success")).to_contain_text("已办理")
        return page


def test_a_teacher_changes_school_in_the_browser(world: w.World, browser: Browser, base_url: str) -> None:
    with ops(world.settings) as session:
        node_a = next(session.search(world.settings.suffix, f"(idmCode={SCHOOL_A})", ["1.1"]))[0]
        teacher = f"uid=web.teacher,ou=people,{node_a}"
        number = w.id_number(330_001)
        session.add(teacher, {"objectClass": ["idmBusinessAccount"], "uid": ["web.teacher"], "cn": ["乌兰"],
                              "sn": ["乌"], "idmStatus": ["active"], "idmIdNumber": [number],
                              "idmIdMasked": [mask_id_number(number)],
                              "mobile": ["13900000077"], "idmGrant": ["teacher#viewer"]})
    a = Desk(browser, base_url, admin_at(world, SCHOOL_A, "sysadmin"))
    release = a.fill("change", SCHOOL_A, "release", change_type="release", account_uid="web.teacher",
                     name="乌兰", id_number=number, transfer_to=SCHOOL_B, reason="调往包头市任教")
    page = a.act(release, "调出", "release")
    expect(page.locator("main")).to_contain_text("昆都仑区实验中学")  # the form names where to, in words
    page = a.go("/admin/account/web.teacher")
    expect(page.locator("#transfer")).to_contain_text("已调出到")
    shot(page, "released-account")

    b = Desk(browser, base_url, admin_at(world, SCHOOL_B, "sysadmin"))
    accept = b.fill("registration", SCHOOL_B, "accept", name="乌兰", id_number=number, mobile="13900000077",
                    account_uid="web.teacher", transfer_from=SCHOOL_A)
    page = b.go(f"/admin/forms/{accept}")
    expect(page.locator("ul.todo")).to_contain_text("调入业务用户")
    shot(page, "accept-todo")
    b.act(accept, "调入业务用户", "accept")
    page = b.go("/admin/account/web.teacher")
    expect(page.locator("main")).to_contain_text("昆都仑区实验中学")
    expect(page.locator("main")).not_to_contain_text("已调出到")
    shot(page, "arrived-account")
    with ops(world.settings) as session:
        entry = session.conn.search_s(world.settings.suffix, ldap.SCOPE_SUBTREE, "(uid=web.teacher)",
                                      ["idmGrant"])
    assert SCHOOL_B in entry[0][0] and "idmGrant" not in entry[0][1]

    for code in (SCHOOL_A, SCHOOL_B):  # each unit's auditor sees the one move
        auditor = Desk(browser, base_url, admin_at(world, code, "auditor"))
        page = auditor.go("/admin/audit/?person=web.teacher")
        row = page.locator("tbody tr:has-text('调动')")  # B: in the acceptance's writes; A: a row of its own
        expect(row).to_have_count(1)
        expect(row).to_contain_text("乌兰")
        expect(row).to_contain_text("昆都仑区实验中学")
        if code == SCHOOL_B:
            expect(row).to_contain_text("调入业务用户")
        shot(page, f"audit-{code}")
        auditor.context.close()
    a.context.close()
    b.context.close()


def test_a_city_admin_moves_to_a_county_of_another_city_in_the_browser(world: w.World, browser: Browser,
                                                                       base_url: str) -> None:
    """The province keeps a city's admin accounts and releases one; Baotou (150200), which keeps
    its counties' admins, accepts it at 昆都仑区 (150203); Baotou's security admin sets the role."""
    with ops(world.settings) as session:
        node = next(session.search(world.settings.suffix, "(idmCode=150100)", ["1.1"]))[0]
        moving = f"uid=web.cityadmin,ou=admins,{node}"
        number = w.id_number(330_002)
        session.add(moving, {"objectClass": ["idmAdminAccount"], "uid": ["web.cityadmin"], "cn": ["巴特尔"],
                             "sn": ["巴"], "idmStatus": ["active"], "idmIdNumber": [number],
                             "idmIdMasked": [mask_id_number(number)],
                             "idmAdminRole": ["auditor"], "idmScope": [node]})
    province = Desk(browser, base_url, admin_at(world, "150000", "sysadmin"))
    release = province.fill("change", "150100", "admin-release", change_type="release",
                            account_uid="web.cityadmin", name="巴特尔", id_number=number,
                            transfer_to="150203")
    province.act(release, "调出", "admin-release")
    baotou = Desk(browser, base_url, admin_at(world, "150200", "sysadmin"))
    accept = baotou.fill("registration", "150203", "admin-accept", name="巴特尔", id_number=number,
                         mobile="13900000078", account_uid="web.cityadmin", transfer_from="150100",
                         role="secadmin")
    baotou.act(accept, "调入管理员账号", "admin-accept")
    security = Desk(browser, base_url, admin_at(world, "150200", "secadmin"))
    page = security.act(accept, "授予角色和范围", "admin-role")
    page = security.go("/admin/account/web.cityadmin")
    expect(page.locator("main")).to_contain_text("昆都仑区")
    shot(page, "admin-arrived")
    with ops(world.settings) as session:
        found = session.conn.search_s(world.settings.suffix, ldap.SCOPE_SUBTREE, "(uid=web.cityadmin)",
                                      ["idmAdminRole"])
    assert "ou=150203," in found[0][0] and found[0][1]["idmAdminRole"] == [b"secadmin"]
    for desk in (province, baotou, security):
        desk.context.close()
