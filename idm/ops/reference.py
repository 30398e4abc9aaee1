"""A plain slapd, configured the way a site typically runs one: back_mdb with a rootDN, the
same password hash, no idm overlays, no idm ACLs.

It is the yardstick for the benchmarks (same entries, same hash, without the toolkit's
configuration) and the stand-in for "an existing OpenLDAP" when rehearsing `print-config`.
"""

from __future__ import annotations

import subprocess

from idm.config import Settings
from idm.ops import embedded, render

TEMPLATE = """\
dn: cn=config
objectClass: olcGlobal
cn: config
olcPidFile: {pid_file}
olcLogLevel: none

dn: cn=module{{0}},cn=config
objectClass: olcModuleList
cn: module{{0}}
olcModulePath: {module_path}
olcModuleLoad: back_mdb
olcModuleLoad: argon2

dn: cn=schema,cn=config
objectClass: olcSchemaConfig
cn: schema

include: file://{schema_dir}/core.ldif
include: file://{schema_dir}/cosine.ldif
include: file://{schema_dir}/inetorgperson.ldif
{extra_schema}
dn: olcDatabase={{-1}}frontend,cn=config
objectClass: olcDatabaseConfig
objectClass: olcFrontendConfig
olcDatabase: {{-1}}frontend
olcPasswordHash: {{ARGON2}}
olcAccess: {{0}}to * by dn.exact="{ops_dn}" manage by * break

dn: olcDatabase={{0}}config,cn=config
objectClass: olcDatabaseConfig
olcDatabase: {{0}}config
olcAccess: {{0}}to * by dn.exact="{ops_dn}" manage by * break

dn: olcDatabase={{1}}mdb,cn=config
objectClass: olcDatabaseConfig
objectClass: olcMdbConfig
olcDatabase: {{1}}mdb
olcSuffix: {suffix}
olcRootDN: {ops_dn}
olcDbDirectory: {db_dir}
olcDbMaxSize: {max_size}
olcDbIndex: objectClass eq
olcDbIndex: uid,cn eq
olcAccess: {{0}}to attrs=userPassword by self write by anonymous auth by * none
olcAccess: {{1}}to * by users read by * none
"""


def init(settings: Settings, with_idm_schema: bool = False) -> None:
    """Create a vanilla slapd under settings.data_dir; start it with `embedded.start`.

    With `with_idm_schema` it can hold exactly the entries the toolkit writes (benchmarks);
    without, it is a site before `print-config` was applied.
    """
    data = settings.data_dir
    for sub in ("slapd.d", "db/main", "run", "log"):
        (data / sub).mkdir(parents=True, exist_ok=True)
    text = TEMPLATE.format(
        pid_file=settings.pid_file, module_path=render.MODULE_PATH, schema_dir=render.SCHEMA_DIR,
        ops_dn=render.ops_dn(), suffix=settings.suffix, db_dir=data / "db" / "main",
        max_size=settings.max_size,
        extra_schema=f"include: file://{render.schema_file()}\n" if with_idm_schema else "",
    )
    config_ldif = data / "config.ldif"
    config_ldif.write_text(text, encoding="utf-8")
    subprocess.run([embedded.SLAPADD, "-n0", "-F", str(settings.config_dir), "-l",
                    str(config_ldif)], check=True, capture_output=True)
    dc = settings.suffix.split(",")[0].split("=", 1)[1]
    base = data / "base.ldif"
    base.write_text(f"dn: {settings.suffix}\nobjectClass: dcObject\nobjectClass: organization\n"
                    f"dc: {dc}\no: reference\n", encoding="utf-8")
    subprocess.run([embedded.SLAPADD, "-F", str(settings.config_dir), "-b", settings.suffix,
                    "-l", str(base)], check=True, capture_output=True)


