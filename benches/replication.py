"""Replication lag and the cost of a second provider (R20).

Two measurements, both on this machine's loopback with the fault runs' harness
(tests/cluster_kit.py: providers a and b made with idm backup/restore and idm cluster apply,
delta-syncrepl over TLS with certificate authentication):

1. Lag: N adds on provider a, one after the other, as fast as one client goes; a
   refreshAndPersist search on provider b (python-ldap's syncrepl consumer over ldapi, in its own
   process so that it does not share the writer's interpreter) notes when each entry becomes
   visible there. lag = visible on b - acknowledged by a (one monotonic clock); p50 and p95.
   Then the same at a steady 50 adds/s (--paced, --rate): the lag of a provider that keeps up.
2. Write rate: N adds on a standalone server with the same configuration (the reference, in
   the same run) and on provider a of the pair, in alternating rounds; the ratio of the medians.

    .venv/bin/python benches/replication.py [--writes 10000] [--paced 2000 --rate 50]
"""

from __future__ import annotations

import argparse
import multiprocessing
import statistics
import sys
import tempfile
import time
from pathlib import Path

import ldap
from ldap.ldapobject import SimpleLDAPObject
from ldap.syncrepl import SyncreplConsumer

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benches"))
import _common as c  # noqa: E402

from idm.directory.connection import external_bind  # noqa: E402
from idm.ops import embedded  # noqa: E402
from tests import cluster_kit  # noqa: E402

BASE = "ou=bench,dc=edu,dc=cn"


class Watcher(SimpleLDAPObject, SyncreplConsumer):  # type: ignore[misc]
    """refreshAndPersist on a node: the time each new entry shows up there."""

    def __init__(self, uri: str) -> None:
        super().__init__(uri)
        self.seen: dict[str, float] = {}
        self.cookie: str | None = None

    def syncrepl_get_cookie(self) -> str | None:
        return self.cookie

    def syncrepl_set_cookie(self, cookie: str) -> None:
        self.cookie = cookie

    def syncrepl_entry(self, dn: str, attributes: dict[str, list[bytes]], uuid: str) -> None:
        self.seen.setdefault(dn.lower(), time.monotonic())

    def syncrepl_delete(self, uuids: list[str]) -> None:
        pass

    def syncrepl_present(self, uuids: list[str] | None, refreshDeletes: bool = False) -> None:
        pass

    def syncrepl_refreshdone(self) -> None:
        pass


def write(settings, n: int, prefix: str, per_second: float = 0.0) -> tuple[float, dict[str, float]]:  # type: ignore[no-untyped-def]
    """n adds, one after the other (at most `per_second` if given); (adds/s, when each was
    acknowledged)."""
    acked: dict[str, float] = {}
    with c.ops(settings) as session:
        if not session.exists(BASE):
            session.add(BASE, {"objectClass": ["organizationalUnit"], "ou": ["bench"]})
        start = time.monotonic()
        for i in range(n):
            if per_second:
                time.sleep(max(0.0, start + i / per_second - time.monotonic()))
            dn = f"cn={prefix}-{i},{BASE}"
            session.add(dn, {"objectClass": ["applicationProcess"], "cn": [f"{prefix}-{i}"]})
            acked[dn.lower()] = time.monotonic()
        took = time.monotonic() - start
    return n / took, acked


def watch(ldapi_uri: str, prefix: str, count: int, ready, out) -> None:  # type: ignore[no-untyped-def]
    """In a process of its own: the time each of `count` new entries shows up on the node."""
    watcher = Watcher(ldapi_uri)
    external_bind(watcher)
    watcher.syncrepl_search(BASE, ldap.SCOPE_ONELEVEL, mode="refreshAndPersist", filterstr=f"(cn={prefix}-*)",
                            attrlist=["cn"])
    ready.set()
    deadline = time.monotonic() + 600
    while len(watcher.seen) < count and time.monotonic() < deadline:
        try:
            watcher.syncrepl_poll(all=0, timeout=1)
        except ldap.TIMEOUT:
            continue
    out.put(watcher.seen)


def lag_run(kit, n: int, prefix: str, per_second: float = 0.0) -> tuple[float, list[float]]:  # type: ignore[no-untyped-def]
    """Adds on a, watched on b: (adds/s on a, sorted lags in seconds); every write must arrive."""
    ready, out = multiprocessing.Event(), multiprocessing.Queue()
    watcher = multiprocessing.Process(target=watch, args=(kit.nodes["b"].ldapi_uri, prefix, n, ready, out))
    watcher.start()
    ready.wait(30)
    rate, acked = write(kit.nodes["a"], n, prefix, per_second)
    seen: dict[str, float] = out.get(timeout=600)
    watcher.join()
    assert len(seen) == n, f"{n - len(seen)} writes never seen on b"
    return rate, sorted(seen[dn] - t for dn, t in acked.items())


def quantiles(lags: list[float]) -> str:
    q = statistics.quantiles(lags, n=100)
    return f"p50 {q[49] * 1000:.1f} ms, p95 {q[94] * 1000:.1f} ms, max {lags[-1] * 1000:.1f} ms"


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--writes", type=int, default=10_000)
    parser.add_argument("--paced", type=int, default=2_000, help="writes at --rate per second")
    parser.add_argument("--rate", type=float, default=50.0)
    parser.add_argument("--rounds", type=int, default=5, help="alternating rounds for the write rates")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        single = c.start_idm(Path(tmp) / "single")
        kit = cluster_kit.build(Path(tmp) / "pair", consumers=0)
        try:
            with c.ops(kit.nodes["a"]) as session:
                session.add(BASE, {"objectClass": ["organizationalUnit"], "ou": ["bench"]})
            kit.wait_converged()
            # the rates in alternating rounds, so that a load that comes and goes on the
            # machine weighs on both alike
            single_rates, pair_rates = [], []
            for r in range(args.rounds):
                single_rates.append(write(single, args.writes // args.rounds, f"single{r}")[0])
                pair_rates.append(write(kit.nodes["a"], args.writes // args.rounds, f"rate{r}")[0])
            _, burst = lag_run(kit, args.writes, "burst")
            _, paced = lag_run(kit, args.paced, "paced", args.rate)
            converged = kit.wait_converged(timeout=300)
        finally:
            kit.close()
            embedded.stop(single)
    single_rate, pair_rate = statistics.median(single_rates), statistics.median(pair_rates)
    print(f"one client, adds one after the other, loopback, {multiprocessing.cpu_count()} cores")
    print(f"lag a -> b, {args.writes} adds as fast as they go: {quantiles(burst)}")
    print(f"lag a -> b, {args.paced} adds at {args.rate:.0f}/s: {quantiles(paced)}")
    print(f"contextCSN equal on both {converged:.1f}s after the last write")
    print("| | adds/s | vs standalone |")
    print("| --- | ---: | ---: |")
    print(f"| standalone server (reference) | {single_rate:.1f} | 1.00 |")
    print(f"| provider a of two | {pair_rate:.1f} | {pair_rate / single_rate:.2f} |")
    print(f"(medians of {args.rounds} alternating rounds of {args.writes // args.rounds} adds; "
          f"per round: standalone {', '.join(f'{r:.0f}' for r in single_rates)}; "
          f"pair {', '.join(f'{r:.0f}' for r in pair_rates)})")


if __name__ == "__main__":
    main()
