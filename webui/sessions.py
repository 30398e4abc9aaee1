"""Server-side sessions: the cookie carries only a random id; the record lives in SQLite in the
data folder, so sign-out and expiry are enforced by the server, whatever the browser keeps."""

from __future__ import annotations

import secrets
import sqlite3
import time
from dataclasses import dataclass
from pathlib import Path

SCHEMA = """
create table if not exists sessions (
    sid text primary key,
    dn text not null,
    uid text not null,
    admin integer not null,
    stage text not null,
    created real not null,
    seen real not null,
    pending text
)
"""


@dataclass(frozen=True)
class WebSession:
    sid: str
    dn: str
    uid: str
    admin: bool
    stage: str  # "password" (first factor done) or "full"
    created: float
    seen: float


class Store:
    def __init__(self, path: Path) -> None:
        self.path = path
        with self._db() as db:
            db.execute(SCHEMA)
            columns = {row[1] for row in db.execute("pragma table_info(sessions)")}
            if "pending" not in columns:  # data folders from before the second factor
                db.execute("alter table sessions add column pending text")
            if "download" not in columns:  # a one-time download (PKCS#12), served once
                db.execute("alter table sessions add column download blob")

    def _db(self) -> sqlite3.Connection:
        db = sqlite3.connect(self.path, timeout=10, isolation_level=None)
        db.execute("pragma journal_mode=wal")
        return db

    def create(self, dn: str, uid: str, admin: bool, stage: str) -> WebSession:
        now = time.time()
        s = WebSession(secrets.token_urlsafe(32), dn, uid, admin, stage, now, now)
        with self._db() as db:
            db.execute("insert into sessions (sid, dn, uid, admin, stage, created, seen) "
                       "values (?,?,?,?,?,?,?)",
                       (s.sid, s.dn, s.uid, int(s.admin), s.stage, s.created, s.seen))
        return s

    def get(self, sid: str) -> WebSession | None:
        with self._db() as db:
            row = db.execute("select sid, dn, uid, admin, stage, created, seen from sessions "
                             "where sid = ?", (sid,)).fetchone()
        return WebSession(row[0], row[1], row[2], bool(row[3]), row[4], row[5], row[6]) if row else None


    def touch(self, sid: str) -> None:
        with self._db() as db:
            db.execute("update sessions set seen = ? where sid = ?", (time.time(), sid))

    def rotate(self, old: WebSession, stage: str) -> WebSession:
        """A new id for the same sign-in (after the second factor): the old id stops working."""
        new = WebSession(secrets.token_urlsafe(32), old.dn, old.uid, old.admin, stage, old.created,
                         time.time())
        with self._db() as db:
            db.execute("delete from sessions where sid = ?", (old.sid,))
            db.execute("insert into sessions (sid, dn, uid, admin, stage, created, seen) "
                       "values (?,?,?,?,?,?,?)",
                       (new.sid, new.dn, new.uid, int(new.admin), new.stage, new.created, new.seen))
        return new

    def set_pending(self, sid: str, value: str | None) -> None:
        """A secret being enrolled: kept on the server, never in the cookie."""
        with self._db() as db:
            db.execute("update sessions set pending = ? where sid = ?", (value, sid))

    def pending(self, sid: str) -> str | None:
        with self._db() as db:
            row = db.execute("select pending from sessions where sid = ?", (sid,)).fetchone()
        return row[0] if row else None

    def put_download(self, sid: str, blob: bytes | None) -> None:
        with self._db() as db:
            db.execute("update sessions set download = ? where sid = ?", (blob, sid))

    def take_download(self, sid: str) -> bytes | None:
        """The stored download, removed as it is taken: it can be fetched once."""
        with self._db() as db:
            row = db.execute("select download from sessions where sid = ?", (sid,)).fetchone()
            db.execute("update sessions set download = null where sid = ?", (sid,))
        return bytes(row[0]) if row and row[0] is not None else None

    def delete(self, sid: str) -> None:
        with self._db() as db:
            db.execute("delete from sessions where sid = ?", (sid,))

    def delete_for(self, dn: str) -> None:
        with self._db() as db:
            db.execute("delete from sessions where lower(dn) = lower(?)", (dn,))
