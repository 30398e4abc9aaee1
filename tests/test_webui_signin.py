"""Sign-in as one declared state machine (password -> factor -> forced change -> enrolment ->
full session): every route walked at every stage, only the declared ones answer; each way
around found from outside is a regression test; sign-ins are recorded where the level's
auditor reads them."""

from __future__ import annotations

import json
import re
import stat
import time

import pyotp
import pytest
from flask import Flask
from flask.testing import FlaskClient

from idm import labels
from idm.auth import signin, totp
from idm.directory import lookup
from idm.oversight import audit
from tests import world as w
from tests.conftest import enrol_factor, ops, totp_code, web_app
from tests.test_webui_http import csrf, login
from webui.auth import PUBLIC, declared

PASSWORD = "Stage-Passw0rd-1"


@pytest.fixture(scope="module")
def app(world: w.World) -> Flask:
    return web_app(world, "signin")


def reset_limits(app: Flask) -> None:
    from webui.security import limiter

    with app.test_request_context():
        limiter.reset()


@pytest.fixture(autouse=True)
def fresh_limits(app: Flask) -> None:
    """Each test starts with no sign-in counted against 127.0.0.1 (all test clients share it)."""
    reset_limits(app)


def account(world: w.World, kind: str = "admin", *, must_change: bool = False, factor: bool = False,
            role: str | None = "sysadmin") -> tuple[str, str, str | None]:
    """(dn, uid, factor secret) of a fresh account in the state asked for."""
    dn = world.target(kind, "child" if kind == "admin" else "own", role=role)
    with ops(world.settings) as session:
        session.set_password(dn, PASSWORD)
        session.replace(dn, {"pwdReset": ["TRUE"] if must_change else []})
    secret = enrol_factor(world.settings, dn) if factor else None
    return dn, dn.split(",")[0].split("=")[1], secret


def test_a_one_time_password_then_enrolment_does_not_skip_the_change(world: w.World, app: Flask) -> None:
    """The admin with a one-time password owes the change first: the enrolment page, and any
    other, send it back to /password; a business user likewise."""
    for kind in ("admin", "person"):
        _, uid, _ = account(world, kind, must_change=True)
        client = app.test_client()
        assert login(client, uid, PASSWORD).headers["Location"].endswith("/password")
        for path in ("/mfa/enrol", "/", "/admin/", "/certs/", "/admin/first-login"):
            response = client.get(path)
            assert response.status_code == 302 and response.headers["Location"].endswith("/password"), path
        enrolled = client.post("/mfa/enrol", data={"csrf_token": csrf(client, "/password"), "code": "123456"})
        assert enrolled.status_code == 302 and enrolled.headers["Location"].endswith("/password")


def test_the_password_page_needs_the_factor_first(world: w.World, app: Flask) -> None:
    _, uid, secret = account(world, factor=True)
    client = app.test_client()
    assert login(client, uid, PASSWORD).headers["Location"].endswith("/mfa/")
    token = csrf(client, "/mfa/")
    changed = client.post("/password", data={"csrf_token": token, "current": PASSWORD,
                                             "new": "Other-Passw0rd-9", "confirm": "Other-Passw0rd-9"})
    assert changed.status_code == 302 and changed.headers["Location"].endswith("/mfa/")
    assert client.get("/password").headers["Location"].endswith("/mfa/")
    assert secret


def test_wrong_codes_are_limited_counted_in_the_directory_and_lock_the_factor(world: w.World,
                                                                              app: Flask) -> None:
    dn, uid, secret = account(world, factor=True)
    client = app.test_client()
    login(client, uid, PASSWORD)
    token = csrf(client, "/mfa/")
    wrong = "000000" if totp_code(secret or "", 1) != "000000" else "111111"
    answers = [client.post("/mfa/", data={"csrf_token": token, "code": wrong}) for _ in range(12)]
    assert any(a.status_code == 429 for a in answers)  # the route's own limit, shared by workers
    with ops(world.settings) as session:
        entry = session.get(dn, ["oathFailureCount"])
    assert entry is not None and int(entry[1]["oathFailureCount"][0]) >= 5  # counted on the account
    reset_limits(app)  # a minute later, as far as the rate limit goes; the directory's lock stays
    locked = app.test_client()
    login(locked, uid, PASSWORD)
    right = totp_code(secret or "", 1)
    page = locked.post("/mfa/", data={"csrf_token": csrf(locked, "/mfa/"), "code": right})
    assert "已暂时锁定" in page.get_data(as_text=True)  # even the right code, while locked
    assert locked.get("/").status_code == 302


def test_replacing_the_factor_needs_the_password_and_the_current_code(world: w.World, app: Flask) -> None:
    dn, uid, secret = account(world, factor=True)
    client = app.test_client()
    login(client, uid, PASSWORD)
    client.post("/mfa/", data={"csrf_token": csrf(client, "/mfa/"), "code": totp_code(secret or "", 1)})
    assert client.get("/").status_code == 200
    page = client.get("/mfa/enrol").get_data(as_text=True)
    new_secret = re.search(r'data-secret="([A-Z2-7]+)"', page).group(1)  # type: ignore[union-attr]
    token = csrf(client, "/mfa/enrol")
    attempts = (("", ""), ("Wrong-Passw0rd-1", totp_code(secret or "", 2)), (PASSWORD, "000000"))
    for password, current in attempts:
        client.post("/mfa/enrol", data={"csrf_token": token, "password": password, "current": current,
                                        "code": pyotp.TOTP(new_secret).now()})
        with lookup.service_session(world.settings.ldap_uri, world.settings.suffix,
                                    world.settings.secrets_dir) as service:
            assert totp.verify(service, dn, pyotp.TOTP(new_secret).now()) == totp.WRONG  # not replaced


def test_first_login_confirms_only_a_match_and_reports_a_mismatch(world: w.World, app: Flask) -> None:
    """An admin whose role does not match its form cannot confirm; it reports the mismatch, which
    the creating level's system admin reads. An admin with no role sees a waiting page."""
    from idm.identity import accounts

    dn, uid, secret = account(world, role="auditor", factor=True)
    with ops(world.settings) as session:
        person = next(iter(session.search(dn, "(objectClass=*)", ["idmIdNumber", "cn"])))[1]
    form = world.form("registration", world.nodes["child"], role="secadmin", name=person["cn"][0],
                      id_number=person["idmIdNumber"][0])  # the form said secadmin; it got auditor
    with ops(world.settings) as session:
        record = next(iter(session.search(world.settings.suffix, f"(cn={form})", ["1.1"])))[0]
        steps = {"history": [], "steps": {"create": {"by": "-", "at": "-", "target": dn}}}
        session.replace(record, {"idmRecordState": [json.dumps(steps)],
                                 "idmRecordSubject": [accounts.get(session, dn).uuid]})
    client = app.test_client()
    login(client, uid, PASSWORD)
    client.post("/mfa/", data={"csrf_token": csrf(client, "/mfa/"), "code": totp_code(secret or "", 1)})
    page = client.get("/admin/first-login").get_data(as_text=True)
    assert "不能确认" in page
    token = csrf(client, "/admin/first-login")
    client.post("/admin/first-login", data={"csrf_token": token})
    client.post("/admin/first-login", data={"csrf_token": token, "action": "report"})
    session, _ = world.session("sysadmin")  # the creating level
    with session:
        seen = session.get(dn, ["idmConfirmed", "idmDispute"])
        assert seen is not None and "idmConfirmed" not in seen[1] and "角色" in seen[1]["idmDispute"][0]
        assert accounts.get(session, dn).role == "auditor"
    _, roleless, secret2 = account(world, role=None, factor=True)
    waiting = app.test_client()
    login(waiting, roleless, PASSWORD)
    waiting.post("/mfa/", data={"csrf_token": csrf(waiting, "/mfa/"), "code": totp_code(secret2 or "", 1)})
    for path in ("/admin/", "/admin/users", "/admin/forms/", "/admin/forms/new"):
        assert "等待授权" in waiting.get(path).get_data(as_text=True), path


def test_the_same_words_and_about_the_same_time_for_every_refusal(world: w.World, app: Flask) -> None:
    _, locked_uid, _ = account(world, kind="person")
    disabled_dn, disabled_uid, _ = account(world, kind="person")
    with ops(world.settings) as session:
        session.replace(disabled_dn, {"idmStatus": ["disabled"], "pwdAccountLockedTime": ["000001010000Z"]})
    client = app.test_client()
    for _ in range(6):  # lock the account by failures
        login(client, locked_uid, "Wrong-Passw0rd-0")

    def answer(uid: str, password: str) -> tuple[str, float]:
        reset_limits(app)  # the per-account limit is not what is measured here
        fresh = app.test_client()
        token = csrf(fresh)
        start = time.perf_counter()
        page = fresh.post("/login", data={"uid": uid, "password": password, "csrf_token": token})
        elapsed = time.perf_counter() - start
        flashes = re.findall(r'class="flash error"[^>]*>([^<]+)<', page.get_data(as_text=True))
        return " ".join(flashes), elapsed

    cases = {"unknown": ("no.such.user", PASSWORD), "wrong": (locked_uid, "Wrong-Passw0rd-0"),
             "locked": (locked_uid, PASSWORD), "disabled": (disabled_uid, PASSWORD)}
    words = {name: answer(*args)[0] for name, args in cases.items()}
    assert len(set(words.values())) == 1 and "账号或密码错误" in words["unknown"], words
    times = {name: sorted(answer(*args)[1] for _ in range(5))[2] for name, args in cases.items()}
    # an unknown login costs a bind like the others (a dummy Argon2 verification): within 2x
    print("sign-in refusal times", times)
    assert max(times.values()) < 2 * min(times.values()) + 0.01, times


def test_every_route_at_every_stage_answers_only_if_declared(world: w.World, app: Flask) -> None:
    """Walk the URL map with a client at each stage: a route that does not declare the stage is
    refused by the stage check (sent to the step still owed) and never runs; a declared one is
    not. POSTs carry the session's valid CSRF token, so only the stage check stands between."""
    made = {"factor": account(world, factor=True), "change": account(world, must_change=True),
            "enrol": account(world), "full": account(world, kind="person")}
    pages = {"sign-in": "/login", "factor": "/mfa/", "change": "/password", "enrol": "/mfa/enrol",
             "full": "/"}
    clients: dict[str, tuple[FlaskClient, str]] = {}
    for stage, page in pages.items():
        client = app.test_client()
        if stage in made:
            login(client, made[stage][1], PASSWORD)
        clients[stage] = (client, csrf(client, page))
    rules = [r for r in app.url_map.iter_rules() if r.endpoint != "static"]
    assert len(rules) > 15
    walked = 0
    for rule in rules:
        allowed = declared_for(app, rule.endpoint)
        path = rule.rule
        for name in rule.arguments:
            path = re.sub(rf"<(\w+:)?{name}>", "x", path)
        for stage, (client, token) in clients.items():
            takes = PUBLIC in allowed or stage in allowed
            for method in sorted((rule.methods or set()) - {"HEAD", "OPTIONS"}):
                if takes and method == "POST":
                    continue  # would act; the route's own tests cover it
                response = client.open(path, method=method, data={"csrf_token": token})
                refused = response.headers.get("X-Idm-Owed") == stage
                assert refused is not takes, (rule.endpoint, stage, method, response.status_code)
                walked += 1
    assert walked > 100


def declared_for(app: Flask, endpoint: str) -> frozenset[str]:
    with app.test_request_context():
        return declared(endpoint)


def test_no_store_on_signed_in_pages_and_a_0600_session_store(world: w.World, app: Flask) -> None:
    _, uid, _ = account(world, kind="person")
    client = app.test_client()
    login(client, uid, PASSWORD)
    for path in ("/", "/password", "/certs/", "/login"):
        assert client.get(path).headers["Cache-Control"] == "no-store", path
    for path in (world.settings.data_dir / "web-signin.sqlite", world.settings.sessions_db):
        if path.exists():
            assert stat.S_IMODE(path.stat().st_mode) == 0o600, path


def test_sign_ins_are_in_the_audit_of_that_level(world: w.World, app: Flask) -> None:
    """Success, failure, lockout, factor failure and sign-out of an admin: recorded on its entry,
    read by its level's auditor with the client address, not by another level's."""
    dn, uid, secret = account(world, factor=True)  # an admin of the county 150102
    county = world.nodes["child"]
    with ops(world.settings) as session:
        auditor = w.make_admin(session, county, f"aud.{uid}", "auditor")
    client = app.test_client()
    login(client, uid, "Wrong-Passw0rd-0")
    login(client, uid, PASSWORD)
    client.post("/mfa/", data={"csrf_token": csrf(client, "/mfa/"), "code": "000000"
                               if totp_code(secret or "", 1) != "000000" else "111111"})
    client.post("/mfa/", data={"csrf_token": csrf(client, "/mfa/"), "code": totp_code(secret or "", 1)})
    client.post("/logout", data={"csrf_token": csrf(client, "/")})
    with signin.admin_session(world.settings, auditor) as session:
        events = [op for op in audit.operations(session)
                  if op.kind == "signin" and op.target.lower() == dn.lower()]
    messages = " | ".join(f"{labels.label('signin_event', op.event)} {op.message}" for op in events)
    for word in ("登录失败（密码错误）", "动态验证码错误", "登录（网页）", "退出"):
        assert word in messages, messages
    assert "127.0.0.1" in messages
    session, _ = world.session("auditor")  # the city's auditor audits the city's admins, not these
    with session:
        assert not [op for op in audit.operations(session) if op.target.lower() == dn.lower()]


def test_the_client_address_comes_from_the_proxy_only_when_trusted(world: w.World) -> None:
    import dataclasses

    dn, uid, _ = account(world)
    for trusted, expected in ((0, "127.0.0.1"), (1, "203.0.113.7")):
        app = web_app(world, f"proxy{trusted}")
        app.config["IDM_WEB"] = dataclasses.replace(app.config["IDM_WEB"], trusted_proxies=trusted)
        from webui import create_app

        app = create_app(app.config["IDM_WEB"])
        app.config["TESTING"] = True
        client = app.test_client()
        token = csrf(client)
        client.post("/login", data={"uid": uid, "password": "Wrong-Passw0rd-0", "csrf_token": token},
                    headers={"X-Forwarded-For": "203.0.113.7"})
        with ops(world.settings) as session:
            event = session.get(dn, ["idmSignIn"])
        assert event is not None and event[1]["idmSignIn"][0] == f"failure {expected}", trusted
