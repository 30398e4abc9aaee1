"""`idm form ...`: record, show, list, attach scans, reject, print, retention."""

from __future__ import annotations

import json
from pathlib import Path

import click

from idm.directory.session import Session
from idm.errors import InvalidInput
from idm.filing import fields, form_pdf, forms, keeping, kinds, listing
from idm.rules.actor import Actor
from idm.tree import org
from idm.validation import ADMIN_ROLE_ZH
from idm_cli.common import Context, friendly, pass_ctx
from idm_cli.signin_cmds import acting, open_acting


@click.group("form")
def form_group() -> None:
    """申请单（用户注册/变更的唯一依据，R10-R12）/ request forms, the basis of every admin action."""


def _load(path: Path) -> fields.FormData:
    try:
        raw = json.loads(path.read_text(encoding="utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise InvalidInput(f"{path}: 不是 UTF-8 的 JSON：{exc}", f"{path}: not UTF-8 JSON: {exc}") from None
    return fields.from_dict(raw, str(path))


def _print(form: forms.Form) -> None:
    d = form.data
    kind = f"{kinds.KINDS[d.kind].zh} {d.kind}"
    click.echo(f"编号 id:          {form.form_id}")
    click.echo(f"类型 kind:        {kind}" + (f" / {kinds.CHANGE_TYPES[d.change_type]} {d.change_type}"
                                              if d.change_type else ""))
    click.echo(f"状态 status:      {forms.STATUS_ZH.get(form.status, form.status)} {form.status}")
    click.echo(f"单位 unit:        {d.unit}")
    click.echo(f"姓名 name:        {d.name}")
    role = ADMIN_ROLE_ZH.get(d.role or "", "业务用户 business user")
    click.echo(f"角色 role:        {role} {d.role or ''}")
    if d.account_uid:
        click.echo(f"登录账号 account: {d.account_uid}")
    for step, done in form.steps.items():
        click.echo(f"步骤 step:        {step}: {done['target']} ({done['by']}, {done['at']})")
    click.echo(f"扫描件 scan:      {form.scan_type or '-'} {form.scan_sha256 or ''}")
    click.echo(f"保存至 retain:    {form.retain_until or '-'}")
    click.echo(f"内容摘要 digest:  {form.content_digest()}")


@form_group.command("add")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@acting
def form_add(session: Session, actor: Actor, file: Path) -> None:
    """登记收到的申请单（JSON）/ record a received form (a JSON file of its fields)."""
    form = forms.add(session, actor, _load(file))
    click.echo(f"已登记 / recorded: {form.form_id}")


@form_group.command("show")
@click.argument("form_id")
@acting
def form_show(session: Session, actor: Actor, form_id: str) -> None:
    """显示申请单 / show a form."""
    _print(forms.get(session, form_id))


@form_group.command("list")
@click.argument("unit")
@click.option("--status", type=click.Choice(list(forms.STATUS_ZH)), default=None)
@acting
def form_list(session: Session, actor: Actor, unit: str, status: str | None) -> None:
    """列出本单位登记的申请单 / list the forms recorded at UNIT."""
    for form in listing.list_forms(session, unit, status):
        click.echo(f"{form.form_id}\t{form.data.kind}\t{form.status}\t{form.data.unit}\t{form.data.name}")


@form_group.command("attach-scan")
@click.argument("form_id")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@acting
def form_attach(session: Session, actor: Actor, form_id: str, file: Path) -> None:
    """附加盖章申请单扫描件（PDF/JPEG/PNG，≤2 MiB）/ attach the scan of the stamped form."""
    digest = keeping.attach_scan(session, actor, forms.get(session, form_id), file.read_bytes())
    click.echo(f"已附加 / attached: SHA-256 {digest}")


@form_group.command("reject")
@click.argument("form_id")
@click.option("--reason", required=True)
@acting
def form_reject(session: Session, actor: Actor, form_id: str, reason: str) -> None:
    """驳回申请单 / reject a form."""
    forms.reject(session, actor, forms.get(session, form_id), reason)
    click.echo(f"已驳回 / rejected: {form_id}")


@form_group.command("pdf")
@click.argument("form_id", required=False)
@click.option("--blank", type=click.Choice(list(kinds.KINDS)), default=None,
              help="空白申请单 / a blank form of this kind")
@click.option("--business", is_flag=True,
              help="空白的业务类用户注册申请单 / a blank business user's registration")
@click.option("-o", "--output", type=click.Path(dir_okay=False, path_type=Path), required=True)
@click.option("--as", "as_uid", envvar="IDM_AS", default=None, help="您的登录账号 / your login")
@click.option("--password-file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--code", default=None, help="动态验证码（已启用时）/ your second factor's code")
@pass_ctx
@friendly
def form_pdf_cmd(ctx: Context, form_id: str | None, blank: str | None, business: bool, output: Path,
                 as_uid: str | None, password_file: Path | None, code: str | None) -> None:
    """打印申请单 A4 PDF（空白或已填写，带二维码）/ print a form as an A4 PDF (blank or filled)."""
    if blank:
        output.write_bytes(form_pdf.render(blank, business=business))
    elif form_id and as_uid:
        with open_acting(ctx.settings(), as_uid, password_file, code) as session:
            form = forms.get(session, form_id)
            unit = org.find(session, form.data.unit).name
        output.write_bytes(form_pdf.render(form.data.kind, form, unit))
    else:
        raise InvalidInput("请给出申请单编号和 --as，或 --blank", "give a form id with --as, or --blank")
    click.echo(f"已生成 / written: {output}")


@form_group.command("retention")
@click.argument("unit", required=False)
@pass_ctx
@friendly
def form_retention(ctx: Context, unit: str | None) -> None:
    """列出已过保存期的申请单（不会自动删除）/ forms past their retention (never purged automatically)."""
    with ctx.ops_session() as session:
        past = keeping.past_retention(session, unit)
    for form in past:
        click.echo(f"{form.form_id}\t{form.retain_until}\t{form.data.unit}\t{form.data.name}")
    click.echo(f"合计 / total: {len(past)}")


@form_group.command("purge")
@click.argument("form_id")
@pass_ctx
@friendly
def form_purge(ctx: Context, form_id: str) -> None:
    """销毁一份已过保存期的申请单的内容，仅留编号（本机运维）/ erase a form past its retention,
    keeping only its number (local operator)."""
    with ctx.ops_session() as session:
        keeping.purge(session, forms.get(session, form_id))
    click.echo(f"已销毁内容，仅留编号 / purged (number kept): {form_id}")
