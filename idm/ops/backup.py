"""`idm backup` / `idm restore`: a consistent copy of one node, and a node made from it.

A backup is a folder (0700) holding `slapcat` of the three databases (cn=config, the directory,
the write log), the node's settings, optionally its secrets, CA and TLS material, a manifest and
`SHA256SUMS` (checkable with `sha256sum -c`). slapcat reads a running server's mdb databases
safely; for the two to agree, client writes are refused (`olcReadOnly`) for the few seconds of
the dumps, and log records replicated in after the directory was dumped are left out, so every
change in the copy has its log record and no record describes a change the copy lacks.

Restoring onto the same node (same server ID) gives back its configuration and its write log,
so `idm audit verify` still verifies. Restoring with another server ID makes a new node of a
cluster: the directory only (its write log starts empty), a fresh configuration from the
templates, the service secrets; then `idm cluster apply` joins it.
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import shutil
import socket
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from pathlib import Path

import ldap
import ldif

from idm import __version__
from idm.config import SETTINGS_FILE, Settings, save_settings
from idm.directory import connection
from idm.errors import InvalidInput, ServerError
from idm.ops import embedded, render
from idm.ops.cluster import CLUSTER_FILE
from idm.ops.cluster_state import csns_of
from idm.ops.slapcat import dump as _slapcat

CONFIG, MAIN, LOG = "config.ldif", "main.ldif", "accesslog.ldif"
SUMS, MANIFEST = "SHA256SUMS", "manifest.json"
SECRET_FOLDERS = ("secrets", "ca", "ca-sm2", "tls", "seal")  # seal: the log seal's SM2 key


@dataclass(frozen=True)
class Backup:
    folder: Path
    manifest: dict[str, object]


def _records(path: Path) -> Iterator[str]:
    """The records of an unwrapped slapcat LDIF, one string each (blank-line separated)."""
    block: list[str] = []
    with open(path, encoding="utf-8") as handle:
        for line in handle:
            if line.strip():
                block.append(line)
            elif block:
                yield "".join(block)
                block = []
    if block:
        yield "".join(block)


def _attr(record: str, name: str) -> list[str]:
    prefix = f"{name.lower()}: "
    return [line.split(": ", 1)[1].rstrip("\n") for line in record.splitlines()
            if line.lower().startswith(prefix)]


def context_csns(main_ldif: Path) -> dict[int, str]:
    """The suffix entry's contextCSN (the newest change of each server) in a main-database dump."""
    for record in _records(main_ldif):
        return csns_of(_attr(record, "contextCSN"))
    return {}


def _trim_log(log_ldif: Path, newest: dict[int, str], own_sid: int) -> int:
    """Drop records of other servers' changes newer than the directory copy: they were
    replicated in between the two dumps (this server's own writes were frozen). Returns how
    many were dropped."""
    kept = log_ldif.with_suffix(".tmp")
    dropped = 0
    with open(kept, "w", encoding="utf-8") as out:
        for record in _records(log_ldif):
            csn = next(iter(_attr(record, "entryCSN")), None)
            sid = int(csn.split("#")[2], 16) if csn and csn.count("#") == 3 else own_sid
            if csn and sid != own_sid and csn > newest.get(sid, ""):
                dropped += 1
                continue
            out.write(record + "\n")
    kept.replace(log_ldif)
    return dropped


def _freeze(settings: Settings, on: bool) -> None:
    conn = connection.ops_connection(settings.ldapi_uri)
    try:
        conn.modify_s("olcDatabase={2}mdb,cn=config",
                      [(ldap.MOD_REPLACE, "olcReadOnly", [b"TRUE" if on else b"FALSE"])])
    finally:
        conn.unbind_s()


def sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def _copy_tree(src: Path, dst: Path) -> None:
    """Copy a folder of secrets keeping them private: folders 0700, files 0600."""
    dst.mkdir(mode=0o700, parents=True, exist_ok=True)
    for item in sorted(src.iterdir()):
        target = dst / item.name
        if item.is_dir():
            _copy_tree(item, target)
        elif item.is_file():
            fd = os.open(target, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
            with os.fdopen(fd, "wb") as handle, open(item, "rb") as source:
                shutil.copyfileobj(source, handle)


def create(settings: Settings, out_parent: Path, with_secrets: bool = False) -> Backup:
    """Back up the node of `settings` into a new folder under `out_parent`."""
    if not embedded.is_initialised(settings):
        raise ServerError("数据目录未初始化", f"{settings.data_dir} is not initialised")
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    folder = out_parent / f"idm-backup-{stamp}-sid{settings.server_id}"
    if folder.exists():
        raise InvalidInput(f"备份目录已存在：{folder}", f"the backup folder exists: {folder}")
    folder.mkdir(mode=0o700, parents=True)
    running = embedded.status(settings).answering
    _slapcat(settings, ["-n0"], folder / CONFIG)  # before the freeze, which is not to be kept
    if running:
        _freeze(settings, True)
    try:
        _slapcat(settings, ["-b", settings.suffix], folder / MAIN)
        _slapcat(settings, ["-b", "cn=accesslog"], folder / LOG)
    finally:
        if running:
            _freeze(settings, False)
    newest = context_csns(folder / MAIN)
    dropped = _trim_log(folder / LOG, newest, settings.server_id)
    shutil.copyfile(settings.data_dir / SETTINGS_FILE, folder / SETTINGS_FILE)
    if (settings.data_dir / CLUSTER_FILE).is_file():
        shutil.copyfile(settings.data_dir / CLUSTER_FILE, folder / CLUSTER_FILE)
    if with_secrets:
        for name in SECRET_FOLDERS:
            if (settings.data_dir / name).is_dir():
                _copy_tree(settings.data_dir / name, folder / name)
    manifest: dict[str, object] = {
        "created": stamp, "host": socket.gethostname(), "idm": __version__,
        "server_id": settings.server_id, "suffix": settings.suffix, "data_dir": str(settings.data_dir),
        "ops_dn": render.ops_dn(), "context_csn": {str(k): v for k, v in sorted(newest.items())},
        "entries": sum(1 for _ in _records(folder / MAIN)),
        "log_records": sum(1 for _ in _records(folder / LOG)), "log_records_left_out": dropped,
        "with_secrets": with_secrets, "online": running,
    }
    text = json.dumps(manifest, indent=2, ensure_ascii=False) + "\n"
    (folder / MANIFEST).write_text(text, encoding="utf-8")
    files = sorted(p for p in folder.rglob("*") if p.is_file())
    (folder / SUMS).write_text("".join(f"{sha256(p)}  {p.relative_to(folder)}\n" for p in files),
                               encoding="utf-8")
    return Backup(folder, manifest)


def verify(folder: Path) -> Backup:
    """Every file listed in SHA256SUMS is there and unchanged, and nothing else was added."""
    sums = folder / SUMS
    if not sums.is_file():
        raise InvalidInput(f"不是备份目录（缺少 {SUMS}）：{folder}", f"not a backup (no {SUMS}): {folder}")
    listed: dict[str, str] = {}
    for line in sums.read_text(encoding="utf-8").splitlines():
        digest, _, name = line.partition("  ")
        listed[name] = digest
    bad = [name for name, digest in listed.items()
           if not (folder / name).is_file() or sha256(folder / name) != digest]
    extra = [str(p.relative_to(folder)) for p in folder.rglob("*")
             if p.is_file() and p.name != SUMS and str(p.relative_to(folder)) not in listed]
    for required in (CONFIG, MAIN, LOG, SETTINGS_FILE, MANIFEST):
        if required not in listed:
            bad.append(required)
    if bad or extra:
        names = ", ".join(sorted(set(bad + extra)))
        raise InvalidInput(f"备份校验失败（缺失、被改动或多出的文件）：{names}",
                           f"the backup does not verify (missing, altered or extra files): {names}")
    return Backup(folder, json.loads((folder / MANIFEST).read_text(encoding="utf-8")))


def _rewrite_config(text: bytes, old: dict[str, str], server_id: int) -> str:
    """The backed-up cn=config for this machine: the data folder's path and the local
    operator's identity replaced, the server ID set."""
    parser = ldif.LDIFRecordList(io.BytesIO(text))
    parser.parse()
    out = io.StringIO()
    writer = ldif.LDIFWriter(out, cols=10000)
    for dn, attrs in parser.all_records:
        new_attrs: dict[str, list[bytes]] = {}
        for name, values in attrs.items():
            fixed = []
            for value in values:
                for before, after in old.items():
                    value = value.replace(before.encode(), after.encode())
                fixed.append(value)
            new_attrs[name] = fixed
        if dn == "cn=config":
            new_attrs["olcServerID"] = [str(server_id).encode()]
        writer.unparse(dn, new_attrs)
    return out.getvalue()


def _slapadd(settings: Settings, args: list[str], source: Path, what: str) -> None:
    proc = subprocess.run([embedded.SLAPADD, "-F", str(settings.config_dir), "-q", *args, "-l", str(source)],
                          capture_output=True, text=True, check=False)
    if proc.returncode != 0:
        raise ServerError(f"{what} 导入失败：{proc.stderr.strip()[-1000:]}",
                          f"slapadd of {what} failed: {proc.stderr.strip()[-1000:]}")


def restore(folder: Path, data_dir: Path, *, server_id: int | None = None, port: int | None = None,
            host: str | None = None, tls_port: int | None = None, with_log: bool = True) -> Settings:
    """Make a node in the empty folder `data_dir` from a verified backup. Nothing is written
    until the backup has verified and the target is known to be empty."""
    backup = verify(folder)
    if data_dir.exists() and any(data_dir.iterdir()):
        raise InvalidInput(f"目标数据目录不为空：{data_dir}（恢复只写入空目录）",
                           f"the target data folder is not empty: {data_dir} "
                           "(restore writes to an empty one)")
    data = json.loads((folder / SETTINGS_FILE).read_text(encoding="utf-8"))
    old_dir = data.pop("data_dir")
    data["uris"] = tuple(data.get("uris") or ())
    source = Settings(data_dir=Path(old_dir), **data)
    new_node = server_id is not None and server_id != source.server_id
    overrides = {k: v for k, v in {"port": port, "host": host, "server_id": server_id,
                                   "tls_port": tls_port}.items() if v is not None}
    settings = replace(source, data_dir=data_dir.resolve(), **overrides)  # type: ignore[arg-type]
    for sub in ("slapd.d", "db/main", "db/accesslog", "run", "log"):
        (settings.data_dir / sub).mkdir(parents=True, exist_ok=True)
    os.chmod(settings.data_dir, 0o750)
    try:
        config_ldif = settings.data_dir / "config.ldif"
        if new_node:
            settings = replace(settings, uris=(), tls_port=tls_port, require_tls=False)
            config_ldif.write_text(render.render_config(settings), encoding="utf-8")
        else:
            old_ops = str(backup.manifest.get("ops_dn", render.ops_dn()))
            moved = {old_dir: str(settings.data_dir), old_ops: render.ops_dn()}
            config_ldif.write_text(_rewrite_config((folder / CONFIG).read_bytes(), moved, settings.server_id),
                                   encoding="utf-8")
        _slapadd(settings, ["-n0"], config_ldif, "cn=config")
        embedded.check_config(settings)
        # -w: contextCSN from the newest change of each server in the entries themselves. A
        # dump of a running server carries the last one syncprov checkpointed, which may be
        # far older: the node would then replay changes it already holds, which was seen to
        # leave entries behind their providers.
        _slapadd(settings, ["-w", "-b", settings.suffix], folder / MAIN, "the directory")
        if with_log and not new_node:
            _slapadd(settings, ["-b", "cn=accesslog"], folder / LOG, "the write log")
        for name in SECRET_FOLDERS:
            if (folder / name).is_dir() and (name == "secrets" or not new_node):
                _copy_tree(folder / name, settings.data_dir / name)
        settings.secrets_dir.mkdir(mode=0o700, exist_ok=True)
        if (folder / CLUSTER_FILE).is_file() and not new_node:
            shutil.copyfile(folder / CLUSTER_FILE, settings.data_dir / CLUSTER_FILE)
    except Exception:  # leave the folder as empty as it was found, so the restore can be retried
        for item in settings.data_dir.iterdir():
            shutil.rmtree(item) if item.is_dir() else item.unlink()
        raise
    save_settings(settings)
    return settings
