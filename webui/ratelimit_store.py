"""A rate-limit store that every gunicorn worker of a host shares: a 0600 SQLite file in the
data folder, for the `limits` library (scheme `idmsqlite:///<path>`). Several hosts behind one
address share counts through a network store instead (`IDM_WEB_RATELIMIT_STORAGE`, e.g.
`memcached://host:11211`, see docs/configuration.md); no counter ever lives in one process."""

from __future__ import annotations

import os
import sqlite3
import time
from pathlib import Path

from limits.storage import Storage

SCHEMA = "create table if not exists limits (key text primary key, count integer not null, " \
         "expires real not null)"


class SqliteStorage(Storage):
    STORAGE_SCHEME = ["idmsqlite"]

    def __init__(self, uri: str | None = None, wrap_exceptions: bool = False, **_: object) -> None:
        super().__init__(uri, wrap_exceptions)
        assert uri is not None
        self.path = Path(uri.split("://", 1)[1])
        self.path.parent.mkdir(parents=True, exist_ok=True)
        os.close(os.open(self.path, os.O_CREAT | os.O_RDWR, 0o600))
        os.chmod(self.path, 0o600)
        with self._db() as db:
            db.execute(SCHEMA)

    def _db(self) -> sqlite3.Connection:
        return sqlite3.connect(self.path, timeout=30, isolation_level=None)

    @property
    def base_exceptions(self) -> type[Exception]:
        return sqlite3.Error

    def incr(self, key: str, expiry: int, amount: int = 1) -> int:
        now = time.time()
        db = self._db()
        try:
            db.execute("begin immediate")  # one writer at a time, across processes
            row = db.execute("select count, expires from limits where key = ?", (key,)).fetchone()
            if row is None or row[1] <= now:
                count, expires = amount, now + expiry
            else:
                count, expires = row[0] + amount, row[1]
            db.execute("insert or replace into limits (key, count, expires) values (?, ?, ?)",
                       (key, count, expires))
            db.execute("commit")
        finally:
            db.close()
        return int(count)

    def _row(self, key: str) -> tuple[int, float] | None:
        with self._db() as db:
            row = db.execute("select count, expires from limits where key = ?", (key,)).fetchone()
        return (int(row[0]), float(row[1])) if row and row[1] > time.time() else None

    def get(self, key: str) -> int:
        row = self._row(key)
        return row[0] if row else 0

    def get_expiry(self, key: str) -> float:
        row = self._row(key)
        return row[1] if row else time.time()

    def check(self) -> bool:
        return self.path.exists()

    def reset(self) -> int | None:
        with self._db() as db:
            return int(db.execute("delete from limits").rowcount)

    def clear(self, key: str) -> None:
        with self._db() as db:
            db.execute("delete from limits where key = ?", (key,))
