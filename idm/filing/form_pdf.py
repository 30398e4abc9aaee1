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
from idm.filing import kinds
from idm.filing.fields import FormData
from idm.filing.forms import Form

FONT = "UMingCN"
# the package's file; IDM_PDF_FONT may name another TrueType file (a .ttc's first face is used)
FONT_FILE = Path("/usr/share/fonts/truetype/arphic/uming.ttc")
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


def render(kind: str, form: Form | None = None, unit_name: str = "", business: bool = False) -> bytes:
    """A4 PDF of the form; blank when `form` is None. A registration without a role is a
    business user's (also `business` for a blank one): its title says so and it has no role
    boxes. The rows between the person and the stamp are the kind's (`idm.filing.kinds`)."""
    register_font()
    d: FormData = form.data if form else FormData(kind=kind, unit="", name="", id_number="", mobile="")
    business = business or (form is not None and kind == "registration" and d.role is None)
    heading = kinds.title(kind, business)
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
    for cells, height in kinds.KINDS[kind].rows(d, business):
        sheet.row(cells, height * ROW)
    stamp = f"{d.opinion}\n\n部门签章：\n{d.stamp_date or '        年    月    日'}"
    sheet.row([("申请人部门意见", 0.22), (stamp, 0.78)], 4 * ROW)
    y = sheet.y - 10 * mm
    c.drawString(LEFT, y, "备注：")
    notes = [n.replace(kinds.KINDS[kind].title, heading) for n in kinds.KINDS[kind].notes]
    for i, note in enumerate(notes):
        c.drawString(LEFT, y - (i + 1) * 6 * mm, note)
    c.showPage()
    c.save()
    return buf.getvalue()
