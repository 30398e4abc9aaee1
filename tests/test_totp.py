"""Second factor: enrolment, one use per code (also under concurrency), removal by the system
admin without reading it, and the otp overlay requiring password+code on LDAP binds."""

from __future__ import annotations

import base64
import subprocess
import threading
import time

import ldap
import pyotp
import pytest

from idm.auth import totp
from idm.directory import lookup
from tests import world as w
from tests.conftest import ops


def service(world: w.World):  # type: ignore[no-untyped-def]
    s = world.settings
    return lookup.service_session(s.ldap_uri, s.suffix, s.secrets_dir)


def code_at(secret_b32: str, steps_ahead: int = 0) -> str:
    return pyotp.TOTP(secret_b32).at((int(time.time()) // 30 + steps_ahead) * 30)


def enrolled_user(world: w.World) -> tuple[str, str]:
    dn = world.target("person", "own")
    enrolment = totp.begin("t")
    with service(world) as s:
        with pytest.raises(Exception, match="code is wrong"):
            totp.confirm(s, dn, enrolment, "000000" if code_at(enrolment.secret) != "000000" else "111111")
        totp.confirm(s, dn, enrolment, code_at(enrolment.secret))
        assert totp.enrolled(s, dn)
    return dn, enrolment.secret


def test_a_code_is_accepted_once(world: w.World) -> None:
    dn, secret = enrolled_user(world)
    with service(world) as s:
        assert totp.verify(s, dn, code_at(secret)) == totp.WRONG  # used to confirm the enrolment
        fresh = code_at(secret, 1)
        assert totp.verify(s, dn, fresh) == totp.OK
        assert totp.verify(s, dn, fresh) == totp.WRONG  # replay
        assert totp.verify(s, dn, code_at(secret, -1)) == totp.WRONG  # older than the last accepted
        assert totp.verify(s, dn, "12345") == totp.WRONG


def test_two_concurrent_submissions_of_one_code_exactly_one_wins(world: w.World) -> None:
    dn, secret = enrolled_user(world)
    code = code_at(secret, 1)
    results: list[bool] = []
    barrier = threading.Barrier(4)

    def submit() -> None:
        with service(world) as s:
            barrier.wait()
            results.append(totp.verify(s, dn, code) == totp.OK)

    threads = [threading.Thread(target=submit) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(results) == [False, False, False, True]


def test_secrets_are_unreadable_to_admins_and_removable_by_the_system_admin(world: w.World) -> None:
    dn, _ = enrolled_user(world)
    for role in ("sysadmin", "secadmin", "auditor"):
        found = world.raw(role).search_s(dn, ldap.SCOPE_BASE, attrlist=["oathSecret"])
        assert "oathSecret" not in found[0][1], role
    for role in ("sysadmin", "secadmin", "auditor"):  # not with their own binds: only on a form
        with pytest.raises(ldap.INSUFFICIENT_ACCESS):
            world.raw(role).modify_s(dn, [(ldap.MOD_DELETE, "oathSecret", None)])
    session, _ = world.session("sysadmin")  # through the writer: removable, never readable
    with session:
        assert "oathSecret" not in session.search_raw(dn, "(objectClass=*)", ldap.SCOPE_BASE)[0][1]
        totp.remove(session, dn)
    with service(world) as s:
        assert not totp.enrolled(s, dn)


def test_the_otp_overlay_requires_password_and_code_on_ldap_binds(world: w.World) -> None:
    dn, secret = enrolled_user(world)
    with ops(world.settings) as session:
        session.set_password(dn, "Otp-Passw0rd-1")
        session.replace(dn, {"pwdReset": []})
        totp.require_on_ldap_bind(session, dn)

    def whoami(password: str) -> int:
        return subprocess.run(["ldapwhoami", "-x", "-H", world.settings.ldap_uri, "-D", dn, "-w", password],
                              capture_output=True, text=True, check=False).returncode

    assert whoami("Otp-Passw0rd-1") == 49
    code = code_at(secret, 1)
    assert whoami("Otp-Passw0rd-1" + code) == 0
    assert whoami("Otp-Passw0rd-1" + code) == 49  # the overlay refuses a replayed code too
    assert base64.b32decode(secret)


def test_wrong_codes_are_counted_in_the_directory_and_lock_the_factor(world: w.World) -> None:
    """Every worker and host sees the count: it lives on the account. After as many wrong codes
    as the policy allows wrong passwords, even the right code is refused until the lock ends."""
    dn, secret = enrolled_user(world)
    limit = totp.Limit(failures=3, seconds=60)
    with service(world) as s:
        wrong = "000000" if code_at(secret, 1) != "000000" else "111111"
        assert [totp.verify(s, dn, wrong, limit) for _ in range(3)] == [totp.WRONG, totp.WRONG, totp.LOCKED]
        assert totp.verify(s, dn, code_at(secret, 1), limit) == totp.LOCKED
    with ops(world.settings) as session:
        entry = session.get(dn, ["oathFailureCount", "oathLastFailure"])
    assert entry is not None and entry[1]["oathFailureCount"] == ["3"] and entry[1]["oathLastFailure"]
    with service(world) as s:  # the lock period over: a right code counts again and clears the count
        assert totp.verify(s, dn, code_at(secret, 1), totp.Limit(failures=3, seconds=0)) == totp.OK
    with ops(world.settings) as session:
        entry = session.get(dn, ["oathFailureCount"])
    assert entry is not None and "oathFailureCount" not in entry[1]


def test_concurrent_wrong_codes_all_count(world: w.World) -> None:
    dn, _ = enrolled_user(world)
    barrier = threading.Barrier(4)

    def submit() -> None:
        with service(world) as s:
            barrier.wait()
            totp.verify(s, dn, "000000", totp.Limit(failures=10, seconds=60))

    threads = [threading.Thread(target=submit) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    with ops(world.settings) as session:
        entry = session.get(dn, ["oathFailureCount"])
    assert entry is not None and entry[1]["oathFailureCount"] == ["4"]


def test_a_lost_factor_is_reset_by_the_system_admin_with_a_change_form(world: w.World) -> None:
    dn, _ = enrolled_user(world)
    form = world.form_about("change", dn, change_type="factor")
    world.act("sysadmin", "reset-factor", form, dn.split(",")[0][4:])
    with service(world) as s:
        assert not totp.enrolled(s, dn)


def _enrol_in_a_terminal(world, uid: str, answers, *extra: str):  # type: ignore[no-untyped-def]
    """`idm mfa enrol` in a real process, as an admin at a terminal: read the secret it
    prints, answer its prompt with what `answers(secret)` gives. (exit code, output)"""
    import os
    import subprocess
    import sys

    env = {**os.environ, "IDM_PASSWORD": w.PASSWORD}
    proc = subprocess.Popen([sys.executable, "-m", "idm_cli.main", "--data-dir", str(world.settings.data_dir),
                             "mfa", "enrol", "--as", uid, *extra], stdin=subprocess.PIPE,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=env)
    assert proc.stdin is not None and proc.stdout is not None
    out = []
    for line in proc.stdout:
        out.append(line)
        if line.startswith("otpauth URI:"):
            break
    secret = next((line.split(":", 1)[1].replace(" ", "").strip() for line in out
                   if line.startswith("密钥 / secret:")), "")
    rest, _ = proc.communicate("".join(f"{a}\n" for a in answers(secret)) if secret else "", timeout=60)
    return proc.returncode, "".join(out) + rest, secret


def test_an_admin_enrols_the_factor_from_a_terminal(world, tmp_path) -> None:  # type: ignore[no-untyped-def]
    """`idm login` sends an admin without a factor to enrol one; `idm mfa enrol` does it in the
    terminal (URI, QR code, a code to confirm), and then the CLI signs in with the new factor."""
    from tests.conftest import run_cli, totp_code

    with ops(world.settings) as session:
        dn = w.make_admin(session, world.nodes["own"], "term.sys", "sysadmin")
    password = tmp_path / "pw"
    password.write_text(w.PASSWORD, encoding="utf-8")
    before = run_cli(world.settings, "login", "--as", "term.sys", "--password-file", str(password))
    assert before.exit_code == 1 and "idm mfa enrol --as term.sys" in before.output

    code, output, _ = _enrol_in_a_terminal(world, "term.sys", lambda s: ["000000", "123456", "654321"])
    assert code == 1 and "验证码不正确" in output
    with ops(world.settings) as session:
        assert not session.get(dn, ["oathSecret"])[1].get("oathSecret")  # nothing stored

    code, output, secret = _enrol_in_a_terminal(world, "term.sys", lambda s: [totp_code(s)])
    assert code == 0, output
    assert "动态验证码已启用" in output and "otpauth://totp/" in output and "█" in output  # the QR code
    login = run_cli(world.settings, "login", "--as", "term.sys", "--password-file", str(password),
                    "--code", totp_code(secret, 1))
    assert login.exit_code == 0, login.output

    # replacing it needs the current app's code, as on the web page
    code, output, _ = _enrol_in_a_terminal(world, "term.sys", lambda s: [totp_code(s)])
    assert code == 1 and "--code" in output
