"""The admin console over HTTP: each role's duties, forms filled in and acted upon from their
own pages behind a confirmation, IDOR, CSRF, injection, error pages. The app runs with the nist
profile here so admins are not asked to enrol a factor (the factor is tested elsewhere)."""

from __future__ import annotations

import re
from urllib.parse import quote

import pytest
from flask import Flask
from flask.testing import FlaskClient

from tests import world as w
from tests.conftest import ops, web_app
from tests.test_webui_http import csrf, login
from webui.security import limiter


@pytest.fixture(scope="module")
def app(world: w.World) -> Flask:
    return web_app(world, "console", "nist")


def signed_in(app: Flask, role: str) -> FlaskClient:
    with app.test_request_context():
        limiter.reset()  # these tests sign in often from one address
    client = app.test_client()
    uid = f"m.{role}"
    response = login(client, uid, w.PASSWORD)
    assert response.status_code == 302, response.get_data(as_text=True)
    return client


def text(client: FlaskClient, path: str) -> str:
    response = client.get(path)
    assert response.status_code == 200, (path, response.status_code)
    return response.get_data(as_text=True)


def test_each_role_sees_its_duties(app: Flask) -> None:
    sysadmin = text(signed_in(app, "sysadmin"), "/admin/")
    assert "填写申请单" in sysadmin and "呼和浩特市" in sysadmin and "新城区" in sysadmin
    auditor = text(signed_in(app, "auditor"), "/admin/")
    assert "审计" in auditor and "填写申请单" not in auditor
    assert signed_in(app, "secadmin").get("/admin/audit/").status_code == 403


def test_business_users_have_no_console(world: w.World, app: Flask) -> None:
    dn = world.target("person", "own")
    with ops(world.settings) as session:
        session.set_password(dn, "Biz-Passw0rd-1")
        session.replace(dn, {"pwdReset": []})
    with app.test_request_context():
        limiter.reset()
    client = app.test_client()
    login(client, dn.split(",")[0].split("=")[1], "Biz-Passw0rd-1")
    refused = client.get("/admin/")
    assert refused.status_code == 403 and "无权访问" in refused.get_data(as_text=True)  # a page in the layout


def fill(client: FlaskClient, kind: str, **fields: str | list[str]) -> str:
    """Fill in a form in the browser's way; returns its id."""
    token = csrf(client, f"/admin/forms/new?kind={kind}")
    response = client.post("/admin/forms/new", data={"csrf_token": token, "kind": kind, **fields})
    assert response.status_code == 302, response.get_data(as_text=True)[:2000]
    return response.headers["Location"].rsplit("/", 1)[1]


def act(client: FlaskClient, form_id: str, op: str, value: str | None = None) -> str:
    """Open the confirmation, check it shows the form, then confirm; returns the result page."""
    query = f"?value={quote(value)}" if value else ""
    confirm = text(client, f"/admin/forms/{form_id}/do/{op}{query}")
    assert "请确认" in confirm and form_id in confirm
    token = csrf(client, f"/admin/forms/{form_id}/do/{op}{query}")
    data = {"csrf_token": token, **({"value": value} if value else {})}
    done = client.post(f"/admin/forms/{form_id}/do/{op}", data=data,
                       follow_redirects=True)
    assert done.status_code == 200
    return done.get_data(as_text=True)


def test_fill_in_act_from_the_form_and_the_auditor_sees_it(world: w.World, app: Flask) -> None:
    sysadmin = signed_in(app, "sysadmin")
    registration = fill(sysadmin, "registration", unit=w.CITY, name="控制台甲", surname="控",
                        id_number=w.id_number(444), mobile="13900000444")
    page = text(sysadmin, f"/admin/forms/{registration}")
    assert "按申请单创建业务用户" in page and "已受理" in page
    slip = act(sysadmin, registration, "create-user")
    assert re.search(r'<code id="one-time">[^<]{12,}</code>', slip) and "一次性密码交接单" in slip
    uid = re.search(r"登录账号</dt><dd>([^<]+)</dd>", slip).group(1)  # type: ignore[union-attr]
    with ops(world.settings) as session:
        dn = next(d for d, _ in session.search(world.settings.suffix, f"(uid={uid})", ["1.1"]))
    grant = world.form_about("grant", dn, grants_add=["teacher#viewer"])
    secadmin = signed_in(app, "secadmin")
    account = text(secadmin, f"/admin/account/{uid}")
    assert grant in account and "授权" in account
    done = act(secadmin, grant, "grant", "teacher#viewer")
    assert "已办理" in done
    assert "全国教师管理信息系统" in text(secadmin, f"/admin/account/{uid}")
    log = text(signed_in(app, "auditor"), "/admin/audit/")
    assert "控制台甲" in log and registration in log and "新增" in log and "m.sysadmin" in log
    csv = signed_in(app, "auditor").get("/admin/audit/?format=csv")
    assert csv.mimetype == "text/csv" and uid in csv.get_data(as_text=True)


def test_kept_rows_follow_the_language_and_the_directory(world: w.World, app: Flask) -> None:
    """A kept list's rows are rendered once per answer and language (webui/rendered.py): the
    same answer in English is English, and a new form is on the next load."""
    sysadmin = signed_in(app, "sysadmin")
    first = text(sysadmin, "/admin/forms/")
    assert first == text(sysadmin, "/admin/forms/") and "注册申请单" in first  # kept: the same rows
    english = text(sysadmin, "/admin/forms/?lang=en")
    assert ">registration form<" in english and ">注册申请单<" not in english
    added = fill(sysadmin, "registration", unit=w.CITY, name="缓存行乙", surname="缓",
                 id_number=w.id_number(5123), mobile="13900005123")
    assert added in text(sysadmin, "/admin/forms/?lang=zh_CN") and added not in first
    log = text(signed_in(app, "auditor"), "/admin/audit/")
    assert added in log and "registration form" not in log


def test_a_bad_form_keeps_what_was_typed_and_says_where(app: Flask) -> None:
    sysadmin = signed_in(app, "sysadmin")
    token = csrf(sysadmin, "/admin/forms/new")
    page = sysadmin.post("/admin/forms/new", data={"csrf_token": token, "kind": "registration",
                                                   "unit": w.CITY,
                                                   "name": "欧阳修", "id_number": "150102199001010010",
                                                   "mobile": "1390000"}).get_data(as_text=True)
    assert "校验位" in page and "手机" in page and 'value="欧阳修"' in page


def test_another_countys_user_by_url_is_not_found(world: w.World, app: Flask) -> None:
    elsewhere = world.target("person", "sibling").split(",")[0].split("=")[1]
    sysadmin = signed_in(app, "sysadmin")
    missing = sysadmin.get(f"/admin/account/{elsewhere}")
    assert missing.status_code == 404 and "找不到页面" in missing.get_data(as_text=True)
    token = csrf(sysadmin, "/admin/")
    assert sysadmin.post("/admin/forms/F-NONE/do/disable", data={"csrf_token": token}).status_code == 404


@pytest.mark.parametrize("q", ["*)(uid=*", "*", "a\\b", "(", "\x00"])
def test_search_fields_are_escaped(app: Flask, q: str) -> None:
    page = signed_in(app, "sysadmin").get("/admin/users", query_string={"unit": w.CITY, "q": q})
    assert page.status_code == 200
    assert "共 0 个" in page.get_data(as_text=True) or q == "*"


def test_first_login_shows_role_next_to_the_form_and_records_the_confirmation(
    world: w.World, app: Flask
) -> None:
    form = world.form("registration", "ou=150123," + world.nodes["own"], name="首登乙",
                      id_number=w.id_number(633), mobile="13900000633", role="auditor")
    created = world.act("sysadmin", "create-admin", form, login="shoudeng.yi").result
    world.act("secadmin", "set-role", form, created.uid)
    with ops(world.settings) as op_session:
        op_session.set_password(created.dn, "First-Login-Passw0rd-1")
        op_session.replace(created.dn, {"pwdReset": []})
    with app.test_request_context():
        limiter.reset()
    client = app.test_client()
    login(client, "shoudeng.yi", "First-Login-Passw0rd-1")
    page = text(client, "/admin/first-login")
    assert re.search(r'id="role-account">\s*安全审计员\s*<', page), page
    assert re.search(r'id="role-form">\s*安全审计员\s*<', page), page
    client.post("/admin/first-login", data={"csrf_token": csrf(client, "/admin/first-login")})
    with ops(world.settings) as op_session:
        entry = op_session.get(created.dn, ["idmConfirmed"])
    assert entry is not None and entry[1].get("idmConfirmed")
    assert "确认角色与范围与申请单一致" not in text(client, "/admin/first-login")  # done: no button


@pytest.mark.parametrize("how", ["none", "wrong", "other-session"])
def test_every_state_changing_route_refuses_a_bad_csrf_token(app: Flask, how: str) -> None:
    client = signed_in(app, "sysadmin")
    other = signed_in(app, "secadmin")
    token = {"none": None, "wrong": "y" * 40, "other-session": csrf(other, "/admin/")}[how]
    posts = [rule for rule in app.url_map.iter_rules() if "POST" in (rule.methods or set())]
    assert len(posts) >= 8
    for rule in posts:
        path = re.sub(r"<[^>]+>", "x", rule.rule)
        data = {"form": "F"} if token is None else {"form": "F", "csrf_token": token}
        refused = client.post(path, data=data)
        assert refused.status_code == 400 and "请求无效" in refused.get_data(as_text=True), (rule.rule, how)
        if "GET" not in (rule.methods or set()):
            assert client.get(path).status_code == 405, rule.rule  # no state change by GET


@pytest.mark.parametrize("value", ["*)(reqType=*", "2026", "20261301", "\00"])
def test_audit_filters_refuse_bad_times(app: Flask, value: str) -> None:
    page = signed_in(app, "auditor").get("/admin/audit/", query_string={"since": value})
    assert page.status_code == 400 and "YYYYMMDD" in page.get_data(as_text=True)


def test_scan_upload_and_seal_status(world: w.World, app: Flask) -> None:
    import base64
    import io

    from idm.oversight import seal, seal_key

    sysadmin = signed_in(app, "sysadmin")
    form_id = fill(sysadmin, "registration", unit=w.CITY, name="扫描丁", id_number=w.id_number(447),
                   mobile="13900000447")
    png = base64.b64decode("iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8z8BQDwAEhQGAhKmMIQ"
                           "AAAABJRU5ErkJggg==")
    token = csrf(sysadmin, f"/admin/forms/{form_id}")
    sysadmin.post(f"/admin/forms/{form_id}/scan",
                  data={"csrf_token": token, "scan": (io.BytesIO(png), "stamped.png")},
                  content_type="multipart/form-data")
    assert "已附盖章扫描件" in text(sysadmin, f"/admin/forms/{form_id}")
    assert sysadmin.get(f"/admin/forms/{form_id}.pdf").mimetype == "application/pdf"
    with ops(world.settings) as op_session:
        seal.seal(op_session, seal_key.load(world.settings.data_dir, create=True), settle=seal.AT_ONCE)
    page = text(signed_in(app, "auditor"), "/admin/audit/")
    assert "最近封存" in page and "SM2 签名，密钥指纹" in page


def test_error_pages_are_in_the_layout_in_both_languages(app: Flask) -> None:
    client = signed_in(app, "sysadmin")
    zh = client.get("/no/such/page")
    body = zh.get_data(as_text=True)
    assert zh.status_code == 404 and "找不到页面" in body and "<nav" in body
    en = client.get("/no/such/page?lang=en")
    assert en.status_code == 404 and "Page not found" in en.get_data(as_text=True)
