"""What the nodes of a cluster hold and how far behind each is (`idm cluster status`), and the
recovery of changes a node took alone (`idm cluster recover`)."""

from __future__ import annotations

from dataclasses import dataclass

import ldap

from idm.directory.connection import external_bind
from idm.directory.session import Session
from idm.ops.cluster import Node, NodeFiles


# ---------------------------------------------------------------- watching it
@dataclass(frozen=True)
class NodeState:
    node: Node
    csns: dict[int, str]  # server ID -> newest change of that server seen here (contextCSN)
    error: str | None = None
    counters: dict[str, int] | None = None  # from its cn=Monitor, where the replicator may read it


# What `status` shows of a node's own traffic: binds, searches, the writes clients sent it (on
# a consumer or downstream node every one of them was refused), open connections.
COUNTERS = {"binds": "cn=Bind,cn=Operations,cn=Monitor", "searches": "cn=Search,cn=Operations,cn=Monitor",
            **{f"writes:{op}": f"cn={op},cn=Operations,cn=Monitor" for op in ("Add", "Modify", "Delete",
                                                                             "Modrdn")},
            "connections": "cn=Current,cn=Connections,cn=Monitor"}


def _counters(conn: ldap.ldapobject.LDAPObject) -> dict[str, int] | None:
    out: dict[str, int] = {}
    try:
        for name, dn in COUNTERS.items():
            found = conn.search_s(dn, ldap.SCOPE_BASE, "(objectClass=*)",
                                  ["monitorOpCompleted", "monitorCounter"])
            attrs = found[0][1] if found else {}
            value = (attrs.get("monitorOpCompleted") or attrs.get("monitorCounter") or [b"0"])[0]
            out[name] = int(value)
    except ldap.LDAPError:
        return None  # no cn=Monitor there, or not for the replicator
    writes = sum(v for k, v in out.items() if k.startswith("writes:"))
    return {"binds": out["binds"], "searches": out["searches"], "writes": writes,
            "connections": out["connections"]}


def csns_of(values: list[str]) -> dict[int, str]:
    """contextCSN values by server ID: `20250101120000.123456Z#000000#001#000000` -> {1: ...}."""
    out = {}
    for v in values:
        parts = v.split("#")
        if len(parts) == 4:
            out[int(parts[2], 16)] = v
    return out


def _peer(node: Node, files: NodeFiles) -> ldap.ldapobject.LDAPObject:
    """A connection to another node as the replication identity (this node's certificate)."""
    conn = ldap.initialize(node.uri, bytes_mode=False)
    for option, value in ((ldap.OPT_NETWORK_TIMEOUT, 5), (ldap.OPT_TIMEOUT, 10),
                          (ldap.OPT_X_TLS_CACERTFILE, str(files.ca)),
                          (ldap.OPT_X_TLS_CERTFILE, str(files.client_cert)),
                          (ldap.OPT_X_TLS_KEYFILE, str(files.client_key)),
                          (ldap.OPT_X_TLS_REQUIRE_CERT, ldap.OPT_X_TLS_DEMAND), (ldap.OPT_X_TLS_NEWCTX, 0)):
        conn.set_option(option, value)
    if node.uri.startswith("ldap://"):
        conn.start_tls_s()
    external_bind(conn)
    return conn


def node_state(node: Node, files: NodeFiles, suffix: str, timeout: float = 10.0) -> NodeState:
    """Ask a node, as the replication identity (this node's certificate), what it has seen.
    Bounded: libldap has no time limit on a TLS handshake or a SASL bind, and a status command
    must answer even when a node accepts connections but no longer responds."""
    import threading

    answer: list[NodeState] = []

    def ask() -> None:
        try:
            conn = _peer(node, files)
        except ldap.LDAPError as exc:
            answer.append(NodeState(node, {}, _desc(exc)))
            return
        try:
            found = conn.search_s(suffix, ldap.SCOPE_BASE, "(objectClass=*)", ["contextCSN"])
            values = [v.decode() for v in found[0][1].get("contextCSN", [])] if found else []
            answer.append(NodeState(node, csns_of(values), counters=_counters(conn)))
        except ldap.LDAPError as exc:
            answer.append(NodeState(node, {}, _desc(exc)))
        finally:
            conn.unbind_s()

    worker = threading.Thread(target=ask, daemon=True)  # left behind if the node never answers
    worker.start()
    worker.join(timeout)
    return answer[0] if answer else NodeState(node, {}, f"no answer within {timeout:.0f}s")


def _desc(exc: ldap.LDAPError) -> str:
    info = exc.args[0] if exc.args and isinstance(exc.args[0], dict) else {}
    return str(info.get("desc") or exc)


def lag_seconds(states: list[NodeState]) -> dict[str, float]:
    """Per node, how far behind the newest change of any provider it is (0: up to date)."""
    newest: dict[int, str] = {}
    for s in states:
        for sid, csn in s.csns.items():
            newest[sid] = max(newest.get(sid, ""), csn)
    providers = {s.node.server_id for s in states if s.node.is_provider}
    out = {}
    for s in states:
        if s.error:
            continue
        behind = [_csn_time(newest[sid]) - _csn_time(s.csns.get(sid, "19700101000000.000000Z#"))
                  for sid in newest if sid in providers]
        out[s.node.name] = max([0.0, *behind])
    return out


def _csn_time(csn: str) -> float:
    from datetime import UTC, datetime

    stamp = csn.split("#", 1)[0]
    return datetime.strptime(stamp, "%Y%m%d%H%M%S.%fZ").replace(tzinfo=UTC).timestamp()


# ---------------------------------------------------------------- after a crash
@dataclass(frozen=True)
class Orphan:
    dn: str
    csn: str


# Written again by `recover` only as what they are: a password through ppolicy would count as a
# new password (history, pwdChangedTime); operational state is not the change's own.
NOT_TOUCHED = frozenset({"userpassword"})


def recover(session: Session, node: Node, since: str | None = None) -> list[Orphan]:
    """Re-issue the changes a crash left out of this provider's write log.

    slapd commits a write to the directory, then its record to the log: two databases, two
    transactions. Killed in between (kill -9, power loss), the change stays here, unlogged, and
    delta-syncrepl never ships it (seen in the fault runs). Run on the provider after it is
    restarted and before new writes: every entry whose newest change came from this server
    after the newest change in its log is written again (each attribute replaced by its
    present values), so that it is logged and replicated; a peer that lacks the entry then
    fetches it whole. Not repaired: a password changed, or an attribute removed, in that
    instant (see docs/deployment.md, 'After a crash').
    """
    suffix = session.suffix
    sid_tag = f"#{node.server_id:03x}#"
    newest = _newest_logged(session, node.server_id, since)
    changed = session.conn.search_s(suffix, ldap.SCOPE_SUBTREE, f"(entryCSN>={newest})", ["*", "entryCSN"])
    out = []
    for dn, attrs in changed:
        csn = attrs.pop("entryCSN")[0].decode()
        if sid_tag not in csn or csn <= newest:
            continue
        mods = [(ldap.MOD_REPLACE, name, values) for name, values in attrs.items()
                if name.lower() not in NOT_TOUCHED]
        session.conn.modify_s(dn, mods)
        out.append(Orphan(dn, csn))
    return out


def _newest_logged(session: Session, server_id: int, since: str | None) -> str:
    """The CSN of this server's newest change in its own log: from the last contextCSN
    checkpoint (or `since`), widened a day at a time (up to a month) until one is found."""
    from datetime import UTC, datetime, timedelta

    found = session.conn.search_s(session.suffix, ldap.SCOPE_BASE, "(objectClass=*)", ["contextCSN"])
    own = csns_of([v.decode() for v in found[0][1].get("contextCSN", [])]).get(server_id)
    start = datetime.strptime((since or (own or "").split("#")[0] or "19700101000000.000000Z"),
                              "%Y%m%d%H%M%S.%fZ").replace(tzinfo=UTC)
    tag = f"#{server_id:03x}#"
    for days in range(0, 31):
        lower = (start - timedelta(days=days)).strftime("%Y%m%d%H%M%S.%fZ") + f"#000000{tag}000000"
        records = session.conn.search_s("cn=accesslog", ldap.SCOPE_ONELEVEL,
                                        f"(&(reqResult=0)(entryCSN>={lower}))", ["entryCSN"])
        mine = [a["entryCSN"][0].decode() for _, a in records if tag in a["entryCSN"][0].decode()]
        if mine:
            return str(max(mine))
    return start.strftime("%Y%m%d%H%M%S.%fZ") + f"#000000{tag}000000"
