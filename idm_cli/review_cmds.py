"""`idm review`: access reviews (R16) as the admins of a level run them."""

from __future__ import annotations

from pathlib import Path

import click

from idm.directory.session import Session
from idm.oversight import review_report, reviews
from idm.rules.actor import Actor
from idm_cli.signin_cmds import acting


@click.group("review")
def review_group() -> None:
    """定期核查（R16）/ access reviews, every six months."""


def _print(c: reviews.Campaign) -> None:
    click.echo(f"核查 review: {c.review_id}  单位 unit: {c.unit}  状态 status: {c.status}  "
               f"应完成 due: {c.due}  已决定 decided: {c.decided}/{len(c.rows)}")
    for r in c.rows:
        access = r.role or " ".join(r.grants) or "-"
        flags = ",".join(r.flags) or "-"
        click.echo(f"  {r.uid:<16} {r.name:<8} {r.kind:<8} {r.status:<8} {access:<28} "
                   f"last={r.last_signin or 'never'} flags={flags} decision={r.decision or '-'}"
                   + (f" form={r.form}" if r.form else ""))


@review_group.command("open")
@click.argument("unit")
@acting
def review_open(session: Session, actor: Actor, unit: str) -> None:
    """发起本单位的定期核查（系统管理员）/ open a review of your unit (system admin)."""
    _print(reviews.open_campaign(session, actor, unit))


@review_group.command("show")
@click.argument("review_id")
@acting
def review_show(session: Session, actor: Actor, review_id: str) -> None:
    """显示核查及各账号的决定 / show a campaign with its rows."""
    _print(reviews.get(session, review_id))


@review_group.command("decide")
@click.argument("review_id")
@click.argument("uid")
@click.argument("decision", type=click.Choice(list(reviews.DECISIONS)))
@click.option("--grant", "grants", multiple=True, help="撤销哪项授权（默认全部）/ the grant to revoke")
@click.option("--reason", default="", help="理由 / reason")
@acting
def review_decide(session: Session, actor: Actor, review_id: str, uid: str, decision: str,
                  grants: tuple[str, ...], reason: str) -> None:
    """保留、撤销授权或停用（生成申请单并办理）/ keep, revoke a grant or disable (with its form)."""
    row = reviews.decide(session, actor, review_id, uid, decision, list(grants), reason)
    click.echo(f"已记录 / recorded: {uid} {decision}" + (f"  申请单 form: {row.form}" if row.form else ""))
    if decision == "revoke":
        click.echo("安全保密管理员据此办理 / the security admin executes it: idm grant remove "
                   f"{uid} {row.revoke[0]} --form {row.form}")


@review_group.command("close")
@click.argument("review_id")
@acting
def review_close(session: Session, actor: Actor, review_id: str) -> None:
    """全部决定后关闭，待审计员会签 / close once every row is decided."""
    reviews.close(session, actor, review_id)
    click.echo(f"已关闭，待会签 / closed, for the auditor to countersign: {review_id}")


@review_group.command("countersign")
@click.argument("review_id")
@acting
def review_countersign(session: Session, actor: Actor, review_id: str) -> None:
    """审计员会签 / the level's auditor countersigns the closure."""
    reviews.countersign(session, actor, review_id)
    click.echo(f"已会签 / countersigned: {review_id}")


@review_group.command("report")
@click.argument("review_id")
@click.option("--csv", "csv_out", type=click.Path(dir_okay=False, path_type=Path), default=None)
@click.option("--pdf", "pdf_out", type=click.Path(dir_okay=False, path_type=Path), default=None)
@acting
def review_report_cmd(session: Session, actor: Actor, review_id: str, csv_out: Path | None,
                      pdf_out: Path | None) -> None:
    """核查报告（CSV 与 PDF）/ the report as CSV and PDF."""
    campaign = reviews.get(session, review_id)
    if csv_out is None and pdf_out is None:
        click.echo(review_report.csv_text(campaign), nl=False)
    if csv_out is not None:
        csv_out.write_text(review_report.csv_text(campaign), encoding="utf-8")
        click.echo(f"CSV: {csv_out}")
    if pdf_out is not None:
        pdf_out.write_bytes(review_report.pdf(campaign))
        click.echo(f"PDF: {pdf_out}")


@review_group.command("overdue")
@click.argument("unit")
@acting
def review_overdue(session: Session, actor: Actor, unit: str) -> None:
    """下级单位中超过六个月未完成核查的 / units below that are overdue."""
    for o in reviews.overdue_below(session, unit):
        click.echo(f"{o.unit.code} {o.unit.name}  last closed: {o.last_closed or 'never'}  "
                   f"open since: {o.open_since or '-'}")
