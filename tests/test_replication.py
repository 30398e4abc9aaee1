"""Fault runs on loopback (R20), after OpenLDAP's own test050/test063: two providers `a` and `b`
and a consumer `c`, delta-syncrepl over TLS with certificate authentication, links that can be
cut. After every run the three directories, compared with slapcat, are identical; the logs hold
the same successful writes; every provider's seal chain verifies (`Kit.check`)."""

from __future__ import annotations

import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import ldap
import pytest

from idm.directory import connection
from idm.errors import AccountLocked, AuthenticationFailed, InvalidInput
from idm.ops import cluster, cluster_config, crash
from idm.oversight import seal, seal_key
from tests import cluster_kit
from tests.cluster_kit import Kit
from tests.conftest import run_cli

LOAD = "ou=load,dc=edu,dc=cn"
RUN_LIMIT = 120  # seconds: a fault run that takes longer has failed


@pytest.fixture(scope="module")
def kit(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Kit]:
    k = cluster_kit.build(tmp_path_factory.mktemp("cluster"))
    with k.ops("a") as session:
        session.add(LOAD, {"objectClass": ["organizationalUnit"], "ou": ["load"]})
    yield k
    k.close()


@pytest.fixture(autouse=True)
def bounded(request: pytest.FixtureRequest) -> Iterator[None]:
    """Each run ends within RUN_LIMIT seconds, or fails."""
    start = time.monotonic()
    yield
    took = time.monotonic() - start
    assert took < RUN_LIMIT, f"{request.node.name} took {took:.0f}s"


def add(kit: Kit, node: str, names: list[str]) -> list[str]:
    """Add entries one by one on `node`; the DNs the server acknowledged."""
    done = []
    with kit.ops(node) as session:
        for name in names:
            dn = f"cn={name},{LOAD}"
            try:
                session.add(dn, {"objectClass": ["applicationProcess"], "cn": [name]})
            except Exception:  # the server went away in the middle: stop, as a client would
                return done
            done.append(dn)
    return done


def value(kit: Kit, node: str, dn: str, attr: str) -> list[str]:
    with kit.ops(node) as session:
        entry = session.get(dn, [attr])
    return sorted(entry[1].get(attr, [])) if entry else []


def count(kit: Kit, node: str, prefix: str) -> int:
    return cluster_kit.ldapsearch_count(kit.nodes[node], LOAD, f"(cn={prefix}*)")


def tls_uri(kit: Kit, node: str) -> str:
    """A node's own ldaps listener (clients need TLS for simple binds)."""
    return f"ldaps://127.0.0.1:{kit.nodes[node].tls_port}"


def test_new_nodes_join_from_a_backup_and_replay_nothing(kit: Kit) -> None:
    for name in ("b", "c"):
        with kit.ops(name) as session:
            found = session.conn.search_s("cn=accesslog", ldap.SCOPE_ONELEVEL, "(reqStart=*)", ["entryCSN"])
        replayed = [a["entryCSN"][0].decode() for _, a in found if a["entryCSN"][0].decode() <= kit.since]
        assert replayed == [], f"{name} replayed changes it had from the backup"
    entries, _ = kit.check()
    assert entries > 800  # the demo tree and the province's admins are on every node


def test_write_on_a_read_on_b_and_the_consumer(kit: Kit) -> None:
    (dn,) = add(kit, "a", ["first"])
    took = kit.wait_converged()
    assert value(kit, "b", dn, "cn") == value(kit, "c", dn, "cn") == ["first"]
    assert took < 10
    kit.check()


def test_stop_a_write_on_b_restart_a_converges(kit: Kit) -> None:
    kit.stop("a")
    written = add(kit, "b", [f"while-a-down-{i}" for i in range(50)])
    assert len(written) == 50
    assert count(kit, "c", "while-a-down-") == 0  # c follows a: it waits for a
    kit.start("a")
    kit.wait_converged()
    assert count(kit, "a", "while-a-down-") == count(kit, "c", "while-a-down-") == 50
    kit.check()


def test_a_consumer_follows_the_other_provider_when_its_own_is_lost(kit: Kit) -> None:
    def follow(source: str) -> None:
        c = kit.nodes["c"]
        result = run_cli(c, "cluster", "apply", str(c.data_dir / "cluster.json"), "--node", "c",
                         "--source", source, "--listen-port", str(c.tls_port))
        assert result.exit_code == 0, result.output
        assert f"replicates from {source}" in result.output

    kit.relays["a"].down()
    kit.stop("a")
    try:
        follow("b")
        add(kit, "b", [f"a-lost-{i}" for i in range(20)])
        kit.wait_converged(names=["b", "c"])
        assert count(kit, "c", "a-lost-") == 20
    finally:
        kit.relays["a"].up()
        kit.start("a")
    kit.wait_converged()
    follow("a")
    kit.check()


def test_consumer_down_during_1000_writes_then_catches_up(kit: Kit) -> None:
    kit.stop("c")
    assert len(add(kit, "a", [f"bulk-{i}" for i in range(1000)])) == 1000
    kit.wait_converged(names=["a", "b"])
    kit.start("c")
    took = kit.wait_converged(timeout=90)
    assert count(kit, "c", "bulk-") == 1000
    print(f"consumer caught up with 1,000 writes in {took:.1f}s")
    kit.check()


def test_conflicting_modifies_while_the_link_is_down(kit: Kit) -> None:
    dn = f"cn=contested,{LOAD}"
    with kit.ops("a") as session:
        session.add(dn, {"objectClass": ["inetOrgPerson"], "cn": ["contested"], "sn": ["x"]})
    kit.wait_converged()
    for relay in kit.relays.values():  # no node reaches any other; clients still reach each
        relay.down()
    with kit.ops("a") as session:
        session.replace(dn, {"displayName": ["from a"], "l": ["a-city"]})
        session.modify(dn, [(ldap.MOD_ADD, "description", ["noted on a"])])
    time.sleep(0.05)  # b's change is the later one
    with kit.ops("b") as session:
        session.replace(dn, {"displayName": ["from b"]})
        session.modify(dn, [(ldap.MOD_ADD, "description", ["noted on b"])])
    assert value(kit, "a", dn, "displayName") == ["from a"]
    assert value(kit, "b", dn, "displayName") == ["from b"]
    for relay in kit.relays.values():
        relay.up()
    kit.wait_converged()
    for node in kit.names:
        assert value(kit, node, dn, "displayName") == ["from b"], node  # the later change wins
        assert value(kit, node, dn, "l") == ["a-city"], node  # what only a changed stays
        assert value(kit, node, dn, "description") == ["noted on a", "noted on b"], node  # both adds
    kit.check()


def test_a_lockout_on_the_consumer_holds_on_every_node(kit: Kit) -> None:
    s = kit.nodes["a"]
    dn = s.service_dn("x").replace("cn=x,ou=system", "uid=nmg.audit,ou=admins,ou=150000")
    good = kit.passwords["nmg.audit"]
    conn, state = connection.bind_with_policy(tls_uri(kit, "b"), dn, good)
    conn.unbind_s()
    assert state.must_change
    kit.wait_converged()
    stamps = [value(kit, node, dn, "authTimestamp") for node in kit.names]
    assert stamps[0] and stamps == [stamps[0]] * 3  # the last bind, recorded by b, everywhere
    for _ in range(5):
        with pytest.raises(AuthenticationFailed):
            connection.bind_as(tls_uri(kit, "c"), dn, "wrong-password")
    kit.wait_converged()
    for node in kit.names:
        assert value(kit, node, dn, "pwdAccountLockedTime"), node
    for node in kit.names:  # the right password no longer opens it, on any node
        with pytest.raises(AccountLocked):
            connection.bind_as(tls_uri(kit, node), dn, good)
    with kit.ops("b") as session:  # an unlock on another provider holds everywhere too
        session.replace(dn, {"pwdAccountLockedTime": []})
    kit.wait_converged()
    conn = connection.bind_as(tls_uri(kit, "c"), dn, good)
    conn.unbind_s()
    kit.check()


def test_a_client_write_sent_to_the_consumer_is_refused(kit: Kit) -> None:
    """The chain overlay forwards slapd's own policy writes only: nobody else becomes the
    replication identity by writing to a consumer."""
    dn = f"uid=nmg.sec,ou=admins,ou=150000,{kit.nodes['a'].suffix}"
    before = value(kit, "a", dn, "pwdAccountLockedTime")
    anonymous = ldap.initialize(tls_uri(kit, "c"))
    with pytest.raises(ldap.LDAPError):
        anonymous.modify_s(dn, [(ldap.MOD_REPLACE, "pwdAccountLockedTime", [b"000001010000Z"])])
    kit.wait_converged()
    assert value(kit, "a", dn, "pwdAccountLockedTime") == before == []
    kit.check()


def test_the_web_ui_moves_to_the_second_provider(kit: Kit, tmp_path: Path) -> None:
    from tests.test_webui_http import csrf
    from webui import create_app
    from webui.security import limiter
    from webui.settings import WebSettings

    a = kit.nodes["a"]
    web_dir = tmp_path / "web"
    made = run_cli(a, "cluster", "client-settings", str(a.data_dir / "cluster.json"),
                   "--out-dir", str(web_dir))
    assert made.exit_code == 0, made.output
    for name in ("idm-webui", "idm-selfservice"):
        (web_dir / "secrets" / f"{name}.secret").write_bytes((a.secrets_dir / f"{name}.secret").read_bytes())
    from idm.config import load_settings

    client = load_settings(web_dir)
    assert client.ldap_uri == " ".join(n.uri for n in kit.cluster.providers)
    app = create_app(WebSettings(idm=client, secret_key="cluster-test-secret-key-0123456789",
                                 secure_cookies=False, sessions_db=web_dir / "sessions.sqlite"))
    app.config["TESTING"] = True

    def sign_in() -> str:
        with app.test_request_context():
            limiter.reset()
        with app.test_client() as c:
            answer = c.post("/login", data={"uid": "nmg.sys", "password": kit.passwords["nmg.sys"],
                                            "csrf_token": csrf(c)})
            return answer.headers.get("Location", answer.get_data(as_text=True)[:200])

    assert sign_in() == "/password"  # signed in; the one-time password must change
    kit.relays["a"].down()  # provider a's host is gone: the relay refuses, slapd stops
    kit.stop("a")
    try:
        assert sign_in() == "/password"  # the same, through b
        # and a downstream system with ldap3, as docs/integration.md shows
        import ssl

        import ldap3

        tls = ldap3.Tls(ca_certs_file=str(a.tls_ca_file), validate=ssl.CERT_REQUIRED)
        servers = [ldap3.Server("127.0.0.1", port=node.port, use_ssl=True, tls=tls, connect_timeout=3)
                   for node in kit.cluster.providers]
        pool = ldap3.ServerPool(servers, ldap3.FIRST, active=True, exhaust=True)
        secret = (a.secrets_dir / "idm-webui.secret").read_text()
        conn = ldap3.Connection(pool, user=a.service_dn("idm-webui"), password=secret, auto_bind=True)
        try:  # (no `with`: ldap3 leaves a connection open that was bound before the block)
            assert conn.extend.standard.who_am_i() == f"dn:{a.service_dn('idm-webui')}"
            assert conn.server.port == kit.cluster.node("b").port
        finally:
            conn.unbind()
    finally:
        kit.relays["a"].up()
        kit.start("a")
    kit.check()


def test_cluster_status_reports_every_node(kit: Kit) -> None:
    # in its own process: python-ldap holds the GIL through a SASL bind, which would starve
    # this process's relay threads that carry that very bind
    def status() -> subprocess.CompletedProcess[str]:
        return subprocess.run([str(Path(sys.executable).with_name("idm")), "--data-dir",
                               str(kit.nodes["a"].data_dir), "cluster", "status"],
                              capture_output=True, text=True, timeout=60, check=False)

    kit.wait_converged()
    result = status()
    assert result.returncode == 0, result.stdout + result.stderr
    assert [line.split("\t")[:3] for line in result.stdout.splitlines()] == [
        ["a", "provider", "lag 0.0s"], ["b", "provider", "lag 0.0s"], ["c", "consumer", "lag 0.0s"]]
    kit.relays["c"].down()
    try:
        result = status()
    finally:
        kit.relays["c"].up()
    assert result.returncode == 2 and "unreachable" in result.stdout, result.stdout


# Under load (this module alone beside three busy loops) this run stalled in 1 of 3 runs until
# slapd was started after a crash with its consumers' cookies taken from the data
# (`idm.server.crash`); since, 11 of 11 converged. The restarted provider had replayed its own
# changes from its peer, one failed as already there, and its state never moved again. A stall
# prints each node's state and the records after the provider's own (`Kit.explain`) into the
# run's output before it fails.
def test_kill_9_of_a_provider_during_a_bulk_write(kit: Kit, capsys: pytest.CaptureFixture[str]) -> None:
    acknowledged: list[str] = []
    writer = threading.Thread(target=lambda: acknowledged.extend(
        add(kit, "a", [f"killed-{i}" for i in range(3000)])))
    writer.start()
    while count(kit, "a", "killed-") < 300:
        time.sleep(0.05)
    kit.kill9("a")
    writer.join(timeout=30)
    assert 300 <= len(acknowledged) < 3000
    # the stored state lags behind the data after a crash: a's consumer is started from the data
    held = crash._states(kit.nodes["a"], kit.nodes["a"].suffix, kit.folder / "a-held.ldif")[1]
    (cookie,) = crash.cookies(kit.nodes["a"])  # a consumes from b only
    assert cookie.startswith("rid=002,csn=") and held[1] in cookie
    kit.start("a")  # mdb recovers by itself: no repair step
    # A write committed to the directory but not yet to the log when the process died is not
    # replicated by delta-syncrepl: `idm cluster recover` finds and re-issues it.
    recovered = run_cli(kit.nodes["a"], "cluster", "recover")
    assert recovered.exit_code == 0, recovered.output
    print(recovered.output.strip().splitlines()[-1])
    # After a crash a provider's contextCSN restarts from its last checkpoint, for its own
    # changes and for its peers': a peer whose state is newer is then refused ("consumer state
    # is newer than provider") until newer changes of every server arrive. A seal on every
    # provider, which an operator makes after a crash anyway, brings each server's forward.
    for name in ("a", "b"):
        with kit.ops(name) as session:
            node = kit.nodes[name]
            seal.seal(session, seal_key.load(node.data_dir, create=True), node.server_id, settle=seal.AT_ONCE)
    try:
        kit.check(timeout=45)  # converges in seconds when it does; a stall must end within RUN_LIMIT
    except AssertionError as stalled:  # the run's output carries what the next look at it needs
        with capsys.disabled():
            print(f"\nkill -9 fault run stalled: {str(stalled)[:300]}\n{kit.explain()}")
        raise
    counts = {count(kit, n, "killed-") for n in kit.names}
    assert len(counts) == 1 and counts.pop() in (len(acknowledged), len(acknowledged) + 1)


def test_a_wrong_cluster_description_is_refused_with_every_problem() -> None:
    with pytest.raises(InvalidInput) as caught:
        cluster.parse({"nodes": [
            {"name": "a", "role": "provider", "server_id": 1, "uri": "ldaps://a:636"},
            {"name": "a", "role": "leader", "server_id": 1, "uri": "http://b"},
            {"name": "C", "role": "consumer", "server_id": 5000, "uri": "ldaps://c:636/dc=x"}]})
    text = str(caught.value)
    assert text.startswith("集群描述有误")
    for words in ("duplicate name: a", "duplicate server_id: 1",
                  "role must be provider, consumer or downstream",
                  "uri must be ldaps://host:port: 'http://b'", "invalid name 'C'",
                  "server_id must be 1-4095"):
        assert words in text, words
    with pytest.raises(InvalidInput, match="at least one provider"):
        cluster.parse({"nodes": [{"name": "c", "role": "consumer", "server_id": 3, "uri": "ldaps://c:636"}]})


def test_the_generated_configuration_of_each_role() -> None:
    from idm.config import Settings

    c = cluster.parse({"nodes": [
        {"name": "p1", "role": "provider", "server_id": 1, "uri": "ldaps://p1.example:636"},
        {"name": "p2", "role": "provider", "server_id": 2, "uri": "ldap://p2.example:389"},
        {"name": "s1", "role": "consumer", "server_id": 11, "uri": "ldaps://s1.example:636"}]})
    settings = Settings(data_dir=Path("/var/lib/idm"))
    p1 = cluster_config.to_ldif(cluster_config.changes(c, c.node("p1"), settings))
    assert "olcMultiProvider: TRUE" in p1 and "olcServerID: 1" in p1
    assert "rid=002 provider=ldap://p2.example:389 starttls=critical bindmethod=sasl saslmech=external" in p1
    assert "syncdata=accesslog" in p1 and 'logfilter="(&(objectClass=auditWriteObject)(reqResult=0))"' in p1
    assert "rid=001" not in p1 and "chain" not in p1
    s1 = cluster_config.to_ldif(cluster_config.changes(c, c.node("s1"), settings))
    assert "olcMultiProvider: FALSE" in s1 and "rid=001" in s1 and "rid=002" not in s1  # one source
    c2 = cluster.follow(c, "s1", "p2")
    moved = cluster_config.to_ldif(cluster_config.changes(c2, c2.node("s1"), settings))
    assert "rid=002" in moved and "rid=001" not in moved
    with pytest.raises(InvalidInput, match="only a consumer follows a provider"):
        cluster.follow(c, "p1", "p2")
    assert "olcUpdateRef: ldaps://p1.example:636" in s1 and "olcPPolicyForwardUpdates: TRUE" in s1
    assert "olcDbIDAssertAuthzFrom: dn.exact:cn=slapd-internal,dc=edu,dc=cn" in s1
    assert "credentials" not in p1 + s1  # no replication password anywhere
    assert cluster_config.client_uris(c, c.node("s1")) == ("ldaps://p1.example:636", "ldap://p2.example:389")
    assert cluster_config.client_uris(c, c.node("p2"))[0] == "ldap://p2.example:389"


def test_the_read_tiers_rules_name_each_service_by_its_dn_and_scope() -> None:
    """Static clauses only (no set, no DN pattern of the asker), one per scope, deepest first;
    a downstream node without the services in its directory gets no rules at all."""
    from idm.config import Settings
    from idm.rules.read_tier import DownstreamService

    c = cluster.parse({"nodes": [
        {"name": "p1", "role": "provider", "server_id": 1, "uri": "ldaps://p1.example:636"},
        {"name": "r1", "role": "downstream", "server_id": 21, "uri": "ldaps://r1.example:636",
         "source": "p1"}]})
    settings = Settings(data_dir=Path("/var/lib/idm"))
    city, county = "ou=150100,ou=150000,dc=edu,dc=cn", "ou=150102,ou=150100,ou=150000,dc=edu,dc=cn"
    services = [DownstreamService(f"cn=a,ou=services,{city}", city),
                DownstreamService(f"cn=b,ou=services,{county}", county)]
    r1 = cluster_config.to_ldif(cluster_config.changes(c, c.node("r1"), settings, services=services))
    rules = [line for line in r1.splitlines() if line.startswith("olcAccess: to") and "ou=services" in line]
    assert [r.split('"')[1] for r in rules if "filter=" in r] == [county, city]  # deepest first
    assert all(" set=" not in r and "by dn.regex" not in r for r in rules)
    assert "olcUpdateRef: ldaps://p1.example:636" in r1 and "rid=001" in r1
    assert "olcMultiProvider: FALSE" in r1
    main = next(ch for ch in cluster_config.changes(c, c.node("p1"), settings)
                if ch.dn == cluster_config.MAIN_DB)
    assert main.replace["olcMultiProvider"] == []  # a lone provider names no mode (slapd: a shadow's)
    with pytest.raises(InvalidInput, match="services in its directory"):
        cluster_config.changes(c, c.node("r1"), settings)
