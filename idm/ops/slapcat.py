"""slapcat, the one way the toolkit reads a database's files: backups, the start after a crash,
an offline load's view of a stopped server. (It reads a running server's mdb safely.)"""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

from idm.config import Settings
from idm.errors import ServerError

SLAPCAT = os.environ.get("IDM_SLAPCAT", "/usr/sbin/slapcat")


def dump(settings: Settings, args: list[str], out: Path) -> None:
    """`slapcat -F <config> <args>` into `out`, unwrapped; refused with slapcat's own words."""
    proc = subprocess.run([SLAPCAT, "-F", str(settings.config_dir), "-o", "ldif_wrap=no", *args,
                           "-l", str(out)], capture_output=True, text=True, check=False)
    if proc.returncode != 0:
        raise ServerError(f"slapcat 失败：{proc.stderr.strip()[-1000:]}",
                          f"slapcat failed: {proc.stderr.strip()[-1000:]}")
