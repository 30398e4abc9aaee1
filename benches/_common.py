"""Shared pieces of the benchmarks: servers side by side, synthetic users, timing loops."""

from __future__ import annotations

import socket
import time
from collections.abc import Callable
from pathlib import Path

from idm.bulk import load
from idm.config import Settings, new_settings
from idm.directory import connection
from idm.directory.session import Session
from idm.ops import embedded, reference, render
from idm.tree import org

ROOT = Path(__file__).resolve().parents[1]
PASSWORD = "Bench-Passw0rd!"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def start_idm(folder: Path) -> Settings:
    settings = new_settings(folder / "idm", port=free_port())
    embedded.init(settings)
    embedded.start(settings)
    return settings


def start_vanilla(folder: Path) -> Settings:
    settings = new_settings(folder / "vanilla", port=free_port())
    reference.init(settings, with_idm_schema=True)
    embedded.start(settings)
    with ops(settings) as session:
        for dn, attrs in _top_entries(settings.suffix):
            session.add(dn, attrs)
    return settings


def _top_entries(suffix: str) -> list[tuple[str, dict[str, list[str]]]]:
    return [(f"ou=system,{suffix}", {"objectClass": ["organizationalUnit"], "ou": ["system"]})]


def ops(settings: Settings) -> Session:
    return Session(connection.ops_connection(settings.ldapi_uri), settings.suffix)


def load_tree(settings: Settings, vanilla: bool = False) -> list[str]:
    """The demo tree, loaded as `idm org import` does (on the vanilla slapd, which has no
    toolkit accounts, as the local operator: `idm --ldapi`); returns the county-level nodes."""
    tree = ROOT / "data" / "demo" / "inner-mongolia.csv"
    with ops(settings) as session:
        load.load_file(settings, tree, kind="tree", session=session if vanilla else None)
        return [n.dn for n in org.all_nodes(session) if n.level == "county"]


def load_users(settings: Settings, counties: list[str], count: int, ppolicy: bool) -> list[str]:
    """Business users spread over the counties, each with a password hashed by slapd."""
    dns = []
    with ops(settings) as session:
        for i in range(count):
            uid = f"bench{i:06d}"
            dn = f"uid={uid},ou=people,{counties[i % len(counties)]}"
            session.add(dn, {
                "objectClass": ["idmBusinessAccount"], "uid": [uid], "cn": [f"测试{i}"],
                "sn": ["测"], "idmStatus": ["active"], "idmGrant": ["teacher#viewer"],
            })
            session.set_password(dn, PASSWORD)
            if ppolicy:  # as if changed at first sign-in: downstream systems do not see a one-time one
                session.replace(dn, {"pwdReset": []})
            dns.append(dn)
        # a downstream system's account at the province (ou=services of the top node), as
        # `idm service create` makes it: what the idm rules let read its users and those below
        province = counties[0].split(",", 2)[2]
        service = f"cn=bench-reader,ou=services,{province}"
        attrs = {"objectClass": ["idmServiceAccount"], "cn": ["bench-reader"], "idmStatus": ["active"]}
        if ppolicy:  # the toolkit's service policy: no forced change for a service secret
            attrs["pwdPolicySubentry"] = [render.service_policy_dn(settings.suffix)]
        session.add(service, attrs)
        session.set_password(service, PASSWORD)
    return dns


def with_toolkit(settings: Settings) -> None:
    """The demo tree and the toolkit's own service accounts (the writer, the lookup, ...)."""
    load_tree(settings)
    with ops(settings) as session:
        load.bootstrap.service_accounts(session, settings.secrets_dir)


def id_number(seq: int) -> str:
    """A valid, distinct resident ID number per seq (GB 11643 check digit)."""
    from idm.validation import id_check_digit

    day, n = divmod(seq, 1000)
    first = f"150102198{day // 336 % 10}{day // 28 % 12 + 1:02d}{day % 28 + 1:02d}{n:03d}"
    return first + id_check_digit(first)


def rate(action: Callable[[int], None], seconds: float) -> float:
    """Operations per second of `action(i)`, called in a loop for about `seconds`."""
    done = 0
    start = time.perf_counter()
    while (elapsed := time.perf_counter() - start) < seconds:
        action(done)
        done += 1
    return done / elapsed


def stop(*servers: Settings) -> None:
    for settings in servers:
        embedded.stop(settings)
