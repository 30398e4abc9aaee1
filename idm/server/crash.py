"""After slapd died without shutting down (kill -9, power loss, the OOM killer): each database's
`contextCSN` put right before slapd starts again.

syncprov keeps a database's `contextCSN` (the newest change it holds of each server) in memory
and writes it to the database's base entry only at a checkpoint or a clean stop. After a crash
the stored one is behind what the database holds. The restarted provider then asks its peers
for changes "since" that old state, and they send back changes it already has, its own
included. Applying one fails (the entry already exists), and slapd 2.5.13 leaves that change's
CSN pending for good: no later write of that server moves the database's state again, so the
provider refuses every consumer that has seen more ("consumer state is newer than provider")
and replication through it stalls. This was the fault run's stall after `kill -9`
(tests/test_replication.py): the crashed provider's own state stayed at the CSN of a change its
peer had sent back to it, with its newer writes, a seal included, going nowhere.

So, before slapd starts after a crash, the stored `contextCSN` of the directory and of the
write log is raised, server by server, to the newest `entryCSN` each database holds (read with
`slapcat`, written with `slapmodify`, both offline). It never lowers a value. A crash is told by
slapd's pid file: slapd removes it when it stops cleanly.
"""

from __future__ import annotations

import os
import subprocess
import tempfile
from pathlib import Path

from idm.config import Settings
from idm.errors import ServerError

SLAPCAT = os.environ.get("IDM_SLAPCAT", "/usr/sbin/slapcat")
SLAPMODIFY = os.environ.get("IDM_SLAPMODIFY", "/usr/sbin/slapmodify")
LOG_BASE = "cn=accesslog"


def crashed(settings: Settings) -> bool:
    """slapd's pid file is there but its process is not: it did not stop cleanly. In a container
    the dead slapd was PID 1, which is now this very process (`idm server run` before it becomes
    slapd): that file is stale too."""
    try:
        pid = int(settings.pid_file.read_text().strip())
    except (OSError, ValueError):
        return False
    if pid == os.getpid():
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    except PermissionError:
        return False
    return False


def restate(settings: Settings) -> dict[str, dict[int, str]]:
    """Raise each database's stored `contextCSN` to the newest change it holds per server
    (slapd must be stopped). Returns, per database base, the values that were raised."""
    raised: dict[str, dict[int, str]] = {}
    with tempfile.TemporaryDirectory(prefix="idm-restate-") as tmp:
        for base in (settings.suffix, LOG_BASE):
            stored, held = _states(settings, base, Path(tmp) / "db.ldif")
            higher = {sid: csn for sid, csn in held.items() if csn > stored.get(sid, "")}
            if higher:
                _write(settings, base, {**stored, **higher}, Path(tmp) / "change.ldif")
                raised[base] = higher
    return raised


def _states(settings: Settings, base: str, out: Path) -> tuple[dict[int, str], dict[int, str]]:
    """The stored `contextCSN` of the database at `base` and the newest `entryCSN` per server
    among the entries below it."""
    _tool([SLAPCAT, "-F", str(settings.config_dir), "-o", "ldif_wrap=no", "-b", base, "-l", str(out)],
          "slapcat")
    stored: dict[int, str] = {}
    held: dict[int, str] = {}
    base_dn = f"dn: {base}".lower()
    in_base = False
    with open(out, encoding="utf-8", errors="replace") as handle:
        for line in handle:
            lower = line.lower()
            if lower.startswith("dn:"):
                in_base = lower.rstrip("\n") == base_dn
            elif lower.startswith("entrycsn: ") and not in_base:  # syncprov's own state writes move it
                _keep_newest(held, line.split(": ", 1)[1].strip())
            elif in_base and lower.startswith("contextcsn: "):
                _keep_newest(stored, line.split(": ", 1)[1].strip())
    return stored, held


def _keep_newest(states: dict[int, str], csn: str) -> None:
    parts = csn.split("#")
    if len(parts) != 4:
        return
    sid = int(parts[2], 16)
    if csn > states.get(sid, ""):
        states[sid] = csn


def _write(settings: Settings, base: str, states: dict[int, str], change: Path) -> None:
    values = "".join(f"contextCSN: {csn}\n" for _, csn in sorted(states.items()))
    change.write_text(f"dn: {base}\nchangetype: modify\nreplace: contextCSN\n{values}-\n\n", encoding="utf-8")
    _tool([SLAPMODIFY, "-F", str(settings.config_dir), "-b", base, "-l", str(change)], "slapmodify")


def _tool(args: list[str], name: str) -> None:
    proc = subprocess.run(args, capture_output=True, text=True, check=False)
    if proc.returncode != 0:
        raise ServerError(f"{name} 失败：{proc.stderr.strip()[-1000:]}",
                          f"{name} failed: {proc.stderr.strip()[-1000:]}")
