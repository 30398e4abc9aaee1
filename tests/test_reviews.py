"""R16 access reviews: a whole campaign through the CLI (Hohhot) and through the browser (one of
its counties): rows and flags, decisions that record forms and act through the toolkit, closure,
the auditor's countersignature, the reports, and overdue units seen from the level above."""

from __future__ import annotations

import dataclasses
import re
import subprocess
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import ldap
import pytest
from playwright.sync_api import Browser, expect

from idm.auth import signin
from idm.oversight import reviews
from idm.rules import actor as actors
from idm.validation import mask_id_number
from tests import world as w
from tests.conftest import ops, run_cli
from tests.test_webui_browser import serve, shot, sign_in
from webui import create_app
from webui.settings import WebSettings

_numbers = iter(range(260_000, 262_000))


def person(world: w.World, relation: str, *, grants: tuple[str, ...] = ("teacher#viewer",),
           number: str | None = None, legacy: bool = False) -> str:
    dn = world.target("person", relation, legacy=legacy)
    with ops(world.settings) as session:
        changes: list[tuple[int, str, list[bytes]]] = [
            (ldap.MOD_ADD, "idmGrant", [g.encode() for g in grants])]
        if number:
            changes += [(ldap.MOD_REPLACE, "idmIdNumber", [number.encode()]),
                        (ldap.MOD_REPLACE, "idmIdMasked", [mask_id_number(number).encode()])]
        session.conn.modify_s(dn, changes)
    return dn


def admin(world: w.World, relation: str, number: str) -> str:
    uid = f"rv{next(_numbers)}"
    dn = f"uid={uid},ou=admins,{world.nodes[relation]}"
    with ops(world.settings) as session:
        session.add(dn, {"objectClass": ["idmAdminAccount"], "uid": [uid], "cn": ["测试"], "sn": ["测"],
                         "idmStatus": ["active"], "idmAdminRole": ["auditor"], "idmIdNumber": [number],
                         "idmIdMasked": [mask_id_number(number)]})
    return dn


def uid_of(dn: str) -> str:
    return dn.split(",")[0].split("=")[1]


def cli(world: w.World, *args: str) -> str:
    result = run_cli(world.settings, *args)
    assert result.exit_code == 0, result.output
    return result.output


def refused(world: w.World, *args: str) -> str:
    result = run_cli(world.settings, *args)
    assert result.exit_code == 1, result.output
    return result.output


def test_a_whole_review_campaign_through_the_cli(world: w.World, cli_admins: dict[str, str],
                                                 tmp_path: Path) -> None:
    sys_, sec, aud = (["--as", cli_admins[r]] for r in ("sysadmin", "secadmin", "auditor"))
    keep = person(world, "own")
    revoke = person(world, "own", grants=("teacher#viewer", "student#viewer"))
    disable = person(world, "own")
    shared = w.id_number(next(_numbers))
    both = person(world, "own", number=shared)
    admin(world, "child", shared)  # the same person as `both`, an admin one level down
    twice = w.id_number(next(_numbers))
    first, second = admin(world, "child", twice), admin(world, "delegated", twice)
    post = person(world, "own", legacy=True)

    refused(world, "review", "open", w.CITY, *sec)  # the system admin opens a review
    opened = cli(world, "review", "open", w.CITY, *sys_)
    review_id = re.search(r"review: (R\S+)", opened).group(1)  # type: ignore[union-attr]
    assert "本单位已有未关闭的核查" in refused(world, "review", "open", w.CITY, *sys_)
    rows = {line.split()[0]: line for line in opened.splitlines()[1:]}
    assert "flags=idle,no-form" in rows[uid_of(keep)]
    assert "admin+business" in rows[uid_of(both)]
    assert "several-admin" in rows[uid_of(first)] and "several-admin" in rows[uid_of(second)]
    assert "legacy" in rows[uid_of(post)]
    assert not any(line.startswith("  cli.") for line in opened.splitlines())  # its own level: the parent's

    refused(world, "review", "decide", review_id, uid_of(keep), "keep", *aud)
    revoked = cli(world, "review", "decide", review_id, uid_of(revoke), "revoke", "--grant",
                  "teacher#viewer", *sys_)
    form = re.search(r"form: (F\S+)", revoked).group(1)  # type: ignore[union-attr]
    cli(world, "grant", "remove", uid_of(revoke), "teacher#viewer", "--form", form, *sec)
    cli(world, "review", "decide", review_id, uid_of(disable), "disable", "--reason", "已调离", *sys_)
    with ops(world.settings) as session:
        assert session.get(revoke, ["idmGrant"])[1]["idmGrant"] == ["student#viewer"]  # type: ignore[index]
        gone = session.get(disable, ["idmStatus", "idmFormRef", "pwdAccountLockedTime"])
    assert gone is not None and gone[1]["idmStatus"] == ["disabled"]
    assert gone[1]["idmFormRef"][0].startswith("F")
    assert "accounts are not decided yet" in refused(world, "review", "close", review_id, *sys_)
    for line in cli(world, "review", "show", review_id, *sys_).splitlines()[1:]:
        if "decision=-" in line:
            cli(world, "review", "decide", review_id, line.split()[0], "keep", *sys_)
    refused(world, "review", "countersign", review_id, *sys_)
    assert "not closed by the reviewer" in refused(world, "review", "countersign", review_id, *aud)
    cli(world, "review", "close", review_id, *sys_)
    cli(world, "review", "countersign", review_id, *aud)

    csv_path, pdf_path = tmp_path / "r.csv", tmp_path / "r.pdf"
    cli(world, "review", "report", review_id, "--csv", str(csv_path), "--pdf", str(pdf_path), *aud)
    report = csv_path.read_text(encoding="utf-8")
    assert report.startswith("登录账号,姓名,类型,状态,")
    assert f"{uid_of(revoke)},测试,业务类用户,启用,,student#viewer teacher#viewer," in report
    assert f",撤销授权,teacher#viewer,{form}," in report and ",停用," in report
    text = subprocess.run(["pdftotext", str(pdf_path), "-"], capture_output=True, text=True,
                          check=True).stdout
    assert review_id in text and "撤销授权" in text and "已会签关闭" in text

    # the level above: Hohhot is reviewed now, its sister cities never were; in seven months
    # Hohhot is overdue again
    with ops(world.settings) as session:
        top = w.make_admin(session, world.nodes["parent"], f"rv.top{next(_numbers)}", "sysadmin")
    province = signin.admin_session(world.settings, top)
    with province:
        now = reviews.overdue_below(province, "150000")
        later = reviews.overdue_below(province, "150000", datetime.now(UTC) + timedelta(days=200))
    assert w.CITY not in {o.unit.code for o in now} and "150200" in {o.unit.code for o in now}
    assert w.CITY in {o.unit.code for o in later}
    listed = run_cli(world.settings, "review", "overdue", w.CITY, *sys_)
    assert listed.exit_code == 0 and "150102" in listed.output  # Hohhot's counties were never reviewed


# ---------------------------------------------------------------- the same in the browser
@pytest.fixture(scope="module")
def console_url(world: w.World) -> Iterator[str]:
    """A web UI with the nist profile (no second factor needed for this flow)."""
    settings = WebSettings(idm=dataclasses.replace(world.settings, password_profile="nist"),
                           secret_key="reviews-browser-secret-0123456789", secure_cookies=False,
                           sessions_db=world.settings.data_dir / "web-reviews.sqlite")
    with serve(create_app(settings)) as url:
        yield url


def test_a_whole_review_campaign_in_the_browser(world: w.World, console_url: str, browser: Browser) -> None:
    county = world.nodes["child"]
    with ops(world.settings) as session:
        staff = {role: w.make_admin(session, county, f"rvw.{role}", role) for role in ("sysadmin", "auditor")}
    keep, revoke, disable = (person(world, "child") for _ in range(3))

    def signed_in(role: str):  # type: ignore[no-untyped-def]
        context = browser.new_context(locale="zh-CN", viewport={"width": 1200, "height": 900})
        page = context.new_page()
        sign_in(page, console_url, uid_of(staff[role]), w.PASSWORD)
        page.wait_for_url(f"{console_url}/")
        page.goto(f"{console_url}/admin/reviews/")
        return page

    page = signed_in("sysadmin")
    page.click("#open")
    expect(page.locator("#progress")).to_contain_text("已决定 0 /")

    def row(uid: str):  # type: ignore[no-untyped-def]
        return page.locator(f"tr[data-uid='{uid}']")

    expect(row(uid_of(keep))).to_contain_text("180 天未登录")
    row(uid_of(keep)).locator("button[value=keep]").click()
    row(uid_of(revoke)).locator("select[name=grant]").select_option("teacher#viewer")
    row(uid_of(revoke)).locator("button[value=revoke]").click()
    expect(row(uid_of(revoke))).to_contain_text("撤销授权 · F")
    row(uid_of(disable)).locator("button[value=disable]").click()
    expect(row(uid_of(disable))).to_contain_text("停用 · F")
    expect(row(uid_of(disable))).to_contain_text("停用 · F")
    # the rows other tests left at this county: kept, through the same function the page calls
    session = signin.admin_session(world.settings, staff["sysadmin"])
    with session:
        actor = actors.load(session)
        campaign = reviews.current(session, "150102")
        assert campaign is not None
        for left in (r for r in campaign.rows if not r.decision):
            reviews.decide(session, actor, campaign.review_id, left.uid, "keep")
    page.reload()
    expect(page.locator("#progress")).to_contain_text(f"已决定 {len(campaign.rows)} / {len(campaign.rows)}")
    shot(page, "review-decided")
    page.click("#close")
    expect(page.locator("#progress")).to_contain_text("待审计员会签")
    with ops(world.settings) as session:
        assert session.get(disable, ["idmStatus"])[1]["idmStatus"] == ["disabled"]  # type: ignore[index]

    auditor = signed_in("auditor")
    auditor.click("#countersign")
    expect(auditor.locator("#history")).to_contain_text("已会签关闭")
    shot(auditor, "review-countersigned")
    with auditor.expect_download() as download:
        auditor.click("#history a:text('CSV')")
    content = Path(download.value.path()).read_text(encoding="utf-8")
    assert f"{uid_of(revoke)}," in content and ",撤销授权,teacher#viewer,F" in content
