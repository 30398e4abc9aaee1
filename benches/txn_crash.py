"""Does this slapd survive a loader stopped while it holds an RFC 5805 transaction, and when it
does not, how long is the site down?

On slapd 2.5.13 (Debian 12) `kill -9` of `idm load --atomic` in the middle of its batches takes
the server down (a slapd thread segfaults, see the kernel log; Debian 13's 2.6.10 does the same,
`benches/txn_crash_vanilla.py`), which is why loads do not use transactions unless asked. Two
defences are measured here, alternating rounds on one server:

- SIGTERM (what `kill`, systemd and a closed terminal send): the loader catches it and ends its
  open transaction uncommitted before it exits, so slapd should live;
- SIGKILL (cannot be caught): slapd may die, and its keeper (`idm.ops.keeper`) starts it again;
  the downtime is from the kill until slapd answers again.

After the rounds a last load finishes the file, and the bench checks that every unit is there
once (nothing lost, nothing twice).

    .venv/bin/python benches/txn_crash.py [--rounds 6]
"""

from __future__ import annotations

import argparse
import os
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import ldap

sys.path.insert(0, str(Path(__file__).resolve().parent))
import _common as c  # noqa: E402
from load import generate  # noqa: E402

from idm.config import Settings
from idm.ops import embedded

IDM = str(Path(sys.executable).parent / "idm")


def round_(settings: Settings, tree: Path, signum: int, moment: float) -> tuple[bool, float]:
    """One load stopped by `signum` at `moment` s: (did slapd die, seconds from the signal until
    it answered again). slapd is watched for 2 s after the loader's end, every 20 ms."""
    env = {**os.environ, "IDM_DATA_DIR": str(settings.data_dir)}
    pid = embedded.status(settings).pid
    proc = subprocess.Popen([IDM, "load", "--atomic", "--batch", "50", str(tree)], env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    time.sleep(moment)
    signalled = time.monotonic()
    proc.send_signal(signum)
    proc.wait()
    watch_until = time.monotonic() + 2.0
    downtime = 0.0
    seen_down = False
    while time.monotonic() < watch_until + 30:
        answering = embedded.status(settings).answering
        seen_down = seen_down or not answering
        if answering and seen_down:
            downtime = time.monotonic() - signalled
            break
        if answering and time.monotonic() > watch_until:
            break
        time.sleep(0.02)
    else:
        raise SystemExit("slapd did not answer again within 30 s")
    return embedded.status(settings).pid != pid, downtime


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=6, help="rounds of each signal")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="idm-txn-crash-") as tmp:
        data = generate(Path(tmp) / "data", 3000, 10)
        tree = data / "tree.csv"
        settings = c.start_idm(Path(tmp) / "s")
        deaths: dict[int, list[bool]] = {signal.SIGTERM: [], signal.SIGKILL: []}
        downtimes: list[float] = []
        try:
            for n in range(args.rounds * 2):
                signum = (signal.SIGTERM, signal.SIGKILL)[n % 2]
                moment = 1.0 + (n // 2) * 0.4
                died, downtime = round_(settings, tree, signum, moment)
                deaths[signum].append(died)
                if died:
                    downtimes.append(downtime)
                what = (f"slapd died, answering again {downtime:.2f}s after the signal" if died
                        else "slapd lived")
                print(f"{signal.Signals(signum).name} at {moment:.1f}s: {what}", flush=True)
            env = {**os.environ, "IDM_DATA_DIR": str(settings.data_dir)}
            subprocess.run([IDM, "load", str(tree)], env=env, check=True, capture_output=True)
            codes = [line.split(",")[0] for line in tree.read_text().splitlines()[1:]]
            with c.ops(settings) as session:
                found = session.conn.search_s(settings.suffix, ldap.SCOPE_SUBTREE, "(objectClass=idmOrgUnit)",
                                              ["ou"])
            held = sorted(a["ou"][0].decode() for dn, a in found if dn)
        finally:
            embedded.stop(settings)
    for signum, died in deaths.items():
        print(f"{signal.Signals(signum).name}: {sum(died)} of {len(died)} took slapd down")
    if downtimes:
        print(f"downtime after a crash (kill to answering, keeper restart): median "
              f"{statistics.median(downtimes):.2f}s, max {max(downtimes):.2f}s")
    print(f"after a final load: {len(held)} units held, {len(codes)} in the file, "
          f"{'all once' if held == sorted(codes) else 'MISMATCH'}")


if __name__ == "__main__":
    main()
