"""Binds/s and subtree searches/s: the project's slapd configuration vs a vanilla slapd.

Both servers are started by this script, hold the same entries (the demo tree plus N business
users with the same {ARGON2} hash) and are measured one after the other with the same client
loop. The vanilla one has no overlays and two plain ACL clauses; the ratio is the price of the
toolkit's configuration (ppolicy, accesslog, unique, constraint, syncprov, ACLs).

    .venv/bin/python benches/bind_search.py [--users 2000] [--seconds 5]
"""

from __future__ import annotations

import argparse
import random
import sys
import tempfile
from pathlib import Path

import ldap

sys.path.insert(0, str(Path(__file__).resolve().parent))
import _common as c  # noqa: E402


def measure(settings, users: list[str], seconds: float) -> dict[str, float]:  # type: ignore[no-untyped-def]
    rng = random.Random(7)
    picks = [rng.choice(users) for _ in range(100_000)]
    conn = ldap.initialize(settings.ldap_uri)

    def bind(i: int) -> None:
        conn.simple_bind_s(picks[i], c.PASSWORD)

    reader = ldap.initialize(settings.ldap_uri)
    province = users[0].split(",", 4)[4]  # uid=..,ou=people,<county>,<city>,<province>
    reader.simple_bind_s(f"cn=bench-reader,ou=services,{province}", c.PASSWORD)

    def search(i: int) -> None:
        uid = picks[i].split(",", 1)[0].split("=", 1)[1]
        found = reader.search_s(settings.suffix, ldap.SCOPE_SUBTREE,
                                f"(&(objectClass=idmBusinessAccount)(uid={uid}))", ["cn", "idmGrant"])
        assert len(found) == 1, found

    return {"bind/s": c.rate(bind, seconds), "search/s": c.rate(search, seconds)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--users", type=int, default=2000)
    parser.add_argument("--seconds", type=float, default=5.0)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="idm-bench-") as tmp:
        folder = Path(tmp)
        started = []
        try:
            idm = c.start_idm(folder)
            started.append(idm)
            vanilla = c.start_vanilla(folder)
            started.append(vanilla)
            results = {}
            loaded: dict[str, list[str]] = {}
            for name, settings in (("idm", idm), ("vanilla", vanilla)):
                counties = c.load_tree(settings)
                users = c.load_users(settings, counties, args.users, ppolicy=name == "idm")
                loaded[name] = users
                results[name] = measure(settings, users, args.seconds)
            # the same server with its rules replaced by one permissive clause: what the rules cost
            with c.ops(idm) as session:
                db = next(dn for dn, _ in session.search("cn=config", f"(olcSuffix={idm.suffix})", ["1.1"]))
                session.replace(db, {"olcAccess": ["to * by * read"]})
            results["idm, no rules"] = measure(idm, loaded["idm"], args.seconds)
        finally:
            c.stop(*started)
    print(f"entries: demo tree (116 nodes) + {args.users} users; {args.seconds:.0f}s per measurement")
    print(f"{'':10}{'idm':>12}{'vanilla':>12}{'idm/vanilla':>14}")
    for metric in ("bind/s", "search/s"):
        a, b = results["idm"][metric], results["vanilla"][metric]
        print(f"{metric:10}{a:12.1f}{b:12.1f}{a / b:14.2f}")
    free = results["idm, no rules"]["search/s"]
    rules, rest = results["idm"]["search/s"] / free, free / results["vanilla"]["search/s"]
    print(f"idm with its rules replaced by `to * by * read`: {free:.1f} searches/s; "
          f"with rules / without: {rules:.2f}; without rules / vanilla: {rest:.2f}")


if __name__ == "__main__":
    main()
