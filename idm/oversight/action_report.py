"""The auditor's actions as an A4 PDF (landscape): the filters it was made with, then one line
per action with who (name and role), what in words, on whom, the form and the outcome. Same
font as the forms; the reader's words for people come from the caller (`namer`)."""

from __future__ import annotations

import io
from collections.abc import Callable, Iterable

from reportlab.lib.pagesizes import A4, landscape
from reportlab.lib.units import mm
from reportlab.pdfbase.pdfmetrics import stringWidth
from reportlab.pdfgen import canvas

from idm.filing.form_pdf import FONT, register_font
from idm.labels import label, local_time
from idm.oversight.actions import Action, title

COLUMNS = (("时间", 32), ("操作人", 56), ("操作", 52), ("对象", 58), ("申请单", 48), ("结果", 26))


def _fit(text: str, width: float, size: float) -> str:
    """The text cut to the column's width, with an ellipsis where it was cut."""
    if stringWidth(text, FONT, size) <= width:
        return text
    while text and stringWidth(text + "…", FONT, size) > width:
        text = text[:-1]
    return text + "…"


def pdf(found: Iterable[Action], namer: Callable[[str], str], heading: str, scope: str) -> bytes:
    register_font()
    out = io.BytesIO()
    width, height = landscape(A4)
    page = canvas.Canvas(out, pagesize=(width, height))
    page.setTitle(heading)
    y = height - 18 * mm

    def line(cells: list[str], size: float = 8) -> None:
        nonlocal y
        if y < 15 * mm:
            page.showPage()
            y = height - 18 * mm
        page.setFont(FONT, size)
        x = 12 * mm
        for (_, w), cell in zip(COLUMNS, cells, strict=True):
            page.drawString(x, y, _fit(cell, (w - 2) * mm, size))
            x += w * mm
        y -= 5 * mm

    page.setFont(FONT, 14)
    page.drawString(12 * mm, y, heading)
    y -= 7 * mm
    page.setFont(FONT, 9)
    page.drawString(12 * mm, y, scope)
    y -= 8 * mm
    line([t for t, _ in COLUMNS])
    rows = list(found)
    for a in rows:
        outcome = "成功" if a.ok else f"被拒绝（{label('result', a.result)}）"
        line([local_time(a.when, seconds=True), namer(a.actor), title(a), namer(a.target), a.form or "—",
              outcome])
    y -= 3 * mm
    page.setFont(FONT, 9)
    page.drawString(12 * mm, max(y, 12 * mm), f"合计 {len(rows)} 项操作")
    page.showPage()
    page.save()
    return out.getvalue()
