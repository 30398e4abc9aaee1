"""Render the slapd configuration from the templates in `ldif/`.

The same templates serve both an embedded server (`render_config`, loaded with slapadd) and a
site's existing slapd (`render_site_changes`, applied with ldapmodify over ldapi).
"""

from __future__ import annotations

import os
from pathlib import Path
from string import Template

from idm.auth import policy
from idm.config import Settings
from idm.directory import names
from idm.rules import acl

MODULE_PATH = "/usr/lib/ldap"
SCHEMA_DIR = "/etc/ldap/schema"


def ldif_dir() -> Path:
    """The project's ldif/ folder (next to the package in a checkout)."""
    env = os.environ.get("IDM_LDIF_DIR")
    if env:
        return Path(env)
    return Path(__file__).resolve().parents[2] / "ldif"


def schema_file() -> Path:
    return ldif_dir() / "schema" / "idm.ldif"


def ops_dn() -> str:
    """The identity slapd gives the local OS account that owns the server, over ldapi."""
    return f"gidNumber={os.getgid()}+uidNumber={os.getuid()},cn=peercred,cn=external,cn=auth"


def render_config(settings: Settings) -> str:
    template = Template((ldif_dir() / "config" / "slapd.ldif.tmpl").read_text(encoding="utf-8"))
    data = settings.data_dir
    ops = ops_dn()
    return template.substitute(
        pid_file=settings.pid_file,
        args_file=data / "run" / "slapd.args",
        log_level=settings.log_level,
        server_id=settings.server_id,
        module_path=MODULE_PATH,
        schema_dir=SCHEMA_DIR,
        idm_schema=schema_file(),
        ops_dn=ops,
        suffix=settings.suffix,
        main_db_dir=data / "db" / "main",
        log_db_dir=data / "db" / "accesslog",
        max_size=settings.max_size,
        log_max_size=settings.log_max_size,
        log_purge=f"{settings.log_purge_days:02d}+00:00 01+00:00",
        main_acl=acl.as_ldif(acl.main_acl(settings.suffix)),
        log_acl=acl.as_ldif(acl.log_acl(ops, settings.suffix)),
        replicator_dn=names.replicator_dn(settings.suffix),
    )


def totp_params_dn(suffix: str) -> str:
    """RFC 6238 parameters shared by every TOTP token: 6 digits, SHA-1, 30 s, ±1 step."""
    return f"cn=totp,ou=policies,ou=system,{suffix}"


def service_policy_dn(suffix: str) -> str:
    """Service accounts: long random secrets, no forced change, never locked by failures."""
    return f"cn=service,ou=policies,ou=system,{suffix}"


def base_entries(suffix: str, profile: str = policy.DEFAULT_PROFILE
                 ) -> list[tuple[str, dict[str, list[bytes]]]]:
    """The fixed top of the tree: suffix, ou=system, the password policies, the role groups
    the access rules test, ou=apps."""
    dc = suffix.split(",")[0].split("=", 1)[1]

    def b(*values: str) -> list[bytes]:
        return [v.encode() for v in values]

    return [
        (suffix, {"objectClass": b("dcObject", "organization"), "dc": b(dc), "o": b("教育管理信息系统")}),
        (f"ou=system,{suffix}", {"objectClass": b("organizationalUnit"), "ou": b("system")}),
        (f"ou=policies,ou=system,{suffix}", {"objectClass": b("organizationalUnit"), "ou": b("policies")}),
        # where the write log's seals go: made here, once, so that the servers of a cluster
        # (made from one backup) never each create it (two adds of one DN do not converge)
        (f"ou=seals,ou=system,{suffix}", {"objectClass": b("organizationalUnit"), "ou": b("seals")}),
        (
            f"cn=default,ou=policies,ou=system,{suffix}",
            {"objectClass": b("applicationProcess", "pwdPolicy"), "cn": b("default"),
             **{k: b(*v) for k, v in policy.ppolicy_attrs(policy.PROFILES[profile]).items()}},
        ),
        (
            service_policy_dn(suffix),
            {
                "objectClass": b("applicationProcess", "pwdPolicy"),
                "cn": b("service"),
                "pwdAttribute": b("userPassword"),
                "pwdMustChange": b("FALSE"),
                "pwdLockout": b("TRUE"),
                "pwdMaxFailure": b("0"),
                "pwdMaxAge": b("0"),
            },
        ),
        (
            totp_params_dn(suffix),
            {
                "objectClass": b("applicationProcess", "oathTOTPParams"),
                "cn": b("totp"),
                "oathOTPLength": b("6"),
                "oathHMACAlgorithm": b("1.2.840.113549.2.7"),  # HMAC-SHA1, as authenticator apps use
                "oathTOTPTimeStepPeriod": b("30"),
                "oathTOTPTimeStepWindow": b("1"),
            },
        ),
        *acl.role_groups(suffix),
        (f"ou=apps,{suffix}", {"objectClass": b("organizationalUnit"), "ou": b("apps")}),
        *app_catalogue(suffix),
    ]


def app_catalogue(suffix: str) -> list[tuple[str, dict[str, list[bytes]]]]:
    """The business subsystems and their roles, from ldif/apps.ldif."""
    import io

    import ldif

    text = Template((ldif_dir() / "apps.ldif").read_text(encoding="utf-8")).substitute(suffix=suffix)
    parser = ldif.LDIFRecordList(io.BytesIO(text.encode("utf-8")))
    parser.parse()
    return list(parser.all_records)
