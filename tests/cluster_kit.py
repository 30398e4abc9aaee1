"""A real cluster on loopback for the fault runs: three slapd processes (two providers and a
consumer) made the way an operator makes them (`idm backup` of the first, `idm restore` as new
nodes, `idm cluster certs` and `idm cluster apply`), with a TCP relay in front of each node's
replication port so that a test can cut the links between nodes while clients still reach them.
"""

from __future__ import annotations

import json
import socket
import subprocess
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

import ldap

from idm.config import Settings, load_settings, new_settings
from idm.directory import connection
from idm.directory.session import Session
from idm.ops import backup, cluster, cluster_state, embedded, slapcat
from idm.oversight import seal, seal_key
from tests.conftest import DEMO, power_loss, run_cli

# operational attributes that differ between nodes by design: each server's contextCSN holds
# its own server ID too (a consumer's never reaches the providers); compared per provider below
BY_DESIGN = {"contextcsn"}


class Relay:
    """A TCP relay 127.0.0.1:port -> 127.0.0.1:target that can be cut (`down`) and restored
    (`up`): a network link between two nodes, without touching the nodes themselves."""

    def __init__(self, target: int) -> None:
        self.target = target
        self.port = free_port()
        self._conns: list[socket.socket] = []
        self._lock = threading.Lock()
        self._listener: socket.socket | None = None
        self.up()

    def up(self) -> None:
        if self._listener is not None:
            return
        listener = socket.socket()
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        listener.bind(("127.0.0.1", self.port))
        listener.listen(64)
        self._listener = listener
        threading.Thread(target=self._accept, args=(listener,), daemon=True).start()

    def down(self) -> None:
        """Refuse new connections and break the open ones, as a failed link would."""
        listener, self._listener = self._listener, None
        if listener is not None:
            try:
                listener.shutdown(socket.SHUT_RDWR)  # wakes the thread blocked in accept()
            except OSError:
                pass
            listener.close()
        with self._lock:
            conns, self._conns = self._conns, []
        for conn in conns:
            try:
                conn.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
            conn.close()

    def _accept(self, listener: socket.socket) -> None:
        while True:
            try:
                client, _ = listener.accept()
            except OSError:
                return
            try:
                server = socket.create_connection(("127.0.0.1", self.target), timeout=5)
            except OSError:
                client.close()
                continue
            server.settimeout(None)
            with self._lock:
                self._conns += [client, server]
            for a, b in ((client, server), (server, client)):
                threading.Thread(target=self._pump, args=(a, b), daemon=True).start()

    @staticmethod
    def _pump(src: socket.socket, dst: socket.socket) -> None:
        try:
            while data := src.recv(65536):
                dst.sendall(data)
        except OSError:
            pass
        for s in (src, dst):
            try:
                s.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass


@dataclass
class Kit:
    folder: Path
    cluster: cluster.Cluster
    nodes: dict[str, Settings]
    relays: dict[str, Relay]
    passwords: dict[str, str] = field(default_factory=dict)
    since: str = ""  # the log records compared are those of changes after the cluster was formed

    @property
    def names(self) -> list[str]:
        return list(self.nodes)

    def ops(self, name: str) -> Session:
        s = self.nodes[name]
        return Session(connection.ops_connection(s.ldapi_uri), s.suffix)

    def stop(self, name: str) -> None:
        embedded.stop(self.nodes[name])

    def start(self, name: str) -> None:
        embedded.start(self.nodes[name])

    def kill9(self, name: str) -> None:
        power_loss(self.nodes[name])

    def close(self) -> None:
        for relay in self.relays.values():
            relay.down()
        for name in self.nodes:
            embedded.stop(self.nodes[name])

    # ------------------------------------------------------------ what the nodes hold
    def context(self, name: str) -> dict[int, str]:
        with self.ops(name) as session:
            found = session.conn.search_s(session.suffix, ldap.SCOPE_BASE, "(objectClass=*)", ["contextCSN"])
        return cluster_state.csns_of([v.decode() for v in found[0][1].get("contextCSN", [])])

    def explain(self) -> str:
        """What a stalled run looks like, in a few lines for a test report: each node's state of
        its directory and of its log (per server ID), and every log record and entry, on any
        node, newer than the first provider's own state of its own changes."""
        lines = []
        for n in self.names:
            with self.ops(n) as session:
                states = {base: cluster_state.csns_of([v.decode() for v in session.conn.search_s(
                    base, ldap.SCOPE_BASE, "(objectClass=*)", ["contextCSN"])[0][1].get("contextCSN", [])])
                    for base in (session.suffix, "cn=accesslog")}
            data_state, log_state = _short(states[self.nodes[n].suffix]), _short(states["cn=accesslog"])
            lines.append(f"{n}: data {data_state} log {log_state}")
        own = self.context(self.names[0]).get(self.nodes[self.names[0]].server_id, "")
        for n in self.names:
            with self.ops(n) as session:
                logged = session.conn.search_s("cn=accesslog", ldap.SCOPE_ONELEVEL, f"(entryCSN>={own})",
                                               ["entryCSN", "reqType", "reqDN", "reqResult", "reqAuthzID"])
                data = session.conn.search_s(session.suffix, ldap.SCOPE_SUBTREE, f"(entryCSN>={own})",
                                             ["entryCSN", "modifiersName"])
            rows = sorted((_when(a["entryCSN"][0].decode()), *(a.get(k, [b"?"])[0].decode()[:40] for k in
                           ("reqType", "reqResult", "reqDN", "reqAuthzID"))) for _, a in logged)
            ents = sorted((_when(a["entryCSN"][0].decode()), dn[:40]) for dn, a in data)
            more = "..." if len(rows) > 4 else ""
            lines.append(f"{n} after {_when(own)}: {len(rows)} in log {rows[:4]}{more}; "
                         f"{len(ents)} entries {ents[:3]}{'...' if len(ents) > 3 else ''}")
        return "\n".join(lines)

    def provider_ids(self) -> set[int]:
        return {n.server_id for n in self.cluster.providers}

    def wait_converged(self, timeout: float = 60.0, names: list[str] | None = None) -> float:
        """Until every node has seen the same newest change of every provider; seconds taken."""
        names = names or self.names
        start = time.monotonic()
        while True:
            views = [{sid: csn for sid, csn in self.context(n).items() if sid in self.provider_ids()}
                     for n in names]
            if all(v == views[0] for v in views):
                return time.monotonic() - start
            if time.monotonic() - start > timeout:
                views_by_node = dict(zip(names, views, strict=True))
                raise AssertionError(f"not converged after {timeout}s: {views_by_node}")
            time.sleep(0.2)

    def dump(self, name: str) -> dict[str, dict[str, list[str]]]:
        """slapcat of the node's directory, as {dn: {attr: sorted values}}, minus BY_DESIGN."""
        s = self.nodes[name]
        out_file = self.folder / f"{name}.slapcat.ldif"
        slapcat.dump(s, ["-b", s.suffix], out_file)
        entries: dict[str, dict[str, list[str]]] = {}
        for record in backup._records(out_file):
            attrs: dict[str, list[str]] = {}
            dn = ""
            for line in record.splitlines():
                key, _, value = line.partition(":")
                if key.lower() == "dn":
                    dn = value.strip().lower()
                    continue
                if key.lower() in BY_DESIGN:
                    continue
                attrs.setdefault(key.lower(), []).append(value.strip())
            entries[dn] = {k: sorted(v) for k, v in attrs.items()}
        return entries

    def assert_identical(self) -> tuple[int, dict[str, dict[str, list[str]]]]:
        """The directories of all nodes are the same, entry by entry; the count and the data."""
        first, *rest = self.names
        reference = self.dump(first)
        for name in rest:
            other = self.dump(name)
            missing = sorted(set(reference) - set(other))[:5]
            extra = sorted(set(other) - set(reference))[:5]
            assert not missing and not extra, f"{name} vs {first}: missing {missing}, extra {extra}"
            differ = [dn for dn in reference if reference[dn] != other[dn]]
            assert not differ, (f"{name} vs {first}: {len(differ)} entries differ, e.g. {differ[0]}: "
                                f"{_diff(reference[differ[0]], other[differ[0]])}")
        return len(reference), reference

    def logged(self, name: str) -> set[str]:
        """The CSNs of the successful writes in a node's log (since the cluster was formed)."""
        with self.ops(name) as session:
            window = f"(entryCSN>={self.since})" if self.since else ""
            found = session.conn.search_s("cn=accesslog", ldap.SCOPE_ONELEVEL, f"(&(reqResult=0){window})",
                                          ["entryCSN", "reqMod"])
        out = set()
        for _, attrs in found:
            mods = [m.decode(errors="replace") for m in attrs.get("reqMod", [])]
            if mods and all(m.lower().startswith("contextcsn:") for m in mods):
                continue  # a server recording what it has seen: local bookkeeping
            csn = attrs["entryCSN"][0].decode()
            if csn > self.since:
                out.add(csn)
        return out

    def assert_logs_agree(self, data: dict[str, dict[str, list[str]]]) -> int:
        """The write logs and the data tell the same story: the latest change of every entry is
        in the log of the server it came from (its origin logs the real actor), and every
        record a node holds of another server's change is in that server's log too. Each
        provider's seal chain verifies after a fresh seal. Returns the number of changes.

        (A node that caught up by a full refresh, as peers do after a provider crashed, holds
        no record of the changes it fetched that way: the origin's log is the audit trail.)"""
        by_sid = {self.nodes[n].server_id: n for n in self.names if self.cluster.node(n).is_provider}
        logs = {n: self.logged(n) for n in self.names}
        latest = {v[0] for entry in data.values() for v in [entry.get("entrycsn", [""])] if v[0] > self.since}
        for csn in sorted(latest):
            origin = by_sid[int(csn.split("#")[2], 16)]
            assert csn in logs[origin], f"the change {csn} is in the data but not in {origin}'s log"
        for name, csns in logs.items():
            for csn in csns:
                origin = by_sid[int(csn.split("#")[2], 16)]
                assert csn in logs[origin], f"{name} logged {csn}, which {origin} never logged"
        for name, s in self.nodes.items():
            if not self.cluster.node(name).is_provider:
                continue  # a consumer cannot write a seal (its directory is a copy): providers seal
            with self.ops(name) as session:
                key = seal_key.load(s.data_dir, create=True)
                seal.seal(session, key, s.server_id, settle=seal.AT_ONCE)
                assert seal.verify(session, key.public_pem(), s.log_purge_days, s.server_id) == [], name
        return len(latest)

    def check(self, timeout: float = 60.0) -> tuple[int, int]:
        """After a run: converged, identical directories, agreeing logs, intact seals."""
        entries, data = self.wait_identical(timeout)
        writes = self.assert_logs_agree(data)
        self.wait_identical(timeout)  # the seals just written replicate too
        return entries, writes

    def wait_identical(self, timeout: float) -> tuple[int, dict[str, dict[str, list[str]]]]:
        """Converged by contextCSN, then identical by content (a node still finishing a full
        refresh may show the first before the second); the entry count and the data."""
        deadline = time.monotonic() + timeout
        while True:
            self.wait_converged(max(1.0, deadline - time.monotonic()))
            try:
                return self.assert_identical()
            except AssertionError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.5)

def _when(csn: str) -> str:
    """A CSN as time of day and server ID: `050748.546383#1`."""
    parts = csn.split("#")
    return f"{parts[0][8:21]}#{int(parts[2], 16)}" if len(parts) == 4 else csn


def _short(csns: dict[int, str]) -> str:
    """Server ID: time of day of its newest change (the date is the same in a run)."""
    return " ".join(f"{sid}:{csn[8:21]}" for sid, csn in sorted(csns.items()))


def _diff(a: dict[str, list[str]], b: dict[str, list[str]]) -> dict[str, tuple[object, object]]:
    return {k: (a.get(k), b.get(k)) for k in sorted(set(a) | set(b)) if a.get(k) != b.get(k)}


def build(folder: Path, consumers: int = 1, retry: str = "1 +", roles: dict[str, str] | None = None,
          allow_plain: bool = False) -> Kit:
    """Provider `a` with the demo tree and the province's admins; `b` (provider) and `c...`
    (consumers) restored from its backup as new nodes; the cluster applied on each. `roles`
    names the nodes and their roles instead (`a` first, a provider). Nothing is left running if
    it fails."""
    started: list[Settings] = []
    try:
        return _build(folder, consumers, retry, started, roles, allow_plain)
    except BaseException:
        for s in started:
            embedded.stop(s)
        raise


def free_port() -> int:
    """A free port below the ephemeral range: a node restarted in a test must find its port
    free, and an outgoing connection's source port (ephemeral) could otherwise hold it."""
    import random

    while True:
        port = random.randint(20000, 32000)
        with socket.socket() as sock:
            try:
                sock.bind(("127.0.0.1", port))
            except OSError:
                continue
            return port


def _build(folder: Path, consumers: int, retry: str, started: list[Settings],
           roles: dict[str, str] | None = None, allow_plain: bool = False) -> Kit:
    first = new_settings(folder / "a", port=free_port(), server_id=1)
    embedded.init(first)
    embedded.start(first)
    started.append(first)
    assert run_cli(first, "org", "import", str(DEMO / "inner-mongolia.csv")).exit_code == 0
    boot = run_cli(first, "bootstrap", str(DEMO / "province-admins.csv"))
    assert boot.exit_code == 0, boot.output
    import re

    from tests.conftest import PASSWORD_LINE

    created = re.findall(r"created: uid=([^,]+),", boot.output)
    passwords = dict(zip(created, PASSWORD_LINE.findall(boot.output), strict=True))
    assert run_cli(first, "ca", "init").exit_code == 0
    if roles is None:
        roles = {"a": "provider", "b": "provider",
                 **{f"c{i}" if consumers > 1 else "c": "consumer" for i in range(1, consumers + 1)}}
    names = list(roles)
    ports = {n: (first.port if n == "a" else free_port(), free_port()) for n in names}  # ldap, ldaps
    relays = {n: Relay(ports[n][1]) for n in names}
    nodes_json = [{"name": n, "role": roles[n], "server_id": i + 1,
                   "uri": f"ldaps://127.0.0.1:{relays[n].port}"} for i, n in enumerate(names)]
    spec = folder / "cluster.json"
    spec.write_text(json.dumps({"nodes": nodes_json, "retry": retry}), encoding="utf-8")
    cl = cluster.load(spec)
    certs = run_cli(first, "cluster", "certs", str(spec), "--out", str(folder / "certs"))
    assert certs.exit_code == 0, certs.output
    made = backup.create(first, folder / "backups", with_secrets=True)
    settings = {"a": first}
    for i, n in enumerate(names[1:], start=2):
        settings[n] = backup.restore(made.folder, folder / n, server_id=i, port=ports[n][0])
        embedded.start(settings[n])
        started.append(settings[n])
    for n in names:
        result = run_cli(settings[n], "cluster", "apply", str(spec), "--node", n, "--tls",
                         str(folder / "certs" / n), "--listen-port", str(ports[n][1]),
                         *(["--allow-plain"] if allow_plain else []))
        assert result.exit_code == 0, (result.output, result.exception)
        settings[n] = load_settings(settings[n].data_dir)
    kit = Kit(folder, cl, settings, relays, passwords)
    import atexit

    atexit.register(kit.close)  # a second line of defence: no slapd outlives the test session
    kit.wait_converged()
    kit.since = max(kit.logged("a") or {""})  # b and c were made from a backup: logs start here
    return kit


def ldapsearch_count(settings: Settings, base: str, filterstr: str) -> int:
    proc = subprocess.run(["ldapsearch", "-LLL", "-Q", "-Y", "EXTERNAL", "-H", settings.ldapi_uri, "-b", base,
                           filterstr, "1.1"], capture_output=True, text=True, check=True)
    return proc.stdout.count("dn: ")
