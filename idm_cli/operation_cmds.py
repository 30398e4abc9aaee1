"""One command per admin operation, generated from `idm.operations`: its place (`idm user
disable`, `idm grant add`, ...), its arguments (the account, the grant), the form it rests on,
and what it hands over. Each runs `idm.pipeline.run` as the signed-in admin; nothing here
knows a rule of its own.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import click
from cryptography.hazmat.primitives import serialization

from idm import operations, pipeline
from idm.directory.session import Session
from idm.filing.kinds import KINDS
from idm.operations import Operation
from idm.ops.bootstrap import write_secret
from idm.pki import authority
from idm.rules.actor import Actor
from idm_cli.common import Context
from idm_cli.signin_cmds import acting

ONE_TIME = ("一次性密码（仅显示一次，首次登录须修改）/ one-time password (shown once, must change at first "
            "login)")
SECRET = "密钥（仅显示一次）/ secret (shown once)"
IN_FILE = click.Path(exists=True, dir_okay=False, path_type=Path)
OUT_FILE = click.Path(dir_okay=False, path_type=Path)


def hand_over(secret: str, out: Path | None, what: str = ONE_TIME) -> None:
    """R13: a one-time password reaches its holder by a safe means: shown once, or a 0600 file."""
    if out is not None:
        write_secret(out, secret)
        click.echo(f"已写入 / written to: {out} (0600)")
    else:
        click.echo(f"{what}: {secret}")


def _options(op: Operation) -> list[Callable[[Any], Any]]:
    """The command's arguments and options, in the order they are shown."""
    out: list[Callable[[Any], Any]] = []
    if op.on == "account":
        out.append(click.argument("uid"))
    if op.value:
        out.append(click.argument("value", metavar="APP#ROLE"))
    out.append(click.option("--form", "form_id", required=True,
                            help="申请单编号（唯一依据，R12）/ the form this rests on (R12)"))
    if "to" in op.inputs:
        out.append(click.option("--to", "to_unit", required=True,
                                help="调入单位代码（须与申请单一致）/ the receiving unit (as on the form)"))
    if "login" in op.inputs:
        out.append(click.option("--uid", "new_uid", default=None,
                                help="登录账号（默认为姓名拼音）/ login (default: pinyin of the name)"))
    if "algorithm" in op.inputs:
        out.append(click.option("--algorithm", type=click.Choice(list(authority.ALGORITHMS)), default=None,
                                help="签发 CA：sm2（国密）或 ec（默认：已初始化的国密 CA，否则 EC）/ the CA: "
                                     "sm2 or ec (default: the SM2 CA where set up, else EC)"))
    if "p12_cipher" in op.inputs:
        out.append(click.option("--p12-cipher", type=click.Choice(["sm4", "aes256"]), default=None,
                                help="国密 PKCS#12 的加密：sm4（默认）或 aes256（客户端不支持 SM4 时）/ "
                                     "SM2 PKCS#12 cipher: sm4 (default) or aes256"))
    if "csr" in op.inputs:
        out += [click.option("--csr", type=IN_FILE, default=None, help="用户的证书请求 / the user's CSR"),
                click.option("--pkcs12", "p12_out", type=OUT_FILE, default=None,
                             help="生成私钥，写入此 PKCS#12 文件（0600）/ make a key, write a PKCS#12 here"),
                click.option("-o", "--output", type=OUT_FILE, default=None,
                             help="证书 PEM 输出（--csr 时）/ where to write the certificate (with --csr)")]
    if op.shows_password:
        name = "--secret-out" if op.name == "create-service" else "--password-out"
        out.append(click.option(name, "secret_out", type=OUT_FILE, default=None,
                                help="写入 0600 文件而不显示 / write it to a 0600 file instead"))
    return out


def _show(outcome: pipeline.Outcome, secret_out: Path | None, output: Path | None,
          p12_out: Path | None) -> None:
    op, result = outcome.operation, outcome.result
    if not outcome.changed or result is False:
        click.echo(f"未改变 / unchanged: {op.zh}（{op.en}）")
        return
    if op.name == "issue-cert":
        alg = authority.algorithm_of(result.certificate)
        click.echo(f"已签发 / issued: {result.dn}（{authority.label(alg)} / {authority.label(alg, 'en')}）")
        if result.pkcs12 is not None and p12_out is not None:
            write_secret(p12_out, result.pkcs12)
            click.echo(f"PKCS#12 -> {p12_out} (0600)")
            click.echo(f"PKCS#12 一次性口令（仅显示一次）/ one-time password (shown once): {result.password}")
        elif output is not None:
            output.write_bytes(result.certificate.public_bytes(serialization.Encoding.PEM))
        return
    target = getattr(result, "dn", None) or (outcome.account.uid if outcome.account else
                                             outcome.form.data.unit)
    click.echo(f"完成 / done: {op.zh}（{op.en}）{target}，依据 / on {outcome.form.form_id}")
    if op.shows_password and outcome.secret:
        hand_over(outcome.secret, secret_out, SECRET if op.name == "create-service" else ONE_TIME)


def command(op: Operation, group: str, name: str) -> click.Command:
    """`idm <group> <name> ...` for one operation."""
    def run(session: Session, actor: Actor, form_id: str, uid: str | None = None, value: str | None = None,
            new_uid: str | None = None, secret_out: Path | None = None, csr: Path | None = None,
            p12_out: Path | None = None, output: Path | None = None, to_unit: str | None = None,
            algorithm: str | None = None, p12_cipher: str | None = None) -> None:
        inputs: dict[str, Any] = {"login": new_uid} if "login" in op.inputs else {}
        if "to" in op.inputs:
            inputs["to"] = to_unit
        ctx = click.get_current_context().find_object(Context)
        assert ctx is not None
        if "algorithm" in op.inputs:
            inputs["algorithm"] = algorithm = algorithm or authority.default_algorithm(ctx.data_dir)
        if "csr" in op.inputs:
            if (csr is None) == (p12_out is None):
                raise click.UsageError("--csr FILE 或 --pkcs12 OUT 二选一 / --csr FILE or --pkcs12 OUT")
            authority.require(ctx.data_dir, inputs["algorithm"])
            inputs.update(issuer=authority.load(ctx.data_dir, inputs["algorithm"]), p12_cipher=p12_cipher,
                          csr=csr.read_bytes() if csr else None, pkcs12=p12_out is not None)
        outcome = pipeline.run(pipeline.Acting(session, actor), op.name, form_id, uid, value,
                               kind="admin" if group == "admin" else None, **inputs)
        _show(outcome, secret_out, output, p12_out)

    run.__name__ = op.name.replace("-", "_")
    wrapped: Callable[..., Any] = acting(run)
    for option in reversed(_options(op)):
        wrapped = option(wrapped)
    kind = KINDS[op.form_kind]
    help_text = f"{op.zh}，依据{kind.zh} / {op.en}, on a {kind.en}. {op.confirm_zh}"
    return click.command(name, help=help_text)(wrapped)


def register(cli: click.Group, groups: dict[str, click.Group]) -> None:
    """Every operation's commands, in its declared places."""
    for op in operations.ALL:
        for place in op.cli:
            group, _, name = place.rpartition(" ")
            (groups[group] if group else cli).add_command(command(op, group, name))
