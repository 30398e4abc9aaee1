"""The access review report (R16): a CSV of its rows in words, and an A4 PDF: the campaign, then
one line per account with its flags and the decision taken, and who closed and countersigned
it. Same font as the forms."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator

from reportlab.lib.pagesizes import A4, landscape
from reportlab.lib.units import mm
from reportlab.pdfgen import canvas

from idm.directory import names
from idm.filing.form_pdf import FONT, register_font
from idm.labels import label, local_time
from idm.oversight.audit import safe_cell
from idm.oversight.reviews import DECISIONS, FLAGS, STATUS_ZH, Campaign

COLUMNS = (("账号", 30), ("姓名", 28), ("类型", 16), ("状态", 16), ("角色/授权", 60), ("最近登录", 24),
           ("标记", 60), ("决定", 20), ("申请单", 40))


def pdf(campaign: Campaign) -> bytes:
    register_font()
    out = io.BytesIO()
    width, height = landscape(A4)
    pdf = canvas.Canvas(out, pagesize=(width, height))
    pdf.setTitle(f"定期核查报告 {campaign.review_id}")
    y = height - 18 * mm

    def line(text: str, size: float = 9) -> None:
        nonlocal y
        if y < 15 * mm:
            pdf.showPage()
            y = height - 18 * mm
        pdf.setFont(FONT, size)
        pdf.drawString(12 * mm, y, text)
        y -= size * 0.5 * mm + 2.5 * mm

    line(f"用户定期核查报告  {campaign.review_id}", 14)
    line(f"单位 {campaign.unit}　状态 {STATUS_ZH.get(campaign.status, campaign.status)}　"
         f"发起 {campaign.opened_at[:8]}（{campaign.opened_by}）　应完成 {campaign.due}")
    for step in campaign.history[1:]:
        line(f"{STATUS_ZH.get(step['status'], step['status'])}：{step['by']}  {step['at']}")
    line(f"账号 {len(campaign.rows)}，已决定 {campaign.decided}")
    y -= 2 * mm

    def row(cells: list[str]) -> None:
        nonlocal y
        if y < 15 * mm:
            pdf.showPage()
            y = height - 18 * mm
        x = 12 * mm
        pdf.setFont(FONT, 8)
        for (_, w), cell in zip(COLUMNS, cells, strict=True):
            pdf.drawString(x, y, cell[: int(w / 2.2)])
            x += w * mm
        y -= 5 * mm

    row([title for title, _ in COLUMNS])
    for r in campaign.rows:
        access = r.role or " ".join(r.grants) or "-"
        kind = "管理" if r.kind == "admin" else "业务"
        flags = "、".join(FLAGS[f] for f in r.flags) or "-"
        row([r.uid, r.name, kind, "启用" if r.status == "active" else "停用", access, r.last_signin or "从未",
             flags, DECISIONS.get(r.decision or "", "未定"), r.form or "-"])
    pdf.showPage()
    pdf.save()
    return out.getvalue()


REPORT_COLUMNS = ("登录账号", "姓名", "类型", "状态", "角色", "授权", "最近登录", "标记", "决定",
                  "撤销的授权", "申请单", "决定人", "决定时间")


def report_rows(campaign: Campaign) -> Iterator[list[str]]:
    """In words, as the PDF (grants keep their codes: the report is read beside the grant table);
    every cell safe to open in a spreadsheet."""
    for r in campaign.rows:
        cells = [r.uid, r.name, label("account_kind", r.kind), label("status", r.status),
                 label("role", r.role) if r.role else "", " ".join(r.grants), r.last_signin or "从未",
                 "、".join(label("review_flag", f) for f in r.flags),
                 label("review_decision", r.decision) if r.decision else "未定", " ".join(r.revoke),
                 r.form or "", names.first_value(r.by) if r.by else "", local_time(r.at)]
        yield [safe_cell(c) for c in cells]


def csv_text(campaign: Campaign) -> str:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(REPORT_COLUMNS)
    writer.writerows(report_rows(campaign))
    return out.getvalue()
