"""Append English translations to the catalogue and compile it:
    .venv/bin/python scripts/add_translations.py FILE.py   (FILE defines T = {msgid: msgstr})"""

from __future__ import annotations

import runpy
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PO = ROOT / "webui" / "translations" / "en" / "LC_MESSAGES" / "messages.po"


def add(translations: dict[str, str]) -> int:
    text = PO.read_text(encoding="utf-8").rstrip("\n") + "\n"
    added = 0
    for msgid, msgstr in translations.items():
        if f'\nmsgid "{msgid}"\n' in text:
            continue
        text += f'\nmsgid "{msgid}"\nmsgstr "{msgstr.replace(chr(34), chr(92) + chr(34))}"\n'
        added += 1
    PO.write_text(text, encoding="utf-8")
    subprocess.run([str(Path(sys.executable).with_name("pybabel")), "compile", "-d",
                    str(ROOT / "webui" / "translations")], check=True, capture_output=True)
    return added


if __name__ == "__main__":
    print(add(runpy.run_path(sys.argv[1])["T"]), "added")
