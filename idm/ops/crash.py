"""After slapd died without shutting down (kill -9, power loss, the OOM killer): its replication
consumers started from what the database really holds.

syncprov keeps a database's `contextCSN` (the newest change it holds of each server) in memory
and writes it to the database's base entry only at a checkpoint or a clean stop. After a crash
the stored one is behind what the database holds. A restarted provider's consumers start from
that old state and ask the peers for changes it already has, its own included. Applying one
fails (the entry is already there), and slapd 2.5.13 then leaves that change's CSN pending for
good: no later write of that server moves the database's state again, the provider refuses
every consumer that has seen more ("consumer state is newer than provider"), and replication
through it stalls. That was the fault run's stall after `kill -9` (tests/test_replication.py):
the crashed provider's own state stayed at the CSN of a change its peer had sent back to it,
and its newer writes, a seal included, went nowhere.

So, when slapd starts after a crash, each consumer of the directory is given a cookie
(`slapd -c rid=...,csn=...`) holding the newest `entryCSN` per server found in the database
(read offline with `slapcat`). The stored state itself is not rewritten: `slapmodify` gives the
base entry a new `entryUUID`, which would set it apart from its copies on the other nodes. A
crash is told by slapd's pid file: slapd removes it when it stops cleanly. The start after a
crash reads the whole directory once (as a backup's `slapcat` does); a clean start reads nothing.
"""

from __future__ import annotations

import base64
import os
import re
import tempfile
from pathlib import Path

from idm.config import Settings
from idm.ops.slapcat import dump as _slapcat


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


def cookies(settings: Settings) -> list[str]:
    """`slapd -c` cookies that start each replication consumer of the directory from the newest
    change the database holds of each server (slapd must be stopped; after a crash). Empty for a
    server that replicates from nobody."""
    with tempfile.TemporaryDirectory(prefix="idm-crash-") as tmp:
        rids = _rids(settings, Path(tmp) / "config.ldif")
        if not rids:
            return []
        stored, held = _states(settings, settings.suffix, Path(tmp) / "db.ldif")
    newest = {sid: max(csn, stored.get(sid, "")) for sid, csn in held.items()}
    newest.update({sid: csn for sid, csn in stored.items() if sid not in newest})
    csns = ";".join(csn for _, csn in sorted(newest.items()))
    return [f"rid={rid},csn={csns}" for rid in rids] if csns else []


def _rids(settings: Settings, out: Path) -> list[str]:
    """The replication IDs of the directory database's consumers, from the offline config."""
    _slapcat(settings, ["-n", "0"], out)
    rids = []
    for line in out.read_text(encoding="utf-8", errors="replace").splitlines():
        if line.lower().startswith("olcsyncrepl:: "):
            line = "olcSyncrepl: " + base64.b64decode(line.split(":: ", 1)[1]).decode("utf-8", "replace")
        if line.lower().startswith("olcsyncrepl:"):
            found = re.search(r"\brid=(\d+)", line)
            if found and f"searchbase=\"{settings.suffix}\"".lower() in line.lower():
                rids.append(found.group(1))
    return rids


def _states(settings: Settings, base: str, out: Path) -> tuple[dict[int, str], dict[int, str]]:
    """The stored `contextCSN` of the database at `base` and the newest `entryCSN` per server
    among the entries below it."""
    _slapcat(settings, ["-b", base], out)
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
