"""A cluster node's cn=config, derived from the cluster description: delta-syncrepl from the
other providers, multi-provider or chaining, TLS between nodes, the access rules; applied
over ldapi by the local operator (`idm cluster show` / `apply`)."""

from __future__ import annotations

import re
from dataclasses import dataclass, field

import ldap

from idm.config import Settings
from idm.directory import names
from idm.directory.session import Session
from idm.errors import InvalidInput
from idm.ops import render
from idm.ops.cluster import CLUSTER_FILE, Cluster, Node, NodeFiles, save
from idm.rules import acl, read_tier

MAIN_DB = "olcDatabase={2}mdb,cn=config"
LOG_DB = "olcDatabase={1}mdb,cn=config"
FRONTEND = "olcDatabase={-1}frontend,cn=config"
MONITOR_DB = "olcDatabase={3}monitor,cn=config"
# The subject of a node's replication certificate, as slapd normalises it (RFC 4514 order):
# CN is the node name. User certificates always carry a UID, so they can never match.
REPLICATOR_SUBJECT = r"^cn=[a-z0-9-]+,ou=idm-replication,o=[^,]+$"
# Only the accesslog records of writes that succeeded are replayed (refused ones are logged too).
LOG_FILTER = "(&(objectClass=auditWriteObject)(reqResult=0))"


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
    optional: bool = False  # left alone where the entry does not exist (a site's own slapd)


def _tls_options(files: NodeFiles) -> str:
    return (f"tls_cert={files.client_cert} tls_key={files.client_key} tls_cacert={files.ca} "
            "tls_reqcert=demand")


def _syncrepl(cluster: Cluster, source: Node, suffix: str, files: NodeFiles) -> str:
    starttls = " starttls=critical" if source.uri.startswith("ldap://") else ""
    return (f"rid={source.server_id:03d} provider={source.uri}{starttls} bindmethod=sasl saslmech=external "
            f'{_tls_options(files)} searchbase="{suffix}" logbase="cn=accesslog" '
            f'logfilter="{LOG_FILTER}" schemachecking=on type=refreshAndPersist '
            f'retry="{cluster.retry}" timeout=3 network-timeout=3 syncdata=accesslog')


def downstream_services(session: Session) -> list[read_tier.DownstreamService]:
    """The active downstream service accounts in the directory (as replicated to this node),
    with the subtree each reads: a level's own (ou=services of its unit), or an operator's
    scoped one (ou=system, its idmScope)."""
    suffix = session.suffix
    found = []
    for dn, attrs in session.search(suffix, "(&(objectClass=idmServiceAccount)(idmStatus=active))",
                                    ["idmScope"]):
        parent = names.parent_of(dn)
        if parent.lower().startswith("ou=services,") and re.match(acl.SERVICE_REGEX, dn, re.IGNORECASE):
            found.append(read_tier.DownstreamService(dn, names.parent_of(parent)))
        elif parent.lower() == f"ou=system,{suffix}".lower() and attrs.get("idmScope"):
            found.extend(read_tier.DownstreamService(dn, scope) for scope in attrs["idmScope"])
    return sorted(found, key=lambda s: (s.scope.lower(), s.dn.lower()))


def main_rules(node: Node, suffix: str, services: list[read_tier.DownstreamService] | None) -> list[str]:
    """A node's main database rules: the full rules, or on the read tier only downstream
    reading (`services` from `downstream_services`)."""
    ops = render.ops_dn()
    if node.is_downstream:
        if services is None:
            raise InvalidInput("下游只读节点的规则须由本机目录中的服务账号生成",
                               "a downstream node's rules are made from the services in its directory")
        return [acl.ops_clause(ops), *read_tier.rules(suffix, services)]
    return [acl.ops_clause(ops), *acl.main_acl(suffix)]


def refresh_rules(session: Session, node: Node) -> tuple[int, bool]:
    """Bring a downstream node's rules up to date with the services in its directory, live (no
    restart): (services named, whether the rules changed). Run by the local operator after a
    service is created or disabled, or from a timer (docs/deployment.md)."""
    if not node.is_downstream:
        raise InvalidInput(f"{node.name} 不是下游只读节点（role: downstream）",
                           f"{node.name} is not a downstream node (role: downstream)")
    services = downstream_services(session)
    changed = apply_changes(session, [Change(MAIN_DB, replace={"olcAccess": main_rules(node, session.suffix,
                                                                                       services)})])
    return len(services), changed > 0


def rules_stale(session: Session, node: Node) -> list[str]:
    """The active services a downstream node's rules do not name yet (or no longer should)."""
    wanted = main_rules(node, session.suffix, downstream_services(session))
    current = session.conn.search_s(MAIN_DB, ldap.SCOPE_BASE, "(objectClass=*)", ["olcAccess"])[0][1]
    have = [_unnumbered(v.decode()) for v in current.get("olcAccess", [])]
    named = {m.lower() for rule in have for m in re.findall(r'by dn\.exact="([^"]+)" read', rule)}
    want = {m.lower() for rule in wanted for m in re.findall(r'by dn\.exact="([^"]+)" read', rule)}
    return sorted(named ^ want) if have != wanted else []


def changes(cluster: Cluster, node: Node, settings: Settings, require_tls: bool = True,
            services: list[read_tier.DownstreamService] | None = None) -> list[Change]:
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
        # `idm cluster status` reads each node's counters as the replication identity
        Change(MONITOR_DB, replace={"olcAccess": [
            f'to * by dn.exact="{ops}" read by dn.exact="{replicator}" read by * none']}, optional=True),
        Change(MAIN_DB, replace={
            # the local operator is the rootDN of a database idm made; on a site's own slapd it
            # needs its clause (as `idm server` writes it there too)
            "olcAccess": main_rules(node, suffix, services),
            "olcSyncrepl": [_syncrepl(cluster, s, suffix, files) for s in sources] if node.is_provider
            else [_syncrepl(cluster, cluster.source_of(node), suffix, files)],
            # a lone provider (its replicas are consumers or the read tier) names no mode: slapd
            # takes `multiprovider FALSE` on it for a shadow's and refuses every write
            "olcMultiProvider": (["TRUE"] if sources else []) if node.is_provider else ["FALSE"],
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
        try:
            found = session.conn.search_s(change.dn, ldap.SCOPE_BASE, "(objectClass=*)", ["1.1"])
        except ldap.NO_SUCH_OBJECT:
            return None
        return change.dn if found else None
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
        if dn is None and c.optional:
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
    services = downstream_services(session) if node.is_downstream else None
    apply_changes(session, changes(cluster, node, settings, require_tls, services))
    updated = replace(settings, server_id=node.server_id, tls_port=tls_port, require_tls=require_tls,
                      uris=client_uris(cluster, node))
    save_settings(updated)
    save(cluster, settings.data_dir / CLUSTER_FILE)
    return updated


