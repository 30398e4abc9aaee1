"""Which downstream app is locking users out: failed user binds per service account and per
client address, from slapd's stats log (`idm server monitor --failures`), with two real
clients: one that binds the user on its service's connection (as Apache's mod_authnz_ldap
does) and one that opens a connection per user (as nslcd does)."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import ldap
import pytest

from idm.config import Settings, new_settings
from idm.ops import bind_failures, embedded
from tests.conftest import DEMO, free_port, load_tree, ops, run_cli

SECRET = "Service-Secret-0001"
NODE = "ou=150100,ou=150000,dc=edu,dc=cn"


@pytest.fixture(scope="module")
def stats_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Settings]:
    settings = new_settings(tmp_path_factory.mktemp("stats") / "idm", port=free_port(), log_level="stats")
    embedded.init(settings)
    embedded.start(settings)
    load_tree(settings, DEMO / "inner-mongolia.csv")
    with ops(settings) as session:
        for name in ("teacher-mis", "student-mis"):
            dn = f"cn={name},ou=services,{NODE}"
            session.add(dn, {"objectClass": ["idmServiceAccount"], "cn": [name], "idmStatus": ["active"]})
            session.set_password(dn, SECRET)
            session.conn.modify_s(dn, [(ldap.MOD_DELETE, "pwdReset", None)])
        for uid in ("victim", "other"):
            session.add(f"uid={uid},ou=people,{NODE}", {
                "objectClass": ["idmBusinessAccount"], "uid": [uid], "cn": ["测试"], "sn": ["测"],
                "idmStatus": ["active"]})
            session.set_password(f"uid={uid},ou=people,{NODE}", "Right-Passw0rd-1")
    yield settings
    embedded.stop(settings)


def wrong_binds_through(settings: Settings, service: str | None, uid: str, times: int) -> None:
    conn = ldap.initialize(settings.ldap_uri)
    for _ in range(times):
        if service:
            conn.simple_bind_s(f"cn={service},ou=services,{NODE}", SECRET)
        else:
            conn = ldap.initialize(settings.ldap_uri)
        with pytest.raises(ldap.INVALID_CREDENTIALS):
            conn.simple_bind_s(f"uid={uid},ou=people,{NODE}", "wrong")


def test_failures_are_counted_per_service_and_address(stats_server: Settings) -> None:
    wrong_binds_through(stats_server, "teacher-mis", "victim", 3)
    wrong_binds_through(stats_server, "student-mis", "other", 1)
    wrong_binds_through(stats_server, None, "other", 2)
    ok = ldap.initialize(stats_server.ldap_uri)
    ok.simple_bind_s(f"uid=victim,ou=people,{NODE}", "Right-Passw0rd-1")  # not a failure
    time.sleep(0.5)  # slapd writes its log after answering
    found = bind_failures.from_log(stats_server)
    assert found.by_service == {f"cn=teacher-mis,ou=services,{NODE}": 3,
                                f"cn=student-mis,ou=services,{NODE}": 1, bind_failures.NO_SERVICE: 2}
    assert found.by_address == {"127.0.0.1": 6}
    assert found.by_account[f"uid=victim,ou=people,{NODE}"] == 3
    shown = run_cli(stats_server, "server", "monitor", "--failures")
    assert shown.exit_code == 0, shown.output
    assert f"       3 cn=teacher-mis,ou=services,{NODE}" in shown.output
    assert "failed binds: 6" in shown.output
    assert bind_failures.from_log(stats_server, hours=0).total == 0  # nothing in the last 0 hours


def test_without_the_stats_log_it_says_how(slapd: Settings) -> None:
    result = run_cli(slapd, "server", "monitor", "--failures")
    assert result.exit_code == 1 and '"log_level": "stats"' in result.output


def test_a_bad_log_level_is_refused_with_its_name(tmp_path: Path) -> None:
    from idm.errors import ServerError

    with pytest.raises(ServerError, match="log_level"):
        embedded.debug_levels("stats -h ldap://evil")
