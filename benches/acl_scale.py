"""Does the cost of the access rules grow with the tree? Bind, search and modify rates as one
county's system admin, with 100 org units vs 10,000, and vs the same slapd without the rules.

Three servers are built by this script, one after the other: the project's configuration with
a 100-unit tree, the same with a 10,000-unit tree, and the 10,000-unit one with its olcAccess
replaced by a permissive rule. Trees are loaded with slapadd (each unit with its five
containers), then the county's admins and N business users are added over ldapi.

    .venv/bin/python benches/acl_scale.py [--small 100] [--large 10000] [--users 500] [--seconds 3]
                                          [--rounds 3]
"""

from __future__ import annotations

import argparse
import io
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

import ldap
import ldif
from ldap.controls.simple import ProxyAuthzControl

sys.path.insert(0, str(Path(__file__).resolve().parent))
import _common as c  # noqa: E402

from idm.config import Settings, new_settings
from idm.directory import lookup
from idm.ops import bootstrap, embedded, render
from idm.rules.terms import WRITER
from idm.tree import org

SUFFIX = "dc=edu,dc=cn"
PROVINCE = f"ou=150000,{SUFFIX}"
CITY = f"ou=150100,{PROVINCE}"
COUNTY = f"ou=150102,{CITY}"


def tree_ldif(units: int) -> str:
    """A province, 12 cities, up to 103 counties, then schools spread over the counties."""
    out = io.StringIO()
    writer = ldif.LDIFWriter(out, cols=10000)

    def node(dn: str, code: str, level: str) -> None:
        writer.unparse(dn, {"objectClass": [b"idmOrgUnit"], "ou": [code.encode()],
                            "idmCode": [code.encode()], "idmNameZh": [f"单位{code}".encode()],
                            "idmLevel": [level.encode()]})
        for container in org.CONTAINERS:
            writer.unparse(f"ou={container},{dn}", {"objectClass": [b"organizationalUnit"],
                                                     "ou": [container.encode()]})

    node(PROVINCE, "150000", "province")
    made = 1
    counties: list[tuple[str, str]] = []
    for city in range(1, 13):
        city_code = f"15{city:02d}00"
        city_dn = f"ou={city_code},{PROVINCE}"
        node(city_dn, city_code, "city")
        made += 1
        for county in range(1, 10):
            if made >= units or len(counties) >= 103:
                break
            county_code = f"15{city:02d}{county:02d}"
            node(f"ou={county_code},{city_dn}", county_code, "county")
            counties.append((county_code, f"ou={county_code},{city_dn}"))
            made += 1
    school = 0
    while made < units:
        code, dn = counties[school % len(counties)]
        node(f"ou=21{code[:4]}{school:04d},{dn}", f"21{code[:4]}{school:04d}", "school")
        school += 1
        made += 1
    return out.getvalue()


def build(folder: Path, units: int, users: int, acls: bool) -> Settings:
    settings = new_settings(folder, port=c.free_port())
    embedded.init(settings)
    path = folder / "tree.ldif"
    path.write_text(tree_ldif(units), encoding="utf-8")
    subprocess.run([embedded.SLAPADD, "-q", "-F", str(settings.config_dir), "-b", SUFFIX, "-l", str(path)],
                   check=True, capture_output=True)
    embedded.start(settings)
    with c.ops(settings) as session:
        bootstrap.service_accounts(session, settings.secrets_dir)  # the writer, as in a real site
        for uid, role in (("b.sys", "sysadmin"), ("b.sec", "secadmin")):
            dn = f"uid={uid},ou=admins,{COUNTY}"
            session.add(dn, {"objectClass": ["idmAdminAccount"], "uid": [uid], "cn": [uid], "sn": [uid],
                             "idmStatus": ["active"], "idmAdminRole": [role]})
            session.set_password(dn, c.PASSWORD)
            session.conn.modify_s(dn, [(ldap.MOD_DELETE, "pwdReset", None)])
        for i in range(users):
            session.add(f"uid=u{i:05d},ou=people,{COUNTY}", {
                "objectClass": ["idmBusinessAccount"], "uid": [f"u{i:05d}"], "cn": [f"用户{i}"],
                "sn": ["用"], "idmStatus": ["active"]})
        if not acls:
            db = next(dn for dn, a in session.search("cn=config", f"(olcSuffix={SUFFIX})", ["1.1"]))
            session.replace(db, {"olcAccess": [
                f'{{0}}to * by dn.exact="{render.ops_dn()}" manage by * break',
                "{1}to attrs=userPassword by anonymous auth by * none",
                "{2}to * by users write by * none"]})
    return settings


def measure(settings: Settings, users: int, seconds: float) -> dict[str, float]:
    """Binds and searches as the admin itself (a raw `ldapsearch` with its own password);
    searches as the toolkit makes them too, and modifies (the rules require it): through the
    writer acting as the admin."""
    actor = f"uid=b.sys,ou=admins,{COUNTY}"
    binder = ldap.initialize(settings.ldap_uri)
    conn = ldap.initialize(settings.ldap_uri)
    conn.simple_bind_s(actor, c.PASSWORD)
    writer = ldap.initialize(settings.ldap_uri)
    writer.simple_bind_s(settings.service_dn(WRITER),
                         lookup.read_secret(settings.secrets_dir / f"{WRITER}.secret"))
    as_actor = [ProxyAuthzControl(True, f"dn:{actor}".encode())]

    def bind(i: int) -> None:
        binder.simple_bind_s(actor, c.PASSWORD)

    def search(i: int) -> None:
        found = conn.search_s(COUNTY, ldap.SCOPE_SUBTREE, f"(uid=u{i % users:05d})", ["cn", "idmStatus"])
        assert len(found) == 1

    def search_via_writer(i: int) -> None:  # the toolkit's path (web UI, CLI): proxied authorization
        found = writer.search_ext_s(COUNTY, ldap.SCOPE_SUBTREE, f"(uid=u{i % users:05d})",
                                    ["cn", "idmStatus"], serverctrls=as_actor)
        assert len(found) == 1

    def modify(i: int) -> None:
        writer.modify_ext_s(f"uid=u{i % users:05d},ou=people,{COUNTY}",
                            [(ldap.MOD_REPLACE, "displayName", [f"改{i}".encode()])], serverctrls=as_actor)

    return {"bind/s": c.rate(bind, seconds), "search/s": c.rate(search, seconds),
            "search via writer/s": c.rate(search_via_writer, seconds), "modify/s": c.rate(modify, seconds)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--small", type=int, default=100)
    parser.add_argument("--large", type=int, default=10000)
    parser.add_argument("--users", type=int, default=500)
    parser.add_argument("--seconds", type=float, default=3.0)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    runs = {"small": (args.small, True), "large": (args.large, True), "large, no ACLs": (args.large, False)}
    samples: dict[str, dict[str, list[float]]] = {name: {} for name in runs}
    servers: dict[str, Settings] = {}
    with tempfile.TemporaryDirectory(prefix="idm-acl-bench-") as tmp:
        try:
            for name, (units, acls) in runs.items():
                servers[name] = build(Path(tmp) / name.replace(" ", "").replace(",", ""), units,
                                      args.users, acls)
            # rounds interleave the three servers, so drift of the machine hits all alike
            for _ in range(args.rounds):
                for name, settings in servers.items():
                    for metric, value in measure(settings, args.users, args.seconds).items():
                        samples[name].setdefault(metric, []).append(value)
        finally:
            for settings in servers.values():
                embedded.stop(settings)
    results = {name: {m: statistics.median(v) for m, v in metrics.items()}
               for name, metrics in samples.items()}
    print(f"as a county system admin; {args.users} users in its county; median of {args.rounds} "
          f"interleaved rounds of {args.seconds:.0f}s per measurement")
    header = f"{'':20}{f'{args.small} OUs':>12}{f'{args.large} OUs':>12}{'no ACLs':>12}"
    print(header + f"{'large/small':>13}{'ACLs/none':>11}")
    for metric in ("bind/s", "search/s", "search via writer/s", "modify/s"):
        s, big, none = (results[k][metric] for k in ("small", "large", "large, no ACLs"))
        print(f"{metric:20}{s:12.1f}{big:12.1f}{none:12.1f}{big / s:13.2f}{big / none:11.2f}")


if __name__ == "__main__":
    main()
