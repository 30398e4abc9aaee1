"""Printable A4 forms in Chinese (R10, R11), blank or pre-filled, with the same fields and notes
as the paper originals. A pre-filled form carries a QR code with its id and the SHA-256 of its
content, so a scan of the stamped copy can be matched back to its record.

The Chinese face is a TrueType Song (Ming) font from a Debian package, AR PL UMing CN
(fonts-arphic-uming), embedded as a subset: every viewer and printer draws the same glyphs.
reportlab's built-in STSong-Light is not embedded (each reader substitutes its own face), and the
Noto CJK fonts are CFF outlines, which reportlab cannot embed.
"""

from __future__ import annotations

import io
import os
from pathlib import Path

import segno
from reportlab.lib.pagesizes import A4
from reportlab.lib.units import mm
from reportlab.lib.utils import ImageReader
from reportlab.pdfbase import pdfmetrics
from reportlab.pdfbase.ttfonts import TTFont
from reportlab.pdfgen import canvas

from idm.errors import ServerError
from idm.filing.fields import FormData
from idm.filing.forms import Form
from idm.validation import ADMIN_ROLE_ZH

FONT = "UMingCN"
# the package's file; IDM_PDF_FONT may name another TrueType file (a .ttc's first face is used)
FONT_FILE = Path("/usr/share/fonts/truetype/arphic/uming.ttc")
BUSINESS_REGISTRATION = "业务类用户注册申请单"
TITLES = {"registration": "管理类用户注册申请单", "change": "管理类用户变更申请单",
          "grant": "业务类用户授权申请单", "cert": "教育 CA 证书申请单",
          "service": "下游系统接入申请单", "delegation": "委托上级用户管理部门管理申请单"}
NOTES = {
    "registration": ["1. 《管理类用户注册申请单》原件由本级用户管理部门保管。"],
    "change": [
        "1. 《管理类用户变更申请单》适用于管理类用户信息更改（包括办公电话、电子邮箱、手机、",
        "   用户岗位等）、账号停用、账号解锁及重置密码等情况。",
        "2. 《管理类用户变更申请单》原件由本级用户管理部门保管。",
    ],
    **{kind: [f"1. 《{title}》原件由受理的用户管理部门保管。"]
       for kind, title in (("grant", "业务类用户授权申请单"), ("cert", "教育 CA 证书申请单"),
                           ("service", "下游系统接入申请单"),
                           ("delegation", "委托上级用户管理部门管理申请单"))},
}
LEFT, RIGHT, TOP = 20 * mm, A4[0] - 20 * mm, A4[1] - 25 * mm
ROW = 11 * mm


def register_font() -> None:
    """Register the embedded face once per process; a missing file says which package holds it."""
    if FONT in pdfmetrics.getRegisteredFontNames():
        return
    path = Path(os.environ.get("IDM_PDF_FONT") or FONT_FILE)
    if not path.is_file():
        raise ServerError(f"找不到打印申请单所用的中文字体 {path}（apt install fonts-arphic-uming）",
                          f"no Chinese font for the printed forms at {path} (apt install fonts-arphic-uming)")
    pdfmetrics.registerFont(TTFont(FONT, str(path), subfontIndex=0))


def qr_payload(form: Form) -> str:
    return f"idm-form:{form.form_id};sha256={form.content_digest()}"


def _box(checked: bool) -> str:
    return "■" if checked else "□"


class _Sheet:
    """A ruled table drawn row by row from the top of the page."""

    def __init__(self, c: canvas.Canvas) -> None:
        self.c = c
        self.y = TOP - 22 * mm

    def row(self, cells: list[tuple[str, float]], height: float = ROW) -> None:
        c, x = self.c, LEFT
        c.rect(LEFT, self.y - height, RIGHT - LEFT, height)
        for text, width in cells:
            if x > LEFT:
                c.line(x, self.y, x, self.y - height)
            lines = text.split("\n")
            for i, line in enumerate(lines):
                c.drawString(x + 2 * mm, self.y - 7 * mm - i * 5 * mm, line)
            x += width * (RIGHT - LEFT)
        self.y -= height


def _roles(role: str | None) -> str:
    return "    ".join(f"{_box(role == key)}{name}" for key, name in ADMIN_ROLE_ZH.items())


def _other_kinds(sheet: _Sheet, d: FormData) -> None:
    """The kinds the seed lacks, in the same shape: the person, then what is asked."""
    sheet.row([("手机号码", 0.12), (d.mobile, 0.88)])
    if d.kind in ("grant", "cert"):
        sheet.row([("登录账号", 0.22), (d.account_uid or "", 0.78)])
    if d.kind == "grant":
        sheet.row([("授予", 0.22), ("、".join(d.grants_add) or "-", 0.78)])
        sheet.row([("撤销", 0.22), ("、".join(d.grants_remove) or "-", 0.78)])
    if d.kind == "service":
        sheet.row([("服务账号名", 0.22), (d.service_name or "", 0.78)])
    if d.kind == "delegation":
        asked = f"{_box(d.delegate)}委托上级管理  {_box(not d.delegate)}撤销委托"
        sheet.row([("申请事项", 0.22), (asked, 0.78)])
    sheet.row([("说明", 0.22), (d.reason or d.notes, 0.78)], 2 * ROW)


def title(kind: str, business: bool = False) -> str:
    """The seed's registration form is the admin one; a business user's has its own title."""
    return BUSINESS_REGISTRATION if kind == "registration" and business else TITLES[kind]


def render(kind: str, form: Form | None = None, unit_name: str = "", business: bool = False) -> bytes:
    """A4 PDF of the form; blank when `form` is None. A registration without a role is a
    business user's (also `business` for a blank one): its title says so and it has no role boxes."""
    register_font()
    d: FormData = form.data if form else FormData(kind=kind, unit="", name="", id_number="", mobile="")
    business = business or (form is not None and kind == "registration" and d.role is None)
    heading = title(kind, business)
    buf = io.BytesIO()
    c = canvas.Canvas(buf, pagesize=A4, initialFontName=FONT, initialFontSize=10.5)
    c.setTitle(heading + (f" {form.form_id}" if form else ""))
    c.setFont(FONT, 18)
    c.drawCentredString(A4[0] / 2, TOP, heading)
    c.setFont(FONT, 10.5)
    if form:
        c.drawString(LEFT, TOP - 10 * mm, f"编号：{form.form_id}")
        qr = segno.make(qr_payload(form), error="m")
        png = io.BytesIO()
        qr.save(png, kind="png", scale=4, border=2)
        png.seek(0)
        c.drawImage(ImageReader(png), RIGHT - 28 * mm, TOP - 14 * mm, 28 * mm, 28 * mm)
    sheet = _Sheet(c)
    unit = f"{unit_name}（{d.unit}）" if unit_name else d.unit
    sheet.row([("用户单位名称" if kind == "change" else "申请人单位名称", 0.22), (unit, 0.78)])
    sheet.row([("姓名", 0.12), (d.name, 0.28), ("身份证号", 0.15), (d.id_number, 0.45)])
    if kind == "registration":
        sheet.row([("办公电话", 0.12), (d.office_phone or "", 0.28), ("电子邮箱", 0.15),
                   (d.email or "", 0.45)])
        sheet.row([("手机号码", 0.12), (d.mobile, 0.88)])
        if not business:
            sheet.row([("管理类用户岗位", 0.22), (_roles(d.role), 0.78)])
        a = d.address
        sheet.row([("单位通讯地址", 0.22), (f"{a.province}  {a.city}  {a.district}  {a.street}", 0.78)])
        sheet.row([("其他补充说明", 0.22), (d.notes, 0.78)], 2 * ROW)
    elif kind in ("grant", "cert", "service", "delegation"):
        _other_kinds(sheet, d)
    else:
        sheet.row([("登录账号", 0.12), (d.account_uid or "", 0.28), ("账号 ID", 0.15),
                   (d.account_id or "", 0.45)])
        boxes = {"info": "信息变更", "disable": "停用/恢复", "unlock": "账号解锁", "reset": "密码重置"}
        ticked = "disable" if d.change_type == "restore" else d.change_type
        types = "  ".join(f"{_box(ticked == key)}{name}" for key, name in boxes.items())
        sheet.row([("变更类型", 0.22), (types, 0.78)])
        sheet.row([("管理类用户岗位", 0.22), (_roles(d.role), 0.78)])
        detail = ["信息变更：请分别写明修改前、后的详细情况。",
                  *(f"  变更前 {k}：{v}" for k, v in d.before.items()),
                  *(f"  变更后 {k}：{v}" for k, v in d.after.items()),
                  f"停用/恢复：请写明账号停用原因。{d.reason}"]
        sheet.row([("变更详细说明", 0.22), ("\n".join(detail), 0.78)], max(3, len(detail) + 1) * 6 * mm)
    stamp = f"{d.opinion}\n\n部门签章：\n{d.stamp_date or '        年    月    日'}"
    sheet.row([("申请人部门意见", 0.22), (stamp, 0.78)], 4 * ROW)
    y = sheet.y - 10 * mm
    c.drawString(LEFT, y, "备注：")
    notes = [n.replace(TITLES[kind], heading) for n in NOTES[kind]]
    for i, note in enumerate(notes):
        c.drawString(LEFT, y - (i + 1) * 6 * mm, note)
    c.showPage()
    c.save()
    return buf.getvalue()
