"""`idm backup` / `idm restore` on a real slapd: a consistent copy with SHA-256 sums, restored
into an empty folder; the audit seal still verifies; a damaged backup or a used folder is
refused with nothing changed."""

from __future__ import annotations

import json
import subprocess
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from idm.config import Settings, load_settings
from idm.errors import InvalidInput
from idm.ops import backup, embedded
from idm.oversight import seal, seal_key
from tests.conftest import DEMO, free_port, ops, run_cli, start_server

LOAD = "ou=load,dc=edu,dc=cn"


@pytest.fixture(scope="module")
def node(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Settings]:
    settings = start_server(tmp_path_factory.mktemp("backup") / "idm")
    assert run_cli(settings, "org", "import", str(DEMO / "inner-mongolia.csv")).exit_code == 0
    assert run_cli(settings, "bootstrap", str(DEMO / "province-admins.csv")).exit_code == 0
    with ops(settings) as session:
        session.add(LOAD, {"objectClass": ["organizationalUnit"], "ou": ["load"]})
    assert run_cli(settings, "audit", "seal").exit_code == 0
    yield settings
    embedded.stop(settings)


def slapcat(settings: Settings, base: str) -> list[str]:
    """The database as sorted records, without the contextCSN (recomputed on restore)."""
    out = subprocess.run(["slapcat", "-F", str(settings.config_dir), "-b", base, "-o", "ldif_wrap=no"],
                         capture_output=True, text=True, check=True).stdout
    records = ["\n".join(line for line in r.splitlines() if not line.startswith("contextCSN:"))
               for r in out.strip().split("\n\n")]
    # the log's own top entry is made by the overlay on the fly, slapadd stores it in full
    return sorted(r for r in records if not r.startswith("dn: cn=accesslog\n"))


def test_backup_and_restore_give_back_the_node_and_its_sealed_log(node: Settings, tmp_path: Path) -> None:
    made = run_cli(node, "backup", "--out", str(tmp_path), "--with-secrets")
    assert made.exit_code == 0, made.output
    (folder,) = tmp_path.glob("idm-backup-*")
    assert oct(folder.stat().st_mode & 0o777) == "0o700"
    check = subprocess.run(["sha256sum", "--quiet", "-c", "SHA256SUMS"], cwd=folder, capture_output=True,
                           text=True, check=False)
    assert check.returncode == 0, check.stdout + check.stderr  # the standard tool agrees
    manifest = json.loads((folder / "manifest.json").read_text())
    assert manifest["entries"] > 800 and manifest["log_records"] > 0 and manifest["online"] is True
    for secret in (folder / "secrets").iterdir():
        assert oct(secret.stat().st_mode & 0o777) == "0o600", secret

    target = tmp_path / "restored"
    done = run_cli(node, "--data-dir", str(target), "restore", str(folder), "--port", str(free_port()))
    assert done.exit_code == 0, done.output
    restored = load_settings(target)
    assert restored.server_id == node.server_id and restored.port != node.port
    assert slapcat(restored, restored.suffix) == slapcat(node, node.suffix)
    assert slapcat(restored, "cn=accesslog") == slapcat(node, "cn=accesslog")
    assert oct((target / "secrets" / "idm-webui.secret").stat().st_mode & 0o777) == "0o600"
    embedded.start(restored)
    try:
        verified = run_cli(restored, "audit", "verify")
        assert verified.exit_code == 0 and "intact" in verified.output, verified.output
        with ops(restored) as session:  # and the chain goes on from there
            key = seal_key.load(restored.data_dir)  # the restored node's key came with its secrets
            seal.seal(session, key, restored.server_id, settle=seal.AT_ONCE)
            assert seal.verify(session, key.public_pem(), restored.log_purge_days, restored.server_id) == []
    finally:
        embedded.stop(restored)


def test_a_backup_taken_during_writes_is_consistent(node: Settings, tmp_path: Path) -> None:
    """Writes go on while the dump runs; in the copy, every change has its log record."""
    stop = threading.Event()
    written: list[int] = []

    def writer() -> None:
        with ops(node) as session:
            i = 0
            while not stop.is_set():
                i += 1
                try:
                    session.add(f"cn=during-{i},{LOAD}", {"objectClass": ["applicationProcess"],
                                                          "cn": [f"during-{i}"]})
                    written.append(i)
                except Exception:  # refused for the moment of the dump: a client retries later
                    pass

    thread = threading.Thread(target=writer)
    thread.start()
    try:
        while len(written) < 50:
            time.sleep(0.01)
        made = backup.create(node, tmp_path)
    finally:
        stop.set()
        thread.join()
    main = (made.folder / backup.MAIN).read_text(encoding="utf-8")
    log = (made.folder / backup.LOG).read_text(encoding="utf-8")
    copied = [line.split(": ", 1)[1] for record in main.split("\n\n") if "cn: during-" in record
              for line in record.splitlines() if line.startswith("entryCSN: ")]
    logged = {line.split(": ", 1)[1] for line in log.splitlines() if line.startswith("entryCSN: ")}
    assert copied and all(csn in logged for csn in copied)
    assert len(copied) < len(written) + 1


def test_a_damaged_backup_is_refused_and_nothing_is_written(node: Settings, tmp_path: Path) -> None:
    made = backup.create(node, tmp_path / "b")
    with open(made.folder / backup.MAIN, "a", encoding="utf-8") as handle:
        handle.write("\ndn: cn=slipped-in,dc=edu,dc=cn\nobjectClass: applicationProcess\ncn: slipped-in\n")
    target = tmp_path / "target"
    result = run_cli(node, "--data-dir", str(target), "restore", str(made.folder))
    assert result.exit_code == 1
    assert "备份校验失败" in result.output and "does not verify" in result.output
    assert "main.ldif" in result.output
    assert not target.exists()
    (made.folder / "extra.txt").write_text("x")
    with pytest.raises(InvalidInput, match="extra.txt"):
        backup.verify(made.folder)


def test_restore_only_writes_into_an_empty_folder(node: Settings, tmp_path: Path) -> None:
    made = backup.create(node, tmp_path / "b")
    used = tmp_path / "used"
    used.mkdir()
    (used / "keep.txt").write_text("mine")
    result = run_cli(node, "--data-dir", str(used), "restore", str(made.folder))
    assert result.exit_code == 1 and "not empty" in result.output
    assert [p.name for p in used.iterdir()] == ["keep.txt"]
    with pytest.raises(InvalidInput, match="not a backup"):
        backup.restore(tmp_path, tmp_path / "elsewhere")
