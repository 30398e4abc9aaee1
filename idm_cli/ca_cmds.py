"""`idm ca ...` (local operator) and `idm cert ...` (the security admin, as themself)."""

from __future__ import annotations

from pathlib import Path

import click
from cryptography.hazmat.primitives import serialization

from idm.directory.session import Session
from idm.identity import accounts, services
from idm.ops.bootstrap import write_secret
from idm.pki import ca, certs
from idm.rules.actor import Actor
from idm_cli.common import Context, friendly, pass_ctx
from idm_cli.signin_cmds import acting


def ca_config(data_dir: Path) -> ca.CaConfig:
    return ca.load_config(data_dir / "ca")


@click.group("ca")
def ca_group() -> None:
    """教育 CA（本机运维）/ the education CA (local operator)."""


@ca_group.command("init")
@click.option("--key-type", type=click.Choice(["ec", "rsa"]), default="ec", show_default=True)
@click.option("--crl-url", default="http://127.0.0.1:8080/ca/crl.pem", show_default=True)
@click.option("--root-name", default="教育 CA 根证书", show_default=True)
@click.option("--issuing-name", default="教育 CA", show_default=True)
@click.option("--organisation", default="教育管理信息系统", show_default=True)
@click.option("--root-years", type=click.IntRange(1, 30), default=20, show_default=True)
@click.option("--issuing-years", type=click.IntRange(1, 20), default=10, show_default=True)
@click.option("--user-days", type=click.IntRange(1, 1825), default=730, show_default=True)
@pass_ctx
@friendly
def ca_init(ctx: Context, key_type: str, crl_url: str, root_name: str, issuing_name: str,
            organisation: str, root_years: int, issuing_years: int, user_days: int) -> None:
    """创建根 CA 与签发 CA / create the root and the issuing CA."""
    config = ca.CaConfig(folder=ctx.data_dir / "ca", key_type=key_type, crl_url=crl_url,
                         root_name=root_name, issuing_name=issuing_name, organisation=organisation,
                         root_years=root_years, issuing_years=issuing_years, user_days=user_days)
    created = ca.init(config)
    click.echo(("已创建 / created: " if created else "已存在 / exists: ") + str(config.folder))


@ca_group.command("crl")
@pass_ctx
@friendly
def ca_crl(ctx: Context) -> None:
    """生成吊销列表 / write the CRL from the revoked certificate records."""
    issuer = ca.load(ca_config(ctx.data_dir))
    with ctx.ops_session() as session:
        revoked = certs.revoked_list(session)
    (ctx.data_dir / "ca" / "crl.pem").write_bytes(ca.crl(issuer, revoked))
    click.echo(f"已生成 / written: {ctx.data_dir / 'ca' / 'crl.pem'} ({len(revoked)} revoked)")


@click.group("cert")
def cert_group() -> None:
    """用户证书（安全管理员）/ user certificates (security admin)."""


@cert_group.command("issue")
@click.argument("uid")
@click.option("--form", "form_id", required=True, help="申请依据 / the form this rests on")
@click.option("--csr", type=click.Path(exists=True, dir_okay=False, path_type=Path), default=None)
@click.option("--pkcs12", "p12_out", type=click.Path(dir_okay=False, path_type=Path), default=None)
@click.option("-o", "--output", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="证书 PEM 输出（--csr 时）/ where to write the certificate (with --csr)")
@acting
def cert_issue(session: Session, actor: Actor, uid: str, form_id: str, csr: Path | None,
               p12_out: Path | None, output: Path | None) -> None:
    """为已授权用户签发证书 / issue a certificate for an authorised business user."""
    ctx = click.get_current_context().find_object(Context)
    assert ctx is not None
    issuer = ca.load(ca_config(ctx.data_dir))
    account = accounts.find(session, uid)
    if csr is not None:
        record, cert = certs.issue_from_csr(session, actor, issuer, account, csr.read_bytes(), form_id)
        pem = cert.public_bytes(serialization.Encoding.PEM)
        if output:
            output.write_bytes(pem)
        click.echo(f"已签发 / issued: {record.dn}")
    elif p12_out is not None:
        record, blob, password = certs.issue_pkcs12(session, actor, issuer, account, form_id)
        write_secret(p12_out, blob)
        click.echo(f"已签发 / issued: {record.dn} -> {p12_out} (0600)")
        click.echo(f"PKCS#12 一次性口令（仅显示一次）/ one-time password (shown once): {password}")
    else:
        raise click.UsageError("--csr FILE or --pkcs12 OUT")


@cert_group.command("revoke")
@click.argument("record")
@click.option("--reason", type=click.Choice(list(ca.REASONS)), default="unspecified")
@acting
def cert_revoke(session: Session, actor: Actor, record: str, reason: str) -> None:
    """吊销证书（随后运行 idm ca crl）/ revoke a certificate (then run idm ca crl)."""
    certs.revoke(session, actor, certs.get(session, record), reason)
    click.echo(f"已吊销 / revoked: {record}")


@click.group("service")
def service_group() -> None:
    """下游系统服务账号（系统管理员）/ downstream service accounts (system admin)."""


@service_group.command("create")
@click.argument("name")
@click.option("--scope", "unit", required=True, help="本级单位代码 / the unit (your own level)")
@click.option("--form", "form_id", required=True)
@click.option("--secret-out", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="把密钥写入 0600 文件而不显示 / write the secret to a 0600 file instead")
@acting
def service_create(session: Session, actor: Actor, name: str, unit: str, form_id: str,
                   secret_out: Path | None) -> None:
    """为本级下游系统创建服务账号 / create a downstream system's service account at UNIT."""
    created = services.create(session, actor, unit, name, form_id)
    click.echo(f"已创建 / created: {created.dn}")
    if secret_out:
        write_secret(secret_out, created.secret)
        click.echo(f"密钥已写入 / secret written to: {secret_out} (0600)")
    else:
        click.echo(f"密钥（仅显示一次）/ secret (shown once): {created.secret}")
