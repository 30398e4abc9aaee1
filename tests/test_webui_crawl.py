"""Every page each role can reach, in Chinese and in English, read as a person reads it: no DN,
no code word, no directory timestamp, no untranslated words on the English pages.

The crawler signs in as each admin role and as a business user, follows every link it is shown
(GET only; a handful of pages per kind of address, so a long list does not mean a long test) and
reads the visible text of each page."""

from __future__ import annotations

import json
import re
from collections import deque
from collections.abc import Iterator
from html.parser import HTMLParser
from urllib.parse import urljoin, urlsplit

import pytest
from flask import Flask
from flask.testing import FlaskClient

from idm import labels
from tests import world as w
from tests.conftest import ops, web_app
from tests.test_webui_console import act, fill
from tests.test_webui_http import login
from webui.security import limiter

PER_KIND = 4  # pages visited per kind of address (/admin/account/<x>, /admin/forms/<x>, ...)
SKIP = re.compile(r"^/(logout|static/|ca/)|\.(pdf|csv|p12|pem)$|format=csv|/blank/")

# what must never be read on a page, in any language
DN = re.compile(r"\b(uid|cn|ou|dc)=[^\s,<]+,", re.I)
LDAP_TIME = re.compile(r"\b\d{14}(\.\d+)?Z\b")
ISO_TIME = re.compile(r"\b\d{4}-\d{2}-\d{2}T\d{2}:\d{2}")
CODE_WORDS = re.compile(r"\b(idm|pwd|oath)[A-Z]\w*|(?<![\w.#-])(sysadmin|secadmin|None|True|False|Traceback|"
                        r"reset-password|reset-factor|set-role|key_compromise|affiliation_changed)(?![\w.#-])|"
                        r"\{\{|\}\}|\{%")
CJK = re.compile(r"[\u3400-\u9fff]+")


class Visible(HTMLParser):
    """The words a person sees: text outside script and style, and the links on the page."""

    def __init__(self) -> None:
        super().__init__()
        self.words: list[str] = []
        self.links: list[str] = []
        self._hidden = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in ("script", "style"):
            self._hidden += 1
        if tag == "a":
            href = dict(attrs).get("href")
            if href:
                self.links.append(href)

    def handle_endtag(self, tag: str) -> None:
        if tag in ("script", "style"):
            self._hidden -= 1

    def handle_data(self, data: str) -> None:
        if not self._hidden and data.strip():
            self.words.append(data.strip())


def kind_of(path: str) -> str:
    """/admin/account/zhang.san -> /admin/account/*; the query's keys, not its values."""
    parts = urlsplit(path)
    steps = [p if p in ROUTE_WORDS else "*" for p in parts.path.split("/")]
    keys = sorted(k.split("=")[0] for k in parts.query.split("&") if k)
    return "/".join(steps) + "?" + "&".join(keys)


ROUTE_WORDS = {"", "admin", "account", "forms", "new", "do", "audit", "users", "first-login",
               "one-time", "password", "mfa", "enrol", "certs", "scan", "reject"}


def crawl(client: FlaskClient, starts: tuple[str, ...]) -> dict[str, str]:
    """Path -> visible text of every page reached."""
    seen_kinds: dict[str, int] = {}
    pages: dict[str, str] = {}
    queue = deque(starts)
    while queue:
        path = queue.popleft()
        if path in pages or SKIP.search(path):
            continue
        kind = kind_of(path)
        if seen_kinds.get(kind, 0) >= PER_KIND:
            continue
        seen_kinds[kind] = seen_kinds.get(kind, 0) + 1
        response = client.get(path)
        assert response.status_code == 200, (path, response.status_code)
        if response.mimetype != "text/html":
            continue
        parser = Visible()
        parser.feed(response.get_data(as_text=True))
        pages[path] = "\n".join(parser.words)
        for href in parser.links:
            url = urlsplit(urljoin("http://localhost" + path, href))
            if url.netloc == "localhost" and "lang=" not in url.query:
                queue.append(url.path + (f"?{url.query}" if url.query else ""))
    return pages


@pytest.fixture(scope="module")
def app(world: w.World) -> Flask:
    """The web UI with a little of everything on its pages: a created account with a grant and a
    certificate application, a disabled account, a rejected form, a form still waiting."""
    app = web_app(world, "crawl", "nist")
    sysadmin = _signed_in(app, "m.sysadmin", w.PASSWORD)
    registration = fill(sysadmin, "registration", unit=w.CITY, name="爬取甲", surname="爬",
                        id_number=w.id_number(471), mobile="13900000471")
    slip = act(sysadmin, registration, "create-user")
    uid = re.search(r"登录账号</dt><dd>([^<]+)</dd>", slip).group(1)  # type: ignore[union-attr]
    with ops(world.settings) as session:
        dn = next(d for d, _ in session.search(world.settings.suffix, f"(uid={uid})", ["1.1"]))
        session.set_password(dn, "Crawl-Passw0rd-1")
        session.replace(dn, {"pwdReset": []})
    secadmin = _signed_in(app, "m.secadmin", w.PASSWORD)
    act(secadmin, world.form_about("grant", dn, grants_add=["teacher#viewer"]), "grant", "teacher#viewer")
    act(secadmin, world.form_about("cert", dn), "apply-cert")
    fill(sysadmin, "change", unit=w.CITY, name="爬取甲", id_number=w.id_number(471), account_uid=uid,
         change_type="disable", reason="离职")
    waiting = fill(sysadmin, "registration", unit=w.CITY, name="爬取乙", id_number=w.id_number(472),
                   mobile="13900000472", role="auditor")
    assert waiting
    app.config["CRAWL_USER"] = uid
    return app


def _signed_in(app: Flask, uid: str, password: str, lang: str = "zh_CN") -> FlaskClient:
    with app.test_request_context():
        limiter.reset()
    client = app.test_client()
    response = login(client, uid, password)
    assert response.status_code == 302, response.get_data(as_text=True)[:500]
    client.get(f"/?lang={lang}")
    return client


def _internal_words() -> re.Pattern[str]:
    """The code words of every vocabulary the pages label, as whole words."""
    words = {key for kind, table in labels.VOCABULARY.items()
             if kind not in ("attribute", "result", "level", "service") for key in table if key.isascii()}
    words -= {"", "ok"}
    return re.compile(r"(?<![\w.#-])(" + "|".join(sorted(map(re.escape, words), key=len, reverse=True))
                      + r")(?![\w.#-])")


def _data_words(world: w.World) -> set[str]:
    """Names people gave (units, persons, posts, the forms' own fields): Chinese on any page."""
    found: set[str] = {"爬取甲", "爬取乙", "爬", "离职",
                       "中文",  # the language switch names each language in itself
                       "欧阳",  # the example of a compound surname, as it is written
                       "腾讯身份验证器"}  # an app's name as its store shows it
    with ops(world.settings) as session:
        for _, attrs in session.search(world.settings.suffix, "(|(idmNameZh=*)(cn=*)(idmPostName=*))",
                                       ["idmNameZh", "cn", "sn", "givenName", "idmPostName", "idmAppRole",
                                        "idmRecordData"]):
            for name, values in attrs.items():
                if name == "idmRecordData":  # what was written on the forms
                    found.update(_strings([json.loads(v) for v in values]))
                else:
                    found.update(v.split("#", 1)[-1] if name == "idmAppRole" else v for v in values)
    return found


def _strings(value: object) -> Iterator[str]:
    if isinstance(value, str):
        yield value
    elif isinstance(value, dict):
        for v in value.values():
            yield from _strings(v)
    elif isinstance(value, list):
        for v in value:
            yield from _strings(v)


ROLES = [("sysadmin", "m.sysadmin"), ("secadmin", "m.secadmin"), ("auditor", "m.auditor"), ("user", "")]


@pytest.mark.parametrize("lang", ["zh_CN", "en"])
@pytest.mark.parametrize("role,uid", ROLES, ids=[r for r, _ in ROLES])
def test_no_page_shows_an_internal_value(world: w.World, app: Flask, role: str, uid: str, lang: str) -> None:
    password = w.PASSWORD
    if role == "user":
        uid, password = app.config["CRAWL_USER"], "Crawl-Passw0rd-1"
    client = _signed_in(app, uid, password, lang)
    pages = crawl(client, ("/",))  # only what the menus and pages lead to
    assert len(pages) >= (3 if role == "user" else 8), sorted(pages)
    import os
    if os.environ.get("CRAWL_DUMP"):
        for path, text in pages.items():
            print(f"==== {role} {lang} {path}\n{text}")
    internal = _internal_words()
    data = sorted(_data_words(world), key=len, reverse=True) if lang == "en" else []
    problems: list[str] = []
    for path, text in pages.items():
        for pattern in (DN, LDAP_TIME, ISO_TIME, CODE_WORDS):
            problems += [f"{path}: {m.group(0)!r}" for m in pattern.finditer(text)]
        if lang == "zh_CN":
            problems += [f"{path}: {m.group(0)!r} in {text[max(0, m.start() - 30):m.end() + 30]!r}"
                         for m in internal.finditer(text)]
        else:
            rest = text
            for name in data:
                rest = rest.replace(name, " ")
            problems += [f"{path}: untranslated {m.group(0)!r}" for m in CJK.finditer(rest)]
    assert not problems, "\n".join(sorted(set(problems))[:80])
