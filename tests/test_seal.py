"""The signed audit seal (等保 8.1.4.3, 密评 8.4 b): seals carry SM3 digests and an SM2
signature by a key outside the directory; the signature verifies with OpenSSL 3 (given the
standard ID) and with gmalg; and every way of tampering — a record changed, inserted, deleted
or moved to another time, a seal altered, removed or rebuilt and signed with another key — is
reported with what and where.

These tests seal as server 99: a chain of their own over the shared test log, so what they do
to seals does not touch server 1's chain, which other tests verify."""

from __future__ import annotations

import base64
import gzip
import json
import subprocess
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import gmalg
import ldap
import pytest
from cryptography.hazmat.primitives.asymmetric.utils import decode_dss_signature

from idm.directory.session import Session
from idm.oversight import seal, seal_key
from idm.pki import sm2
from tests import world as w
from tests.conftest import ops, run_cli

SID = 99
DISTID = b"1234567812345678"


@contextmanager
def log_root(world: w.World) -> Iterator[ldap.ldapobject.LDAPObject]:
    """The write log's rootDN, for this test only: what an attacker holding it could do."""
    with ops(world.settings) as session:
        db = next(dn for dn, _ in session.search("cn=config", "(olcSuffix=cn=accesslog)", ["1.1"]))
        session.replace(db, {"olcRootPW": ["rootdn-for-this-test-only"]})
    try:
        conn = ldap.initialize(world.settings.ldap_uri)
        conn.simple_bind_s("cn=accesslog", "rootdn-for-this-test-only")
        yield conn
    finally:
        with ops(world.settings) as session:
            session.replace(db, {"olcRootPW": []})


def fresh_records(world: w.World, n: int) -> list[tuple[str, dict[str, list[bytes]]]]:
    """n new log records of this test's own (forms being recorded), oldest first."""
    for _ in range(n):
        world.form("registration", world.nodes["own"])
    with ops(world.settings) as session:
        found = session.search_raw("cn=accesslog", "(reqStart=*)", scope=ldap.SCOPE_ONELEVEL)
    return sorted(found, key=lambda r: r[1]["reqStart"][0])[-n:]


def free_time(world: w.World, upto: str) -> str:
    """A log time no record has, before `upto`: the next fraction after some record's time."""
    with ops(world.settings) as session:
        times = sorted(a["reqStart"][0].decode() for _, a in
                       session.search_raw("cn=accesslog", "(reqStart=*)", scope=ldap.SCOPE_ONELEVEL))
    for a, b in zip(times, times[1:], strict=False):
        if b > upto:
            break
        after = f"{a[:15]}{int(a[15:21]) + 1:06d}Z"
        if after < b and len(after) == len(a):
            return after
    raise AssertionError("no free time in the log")


def verify(world: w.World, key: seal_key.SealKey) -> list[tuple[str, str]]:
    with ops(world.settings) as session:
        return [(f.problem, f.record) for f in seal.verify(session, key.public_pem(), 183, SID)]


@pytest.fixture(scope="module")
def key(world: w.World) -> seal_key.SealKey:
    sealed = run_cli(world.settings, "audit", "seal")  # server 1, as the timer runs it
    assert sealed.exit_code == 0 and "SM2" in sealed.output, sealed.output
    made = seal_key.load(world.settings.data_dir)
    with ops(world.settings) as session:
        seal.seal(session, made, SID, settle=seal.AT_ONCE)
    return made


def test_the_key_lives_outside_the_directory_in_0600_files(key: seal_key.SealKey, world: w.World) -> None:
    assert key.key_file.stat().st_mode & 0o777 == 0o600
    assert key.passphrase_file.stat().st_mode & 0o777 == 0o600
    assert b"ENCRYPTED PRIVATE KEY" in key.key_file.read_bytes()
    with ops(world.settings) as session:
        everything = session.conn.search_s(world.settings.suffix, ldap.SCOPE_SUBTREE, "(objectClass=*)")
    text = repr(everything).encode()
    private = b"".join(key.key_file.read_bytes().splitlines()[1:-1])
    assert private[:40] not in text and key.passphrase_file.read_bytes() not in text
    key.key_file.chmod(0o644)
    try:
        with pytest.raises(Exception, match="0600"):
            seal_key.load(world.settings.data_dir)
    finally:
        key.key_file.chmod(0o600)


def test_a_seal_verifies_with_openssl_and_gmalg(key: seal_key.SealKey, world: w.World,
                                                tmp_path: Path) -> None:
    fresh_records(world, 2)
    with ops(world.settings) as session:
        made = seal.seal(session, key, SID, settle=seal.AT_ONCE)
    assert made.signed and made.count >= 2 and made.data["key"] == key.fingerprint()
    with ops(world.settings) as session:
        assert seal.export(session, [made], tmp_path) == 1
    exported = run_cli(world.settings, "audit", "verify", "--export", str(tmp_path / "cli"))
    assert "written" in exported.output and list((tmp_path / "cli").glob("*.sig")), exported.output
    assert (tmp_path / "cli" / "seal.pub.pem").read_bytes() == key.public_pem()
    name = f"seal-s{SID}-{made.data['seq']:06d}"
    signed, sig = tmp_path / f"{name}.json", tmp_path / f"{name}.sig"
    (tmp_path / "seal.pub.pem").write_bytes(key.public_pem())
    check = ["openssl", "dgst", "-sm3", "-verify", str(tmp_path / "seal.pub.pem"), "-signature", str(sig)]
    good = subprocess.run([*check[:3], "-sigopt", "distid:1234567812345678", *check[3:], str(signed)],
                          capture_output=True, text=True)
    assert good.returncode == 0 and "Verified OK" in good.stdout
    assert subprocess.run([*check, str(signed)], capture_output=True).returncode != 0  # the ID matters
    rows = subprocess.run(["openssl", "dgst", "-sm3", "-r", str(tmp_path / f"{name}.rows.gz")],
                          capture_output=True, text=True, check=True).stdout.split()[0]
    assert rows == json.loads(signed.read_text())["rows_sm3"]
    # gmalg, independently: the public point closes the SubjectPublicKeyInfo
    spki = base64.b64decode(b"".join(key.public_pem().splitlines()[1:-1]))
    r, s = decode_dss_signature(sig.read_bytes())
    assert gmalg.SM2(pk=spki[-65:], uid=DISTID).verify(signed.read_bytes(), r.to_bytes(32, "big"),
                                                       s.to_bytes(32, "big"))
    assert verify(world, key) == []


def test_records_changed_inserted_deleted_or_reordered_are_named(key: seal_key.SealKey,
                                                                 world: w.World) -> None:
    records = fresh_records(world, 5)
    with ops(world.settings) as session:
        seal.seal(session, key, SID, settle=seal.AT_ONCE)
    assert verify(world, key) == []
    (changed, _), (deleted, _), (c_dn, c), (d_dn, d), (_, template) = records
    start = {dn: dn.split(",")[0].split("=", 1)[1] for dn, _ in records}
    inserted = free_time(world, start[records[-1][0]])  # a time no record has, inside the window
    with log_root(world) as root:
        root.modify_s(changed, [(ldap.MOD_REPLACE, "reqResult", [b"50"])])
        root.delete_s(deleted)
        root.add_s(f"reqStart={inserted},cn=accesslog",
                   list({**template, "reqStart": [inserted.encode()]}.items()))
        # the two records swap their times: each time now holds the other's record
        root.delete_s(c_dn)
        root.delete_s(d_dn)
        for dn, attrs in ((c_dn, d), (d_dn, c)):
            root.add_s(dn, list({**attrs, "reqStart": [start[dn].encode()]}.items()))
    found = dict((record, problem) for problem, record in verify(world, key))
    assert found[start[changed]] == "altered"
    assert found[start[deleted]] == "removed"
    assert found[inserted] == "inserted"
    assert found[start[c_dn]] == "reordered" and found[start[d_dn]] == "reordered"


def _seals(world: w.World) -> list[seal.Seal]:
    with ops(world.settings) as session:
        return seal.list_seals(session, SID)


def test_seals_altered_rebuilt_with_another_key_or_removed_are_named(
    key: seal_key.SealKey, world: w.World, tmp_path: Path
) -> None:
    for _ in range(4):
        fresh_records(world, 1)
        with ops(world.settings) as session:
            seal.seal(session, key, SID, settle=seal.AT_ONCE)
    *_, a, b, c, last = _seals(world)
    # (a) an edit of a seal's data without its key: the signature no longer verifies
    edited = {**a.data, "count": a.count + 1}
    # (b) a seal rebuilt over the same data and signed with another key (the attacker's own)
    forger = seal_key.load(tmp_path, create=True)
    forged = {**b.data, "key": forger.fingerprint()}
    forged["signature"] = base64.b64encode(forger.sign(seal.signed_bytes(forged))).decode()
    with ops(world.settings) as session:
        session.replace(a.dn, {"idmRecordData": [json.dumps(edited, sort_keys=True)]})
        session.replace(b.dn, {"idmRecordData": [json.dumps(forged, sort_keys=True)]})
        # (c) a seal in the middle removed (by whoever can lift slapd's no-delete rule in
        # cn=config): the next one no longer follows its predecessor
        db = next(dn for dn, _ in session.search("cn=config", f"(olcSuffix={world.settings.suffix})",
                                                 ["1.1"]))
        session.replace(db, {"olcRestrict": []})
        try:
            session.conn.delete_s(c.dn)
        finally:
            session.replace(db, {"olcRestrict": ["delete"]})
    found = {(problem, record) for problem, record in verify(world, key)}
    assert ("signature invalid", a.dn) in found
    assert ("foreign key", b.dn) in found
    assert ("chain broken", last.dn) in found


def test_a_changed_record_list_is_named(key: seal_key.SealKey, world: w.World) -> None:
    fresh_records(world, 2)
    with ops(world.settings) as session:
        made = seal.seal(session, key, SID, settle=seal.AT_ONCE)
        rows = json.loads(gzip.decompress(session.get_binary(made.dn, "idmAttachment") or b""))
        session.modify_raw(made.dn, [(ldap.MOD_REPLACE, "idmAttachment",
                                      [gzip.compress(json.dumps(rows[:-1]).encode())])])
    found = {(problem, record) for problem, record in verify(world, key)}
    assert ("seal altered", made.dn) in found
    assert ("inserted", rows[-1][0]) in found  # the record left out of the list looks slipped in


def test_verify_with_the_wrong_public_key_names_every_seal(key: seal_key.SealKey, world: w.World,
                                                           tmp_path: Path) -> None:
    other = seal_key.load(tmp_path, create=True)
    with ops(world.settings) as session:
        findings = seal.verify(session, other.public_pem(), 183, SID)
        count = len(seal.list_seals(session, SID))
    assert [f.problem for f in findings if f.problem == "foreign key"] == ["foreign key"] * count


def test_seals_from_before_signing_still_chain_and_are_noted(key: seal_key.SealKey, world: w.World) -> None:
    """An installation upgraded from SHA-256 seals: its old seals still verify as a chain, are
    reported as `unsigned` (a note, not tampering), and the first signed seal follows them."""
    sid = 98
    with ops(world.settings) as session:
        rows = seal.read(session).rows(None, None, signed=False)
        data = {"sealed_at": "20260101000000Z", "prev": seal.GENESIS,
                "chain": seal._chain(seal.GENESIS, rows, signed=False), "first": rows[0][0],
                "last": rows[-1][0], "count": len(rows), "server_id": sid}
        dn = f"cn=seal-20260101000000Z-s{sid}-1,{seal.seals_dn(world.settings.suffix)}"
        session.add(dn, {"objectClass": ["idmRecord"], "cn": [dn.split(",")[0][3:]],
                         "idmRecordKind": ["seal"], "idmRecordStatus": ["sealed"],
                         "idmRecordData": [json.dumps(data, sort_keys=True)]})
        session.add_binary(dn, "idmAttachment", gzip.compress(json.dumps(rows).encode()))
        assert [(f.problem, f.record) for f in seal.verify(session, key.public_pem(), 183, sid)] == [
            ("unsigned", dn)]
    fresh_records(world, 1)
    with ops(world.settings) as session:
        after = seal.seal(session, key, sid, settle=seal.AT_ONCE)
        assert after.prev == data["chain"] and after.signed
        assert [f.problem for f in seal.verify(session, key.public_pem(), 183, sid)] == ["unsigned"]


def test_the_systemd_units_run_commands_that_exist() -> None:
    """scripts/systemd/: the timer names the service, whose commands are idm's own."""
    import configparser

    from click.testing import CliRunner

    from idm_cli.main import cli

    units = Path(__file__).resolve().parent.parent / "scripts" / "systemd"
    service = configparser.ConfigParser(strict=False)
    service.read(units / "idm-audit-seal.service")
    timer = configparser.ConfigParser()
    timer.read(units / "idm-audit-seal.timer")
    assert timer["Timer"]["OnCalendar"] and timer["Install"]["WantedBy"] == "timers.target"
    for key in ("ExecStart", "ExecStartPost"):
        words = service["Service"][key].split()
        assert words[0].endswith("/idm")
        assert CliRunner().invoke(cli, [*words[1:], "--help"]).exit_code == 0, words


@contextmanager
def deletes_allowed(world: w.World) -> Iterator[Session]:
    """slapd's no-delete rule lifted for the test (what a holder of cn=config could do)."""
    with ops(world.settings) as session:
        db = next(dn for dn, _ in session.search("cn=config", f"(olcSuffix={world.settings.suffix})",
                                                 ["1.1"]))
        session.replace(db, {"olcRestrict": []})
        try:
            yield session
        finally:
            session.replace(db, {"olcRestrict": ["delete"]})


def test_the_newest_seals_removed_are_seen_and_sealing_over_them_is_refused(world: w.World,
                                                                             tmp_path: Path) -> None:
    """Seals removed from the end (or all of them) leave no gap in the chain: the anchor kept
    beside the key sees it, and the next seal is refused until someone looks."""
    sid = 97
    key = seal_key.load(world.settings.data_dir)
    for _ in range(2):
        fresh_records(world, 1)
        with ops(world.settings) as session:
            last = seal.seal(session, key, sid, settle=seal.AT_ONCE)
    assert key.anchor(sid) == {"seq": last.data["seq"], "chain": last.chain}
    with deletes_allowed(world) as session:
        session.conn.delete_s(last.dn)
    with ops(world.settings) as session:
        found = [(f.problem, f.detail) for f in seal.verify(session, key.public_pem(), 183, sid,
                                                             anchor=key.anchor(sid))]
        assert ("seals removed", "the newest seal this key made is no longer in the directory") in found
        with pytest.raises(Exception, match="not the one this key made last"):
            seal.seal(session, key, sid, settle=seal.AT_ONCE)


def test_an_unsigned_seal_after_signed_ones_is_tampering_and_export_names_are_safe(
    world: w.World, key: seal_key.SealKey, tmp_path: Path
) -> None:
    sid = 96
    fresh_records(world, 1)
    with ops(world.settings) as session:
        first = seal.seal(session, key, sid, settle=seal.AT_ONCE)
        rows = seal.read(session).rows(first.last, None, signed=False)
        data = {"sealed_at": "29990101000000Z", "prev": first.chain,
                "chain": seal._chain(first.chain, rows, False),
                "first": rows[0][0] if rows else None, "last": rows[-1][0] if rows else first.last,
                "count": len(rows), "server_id": sid}
        dn = f"cn=..%2F..%2Fevil-s{sid},{seal.seals_dn(world.settings.suffix)}"
        session.add(dn, {"objectClass": ["idmRecord"], "cn": [dn.split(",")[0][3:]],
                         "idmRecordKind": ["seal"], "idmRecordStatus": ["sealed"],
                         "idmRecordData": [json.dumps(data, sort_keys=True)]})
        session.add_binary(dn, "idmAttachment", gzip.compress(json.dumps(rows).encode()))
        problems = {(f.problem, f.record) for f in seal.verify(session, key.public_pem(), 183, sid)}
        assert ("unsigned after signed", dn) in problems
        assert seal.export(session, seal.list_seals(session, sid), tmp_path / "out") == 1
    with deletes_allowed(world) as session:  # the forgery is dated 2999: the audit page would show it
        session.conn.delete_s(dn)
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == [
        f"seal-s{sid}-000001.json", f"seal-s{sid}-000001.rows.gz", f"seal-s{sid}-000001.sig"]
    bad = tmp_path / "bad.pem"
    bad.write_text("not a key")
    result = run_cli(world.settings, "audit", "verify", "--public-key", str(bad))
    assert result.exit_code == 1 and "not a PEM public key" in result.output


def test_seals_made_while_others_write_find_nothing_slipped_in(world: w.World, key: seal_key.SealKey) -> None:
    """Four writers and a seal every 100 ms: slapd logs a write when it ends, so records are
    written out of their start order. Cut by start time, such seals found records "inserted"
    that nobody had touched (a container test saw it); cut by end time, after a settling time,
    they find nothing."""
    sid = 95
    target = f"ou=seal-writers,ou=system,{world.settings.suffix}"
    with ops(world.settings) as session:
        if not session.exists(target):
            session.add(target, {"objectClass": ["organizationalUnit"], "ou": ["seal-writers"]})
    until = time.monotonic() + 4
    written = [0] * 4

    def write(n: int) -> None:
        with ops(world.settings) as session:
            while time.monotonic() < until:
                value = f"{n}-{written[n]}".encode()
                session.conn.modify_s(target, [(ldap.MOD_REPLACE, "description", [value])])
                written[n] += 1

    writers = [threading.Thread(target=write, args=(n,)) for n in range(4)]
    for t in writers:
        t.start()
    made = 0
    while time.monotonic() < until:
        with ops(world.settings) as session:
            made += seal.seal(session, key, sid).count > 0
        time.sleep(0.1)
    for t in writers:
        t.join()
    with ops(world.settings) as session:
        seal.seal(session, key, sid, settle=seal.AT_ONCE)
        assert seal.verify(session, key.public_pem(), 183, sid) == []
        assert sum(s.count for s in seal.list_seals(session, sid)) >= sum(written)
    assert made >= 3 and sum(written) > 100, (made, written)


def test_signed_seals_from_before_the_end_time_window_still_verify(world: w.World,
                                                                  key: seal_key.SealKey) -> None:
    """A signed seal made before seals named their `upto` (cut by start time), then one made
    now: both verify, and the new one takes what came after the old one's last record."""
    sid = 94
    fresh_records(world, 2)
    with ops(world.settings) as session:
        rows = seal.read(session).rows(None)
        data = {"sealed_at": seal.now(), "prev": seal.GENESIS, "chain": seal._chain(seal.GENESIS, rows),
                "first": rows[0][0], "last": rows[-1][0], "count": len(rows), "server_id": sid, "seq": 1,
                "alg": seal.ALGORITHM, "key": key.fingerprint()}
        attachment = gzip.compress(json.dumps(rows).encode(), mtime=0)
        data["rows_sm3"] = sm2.sm3(attachment)
        data["signature"] = base64.b64encode(key.sign(seal.signed_bytes(data))).decode()
        dn = f"cn=seal-{data['sealed_at']}-s{sid}-1,{seal.seals_dn(world.settings.suffix)}"
        session.add(dn, {"objectClass": ["idmRecord"], "cn": [dn.split(",")[0][3:]],
                         "idmRecordKind": ["seal"], "idmRecordStatus": ["sealed"],
                         "idmRecordData": [json.dumps(data, sort_keys=True)]})
        session.add_binary(dn, "idmAttachment", attachment)
        key.set_anchor(sid, 1, data["chain"])
    fresh_records(world, 2)
    with ops(world.settings) as session:
        after = seal.seal(session, key, sid, settle=seal.AT_ONCE)
        assert after.prev == data["chain"] and after.count >= 2 and "upto" in after.data
        assert after.first is not None and after.first > data["last"]
        assert seal.verify(session, key.public_pem(), 183, sid, anchor=key.anchor(sid)) == []
