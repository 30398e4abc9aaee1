"""The pack's Chinese PDF summary (A4): the unit and period, then per evidence item its title,
clauses, what it proves, its facts, what to look at, and how many rows its CSV holds. Same
font as the forms (reportlab's STSong-Light)."""

from __future__ import annotations

import io
from typing import Any

from reportlab.lib.pagesizes import A4
from reportlab.lib.units import mm
from reportlab.pdfbase.pdfmetrics import stringWidth
from reportlab.pdfgen import canvas

from idm.compliance.evidence import Section
from idm.filing.form_pdf import FONT, register_font
from idm.labels import local_time

LEFT, WIDTH = 18 * mm, A4[0] - 36 * mm


def _lines(text: str, size: float) -> list[str]:
    """`text` broken to the page's width (Chinese breaks anywhere)."""
    out, line = [], ""
    for ch in text:
        if stringWidth(line + ch, FONT, size) > WIDTH:
            out.append(line)
            line = ""
        line += ch
    return [*out, line] if line else out


def dashed(day: str) -> str:
    return f"{day[:4]}-{day[4:6]}-{day[6:8]}"


def pdf(sections: list[Section], meta: dict[str, Any]) -> bytes:
    register_font()
    buffer = io.BytesIO()
    page = canvas.Canvas(buffer, pagesize=A4)
    page.setTitle(f"测评证据包 {meta['unit_name']}")
    y = A4[1] - 20 * mm

    def say(text: str, size: float = 9.5, gap: float = 1.5) -> None:
        nonlocal y
        for line in _lines(text, size):
            if y < 18 * mm:
                page.showPage()
                y = A4[1] - 20 * mm
            page.setFont(FONT, size)
            page.drawString(LEFT, y, line)
            y -= size * 0.36 * mm + gap * mm + 1.8 * mm

    say(f"测评证据包：{meta['unit_name']}（{meta['unit']}）", 16, 3)
    made = local_time(meta["made_at"], seconds=True)
    say(f"期间 {dashed(meta['from'])} 至 {dashed(meta['to'])}；生成于 {made}")
    say(f"每个文件的 SM3 摘要列于 manifest.json，清单以 SM2 签名（manifest.sig，标识 1234567812345678），"
        f"签名公钥指纹 {meta['key'][:32]}…；以 idm compliance verify 离线校验。")
    for number, s in enumerate(sections, 1):
        y -= 3 * mm
        say(f"{number}. {s.title}", 12.5, 2)
        say(f"对应条款：{'、'.join(s.clauses)}")
        say(f"证明：{s.proves}")
        for key, value in s.facts:
            say(f"· {key}{'：' + value if value else ''}")
        for finding in s.findings:
            say(f"须关注：{finding}")
        say(f"明细：{s.key}.csv，{len(s.rows)} 行" + (f"；附件 {'、'.join(s.files)}" if s.files else ""))
    page.showPage()
    page.save()
    return buffer.getvalue()
