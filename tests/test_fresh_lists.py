"""Kept list answers (`idm.directory.fresh`): a page of forms or of the log is read again as soon
as the directory changes, a refusal included; an answer is never given to another identity; an
identity that cannot read the database's state gets nothing kept."""

from __future__ import annotations

import time

import ldap
import pytest

from idm.directory import fresh
from idm.filing import listing
from idm.oversight import audit
from tests import world as w


def code(dn: str) -> str:
    return dn.split(",")[0].split("=")[1]


def test_a_kept_form_list_shows_a_new_form_at_once(world: w.World) -> None:
    session, actor = world.session("sysadmin")
    with session:
        first = listing.page(session, code(actor.node_dn))
        hits = fresh.LISTS.hits
        again = listing.page(session, code(actor.node_dn))
        assert fresh.LISTS.hits == hits + 1 and again == first  # nothing written: kept
    form_id = world.form("registration", actor.node_dn)
    session, actor = world.session("sysadmin")
    with session:
        after = listing.page(session, code(actor.node_dn))
    assert after.total == first.total + 1  # read again: a kept page would still say first.total
    assert form_id in {f.form_id for f in after.forms}  # among the newest (times are to the second)


def test_a_kept_log_page_shows_a_refusal_at_once(world: w.World) -> None:
    auditor, _ = world.session("auditor")
    with auditor:
        audit.page(auditor, size=5)
        audit.page(auditor, size=5)
        target = world.target("person", "own")
        raw = world.raw("sysadmin")  # an admin's own bind: refused, and the log keeps the attempt
        with pytest.raises(ldap.INSUFFICIENT_ACCESS):
            raw.modify_s(target, [(ldap.MOD_REPLACE, "idmStatus", [b"disabled"])])
        # slapd may log a refusal just after answering it; a kept page would stay as it was for
        # fresh.MAX_AGE (60 s), so seeing the refusal within 5 s shows the page was read again
        deadline = time.monotonic() + 5
        while True:
            newest, _ = audit.page(auditor, size=5)
            if newest and newest[0].target.lower() == target.lower() or time.monotonic() > deadline:
                break
            time.sleep(0.05)
    assert newest[0].target.lower() == target.lower() and newest[0].result == "50"


def test_an_answer_is_kept_for_the_identity_that_read_it_only(world: w.World) -> None:
    kept = fresh.Fresh()
    sysadmin, _ = world.session("sysadmin")
    secadmin, _ = world.session("secadmin")
    with sysadmin, secadmin:
        suffix = world.settings.suffix
        assert kept.get(sysadmin, suffix, "k", sysadmin.identity) == sysadmin.identity()
        assert kept.get(secadmin, suffix, "k", secadmin.identity) == secadmin.identity()
        assert sysadmin.identity() != secadmin.identity()
        assert kept.get(sysadmin, suffix, "k", lambda: "read again") == sysadmin.identity()
        assert (kept.hits, kept.misses) == (1, 2)


def test_no_keeping_for_an_identity_that_cannot_read_the_state(world: w.World) -> None:
    kept = fresh.Fresh()
    sysadmin, _ = world.session("sysadmin")
    with sysadmin:  # a system admin reads nothing of the write log, its state included
        assert fresh.state(sysadmin, "cn=accesslog") == ()
        calls = [kept.get(sysadmin, "cn=accesslog", "k", lambda: object()) for _ in range(2)]
    assert calls[0] is not calls[1] and kept.hits == 0
