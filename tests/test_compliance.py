"""The evidence pack (issue 20, part 4), against the real slapd: built for Hohhot over the test's
activity, every item in index.html and the PDF, the manifest's SM2 signature checked with
OpenSSL and gmalg and every file's SM3 with OpenSSL, any changed, missing or added file
reported, the 三员 probes answered by slapd, and nothing secret in it."""

from __future__ import annotations

import base64
import json
import re
import shutil
import subprocess
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import gmalg
import pytest
from cryptography.hazmat.primitives.asymmetric.utils import decode_dss_signature

from tests import world as w
from tests.conftest import ops, run_cli
from tests.test_actions import create_and_disable

TODAY = datetime.now(ZoneInfo("Asia/Shanghai")).strftime("%Y-%m-%d")  # the pack's days are China's


@pytest.fixture(scope="module")
def pack_dir(world: w.World, tmp_path_factory: pytest.TempPathFactory) -> Path:
    create_and_disable(world)  # some activity of Hohhot's admins
    out = tmp_path_factory.mktemp("pack") / "hohhot"
    made = run_cli(world.settings, "compliance", "pack", "150100", "--from", "2026-01-01", "--to", TODAY,
                   "--out", str(out))
    assert made.exit_code == 0, made.output
    assert "已写出 / written" in made.output
    return out


def test_every_item_is_in_the_index_and_the_pdf(pack_dir: Path) -> None:
    manifest = json.loads((pack_dir / "manifest.json").read_text())
    titles = [s["title"] for s in manifest["sections"]]
    assert len(titles) == 10 and manifest["unit"] == "150100"
    page = (pack_dir / "index.html").read_text()
    words = subprocess.run(["pdftotext", str(pack_dir / "summary.pdf"), "-"], capture_output=True, text=True,
                           check=True).stdout.replace("\n", "")
    for section in manifest["sections"]:
        assert section["title"] in page and "、".join(section["clauses"]) in page
        assert section["title"] in words
        assert (pack_dir / f"{section['key']}.csv").is_file()
    for clause in ("8.1.4.1", "8.1.4.2", "8.1.4.3", "8.4"):
        assert clause in page
    actions = (pack_dir / "actions.csv").read_text(encoding="utf-8-sig")
    assert "停用" in actions and "按申请单创建业务用户" in actions
    assert list(pack_dir.glob("actions-*.csv"))  # one extract per admin
    assert "to dn" in (pack_dir / "olcAccess-directory.txt").read_text()  # the rules themselves


def test_the_probes_refuse_every_cross_role_write(pack_dir: Path) -> None:
    import csv

    text = (pack_dir / "separation.csv").read_text(encoding="utf-8-sig")
    probes = list(csv.reader(text.splitlines()))[1:]
    assert len(probes) >= 10
    assert all(r[-1] == "是" for r in probes)
    assert any(r[-3] == "允许" for r in probes)  # an own duty is allowed: the rules do not refuse everything
    assert sum(1 for r in probes if r[-3] == "拒绝") >= 7


def test_the_manifest_is_sm2_signed_and_every_file_has_its_sm3(pack_dir: Path) -> None:
    body = (pack_dir / "manifest.json").read_bytes()
    done = subprocess.run(["openssl", "dgst", "-sm3", "-sigopt", "distid:1234567812345678", "-verify",
                           str(pack_dir / "seal.pub.pem"), "-signature", str(pack_dir / "manifest.sig"),
                           str(pack_dir / "manifest.json")], capture_output=True, text=True)
    assert done.returncode == 0 and "Verified OK" in done.stdout
    spki = base64.b64decode(b"".join((pack_dir / "seal.pub.pem").read_bytes().splitlines()[1:-1]))
    r, s = decode_dss_signature((pack_dir / "manifest.sig").read_bytes())
    assert gmalg.SM2(pk=spki[-65:], uid=b"1234567812345678").verify(body, r.to_bytes(32, "big"),
                                                                     s.to_bytes(32, "big"))
    listed = json.loads(body)["files"]
    for name, digest in listed.items():
        line = subprocess.run(["openssl", "dgst", "-sm3", "-r", str(pack_dir / name)], capture_output=True,
                              text=True, check=True).stdout
        assert line.split()[0] == digest, name
    assert set(listed) | {"manifest.json", "manifest.sig"} == {p.name for p in pack_dir.iterdir()}


def test_verify_reports_a_changed_missing_or_added_file(world: w.World, pack_dir: Path,
                                                        tmp_path: Path) -> None:
    assert run_cli(world.settings, "compliance", "verify", str(pack_dir)).exit_code == 0
    copy = tmp_path / "copy"
    shutil.copytree(pack_dir, copy)
    data = bytearray((copy / "accounts.csv").read_bytes())
    data[-3] ^= 1  # one byte
    (copy / "accounts.csv").write_bytes(bytes(data))
    (copy / "forms.csv").unlink()
    (copy / "extra.txt").write_text("slipped in")
    result = run_cli(world.settings, "compliance", "verify", str(copy))
    assert result.exit_code == 4
    assert "changed (its SM3 differs): accounts.csv" in result.output
    assert "missing: forms.csv" in result.output
    assert "not in the manifest: extra.txt" in result.output
    # a manifest rewritten to match, re-signed with another key: the operator's key refuses it
    from idm.oversight import seal_key

    forger = seal_key.load(tmp_path / "forger", create=True)
    forged = tmp_path / "forged"
    shutil.copytree(pack_dir, forged)
    manifest = json.loads((forged / "manifest.json").read_text())
    (forged / "accounts.csv").write_text("登录账号\n")
    from idm.pki import sm2

    manifest["files"]["accounts.csv"] = sm2.sm3((forged / "accounts.csv").read_bytes())
    body = json.dumps(manifest).encode()
    (forged / "manifest.json").write_bytes(body)
    (forged / "manifest.sig").write_bytes(forger.sign(body))
    (forged / "seal.pub.pem").write_bytes(forger.public_pem())
    manifest["files"]["seal.pub.pem"] = sm2.sm3(forger.public_pem())
    body = json.dumps(manifest).encode()
    (forged / "manifest.json").write_bytes(body)
    (forged / "manifest.sig").write_bytes(forger.sign(body))
    trusted = world.settings.data_dir / "seal" / "seal.pub.pem"
    refused = run_cli(world.settings, "compliance", "verify", str(forged), "--public-key", str(trusted))
    assert refused.exit_code == 4 and "signature does not verify" in refused.output
    alone = run_cli(world.settings, "compliance", "verify", str(forged))  # its own key: shown, to compare
    assert alone.exit_code == 0 and forger.fingerprint() in alone.output


def test_no_password_secret_or_full_id_number_in_the_pack(world: w.World, pack_dir: Path) -> None:
    with ops(world.settings) as session:
        numbers = {a["idmIdNumber"][0] for _, a in session.search(world.nodes["own"], "(idmIdNumber=*)",
                                                                    ["idmIdNumber"])}
    assert numbers
    secrets = [p.read_bytes().strip() for p in world.settings.secrets_dir.glob("*.secret")]
    secrets += [p.read_bytes().strip() for p in world.settings.data_dir.glob("*/passphrase")]
    content = b"".join(p.read_bytes() for p in pack_dir.iterdir())
    text = content.decode("utf-8", "replace")
    assert not any(n in text for n in numbers)
    assert not any(s and s in content for s in secrets)
    assert "{ARGON2}" not in text and "userPassword:" not in text and "PRIVATE KEY" not in text
    assert re.search(r"\d{4}\*{10}\d{3}[\dX]", text)  # the masked numbers are there


def test_bad_input_is_refused_and_writes_nothing(world: w.World, pack_dir: Path, tmp_path: Path) -> None:
    for args, said in ((["--from", "2026-13-01", "--to", TODAY], "YYYY-MM-DD"),
                       (["--from", TODAY, "--to", "2026-01-01"], "after")):
        out = tmp_path / "bad"
        result = run_cli(world.settings, "compliance", "pack", "150100", *args, "--out", str(out))
        assert result.exit_code == 1 and said in result.output and not out.exists()
    full = run_cli(world.settings, "compliance", "pack", "150100", "--from", TODAY, "--to", TODAY,
                   "--out", str(pack_dir))
    assert full.exit_code == 1 and "not empty" in full.output
    nowhere = run_cli(world.settings, "compliance", "pack", "999999", "--from", TODAY, "--to", TODAY,
                      "--out", str(tmp_path / "none"))
    assert nowhere.exit_code == 1 and not (tmp_path / "none").exists()


def test_the_days_are_china_days() -> None:
    from idm.compliance.evidence import Window
    from idm.tree.org import Node

    day = Window(Node("ou=150100,dc=edu,dc=cn", "150100", "呼和浩特市", "city"), "20261201", "20261201")
    assert day.since_time == "20261130160000" and day.until_time == "20261201155959Z"
    times = sorted(["20261130155959.999999Z", "20261130160000.000000Z", "20261201155959.000007Z",
                    "20261201160000.000000Z"])
    inside = [t for t in times if day.since_time <= t <= day.until_time]
    assert inside == ["20261130160000.000000Z", "20261201155959.000007Z"]


def test_a_published_pack_is_downloaded_by_the_auditor_of_its_level_only(world: w.World,
                                                                         tmp_path: Path) -> None:
    """The operator publishes; Hohhot's auditor lists and downloads Hohhot's pack (a zip that
    verifies), not the province's; other roles get nothing."""
    import io
    import zipfile

    from tests.conftest import web_app
    from tests.test_webui_console import signed_in

    for unit, out in (("150100", tmp_path / "city"), ("150000", tmp_path / "province")):
        made = run_cli(world.settings, "compliance", "pack", unit, "--from", TODAY, "--to", TODAY,
                       "--out", str(out), "--publish")
        assert made.exit_code == 0 and "published" in made.output, made.output
    app = web_app(world, "packs", "nist")
    auditor = signed_in(app, "auditor")
    page = auditor.get("/admin/audit/packs/").get_data(as_text=True)
    names = re.findall(r'href="/admin/audit/packs/([^"]+)\.zip"', page)
    assert names and all(n.startswith("150100-") for n in names)
    blob = auditor.get(f"/admin/audit/packs/{names[0]}.zip")
    assert blob.status_code == 200 and blob.headers["Cache-Control"] == "no-store"
    with zipfile.ZipFile(io.BytesIO(blob.data)) as archive:
        archive.extractall(tmp_path / "got")
    checked = run_cli(world.settings, "compliance", "verify", str(tmp_path / "got" / names[0]))
    assert checked.exit_code == 0 and "intact" in checked.output
    province = [p.name for p in (world.settings.data_dir / "packs").iterdir() if p.name.startswith("150000-")]
    assert province and auditor.get(f"/admin/audit/packs/{province[0]}.zip").status_code == 404
    assert auditor.get("/admin/audit/packs/..%2F..%2Fidm.json.zip").status_code == 404
    assert signed_in(app, "sysadmin").get("/admin/audit/packs/").status_code == 403
    assert signed_in(app, "sysadmin").get(f"/admin/audit/packs/{names[0]}.zip").status_code == 403


def test_the_auditor_checks_a_published_pack_in_the_browser(world: w.World, tmp_path: Path) -> None:
    """The check page verifies the pack's SM2 signature with the site's seal key and every file's
    SM3, and shows the seal check made with the pack; a file changed afterwards, a pack re-signed
    with another key, a pack of another level and another role are each refused."""
    from tests.conftest import web_app
    from tests.test_webui_console import signed_in

    for out in ("city", "again"):  # twice, maybe within one second: both are published
        made = run_cli(world.settings, "compliance", "pack", "150100", "--from", TODAY, "--to", TODAY,
                       "--out", str(tmp_path / out), "--publish")
        assert made.exit_code == 0, made.output
    app = web_app(world, "packcheck", "nist")
    auditor = signed_in(app, "auditor")
    listing = auditor.get("/admin/audit/packs/").get_data(as_text=True)
    name = sorted(re.findall(r'href="/admin/audit/packs/([^"/]+)/check"', listing))[-1]
    page = auditor.get(f"/admin/audit/packs/{name}/check").get_data(as_text=True)
    assert "完好" in page and "本站的封存公钥" in page and "不通过" not in page, page
    folder = world.settings.data_dir / "packs" / name
    sections = json.loads((folder / "manifest.json").read_text(encoding="utf-8"))["sections"]
    found = next(s["findings"] for s in sections if s["key"] == "audit-log")
    if found:  # other tests of this world alter its log on purpose: the pack's words, not raw values
        assert f"发现 {len(found)} 处问题" in page and all(f.split(" / ")[0] in page for f in found), page
        assert not re.search(r"[0-9]{14}\.[0-9]+Z", page), page
    else:
        assert "完好：日志与封存一致" in page, page
    target = sorted(p for p in folder.iterdir() if p.suffix == ".csv")[0]
    original = target.read_bytes()
    target.write_bytes(original + b"x,y\n")
    page = auditor.get(f"/admin/audit/packs/{name}/check").get_data(as_text=True)
    assert "不通过" in page and f"文件已改动（SM3 不符）：{target.name}" in page, page
    target.write_bytes(original)
    # a forger's pack: the key it carries, its manifest and its signature all of another key
    from idm.pki import sm2

    other = tmp_path / "other.key"
    sm2.new_key(other, None)
    (folder / "seal.pub.pem").write_bytes(sm2.public_pem(other, None))
    manifest = json.loads((folder / "manifest.json").read_text(encoding="utf-8"))
    manifest["files"]["seal.pub.pem"] = sm2.sm3((folder / "seal.pub.pem").read_bytes())
    body = json.dumps(manifest, ensure_ascii=False, sort_keys=True, indent=1).encode("utf-8")
    (folder / "manifest.json").write_bytes(body)
    (folder / "manifest.sig").write_bytes(sm2.sign(other, None, body))
    run = run_cli(world.settings, "compliance", "verify", str(folder))  # with the key it carries
    assert run.exit_code == 0, run.output
    page = auditor.get(f"/admin/audit/packs/{name}/check").get_data(as_text=True)
    assert "不通过" in page and "清单的 SM2 签名不符" in page, page
    assert auditor.get("/admin/audit/packs/..%2Fseal/check").status_code == 404
    assert signed_in(app, "sysadmin").get(f"/admin/audit/packs/{name}/check").status_code == 403
