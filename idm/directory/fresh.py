"""Answers of costly list searches, kept until the directory changes.

A page of forms or of the write log reads the names of every match in a window before it reads
the page itself, and slapd evaluates the access rules for each of them: with thousands of
matches that is most of a second, for an answer that is the same on every reload until something
is written. Each database has a `contextCSN` (syncprov keeps it, in memory, on the database's
base entry) that changes with every write to it, refusals logged included; reading it is one
base search. So an answer is kept with the `contextCSN` it was read under, for the identity that
read it, and given again only while the `contextCSN` is the same (and for at most `MAX_AGE`
seconds, which bounds what a change of the rules in cn=config, which no `contextCSN` shows,
could leave visible).

Nothing is shared between identities: the key holds the DN the directory evaluated its rules
for, so a kept answer is exactly what the directory would give that identity again. An identity
that cannot read the `contextCSN` gets no keeping at all.
"""

from __future__ import annotations

import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Hashable
from typing import Any, TypeVar

import ldap

from idm.directory.session import Session
from idm.errors import NotFound

T = TypeVar("T")
MAX_AGE = 60.0
MAX_ENTRIES = 256


class Fresh:
    """A small LRU of answers, each valid while its database's `contextCSN` stays the same."""

    def __init__(self, max_entries: int = MAX_ENTRIES, max_age: float = MAX_AGE) -> None:
        self._kept: OrderedDict[Hashable, tuple[tuple[str, ...], float, Any]] = OrderedDict()
        self._lock = threading.Lock()
        self._flights: dict[Hashable, threading.Lock] = {}
        self.max_entries = max_entries
        self.max_age = max_age
        self.hits = 0
        self.misses = 0

    def get(self, session: Session, database: str, key: Hashable, compute: Callable[[], T]) -> T:
        """`compute()`'s answer for `key` as the session's identity, read again only when
        `database` (its base DN) has changed since."""
        stamp = state(session, database)
        if not stamp:
            return compute()
        full = (session.identity(), database.lower(), key)
        kept = self._valid(full, stamp)
        if kept is not None:
            return kept[0]  # type: ignore[no-any-return]
        # one reader per answer: the others wait for it instead of all reading the same at once
        with self._lock:
            flight = self._flights.setdefault(full, threading.Lock())
        with flight:
            kept = self._valid(full, stamp)
            if kept is not None:
                return kept[0]  # type: ignore[no-any-return]
            self.misses += 1
            answer = compute()
            with self._lock:
                self._kept[full] = (stamp, time.monotonic(), answer)
                self._kept.move_to_end(full)
                while len(self._kept) > self.max_entries:
                    self._kept.popitem(last=False)
                self._flights.pop(full, None)
        return answer

    def _valid(self, full: Hashable, stamp: tuple[str, ...]) -> tuple[Any] | None:
        with self._lock:
            kept = self._kept.get(full)
            if kept and kept[0] == stamp and time.monotonic() - kept[1] < self.max_age:
                self._kept.move_to_end(full)
                self.hits += 1
                return (kept[2],)
        return None

    def clear(self) -> None:
        with self._lock:
            self._kept.clear()


STAMP_AGE = 1.0


def state(session: Session, database: str) -> tuple[str, ...]:
    """The database's `contextCSN` values (one per server that wrote), or () if unreadable.
    Read once for several kept answers in one request: a session remembers it for STAMP_AGE
    seconds and forgets it at its own writes, so it never hides what it wrote itself."""
    now = time.monotonic()
    memo = session.stamps.get(database.lower())
    if memo and now - memo[0] < STAMP_AGE:
        return memo[1]
    stamp = _read_state(session, database)
    session.stamps[database.lower()] = (now, stamp)
    return stamp


def _read_state(session: Session, database: str) -> tuple[str, ...]:
    try:
        found = list(session.search(database, "(objectClass=*)", ["contextCSN"], scope=ldap.SCOPE_BASE))
    except NotFound:
        return ()
    if not found:
        return ()
    return tuple(sorted(found[0][1].get("contextCSN", [])))


LISTS = Fresh()  # the process's one store (each web worker has its own)
