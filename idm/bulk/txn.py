"""Sending a batch of operations: pipelined (the default), or as one RFC 5805 transaction.

Pipelined: every operation of a wave is sent without waiting, then the answers are collected;
each operation is its own commit, so a batch cut short leaves what was done, and the next plan
finds it (a rerun finishes a unit's containers).

A transaction (slapd 2.5's back-mdb runs them) queues the batch on one connection and applies
it by one commit, all or nothing. But slapd 2.5.13 (Debian 12) crashes (segfault) when a client
that holds an open transaction goes away, as a loader killed with `kill -9` does: the server of
the whole site would go down with the loader. Transactions are therefore used only when asked
for (`idm load --atomic`) where the loader cannot be killed; `benches/txn_crash.py` shows
the crash. python-ldap has no helper for them; the three messages are small enough to write here.

Operations inside a transaction are sent without waiting (pipelined), a wave per depth of the
tree: slapd only checks and queues them, so a batch costs a few round trips and one database
commit.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import ldap
from ldap.controls import RequestControl
from ldap.extop import ExtendedRequest
from ldap.ldapobject import LDAPObject

START = "1.3.6.1.1.21.1"
SPECIFICATION = "1.3.6.1.1.21.2"
END = "1.3.6.1.1.21.3"


@dataclass(frozen=True)
class Op:
    """One operation of a batch: an add (attributes) or a modify (changes)."""

    kind: str  # add | modify
    dn: str
    payload: Sequence[tuple[str, list[bytes]]] | Sequence[tuple[int, str, list[bytes] | None]]
    where: str


class Failed(Exception):
    """A batch that slapd refused; nothing of it was applied."""

    def __init__(self, op: Op | None, error: ldap.LDAPError) -> None:
        info = error.args[0] if error.args and isinstance(error.args[0], dict) else {}
        self.op = op
        self.reason = f"{info.get('desc', type(error).__name__)}: {info.get('info', '')}".strip(": ")
        super().__init__(self.reason)


class Cancelled(Exception):
    """The load was told to stop at once (a signal): the batch's open transaction was ended
    without a commit, so that slapd does not see its client go away while it holds one."""


def _ber_length(n: int) -> bytes:
    if n < 0x80:
        return bytes([n])
    raw = n.to_bytes((n.bit_length() + 7) // 8, "big")
    return bytes([0x80 | len(raw)]) + raw


def _end_value(commit: bool, txn_id: bytes) -> bytes:
    """txnEndReq ::= SEQUENCE { commit BOOLEAN DEFAULT TRUE, identifier OCTET STRING }"""
    body = (b"" if commit else b"\x01\x01\x00") + b"\x04" + _ber_length(len(txn_id)) + txn_id
    return b"\x30" + _ber_length(len(body)) + body


def _start(conn: LDAPObject) -> bytes:
    msgid = conn.extop(ExtendedRequest(START, None))
    result = conn.result4(msgid, all=1, add_extop=1)
    return bytes(result[5] or b"")


def _end(conn: LDAPObject, txn_id: bytes, commit: bool) -> None:
    conn.extop_s(ExtendedRequest(END, _end_value(commit, txn_id)))


def _waves(ops: Sequence[Op]) -> list[list[Op]]:
    """Operations grouped by the depth of their DN, shallowest first. slapd queues a
    transaction's operations in the order its worker threads take them, which for pipelined
    requests is not always the order sent: only operations that cannot depend on each other (the
    same depth) are sent together, and a wave waits for the one above it."""
    by_depth: dict[int, list[Op]] = {}
    for op in ops:
        by_depth.setdefault(op.dn.count(","), []).append(op)
    return [by_depth[d] for d in sorted(by_depth)]


def _send(conn: LDAPObject, op: Op, controls: list[RequestControl]) -> int:
    if op.kind == "add":
        return int(conn.add_ext(op.dn, op.payload, serverctrls=controls))
    return int(conn.modify_ext(op.dn, op.payload, serverctrls=controls))


def _wave(conn: LDAPObject, wave: Sequence[Op], controls: list[RequestControl]
          ) -> tuple[Op, ldap.LDAPError] | None:
    """Send a wave's operations at once, then read every answer; the first refusal, if any."""
    refused: tuple[Op, ldap.LDAPError] | None = None
    sent = [(_send(conn, op, controls), op) for op in wave]
    for msgid, op in sent:
        try:
            conn.result3(msgid)
        except ldap.LDAPError as err:
            refused = refused or (op, err)
    return refused


def _never() -> bool:
    return False


def pipelined(conn: LDAPObject, ops: Sequence[Op], now: Callable[[], bool] = _never) -> None:
    """Apply `ops` without a transaction, a wave per depth; raise Failed with the first refusal
    (the other operations of the batch stand: a rerun's plan sees them), Cancelled when `now()`
    says to stop between waves."""
    for wave in _waves(ops):
        if now():
            raise Cancelled()
        refused = _wave(conn, wave, [])
        if refused is not None:
            raise Failed(*refused)


def run(conn: LDAPObject, ops: Sequence[Op], now: Callable[[], bool] = _never) -> None:
    """Apply `ops` in one transaction; raise Failed (nothing applied) if slapd refuses any, and
    Cancelled (the transaction ended uncommitted) when `now()` says to stop: it is asked
    between waves, and its answers wait at most for the wave in flight."""
    txn_id = _start(conn)
    control = RequestControl(SPECIFICATION, True, txn_id)
    refused: tuple[Op, ldap.LDAPError] | None = None
    for wave in _waves(ops):
        if now():
            _end(conn, txn_id, commit=False)
            raise Cancelled()
        refused = refused or _wave(conn, wave, [control])
    if now():
        _end(conn, txn_id, commit=False)
        raise Cancelled()
    if refused is not None:
        try:
            _end(conn, txn_id, commit=False)
        except ldap.LDAPError:
            pass
        raise Failed(*refused)
    try:
        _end(conn, txn_id, commit=True)
    except ldap.LDAPError as err:
        raise Failed(None, err) from None
