"""The one place the web UI opens directory sessions for a request; every view gets its session
here and hands it to `idm` functions, which read and write.

- `admin()`: the signed-in admin at work, the writer acting as the admin (slapd applies the
  admin's rules and its write log names the admin), opened as the CLI opens it;
- `own()`: the signed-in person's own view, the self-service account acting as them;
- `lookup()`: the web UI's lookup account (names, the second factor's state), acting as itself.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from flask import g

from idm import pipeline
from idm.auth import selfservice, signin
from idm.directory import lookup as lookups
from idm.directory.session import Session
from idm.rules import actor as actors
from idm.rules.actor import Actor
from webui.auth import web


@contextmanager
def admin() -> Iterator[pipeline.Acting]:
    """The signed-in admin's session and who the rules take the admin to be."""
    with signin.admin_session(web().idm, g.user.dn) as session:
        yield pipeline.Acting(session, current_actor())


def current_actor() -> Actor:
    """The signed-in admin as the rules see it (role, node, active), read once per request."""
    if getattr(g, "actor", None) is None:
        with signin.admin_session(web().idm, g.user.dn) as session:
            g.actor = actors.load(session)
    return g.actor  # type: ignore[no-any-return]


def own() -> Session:
    """The signed-in person's own view: exactly what they may see of themself."""
    settings = web().idm
    service = lookups.service_session(settings.ldap_uri, settings.suffix, settings.secrets_dir,
                                      selfservice.SERVICE)
    return service.act_as(g.user.dn)


def lookup() -> Session:
    """The web UI's lookup account, on a connection kept per thread."""
    settings = web().idm
    return lookups.service_session(settings.ldap_uri, settings.suffix, settings.secrets_dir)
