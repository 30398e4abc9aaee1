"""`idm ca ...` (local operator) and `idm cert ...` (the security admin, as themself)."""

from __future__ import annotations

from pathlib import Path

import click

from idm.directory.session import Session
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
