"""`idm load`: the traps of issue 11 (each refused with file:line, the directory unchanged), the
encodings and LDIF forms that are accepted, the loader's limits, and the offline path.

Loads add units, so these tests run on a server of their own (the shared demo tree is counted
by other tests)."""

from __future__ import annotations

import base64
from collections.abc import Iterator
from pathlib import Path

import ldap
import pytest

from idm.bulk import load as engine
from idm.config import Settings
from idm.directory import connection, lookup
from idm.errors import ServerError
from idm.ops import embedded
from idm.rules.terms import LOADER
from tests.conftest import DEMO, ops, run_cli, snapshot, start_server
from tests.world import id_number

SUFFIX = "dc=edu,dc=cn"
COUNTY = f"ou=150102,ou=150100,ou=150000,{SUFFIX}"
OTHER_COUNTY = f"ou=150203,ou=150200,ou=150000,{SUFFIX}"
_next = iter(range(250_000, 260_000))


def number() -> str:
    return id_number(next(_next))


@pytest.fixture(scope="module")
def fresh(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Settings]:
    settings = start_server(tmp_path_factory.mktemp("load"))
    result = run_cli(settings, "load", str(DEMO / "inner-mongolia.csv"))
    assert result.exit_code == 0, result.output
    yield settings
    embedded.stop(settings)


def write(tmp_path: Path, name: str, text: str, encoding: str = "utf-8") -> Path:
    path = tmp_path / name
    path.write_bytes(text.encode(encoding))
    return path


def refused(settings: Settings, path: Path, line: int, words: str, *extra: str) -> None:
    before = snapshot(settings)
    result = run_cli(settings, "load", *extra, str(path))
    assert result.exit_code == 1, result.output
    assert f"{path}:{line}: " in result.output, result.output
    assert words in result.output, result.output
    assert "Traceback" not in result.output and "internal error" not in result.output
    assert snapshot(settings) == before


def people(*rows: str) -> str:
    return "uid,unit,name,id_number,mobile\n" + "".join(f"{r}\n" for r in rows)


# ---------------------------------------------------------------- the traps of item 2
def test_a_value_read_from_a_url_is_refused(fresh: Settings, tmp_path: Path) -> None:
    path = write(tmp_path, "url.ldif", f"dn: ou=159801,{COUNTY}\nobjectClass: idmOrgUnit\nou: 159801\n"
                 "idmCode: 159801\nidmNameZh: 样例\nidmLevel: school\ndescription:< file:///etc/passwd\n")
    refused(fresh, path, 7, "values read from a URL are not accepted (file:///etc/passwd)")


@pytest.mark.parametrize("change", ["delete", "modrdn", "moddn", "modify"])
def test_change_records_are_refused_in_an_add_only_load(fresh: Settings, tmp_path: Path, change: str) -> None:
    path = write(tmp_path, "change.ldif", f"version: 1\n\ndn: {COUNTY}\nchangetype: {change}\n")
    refused(fresh, path, 4, f"an add-only load: changetype {change} is not accepted")


def test_duplicate_dns_in_other_case_and_spacing_are_refused(fresh: Settings, tmp_path: Path) -> None:
    unit = ("objectClass: idmOrgUnit\nou: 2115010299\nidmCode: 2115010299\nidmNameZh: 样例·重复学校\n"
            "idmLevel: school\n")
    path = write(tmp_path, "dup.ldif", f"dn: ou=2115010299,{COUNTY}\n{unit}\n"
                 f"dn: OU=2115010299, OU=150102,ou=150100, ou=150000,DC=edu,dc=cn\n{unit}")
    refused(fresh, path, 8, "duplicate code 2115010299")
    same_login = write(tmp_path, "dup.csv", "uid,unit,post\nPOST-DUP,150102,教务处\npost-dup,150102,学籍\n")
    refused(fresh, same_login, 3, "duplicate login post-dup (first on line 2)")


def test_a_child_before_its_parent_or_with_none_is_refused(fresh: Settings, tmp_path: Path) -> None:
    path = write(tmp_path, "order.csv", "code,name,level,parent\n2115980101,样例·学校,school,159801\n"
                 "159801,样例·县,county,150100\n")
    refused(fresh, path, 2, "unknown parent code 159801 (not in the directory, nor on an earlier line")
    orphan = write(tmp_path, "orphan.csv", people(f"orphan.one,159999,王敏,{number()},13800000000"))
    refused(fresh, orphan, 2, "unknown unit 159999")


def test_schema_violations_are_refused(fresh: Settings, tmp_path: Path) -> None:
    path = write(tmp_path, "schema.ldif", f"dn: uid=s.one,ou=people,{COUNTY}\n"
                 "objectClass: idmBusinessAccount\n"
                 f"uid: s.one\ncn: 王敏\nsn: 王\nidmIdNumber: {number()}\nmobile: 13800000000\n"
                 "idmAdminRole: sysadmin\n")
    refused(fresh, path, 1, "schema violation: attributes not allowed here: idmadminrole")
    missing = write(tmp_path, "missing.ldif", f"dn: ou=159802,ou=150100,ou=150000,{SUFFIX}\n"
                    "objectClass: idmOrgUnit\nou: 159802\nidmCode: 159802\nidmLevel: county\n")
    refused(fresh, missing, 1, "schema violation: idmnamezh needs exactly one value")
    wrong_place = write(tmp_path, "place.ldif", f"dn: uid=s.two,ou=admins,{COUNTY}\n"
                        "objectClass: idmBusinessAccount\nuid: s.two\ncn: 王敏\n")
    refused(fresh, wrong_place, 1, "an account's DN must be uid=<login>,ou=people")


def test_a_password_is_never_loaded(fresh: Settings, tmp_path: Path) -> None:
    path = write(tmp_path, "password.ldif", f"dn: uid=p.one,ou=people,{COUNTY}\n"
                 "objectClass: idmBusinessAccount\nuid: p.one\ncn: 王敏\nsn: 王\n"
                 f"idmIdNumber: {number()}\nmobile: 13800000000\nuserPassword: Secret-123!\n")
    refused(fresh, path, 1, "userPassword is not accepted: passwords are never loaded")


def test_invalid_id_numbers_are_refused(fresh: Settings, tmp_path: Path) -> None:
    good = number()
    wrong_check = good[:17] + ("0" if good[17] != "0" else "1")
    path = write(tmp_path, "ids.csv", people(f"i.one,150102,王敏,{wrong_check},13800000000",
                                             "i.two,150102,王敏,110101202513450011,13800000000"))
    refused(fresh, path, 2, "ID number check digit is wrong")
    refused(fresh, path, 3, "id_number: ID number birth date 20251345 does not exist")


def test_one_number_one_name_in_the_file_and_anywhere_in_the_directory(fresh: Settings, tmp_path: Path
                                                                       ) -> None:
    shared = number()
    in_file = write(tmp_path, "names.csv", people(f"n.one,150102,王敏,{shared},13800000000",
                                                  f"n.two,150203,李华,{shared},13800000000"))
    refused(fresh, in_file, 3, "is on line 2 under another name")
    first = write(tmp_path, "first.csv", people(f"n.three,150203,王敏,{shared},13800000000"))
    assert run_cli(fresh, "load", str(first)).exit_code == 0
    # another county's account: no admin of 150102 sees it; the load still finds it
    later = write(tmp_path, "later.csv", people(f"n.four,150102,李华,{shared},13800000000"))
    refused(fresh, later, 2, f"is registered at {OTHER_COUNTY} under another name than '李华'")
    second = write(tmp_path, "second.csv", people(f"n.five,150102,王敏,{shared},13800000000"))
    refused(fresh, second, 2, "already holds a business account at")


def test_formula_cells_are_refused(fresh: Settings, tmp_path: Path) -> None:
    for bad in ("=HYPERLINK(\"http://x\")", "@SUM(A1)", "+1+1", "-2+3"):
        path = write(tmp_path, "formula.csv", f"code,name,level,parent\n2115010298,{bad},school,150102\n")
        refused(fresh, path, 2, "starts like a spreadsheet formula")
    ldif = write(tmp_path, "formula.ldif", f"dn: ou=2115010298,{COUNTY}\nobjectClass: idmOrgUnit\n"
                 "ou: 2115010298\nidmCode: 2115010298\nidmNameZh: =1+1\nidmLevel: school\n")
    refused(fresh, ldif, 1, "idmnamezh: '=1+1' starts like a spreadsheet formula")


def test_a_file_that_is_not_utf8_names_the_encoding_to_give(fresh: Settings, tmp_path: Path) -> None:
    path = write(tmp_path, "gbk.csv", "code,name,level,parent\n2115010297,样例·编码学校,school,150102\n",
                 "gbk")
    refused(fresh, path, 2, "file is not UTF-8 (column 12); if it is GBK or GB18030 (e.g. saved by Excel), "
                            "give --encoding gb18030")


# ---------------------------------------------------------------- accepted forms
def test_excel_files_in_gb18030_with_crlf_or_utf8_with_bom_load(fresh: Settings, tmp_path: Path) -> None:
    gb = write(tmp_path, "gb.csv", "code,name,level,parent\r\n"
               "2115010296,样例·莫力达瓦旗学校,school,150102\r\n", "gb18030")
    result = run_cli(fresh, "load", "--encoding", "gb18030", str(gb))
    assert result.exit_code == 0, result.output
    bom = write(tmp_path, "bom.csv", "\ufeffcode,name,level,parent\r\n"
                "2115010295,样例·伊金霍洛学校,school,150102\r\n")
    assert run_cli(fresh, "load", str(bom)).exit_code == 0
    with ops(fresh) as session:
        unit = session.get(f"ou=2115010296,{COUNTY}", ["idmNameZh"])
        assert unit is not None and unit[1]["idmNameZh"] == ["样例·莫力达瓦旗学校"]
        assert session.exists(f"ou=reviews,ou=2115010295,{COUNTY}")


def test_ldif_with_continuation_lines_and_base64_loads(fresh: Settings, tmp_path: Path) -> None:
    name = "样例·阿拉善左旗第一中学"
    encoded = base64.b64encode(name.encode()).decode()
    uid_number = number()
    text = ("version: 1\n\n# a comment\n#  that continues\n"
            "dn: ou=2115010294,ou=150102,\n ou=150100,ou=150000,dc=edu,dc=cn\n"
            f"objectClass: idmOrgUnit\nou: 2115010294\nidmCode: 2115010294\nidmNameZh:: {encoded[:10]}\n"
            f" {encoded[10:]}\nidmLevel: school\n\n"
            f"dn: uid=b.one,ou=people,ou=2115010294,{COUNTY}\r\nobjectClass: idmBusinessAccount\r\n"
            f"uid: b.one\r\ncn:: {base64.b64encode('巴特尔·那顺'.encode()).decode()}\r\nsn: 巴特尔\r\n"
            f"idmIdNumber: {uid_number}\r\nmobile: 13800000000\r\nidmGrant: teacher#viewer\r\n")
    path = write(tmp_path, "good.ldif", text)
    result = run_cli(fresh, "load", str(path))
    assert result.exit_code == 0, result.output
    with ops(fresh) as session:
        unit = session.get(f"ou=2115010294,{COUNTY}", ["idmNameZh"])
        account = session.get(f"uid=b.one,ou=people,ou=2115010294,{COUNTY}",
                              ["cn", "idmGrant", "idmIdMasked", "idmStatus"])
    assert unit is not None and unit[1]["idmNameZh"] == [name]
    assert account is not None and account[1]["cn"] == ["巴特尔·那顺"]
    assert account[1]["idmGrant"] == ["teacher#viewer"] and account[1]["idmStatus"] == ["active"]
    assert account[1]["idmIdMasked"] == [uid_number[:4] + "**********" + uid_number[-4:]]
    again = run_cli(fresh, "load", str(path))
    assert "add 0, change 0, containers 0, unchanged 2" in again.output, again.output


# ---------------------------------------------------------------- plan, dry run, grants, admins
def test_dry_run_shows_a_short_plan_and_writes_it_in_full_to_a_file(fresh: Settings, tmp_path: Path) -> None:
    rows = [f"d{i:03d},150102,王敏,{number()},13800000000" for i in range(40)]
    path = write(tmp_path, "many.csv", people(*rows))
    plan_file = tmp_path / "plan.txt"
    before = snapshot(fresh)
    result = run_cli(fresh, "load", "--dry-run", "--plan-file", str(plan_file), str(path))
    assert result.exit_code == 0, result.output
    assert "20 more lines (--plan-file FILE for the full plan)" in result.output
    assert "dry run, nothing written" in result.output
    assert len(plan_file.read_text(encoding="utf-8").splitlines()) == 40
    assert snapshot(fresh) == before


def test_grants_and_admins_load_and_grants_never_reach_post_accounts(fresh: Settings, tmp_path: Path) -> None:
    accounts = write(tmp_path, "g.csv", people(f"g.one,150102,王敏,{number()},13800000000"))
    assert run_cli(fresh, "load", str(accounts)).exit_code == 0
    posts = write(tmp_path, "posts.csv", "uid,unit,post\nPOST-01,150102,教务处岗位\n")
    assert run_cli(fresh, "load", str(posts)).exit_code == 0
    grants = write(tmp_path, "grants.csv", "uid,grant\ng.one,teacher#viewer student#viewer\n")
    result = run_cli(fresh, "load", str(grants))
    assert result.exit_code == 0, result.output
    assert "grants 2" in result.output
    with ops(fresh) as session:
        entry = session.get(f"uid=g.one,ou=people,{COUNTY}", ["idmGrant"])
    assert entry is not None and sorted(entry[1]["idmGrant"]) == ["student#viewer", "teacher#viewer"]
    to_post = write(tmp_path, "post-grant.csv", "uid,grant\nPOST-01,teacher#viewer\n")
    refused(fresh, to_post, 2, "post account POST-01 is not converted to real-name yet (R9)")
    unknown = write(tmp_path, "unknown-grant.csv", "uid,grant\ng.one,teacher#nosuchrole\n")
    refused(fresh, unknown, 2, "grant teacher#nosuchrole is not in the catalogue")
    admins = write(tmp_path, "admins.csv", "uid,unit,role,name,id_number,mobile\n"
                   f"a.sys,150102,sysadmin,王敏,{number()},13800000000\n")
    assert run_cli(fresh, "load", str(admins)).exit_code == 0
    with ops(fresh) as session:
        admin = session.get(f"uid=a.sys,ou=admins,{COUNTY}", ["idmAdminRole", "idmScope"])
    assert admin is not None and admin[1]["idmScope"] == [COUNTY] and admin[1]["idmAdminRole"] == ["sysadmin"]


# ---------------------------------------------------------------- the loader and the rules
def test_the_loader_adds_and_nothing_more(fresh: Settings, tmp_path: Path) -> None:
    """It writes as itself, through the rules: no replace, no delete, no password, no grant for a
    post account, no other kind of entry; and the write log names it."""
    person = write(tmp_path, "l.csv", people(f"l.one,150102,王敏,{number()},13800000000"))
    assert run_cli(fresh, "load", str(person)).exit_code == 0
    secret = lookup.read_secret(fresh.secrets_dir / f"{LOADER}.secret")
    conn = connection.bind_as(fresh.ldap_uri, fresh.service_dn(LOADER), secret)
    dn = f"uid=l.one,ou=people,{COUNTY}"
    attempts = [
        lambda: conn.modify_s(dn, [(ldap.MOD_REPLACE, "idmStatus", [b"disabled"])]),
        lambda: conn.modify_s(dn, [(ldap.MOD_REPLACE, "cn", [b"x"])]),
        lambda: conn.modify_s(dn, [(ldap.MOD_ADD, "userPassword", [b"Secret-123!"])]),
        lambda: conn.delete_s(dn),
        lambda: conn.add_s(f"uid=l.two,ou=people,{COUNTY}", [
            ("objectClass", [b"idmAdminAccount"]), ("uid", [b"l.two"]), ("cn", [b"x"]), ("sn", [b"x"]),
            ("idmStatus", [b"active"])]),
        lambda: conn.add_s(f"cn=x,ou=system,{SUFFIX}", [("objectClass", [b"idmServiceAccount"]),
                                                       ("cn", [b"x"])]),
        # the loader's shortcuts (idm.acl.loader_shortcuts) name accounts by class: a business
        # account is still refused where no business account belongs
        *(lambda where=where: conn.add_s(f"uid=l.three,ou={where},{COUNTY}", [
            ("objectClass", [b"idmBusinessAccount"]), ("uid", [b"l.three"]), ("cn", [b"x"]), ("sn", [b"x"]),
            ("idmStatus", [b"active"])]) for where in ("admins", "forms", "services")),
        lambda: conn.modify_s(f"uid=POST-01,ou=people,{COUNTY}",
                              [(ldap.MOD_ADD, "idmGrant", [b"teacher#viewer"])]),
        lambda: conn.modify_s(f"uid=nmg.sys,ou=admins,ou=150000,{SUFFIX}", [(ldap.MOD_ADD, "idmAdminRole",
                                                                           [b"sysadmin"])]),
    ]
    for attempt in attempts:  # (a delete: slapd deletes nothing, whoever asks)
        with pytest.raises((ldap.INSUFFICIENT_ACCESS, ldap.NO_SUCH_OBJECT, ldap.UNWILLING_TO_PERFORM)):
            attempt()
    assert conn.search_s(dn, ldap.SCOPE_BASE, attrlist=["mobile"])[0][1] == {}  # written, never read
    assert conn.search_s(dn, ldap.SCOPE_BASE, attrlist=["idmIdNumber"])[0][1] == {}  # compared, never read
    conn.unbind_s()
    with ops(fresh) as session:
        logged = session.conn.search_s("cn=accesslog", ldap.SCOPE_ONELEVEL, f"(&(reqType=add)(reqDN={dn}))",
                                       ["reqAuthzID", "reqResult"])
    assert [a["reqAuthzID"] for _, a in logged] == [[fresh.service_dn(LOADER).encode()]]


# ---------------------------------------------------------------- offline
def test_slapadd_through_a_pipe_tells_its_errors_and_is_killed_when_the_feed_breaks(tmp_path: Path) -> None:
    """The offline path hands slapadd the LDIF as it is made. slapadd's own refusal reaches the
    user as its message; a feed that ends in an exception (Ctrl-C) kills slapadd rather than
    giving it a clean end of file, and the caller sees that exception, not a broken pipe."""
    settings = start_server(tmp_path / "pipe")
    embedded.stop(settings)
    with pytest.raises(ServerError, match="slapadd failed"):
        engine._slapadd(settings, settings.suffix, ["dn: ou=x,dc=elsewhere\nobjectClass: organizationalUnit\n"
                                                    "ou: x\n\n"])

    def interrupted() -> Iterator[str]:
        yield f"dn: ou=a,{settings.suffix}\nobjectClass: organizationalUnit\nou: a\n\n"
        # a whole entry but for its blank line: at a clean end of file slapadd would add it
        yield (f"dn: ou=b,{settings.suffix}\nobjectClass: organizationalUnit\nou: b\n"
               + "".join(f"description: v{i}\n" for i in range(2000)))
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        engine._slapadd(settings, settings.suffix, interrupted())
    embedded.start(settings)
    try:
        with ops(settings) as session:
            assert not session.exists(f"ou=b,{settings.suffix}")  # never given its end
    finally:
        embedded.stop(settings)


def test_offline_refuses_while_slapd_runs_then_loads_with_slapadd_and_logs_it(tmp_path: Path) -> None:
    settings = start_server(tmp_path / "offline")
    try:
        result = run_cli(settings, "load", "--offline", str(DEMO / "inner-mongolia.csv"))
        assert result.exit_code == 1 and "an offline load needs slapd stopped" in result.output
        with ops(settings) as session:
            before = session.get(settings.suffix, ["contextCSN"])
        embedded.stop(settings)
        result = run_cli(settings, "load", "--offline", str(DEMO / "inner-mongolia.csv"))
        assert result.exit_code == 0, result.output
        embedded.start(settings)
        with ops(settings) as session:
            assert session.exists(f"ou=services,{COUNTY}")
            # the entries carry this server's ID, and the database's state says it changed
            stamped = session.get(COUNTY, ["entryCSN"])
            assert stamped is not None and f"#{settings.server_id:03x}#" in stamped[1]["entryCSN"][0]
            after = session.get(settings.suffix, ["contextCSN"])
            assert before is not None and after is not None
            assert max(after[1]["contextCSN"]) > max(before[1]["contextCSN"])
            county = session.get(COUNTY, ["idmNameZh", "description"])
            assert county is not None and county[1]["idmNameZh"] == ["新城区"] == county[1]["description"]
            log = session.conn.search_s("cn=accesslog", ldap.SCOPE_ONELEVEL,
                                        "(reqMessage=idm load --offline*)", ["reqMessage"])
        assert len(log) == 1
        message = log[0][1]["reqMessage"][0].decode()
        assert "inner-mongolia.csv sha256=" in message and "units=116 containers=696" in message
        # online afterwards: everything is there already
        again = run_cli(settings, "load", str(DEMO / "inner-mongolia.csv"))
        assert "add 0, change 0, containers 0, unchanged 116" in again.output, again.output
    finally:
        embedded.stop(settings)


def test_the_plans_compact_table_keeps_every_key() -> None:
    """The plan's map of hashes (logins, ID numbers) against a dict, with colliding slots."""
    import random

    from idm.bulk.table import IntMap

    rng = random.Random(11)
    table, reference = IntMap(8), {}
    for n in range(50_000):
        key = rng.getrandbits(64) - (1 << 63) if n % 5 else rng.randrange(-3, 3) * (1 << 40)
        table[key] = reference[key] = rng.getrandbits(62)
    assert len(table) == len(reference)
    assert all(table[k] == v for k, v in reference.items())
    assert sum(table.get(rng.getrandbits(63) + 7) is None for _ in range(1000)) == 1000
