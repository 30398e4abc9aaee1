"""`idm server print-config`: the same configuration, as changes to a slapd a site already runs.

Derived from the embedded template so the two never drift: modules, the idm schema, the
accesslog database, indexes, limits and access rules of the site's database, the overlays, and
the toolkit's fixed top entries. Applied with `ldapmodify -Y EXTERNAL -H ldapi:///`.
"""

from __future__ import annotations

import io
import re
from pathlib import Path

import ldif

from idm.config import Settings
from idm.ops import render
from idm.rules import acl

# olcRestrict: delete, because the rights a transfer's move needs would otherwise allow a delete
MAIN_DB_ATTRS = ("olcDbIndex", "olcLimits", "olcAccess", "olcRestrict")


def _records(text: str) -> list[tuple[str, dict[str, list[bytes]]]]:
    lines = [line for line in text.splitlines(keepends=True) if not line.startswith("include:")]
    parser = ldif.LDIFRecordList(io.BytesIO("".join(lines).encode("utf-8")))
    parser.parse()
    return list(parser.all_records)


def render_site_changes(suffix: str, database: str, log_db_dir: str,
                        skip_modules: frozenset[str] = frozenset()) -> str:
    settings = Settings(data_dir=Path("/nonexistent"), suffix=suffix)
    config = dict(_records(render.render_config(settings)))
    site_db = f"olcDatabase={database},cn=config"
    out = io.StringIO()
    out.write(
        "# idm configuration for an existing slapd. Review, then apply as root:\n"
        "#   ldapmodify -Y EXTERNAL -H ldapi:/// -f this-file.ldif\n"
        f"# The site database {site_db} must hold {suffix} and have an olcRootDN\n"
        "# (slapo-unique searches as the rootDN). Leave out modules your slapd already loads\n"
        "# with --skip-module NAME.\n\n"
    )
    writer = ldif.LDIFWriter(out, cols=10000)

    def add(dn: str, attrs: dict[str, list[bytes]]) -> None:
        writer.unparse(dn, attrs)

    modules = config["cn=module{0},cn=config"]
    out.write("# 1. modules\n")
    skip = {b"back_mdb", *(m.encode() for m in skip_modules)}
    add("cn=module,cn=config", {
        "objectClass": [b"olcModuleList"], "cn": [b"module"],
        "olcModulePath": modules["olcModulePath"],
        "olcModuleLoad": [m for m in modules["olcModuleLoad"] if m not in skip],
    })
    out.write("# 2. the idm schema\n")
    out.write("# the dyngroup schema (groupOfURLs, for the role groups the rules test); leave this\n"
              "# entry out if your slapd already loads dyngroup\n")
    dyngroup = dict(_records((Path(render.SCHEMA_DIR) / "dyngroup.ldif").read_text(encoding="utf-8")))
    schema = {**dyngroup, **dict(_records(render.schema_file().read_text(encoding="utf-8")))}
    for dn, attrs in schema.items():
        add(dn, attrs)
    out.write("# 3. the write log database\n")
    log_db = dict(config["olcDatabase={1}mdb,cn=config"])
    log_db["olcDatabase"] = [b"mdb"]
    log_db["olcDbDirectory"] = [log_db_dir.encode()]
    add("olcDatabase=mdb,cn=config", log_db)
    out.write("# 4. indexes, limits and access rules of the site database\n")
    main = dict(config["olcDatabase={2}mdb,cn=config"])
    main["olcDbIndex"], common = _split_indexes(main["olcDbIndex"])
    # the site keeps its own rootDN: the local operator gets its rights from a first clause
    main["olcAccess"] = [f"{{0}}{acl.ops_clause(render.ops_dn())}".encode(),
                         *(re.sub(rb"^\{(\d+)\}", lambda m: b"{%d}" % (int(m.group(1)) + 1), v)
                           for v in main["olcAccess"])]
    out.write("# A site usually indexes these already; add any that are missing by hand\n"
              "# (slapd refuses a duplicate index definition):\n")
    out.writelines(f"#   olcDbIndex: {v.decode()}\n" for v in common)
    writer.unparse(site_db, [
        (2 if name == "olcAccess" else 0, name, main[name]) for name in MAIN_DB_ATTRS
    ])
    out.write("# 5. overlays (ppolicy, unique, constraint, accesslog, syncprov)\n")
    for dn, attrs in config.items():
        if dn.endswith(",olcDatabase={2}mdb,cn=config") and dn.startswith("olcOverlay="):
            add(dn.replace("olcDatabase={2}mdb", f"olcDatabase={database}"), attrs)
    out.write("# 6. the toolkit's fixed entries (suffix entry left out: it exists)\n")
    for dn, attrs in render.base_entries(suffix)[1:]:
        add(dn, attrs)
    return _with_changetype_add(out.getvalue())


def _split_indexes(values: list[bytes]) -> tuple[list[bytes], list[bytes]]:
    """Indexes of the idm schema's own attributes (safe to add) and of common ones."""
    own: list[bytes] = []
    common: list[bytes] = []
    for value in values:
        attrs, kinds = value.decode().split(" ", 1)
        names = attrs.split(",")
        mine = [a for a in names if a.startswith(("idm", "pwd"))]
        theirs = [a for a in names if a not in mine]
        own += [f"{','.join(mine)} {kinds}".encode()] if mine else []
        common += [f"{','.join(theirs)} {kinds}".encode()] if theirs else []
    return own, common


def _with_changetype_add(text: str) -> str:
    """LDIFWriter writes plain entries; ldapmodify needs `changetype: add` after each dn."""
    out = []
    for block in text.split("\n\n"):
        lines = block.split("\n")
        dn_index = next((i for i, line in enumerate(lines) if line.startswith("dn")), None)
        if dn_index is not None and not any(line.startswith("changetype:") for line in lines):
            lines.insert(dn_index + 1, "changetype: add")
        out.append("\n".join(lines))
    return "\n\n".join(out)

