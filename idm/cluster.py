"""Multi-provider replication (R20): N providers and M consumers of one directory.

A cluster is described once, in a JSON file every node shares (see docs/deployment.md):

    {"nodes": [{"name": "ldap1", "role": "provider", "server_id": 1, "uri": "ldaps://ldap1:636"},
               {"name": "ldap2", "role": "provider", "server_id": 2, "uri": "ldaps://ldap2:636"},
               {"name": "site1", "role": "consumer", "server_id": 11, "uri": "ldaps://site1:636"}]}

From it, `changes` derives the cn=config of one node: delta-syncrepl on the accesslog
(`syncdata=accesslog`, only successful writes) from every provider but itself, `olcMultiProvider`
on providers, referrals and chaining on consumers so that the password-policy state of a bind
(failures, lockout, last bind) is written on a provider and holds everywhere, and TLS between
nodes. Nodes authenticate to each other with a certificate from the education CA (SASL
EXTERNAL), mapped to the replication identity: no replication password exists anywhere.

Every server's clock must be synchronised (NTP): a change's CSN is its origin's time, and of two
changes to one attribute the later CSN wins.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

import ldap

from idm import acl
from idm.config import Settings
from idm.directory import names
from idm.directory.session import Session
from idm.errors import InvalidInput, ProblemList
from idm.server import render

ROLES = ("provider", "consumer")
NAME = re.compile(r"^[a-z][a-z0-9-]{0,31}$")
MAIN_DB = "olcDatabase={2}mdb,cn=config"
LOG_DB = "olcDatabase={1}mdb,cn=config"
FRONTEND = "olcDatabase={-1}frontend,cn=config"
# The subject of a node's replication certificate, as slapd normalises it (RFC 4514 order):
# CN is the node name. User certificates always carry a UID, so they can never match.
REPLICATOR_SUBJECT = r"^cn=[a-z0-9-]+,ou=idm-replication,o=[^,]+$"
# Only the accesslog records of writes that succeeded are replayed (refused ones are logged too).
LOG_FILTER = "(&(objectClass=auditWriteObject)(reqResult=0))"


@dataclass(frozen=True)
class Node:
    name: str
    role: str
    server_id: int
    uri: str  # how the other nodes reach it: ldaps://host:port, or ldap://host:port with StartTLS
    source: str | None = None  # a consumer: the provider it follows (default: the first one)

    @property
    def host(self) -> str:
        return urlsplit(self.uri).hostname or ""

    @property
    def port(self) -> int:
        parts = urlsplit(self.uri)
        return parts.port or (636 if parts.scheme == "ldaps" else 389)

    @property
    def is_provider(self) -> bool:
        return self.role == "provider"


@dataclass(frozen=True)
class Cluster:
    nodes: tuple[Node, ...]
    retry: str = "5 10 60 +"  # syncrepl: every 5 s ten times, then every 60 s for ever
    last_bind_precision: int = 86400  # a day, as the access reviews need (R16): binds stay reads

    @property
    def providers(self) -> list[Node]:
        return [n for n in self.nodes if n.is_provider]

    def source_of(self, node: Node) -> Node:
        """The one provider a consumer follows. A consumer that pulled from several providers
        would apply their changes in arrival order without the providers' conflict resolution
        (checked: the older of two conflicting changes could win there), so it follows one, and
        is pointed at another by `idm cluster apply` when that one is lost."""
        if node.source:
            return self.node(node.source)
        return self.providers[0]

    def node(self, name: str) -> Node:
        for n in self.nodes:
            if n.name == name:
                return n
        known = ", ".join(n.name for n in self.nodes)
        raise InvalidInput(f"集群中没有节点 {name}（已有：{known}）",
                           f"no node {name!r} in the cluster ({known})")


def parse(data: object, where: str = "cluster") -> Cluster:
    """Validate a cluster description; every problem is reported at once."""
    problems = ProblemList()
    if not isinstance(data, dict) or not isinstance(data.get("nodes"), list):
        raise InvalidInput("集群描述应为含 nodes 列表的 JSON 对象",
                           "a cluster description is a JSON object with a list of nodes")
    nodes: list[Node] = []
    for i, raw in enumerate(data["nodes"]):
        at = f"{where}: nodes[{i}]"
        if not isinstance(raw, dict):
            problems.add(at, "应为对象", "must be an object")
            continue
        name, role, sid, uri = raw.get("name"), raw.get("role"), raw.get("server_id"), raw.get("uri")
        if not isinstance(name, str) or not NAME.match(name):
            problems.add(at, f"节点名无效：{name!r}（小写字母、数字、-）",
                         f"invalid name {name!r} (a-z, 0-9, -)")
        if role not in ROLES:
            problems.add(at, f"角色应为 provider 或 consumer：{role!r}",
                         f"role must be provider or consumer: {role!r}")
        if not isinstance(sid, int) or isinstance(sid, bool) or not 1 <= sid <= 4095:
            problems.add(at, f"server_id 应为 1–4095 的整数：{sid!r}", f"server_id must be 1-4095: {sid!r}")
        parts = urlsplit(uri) if isinstance(uri, str) else None
        try:
            port_ok = parts is not None and (parts.port or 1) > 0
        except ValueError:
            port_ok = False
        if parts is None or parts.scheme not in ("ldap", "ldaps") or not parts.hostname or not port_ok \
                or parts.path not in ("", "/"):
            problems.add(at, f"uri 应为 ldaps://主机:端口：{uri!r}",
                         f"uri must be ldaps://host:port: {uri!r}")
        source = raw.get("source")
        if source is not None and (role != "consumer" or not isinstance(source, str)):
            problems.add(at, "只有 consumer 可指定 source（所跟随的 provider）",
                         "only a consumer names a source (the provider it follows)")
        nodes.append(Node(str(name), str(role), sid if isinstance(sid, int) else 0, str(uri),
                          source if isinstance(source, str) else None))
    for attr, zh in (("name", "节点名"), ("server_id", "server_id"), ("uri", "uri")):
        seen: set[object] = set()
        for n in nodes:
            value = getattr(n, attr)
            if value in seen:
                problems.add(where, f"{zh}重复：{value}", f"duplicate {attr}: {value}")
            seen.add(value)
    if not any(n.is_provider for n in nodes):
        problems.add(where, "至少需要一个 provider", "at least one provider is needed")
    providers = {n.name for n in nodes if n.is_provider}
    for n in nodes:
        if n.source is not None and n.source not in providers:
            problems.add(where, f"{n.name} 的 source 不是 provider：{n.source}",
                         f"{n.name}'s source is not a provider: {n.source}")
    precision = data.get("last_bind_precision", 86400)
    if not isinstance(precision, int) or precision < 0:
        problems.add(where, "last_bind_precision 应为非负整数（秒）",
                     "last_bind_precision must be seconds >= 0")
    retry = data.get("retry", "5 10 60 +")
    if not isinstance(retry, str) or not re.fullmatch(r"(\d+ (\d+|\+) ?)+", retry.strip()):
        problems.add(where, f"retry 无效：{retry!r}", f"invalid retry: {retry!r} (e.g. \"5 10 60 +\")")
    problems.raise_if_any("集群描述有误，未做任何修改",
                          "the cluster description is wrong; nothing was changed")
    return Cluster(tuple(nodes), str(retry).strip(), int(precision))


def follow(cluster: Cluster, consumer: str, provider: str) -> Cluster:
    """The same cluster with `consumer` following `provider` (when its own was lost)."""
    from dataclasses import replace

    node = cluster.node(consumer)
    if node.is_provider or not cluster.node(provider).is_provider:
        raise InvalidInput(f"只有 consumer 可改为跟随某个 provider：{consumer} -> {provider}",
                           f"only a consumer follows a provider: {consumer} -> {provider}")
    nodes = tuple(replace(n, source=provider) if n is node else n for n in cluster.nodes)
    return replace(cluster, nodes=nodes)


def load(path: Path) -> Cluster:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise InvalidInput(f"无法读取集群描述 {path}：{exc}",
                           f"cannot read the cluster description {path}: {exc}") from None
    return parse(data, str(path))


# ---------------------------------------------------------------- the node's files
@dataclass(frozen=True)
class NodeFiles:
    """Where a node keeps its TLS material (under <data>/tls, keys 0600)."""

    folder: Path

    @property
    def ca(self) -> Path:
        return self.folder / "ca.pem"

    @property
    def server_cert(self) -> Path:
        return self.folder / "server.crt.pem"

    @property
    def server_key(self) -> Path:
        return self.folder / "server.key.pem"

    @property
    def client_cert(self) -> Path:
        return self.folder / "replicator.crt.pem"

    @property
    def client_key(self) -> Path:
        return self.folder / "replicator.key.pem"

    def all(self) -> list[Path]:
        return [self.ca, self.server_cert, self.server_key, self.client_cert, self.client_key]


# ---------------------------------------------------------------- the configuration
@dataclass
class Change:
    """One cn=config entry as it should be: `replace` these attributes, `ensure` these values
    are present (module lists, limits: never removed), or create the entry when `create`."""

    dn: str
    replace: dict[str, list[str]] = field(default_factory=dict)
    ensure: dict[str, list[str]] = field(default_factory=dict)
    create: dict[str, list[str]] | None = None
    find: str | None = None  # filter to find the entry under `dn`'s parent when its RDN is numbered


def _tls_options(files: NodeFiles) -> str:
    return (f"tls_cert={files.client_cert} tls_key={files.client_key} tls_cacert={files.ca} "
            "tls_reqcert=demand")


def _syncrepl(cluster: Cluster, source: Node, suffix: str, files: NodeFiles) -> str:
    starttls = " starttls=critical" if source.uri.startswith("ldap://") else ""
    return (f"rid={source.server_id:03d} provider={source.uri}{starttls} bindmethod=sasl saslmech=external "
            f'{_tls_options(files)} searchbase="{suffix}" logbase="cn=accesslog" '
            f'logfilter="{LOG_FILTER}" schemachecking=on type=refreshAndPersist '
            f'retry="{cluster.retry}" timeout=3 network-timeout=3 syncdata=accesslog')


def changes(cluster: Cluster, node: Node, settings: Settings, require_tls: bool = True) -> list[Change]:
    """The cn=config of `node`, as a list of entries to bring into shape (idempotent)."""
    suffix = settings.suffix
    files = NodeFiles(settings.data_dir / "tls")
    ops = render.ops_dn()
    replicator = names.replicator_dn(suffix)
    limit = f'dn.exact="{replicator}" size=unlimited time=unlimited'
    sources = [p for p in cluster.providers if p.name != node.name]
    out = [
        Change("cn=config", replace={
            "olcServerID": [str(node.server_id)],
            "olcTLSCACertificateFile": [str(files.ca)],
            "olcTLSCertificateFile": [str(files.server_cert)],
            "olcTLSCertificateKeyFile": [str(files.server_key)],
            "olcTLSVerifyClient": ["try"],  # a client may present a certificate; none is required
            "olcSecurity": ["simple_bind=64"] if require_tls else [],
        }, ensure={"olcAuthzRegexp": [f'"{REPLICATOR_SUBJECT}" "{replicator}"']}),  # a site's own stay
        Change("cn=module{0},cn=config", ensure={"olcModuleLoad": ["back_ldap", "lastbind"]}),
        Change(LOG_DB, replace={"olcAccess": acl.log_acl(ops, suffix)}, ensure={"olcLimits": [limit]}),
        Change(MAIN_DB, replace={
            # the local operator is the rootDN of a database idm made; on a site's own slapd it
            # needs its clause (as `idm server` writes it there too)
            "olcAccess": [acl.ops_clause(ops), *acl.main_acl(suffix)],
            "olcSyncrepl": [_syncrepl(cluster, s, suffix, files) for s in sources] if node.is_provider
            else [_syncrepl(cluster, cluster.source_of(node), suffix, files)],
            "olcMultiProvider": ["TRUE" if node.is_provider and sources else "FALSE"],
            # a consumer refers writes to the providers; its chain overlay follows the referral
            "olcUpdateRef": [] if node.is_provider else [p.uri for p in cluster.providers],
        }, ensure={"olcLimits": [limit]}),
        Change(f"olcOverlay={{1}}ppolicy,{MAIN_DB}",
               replace={"olcPPolicyForwardUpdates": ["FALSE" if node.is_provider else "TRUE"]}),
        Change(f"olcOverlay=lastbind,{MAIN_DB}", find="(objectClass=olcLastBindConfig)",
               create={"objectClass": ["olcOverlayConfig", "olcLastBindConfig"], "olcOverlay": ["lastbind"]},
               # a consumer's lastbind would forward as the person who bound, whom the chain
               # rightly refuses (see below): the last bind is recorded on providers only
               replace={"olcLastBindPrecision": [str(cluster.last_bind_precision)],
                        "olcLastBindForwardUpdates": ["FALSE"]}),
    ]
    if not node.is_provider:
        chain = f"olcOverlay={{0}}chain,{FRONTEND}"
        out += [
            Change(f"olcOverlay=chain,{FRONTEND}", find="(objectClass=olcChainConfig)",
                   create={"objectClass": ["olcOverlayConfig", "olcChainConfig"], "olcOverlay": ["chain"]},
                   replace={"olcChainReturnError": ["TRUE"]}),
            # Only slapd's own internal writes (ppolicy, as the database's rootDN) are chained,
            # as the replication identity; any client's write sent to a consumer is refused.
            # One chain database per provider, matching the referrals (olcUpdateRef).
            *[Change(f"olcDatabase=ldap,{chain}",
                     find=f"(&(objectClass=olcChainDatabase)(olcDbURI={p.uri}))",
                     create={"objectClass": ["olcLDAPConfig", "olcChainDatabase"], "olcDatabase": ["ldap"],
                             "olcDbURI": [p.uri]},
                     replace={"olcDbIDAssertBind": [
                         f"bindmethod=sasl saslmech=external {_tls_options(files)} mode=none"],
                         "olcDbIDAssertAuthzFrom": [f"dn.exact:cn=slapd-internal,{suffix}"],
                         "olcDbNetworkTimeout": ["5"]})
              for p in cluster.providers],
        ]
    return out


def to_ldif(items: list[Change]) -> str:
    """The changes as LDIF for `ldapmodify -Y EXTERNAL -H ldapi:///` (a site's own slapd)."""
    out: list[str] = []
    for c in items:
        if c.create is not None:
            out.append(f"# add {c.dn} if it is missing (as: changetype: add, with the lines below)")
            out.extend(f"#   {k}: {v}" for k, vs in c.create.items() for v in vs)
        lines = [f"dn: {c.dn}", "changetype: modify"]
        for attr, values in c.replace.items():
            lines += [f"replace: {attr}", *(f"{attr}: {v}" for v in values), "-"]
        for attr, values in c.ensure.items():
            lines += [f"add: {attr}", *(f"{attr}: {v}" for v in values), "-"]
        out.append("\n".join(lines) + "\n")
    return "\n".join(out)


def _locate(session: Session, change: Change) -> str | None:
    """The DN of the entry a change is for, or None when it does not exist yet."""
    if change.find is None:
        return change.dn if session.conn.search_s(change.dn, ldap.SCOPE_BASE, "(objectClass=*)", ["1.1"]) \
            else None
    parent = change.dn.split(",", 1)[1]
    found = session.conn.search_s(parent, ldap.SCOPE_ONELEVEL, change.find, ["1.1"])
    return str(found[0][0]) if found else None


def apply_changes(session: Session, items: list[Change]) -> int:
    """Bring cn=config into shape over ldapi; the number of entries changed."""
    changed = 0
    for c in items:
        dn = _locate(session, c)
        if dn is None and c.create is not None:
            attrs = {**c.create, **{k: v for k, v in c.replace.items() if v}}
            session.conn.add_s(c.dn, [(k, [v.encode() for v in vs]) for k, vs in attrs.items()])
            changed += 1
            continue
        if dn is None:
            raise InvalidInput(f"cn=config 中没有 {c.dn}", f"{c.dn} is not in cn=config")
        current = session.conn.search_s(dn, ldap.SCOPE_BASE, "(objectClass=*)",
                                        [*c.replace, *c.ensure])[0][1]
        have = {k.lower(): [_unnumbered(v.decode()) for v in vs] for k, vs in current.items()}
        mods: list[tuple[int, str, list[bytes] | None]] = []
        for attr, values in c.replace.items():
            if have.get(attr.lower(), []) != values:
                mods.append((ldap.MOD_REPLACE, attr, [v.encode() for v in values] or None))
        for attr, values in c.ensure.items():
            missing = [v for v in values if v not in have.get(attr.lower(), [])]
            if missing:
                mods.append((ldap.MOD_ADD, attr, [v.encode() for v in missing]))
        if mods:
            session.conn.modify_s(dn, mods)
            changed += 1
    return changed


def _unnumbered(value: str) -> str:
    """cn=config returns ordered values as `{0}value`."""
    return re.sub(r"^\{\d+\}", "", value)


def client_uris(cluster: Cluster, node: Node) -> tuple[str, ...]:
    """Where the toolkit on `node` connects: itself first when it is a provider, then the other
    providers (a consumer's clients write to providers)."""
    providers = [p.uri for p in cluster.providers]
    if node.is_provider:
        return (node.uri, *[u for u in providers if u != node.uri])
    return tuple(providers)


def configure(session: Session, cluster: Cluster, node: Node, settings: Settings,
              require_tls: bool = True, listen_port: int | None = None) -> Settings:
    """Apply `node`'s configuration to the running server behind `session` (ldapi), and record
    the server ID, the ldaps port, and the providers the toolkit's clients use, in idm.json.
    The caller restarts slapd, so that it listens on the node's ldaps port (`listen_port` when
    the URI's port is another one's: a proxy, a load balancer, a container's port mapping)."""
    from dataclasses import replace

    from idm.config import save_settings

    files = NodeFiles(settings.data_dir / "tls")
    missing = [p.name for p in files.all() if not p.is_file()]
    if missing:
        raise InvalidInput(f"{files.folder} 缺少 {', '.join(missing)}：先用 --tls 安装节点证书",
                           f"{files.folder} lacks {', '.join(missing)}: install the node's bundle with --tls")
    if node.uri.startswith("ldaps://"):
        tls_port: int | None = listen_port or node.port
    elif node.port == settings.port:
        tls_port = settings.tls_port
    else:
        raise InvalidInput(
            f"节点 {node.name} 的 ldap:// 端口 {node.port} 与本机端口 {settings.port} 不同",
            f"node {node.name} says ldap:// port {node.port}, this server listens on {settings.port}")
    apply_changes(session, changes(cluster, node, settings, require_tls))
    updated = replace(settings, server_id=node.server_id, tls_port=tls_port, require_tls=require_tls,
                      uris=client_uris(cluster, node))
    save_settings(updated)
    save(cluster, settings.data_dir / CLUSTER_FILE)
    return updated


CLUSTER_FILE = "cluster.json"


def to_json(cluster: Cluster) -> str:
    nodes = [{"name": n.name, "role": n.role, "server_id": n.server_id, "uri": n.uri,
              **({"source": n.source} if n.source else {})} for n in cluster.nodes]
    return json.dumps({"nodes": nodes,
                       "retry": cluster.retry, "last_bind_precision": cluster.last_bind_precision},
                      indent=2, ensure_ascii=False) + "\n"


def save(cluster: Cluster, path: Path) -> None:
    path.write_text(to_json(cluster), encoding="utf-8")


# ---------------------------------------------------------------- watching it
@dataclass(frozen=True)
class NodeState:
    node: Node
    csns: dict[int, str]  # server ID -> newest change of that server seen here (contextCSN)
    error: str | None = None


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
    conn.sasl_non_interactive_bind_s("EXTERNAL")
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
            answer.append(NodeState(node, csns_of(values)))
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
