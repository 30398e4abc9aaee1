"""Bootstrap: service accounts with 0600 secrets, the province's three admins, bad files."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import ldap
import pytest

from idm.config import Settings
from idm.directory import connection
from idm.errors import InvalidInput
from idm.ops import bootstrap
from tests.conftest import DEMO, ops, run_cli, snapshot


def test_service_secrets_are_0600_files_that_bind(bootstrapped: tuple[Settings, dict[str, str]]) -> None:
    settings, _ = bootstrapped
    for name in bootstrap.SERVICE_ACCOUNTS:
        secret = settings.secrets_dir / f"{name}.secret"
        assert stat.S_IMODE(os.stat(secret).st_mode) == 0o600
        conn = connection.bind_as(settings.ldap_uri, settings.service_dn(name), secret.read_text())
        assert connection.whoami(conn) == settings.service_dn(name)
        # a service account is not forced to change its secret: it can search right away
        assert conn.search_s(settings.suffix, ldap.SCOPE_BASE)
        conn.unbind_s()


def test_three_admins_created_once_with_must_change(bootstrapped: tuple[Settings, dict[str, str]]) -> None:
    settings, passwords = bootstrapped
    assert set(passwords) == {"nmg.sys", "nmg.sec", "nmg.audit"}
    with ops(settings) as session:
        for uid, role in (("nmg.sys", "sysadmin"), ("nmg.sec", "secadmin"), ("nmg.audit", "auditor")):
            dn = f"uid={uid},ou=admins,ou=150000,{settings.suffix}"
            entry = session.conn.search_s(dn, ldap.SCOPE_BASE, attrlist=["*", "pwdReset"])[0][1]
            assert entry["idmAdminRole"] == [role.encode()]
            assert entry["pwdReset"] == [b"TRUE"]
            assert entry["userPassword"][0].startswith(b"{ARGON2}")
            conn = connection.bind_as(settings.ldap_uri, dn, passwords[uid])
            conn.unbind_s()
    with ops(settings) as session:
        entry = session.get(f"uid=nmg.audit,ou=admins,ou=150000,{settings.suffix}", ["cn"])
    assert entry is not None and entry[1]["cn"] == ["阿拉坦·其其格"]


def test_second_run_creates_nothing_and_shows_no_password(
    bootstrapped: tuple[Settings, dict[str, str]]
) -> None:
    settings, _ = bootstrapped
    before = snapshot(settings)
    result = run_cli(settings, "bootstrap", str(DEMO / "province-admins.csv"))
    assert result.exit_code == 0
    assert "one-time password" not in result.output
    assert result.output.count("exists:") == 3
    assert snapshot(settings) == before


@pytest.mark.parametrize(("row", "reason"), [
    ("x.sys,sysadmin,王敏,150102198803150018,13904710001,a@b.cn,0471-2850001,150000",
     "check digit is wrong"),
    ("x.sys,sysadmin,王敏,150102198802300019,13904710001,a@b.cn,0471-2850001,150000",
     "birth date 19880230 does not exist"),
    ("x.sys,root,王敏,150102198803150019,13904710001,a@b.cn,0471-2850001,150000",
     "admin role 'root' is invalid"),
    ("x.sys,sysadmin,王敏,150102198803150019,1390471,a@b.cn,0471-2850001,150000", "mobile number"),
    ("x.sys,sysadmin,阿拉坦•其其格,150102198803150019,13904710001,a@b.cn,0471-2850001,150000",
     "must be U+00B7"),
    ("X Sys,sysadmin,王敏,150102198803150019,13904710001,a@b.cn,0471-2850001,150000", "login"),
    ("x.sys,sysadmin,王敏,150102198803150019,13904710001,a@b.cn,2850001,150000", "area code"),
])
def test_bad_admin_file_is_refused_and_changes_nothing(
    demo_tree: Settings, tmp_path: Path, row: str, reason: str
) -> None:
    path = tmp_path / "admins.csv"
    path.write_text(",".join(bootstrap.ADMIN_COLUMNS) + "\n" + row + "\n", encoding="utf-8")
    before = snapshot(demo_tree)
    with pytest.raises(InvalidInput) as err:
        bootstrap.read_admins(path)
    assert reason in str(err.value)
    assert f"{path}:2" in str(err.value)
    result = run_cli(demo_tree, "bootstrap", str(path))
    assert result.exit_code == 1 and "Traceback" not in result.output
    assert snapshot(demo_tree) == before
