"""TLS for the directory: StartTLS and ldaps with a certificate from the issuing CA, plain simple
binds refused by configuration, the toolkit's own clients switching to ldaps."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

from idm import config
from idm.directory import connection
from idm.ops import embedded
from tests.conftest import DEMO, run_cli, start_server


@pytest.fixture(scope="module")
def tls_server(tmp_path_factory: pytest.TempPathFactory):  # type: ignore[no-untyped-def]
    settings = start_server(tmp_path_factory.mktemp("tls") / "idm")
    run_cli(settings, "org", "import", str(DEMO / "inner-mongolia.csv"))
    boot = run_cli(settings, "bootstrap", str(DEMO / "province-admins.csv"))
    assert boot.exit_code == 0, boot.output
    assert run_cli(settings, "ca", "init").exit_code == 0
    from tests.conftest import free_port

    result = run_cli(settings, "server", "tls", "--host-name", "ldap.demo.edu.cn",
                     "--tls-port", str(free_port()))
    assert result.exit_code == 0, result.output
    updated = config.load_settings(settings.data_dir)
    yield updated
    embedded.stop(updated)


def tool(settings, *args: str, env_ca: bool = True) -> int:  # type: ignore[no-untyped-def]
    env = {**os.environ, "LDAPTLS_CACERT": str(settings.tls_ca_file)} if env_ca else dict(os.environ)
    secret = Path(settings.secrets_dir / "idm-webui.secret")
    bind = ["-x", "-D", settings.service_dn("idm-webui"), "-y", str(secret)]
    return subprocess.run(["ldapwhoami", *args, *bind], capture_output=True, text=True, env=env,
                          check=False).returncode


def test_starttls_and_ldaps_work_plain_binds_are_refused(tls_server) -> None:  # type: ignore[no-untyped-def]
    s = tls_server
    assert tool(s, "-ZZ", "-H", s.plain_uri) == 0
    assert tool(s, "-H", f"ldaps://127.0.0.1:{s.tls_port}") == 0
    assert tool(s, "-H", f"ldaps://localhost:{s.tls_port}") == 0  # the certificate names both
    assert tool(s, "-H", s.plain_uri) == 13  # confidentiality required
    assert tool(s, "-ZZ", "-H", s.plain_uri, env_ca=False) != 0  # an unknown CA is not trusted


def test_the_toolkit_connects_over_ldaps(tls_server) -> None:  # type: ignore[no-untyped-def]
    s = tls_server
    assert s.ldap_uri.startswith("ldaps://")
    secret = (s.secrets_dir / "idm-webui.secret").read_text()
    conn = connection.bind_as(s.ldap_uri, s.service_dn("idm-webui"), secret)
    assert connection.whoami(conn) == s.service_dn("idm-webui")
    conn.unbind_s()
