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
from idm.rules import acl

MAIN_DB = "olcDatabase={2}mdb,cn=config"
LOG_DB = "olcDatabase={1}mdb,cn=config"
FRONTEND = "olcDatabase={-1}frontend,cn=config"
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


