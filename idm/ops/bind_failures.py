"""Failed user binds, counted per downstream service and per client address, from slapd's
`stats` log: which app is locking users out.

The write log cannot say it. A failed bind is recorded there only as ppolicy's internal write
of `pwdFailureTime`, made by slapd as the rootDN; the service that bound on that connection
first, and the client's address, are not in any record. slapd's `stats` log has both: every
connection's address (ACCEPT), every bind's DN and its result. A client that binds the user on
the connection its service account bound first (Apache's `mod_authnz_ldap` does) is counted
under that service; one that opens a connection of its own per user (nslcd, the ldap3 recipe)
is counted under its address only.
"""

from __future__ import annotations

import re
import time
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

from idm.config import Settings
from idm.errors import InvalidInput

LINE = re.compile(r"^(?:(?P<stamp>[0-9a-f]{8})\.[0-9a-f]+ \S+ )?conn=(?P<conn>\d+) "
                  r"(?:fd=\d+ ACCEPT from (?P<peer>\S+)"
                  r"|op=(?P<op>\d+) (?:BIND dn=\"(?P<dn>[^\"]*)\" method="
                  r"|RESULT tag=97 err=(?P<err>\d+)))")
SERVICE = re.compile(r"^cn=[^,]+,(ou=services,ou=[0-9]+|ou=system),", re.IGNORECASE)
ACCOUNT = re.compile(r"^uid=[^,]+,ou=(people|admins),", re.IGNORECASE)
INVALID_CREDENTIALS = 49
NO_SERVICE = "-"


@dataclass
class Failures:
    """Failed binds of accounts (users and admins): per service, per address, per account."""

    by_service: Counter[str] = field(default_factory=Counter)
    by_address: Counter[str] = field(default_factory=Counter)
    by_account: Counter[str] = field(default_factory=Counter)

    @property
    def total(self) -> int:
        return sum(self.by_address.values())


def _address(peer: str) -> str:
    """`IP=10.1.2.3:51234` -> `10.1.2.3`; `IP=[::1]:5000` -> `::1`; ldapi -> `ldapi`."""
    if peer.startswith("PATH="):
        return "ldapi"
    host = peer.removeprefix("IP=").rsplit(":", 1)[0]
    return host.strip("[]")


def count(lines: Iterable[str], since: float | None = None) -> Failures:
    """Walk the log once, keeping per connection its address, the service that last bound on
    it, and the DN of each bind still waiting for its result."""
    out = Failures()
    peer: dict[str, str] = {}
    service: dict[str, str] = {}
    pending: dict[tuple[str, str], str] = {}
    for line in lines:
        m = LINE.match(line)
        if m is None:
            continue
        conn = m["conn"]
        if m["peer"] is not None:
            peer[conn] = _address(m["peer"])
            service.pop(conn, None)
        elif m["dn"] is not None:
            pending[(conn, m["op"])] = m["dn"]
        elif m["err"] is not None:
            dn = pending.pop((conn, m["op"]), "")
            if int(m["err"]) == 0 and SERVICE.match(dn):
                service[conn] = dn
            elif int(m["err"]) == INVALID_CREDENTIALS and ACCOUNT.match(dn):
                if since is not None and m["stamp"] and int(m["stamp"], 16) < since:
                    continue
                out.by_service[service.get(conn, NO_SERVICE)] += 1
                out.by_address[peer.get(conn, "?")] += 1
                out.by_account[dn] += 1
    return out


def log_file(settings: Settings) -> Path:
    return settings.data_dir / "log" / "slapd.log"


def from_log(settings: Settings, hours: float | None = None) -> Failures:
    """The embedded server's log (`log/slapd.log`), written with `"log_level": "stats"`."""
    if "stats" not in settings.log_level.split():
        raise InvalidInput(
            "slapd 未记录 stats 日志：在 idm.json 中设 \"log_level\": \"stats\" 后重启 slapd",
            "slapd does not write its stats log: set \"log_level\": \"stats\" in idm.json and restart slapd")
    path = log_file(settings)
    since = time.time() - hours * 3600 if hours is not None else None
    with path.open(encoding="utf-8", errors="replace") as lines:
        return count(lines, since)
