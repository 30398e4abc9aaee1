"""The audit seal's signing key (等保 8.1.4.3, 密评 8.4 b): an SM2 key of the local operator, in
a 0600 file outside the directory, so that whoever can write the log and the seals in the
directory (its rootDN, its files) still cannot make a seal that verifies. The public key
beside it (`seal.pub.pem`) is what an auditor or an assessor verifies with.

Each server of a cluster seals its own log with its own key; its seals name the key (its SM3
fingerprint), so a seal signed by any other key is reported as such.
"""

from __future__ import annotations

import base64
import fcntl
import json
import secrets
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from idm.errors import InvalidInput, ServerError
from idm.ops.bootstrap import write_secret
from idm.pki import sm2

KEY, PUBLIC, PASSPHRASE, ANCHORS = "seal.key.pem", "seal.pub.pem", "passphrase", "anchors.json"


def folder_of(data_dir: Path) -> Path:
    return data_dir / "seal"


@dataclass(frozen=True)
class SealKey:
    folder: Path

    @property
    def key_file(self) -> Path:
        return self.folder / KEY

    @property
    def passphrase_file(self) -> Path:
        return self.folder / PASSPHRASE

    def public_pem(self) -> bytes:
        return (self.folder / PUBLIC).read_bytes()

    def fingerprint(self) -> str:
        return fingerprint(self.public_pem())

    def sign(self, data: bytes) -> bytes:
        return sm2.sign(self.key_file, self.passphrase_file, data)

    def anchor(self, server_id: int) -> dict[str, Any] | None:
        """The newest seal this key made for a server's log ({"seq", "chain"}), kept beside the
        key: seals removed from the directory's end, or replaced, are then still seen."""
        path = self.folder / ANCHORS
        if not path.is_file():
            return None
        try:
            found = json.loads(path.read_text(encoding="utf-8")).get(str(server_id))
        except ValueError:
            raise ServerError(f"封存锚点文件 {path} 已损坏",
                              f"the seal anchor file {path} is damaged") from None
        return found if isinstance(found, dict) else None

    def set_anchor(self, server_id: int, seq: int, chain: str) -> None:
        path = self.folder / ANCHORS
        kept = json.loads(path.read_text(encoding="utf-8")) if path.is_file() else {}
        kept[str(server_id)] = {"seq": seq, "chain": chain}
        write_secret(path, json.dumps(kept, sort_keys=True))

    @contextmanager
    def locked(self) -> Iterator[None]:
        """One seal at a time (the timer and an evidence pack may start together)."""
        with open(self.folder / ".lock", "a") as handle:
            fcntl.flock(handle, fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(handle, fcntl.LOCK_UN)


def fingerprint(public_pem: bytes) -> str:
    """SM3 of the public key's DER: how a seal names the key that signed it."""
    # a PEM's body is its DER (cryptography cannot load SM2 keys)
    body = b"".join(line.strip() for line in public_pem.splitlines()
                    if line and not line.startswith(b"-----"))
    try:
        if not public_pem.lstrip().startswith(b"-----BEGIN PUBLIC KEY-----"):
            raise ValueError
        return sm2.sm3(base64.b64decode(body, validate=True))
    except ValueError:
        raise InvalidInput("不是 PEM 格式的公钥", "not a PEM public key") from None


def _check_private(path: Path) -> None:
    if path.stat().st_mode & 0o077:
        raise ServerError(f"封存密钥文件 {path} 的权限应为 0600", f"the seal key file {path} must be 0600")


def load(data_dir: Path, create: bool = False) -> SealKey:
    """The seal key of this data folder; made at the first seal (`create`), refused if its
    files are readable by others."""
    folder = folder_of(data_dir)
    key = SealKey(folder)
    if not key.key_file.is_file():
        if not create:
            raise ServerError("尚无封存密钥（首次 idm audit seal 时创建）",
                              "no seal key yet (the first idm audit seal makes it)")
        folder.mkdir(mode=0o700, parents=True, exist_ok=True)
        write_secret(key.passphrase_file, secrets.token_urlsafe(32))
        sm2.new_key(key.key_file, key.passphrase_file)
        (folder / PUBLIC).write_bytes(sm2.public_pem(key.key_file, key.passphrase_file))
    _check_private(key.key_file)
    _check_private(key.passphrase_file)
    return key
