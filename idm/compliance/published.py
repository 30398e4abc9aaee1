"""Packs made available to the auditors: `idm compliance pack --publish` copies the folder into
`<data>/packs/`, where the web UI lists them for the security auditor of the pack's unit or of a
level above it, and hands one over as a zip. The pack is made by the local operator (it needs
the whole log, cn=config, slapacl and the seal key, none of which the web tier has); the
auditor only takes it away, and checks it with `idm compliance verify`."""

from __future__ import annotations

import io
import json
import re
import shutil
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from idm.compliance.pack import MANIFEST, Check, verify
from idm.errors import NotFound
from idm.oversight import seal_key

FOLDER = "packs"
NAME = re.compile(r"^[0-9]{1,12}-[0-9]{8}-[0-9]{8}-[0-9]{14}Z(-[0-9]{1,4})?$")


def publish(data_dir: Path, pack: Path, manifest: dict[str, Any]) -> Path:
    """A copy of the pack under `<data>/packs/`, named by unit, period and time made."""
    name = f"{manifest['unit']}-{manifest['from']}-{manifest['to']}-{manifest['made_at']}"
    (data_dir / FOLDER).mkdir(mode=0o700, parents=True, exist_ok=True)
    target, n = data_dir / FOLDER / name, 1
    while target.exists():  # two packs of one unit and period made within the same second
        n += 1
        target = data_dir / FOLDER / f"{name}-{n}"
    shutil.copytree(pack, target)
    target.chmod(0o700)
    for path in target.iterdir():
        path.chmod(0o600)
    return target


def listing(data_dir: Path) -> list[tuple[str, dict[str, Any]]]:
    """(name, manifest) of every published pack, newest first."""
    folder = data_dir / FOLDER
    found = []
    if folder.is_dir():
        for path in folder.iterdir():
            if NAME.match(path.name) and (path / MANIFEST).is_file():
                try:
                    found.append((path.name, json.loads((path / MANIFEST).read_text(encoding="utf-8"))))
                except ValueError:
                    continue
    return sorted(found, key=lambda item: str(item[1].get("made_at", "")), reverse=True)


def zipped(data_dir: Path, name: str) -> bytes:
    """The pack as one zip, its folder's name at the top."""
    path = data_dir / FOLDER / name
    if not NAME.match(name) or not (path / MANIFEST).is_file():
        raise NotFound(f"没有这个证据包：{name}", f"no such pack: {name}")
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as archive:
        for file in sorted(path.iterdir()):
            archive.write(file, f"{name}/{file.name}")
    return out.getvalue()


@dataclass(frozen=True)
class PackCheck:
    """A published pack checked where it lies: its manifest's SM2 signature and every file's SM3
    (`pack.verify`), with the site's own seal public key when the web tier has it, and what the
    pack's seal check found when the operator made it."""

    check: Check
    site_key: bool  # checked with this site's seal.pub.pem, not with the key the pack carries
    log_findings: list[tuple[str, str]]  # at the pack's making: changes in the log or its seals
    log_checked: bool  # the pack holds the log-and-seal section

    @property
    def problems(self) -> list[tuple[str, str]]:
        """The check's problems, each (中文, English)."""
        return [halves(p) for p in self.check.problems]


def check(data_dir: Path, name: str, manifest: dict[str, Any]) -> PackCheck:
    """The published pack `name`, whose manifest (as `listing` read it) is `manifest`. Why here
    and not on the live log: a seal covers every value of every record, hashes and private
    values included (R17), which no auditor may read, so the live log is verified by the local
    operator (`idm audit verify`) and the result travels in the signed pack; an auditor
    re-checks the pack's signature and files against the site's key."""
    if not NAME.match(name):
        raise NotFound(f"没有这个证据包：{name}", f"no such pack: {name}")
    site = seal_key.folder_of(data_dir) / seal_key.PUBLIC
    trusted = site.read_bytes() if site.is_file() else None
    checked = verify(data_dir / FOLDER / name, trusted)
    log = [s for s in manifest.get("sections", []) if isinstance(s, dict) and s.get("key") == "audit-log"]
    findings = [halves(str(f)) for s in log for f in s.get("findings", [])]
    return PackCheck(checked, trusted is not None, findings, bool(log))


def halves(text: str) -> tuple[str, str]:
    """("中文", "English") of a "中文 / English" message; one written in one language is both."""
    zh, sep, en = text.partition(" / ")
    return (zh, en) if sep else (text, text)
