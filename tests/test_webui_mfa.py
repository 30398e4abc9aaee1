"""The second factor in the web UI: admins must enrol (mlps3), codes once only, no bypass."""

from __future__ import annotations

import re
import time

import pyotp
import pytest
from flask import Flask
from flask.testing import FlaskClient

from tests import world as w
from tests.conftest import ops, web_app
from tests.test_webui_http import csrf, login


@pytest.fixture(scope="module")
def app(world: w.World) -> Flask:
    return web_app(world, "mfa")


def admin(world: w.World) -> str:
    dn = world.target("admin", "child", role="sysadmin")
    with ops(world.settings) as session:
        session.set_password(dn, "Admin-Passw0rd-1")
        session.replace(dn, {"pwdReset": []})
    return dn.split(",")[0].split("=")[1]


def code(secret: str, ahead: int = 0) -> str:
    return pyotp.TOTP(secret).at((int(time.time()) // 30 + ahead) * 30)


def enrol(client: FlaskClient, uid: str) -> str:
    response = login(client, uid, "Admin-Passw0rd-1")
    assert response.headers["Location"].endswith("/mfa/enrol")
    page = client.get("/mfa/enrol").get_data(as_text=True)  # each visit shows a new secret
    assert 'src="data:image/svg+xml;base64,' in page
    secret = re.search(r'data-secret="([A-Z2-7]+)"', page).group(1)  # type: ignore[union-attr]
    token = re.search(r'name="csrf_token"[^>]*value="([^"]+)"', page).group(1)  # type: ignore[union-attr]
    done = client.post("/mfa/enrol", data={"csrf_token": token, "code": code(secret)})
    assert done.status_code == 302 and done.headers["Location"].endswith("/")
    return secret


def test_admin_must_enrol_then_gives_a_code_each_sign_in(world: w.World, app: Flask) -> None:
    uid = admin(world)
    first = app.test_client()
    secret = enrol(first, uid)
    assert first.get("/").status_code == 200
    second = app.test_client()
    response = login(second, uid, "Admin-Passw0rd-1")
    assert response.headers["Location"].endswith("/mfa/")
    before = second.get_cookie("idm_session")
    assert second.get("/").status_code == 302  # not in without the code
    fresh = code(secret, 1)
    ok = second.post("/mfa/", data={"csrf_token": csrf(second, "/mfa/"), "code": fresh})
    assert ok.status_code == 302 and second.get("/").status_code == 200
    after = second.get_cookie("idm_session")
    assert before is not None and after is not None and before.value != after.value  # new id
    third = app.test_client()
    login(third, uid, "Admin-Passw0rd-1")
    replay = third.post("/mfa/", data={"csrf_token": csrf(third, "/mfa/"), "code": fresh})
    assert "验证码不正确或已使用" in replay.get_data(as_text=True)
    assert third.get("/").status_code == 302


def test_no_bypass_by_enrolling_a_new_factor_with_the_password_alone(world: w.World, app: Flask) -> None:
    uid = admin(world)
    enrol(app.test_client(), uid)
    attacker = app.test_client()
    login(attacker, uid, "Admin-Passw0rd-1")
    response = attacker.get("/mfa/enrol")
    assert response.status_code == 302 and response.headers["Location"].endswith("/mfa/")
    assert attacker.get("/").status_code == 302
