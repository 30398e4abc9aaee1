"""Tamper evidence for the write log (等保 8.1.4.3, 密评 8.4 b): `seal` appends a seal over the
log records since the last one, and `verify` names every record removed, altered, moved to
another time or slipped in since, and every seal altered, removed, reordered or signed by a key
other than the trusted one.

A seal holds one SM3 digest per record (gzip'd JSON in `idmAttachment`, up to 4 MiB, roughly
80,000 records per seal: seal at least that often), an SM3 chain over those digests from the
previous seal's, and an SM2 signature (standard ID, see `idm.pki.sm2`) over all of that, made
with the local operator's key in a 0600 file outside the directory (`idm.oversight.seal_key`).
Whoever can write both the log and the seals can therefore rebuild a chain, but not a seal
that verifies with the trusted public key.

Seals live in the main database (`ou=seals,ou=system`), written by the local operator only. In
a cluster every server keeps its own write log (replicated writes are logged again, by slapd
itself) and its own seal key, while the seals replicate with the directory: so each seal names
the server whose log it covers, each server chains and verifies its own, and seals from before
there was a cluster belong to server 1. Seals made before seals were signed (SHA-256, no
signature) still verify as a chain, and are reported as `unsigned`.

Which records a seal covers is decided by when they were written (`reqEnd`), not by when their
operation began (`reqStart`, the record's name): slapd writes a record when its operation ends,
so a slow write that began before a quick one is logged after it, and a seal cut by start time
left it out and then found it "inserted" (seen with six writers and a seal every 50 ms). A seal
takes the records that ended in whole seconds at least `SETTLE` before it, and none newer than
the newest it read (`upto`, signed with the rest), so a record whose end time is taken but whose
write still waits for the log database is not left behind. Seals made before `upto` keep their
start-time window.
"""

from __future__ import annotations

import base64
import bisect
import gzip
import hashlib
import json
import re
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import ldap

from idm.directory import fresh, names
from idm.directory.session import Session
from idm.errors import NotFound, ServerError
from idm.labels import local_time
from idm.oversight.seal_key import SealKey, fingerprint
from idm.pki import sm2
from idm.rules.actor import now

LOG_BASE = "cn=accesslog"
GENESIS = "0" * 64
ALGORITHM = "sm2-sm3"  # what a signed seal says it is; seals without it are the SHA-256 kind
NOTES = ("purged", "unsigned")  # findings that are not tampering
SETTLE = timedelta(seconds=3)  # a record is sealed once it ended at least 2 s ago
AT_ONCE = timedelta(0)  # for a log nobody else writes to (tests): seal up to the newest record


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
    data: dict[str, Any] = field(default_factory=dict, compare=False, repr=False)

    @property
    def signed(self) -> bool:
        return self.data.get("alg") == ALGORITHM


@dataclass(frozen=True)
class Finding:
    record: str  # reqStart of the record, or the seal's DN
    problem: str  # removed, altered, reordered, inserted, chain broken, seal altered, signature
    # invalid, foreign key, purged, unsigned
    detail: str = ""


PROBLEM_ZH = {"removed": "日志记录被删除", "altered": "日志记录被改动", "reordered": "日志记录被挪动",
              "inserted": "日志中有未经封存的记录", "purged": "记录已按保存期清除",
              "chain broken": "封存链断开", "seal altered": "封存被改动", "seal missing": "封存缺失",
              "seals removed": "最新的封存被删除", "signature invalid": "封存签名不符",
              "foreign key": "封存由其他密钥签名", "unsigned": "早期未签名的封存",
              "unsigned after signed": "签名封存之后出现未签名封存"}
_SEAL_NAME = re.compile(r"^cn=seal-([0-9]{14})[^-,]*-s[0-9]+-([0-9]+),", re.IGNORECASE)


def in_words(finding: Finding) -> str:
    """A finding as an auditor or an assessor reads it, "中文 / English": the problem in words, a
    log record by its local time and a seal by its number, never a raw time or a DN."""
    record = finding.record
    seal_name = _SEAL_NAME.match(record)
    number = re.fullmatch(r"seal no\. ([0-9]+)", record)
    if seal_name:
        at = local_time(seal_name.group(1), seconds=True)
        zh, en = f"第 {seal_name.group(2)} 号封存（{at}）", f"seal no. {seal_name.group(2)} ({at})"
    elif record[:14].isdigit():
        at = local_time(record, seconds=True)
        zh, en = f"{at} 的记录", f"the record of {at}"
    elif number:
        zh, en = f"第 {number.group(1)} 号封存", record
    else:
        zh = en = record
    return f"{PROBLEM_ZH.get(finding.problem, finding.problem)}：{zh} / {finding.problem}: {en}"


def seals_dn(suffix: str) -> str:
    return f"ou=seals,ou=system,{suffix}"


def _canonical(attrs: dict[str, list[bytes]], skip: tuple[str, ...] = ()) -> bytes:
    """`name\\0value\\n` per value, names in lower case, sorted by name, then by value."""
    pairs = sorted((name.lower().encode(), value)
                   for name, values in attrs.items() if name.lower() not in skip for value in values)
    return b"".join(name + b"\0" + value + b"\n" for name, value in pairs)


def record_digest(attrs: dict[str, list[bytes]]) -> str:
    """SHA-256 over a record's attributes, in a canonical order (seals made before SM2)."""
    return hashlib.sha256(_canonical(attrs)).hexdigest()


def record_sm3(attrs: dict[str, list[bytes]]) -> str:
    """SM3 over a record's attributes but its time, in a canonical order. The time is bound by
    the chain (`time digest` lines), so a record moved to another time shows as moved."""
    return sm2.sm3(_canonical(attrs, ("reqstart",)))


class Log:
    """The write log read once (the local operator reads every record): its records by time,
    each one's digest computed once, when first asked. A seal and the verification after it
    (an evidence pack does both) then cost one read of the log."""

    def __init__(self, found: list[tuple[str, dict[str, list[bytes]]]]) -> None:
        self.records = {attrs["reqStart"][0].decode(): attrs for _, attrs in found}
        self.times = sorted(self.records)
        # when each record was written: its reqEnd (its start if a record lacks one)
        self.by_end = sorted((attrs.get("reqEnd", [start.encode()])[0].decode(), start)
                             for start, attrs in self.records.items())
        self._digests: dict[tuple[str, bool], str] = {}

    def rows(self, after: str | None, upto: str | None = None, signed: bool = True) -> list[tuple[str, str]]:
        """(reqStart, digest) of the records in (after, upto], oldest first.

        The window is cut here, on the reqStart strings (same format, so they sort as times):
        slapd's ordering match on generalized times with fractions was seen to drop the boundary.
        """
        low = bisect.bisect_right(self.times, after) if after is not None else 0
        high = bisect.bisect_right(self.times, upto) if upto is not None else len(self.times)
        return [(t, self._digest(t, signed)) for t in self.times[low:high]]

    def ended(self, after_end: str | None, upto_end: str, after: str | None = None,
              signed: bool = True) -> list[tuple[str, str]]:
        """(reqStart, digest) of the records written in (after_end, upto_end] and begun after
        `after` (the last record of a seal from before `upto`), oldest start first."""
        low = bisect.bisect_right(self.by_end, (after_end, "\uffff")) if after_end is not None else 0
        high = bisect.bisect_right(self.by_end, (upto_end, "\uffff"))
        starts = sorted(t for _, t in self.by_end[low:high] if after is None or t > after)
        return [(t, self._digest(t, signed)) for t in starts]

    def _digest(self, start: str, signed: bool) -> str:
        key = (start, signed)
        if key not in self._digests:
            attrs = self.records[start]
            self._digests[key] = record_sm3(attrs) if signed else record_digest(attrs)
        return self._digests[key]


def read(session: Session) -> Log:
    return Log(session.search_raw(LOG_BASE, "(reqStart=*)", scope=ldap.SCOPE_ONELEVEL))


def _chain(prev: str, rows: list[tuple[str, str]], signed: bool = True) -> str:
    text = prev.encode() + b"".join(f"{start} {digest}\n".encode() for start, digest in rows)
    if signed:
        return sm2.sm3(text)
    legacy = hashlib.sha256(prev.encode())
    for start, digest in rows:
        legacy.update(f"{start} {digest}\n".encode())
    return legacy.hexdigest()


def signed_bytes(data: dict[str, Any]) -> bytes:
    """What a seal's signature covers: its data but the signature, as canonical JSON."""
    rest = {k: v for k, v in data.items() if k != "signature"}
    return json.dumps(rest, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


def list_seals(session: Session, server_id: int | None = None) -> list[Seal]:
    """The seals of one server's log (all servers' with None), oldest first."""
    seals = []
    try:
        for dn, attrs in session.search(seals_dn(session.suffix), "(objectClass=idmRecord)",
                                        ["idmRecordData"], scope=ldap.SCOPE_ONELEVEL):
            try:
                d = json.loads(attrs["idmRecordData"][0])
                sid = int(d.get("server_id", 1))
                made = Seal(dn, str(d["sealed_at"]), str(d["prev"]), str(d["chain"]), d["first"], d["last"],
                            int(d["count"]), sid, d)
            except (ValueError, KeyError, TypeError, AttributeError, IndexError):
                # an unreadable seal: every server's verification names it
                made = Seal(dn, "", "", "", None, None, 0, server_id or 0, {"unreadable": True})
            if server_id is None or made.server_id == server_id:
                seals.append(made)
    except NotFound:  # no seal yet
        return []
    return sorted(seals, key=lambda s: (s.sealed_at, int(s.data.get("seq", 0))))


def latest(session: Session) -> Seal | None:
    """The newest seal of any server. The audit page shows it on every load: kept until the
    directory changes (`fresh`), so a reload does not read a year of daily seals again."""
    seals = fresh.LISTS.get(session, session.suffix, ("seal.latest",), lambda: list_seals(session)[-1:])
    return seals[0] if seals else None


def seal(session: Session, key: SealKey, server_id: int = 1, log: Log | None = None,
         settle: timedelta = SETTLE) -> Seal:
    """Append a signed seal over every log record written since the last one and at least
    `settle` ago (local operator); `log`: the log as just read, if it was. A `settle` of zero
    is for a log nobody else is writing to (tests)."""
    with key.locked():
        return _seal(session, key, server_id, log, settle)


def _window(log: Log, prev: Seal | None, upto: str, signed: bool = True) -> list[tuple[str, str]]:
    """The records a seal ending at `upto` covers after `prev`: written since prev's `upto`,
    or, after a seal from before `upto`, begun after its last record."""
    if prev is not None and "upto" in prev.data:
        return log.ended(str(prev.data["upto"]), upto, None, signed)
    return log.ended(None, upto, prev.last if prev else None, signed)


def _cutoff(log: Log, settle: timedelta) -> str:
    """The newest end time a seal made now takes: the end of the second `settle` ago, or the
    newest record read if that is older. slapd's fractions are a counter within the second,
    not microseconds, so only whole seconds compare with the clock."""
    second = (datetime.now(UTC) - settle).strftime("%Y%m%d%H%M%S") + ".999999Z"
    newest = log.by_end[-1][0] if log.by_end else ""
    return min(second, newest) if newest else second


def _seal(session: Session, key: SealKey, server_id: int, log: Log | None, settle: timedelta) -> Seal:
    seals = list_seals(session, server_id)
    prev = seals[-1] if seals else None
    anchor = key.anchor(server_id)
    if anchor and not (prev and prev.signed and int(prev.data.get("seq", 0)) == anchor["seq"]
                       and prev.chain == anchor["chain"]):
        raise ServerError(f"目录中最新的封存不是本机上次所作的（第 {anchor['seq']} 个）："
                          "封存可能被删除或替换，请运行 idm audit verify",
                          f"the newest seal in the directory is not the one this key made last (no. "
                          f"{anchor['seq']}): seals may have been removed or replaced; run idm audit verify")
    after = prev.last if prev else None  # None: nothing sealed yet, take every record
    seq = max([len(seals), *(int(s.data.get("seq", 0)) for s in seals)]) + 1
    log = log or read(session)
    upto = _cutoff(log, settle)
    if prev is not None and str(prev.data.get("upto", "")) > upto:  # the clock went back
        upto = str(prev.data["upto"])
    rows = _window(log, prev, upto)
    chain = _chain(prev.chain if prev else GENESIS, rows)
    stamp = now()
    container = seals_dn(session.suffix)
    if not session.exists(container):
        session.add(container, {"objectClass": ["organizationalUnit"], "ou": ["seals"]})
    attachment = gzip.compress(json.dumps(rows).encode(), mtime=0)
    data: dict[str, Any] = {"sealed_at": stamp, "prev": prev.chain if prev else GENESIS, "chain": chain,
                            "first": rows[0][0] if rows else None, "last": rows[-1][0] if rows else after,
                            "count": len(rows), "server_id": server_id, "seq": seq, "upto": upto,
                            "alg": ALGORITHM, "key": key.fingerprint(), "rows_sm3": sm2.sm3(attachment)}
    data["signature"] = base64.b64encode(key.sign(signed_bytes(data))).decode()
    name = f"seal-{stamp}-s{server_id}-{seq}"
    dn = names.child_dn("cn", name, container)
    session.add(dn, {"objectClass": ["idmRecord"], "cn": [name],
                     "idmRecordKind": ["seal"], "idmRecordStatus": ["sealed"],
                     "idmRecordData": [json.dumps(data, sort_keys=True)]})
    session.add_binary(dn, "idmAttachment", attachment)
    key.set_anchor(server_id, seq, chain)
    return Seal(dn, stamp, data["prev"], chain, data["first"], data["last"], len(rows), server_id, data)


def _check_seal(s: Seal, blob: bytes | None, trusted: bytes) -> list[Finding]:
    """The seal itself: signed by the trusted key, over exactly its data and record list."""
    if not s.signed:
        return [Finding(s.dn, "unsigned", "SHA-256, made before seals were signed")]
    if s.data.get("key") != fingerprint(trusted):
        return [Finding(s.dn, "foreign key", f"signed by key {str(s.data.get('key'))[:16]}…")]
    try:
        signature = base64.b64decode(str(s.data.get("signature", "")), validate=True)
    except ValueError:
        signature = b""
    if not signature or not sm2.verify(trusted, signed_bytes(s.data), signature):
        return [Finding(s.dn, "signature invalid")]
    if blob is None or sm2.sm3(blob) != s.data.get("rows_sm3"):
        return [Finding(s.dn, "seal altered", "its record list is not the one signed")]
    return []


def verify(session: Session, trusted: bytes, purge_days: int = 183, server_id: int = 1,
           log: Log | None = None, anchor: dict[str, Any] | None = None) -> list[Finding]:
    """Every difference between this server's log and its seals, checked with the trusted
    public key (PEM); empty means intact. Notes (`NOTES`) come last. `log`: the log as just read
    (read here otherwise, once). `anchor`: the newest seal the local key made (`SealKey.anchor`),
    so that seals removed from the end, or all of them, are seen too."""
    log = log or read(session)
    findings: list[Finding] = []
    horizon = (datetime.now(UTC) - timedelta(days=purge_days)).strftime("%Y%m%d%H%M%S")
    oldest = log.times[0] if log.times else None  # older than this and the horizon: purged
    prev_chain = GENESIS
    before: Seal | None = None  # the last readable seal
    last_seq: int | None = None
    seals = list_seals(session, server_id)
    for s in seals:
        if s.data.get("unreadable"):
            findings.append(Finding(s.dn, "seal altered", "its data cannot be read"))
            continue
        if s.prev != prev_chain:
            findings.append(Finding(s.dn, "chain broken",
                                    "a seal before it was removed, altered or reordered"))
        if last_seq is not None and not s.signed:
            findings.append(Finding(s.dn, "unsigned after signed", "an unsigned seal after signed ones"))
        seq = int(s.data.get("seq", 0)) if s.signed else None
        if seq is not None and last_seq is not None and seq != last_seq + 1:
            findings.append(Finding(s.dn, "seal missing", f"seal no. {last_seq + 1} to {seq - 1} is gone"))
        last_seq = seq if seq is not None else last_seq
        blob = session.get_binary(s.dn, "idmAttachment")
        findings.extend(_check_seal(s, blob, trusted))
        try:
            sealed = [(str(r[0]), str(r[1])) for r in json.loads(gzip.decompress(blob))] if blob else []
        except (OSError, EOFError, ValueError, TypeError, IndexError):
            sealed = []
            findings.append(Finding(s.dn, "seal altered", "its record list cannot be read"))
        if _chain(s.prev, sealed, s.signed) != s.chain:
            findings.append(Finding(s.dn, "seal altered", "its chain does not match its records"))
        if "upto" in s.data:
            now_rows = dict(_window(log, before, str(s.data["upto"]), s.signed))
        else:
            after = before.last if before else None
            now_rows = dict(log.rows(after, s.last, s.signed)) if s.last else {}
        findings.extend(_compare(sealed, now_rows, horizon, oldest))
        prev_chain, before = s.chain, s
    if anchor and not any(s.signed and int(s.data.get("seq", 0)) == anchor.get("seq")
                          and s.chain == anchor.get("chain") for s in seals):
        findings.append(Finding(f"seal no. {anchor.get('seq')}", "seals removed",
                                "the newest seal this key made is no longer in the directory"))
    return [f for f in findings if f.problem not in NOTES] + [f for f in findings if f.problem in NOTES]


def _compare(sealed: list[tuple[str, str]], now_rows: dict[str, str], horizon: str,
             oldest: str | None) -> list[Finding]:
    """The records of one seal's window, as sealed and as they are now. A record missing is
    `purged` only if the retention purge could have taken it: older than the horizon, and older
    than the oldest record still held (the purge takes the oldest first)."""
    out = []
    where = {digest: start for start, digest in sealed}
    for start, digest in sealed:
        if start not in now_rows:
            purged = start[:14] < horizon and (oldest is None or start < oldest)
            out.append(Finding(start, "purged" if purged else "removed"))
        elif now_rows[start] != digest:
            moved = where.get(now_rows[start])
            out.append(Finding(start, "reordered", f"holds the record sealed at {moved}") if moved
                       else Finding(start, "altered"))
    known = {start for start, _ in sealed}
    out.extend(Finding(start, "inserted") for start in now_rows if start not in known)
    return out


def export(session: Session, seals: list[Seal], folder: Path) -> int:
    """Each signed seal as files an assessor checks with openssl alone: `<name>.json` (the
    signed bytes, which name `rows_sm3`), `<name>.sig` (the DER signature) and `<name>.rows.gz`
    (the record list whose SM3 `rows_sm3` is)."""
    folder.mkdir(parents=True, exist_ok=True)
    written = 0
    for s in seals:
        if not s.signed:
            continue
        name = f"seal-s{s.server_id}-{int(s.data.get('seq', 0)):06d}"  # not the DN: it is not signed
        (folder / f"{name}.json").write_bytes(signed_bytes(s.data))
        (folder / f"{name}.sig").write_bytes(base64.b64decode(str(s.data.get("signature", ""))))
        (folder / f"{name}.rows.gz").write_bytes(session.get_binary(s.dn, "idmAttachment") or b"")
        written += 1
    return written
