"""`idm compliance ...`: the evidence pack for an assessment (local operator), and its offline check."""

from __future__ import annotations

import time
from datetime import datetime
from pathlib import Path

import click

from idm.compliance import evidence, pack, published
from idm.errors import InvalidInput
from idm.oversight import seal, seal_key
from idm.tree import org
from idm_cli.common import Context, friendly, pass_ctx


def _day(value: str, what: str) -> str:
    digits = value.replace("-", "")
    try:
        datetime.strptime(digits, "%Y%m%d")
    except ValueError:
        raise InvalidInput(f"{what}应为 YYYY-MM-DD：{value}",
                           f"{what} must be YYYY-MM-DD: {value!r}") from None
    return digits


@click.group("compliance")
def compliance_group() -> None:
    """测评证据包（等保三级、密评）/ the evidence pack for 等保 level 3 and 密评."""


@compliance_group.command("pack")
@click.argument("unit")
@click.option("--from", "since", required=True, help="起始日期 / first day, YYYY-MM-DD")
@click.option("--to", "until", required=True, help="截止日期 / last day, YYYY-MM-DD")
@click.option("--out", "out", required=True, type=click.Path(file_okay=False, path_type=Path),
              help="输出目录（须为空）/ the folder to write (new or empty)")
@click.option("--publish", is_flag=True,
              help="另存一份供审计员在网页中下载 / also keep a copy the auditors download in the web UI")
@pass_ctx
@friendly
def compliance_pack(ctx: Context, unit: str, since: str, until: str, out: Path, publish: bool) -> None:
    """写出一个单位（含下级）在一段时间内的测评证据包 / write a unit's evidence pack for a period
    (the unit and the units below it): index.html, a Chinese PDF, CSVs, an SM2-signed SM3 manifest."""
    first, last = _day(since, "起始日期"), _day(until, "截止日期")
    if first > last:
        raise InvalidInput("起始日期晚于截止日期", "--from is after --to")
    if out.exists() and any(out.iterdir()):
        raise InvalidInput(f"输出目录不是空的：{out}", f"the output folder is not empty: {out}")
    started = time.monotonic()
    settings = ctx.settings()
    key = seal_key.load(ctx.data_dir, create=True)
    with ctx.ops_session() as session:
        window = evidence.Window(org.find(session, unit), first, last)
        log = seal.read(session)  # once, for the seal, its verification and the actions
        sealed = seal.seal(session, key, settings.server_id if not ctx.ldapi else 1, log)  # at every pack
        sections = evidence.gather(session, settings, key, window, log)
    manifest = pack.write(out, sections, window, key)
    if publish:
        click.echo(f"已发布 / published: {published.publish(ctx.data_dir, out, manifest)}")
    click.echo(f"已封存 / sealed: {sealed.count} 条记录 records")
    for s in sections:
        notes = "".join(f"\n  须关注 / look at: {f}" for f in s.findings)
        click.echo(f"{s.title}: {len(s.rows)} 行 rows{notes}")
    click.echo(f"已写出 / written: {out} ({len(manifest['files'])} files, SM2 key {key.fingerprint()[:16]}…) "
               f"in {time.monotonic() - started:.1f} s")


@compliance_group.command("verify")
@click.argument("folder", type=click.Path(exists=True, file_okay=False, path_type=Path))
@click.option("--public-key", type=click.Path(exists=True, dir_okay=False, path_type=Path), default=None,
              help="运维方另行提供的封存公钥 / the operator's seal public key, obtained out of band")
@friendly
def compliance_verify(folder: Path, public_key: Path | None) -> None:
    """离线校验证据包：签名、每个文件的 SM3 / check a pack offline: the signature, every file's SM3."""
    check = pack.verify(folder, public_key.read_bytes() if public_key else None)
    for problem in check.problems:
        click.echo(f"不通过 / FAILED: {problem}", err=True)
    if not check.ok:
        raise SystemExit(4)
    origin = ("给定的公钥 / the key given" if public_key
              else "包内公钥，请与运维方核对指纹 / the key in the pack: compare")
    click.echo(f"完好 / intact: {check.files} 个文件 files, SM2 签名 / signature OK ({origin}: {check.key})")
