"""Bulk loads (issue 11): `idm load` against the tools OpenLDAP itself offers, on the same entries.

A slice of the synthetic national set (scripts/gen-national.py) is loaded, per round, into fresh
servers built by this script:

    ldapadd  (rootDN over ldapi) into the project's configuration     -> entries/s
    ldapadd  (rootDN over ldapi) into a vanilla slapd (idm schema)    -> entries/s
    idm load online (the loader, through the rules)                   -> entries/s, vs ldapadd
    idm load --atomic (one RFC 5805 transaction per batch)            -> entries/s, vs ldapadd
    idm load --offline                                                -> seconds, vs slapadd -q
    slapadd -q of the same LDIF                                       -> seconds
    the online load's rate over its last 10% vs its first 10%
    a load killed (SIGKILL) halfway and rerun, vs one left alone      -> total seconds
    peak RSS of the online loader (/usr/bin/time)

Rounds interleave the measurements so drift of a shared machine hits all alike; medians are
printed. The LDIF is the engine's own output for the files (units, their six containers, the
accounts), so every tool writes exactly the same entries.

    .venv/bin/python benches/load.py [--units 2000] [--accounts 10000] [--rounds 3]
                                     [--offline-units 100000]

With --offline-units N, the offline comparison is made once more on a tree of N units alone
(each with its six containers), where slapadd's own time outweighs the fixed costs of a load
(process start, the plan): the national tree is 500,000 units, 3,500,000 entries.
"""

from __future__ import annotations

import argparse
import io
import os
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import _common as c  # noqa: E402

from idm.bulk import load, write
from idm.config import Settings, new_settings
from idm.ops import embedded, reference

ROOT = Path(__file__).resolve().parents[1]
IDM = str(Path(sys.executable).parent / "idm")


class Timeline:
    """A Progress that keeps (seconds, operations) after each batch, for the first/last 10%."""

    def __init__(self) -> None:
        self.points: list[tuple[float, int]] = []
        self.count = 0
        self.started = 0.0

    def phase(self, name: str, total: int | None) -> None:
        self.points, self.count, self.started = [], 0, time.perf_counter()

    def advance(self, n: int) -> None:
        self.count += n
        self.points.append((time.perf_counter() - self.started, self.count))

    def done(self) -> None:
        pass

    def tail_ratio(self) -> float:
        """The rate of the last tenth of the batches against the first tenth's."""
        k = max(1, len(self.points) // 10)
        if len(self.points) < 2 * k + 1:
            return float("nan")
        first_ops, first_s = self.points[k - 1][1], self.points[k - 1][0]
        last_ops = self.points[-1][1] - self.points[-1 - k][1]
        last_s = self.points[-1][0] - self.points[-1 - k][0]
        return (last_ops / last_s) / (first_ops / first_s)


def generate(folder: Path, units: int, accounts: int) -> Path:
    subprocess.run([sys.executable, str(ROOT / "scripts" / "gen-national.py"), str(folder), "--units",
                    str(units), "--accounts", str(accounts), "--provinces", "3", "--legacy-share", "0"],
                   check=True, capture_output=True)
    return folder


def fresh(folder: Path, vanilla: bool = False, start: bool = True) -> Settings:
    settings = new_settings(folder, port=c.free_port())
    if vanilla:
        reference.init(settings, with_idm_schema=True)
    else:
        embedded.init(settings)
    if start:
        embedded.start(settings)
    return settings


def as_ldif(data: Path, work: Path) -> tuple[Path, int]:
    """The engine's entries for tree.csv and people.csv, as one LDIF file (planned against an
    empty directory, so everything is an add)."""
    settings = fresh(work / "planner")
    out = work / "entries.ldif"
    count = 0
    try:
        with load.loader_session(settings) as session, open(out, "w", encoding="utf-8") as handle:
            for name in ("tree.csv", "people.csv"):
                plan, planner = load.make_plan(load.online_view(session, settings), data / name)
                for ops in write.batches(plan, planner, 500):
                    buffer = io.StringIO()
                    write.to_ldif(ops, buffer)
                    handle.write(buffer.getvalue())
                    count += len(ops)
                if name == "tree.csv":  # the accounts' plan needs the units in place
                    load.write_online(session, plan, planner)
    finally:
        embedded.stop(settings)
    return out, count


def ldapadd(settings: Settings, ldif_path: Path) -> float:
    started = time.perf_counter()
    subprocess.run(["ldapadd", "-Q", "-Y", "EXTERNAL", "-H", settings.ldapi_uri, "-f", str(ldif_path)],
                   check=True, capture_output=True)
    return time.perf_counter() - started


def slapadd(settings: Settings, ldif_path: Path) -> float:
    started = time.perf_counter()
    subprocess.run([embedded.SLAPADD, "-q", "-F", str(settings.config_dir), "-b", settings.suffix, "-l",
                    str(ldif_path)], check=True, capture_output=True)
    return time.perf_counter() - started


def idm_online(settings: Settings, data: Path, atomic: bool = False) -> tuple[float, float]:
    """Seconds for tree + people through the engine (in this process), and the people load's
    last-10%/first-10% rate ratio."""
    timeline = Timeline()
    started = time.perf_counter()
    with load.loader_session(settings) as session:
        for name in ("tree.csv", "people.csv"):
            plan, planner = load.make_plan(load.online_view(session, settings), data / name)
            plan.raise_if_refused()
            load.write_online(session, plan, planner, progress=timeline, atomic=atomic)
    return time.perf_counter() - started, timeline.tail_ratio()


def cli(settings: Settings, *args: str) -> subprocess.Popen[bytes]:
    env = {**os.environ, "IDM_DATA_DIR": str(settings.data_dir)}
    return subprocess.Popen([IDM, *args], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def idm_offline(settings: Settings, data: Path) -> float:
    env = {**os.environ, "IDM_DATA_DIR": str(settings.data_dir)}
    started = time.perf_counter()
    for name in ("tree.csv", "people.csv"):
        proc = subprocess.run([IDM, "load", "--offline", str(data / name)], env=env, capture_output=True,
                              text=True, check=False)
        if proc.returncode != 0:
            raise SystemExit(f"offline load of {name} failed: {proc.stdout[-1500:]} {proc.stderr[-1500:]}")
    return time.perf_counter() - started


def killed_and_resumed(settings: Settings, data: Path, kill_after: float) -> float:
    started = time.perf_counter()
    proc = cli(settings, "load", str(data / "people.csv"))
    try:
        proc.wait(timeout=kill_after)
    except subprocess.TimeoutExpired:
        proc.send_signal(signal.SIGKILL)
        proc.wait()
    if cli(settings, "load", str(data / "people.csv")).wait() != 0:
        raise SystemExit("the resumed load failed")
    return time.perf_counter() - started


MEASURED = """
import resource, sys
from idm_cli.main import cli
sys.argv = ["idm", *sys.argv[1:]]
try:
    cli()
except SystemExit as done:
    code = done.code
print("RSS", resource.getrusage(resource.RUSAGE_SELF).ru_maxrss, file=sys.stderr)
sys.exit(code)
"""


def measured_load(settings: Settings, path: Path) -> tuple[float, float]:
    """Seconds and peak RSS (MB) of one `idm load` process, measured by the process itself."""
    env = {**os.environ, "IDM_DATA_DIR": str(settings.data_dir)}
    started = time.perf_counter()
    proc = subprocess.run([sys.executable, "-c", MEASURED, "load", str(path)], env=env, capture_output=True,
                          text=True, check=False)
    seconds = time.perf_counter() - started
    if proc.returncode != 0:
        raise SystemExit(f"load of {path} failed: {proc.stderr[-2000:]}")
    rss = int(proc.stderr.rsplit("RSS ", 1)[1].split()[0])
    return seconds, rss / 1024


def one_round(data: Path, ldif_path: Path, entries: int, work: Path) -> dict[str, float]:
    out: dict[str, float] = {}
    servers: list[Settings] = []
    try:
        configured = fresh(work / "ldapadd-idm")
        servers.append(configured)
        out["ldapadd idm /s"] = entries / ldapadd(configured, ldif_path)
        vanilla = fresh(work / "ldapadd-vanilla", vanilla=True)
        servers.append(vanilla)
        out["ldapadd vanilla /s"] = entries / ldapadd(vanilla, ldif_path)
        online = fresh(work / "online")
        servers.append(online)
        seconds, tail = idm_online(online, data)
        out["idm load /s"] = entries / seconds
        out["last/first 10%"] = tail
        atomic = fresh(work / "atomic")
        servers.append(atomic)
        out["idm load --atomic /s"] = entries / idm_online(atomic, data, atomic=True)[0]
        # a resumed load against an uninterrupted one: the people file, on the tree just loaded
        again = fresh(work / "resume")
        servers.append(again)
        if cli(again, "load", str(data / "tree.csv")).wait() != 0:
            raise SystemExit("tree load failed")
        plain, out["peak RSS MB"] = measured_load(again, data / "people.csv")
        third = fresh(work / "resume2")
        servers.append(third)
        if cli(third, "load", str(data / "tree.csv")).wait() != 0:
            raise SystemExit("tree load failed")
        out["resumed/uninterrupted"] = killed_and_resumed(third, data, plain / 2) / plain
        for s in servers:
            embedded.stop(s)
        offline = fresh(work / "offline", start=False)
        out["idm load --offline s"] = idm_offline(offline, data)
        reference_offline = fresh(work / "slapadd", start=False)  # base entries in place, as for idm
        out["slapadd -q s"] = slapadd(reference_offline, ldif_path)
    finally:
        for s in servers:
            embedded.stop(s)
    return out


def offline_at_scale(work: Path, units: int, rounds: int) -> list[float]:
    """idm load --offline of a tree of `units` units against slapadd -q of the same entries, each
    into a fresh stopped server, alternating: the ratios of the times."""
    data = work / "big"
    subprocess.run([sys.executable, str(ROOT / "scripts" / "gen-national.py"), str(data), "--units",
                    str(units), "--accounts", "1", "--legacy-share", "0"], check=True, capture_output=True)
    planner = fresh(work / "big-planner", start=False)
    plan, made = load.make_plan(load.offline_view(planner), data / "tree.csv")
    ldif_path = work / "big.ldif"
    with open(ldif_path, "w", encoding="utf-8") as handle:
        for ops in write.batches(plan, made, 500):
            buffer = io.StringIO()
            write.to_ldif(ops, buffer)
            handle.write(buffer.getvalue())
    ratios = []
    for n in range(rounds):
        reference_server = fresh(work / f"big-slapadd{n}", start=False)
        theirs = slapadd(reference_server, ldif_path)
        mine = fresh(work / f"big-idm{n}", start=False)
        env = {**os.environ, "IDM_DATA_DIR": str(mine.data_dir)}
        started = time.perf_counter()
        subprocess.run([IDM, "load", "--offline", str(data / "tree.csv")], env=env, check=True,
                       capture_output=True)
        ratios.append((time.perf_counter() - started) / theirs)
        print(f"  {units} units offline: slapadd -q {theirs:.1f} s, idm load --offline x{ratios[-1]:.2f}",
              flush=True)
    return ratios


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--units", type=int, default=2000)
    parser.add_argument("--accounts", type=int, default=10000)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--offline-units", type=int, default=0,
                        help="also compare the offline path on a tree of this many units")
    args = parser.parse_args()
    samples: dict[str, list[float]] = {}
    with tempfile.TemporaryDirectory(prefix="idm-load-bench-") as tmp:
        work = Path(tmp)
        data = generate(work / "data", args.units, args.accounts)
        ldif_path, entries = as_ldif(data, work)
        for n in range(args.rounds):
            for metric, value in one_round(data, ldif_path, entries, work / f"round{n}").items():
                samples.setdefault(metric, []).append(value)
        at_scale = offline_at_scale(work, args.offline_units, args.rounds) if args.offline_units else []
    m = {k: statistics.median(v) for k, v in samples.items()}
    print(f"{entries} entries ({args.units} units with their containers, {args.accounts} accounts); "
          f"median of {args.rounds} rounds; load average now {os.getloadavg()[0]:.1f}")
    for metric, values in samples.items():
        print(f"  {metric:24} {m[metric]:10.2f}   ({', '.join(f'{v:.2f}' for v in values)})")
    print(f"  idm load / ldapadd (same configuration):   {m['idm load /s'] / m['ldapadd idm /s']:.2f}  "
          "(aim >= 1.0)")
    atomic = m["idm load --atomic /s"] / m["ldapadd idm /s"]
    print(f"  idm load --atomic / ldapadd:                {atomic:.2f}")
    configured = m["ldapadd idm /s"] / m["ldapadd vanilla /s"]
    print(f"  ldapadd idm / ldapadd vanilla:              {configured:.2f}  (aim >= 0.5)")
    offline = m["idm load --offline s"] / m["slapadd -q s"]
    print(f"  idm load --offline / slapadd -q (time):     {offline:.2f}  (aim <= 1.15)")
    print(f"  last 10% / first 10% rate:                  {m['last/first 10%']:.2f}  (aim >= 0.7)")
    print(f"  resumed / uninterrupted (time):             {m['resumed/uninterrupted']:.2f}  (aim <= 1.1)")
    print(f"  peak RSS of the loader:                     {m['peak RSS MB']:.0f} MB")
    if at_scale:
        print(f"  idm load --offline / slapadd -q, {args.offline_units} units: "
              f"{statistics.median(at_scale):.2f}  (aim <= 1.15; {', '.join(f'{r:.2f}' for r in at_scale)})")


if __name__ == "__main__":
    main()
