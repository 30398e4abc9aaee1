"""Printed forms: A4 PDFs in Chinese whose text carries the fields, whose QR code carries the
form's id and content digest; pages rendered to PNG are kept in artifacts/forms/."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest

from idm.directory import names
from idm.filing import form_pdf, forms, kinds
from tests import world as w
from tests.conftest import ROOT, ops, run_cli

ARTIFACTS = ROOT / "artifacts" / "forms"


def pdf_text(path: Path) -> str:
    return subprocess.run(["pdftotext", "-layout", str(path), "-"], capture_output=True, text=True,
                          check=True).stdout


def to_png(path: Path, name: str) -> Path:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    subprocess.run(["pdftoppm", "-png", "-r", "110", "-singlefile", str(path), str(ARTIFACTS / name)],
                   check=True)
    return ARTIFACTS / f"{name}.png"


@pytest.mark.parametrize("kind", ["registration", "change"])
def test_blank_forms_have_the_fields_and_notes_of_the_originals(world: w.World, tmp_path: Path,
                                                                kind: str) -> None:
    out = tmp_path / f"{kind}.pdf"
    result = run_cli(world.settings, "form", "pdf", "--blank", kind, "-o", str(out))
    assert result.exit_code == 0, result.output
    text = pdf_text(out)
    assert out.read_bytes().startswith(b"%PDF-")
    assert kinds.KINDS[kind].title in text
    for label in ("姓名", "身份证号", "管理类用户岗位", "申请人部门意见", "部门签章", "备注",
                  "系统管理员", "安全管理员", "安全审计员"):
        assert label in text, label
    if kind == "registration":
        for label in ("申请人单位名称", "办公电话", "电子邮箱", "手机号码", "单位通讯地址", "其他补充说明"):
            assert label in text, label
    else:
        for label in ("用户单位名称", "登录账号", "账号 ID", "变更类型", "信息变更", "停用/恢复",
                      "账号解锁", "密码重置", "变更详细说明"):
            assert label in text, label
    assert "原件由本级用户管理部门保管" in text
    assert to_png(out, f"blank-{kind}").stat().st_size > 10_000


def test_filled_form_text_and_qr_round_trip(world: w.World, tmp_path: Path,
                                            cli_admins: dict[str, str]) -> None:
    form_file = tmp_path / "form.json"
    form_file.write_text(json.dumps({
        "kind": "registration", "unit": "150102", "name": "阿拉坦·其其格", "id_number": w.id_number(321),
        "mobile": "13904710003", "role": "auditor", "office_phone": "0471-2850003",
        "email": "alatan@demo.edu.cn", "notes": "兼任两个账号", "opinion": "同意", "stamp_date": "2026-11-20",
        "address": {"province": "内蒙古自治区", "city": "呼和浩特市", "district": "新城区",
                    "street": "丁香路5号"},
    }, ensure_ascii=False), encoding="utf-8")
    added = run_cli(world.settings, "form", "add", str(form_file), "--as", cli_admins["sysadmin"])
    assert added.exit_code == 0, added.output
    form_id = added.output.split("recorded: ")[1].strip()
    out = tmp_path / "filled.pdf"
    printed = run_cli(world.settings, "form", "pdf", form_id, "-o", str(out), "--as", cli_admins["sysadmin"])
    assert printed.exit_code == 0, printed.output
    text = pdf_text(out)
    for value in (form_id, "新城区（150102）", "阿拉坦·其其格", w.id_number(321), "0471-2850003",
                  "alatan@demo.edu.cn", "13904710003", "■安全审计员", "□系统管理员", "丁香路5号",
                  "兼任两个账号", "同意", "2026-11-20"):
        assert value in text, value
    png = to_png(out, "filled-registration")
    decoded = subprocess.run(["zbarimg", "--quiet", "--raw", str(png)], capture_output=True, text=True,
                             check=True).stdout.strip()
    with ops(world.settings) as session:
        form = forms.get(session, form_id)
    assert decoded == form_pdf.qr_payload(form)
    assert decoded.endswith(f"sha256={form.content_digest()}")


def test_the_chinese_face_is_embedded_so_every_printer_draws_the_same(world: w.World, tmp_path: Path) -> None:
    out = tmp_path / "blank.pdf"
    assert run_cli(world.settings, "form", "pdf", "--blank", "registration", "-o", str(out)).exit_code == 0
    fonts = subprocess.run(["pdffonts", str(out)], capture_output=True, text=True, check=True).stdout
    rows = [line.split() for line in fonts.splitlines()[2:]]
    assert rows and all("yes" == row[-5] for row in rows), fonts  # the "emb" column
    assert "UMingCN" in fonts and "STSong" not in fonts


def test_a_business_users_registration_has_its_own_title_and_no_role_boxes(
    world: w.World, tmp_path: Path
) -> None:
    """And a name with a middle dot prints as written, with no gap after the dot."""
    county = names.node_dn(["150000", "150100", "150102"], world.settings.suffix)
    form_id = world.form("registration", county, name="阿拉坦·其其格", id_number=w.id_number(322))
    with ops(world.settings) as session:
        form = forms.get(session, form_id)
    out = tmp_path / "business.pdf"
    out.write_bytes(form_pdf.render("registration", form, "新城区"))
    text = pdf_text(out)
    assert "业务类用户注册申请单" in text and "管理类用户注册申请单" not in text
    assert "管理类用户岗位" not in text and "系统管理员" not in text
    assert "阿拉坦·其其格" in text
    blank = tmp_path / "blank-business.pdf"
    assert run_cli(world.settings, "form", "pdf", "--blank", "registration", "--business",
                   "-o", str(blank)).exit_code == 0
    assert "业务类用户注册申请单" in pdf_text(blank) and "管理类用户岗位" not in pdf_text(blank)
