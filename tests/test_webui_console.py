"""The admin console over HTTP: each role's duties, as the admin (proxied), IDOR, CSRF,
injection. The app runs with the nist profile here so admins are not asked to enrol a factor
(the factor itself is tested in test_webui_mfa.py)."""

from __future__ import annotations

import re

import pytest
from flask import Flask
from flask.testing import FlaskClient

from idm import forms
from idm.forms import FormData
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


def test_each_role_sees_its_duties(app: Flask) -> None:
    assert "按申请单创建账号" in signed_in(app, "sysadmin").get("/admin/").get_data(as_text=True)
    auditor = signed_in(app, "auditor").get("/admin/").get_data(as_text=True)
    assert "审计" in auditor and "按申请单创建账号" not in auditor
    assert signed_in(app, "secadmin").get("/admin/audit").status_code == 403


def test_business_users_have_no_console(world: w.World, app: Flask) -> None:
    dn = world.target("person", "own")
    with ops(world.settings) as session:
        session.set_password(dn, "Biz-Passw0rd-1")
        session.replace(dn, {"pwdReset": []})
    with app.test_request_context():
        limiter.reset()
    client = app.test_client()
    login(client, dn.split(",")[0].split("=")[1], "Biz-Passw0rd-1")
    assert client.get("/admin/").status_code == 403


def test_create_from_form_grant_and_the_auditor_sees_both(world: w.World, app: Flask) -> None:
    session, actor = world.session("sysadmin")
    with session:
        form = forms.add(session, actor, FormData(kind="registration", unit=w.CITY, name="控制台甲",
                                                  id_number=w.id_number(444), mobile="13900000444"))
    sysadmin = signed_in(app, "sysadmin")
    page = sysadmin.post("/admin/create", data={"csrf_token": csrf(sysadmin, "/admin/create"),
                                               "form": form.form_id, "uid": "console.jia"})
    assert page.status_code == 200 and page.headers["Cache-Control"] == "no-store"
    assert re.search(r'<code id="one-time">[^<]{12,}</code>', page.get_data(as_text=True))
    secadmin = signed_in(app, "secadmin")
    token = csrf(secadmin, "/admin/account/console.jia")
    done = secadmin.post("/admin/account/console.jia/grant",
                         data={"csrf_token": token, "grant": "teacher#viewer"}, follow_redirects=True)
    assert "teacher#viewer" in done.get_data(as_text=True)
    log = signed_in(app, "auditor").get("/admin/audit").get_data(as_text=True)
    assert "console.jia" in log and form.form_id in log
    assert "m.sysadmin" in log and "m.secadmin" in log
    csv = signed_in(app, "auditor").get("/admin/audit?format=csv")
    assert csv.mimetype == "text/csv" and "console.jia" in csv.get_data(as_text=True)


def test_another_countys_user_by_url_is_not_found(world: w.World, app: Flask) -> None:
    elsewhere = world.target("person", "sibling").split(",")[0].split("=")[1]
    sysadmin = signed_in(app, "sysadmin")
    assert sysadmin.get(f"/admin/account/{elsewhere}").status_code == 404
    token = csrf(sysadmin, "/admin/")
    response = sysadmin.post(f"/admin/account/{elsewhere}/disable", data={"csrf_token": token, "form": "F"})
    assert response.status_code == 404


@pytest.mark.parametrize("q", ["*)(uid=*", "*", "a\\b", "(", "\x00"])
def test_search_fields_are_escaped(app: Flask, q: str) -> None:
    page = signed_in(app, "sysadmin").get("/admin/users", query_string={"unit": w.CITY, "q": q})
    assert page.status_code == 200
    assert "共 0 个" in page.get_data(as_text=True) or q == "*"


def test_console_actions_need_a_csrf_token(world: w.World, app: Flask) -> None:
    uid = world.target("person", "own").split(",")[0].split("=")[1]
    sysadmin = signed_in(app, "sysadmin")
    assert sysadmin.post(f"/admin/account/{uid}/disable", data={"form": "F"}).status_code == 400
    assert sysadmin.get(f"/admin/account/{uid}/disable").status_code == 405


def test_first_login_shows_role_next_to_the_form_and_records_the_confirmation(
    world: w.World, app: Flask
) -> None:
    from idm import accounts, formal

    session, actor = world.session("sysadmin")
    with session:
        form = forms.add(session, actor, FormData(kind="registration", unit="150123", name="首登乙",
                                                  id_number=w.id_number(445), mobile="13900000445",
                                                  role="auditor"))
        created = formal.create_admin(session, actor, form.form_id, "shoudeng.yi")
    sec, sec_actor = world.session("secadmin")
    with sec:
        formal.set_role(sec, sec_actor, form.form_id, accounts.get(sec, created.dn), "auditor")
    with ops(world.settings) as op_session:
        op_session.set_password(created.dn, "First-Login-Passw0rd-1")
        op_session.replace(created.dn, {"pwdReset": []})
    with app.test_request_context():
        limiter.reset()
    client = app.test_client()
    login(client, "shoudeng.yi", "First-Login-Passw0rd-1")
    page = client.get("/admin/first-login").get_data(as_text=True)
    assert re.search(r'id="role-account">\s*auditor\s*<', page), page
    assert re.search(r'id="role-form">\s*auditor\s*<', page), page
    client.post("/admin/first-login", data={"csrf_token": csrf(client, "/admin/first-login")})
    with ops(world.settings) as op_session:
        entry = op_session.get(created.dn, ["idmConfirmed"])
    assert entry is not None and entry[1].get("idmConfirmed")


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
        assert client.post(path, data=data).status_code == 400, (rule.rule, how)
        if "GET" not in (rule.methods or set()):
            assert client.get(path).status_code == 405, rule.rule  # no state change by GET


@pytest.mark.parametrize("value", ["*)(reqType=*", "2026", "20261301", "\00"])
def test_audit_filters_refuse_bad_times(app: Flask, value: str) -> None:
    page = signed_in(app, "auditor").get("/admin/audit", query_string={"since": value})
    assert page.status_code == 200 and "YYYYMMDD" in page.get_data(as_text=True)


def test_scan_upload_and_seal_status(world: w.World, app: Flask) -> None:
    import base64
    import io

    from idm import seal

    session, actor = world.session("sysadmin")
    with session:
        form = forms.add(session, actor, FormData(kind="registration", unit=w.CITY, name="扫描丁",
                                                  id_number=w.id_number(447), mobile="13900000447"))
    png = base64.b64decode("iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8z8BQDwAEhQGAhKmMIQ"
                           "AAAABJRU5ErkJggg==")
    sysadmin = signed_in(app, "sysadmin")
    token = csrf(sysadmin, "/admin/forms")
    sysadmin.post(f"/admin/forms/{form.form_id}/scan",
                  data={"csrf_token": token, "scan": (io.BytesIO(png), "stamped.png")},
                  content_type="multipart/form-data")
    page = sysadmin.get("/admin/forms").get_data(as_text=True)
    assert "image/png" in page
    with ops(world.settings) as op_session:
        seal.seal(op_session)
    assert "最近封存" in signed_in(app, "auditor").get("/admin/audit").get_data(as_text=True)
