"""The evidence pack (`idm compliance pack`) for a city, against `slapcat` of the same write log.

A city's three admins (Hohhot, 150100) act through the toolkit: the system admin creates
business users on registration forms, one pipeline operation each (`--actions`). Then the
local operator's writes bring the write log to `--records` records. Reference: `slapcat -b
cn=accesslog` of that log (the cheapest full read of it there is). Timed: the pack as
`idm compliance pack 150100 --from <a month ago> --to <today>` makes it — a seal over every
record not yet sealed (SM3 per record, one SM2 signature), the evidence items (the log read
and grouped into actions, the seals verified, the accounts, forms, rules, probes, reviews), the
files, the SM3 manifest and its SM2 signature. The issue asks for at most 3× slapcat's time.
The pack is built twice: first with the whole log unsealed (the first pack of a deployment),
then again with only the second pack's own seal to add (every later pack).

    .venv/bin/python benches/compliance.py [--records 100000] [--actions 300]
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
import time
from datetime import datetime, timedelta
from pathlib import Path

import ldap

sys.path.insert(0, str(Path(__file__).resolve().parent))
import _common as c  # noqa: E402

from idm import pipeline
from idm.auth import signin
from idm.compliance import evidence, pack
from idm.config import Settings
from idm.filing.fields import FormData
from idm.oversight import seal, seal_key
from idm.rules import actor as actors
from idm.tree import org

CITY = "150100"
GIVEN = "明华军芳伟娜强敏静丽勇艳杰娟涛秀霞刚平辉"


def admins(settings: Settings) -> dict[str, str]:
    """The city's system admin, security admin and auditor, ready to work (no first change)."""
    out = {}
    with c.ops(settings) as session:
        node = org.find(session, CITY)
        for role in ("sysadmin", "secadmin", "auditor"):
            uid = f"{CITY}.{role}"
            dn = f"uid={uid},ou=admins,{node.dn}"
            session.add(dn, {"objectClass": ["idmAdminAccount"], "uid": [uid], "cn": [f"呼和浩特{role}"],
                             "sn": ["呼"], "idmStatus": ["active"], "idmAdminRole": [role],
                             "idmScope": [node.dn]})
            session.set_password(dn, c.PASSWORD)
            session.conn.modify_s(dn, [(ldap.MOD_DELETE, "pwdReset", None)])
            out[role] = dn
    return out


def activity(settings: Settings, sysadmin: str, count: int) -> None:
    """`count` business users created on registration forms, each form recorded and acted on by
    the city's system admin through the pipeline, as in the console."""
    from idm.filing import forms

    with signin.admin_session(settings, sysadmin) as session:
        actor = actors.load(session)
        acting = pipeline.Acting(session, actor)
        for i in range(count):
            name = "王李张刘陈杨赵黄周吴"[i % 10] + GIVEN[i // 10 % 20] + GIVEN[i // 200 % 20]
            data = FormData(kind="registration", unit=CITY, name=name, id_number=c.id_number(500_000 + i),
                            mobile=f"139{i:08d}")
            form = forms.add(session, actor, data)
            pipeline.run(acting, "create-user", form.form_id)


def fill_log(settings: Settings, folder: Path, records: int) -> int:
    """The operator's modifies of one entry until the log holds `records` records."""
    with c.ops(settings) as session:
        have = len(session.search_raw("cn=accesslog", "(reqStart=*)", scope=ldap.SCOPE_ONELEVEL))
        target = f"ou=system,{settings.suffix}"
    more = max(0, records - have)
    ldif = folder / "fill.ldif"
    ldif.write_text("".join(f"dn: {target}\nchangetype: modify\nreplace: description\ndescription: {i}\n\n"
                            for i in range(more)), encoding="utf-8")
    subprocess.run(["ldapmodify", "-Q", "-Y", "EXTERNAL", "-H", settings.ldapi_uri, "-f", str(ldif)],
                   check=True, capture_output=True)
    return have + more


def slapcat_seconds(settings: Settings) -> float:
    started = time.perf_counter()
    subprocess.run(["slapcat", "-F", str(settings.config_dir), "-b", "cn=accesslog", "-l", "/dev/null"],
                   check=True, capture_output=True)
    return time.perf_counter() - started


def pack_seconds(settings: Settings, out: Path) -> tuple[float, int]:
    """What `idm compliance pack` does, timed; the number of records its seal covered."""
    today = datetime.now(evidence.CHINA)
    started = time.perf_counter()
    key = seal_key.load(settings.data_dir, create=True)
    with c.ops(settings) as session:
        window = evidence.Window(org.find(session, CITY), (today - timedelta(days=31)).strftime("%Y%m%d"),
                                 today.strftime("%Y%m%d"))
        log = seal.read(session)
        sealed = seal.seal(session, key, settings.server_id, log)
        sections = evidence.gather(session, settings, key, window, log)
    pack.write(out, sections, window, key)
    seconds = time.perf_counter() - started
    assert pack.verify(out).ok
    return seconds, sealed.count


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--records", type=int, default=100_000)
    parser.add_argument("--actions", type=int, default=300)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="idm-compliance-bench-") as tmp:
        folder = Path(tmp)
        settings = c.start_idm(folder)
        try:
            c.with_toolkit(settings)
            city = admins(settings)
            activity(settings, city["sysadmin"], args.actions)
            total = fill_log(settings, folder, args.records)
            reference = slapcat_seconds(settings)
            first, first_sealed = pack_seconds(settings, folder / "pack1")
            again, again_sealed = pack_seconds(settings, folder / "pack2")
            actions_rows = sum(1 for _ in (folder / "pack1" / "actions.csv").open(encoding="utf-8")) - 1
        finally:
            c.stop(settings)
    print(f"compliance pack: city {CITY}, {args.actions} admin actions, {total} write-log records")
    print(f"  slapcat -b cn=accesslog           {reference:7.2f} s")
    print(f"  pack, log unsealed ({first_sealed} sealed) {first:7.2f} s   ratio {first / reference:.2f} "
          "(the issue asks <= 3)")
    print(f"  pack again ({again_sealed} sealed)       {again:7.2f} s   ratio {again / reference:.2f}")
    print(f"  the pack's actions.csv: {actions_rows} rows")


if __name__ == "__main__":
    main()
