"""Tamper evidence for the write log: `seal` appends a hash chain over the log records since the
last seal; `verify` recomputes it and names every record removed, altered or slipped in since.

Seals live in the main database (`ou=seals,ou=system`), written by the local operator only, so
the party that could alter the log (whoever holds its rootDN or its files) leaves a trace in a
second place. Each seal keeps one digest per record (gzip'd JSON in `idmAttachment`, up to
4 MiB, i.e. roughly 80,000 records per seal: seal at least that often).

In a cluster every server keeps its own write log (replicated writes are logged again, by
slapd itself), while the seals replicate with the directory: so each seal names the server
whose log it covers, each server chains and verifies its own, and seals from before there was
a cluster belong to server 1.
"""

from __future__ import annotations

import gzip
import hashlib
import json
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import ldap

from idm.directory import fresh, names
from idm.directory.session import Session
from idm.errors import NotFound
from idm.rules.actor import now

LOG_BASE = "cn=accesslog"
GENESIS = "0" * 64


@dataclass(frozen=True)
class Seal:
    dn: str
    sealed_at: str
    prev: str
    chain: str
    first: str | None
    last: str | None
    count: int
    server_id: int = 1


@dataclass(frozen=True)
class Finding:
    record: str  # reqStart of the record, or the seal's name
    problem: str  # removed, altered, inserted, chain broken, purged


def seals_dn(suffix: str) -> str:
    return f"ou=seals,ou=system,{suffix}"


def record_digest(attrs: dict[str, list[bytes]]) -> str:
    """SHA-256 over a record's attributes, in a canonical order."""
    h = hashlib.sha256()
    for name in sorted(attrs, key=str.lower):
        for value in sorted(attrs[name]):
            h.update(name.lower().encode() + b"\0" + value + b"\n")
    return h.hexdigest()


def _records(session: Session, after: str | None, upto: str | None = None) -> list[tuple[str, str]]:
    """(reqStart, digest) of the log records in a window, oldest first.

    The window is cut here, on the reqStart strings (same format, so they sort as times):
    slapd's ordering match on generalized times with fractions was seen to drop the boundary.
    """
    found = session.search_raw(LOG_BASE, "(reqStart=*)", scope=ldap.SCOPE_ONELEVEL)
    rows = [(attrs["reqStart"][0].decode(), record_digest(attrs)) for _, attrs in found]
    return sorted((start, digest) for start, digest in rows
                  if (after is None or start > after) and (upto is None or start <= upto))


def _chain(prev: str, rows: list[tuple[str, str]]) -> str:
    h = hashlib.sha256(prev.encode())
    for start, digest in rows:
        h.update(f"{start} {digest}\n".encode())
    return h.hexdigest()


def list_seals(session: Session, server_id: int | None = None) -> list[Seal]:
    """The seals of one server's log (all servers' with None), oldest first."""
    seals = []
    try:
        for dn, attrs in session.search(seals_dn(session.suffix), "(objectClass=idmRecord)",
                                        ["idmRecordData"], scope=ldap.SCOPE_ONELEVEL):
            d = json.loads(attrs["idmRecordData"][0])
            sid = int(d.get("server_id", 1))
            if server_id is None or sid == server_id:
                seals.append(Seal(dn, d["sealed_at"], d["prev"], d["chain"], d["first"], d["last"],
                                  d["count"], sid))
    except NotFound:  # no seal yet
        return []
    return sorted(seals, key=lambda s: s.sealed_at)


def latest(session: Session) -> Seal | None:
    """The newest seal of any server. The audit page shows it on every load: kept until the
    directory changes (`fresh`), so a reload does not read a year of daily seals again."""
    seals = fresh.LISTS.get(session, session.suffix, ("seal.latest",), lambda: list_seals(session)[-1:])
    return seals[0] if seals else None


def seal(session: Session, server_id: int = 1) -> Seal:
    """Append a seal over every log record since the last one (local operator)."""
    seals = list_seals(session, server_id)
    prev = seals[-1] if seals else None
    after = prev.last if prev else None  # None: nothing sealed yet, take every record
    rows = _records(session, after)
    chain = _chain(prev.chain if prev else GENESIS, rows)
    stamp = now()
    container = seals_dn(session.suffix)
    if not session.exists(container):
        session.add(container, {"objectClass": ["organizationalUnit"], "ou": ["seals"]})
    data: dict[str, Any] = {"sealed_at": stamp, "prev": prev.chain if prev else GENESIS, "chain": chain,
            "first": rows[0][0] if rows else None, "last": rows[-1][0] if rows else after,
            "count": len(rows), "server_id": server_id}
    name = f"seal-{stamp}-s{server_id}-{len(seals) + 1}"
    dn = names.child_dn("cn", name, container)
    session.add(dn, {"objectClass": ["idmRecord"], "cn": [name],
                     "idmRecordKind": ["seal"], "idmRecordStatus": ["sealed"],
                     "idmRecordData": [json.dumps(data, sort_keys=True)]})
    session.add_binary(dn, "idmAttachment", gzip.compress(json.dumps(rows).encode()))
    return Seal(dn, stamp, data["prev"], chain, data["first"], data["last"], len(rows), server_id)


def verify(session: Session, purge_days: int = 183, server_id: int = 1) -> list[Finding]:
    """Every difference between this server's log and its seals; empty means intact."""
    findings: list[Finding] = []
    horizon = (datetime.now(UTC) - timedelta(days=purge_days)).strftime("%Y%m%d%H%M%S")
    prev_chain = GENESIS
    after: str | None = None
    for s in list_seals(session, server_id):
        if s.prev != prev_chain:
            findings.append(Finding(s.dn, "chain broken"))
        blob = session.get_binary(s.dn, "idmAttachment")
        sealed = [(r[0], r[1]) for r in json.loads(gzip.decompress(blob))] if blob else []
        if _chain(s.prev, sealed) != s.chain:
            findings.append(Finding(s.dn, "seal altered"))
        now_rows = dict(_records(session, after, s.last)) if s.last else {}
        for start, digest in sealed:
            if start not in now_rows:
                problem = "purged" if start[:14] < horizon else "removed"
                findings.append(Finding(start, problem))
            elif now_rows[start] != digest:
                findings.append(Finding(start, "altered"))
        known = {start for start, _ in sealed}
        findings.extend(Finding(start, "inserted") for start in now_rows if start not in known)
        prev_chain, after = s.chain, s.last or after
    return [f for f in findings if f.problem != "purged"] + [f for f in findings if f.problem == "purged"]
