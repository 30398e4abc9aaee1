"""What templates show instead of internal values: labels in the page's language, local times,
units and people by name. Nothing a person reads is a DN, a code word or a UTC timestamp."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from flask import Flask, g
from flask_babel import get_locale, get_translations
from flask_babel import gettext as _
from jinja2 import pass_context
from markupsafe import Markup

from idm import labels, validation
from idm.identity import accounts
from idm.tree import org
from webui import acting

NAME_TTL = 300.0  # unit names change by import only: five minutes is fresh enough
_units: dict[str, tuple[float, str]] = {}
PERSON_TTL = 60.0  # a renamed account shows its new name within a minute
_people: dict[str, tuple[float, str]] = {}


def _kept(store: dict[str, tuple[float, str]], key: str, ttl: float, read: Callable[[], str]) -> str:
    """A name read through the lookup account, kept `ttl` seconds per process."""
    kept = store.get(key)
    if kept and time.monotonic() - kept[0] < ttl:
        return kept[1]
    name = read()
    if len(store) > 10_000:
        store.clear()
    store[key] = (time.monotonic(), name)
    return name


def lang() -> str:
    """The request's language, worked out once per request (a page asks for it per label)."""
    known = g.get("idm_lang")
    if known is None:
        locale = get_locale()
        known = g.idm_lang = "zh" if locale is None or locale.language == "zh" else "en"
    return str(known)


@pass_context
def label(_context: Any, value: Any, kind: str) -> str:
    """Takes the context so that Jinja never folds `'x'|label(...)` into the template at compile
    time, in whichever language the first request happened to use."""
    return labels.label(kind, "" if value is None else str(value), _context.get("page_lang") or lang())


def when(value: str | None) -> str:
    return labels.local_time(value)


def unit_name(value: str | None) -> str:
    """A unit by its Chinese name: from its code or the DN of the unit (or of anything in it)."""
    if not value:
        return ""
    return _kept(_units, value.lower(), NAME_TTL, lambda: _unit_name(value))


def _unit_name(value: str) -> str:
    with acting.lookup() as session:
        return org.name_of(session, value)


@pass_context
def person(_context: Any, dn: str | None) -> str:
    """An account by name and login (a DN is never shown); kept PERSON_TTL seconds per process
    (the audit page names the same few admins on every row and every reload)."""
    return person_name(dn, _context.get("page_lang") or lang())


def person_name(dn: str | None, page_lang: str) -> str:
    """`person`, outside a template (the audit's CSV and PDF)."""
    if not dn:
        return ""
    # services, forms and units are named in the page's language
    return _kept(_people, f"{page_lang} {dn.lower()}", PERSON_TTL, lambda: _person(dn))


def _person(dn: str) -> str:
    uid = dn.split(",", 1)[0].split("=", 1)[1] if dn.lower().startswith(("uid=", "cn=")) else dn
    words = _not_a_person(dn, uid)
    if words is not None:
        return words
    with acting.lookup() as session:
        name = accounts.display_name(session, dn)
    return f"{name}（{uid}）" if name else uid


def _not_a_person(dn: str, first: str) -> str | None:
    """Forms, certificate records, units and the toolkit's own services, in words."""
    service = labels.VOCABULARY["service"].get(first)
    if service is not None and ",ou=system," in dn.lower():
        return labels.label("service", first, lang())
    if dn.lower().startswith("cn=") and (",ou=forms," in dn.lower() or ",ou=certs," in dn.lower()):
        kind = _("申请单") if first.startswith("F") else _("证书记录")
        return f"{kind} {first}"
    if dn.lower().startswith("ou="):
        return unit_name(dn)
    return None


def masked(value: str | None) -> str:
    return validation.mask_id_number(value) if value else ""


def _page_gettext(translate: Callable[[str], str]) -> Callable[..., str]:
    """Jinja's new-style `gettext` (autoescaped, always %-formatted with its keywords, as
    jinja2.ext installs it) over one catalogue."""

    @pass_context
    def gettext(context: Any, message: str, **variables: Any) -> str:
        text = translate(message)
        if context.eval_ctx.autoescape:
            text = Markup(text)
        return text % variables

    return gettext


def init(app: Flask) -> None:
    app.add_template_filter(masked)
    app.add_template_filter(label)
    app.add_template_filter(when)
    app.add_template_filter(unit_name)
    app.add_template_filter(person)
    app.jinja_env.globals["lang"] = lang

    @app.context_processor
    def page_language() -> dict[str, Any]:
        """Once per page, for the filters that name things in its language, and the page's own
        `gettext`: Flask-Babel's looks up the request's catalogue again for every `_()` (about
        thirty a page, a tenth of a kept page's time); this one has it already. Jinja's `_()`
        takes `gettext` from the context before its globals."""
        return {"page_lang": lang(), "gettext": _page_gettext(get_translations().ugettext)}
