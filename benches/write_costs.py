"""What a write costs in the project's configuration, part by part (issue 11, item 5).

The same LDIF (a slice of the synthetic national set: units, their containers, accounts) is
added with `ldapadd` into fresh servers whose configuration differs from the project's in one
part each: without an overlay (accesslog, syncprov, unique, constraint, ppolicy, lastbind,
otp), with the access rules replaced by one permissive rule, with the databases' syncs relaxed
(`nometasync`, `nosync`; `nosync` on the write log alone), and a vanilla slapd. Added twice
per server kind: as the rootDN over ldapi (no access rules apply) and as the loader
(`idm-loader`, through the rules).

    .venv/bin/python benches/write_costs.py [--units 500] [--accounts 2000] [--rounds 3]
"""

from __future__ import annotations

import argparse
import itertools
import re
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import _common as c  # noqa: E402
from load import as_ldif, generate  # noqa: E402

from idm.config import Settings, new_settings, save_settings
from idm.ops import bootstrap, embedded, reference, render
from idm.rules.terms import LOADER

MAIN = "olcDatabase={2}mdb,cn=config"


def without_overlay(name: str) -> Callable[[str], str]:
    def change(text: str) -> str:
        blocks = text.split("\n\n")
        kept = [b for b in blocks if not re.search(rf"^dn: olcOverlay=\{{\d+\}}{name},olcDatabase=\{{2\}}mdb",
                                                   b, re.M)]
        out, n = [], 0
        for block in kept:
            if re.search(r"^dn: olcOverlay=\{\d+\}\w+,olcDatabase=\{2\}mdb", block, re.M):
                block = re.sub(r"olcOverlay=\{\d+\}(\w+),", rf"olcOverlay={{{n}}}\1,", block)
                block = re.sub(r"^olcOverlay: \{\d+\}", f"olcOverlay: {{{n}}}", block, flags=re.M)
                n += 1
            out.append(block)
        return "\n\n".join(out)

    return change


def db_setting(line: str) -> Callable[[str], str]:
    return lambda text: text.replace("olcDbCheckpoint: 1024 5\n", f"olcDbCheckpoint: 1024 5\n{line}\n")


def log_setting(line: str) -> Callable[[str], str]:
    """A setting of the write log's database ({1}mdb, cn=accesslog) only."""
    def change(text: str) -> str:
        start = text.index("dn: olcDatabase={1}mdb,cn=config")
        end = text.index("\n\n", start)
        block = text[start:end].replace("olcDbCheckpoint: 1024 5\n", f"olcDbCheckpoint: 1024 5\n{line}\n")
        assert line in block
        return text[:start] + block + text[end:]

    return change


def permissive(text: str) -> str:
    start = text.index("dn: olcDatabase={2}mdb,cn=config")
    end = text.index("\n\n", start)
    block = re.sub(r"^olcAccess: .*\n", "", text[start:end] + "\n", flags=re.M)
    block += ("olcAccess: {0}to attrs=userPassword by anonymous auth by * none\n"
              "olcAccess: {1}to * by users write\n")
    return text[:start] + block.rstrip("\n") + text[end:]


def vanilla_with_log(text: str) -> str:
    """A vanilla slapd that keeps the same durable second database: the project's databases and
    their settings, slapo-accesslog alone (the same logged operations), one permissive rule."""
    for name in ("syncprov", "unique", "constraint", "ppolicy", "lastbind", "otp"):
        text = without_overlay(name)(text)
    return permissive(text)


VARIANTS: dict[str, Callable[[str], str] | None] = {
    "as configured": lambda t: t,
    "no accesslog": without_overlay("accesslog"),
    "no syncprov": without_overlay("syncprov"),
    "no unique": without_overlay("unique"),
    "no constraint": without_overlay("constraint"),
    "no ppolicy": without_overlay("ppolicy"),
    "no lastbind": without_overlay("lastbind"),
    "no otp": without_overlay("otp"),
    "no rules": permissive,
    "nometasync": db_setting("olcDbEnvFlags: nometasync"),
    "nosync": db_setting("olcDbNoSync: TRUE"),
    "log nosync": log_setting("olcDbNoSync: TRUE"),
    "vanilla slapd": None,
    "vanilla + log": vanilla_with_log,
}


def build(folder: Path, change: Callable[[str], str] | None) -> Settings:
    settings = new_settings(folder, port=c.free_port())
    if change is None:
        reference.init(settings, with_idm_schema=True)
        embedded.start(settings)
        return settings
    data = settings.data_dir
    for sub in ("slapd.d", "db/main", "db/accesslog", "run", "log"):
        (data / sub).mkdir(parents=True, exist_ok=True)
    settings.secrets_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
    config = data / "config.ldif"
    config.write_text(change(render.render_config(settings)), encoding="utf-8")
    subprocess.run([embedded.SLAPADD, "-n0", "-F", str(settings.config_dir), "-l", str(config)], check=True,
                   capture_output=True)
    base = data / "base.ldif"
    base.write_text(embedded._entries_ldif(render.base_entries(settings.suffix)), encoding="utf-8")
    subprocess.run([embedded.SLAPADD, "-F", str(settings.config_dir), "-b", settings.suffix, "-l", str(base)],
                   check=True, capture_output=True)
    save_settings(settings)
    embedded.start(settings)
    with c.ops(settings) as session:
        bootstrap.service_accounts(session, settings.secrets_dir, only=(LOADER,))
    return settings


def add(settings: Settings, ldif_path: Path, as_loader: bool) -> float:
    if as_loader:
        auth = ["-x", "-D", settings.service_dn(LOADER), "-y", str(settings.secrets_dir / f"{LOADER}.secret"),
                "-H", settings.ldap_uri]
    else:
        auth = ["-Q", "-Y", "EXTERNAL", "-H", settings.ldapi_uri]
    started = time.perf_counter()
    proc = subprocess.run(["ldapadd", *auth, "-f", str(ldif_path)], capture_output=True, text=True,
                          check=False)
    if proc.returncode != 0:
        raise SystemExit(f"ldapadd failed: {proc.stderr[-500:]}")
    return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--units", type=int, default=500)
    parser.add_argument("--accounts", type=int, default=2000)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--only", action="append", default=None, help="only this variant (repeatable)")
    args = parser.parse_args()
    variants = {k: v for k, v in VARIANTS.items() if not args.only or k in args.only}
    samples: dict[tuple[str, str], list[float]] = {}
    folders = itertools.count()
    with tempfile.TemporaryDirectory(prefix="idm-write-costs-") as tmp:
        work = Path(tmp)
        data = generate(work / "data", args.units, args.accounts)
        ldif_path, entries = as_ldif(data, work)
        for n in range(args.rounds):
            for name, change in variants.items():  # interleaved: every variant once per round
                for who in ("rootDN", "loader"):
                    if who == "loader" and change is None:
                        continue
                    settings = build(work / f"r{n}-{next(folders)}-{who}", change)
                    try:
                        rate = entries / add(settings, ldif_path, who == "loader")
                    finally:
                        embedded.stop(settings)
                    samples.setdefault((name, who), []).append(rate)
                    print(f"round {n}: {name}, {who}: {rate:.0f}/s", file=sys.stderr, flush=True)
    m = {k: statistics.median(v) for k, v in samples.items()}
    if args.only:  # (without "as configured" there is nothing to compare with)
        first = next(iter(variants))
        for name in variants:
            root = m[(name, "rootDN")]
            print(f"{name}: rootDN {root:.0f}/s ({root / m[(first, 'rootDN')]:.2f} of {first}), "
                  f"loader {m.get((name, 'loader'), 0):.0f}/s")
        return
    base_root, base_loader = m[("as configured", "rootDN")], m[("as configured", "loader")]
    print(f"ldapadd of {entries} entries; entries/s, median of {args.rounds} interleaved rounds")
    print(f"{'':18}{'rootDN':>10}{'vs conf.':>10}{'loader':>10}{'vs conf.':>10}")
    for name in VARIANTS:
        root = m[(name, "rootDN")]
        loader = m.get((name, "loader"))
        tail = f"{loader:10.0f}{loader / base_loader:10.2f}" if loader else ""
        print(f"{name:18}{root:10.0f}{root / base_root:10.2f}{tail}")
    log_root, log_loader = m[("vanilla + log", "rootDN")], m[("vanilla + log", "loader")]
    print(f"the project's configuration against a vanilla slapd with the same durable write log: "
          f"rootDN {base_root / log_root:.2f}, loader {base_loader / log_loader:.2f}")


if __name__ == "__main__":
    main()
