"""Binds/s and subtree searches/s: the project's slapd configuration vs a vanilla slapd.

Both servers are started by this script, hold the same entries (the demo tree plus N business
users with the same {ARGON2} hash) and are measured one after the other with the same client
loop. The vanilla one has no overlays and two plain ACL clauses; the ratio is the price of the
toolkit's configuration (ppolicy, accesslog, unique, constraint, syncprov, ACLs).

    .venv/bin/python benches/bind_search.py [--users 2000] [--seconds 5] [--rounds 5]

The servers are measured in turns, `--rounds` times each (`--seconds` per measurement), and each
ratio is the median of the rounds' ratios with its range: on a 2-core machine one-off ratios
swing by a tenth or more as the other processes come and go, the rounds show how far.
"""

from __future__ import annotations

import argparse
import random
import statistics
import sys
import tempfile
from pathlib import Path

import ldap

sys.path.insert(0, str(Path(__file__).resolve().parent))
import _common as c  # noqa: E402


def measure(settings, users: list[str], seconds: float) -> dict[str, float]:  # type: ignore[no-untyped-def]
    """One measurement of binds/s and searches/s, on connections of its own."""
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
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--clauses", action="store_true",
                        help="also measure searches under single clauses of the kinds the rules use")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="idm-bench-") as tmp:
        folder = Path(tmp)
        started = []
        try:
            idm = c.start_idm(folder)
            started.append(idm)
            vanilla = c.start_vanilla(folder)
            started.append(vanilla)
            loaded: dict[str, list[str]] = {}
            for name, settings in (("idm", idm), ("vanilla", vanilla)):
                counties = c.load_tree(settings, vanilla=name == "vanilla")
                loaded[name] = c.load_users(settings, counties, args.users, ppolicy=name == "idm")
            rounds: list[dict[str, dict[str, float]]] = []
            for _ in range(args.rounds):
                rounds.append({name: measure(settings, loaded[name], args.seconds)
                               for name, settings in (("idm", idm), ("vanilla", vanilla))})
            # the same server with its rules replaced by one permissive clause: what the rules cost
            with c.ops(idm) as session:
                db = next(dn for dn, _ in session.search("cn=config", f"(olcSuffix={idm.suffix})", ["1.1"]))
                session.replace(db, {"olcAccess": ["to * by * read"]})
            for each in rounds:
                each["idm, no rules"] = measure(idm, loaded["idm"], args.seconds)
                again = measure(vanilla, loaded["vanilla"], args.seconds)
                each["vanilla"]["search/s, again"] = again["search/s"]
            clauses = {label: [] for label in CLAUSES} if args.clauses else {}
            for _ in range(args.rounds if args.clauses else 0):
                for label, rules in CLAUSES.items():
                    with c.ops(idm) as session:
                        session.replace(db, {"olcAccess": [r.replace("SUFFIX", idm.suffix) for r in rules]})
                    mine = measure(idm, loaded["idm"], args.seconds)["search/s"]
                    theirs = measure(vanilla, loaded["vanilla"], args.seconds)["search/s"]
                    clauses[label].append(mine / theirs)
        finally:
            c.stop(*started)
    print(f"entries: demo tree (116 nodes) + {args.users} users; {args.rounds} rounds of "
          f"{args.seconds:.0f}s per measurement; medians, ratios as median [min-max] of the rounds")
    print(f"{'':10}{'idm':>12}{'vanilla':>12}{'idm/vanilla':>24}")
    for metric in ("bind/s", "search/s"):
        a = [r["idm"][metric] for r in rounds]
        b = [r["vanilla"][metric] for r in rounds]
        print(f"{metric:10}{statistics.median(a):12.1f}{statistics.median(b):12.1f}"
              f"{spread([x / y for x, y in zip(a, b, strict=True)]):>24}")
    free = [r["idm, no rules"]["search/s"] for r in rounds]
    with_rules = spread([r["idm"]["search/s"] / f for r, f in zip(rounds, free, strict=True)])
    rest = spread([f / r["vanilla"]["search/s, again"] for r, f in zip(rounds, free, strict=True)])
    print(f"idm with its rules replaced by `to * by * read`: {statistics.median(free):.1f} searches/s; "
          f"with rules / without: {with_rules}; without rules / vanilla: {rest}")
    for label, ratios in clauses.items():
        print(f"searches/s against vanilla, the rules replaced by {label}: {spread(ratios)}")


# What one clause of each kind the rules use costs a downstream search on its own (each followed
# by `to * by * read`): the reader at the province reads a county's user, as in `measure`.
_PEOPLE = r'to dn.regex="^uid=[^,]+,ou=people,(ou=[0-9]+,(ou=[0-9]+,(ou=[0-9]+,(SUFFIX))))$"'
_ATTRS = " attrs=entry,objectClass,uid,cn,idmGrant"
_SERVICES = " ".join(f'by dn.onelevel,expand="ou=services,${k}" read' for k in (1, 2, 3)) + " by * break"
CLAUSES = {
    "a subtree clause for its attributes (by * read)": [f'to dn.subtree="SUFFIX"{_ATTRS} by * read'],
    "a regex clause for them (by * read)": [f"{_PEOPLE}{_ATTRS} by * read"],
    "the downstream clause (3 expanded DNs)": [f"{_PEOPLE}{_ATTRS} {_SERVICES}"],
    "the downstream clause with its filter": [
        f"{_PEOPLE} filter=(&(idmStatus=active)(!(pwdAccountLockedTime=000001010000Z))){_ATTRS} {_SERVICES}"],
    "a subtree clause with a requester regex": [
        f'to dn.subtree="SUFFIX"{_ATTRS} by dn.regex="^cn=[^,]+,ou=services,.+$" read by * break'],
}
CLAUSES = {label: [*rules, "to * by * read"] for label, rules in CLAUSES.items()}


def spread(ratios: list[float]) -> str:
    return f"{statistics.median(ratios):.2f} [{min(ratios):.2f}-{max(ratios):.2f}]"


if __name__ == "__main__":
    main()
