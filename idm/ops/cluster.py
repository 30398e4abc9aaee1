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
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

from idm.errors import InvalidInput, ProblemList

# a consumer serves the toolkit's reads and every client near it; a downstream node (the read
# tier) is a consumer that serves downstream systems only, under the read tier's rules
ROLES = ("provider", "consumer", "downstream")
NAME = re.compile(r"^[a-z][a-z0-9-]{0,31}$")


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

    @property
    def is_downstream(self) -> bool:
        return self.role == "downstream"


@dataclass(frozen=True)
class Cluster:
    nodes: tuple[Node, ...]
    retry: str = "5 10 60 +"  # syncrepl: every 5 s ten times, then every 60 s for ever
    last_bind_precision: int = 86400  # a day, as the access reviews need (R16): binds stay reads

    @property
    def providers(self) -> list[Node]:
        return [n for n in self.nodes if n.is_provider]

    @property
    def read_tier(self) -> list[Node]:
        return [n for n in self.nodes if n.is_downstream]

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
            problems.add(at, f"角色应为 provider、consumer 或 downstream：{role!r}",
                         f"role must be provider, consumer or downstream: {role!r}")
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
        if source is not None and (role not in ("consumer", "downstream") or not isinstance(source, str)):
            problems.add(at, "只有 consumer 或 downstream 可指定 source（所跟随的 provider）",
                         "only a consumer or downstream node names a source (the provider it follows)")
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


CLUSTER_FILE = "cluster.json"


def to_json(cluster: Cluster) -> str:
    nodes = [{"name": n.name, "role": n.role, "server_id": n.server_id, "uri": n.uri,
              **({"source": n.source} if n.source else {})} for n in cluster.nodes]
    return json.dumps({"nodes": nodes,
                       "retry": cluster.retry, "last_bind_precision": cluster.last_bind_precision},
                      indent=2, ensure_ascii=False) + "\n"


def save(cluster: Cluster, path: Path) -> None:
    path.write_text(to_json(cluster), encoding="utf-8")


