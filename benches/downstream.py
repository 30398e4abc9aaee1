"""Downstream authentication as real clients do it: a vanilla slapd, a provider with the full
rules, and a downstream replica (the read tier), side by side.

The round trip is what Apache's mod_authnz_ldap does per request: bind as the service, search
the user by uid, bind as the user, all on one connection. It is run with 4, 16 and 64
concurrent connections (worker processes with threads, each thread one connection), then a
search alone at 16. Then Apache httpd itself (Debian's apache2, started here on a free port,
caching off, configured as docs/integration.md says) is driven with `ab` against each server.

    .venv/bin/python benches/downstream.py [--users 2000] [--seconds 4] [--rounds 3]
                                           [--hash argon2|ssha|both] [--no-apache]

All three servers hold the same users with the same password values: `argon2` (what slapd
makes, {ARGON2}) or `ssha` (a cheap {SSHA}, which leaves the rules' cost visible). The servers
are measured in turns, `--rounds` times; each ratio is the median of the rounds' ratios with its
range. Clients and servers share this machine's two cores: the ratios compare servers under the
same client, the absolute rates are this machine's.
"""

from __future__ import annotations

import argparse
import base64
import hashlib
import multiprocessing
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import ldap

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benches"))
import _common as c  # noqa: E402

from idm.config import Settings  # noqa: E402
from idm.ops import cluster_config, embedded  # noqa: E402
from idm.tree import org  # noqa: E402
from tests import cluster_kit  # noqa: E402  (the same pair the read tier's tests start)

SERVICE_CN = "bench-reader"
CONNECTIONS = (4, 16, 64)


# ---------------------------------------------------------------- the clients
def _worker(
    uri: str,
    service: str,
    users: list[str],
    threads: int,
    seconds: float,
    search_only: bool,
    out: multiprocessing.Queue,
) -> None:  # type: ignore[type-arg]
    counts = [0] * threads
    deadline = time.monotonic() + seconds
    start = threading.Barrier(threads)

    def loop(k: int) -> None:
        conn = ldap.initialize(uri)
        conn.simple_bind_s(service, c.PASSWORD)
        start.wait()
        i = k
        while time.monotonic() < deadline:
            dn = users[i % len(users)]
            uid = dn.split(",", 1)[0][4:]
            if not search_only:
                conn.simple_bind_s(service, c.PASSWORD)
            found = conn.search_s(
                "dc=edu,dc=cn",
                ldap.SCOPE_SUBTREE,
                f"(&(objectClass=idmBusinessAccount)(uid={uid}))",
                ["cn", "idmGrant"],
            )
            assert len(found) == 1, (uri, uid, found)
            if not search_only:
                conn.simple_bind_s(found[0][0], c.PASSWORD)
            counts[k] += 1
            i += threads
        conn.unbind_s()

    workers = [threading.Thread(target=loop, args=(k,)) for k in range(threads)]
    for w in workers:
        w.start()
    for w in workers:
        w.join()
    out.put(sum(counts))


def round_trips(
    uri: str, service: str, users: list[str], connections: int, seconds: float, search_only: bool = False
) -> float:
    """Round trips (or searches) per second over `connections` connections."""
    procs = min(connections, 4)
    queue: multiprocessing.Queue = multiprocessing.Queue()  # type: ignore[type-arg]
    workers = [
        multiprocessing.Process(
            target=_worker,
            args=(uri, service, users[p::procs], connections // procs, seconds, search_only, queue),
        )
        for p in range(procs)
    ]
    for w in workers:
        w.start()
    total = sum(queue.get(timeout=seconds + 60) for _ in workers)
    for w in workers:
        w.join()
    return total / seconds


# ---------------------------------------------------------------- Apache
APACHE_CONF = """
ServerRoot "{root}"
Listen 127.0.0.1:{port}
PidFile {root}/httpd.pid
ErrorLog {root}/error.log
LogLevel warn
User www-data
Group www-data
LoadModule mpm_event_module /usr/lib/apache2/modules/mod_mpm_event.so
LoadModule authn_core_module /usr/lib/apache2/modules/mod_authn_core.so
LoadModule authz_core_module /usr/lib/apache2/modules/mod_authz_core.so
LoadModule authz_user_module /usr/lib/apache2/modules/mod_authz_user.so
LoadModule auth_basic_module /usr/lib/apache2/modules/mod_auth_basic.so
LoadModule ldap_module /usr/lib/apache2/modules/mod_ldap.so
LoadModule authnz_ldap_module /usr/lib/apache2/modules/mod_authnz_ldap.so
StartServers 2
ThreadsPerChild 32
ServerLimit 4
MaxRequestWorkers 128
DocumentRoot "{root}/www"
# caching off: every request goes to the directory
LDAPCacheEntries 0
LDAPOpCacheEntries 0
LDAPSharedCacheSize 0
<Directory "/">
  AllowOverride None
</Directory>
<Location "/">
  AuthType Basic
  AuthName "idm"
  AuthBasicProvider ldap
  AuthLDAPURL "{ldap_url}/dc=edu,dc=cn?uid?sub?(&(objectClass=idmBusinessAccount)(idmStatus=active))" NONE
  AuthLDAPBindDN "{service}"
  AuthLDAPBindPassword "{secret}"
  Require valid-user
</Location>
"""


class Apache:
    """Debian's apache2 on a free port, in front of one LDAP server."""

    def __init__(self, folder: Path, ldap_uri: str, service: str) -> None:
        self.root = folder
        self.port = c.free_port()
        (folder / "www").mkdir(parents=True, exist_ok=True)
        (folder / "www" / "index.html").write_text("ok\n")
        conf = folder / "httpd.conf"
        conf.write_text(
            APACHE_CONF.format(
                root=folder, port=self.port, ldap_url=ldap_uri, service=service, secret=c.PASSWORD
            )
        )
        shutil.chown(folder, "www-data")
        self.proc = subprocess.Popen(
            ["/usr/sbin/apache2", "-f", str(conf), "-DFOREGROUND"],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.STDOUT,
        )
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            if self.get(c.PASSWORD) is not None:
                return
            time.sleep(0.2)
        raise RuntimeError(
            f"apache2 did not start: {(folder / 'error.log').read_text(errors='replace')[-500:]}"
        )

    def get(self, password: str, uid: str = "bench000000") -> int | None:
        import urllib.error
        import urllib.request

        token = base64.b64encode(f"{uid}:{password}".encode()).decode()
        request = urllib.request.Request(
            f"http://127.0.0.1:{self.port}/index.html", headers={"Authorization": f"Basic {token}"}
        )
        try:
            return int(urllib.request.urlopen(request, timeout=5).status)
        except urllib.error.HTTPError as err:
            return int(err.code)
        except OSError:
            return None

    def ab(self, connections: int, seconds: float, uid: str) -> float:
        out = subprocess.run(
            [
                "ab",
                "-q",
                "-c",
                str(connections),
                "-t",
                str(seconds),
                "-n",
                "10000000",
                "-A",
                f"{uid}:{c.PASSWORD}",
                f"http://127.0.0.1:{self.port}/index.html",
            ],
            capture_output=True,
            text=True,
            check=True,
        ).stdout
        failed = next((int(line.split()[-1]) for line in out.splitlines() if line.startswith("Non-2xx")), 0)
        assert failed == 0, out
        return float(
            next(line.split()[3] for line in out.splitlines() if line.startswith("Requests per second"))
        )

    def stop(self) -> None:
        self.proc.terminate()
        self.proc.wait(10)


# ---------------------------------------------------------------- the servers
def ssha(password: str, salt: bytes) -> str:
    return "{SSHA}" + base64.b64encode(hashlib.sha1(password.encode() + salt).digest() + salt).decode()


def load(provider: Settings, vanilla: Settings, count: int, cheap: bool) -> tuple[str, list[str]]:
    """The same users (and the same password values) on the provider and the vanilla slapd;
    the service account that reads them, at the province."""
    c.load_tree(vanilla, vanilla=True)
    with c.ops(provider) as session:
        counties = [n.dn for n in org.all_nodes(session) if n.level == "county"]
    users = c.load_users(provider, counties, count, ppolicy=True)
    province = counties[0].split(",", 2)[2]
    service = f"cn={SERVICE_CN},ou=services,{province}"
    with c.ops(provider) as source, c.ops(vanilla) as target:
        for dn in [*users, service]:
            entry = source.conn.search_s(dn, ldap.SCOPE_BASE, "(objectClass=*)", ["*"])[0][1]
            if cheap:
                value = ssha(c.PASSWORD, os.urandom(8)).encode()
                source.conn.modify_s(dn, [(ldap.MOD_REPLACE, "userPassword", [value])])
                source.conn.modify_s(dn, [(ldap.MOD_REPLACE, "pwdReset", None)])  # ppolicy set it again
                entry["userPassword"] = [value]
            entry.pop("pwdPolicySubentry", None)
            target.conn.add_s(dn, list(entry.items()))
    return service, users


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--users", type=int, default=2000)
    parser.add_argument("--seconds", type=float, default=4.0)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--hash", choices=["argon2", "ssha", "both"], default="both")
    parser.add_argument("--no-apache", action="store_true")
    args = parser.parse_args()
    apache = not args.no_apache and Path("/usr/sbin/apache2").exists() and shutil.which("ab")
    if not args.no_apache and not apache:
        print("apache2 / ab not installed (apt-get install apache2 apache2-utils): Apache part skipped")
    for cheap in {"argon2": [False], "ssha": [True], "both": [False, True]}[args.hash]:
        run(args, cheap, bool(apache))


def run(args: argparse.Namespace, cheap: bool, apache: bool) -> None:
    with tempfile.TemporaryDirectory(prefix="idm-bench-") as tmp:
        folder = Path(tmp)
        os.chmod(folder, 0o711)  # Apache's workers (www-data) reach their folder; the data stays 0700
        kit = cluster_kit.build(folder / "pair", roles={"a": "provider", "d": "downstream"}, allow_plain=True)
        vanilla = c.start_vanilla(folder)
        servers: dict[str, str] = {}
        proxies: list[Apache] = []
        checks: list[str] = []
        try:
            service, users = load(kit.nodes["a"], vanilla, args.users, cheap)
            kit.wait_converged(timeout=600)
            with kit.ops("d") as session:
                count, _ = cluster_config.refresh_rules(session, kit.cluster.node("d"))
            assert count >= 1
            servers = {
                "vanilla": vanilla.plain_uri,
                "provider": kit.nodes["a"].plain_uri,
                "replica": kit.nodes["d"].plain_uri,
            }
            rows: dict[str, list[dict[str, float]]] = {f"{n} conns": [] for n in CONNECTIONS}
            rows["search alone, 16"] = []
            for r in range(args.rounds):
                order = list(servers)[r % 3 :] + list(servers)[: r % 3]  # alternate who goes first
                for n in CONNECTIONS:
                    rows[f"{n} conns"].append(
                        {s: round_trips(servers[s], service, users, n, args.seconds) for s in order}
                    )
                rows["search alone, 16"].append(
                    {
                        s: round_trips(servers[s], service, users, 16, args.seconds, search_only=True)
                        for s in order
                    }
                )
            if apache:
                proxies = [Apache(folder / f"apache-{s}", servers[s], service) for s in servers]
                for proxy in proxies:
                    assert proxy.get(c.PASSWORD) == 200 and proxy.get("wrong") == 401
                # issue 21's first finding: a one-time password (pwdReset) must not open the app
                probe = users[2]
                with c.ops(kit.nodes["a"]) as session:
                    session.conn.modify_s(probe, [(ldap.MOD_REPLACE, "pwdReset", [b"TRUE"])])
                kit.wait_converged(timeout=60)
                one_time = {
                    s: proxies[k].get(c.PASSWORD, probe.split(",", 1)[0][4:])
                    for k, s in enumerate(servers)
                    if s != "vanilla"
                }
                assert set(one_time.values()) == {401}, one_time
                checks.append(f"a must-change password through Apache: {one_time} (401: refused)")
                rows["Apache ab, 16"] = []
                for _ in range(args.rounds):
                    rows["Apache ab, 16"].append(
                        {s: proxies[i].ab(16, args.seconds, "bench000001") for i, s in enumerate(servers)}
                    )
        finally:
            for proxy in proxies:
                proxy.stop()
            kit.close()
            embedded.stop(vanilla)
    print(
        f"\nhash {'{SSHA}' if cheap else '{ARGON2}'}; {args.users} users; {args.rounds} rounds of "
        f"{args.seconds:.0f}s; medians per second, ratios as median [min-max] of the rounds"
    )
    for line in checks:
        print(line)
    print(
        f"{'':22}{'vanilla':>10}{'provider':>10}{'replica':>10}{'provider/vanilla':>20}{'replica/vanilla':>20}"
    )
    for label, measured in rows.items():
        med = {s: statistics.median(m[s] for m in measured) for s in servers}
        ratios = {s: spread([m[s] / m["vanilla"] for m in measured]) for s in ("provider", "replica")}
        print(
            f"{label:22}{med['vanilla']:10.1f}{med['provider']:10.1f}{med['replica']:10.1f}"
            f"{ratios['provider']:>20}{ratios['replica']:>20}"
        )


def spread(ratios: list[float]) -> str:
    return f"{statistics.median(ratios):.3f} [{min(ratios):.2f}-{max(ratios):.2f}]"


if __name__ == "__main__":
    main()
