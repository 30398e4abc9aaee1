"""`idm server print-config` applied to a plain slapd, the way a site with its own OpenLDAP would."""

from __future__ import annotations

import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from idm.config import Settings, new_settings
from idm.ops import embedded, reference
from tests.conftest import DEMO, free_port


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Settings]:
    settings = new_settings(tmp_path_factory.mktemp("site"), port=free_port())
    reference.init(settings)
    embedded.start(settings)
    yield settings
    embedded.stop(settings)


def ldapmodify(settings: Settings, ldif_text: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["ldapmodify", "-Q", "-Y", "EXTERNAL", "-H", settings.ldapi_uri],
                          input=ldif_text, capture_output=True, text=True, check=False)


def test_print_config_applies_to_an_existing_slapd(site: Settings, tmp_path: Path) -> None:
    from click.testing import CliRunner

    from idm_cli.main import cli

    log_dir = site.data_dir / "db" / "accesslog"
    log_dir.mkdir()
    printed = CliRunner().invoke(cli, ["server", "print-config", "--log-db-dir", str(log_dir),
                                       "--skip-module", "argon2"])
    assert printed.exit_code == 0, printed.output
    applied = ldapmodify(site, printed.output)
    assert applied.returncode == 0, applied.stderr

    env_args = ["--ldapi", site.ldapi_uri, "--suffix", site.suffix]
    imported = CliRunner().invoke(cli, [*env_args, "org", "import", str(DEMO / "inner-mongolia.csv")])
    assert imported.exit_code == 0, imported.output
    assert "add 116" in imported.output
    tree = CliRunner().invoke(cli, [*env_args, "org", "tree", "152900"])
    assert "152923 额济纳旗 [区县级]" in tree.output

    # the site's slapd now enforces the idm constraints and logs writes
    bad = ldapmodify(site, f"dn: ou=150100,ou=150000,{site.suffix}\nchangetype: modify\n"
                           "replace: idmLevel\nidmLevel: galaxy\n")
    assert bad.returncode == 19, bad.stderr
    log = subprocess.run(["ldapsearch", "-Q", "-LLL", "-Y", "EXTERNAL", "-H", site.ldapi_uri,
                          "-b", "cn=accesslog", "(reqResult=19)", "reqDN"],
                         capture_output=True, text=True, check=True).stdout
    assert f"reqDN: ou=150100,ou=150000,{site.suffix}" in log
    # and deletes nothing, whoever asks (a transfer's rights would otherwise allow a delete)
    gone = subprocess.run(["ldapdelete", "-Q", "-Y", "EXTERNAL", "-H", site.ldapi_uri,
                           f"ou=150100,ou=150000,{site.suffix}"], capture_output=True, text=True, check=False)
    assert gone.returncode == 53, gone.stderr  # unwillingToPerform: olcRestrict
