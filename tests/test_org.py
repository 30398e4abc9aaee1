"""The administrative tree: import from CSV and LDIF, idempotency, tree/show, bad input."""

from __future__ import annotations

import csv
import io
import subprocess
from pathlib import Path

import pytest

from idm.config import Settings
from idm.tree import org
from tests.conftest import DEMO, ops, run_cli, snapshot


def write(tmp_path: Path, text: str, name: str = "nodes.csv", encoding: str = "utf-8") -> Path:
    path = tmp_path / name
    path.write_bytes(text.encode(encoding))
    return path


def test_demo_tree_has_all_divisions_with_containers(demo_tree: Settings) -> None:
    demo_codes = {row["code"] for name in ("inner-mongolia.csv", "schools-sample.csv")
                  for row in csv.DictReader(io.StringIO((DEMO / name).read_text(encoding="utf-8")))}
    with ops(demo_tree) as session:
        nodes = [n for n in org.all_nodes(session) if n.code in demo_codes]
        assert len(nodes) == len(demo_codes)
        levels = [n.level for n in nodes]
        assert levels.count("province") == 1
        assert levels.count("city") == 12
        assert levels.count("county") == 103
        assert levels.count("university") == 5
        assert levels.count("school") == 7
        for node in nodes:
            for container in org.CONTAINERS:
                assert session.exists(f"ou={container},{node.dn}"), (node.dn, container)


def test_reimport_changes_nothing(demo_tree: Settings) -> None:
    before = snapshot(demo_tree)
    result = run_cli(demo_tree, "org", "import", str(DEMO / "inner-mongolia.csv"))
    assert result.exit_code == 0, result.output
    assert "add 0, change 0, containers 0, unchanged 116" in result.output
    assert snapshot(demo_tree) == before


def test_dry_run_reports_and_writes_nothing(demo_tree: Settings, tmp_path: Path) -> None:
    path = write(tmp_path, "code,name,level,parent\n150199,样例·新区,county,150100\n"
                           "150102,新城区（改名）,county,150100\n")
    before = snapshot(demo_tree)
    result = run_cli(demo_tree, "org", "import", "--dry-run", str(path))
    assert result.exit_code == 0, result.output
    assert "+ 150199 样例·新区 [county]" in result.output
    assert "新城区（改名）" in result.output
    assert "dry run, nothing written" in result.output
    assert snapshot(demo_tree) == before


def test_rename_is_applied_and_reported(demo_tree: Settings, tmp_path: Path) -> None:
    path = write(tmp_path, "code,name,level,parent\n150304,乌达区（测试改名）,county,150300\n")
    result = run_cli(demo_tree, "org", "import", str(path))
    assert "change 1" in result.output, result.output
    back = write(tmp_path, "code,name,level,parent\n150304,乌达区,county,150300\n", "back.csv")
    run_cli(demo_tree, "org", "import", str(back))
    with ops(demo_tree) as session:
        assert org.find(session, "150304").name == "乌达区"


def test_chinese_names_round_trip_exactly_with_middle_dot(demo_tree: Settings) -> None:
    out = subprocess.run(
        ["ldapsearch", "-Q", "-LLL", "-o", "ldif-wrap=no", "-Y", "EXTERNAL", "-H", demo_tree.ldapi_uri,
         "-b", demo_tree.suffix, "(idmCode=2115010201)", "idmNameZh"],
        capture_output=True, text=True, check=True,
    ).stdout
    import base64

    encoded = next(line for line in out.splitlines() if line.startswith("idmNameZh::"))
    assert base64.b64decode(encoded.split(":: ")[1]).decode("utf-8") == "样例·新城区第一小学"
    with ops(demo_tree) as session:
        assert org.find(session, "150722").name == "莫力达瓦达斡尔族自治旗"


def test_delegated_school_records_its_manager(demo_tree: Settings) -> None:
    with ops(demo_tree) as session:
        school = org.find(session, "2115010203")
        assert school.managed_by == org.find(session, "150102").dn
        assert org.find(session, "2115010201").managed_by is None


def test_tree_prints_names_with_depth(demo_tree: Settings) -> None:
    result = run_cli(demo_tree, "org", "tree", "150100", "--depth", "1")
    assert result.exit_code == 0
    lines = result.output.splitlines()
    assert lines[0] == "150100 呼和浩特市 [地市级]"
    assert "    150102 新城区 [区县级]" in lines
    assert not any("2115010201" in line for line in lines)
    deep = run_cli(demo_tree, "org", "tree", "150100").output
    assert "        2115010201 样例·新城区第一小学 [学校]" in deep


def test_show_gives_details_and_unknown_code_is_clear(demo_tree: Settings) -> None:
    result = run_cli(demo_tree, "org", "show", "150102")
    assert "呼和浩特市" in result.output and "ou=150102,ou=150100,ou=150000" in result.output
    missing = run_cli(demo_tree, "org", "show", "159999")
    assert missing.exit_code == 1
    assert "no org unit with code 159999" in missing.output


def test_show_refuses_filter_injection(demo_tree: Settings) -> None:
    result = run_cli(demo_tree, "org", "show", "*)(idmCode=*")
    assert result.exit_code == 1
    assert "no org unit with code *)(idmCode=*" in result.output


def test_ldif_import(demo_tree: Settings, tmp_path: Path) -> None:
    path = write(tmp_path, (
        "dn: ou=2115040201,ou=150402,ou=150400,ou=150000,dc=edu,dc=cn\n"
        "objectClass: idmOrgUnit\nou: 2115040201\nidmCode: 2115040201\n"
        "idmNameZh: 样例·红山区第一中学\nidmLevel: school\n"
    ), "nodes.ldif")
    result = run_cli(demo_tree, "org", "import", str(path))
    assert result.exit_code == 0, result.output
    with ops(demo_tree) as session:
        node = org.find(session, "2115040201")
    assert node.dn == "ou=2115040201,ou=150402,ou=150400,ou=150000,dc=edu,dc=cn"
    assert node.name == "样例·红山区第一中学"


BAD_CSV = [
    ("code,name,level,parent\n15010X,坏代码,county,150100\n", ":2", "6-digit division code"),
    ("code,name,level,parent\n1501999,坏代码,county,150100\n", ":2", "6-digit division code"),
    ("code,name,level,parent\n150199,无上级,county,150888\n", ":2", "unknown parent code 150888"),
    ("code,name,level,parent\n150198,甲,county,150100\n150198,乙,county,150100\n", ":3",
     "duplicate code 150198"),
    ("code,name,level,parent\n150197,错层级,city,150100\n", ":2", "a city cannot sit under city"),
    ("code,name,level,parent\n2115019999,错层级,school,2115010201\n", ":2",
     "a school cannot sit under school"),
    ("code,name,level,parent\n150196,错前缀,county,150200\n", ":2", "starts with its city's 4 digits"),
    ("code,name,level,parent\n150195,\"未闭合引号,county,150100\n", ":", "malformed line"),
    ("code,name,level,parent\n150194,多一列,county,150100,x\n", ":2", "expected 4 fields, found 5"),
    ("code,name,level,parent\n150193,,county,150100\n", ":2", "name is empty"),
    ("code,name,level,parent\n150192, 空格 ,county,150100\n", ":2", "leading or trailing spaces"),
    ("code,name,level,parent\n150191,控制\x07字符,county,150100\n", ":2", "control characters"),
    ("code,name,level,parent\n150190,层级,galaxy,150100\n", ":2", "level 'galaxy' is invalid"),
    ("code,name\n150189,少列\n", ":1", "header must be"),
    ("code,name,level,parent\n150188,好的,county,150100\n150187,坏的,county,\n", ":3",
     "a county cannot sit under the top"),
    ("code,name,level,parent,managed_by\n2115010299,委托,school,150102,150100\n", ":2",
     "managed_by may only name the parent"),
    ("code,name,level,parent\n150101,已在别处,county,150200\n", ":2", "starts with its city's 4 digits"),
    ("code,name,level,parent\n150102,新城区,county,150200\n", ":2", "starts with its city's 4"),
]


@pytest.mark.parametrize(("text", "line", "reason"), BAD_CSV)
def test_bad_csv_is_refused_with_line_and_reason_and_changes_nothing(
    demo_tree: Settings, tmp_path: Path, text: str, line: str, reason: str
) -> None:
    path = write(tmp_path, text)
    before = snapshot(demo_tree)
    result = run_cli(demo_tree, "org", "import", str(path))
    assert result.exit_code == 1, result.output
    assert f"{path}{line}" in result.output
    assert reason in result.output
    assert "nothing was changed" in result.output or "header" in result.output
    assert "Traceback" not in result.output
    assert snapshot(demo_tree) == before


def test_non_utf8_file_is_refused_with_its_line(demo_tree: Settings, tmp_path: Path) -> None:
    path = write(tmp_path, "code,name,level,parent\n150186,额济纳旗,county,150100\n", encoding="gbk")
    before = snapshot(demo_tree)
    result = run_cli(demo_tree, "org", "import", str(path))
    assert result.exit_code == 1
    assert f"{path}:2: file is not UTF-8" in result.output
    assert snapshot(demo_tree) == before


def test_one_bad_line_among_good_ones_writes_nothing(demo_tree: Settings, tmp_path: Path) -> None:
    path = write(tmp_path, "code,name,level,parent\n150185,好一,county,150100\n"
                           "150184,好二,county,150100\nABCDEF,坏,county,150100\n")
    before = snapshot(demo_tree)
    result = run_cli(demo_tree, "org", "import", str(path))
    assert result.exit_code == 1
    assert f"{path}:4: " in result.output and f"{path}:2: " not in result.output
    assert snapshot(demo_tree) == before


def test_existing_node_under_another_parent_is_refused(demo_tree: Settings, tmp_path: Path) -> None:
    path = write(tmp_path, "code,name,level,parent\n2115010201,样例·新城区第一小学,school,150103\n")
    before = snapshot(demo_tree)
    result = run_cli(demo_tree, "org", "import", str(path))
    assert result.exit_code == 1
    assert "already exists under another parent" in result.output
    assert snapshot(demo_tree) == before


def test_malformed_ldif_is_refused(demo_tree: Settings, tmp_path: Path) -> None:
    path = write(tmp_path, "dn: ou=150183,ou=150100,ou=150000,dc=edu,dc=cn\nthis is not ldif\n",
                 "bad.ldif")
    before = snapshot(demo_tree)
    result = run_cli(demo_tree, "org", "import", str(path))
    assert result.exit_code == 1
    assert str(path) in result.output
    assert snapshot(demo_tree) == before


def test_a_child_before_its_parent_is_refused_with_its_line(demo_tree: Settings, tmp_path: Path) -> None:
    """Issue 11: a streamed load reads each record once, so a parent must come first; a file
    with a child first is refused (file:line) and nothing is written."""
    path = write(tmp_path, "code,name,level,parent\n2115990101,样例·后置上级的学校,school,159901\n"
                           "159901,样例·新县,county,159900\n159900,样例·新盟,city,150000\n")
    before = snapshot(demo_tree)
    result = run_cli(demo_tree, "org", "import", str(path))
    assert result.exit_code == 1, result.output
    assert f"{path}:2: " in result.output and "unknown parent code 159901" in result.output
    assert f"{path}:3: " in result.output and "unknown parent code 159900" in result.output
    assert snapshot(demo_tree) == before
