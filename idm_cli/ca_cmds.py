"""`idm ca ...` (local operator) and `idm cert ...` (the security admin, as themself)."""

from __future__ import annotations

from pathlib import Path

import click

from idm.directory.session import Session
from idm.errors import IdmError
from idm.pki import authority, ca, certs, sm2_ca
from idm.pki import verify as chain
from idm.rules.actor import Actor
from idm_cli.common import Context, friendly, pass_ctx
from idm_cli.signin_cmds import acting


@click.group("ca")
def ca_group() -> None:
    """教育 CA（本机运维）/ the education CA (local operator)."""


@ca_group.command("init")
@click.option("--algorithm", type=click.Choice(["ec", "rsa", "sm2"]), default=None,
              help="ec（P-256，默认）、rsa（3072）或 sm2（国密，独立的 CA，可与 EC CA 并存）/ ec (P-256, "
                   "default), rsa (3072) or sm2 (a CA of its own, beside the EC one)")
@click.option("--key-type", type=click.Choice(["ec", "rsa"]), default=None, hidden=True)
@click.option("--crl-url", default=None,
              help="吊销列表地址 / the CRL's URL [default: http://127.0.0.1:8080/ca/crl.pem, "
                   "or /ca/sm2/crl.pem for sm2]")
@click.option("--root-name", default=None,
              help="根 CA 名称 / root CA name [教育 CA 根证书, 国密: 教育 CA 根证书（SM2）]")
@click.option("--issuing-name", default=None,
              help="签发 CA 名称 / issuing CA name [教育 CA, 国密: 教育 CA（SM2）]")
@click.option("--organisation", default="教育管理信息系统", show_default=True)
@click.option("--root-years", type=click.IntRange(1, 30), default=20, show_default=True)
@click.option("--issuing-years", type=click.IntRange(1, 20), default=10, show_default=True)
@click.option("--user-days", type=click.IntRange(1, 1825), default=730, show_default=True)
@pass_ctx
@friendly
def ca_init(ctx: Context, algorithm: str | None, key_type: str | None, crl_url: str | None,
            root_name: str | None, issuing_name: str | None, organisation: str, root_years: int,
            issuing_years: int, user_days: int) -> None:
    """创建根 CA 与签发 CA / create the root and the issuing CA."""
    algorithm = algorithm or key_type or "ec"
    sm = algorithm == "sm2"
    folder = authority.folder(ctx.data_dir, authority.family(algorithm))
    config = ca.CaConfig(folder=folder, key_type=algorithm,
                         crl_url=crl_url or f"http://127.0.0.1:8080/ca/{'sm2/' if sm else ''}crl.pem",
                         root_name=root_name or ("教育 CA 根证书（SM2）" if sm else "教育 CA 根证书"),
                         issuing_name=issuing_name or ("教育 CA（SM2）" if sm else "教育 CA"),
                         organisation=organisation, root_years=root_years, issuing_years=issuing_years,
                         user_days=user_days)
    created = sm2_ca.init(config) if sm else ca.init(config)
    click.echo(("已创建 / created: " if created else "已存在 / exists: ") + str(config.folder)
               + f"（{authority.label(ca.load_config(config.folder).key_type)}）")


@ca_group.command("crl")
@pass_ctx
@friendly
def ca_crl(ctx: Context) -> None:
    """生成吊销列表（每个 CA 一份）/ write each CA's CRL from the revoked certificate records."""
    found = authority.available(ctx.data_dir)
    if not found:
        raise click.UsageError("尚无 CA：idm ca init / no CA yet: idm ca init")
    for algorithm in found:
        issuer = authority.load(ctx.data_dir, algorithm)
        with ctx.ops_session() as session:
            revoked = certs.revoked_list(session, algorithm)
        path = authority.folder(ctx.data_dir, algorithm) / "crl.pem"
        path.write_bytes(authority.crl(issuer, revoked))
        click.echo(f"已生成 / written: {path} ({len(revoked)} revoked, "
                   f"{authority.label(issuer.algorithm, 'en')})")


@click.group("cert")
def cert_group() -> None:
    """用户证书（安全管理员）/ user certificates (security admin)."""


@cert_group.command("revoke")
@click.argument("record")
@click.option("--reason", type=click.Choice(list(ca.REASONS)), default="unspecified")
@acting
def cert_revoke(session: Session, actor: Actor, record: str, reason: str) -> None:
    """吊销证书（随后运行 idm ca crl）/ revoke a certificate (then run idm ca crl)."""
    certs.revoke(session, actor, certs.get(session, record), reason)
    click.echo(f"已吊销 / revoked: {record}")


@cert_group.command("verify")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@pass_ctx
@friendly
def cert_verify(ctx: Context, file: Path) -> None:
    """校验证书：签发链、有效期、吊销列表（国密与 EC 证书均可）/ check a certificate: chain to the
    education CA, validity, CRL (SM2 or EC)."""
    verdict = chain.verify(ctx.data_dir, file.read_bytes())
    try:  # the CRL is as fresh as the last `idm ca crl`: the directory's record says more
        with ctx.ops_session() as session:
            record = certs.get(session, f"C{verdict.serial:x}")
        if record.status == "revoked" and not any("revoked" in p.en for p in verdict.problems):
            verdict.problems.append(chain.Problem(
                "证书已在目录中吊销，尚未列入吊销列表（idm ca crl）",
                "revoked in the directory, not yet on the CRL (idm ca crl)"))
    except IdmError:
        click.echo("（目录不可用或无此证书记录，仅按吊销列表判断 / no directory record: the CRL alone "
                   "decides）")
    click.echo(f"证书 / certificate: {verdict.subject}  serial {verdict.serial:x}")
    alg = verdict.algorithm
    click.echo(f"算法 / algorithm: {authority.label(alg)} / {authority.label(alg, 'en')}")
    click.echo(f"有效期至 / valid until: {verdict.not_after:%Y-%m-%d %H:%M} UTC")
    if verdict.ok:
        click.echo("通过 / OK: 签发链、有效期、吊销列表 / chain, validity, CRL")
        return
    for problem in verdict.problems:
        click.echo(f"不通过 / FAILED: {problem.zh} / {problem.en}", err=True)
    raise SystemExit(1)


@click.group("service")
def service_group() -> None:
    """下游系统服务账号（系统管理员）/ downstream service accounts (system admin)."""
