"""R18: the password policy on every path. The toolkit checks what slapd cannot check on a hash;
the access rules make the self-service path the only way to change one's own password; slapd's
ppolicy still applies history and minimum age to those changes."""

from __future__ import annotations

import subprocess

import ldap
import pytest

from idm.auth import policy, selfservice
from idm.errors import AuthenticationFailed, ConstraintViolation, InvalidInput
from tests import world as w
from tests.conftest import ops

MLPS3, NIST = policy.PROFILES["mlps3"], policy.PROFILES["nist"]


@pytest.mark.parametrize(("password", "reason"), [
    ("Ab1!", "shorter than 8"),
    ("abcdefgh", "fewer than 3 kinds"),
    ("Password1", "common password"),
    ("Qwerty123!", "common password"),
    ("Woaini1314!", "common password"),
    ("Xx-wangmin-9", "name or its pinyin"),
    ("Grass-Land-2026!", None),
    ("nmg.Sys-2026!", "contains your login"),
    ("Aa-19880315-!", "digits of your ID number"),
])
def test_mlps3_checks(password: str, reason: str | None) -> None:
    kwargs = dict(uid="nmg.sys", name="王敏", id_number="150102198803150019")
    if reason is None:
        policy.check(password, MLPS3, **kwargs)
        return
    with pytest.raises(InvalidInput) as err:
        policy.check(password, MLPS3, **kwargs)
    assert reason in str(err.value)


def test_nist_prefers_length_over_composition() -> None:
    policy.check("correct horse battery staple", NIST)
    with pytest.raises(InvalidInput, match="shorter than 12"):
        policy.check("Tr0ub4dor&3", NIST)
    with pytest.raises(InvalidInput, match="common password"):
        policy.check("password12345", NIST)


def test_the_blocklist_has_at_least_3000_entries() -> None:
    assert len(policy.common_passwords()) >= 3000


def test_profiles_render_into_the_default_policy(world: w.World) -> None:
    with ops(world.settings) as session:
        entry = session.get(f"cn=default,ou=policies,ou=system,{world.settings.suffix}",
                            ["pwdMinLength", "pwdMaxAge", "pwdInHistory", "pwdLockout", "pwdMinAge"])
    assert entry is not None
    assert entry[1]["pwdMinLength"] == ["8"] and entry[1]["pwdMaxAge"] == [str(90 * 86400)]
    assert entry[1]["pwdInHistory"] == ["5"] and entry[1]["pwdLockout"] == ["TRUE"]


def _user(world: w.World, password: str, policy_dn: str | None = None) -> str:
    """A user whose password an admin just set (pwdReset), as after creation or a reset."""
    dn = world.target("person", "own")
    with ops(world.settings) as session:
        session.set_password(dn, password)
        changes: dict[str, list[str]] = {"pwdReset": ["TRUE"]}
        if policy_dn:
            changes["pwdPolicySubentry"] = [policy_dn]
        session.replace(dn, changes)
    return dn


def change(world: w.World, dn: str, old: str, new: str) -> None:
    selfservice.change_password(world.settings.ldap_uri, world.settings.suffix, world.settings.secrets_dir,
                                dn, old, new, MLPS3)


def test_ldappasswd_by_the_user_is_refused_whatever_the_password(world: w.World) -> None:
    dn = _user(world, "Start-Passw0rd-1")
    for new in ("weak", "A-Strong-Passw0rd-2"):
        proc = subprocess.run(["ldappasswd", "-x", "-H", world.settings.ldap_uri, "-D", dn,
                               "-w", "Start-Passw0rd-1", "-a", "Start-Passw0rd-1", "-s", new, dn],
                              capture_output=True, text=True, check=False)
        assert proc.returncode != 0
        assert "unwilling" in proc.stdout.lower() or "insufficient" in proc.stdout.lower(), proc.stdout
    conn = ldap.initialize(world.settings.ldap_uri)
    conn.simple_bind_s(dn, "Start-Passw0rd-1")  # unchanged


def test_the_toolkit_path_checks_then_changes(world: w.World) -> None:
    dn = _user(world, "Start-Passw0rd-1")
    with pytest.raises(InvalidInput, match="common password"):
        change(world, dn, "Start-Passw0rd-1", "Password1")
    with pytest.raises(AuthenticationFailed):
        change(world, dn, "wrong-old-password", "Another-Passw0rd-3")
    change(world, dn, "Start-Passw0rd-1", "Another-Passw0rd-3")
    conn = ldap.initialize(world.settings.ldap_uri)
    conn.simple_bind_s(dn, "Another-Passw0rd-3")
    # mlps3 has a minimum age: an immediate second change is refused by slapd itself
    with pytest.raises(ConstraintViolation, match="too young"):
        change(world, dn, "Another-Passw0rd-3", "Yet-Another-Passw0rd-4")


def test_history_still_applies_to_the_owners_changes(world: w.World) -> None:
    policy_dn = f"cn=no-min-age,ou=policies,ou=system,{world.settings.suffix}"
    with ops(world.settings) as session:
        if not session.exists(policy_dn):
            attrs = policy.ppolicy_attrs(MLPS3)
            attrs["pwdMinAge"] = ["0"]
            session.add(policy_dn, {"objectClass": ["applicationProcess", "pwdPolicy"],
                                    "cn": ["no-min-age"], **attrs})
    dn = _user(world, "Hist-Passw0rd-0", policy_dn)
    change(world, dn, "Hist-Passw0rd-0", "Hist-Passw0rd-1")
    change(world, dn, "Hist-Passw0rd-1", "Hist-Passw0rd-2")
    with pytest.raises(ConstraintViolation, match="history"):
        change(world, dn, "Hist-Passw0rd-2", "Hist-Passw0rd-1")
