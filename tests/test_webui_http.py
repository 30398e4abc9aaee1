"""The web UI over HTTP (Flask's test client against the real slapd): sign-in, sessions,
CSRF, headers, rate limits, self-service password change."""

from __future__ import annotations

import re
from collections.abc import Iterator

import ldap
import pytest
from flask import Flask
from flask.testing import FlaskClient

from tests import world as w
from tests.conftest import ops
from webui import create_app
from webui.security import limiter
from webui.settings import WebSettings


@pytest.fixture(scope="module")
def app(world: w.World) -> Flask:
    settings = WebSettings(idm=world.settings, secret_key="test-only-secret-key-0123456789",
                           secure_cookies=False, sessions_db=world.settings.data_dir / "web-test.sqlite")
    app = create_app(settings)
    app.config["TESTING"] = True
    return app


@pytest.fixture()
def client(app: Flask) -> Iterator[FlaskClient]:
    with app.test_request_context():
        limiter.reset()
    with app.test_client() as c:
        yield c


def csrf(client: FlaskClient, path: str = "/login") -> str:
    page = client.get(path).get_data(as_text=True)
    match = re.search(r'name="csrf_token"[^>]*value="([^"]+)"', page) or re.search(
        r'value="([^"]+)"[^>]*name="csrf_token"', page)
    assert match, page
    return match.group(1)


def user(world: w.World, password: str = "Web-Passw0rd-1", must_change: bool = False) -> tuple[str, str]:
    dn = world.target("person", "own")
    with ops(world.settings) as session:
        session.set_password(dn, password)
        session.replace(dn, {"pwdReset": ["TRUE"] if must_change else []})
    return dn, dn.split(",")[0].split("=")[1]


def login(client: FlaskClient, uid: str, password: str):  # type: ignore[no-untyped-def]
    return client.post("/login", data={"uid": uid, "password": password, "csrf_token": csrf(client)})


def test_chinese_first_english_available(client: FlaskClient) -> None:
    assert "登录账号" in client.get("/login").get_data(as_text=True)
    assert "Login" in client.get("/login?lang=en").get_data(as_text=True)
    assert "Login" in client.get("/login").get_data(as_text=True)  # remembered


def test_unknown_user_and_wrong_password_look_the_same(world: w.World, client: FlaskClient) -> None:
    _, uid = user(world)
    wrong = login(client, uid, "not-the-password").get_data(as_text=True)
    unknown = login(client, "nobody-here", "not-the-password").get_data(as_text=True)
    injected = login(client, "*)(uid=*", "x").get_data(as_text=True)
    strip = lambda page: re.sub(r'value="[^"]+"', "", page)  # noqa: E731 - csrf tokens differ
    assert strip(wrong) == strip(unknown) == strip(injected)
    assert "账号或密码错误" in wrong


def test_sign_in_session_cookie_and_sign_out_invalidates(world: w.World, client: FlaskClient) -> None:
    _, uid = user(world)
    response = login(client, uid, "Web-Passw0rd-1")
    assert response.status_code == 302 and response.headers["Location"].endswith("/")
    cookie = response.headers.get("Set-Cookie", "")
    assert "HttpOnly" in cookie and "SameSite=Lax" in cookie
    assert uid in client.get("/").get_data(as_text=True)
    stolen = client.get_cookie("idm_session")
    assert stolen is not None
    token = csrf(client, "/")
    assert client.post("/logout", data={"csrf_token": token}).status_code == 302
    assert client.get("/").status_code == 302
    client.set_cookie("idm_session", stolen.value)  # replaying the old cookie does not help
    assert client.get("/").status_code == 302


def test_a_new_session_id_at_sign_in(world: w.World, app: Flask) -> None:
    _, uid = user(world)
    first, second = app.test_client(), app.test_client()
    login(first, uid, "Web-Passw0rd-1")
    login(second, uid, "Web-Passw0rd-1")
    a, b = first.get_cookie("idm_session"), second.get_cookie("idm_session")
    assert a is not None and b is not None and a.value != b.value


@pytest.mark.parametrize("how", ["none", "wrong", "other-session", "get"])
def test_csrf_refused_on_state_changing_routes(world: w.World, app: Flask, how: str) -> None:
    with app.test_request_context():
        limiter.reset()
    _, uid = user(world)
    c, other = app.test_client(), app.test_client()
    login(c, uid, "Web-Passw0rd-1")
    tokens = {"none": None, "wrong": "x" * 40, "other-session": csrf(other)}
    for path in ("/logout", "/password"):
        if how == "get" and path == "/logout":
            assert c.get(path).status_code == 405
            continue
        if how == "get":
            continue
        data = {} if tokens[how] is None else {"csrf_token": tokens[how]}
        data |= {"current": "Web-Passw0rd-1", "new": "Other-Passw0rd-2", "confirm": "Other-Passw0rd-2"}
        assert c.post(path, data=data).status_code == 400, (path, how)
    assert c.get("/").status_code == 200  # still signed in: nothing changed


def test_disabling_an_account_ends_its_sessions(world: w.World, client: FlaskClient) -> None:
    dn, uid = user(world)
    login(client, uid, "Web-Passw0rd-1")
    assert client.get("/").status_code == 200
    with ops(world.settings) as session:
        session.replace(dn, {"idmStatus": ["disabled"], "pwdAccountLockedTime": ["000001010000Z"]})
    response = client.get("/", follow_redirects=True)
    assert "会话已结束" in response.get_data(as_text=True)
    locked = login(client, uid, "Web-Passw0rd-1").get_data(as_text=True)
    assert "账号或密码错误" in locked  # the same words as a wrong password: nothing to learn


def test_forced_change_after_reset_then_policy_explained(world: w.World, client: FlaskClient) -> None:
    _, uid = user(world, "Reset-Passw0rd-1", must_change=True)
    response = login(client, uid, "Reset-Passw0rd-1")
    assert response.headers["Location"].endswith("/password")
    page = client.get("/password").get_data(as_text=True)
    assert "8 至 128 个字符" in page and "不能是常见密码" in page and "至少间隔 1 小时" in page
    weak = client.post("/password", data={"csrf_token": csrf(client, "/password"),
                                          "current": "Reset-Passw0rd-1", "new": "password1",
                                          "confirm": "password1"})
    text = weak.get_data(as_text=True)
    assert "是常见密码" in text and "字符类别不足" in text
    long = "Aa1!" * 2500  # 10,000 characters: refused with words, and the fields are kept
    huge = client.post("/password", data={"csrf_token": csrf(client, "/password"),
                                          "current": "Reset-Passw0rd-1", "new": long, "confirm": long})
    assert huge.status_code == 200 and "密码最多 128 个字符" in huge.get_data(as_text=True)
    done = client.post("/password", data={"csrf_token": csrf(client, "/password"),
                                          "current": "Reset-Passw0rd-1", "new": "Fresh-Grass-2026!",
                                          "confirm": "Fresh-Grass-2026!"})
    assert done.status_code == 302
    assert ldap.initialize(world.settings.ldap_uri).simple_bind_s(
        f"uid={uid},ou=people,{world.nodes['own']}", "Fresh-Grass-2026!")


def test_security_headers(client: FlaskClient) -> None:
    response = client.get("/login")
    csp = response.headers["Content-Security-Policy"]
    assert "frame-ancestors 'none'" in csp and "script-src 'self'" in csp and "unsafe-inline" not in csp
    assert response.headers["X-Frame-Options"] == "DENY"
    assert response.headers["Referrer-Policy"] == "no-referrer"


def test_sign_in_is_rate_limited_per_account(world: w.World, client: FlaskClient) -> None:
    _, uid = user(world)
    codes = [login(client, uid, f"wrong-{i}").status_code for i in range(6)]
    assert codes[:5] == [200] * 5 and codes[5] == 429


def test_an_idle_session_ends_and_a_busy_one_is_not_rewritten_on_every_page(
        world: w.World, app: Flask, client: FlaskClient) -> None:
    """Business users' sessions end after 30 idle minutes; the last-seen time is written at most
    every TOUCH_EVERY seconds, so pages in a row cost no write and the timeout still holds."""
    import sqlite3
    import time

    from webui.auth import TOUCH_EVERY

    _, uid = user(world)
    login(client, uid, "Web-Passw0rd-1")
    db = sqlite3.connect(app.config["IDM_WEB"].sessions_db)

    def seen() -> float:
        return float(db.execute("select seen from sessions where uid = ?", (uid,)).fetchone()[0])

    def set_seen(value: float) -> None:
        db.execute("update sessions set seen = ? where uid = ?", (value, uid))
        db.commit()

    set_seen(time.time() - TOUCH_EVERY / 2)  # seen a moment ago: a page writes nothing
    before = seen()
    assert client.get("/").status_code == 200
    assert seen() == before
    set_seen(time.time() - TOUCH_EVERY - 1)  # longer ago: the page moves it
    assert client.get("/").status_code == 200
    assert seen() > time.time() - 5
    set_seen(time.time() - 30 * 60 - 1)  # idle past 30 minutes: over
    response = client.get("/", follow_redirects=True)
    assert "会话已结束" in response.get_data(as_text=True)
    db.close()
