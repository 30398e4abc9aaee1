"""The read tier (R20, issue 21): a replica with role `downstream` serves downstream binds and
searches only, under static per-service rules generated from the services in the directory.
A real pair, provider `a` and downstream replica `d`, started by the test (delta-syncrepl over
TLS, certificate authentication). The same security checks run against both nodes: what holds
on the provider holds on the replica."""

from __future__ import annotations

import gc
import itertools
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import ldap
import ldap3
import pytest

from idm.directory import connection
from idm.errors import AuthenticationFailed
from tests import cluster_kit
from tests.cluster_kit import Kit
from tests.conftest import run_cli
from tests.world import PASSWORD as ADMIN_PASSWORD
from tests.world import id_number, make_admin

pytestmark = [
    pytest.mark.filterwarnings("ignore::pytest.PytestUnraisableExceptionWarning"),
    pytest.mark.filterwarnings("ignore::ResourceWarning"),
]

HOHHOT = "ou=150100,ou=150000,dc=edu,dc=cn"
COUNTY = "ou=150102,ou=150100,ou=150000,dc=edu,dc=cn"
BAOTOU = "ou=150200,ou=150000,dc=edu,dc=cn"
SECRET = "Service-Secret-0001"
PASSWORD = "User-Passw0rd-0001"
SERVICE = f"cn=teacher-mis,ou=services,{HOHHOT}"
SCOPED = "cn=baotou-reader,ou=system,dc=edu,dc=cn"
NUMBERS = itertools.count(900)


def person(session, dn: str, **extra: list[str]) -> None:  # type: ignore[no-untyped-def]
    uid = dn.split(",")[0].split("=")[1]
    session.add(
        dn,
        {
            "objectClass": ["idmBusinessAccount"],
            "uid": [uid],
            "cn": ["测试"],
            "sn": ["测"],
            "idmStatus": ["active"],
            "idmIdNumber": [id_number(next(NUMBERS))],
            "mobile": ["13900000000"],
            "idmGrant": ["teacher#viewer"],
            **extra,
        },
    )
    session.set_password(dn, PASSWORD)
    if "pwdReset" not in extra:
        session.conn.modify_s(dn, [(ldap.MOD_DELETE, "pwdReset", None)])


@pytest.fixture(autouse=True)
def collect_ldap3_sockets() -> Iterator[None]:
    """ldap3's leftover sockets are collected here, not reported against the next module."""
    yield
    gc.collect()


@pytest.fixture(scope="module")
def kit(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Kit]:
    k = cluster_kit.build(tmp_path_factory.mktemp("tier"), roles={"a": "provider", "d": "downstream"})
    with k.ops("a") as session:
        for dn in (SERVICE, SCOPED):
            attrs = {
                "objectClass": ["idmServiceAccount"],
                "cn": [dn.split(",")[0][3:]],
                "idmStatus": ["active"],
            }
            if dn == SCOPED:
                attrs["idmScope"] = [BAOTOU]
            if not session.get(f"ou=services,{HOHHOT}", ["1.1"]):
                session.add(
                    f"ou=services,{HOHHOT}", {"objectClass": ["organizationalUnit"], "ou": ["services"]}
                )
            session.add(dn, attrs)
            session.set_password(dn, SECRET)
            session.conn.modify_s(dn, [(ldap.MOD_DELETE, "pwdReset", None)])
        person(session, f"uid=in.city,ou=people,{HOHHOT}")
        person(session, f"uid=in.county,ou=people,{COUNTY}")
        person(session, f"uid=in.baotou,ou=people,{BAOTOU}")
        person(
            session,
            f"uid=gone,ou=people,{HOHHOT}",
            idmStatus=["disabled"],
            pwdAccountLockedTime=["000001010000Z"],
        )
        person(session, f"uid=fresh,ou=people,{HOHHOT}", pwdReset=["TRUE"])
    k.wait_converged()
    rules = run_cli(k.nodes["d"], "cluster", "rules", str(k.folder / "cluster.json"), "--node", "d")
    assert rules.exit_code == 0 and "2" in rules.output, rules.output
    yield k
    k.close()


def uri(kit: Kit, node: str) -> str:
    return f"ldaps://127.0.0.1:{kit.nodes[node].tls_port}"


def found(
    kit: Kit,
    node: str,
    who: str,
    filterstr: str = "(objectClass=*)",
    base: str = "dc=edu,dc=cn",
    attrs: list[str] | None = None,
) -> dict[str, dict[str, list[bytes]]]:
    conn = connection.bind_as(uri(kit, node), who, SECRET)
    try:
        return {dn.lower(): a for dn, a in conn.search_s(base, ldap.SCOPE_SUBTREE, filterstr, attrs or ["*"])}
    except ldap.NO_SUCH_OBJECT:  # a base out of scope: the read tier does not disclose it
        return {}
    finally:
        conn.unbind_s()


@pytest.mark.parametrize("node", ["a", "d"])
def test_a_service_sees_the_usable_users_in_its_scope_and_nothing_else(kit: Kit, node: str) -> None:
    city = found(kit, node, SERVICE)
    assert sorted(dn.split(",")[0] for dn in city if dn.startswith("uid=")) == [
        "uid=in.city",
        "uid=in.county",
    ]
    assert not any(
        dn.startswith(("ou=1", "cn=", "ou=people")) and dn != SERVICE.lower() and ",ou=apps," not in dn
        for dn in city
    ), sorted(city)  # no unit, no form, no other service
    for attrs in city.values():
        assert not {"idmIdNumber", "mobile", "userPassword", "idmRecordPrivate"} & set(attrs)
    scoped = found(kit, node, SCOPED)
    assert sorted(dn.split(",")[0] for dn in scoped if dn.startswith("uid=")) == ["uid=in.baotou"]
    # a unit, or its ou=people, is a usable search base
    assert list(found(kit, node, SERVICE, "(uid=in.county)", base=f"ou=people,{COUNTY}")) == [
        f"uid=in.county,ou=people,{COUNTY}".lower()
    ]
    assert found(kit, node, SERVICE, "(uid=in.baotou)", base=BAOTOU) == {}


@pytest.mark.parametrize("node", ["a", "d"])
def test_the_round_trip_through_ldap3(kit: Kit, node: str) -> None:
    """An independent client: service bind, search by uid, user bind, as integration.md says."""
    tls = ldap3.Tls(ca_certs_file=str(kit.nodes["a"].tls_ca_file), validate=2)
    server = ldap3.Server("127.0.0.1", port=kit.nodes[node].tls_port, use_ssl=True, tls=tls)
    with ldap3.Connection(server, user=SERVICE, password=SECRET, auto_bind=True) as svc:
        svc.search(
            "dc=edu,dc=cn", "(&(objectClass=idmBusinessAccount)(uid=in.city))", attributes=["idmGrant"]
        )
        assert [e.idmGrant.value for e in svc.entries] == ["teacher#viewer"]
        svc.search("dc=edu,dc=cn", "(uid=fresh)", attributes=["1.1"])
        assert svc.entries == []  # must change its password first: not found
    user = ldap3.Connection(server, user=f"uid=in.city,ou=people,{HOHHOT}", password=PASSWORD)
    assert user.bind()
    user.unbind()
    wrong = ldap3.Connection(server, user=f"uid=in.city,ou=people,{HOHHOT}", password="wrong")
    assert not wrong.bind()
    wrong.unbind()
    if wrong.socket is not None:  # ldap3 leaves the socket of a refused bind open
        wrong.socket.close()


def test_the_replica_refuses_every_write_and_the_toolkits_own_reads(kit: Kit) -> None:
    dn = f"uid=in.city,ou=people,{HOHHOT}"
    conn = connection.bind_as(uri(kit, "d"), SERVICE, SECRET)
    with pytest.raises(ldap.LDAPError):
        conn.modify_s(dn, [(ldap.MOD_REPLACE, "cn", [b"x"])])
    conn.unbind_s()
    with kit.ops("a") as session:
        admin = make_admin(session, "ou=150000,dc=edu,dc=cn", "tier.sys", "sysadmin")
    kit.wait_converged()
    own = connection.bind_as(uri(kit, "d"), admin, ADMIN_PASSWORD)  # binds work...
    everything = own.search_s("dc=edu,dc=cn", ldap.SCOPE_SUBTREE, "(objectClass=*)", ["1.1"])
    assert everything == []  # ... reads do not
    own.unbind_s()
    kit.wait_converged()
    with kit.ops("a") as session:
        assert session.get(dn, ["cn"])[1]["cn"] == ["测试"]


def test_a_disable_is_seen_on_the_replica_within_the_lag(kit: Kit) -> None:
    dn = f"uid=leaving,ou=people,{HOHHOT}"
    with kit.ops("a") as session:
        person(session, dn)
    kit.wait_converged()
    assert dn.lower() in found(kit, "d", SERVICE, "(uid=leaving)")
    with kit.ops("a") as session:
        session.replace(dn, {"idmStatus": ["disabled"], "pwdAccountLockedTime": ["000001010000Z"]})
    lag = kit.wait_converged()
    assert found(kit, "d", SERVICE, "(uid=leaving)") == {}
    with pytest.raises(AuthenticationFailed):
        connection.bind_as(uri(kit, "d"), dn, PASSWORD)
    assert lag < 10


def test_a_new_service_is_refused_until_the_rules_are_refreshed(kit: Kit) -> None:
    new = f"cn=student-mis,ou=services,{HOHHOT}"
    with kit.ops("a") as session:
        session.add(
            new, {"objectClass": ["idmServiceAccount"], "cn": ["student-mis"], "idmStatus": ["active"]}
        )
        session.set_password(new, SECRET)
        session.conn.modify_s(new, [(ldap.MOD_DELETE, "pwdReset", None)])
    kit.wait_converged()
    assert found(kit, "d", new, "(uid=in.city)") == {}
    status = status_of(kit, "d")
    assert status.returncode == 1 and "stale" in status.stdout and "student-mis" in status.stdout, (
        status.stdout
    )
    rules = run_cli(kit.nodes["d"], "cluster", "rules")  # this node, from its cluster.json
    assert rules.exit_code == 0 and "updated" in rules.output
    assert list(found(kit, "d", new, "(uid=in.city)")) == [f"uid=in.city,ou=people,{HOHHOT}".lower()]
    again = run_cli(kit.nodes["d"], "cluster", "rules", str(kit.folder / "cluster.json"), "--node", "d")
    assert "unchanged" in again.output


def status_of(kit: Kit, node: str) -> subprocess.CompletedProcess[str]:
    """`idm cluster status` in its own process (python-ldap holds the GIL through SASL binds)."""
    return subprocess.run(
        [
            str(Path(sys.executable).with_name("idm")),
            "--data-dir",
            str(kit.nodes[node].data_dir),
            "cluster",
            "status",
        ],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def test_status_shows_the_replicas_traffic_and_lag(kit: Kit) -> None:
    found(kit, "d", SERVICE, "(uid=in.city)")
    conn = ldap.initialize(uri(kit, "d"))
    with pytest.raises(ldap.LDAPError):
        conn.add_s(f"cn=x,{HOHHOT}", [("objectClass", [b"applicationProcess"]), ("cn", [b"x"])])
    time.sleep(0.2)
    result = status_of(kit, "a")
    lines = {line.split("\t")[0]: line for line in result.stdout.splitlines()}
    assert "downstream\tlag 0.0s" in lines["d"], result.stdout
    counts = dict(
        zip(
            lines["d"].split("\t")[-1].split()[::2],
            map(int, lines["d"].split("\t")[-1].split()[1::2]),
            strict=True,
        )
    )
    assert counts["binds"] > 0 and counts["searches"] > 0 and counts["writes"] >= 1, counts


def test_client_settings_list_the_replicas_first(kit: Kit, tmp_path: Path) -> None:
    result = run_cli(
        kit.nodes["a"],
        "cluster",
        "client-settings",
        str(kit.folder / "cluster.json"),
        "--out-dir",
        str(tmp_path / "client"),
    )
    assert result.exit_code == 0, result.output
    line = next(x for x in result.output.splitlines() if x.startswith("下游系统"))
    assert line.split(": ", 1)[1].split() == [kit.cluster.node("d").uri, kit.cluster.node("a").uri]


def test_the_timer_and_the_container_loop_run_the_rules_command() -> None:
    import configparser

    from click.testing import CliRunner

    from idm_cli.main import cli

    root = Path(__file__).resolve().parent.parent
    service = configparser.ConfigParser(strict=False)
    service.read(root / "scripts" / "systemd" / "idm-cluster-rules.service")
    timer = configparser.ConfigParser()
    timer.read(root / "scripts" / "systemd" / "idm-cluster-rules.timer")
    assert timer["Timer"]["OnCalendar"] and timer["Install"]["WantedBy"] == "timers.target"
    words = service["Service"]["ExecStart"].split()
    assert words[0].endswith("/idm") and words[1:] == ["cluster", "rules"]
    assert CliRunner().invoke(cli, [*words[1:], "--help"]).exit_code == 0
    assert "idm cluster rules" in (root / "docker" / "slapd" / "entrypoint.sh").read_text()
