"""The embedded server: rendering, slapd's own check, start/stop, modules, hashing, the log."""

from __future__ import annotations

import subprocess

import ldap

from idm.config import Settings
from idm.ops import embedded, render
from tests.conftest import ops, power_loss, run_cli, start_server


def test_rendered_config_loads_every_module_and_overlay(slapd: Settings) -> None:
    text = render.render_config(slapd)
    for module in ("back_mdb", "argon2", "ppolicy", "accesslog", "syncprov", "unique", "constraint"):
        assert f"olcModuleLoad: {module}\n" in text
    assert "olcPasswordHash: {ARGON2}" in text
    assert f"olcRootDN: {render.ops_dn()}" in text
    assert text.count(f"olcRootDN: {render.ops_dn()}") == 2  # config and main database: no other root


def test_slapd_accepts_the_configuration(slapd: Settings) -> None:
    embedded.check_config(slapd)  # raises ServerError with slapd's words otherwise


def test_config_database_is_reachable_over_ldapi_as_root(slapd: Settings) -> None:
    with ops(slapd) as session:
        overlays = [
            attrs["olcOverlay"][0].split("}", 1)[1]
            for _, attrs in session.search("cn=config", "(objectClass=olcOverlayConfig)",
                                           ["olcOverlay"])
        ]
        dbs = {attrs["olcSuffix"][0] for _, attrs in
               session.search("cn=config", "(olcSuffix=*)", ["olcSuffix"])}
    assert {"syncprov", "ppolicy", "unique", "constraint", "accesslog"} <= set(overlays)
    assert dbs == {slapd.suffix, "cn=accesslog"}


def test_init_and_start_are_idempotent(slapd: Settings) -> None:
    assert embedded.init(slapd) is False
    assert embedded.start(slapd) is False
    assert embedded.status(slapd).answering


def test_stop_and_start_again_keeps_data(tmp_path) -> None:  # type: ignore[no-untyped-def]
    settings = start_server(tmp_path / "idm")
    with ops(settings) as session:
        session.add(f"ou=keep,{settings.suffix}", {"objectClass": ["organizationalUnit"], "ou": ["keep"]})
    assert embedded.stop(settings) is True
    assert embedded.status(settings).running is False
    assert embedded.stop(settings) is False
    assert embedded.start(settings) is True
    with ops(settings) as session:
        assert session.exists(f"ou=keep,{settings.suffix}")
    embedded.stop(settings)


def test_a_clean_stop_leaves_no_pid_file_and_a_crash_is_told_at_the_next_start(tmp_path) -> None:  # type: ignore[no-untyped-def]
    """slapd removes its pid file when it stops cleanly; after kill -9 the file stays and the
    stored contextCSN lags behind the data (syncprov writes it at a clean stop): the next start
    sees the crash (a server that replicates from nobody needs no cookie) and starts."""
    from idm.ops import crash

    settings = start_server(tmp_path / "idm")
    embedded.stop(settings)
    assert not settings.pid_file.exists() and not crash.crashed(settings)  # a clean stop
    embedded.start(settings)
    with ops(settings) as session:
        for i in range(5):
            session.add(f"ou=after{i},{settings.suffix}",
                        {"objectClass": ["organizationalUnit"], "ou": [f"after{i}"]})
        newest = session.conn.search_s(f"ou=after4,{settings.suffix}", ldap.SCOPE_BASE, "(objectClass=*)",
                                       ["entryCSN"])[0][1]["entryCSN"][0].decode()
    power_loss(settings)
    assert crash.crashed(settings)
    stored, held = crash._states(settings, settings.suffix, tmp_path / "before.ldif")
    assert stored.get(1, "") < newest == held[1]  # what a consumer would start from, and the truth
    assert crash.cookies(settings) == []
    assert embedded.start(settings) is True and not crash.crashed(settings)
    embedded.stop(settings)


def test_cli_monitor_shows_slapds_counters_to_the_operator_only(slapd: Settings) -> None:
    result = run_cli(slapd, "server", "monitor")
    assert result.exit_code == 0, result.output
    lines = dict(line.rsplit(None, 1) for line in result.output.splitlines())
    assert int(lines["connections current"]) >= 1 and int(lines["operations search initiated"]) >= 1
    anonymous = ldap.initialize(slapd.ldap_uri)
    try:
        seen = anonymous.search_s("cn=Monitor", ldap.SCOPE_SUBTREE, "(objectClass=*)")
    except ldap.NO_SUCH_OBJECT:
        seen = []
    assert seen == []  # nobody but the local operator


def test_a_cli_read_by_a_closed_pipe_ends_quietly(slapd: Settings) -> None:
    """`idm server monitor | head -1`: the reader goes away; no 'internal error', exit 0."""
    import sys
    from pathlib import Path

    idm = Path(sys.executable).parent / "idm"
    done = subprocess.run(f"'{idm}' --data-dir '{slapd.data_dir}' server monitor | head -1; "
                          "exit ${PIPESTATUS[0]}", shell=True, executable="/bin/bash",
                          capture_output=True, text=True, check=False)
    assert done.returncode == 0 and done.stderr == "" and done.stdout.startswith("connections"), done


def test_cli_status_reports_running(slapd: Settings) -> None:
    result = run_cli(slapd, "server", "status")
    assert result.exit_code == 0, result.output
    assert "answering:   True" in result.output


def test_cli_on_uninitialised_folder_says_so(tmp_path) -> None:  # type: ignore[no-untyped-def]
    from click.testing import CliRunner

    from idm_cli.main import cli

    result = CliRunner().invoke(cli, ["--data-dir", str(tmp_path), "server", "start"])
    assert result.exit_code == 1
    assert "idm server init" in result.output
    assert "Traceback" not in result.output


def test_passwords_are_hashed_by_slapd_with_argon2(slapd: Settings) -> None:
    dn = f"cn=hash-probe,ou=system,{slapd.suffix}"
    with ops(slapd) as session:
        session.add(dn, {"objectClass": ["idmServiceAccount"], "cn": ["hash-probe"]})
        session.set_password(dn, "Probe-password-123")
        raw = session.conn.search_s(dn, ldap.SCOPE_BASE, attrlist=["userPassword"])[0][1]
    assert raw["userPassword"][0].startswith(b"{ARGON2}$argon2")
    assert b"Probe-password-123" not in raw["userPassword"][0]


def test_accesslog_records_writes_with_the_real_actor_and_refusals(slapd: Settings) -> None:
    dn = f"ou=log-probe,{slapd.suffix}"
    with ops(slapd) as session:
        session.add(dn, {"objectClass": ["organizationalUnit"], "ou": ["log-probe"]})
        bad = subprocess.run(
            ["ldapmodify", "-Q", "-Y", "EXTERNAL", "-H", slapd.ldapi_uri],
            input=f"dn: ou=bad-level,{slapd.suffix}\nchangetype: add\nobjectClass: idmOrgUnit\n"
                  "ou: bad-level\nidmCode: 159999\nidmNameZh: x\nidmLevel: galaxy\n",
            capture_output=True, text=True, check=False,
        )
        assert bad.returncode == 19, bad.stderr  # constraint violation
        records = list(session.search("cn=accesslog", "(objectClass=auditWriteObject)",
                                      ["reqDN", "reqAuthzID", "reqResult"]))
    by_dn = {attrs["reqDN"][0]: attrs for _, attrs in records}
    assert by_dn[dn]["reqAuthzID"] == [render.ops_dn()]
    assert by_dn[dn]["reqResult"] == ["0"]
    assert by_dn[f"ou=bad-level,{slapd.suffix}"]["reqResult"] == ["19"]
