"""A downstream system binds and searches: ldap-utils' ldapsearch and python-ldap, no idm code."""

from __future__ import annotations

import subprocess

import ldap
import pytest

from idm.config import Settings


def test_ldapsearch_binds_with_the_service_secret_and_searches(
    bootstrapped: tuple[Settings, dict[str, str]],
) -> None:
    settings, _ = bootstrapped
    secret = settings.secrets_dir / "idm-webui.secret"
    out = subprocess.run(
        ["ldapsearch", "-LLL", "-x", "-H", settings.ldap_uri, "-D", settings.service_dn("idm-webui"),
         "-y", str(secret), "-b", f"ou=150000,{settings.suffix}", "-s", "one",
         "(objectClass=idmOrgUnit)", "idmCode"],
        capture_output=True, text=True, check=True,
    ).stdout
    codes = {line.split(": ")[1] for line in out.splitlines() if line.startswith("idmCode:")}
    assert "150100" in codes and "152900" in codes and "4115010126" in codes


def test_python_ldap_user_bind_and_search(bootstrapped: tuple[Settings, dict[str, str]]) -> None:
    settings, passwords = bootstrapped
    conn = ldap.initialize(settings.ldap_uri)
    conn.simple_bind_s(f"uid=nmg.audit,ou=admins,ou=150000,{settings.suffix}", passwords["nmg.audit"])
    assert conn.whoami_s().endswith("uid=nmg.audit,ou=admins,ou=150000,dc=edu,dc=cn")
    conn.unbind_s()


def test_anonymous_sees_only_the_root_dse(slapd: Settings) -> None:
    conn = ldap.initialize(slapd.ldap_uri)
    root = conn.search_s("", ldap.SCOPE_BASE, attrlist=["namingContexts"])
    assert root[0][1]["namingContexts"]
    with pytest.raises(ldap.NO_SUCH_OBJECT):  # not even the suffix's existence is disclosed
        conn.search_s(slapd.suffix, ldap.SCOPE_SUBTREE, "(objectClass=*)")


def test_wrong_password_is_refused(bootstrapped: tuple[Settings, dict[str, str]]) -> None:
    settings, _ = bootstrapped
    proc = subprocess.run(
        ["ldapwhoami", "-x", "-H", settings.ldap_uri, "-D", settings.service_dn("idm-webui"),
         "-w", "not-the-secret"], capture_output=True, text=True, check=False,
    )
    assert proc.returncode == 49
