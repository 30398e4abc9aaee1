"""Server-side sessions, shared by the web UI and the CLI: the browser's cookie or the CLI's
session file carries only a random id; what the sign-in has proven (`signin.Progress`) lives in
SQLite in the data folder, so sign-out, expiry and a disabled account end a session on the
server, whatever the client keeps.

The file is 0600 from the first byte, and its journal mode is set once, by `prepare` (called by
`idm web start` before any worker starts), so workers never race to convert a new database.
"""

from __future__ import annotations

import json
import os
import secrets
import sqlite3
import time
from dataclasses import asdict, dataclass
from pathlib import Path

from idm.auth.signin import Progress

SCHEMA = """
create table if not exists sessions (
    sid text primary key,
    dn text not null,
    uid text not null,
    admin integer not null,
    progress text not null,
    client text not null,
    created real not null,
    seen real not null,
    pending text,
    download blob
)
"""
COLUMNS = "sid, progress, client, created, seen"
# The same limits for every client: idle minutes (admins, others) and hours in all.
IDLE_ADMIN = 15 * 60
IDLE_USER = 30 * 60
ABSOLUTE = 8 * 3600


@dataclass(frozen=True)
class Record:
    sid: str
    progress: Progress
    client: str  # "web" or "cli"
    created: float
    seen: float

    @property
    def dn(self) -> str:
        return self.progress.dn

    @property
    def uid(self) -> str:
        return self.progress.uid

    @property
    def admin(self) -> bool:
        return self.progress.admin

    @property
    def stage(self) -> str:
        return self.progress.stage

    def expired(self, idle_seconds: float, absolute_seconds: float, now: float | None = None) -> bool:
        now = now or time.time()
        return now - self.seen > idle_seconds or now - self.created > absolute_seconds


def prepare(path: Path) -> None:
    """Create the database (0600) with its table and WAL journal, once, before any worker."""
    path.parent.mkdir(parents=True, exist_ok=True)
    os.close(os.open(path, os.O_CREAT | os.O_RDWR, 0o600))
    os.chmod(path, 0o600)
    db = sqlite3.connect(path, timeout=30, isolation_level=None)
    try:
        db.execute("pragma journal_mode=wal")
        db.execute(SCHEMA)
        columns = {row[1] for row in db.execute("pragma table_info(sessions)")}
        if "progress" not in columns:  # a data folder from before the sign-in state machine
            db.execute("drop table sessions")
            db.execute(SCHEMA)
    finally:
        db.close()


def _row(row: tuple[str, str, str, float, float]) -> Record:
    return Record(row[0], Progress(**json.loads(row[1])), row[2], row[3], row[4])


class Store:
    def __init__(self, path: Path) -> None:
        self.path = path
        if not path.exists():
            prepare(path)

    def _db(self) -> sqlite3.Connection:
        return sqlite3.connect(self.path, timeout=30, isolation_level=None)

    def create(self, progress: Progress, client: str) -> Record:
        now = time.time()
        record = Record(secrets.token_urlsafe(32), progress, client, now, now)
        with self._db() as db:
            db.execute("insert into sessions (sid, dn, uid, admin, progress, client, created, seen) "
                       "values (?,?,?,?,?,?,?,?)",
                       (record.sid, progress.dn, progress.uid, int(progress.admin),
                        json.dumps(asdict(progress)), client, now, now))
        return record

    def get(self, sid: str) -> Record | None:
        with self._db() as db:
            row = db.execute(f"select {COLUMNS} from sessions where sid = ?", (sid,)).fetchone()
        return _row(row) if row else None

    def touch(self, sid: str) -> None:
        with self._db() as db:
            db.execute("update sessions set seen = ? where sid = ?", (time.time(), sid))

    def advance(self, old: Record, progress: Progress) -> Record:
        """The sign-in moved on: a new id for it (the old id stops working), same start time."""
        new = Record(secrets.token_urlsafe(32), progress, old.client, old.created, time.time())
        with self._db() as db:
            db.execute("delete from sessions where sid = ?", (old.sid,))
            db.execute("insert into sessions (sid, dn, uid, admin, progress, client, created, seen) "
                       "values (?,?,?,?,?,?,?,?)",
                       (new.sid, progress.dn, progress.uid, int(progress.admin),
                        json.dumps(asdict(progress)), new.client, new.created, new.seen))
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
