"""List the UI strings that have no English translation yet (a test fails on any):
    .venv/bin/python scripts/missing_translations.py"""

from __future__ import annotations

import re
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PO = ROOT / "webui" / "translations" / "en" / "LC_MESSAGES" / "messages.po"


def missing() -> list[str]:
    with tempfile.TemporaryDirectory() as tmp:
        pot = Path(tmp) / "messages.pot"
        subprocess.run([sys.executable, "-m", "babel.messages.frontend", "extract", "--no-wrap", "-F",
                        str(ROOT / "webui" / "babel.cfg"), "-k", "_l", "-o", str(pot), str(ROOT)],
                       check=True, capture_output=True, cwd=ROOT)
        wanted = re.findall(r'^msgid "(.+)"$', pot.read_text(encoding="utf-8"), re.M)
    have = set(re.findall(r'^msgid "(.+)"\nmsgstr "(?:.+)"$', PO.read_text(encoding="utf-8"), re.M))
    return [m for m in dict.fromkeys(wanted) if m not in have]


if __name__ == "__main__":
    for msgid in missing():
        print(msgid)
