"""The embedded slapd's keeper: slapd dead of a signal is started again at once, a stop asked
for is not undone, and a slapd that cannot start is reported, not restarted in a loop."""

from __future__ import annotations

import os
import signal
import time

import pytest

from idm.config import Settings
from idm.errors import ServerError
from idm.ops import crash, embedded, keeper
from tests.conftest import ops, start_server


def back_after(settings: Settings, old_pid: int, timeout: float = 20.0) -> float:
    """Seconds until a slapd other than `old_pid` answers."""
    started = time.monotonic()
    while time.monotonic() - started < timeout:
        now = embedded.status(settings)
        if now.answering and now.pid != old_pid:
            return time.monotonic() - started
        time.sleep(0.05)
    raise AssertionError(f"slapd was not started again within {timeout}s")


def test_a_crashed_slapd_is_started_again_with_its_data_and_a_stop_stops_both(tmp_path) -> None:  # type: ignore[no-untyped-def]
    settings = start_server(tmp_path / "idm")
    try:
        with ops(settings) as session:
            session.add(f"ou=before,{settings.suffix}",
                        {"objectClass": ["organizationalUnit"], "ou": ["before"]})
        keeping = embedded.status(settings).keeper
        assert keeping is not None
        for n in range(2):  # twice: the second restart is of a restarted slapd
            pid = int(settings.pid_file.read_text())
            os.kill(pid, signal.SIGSEGV if n else signal.SIGKILL)
            downtime = back_after(settings, pid)
            assert downtime < 10, downtime
            assert embedded.status(settings).keeper == keeping
            with ops(settings) as session:
                assert session.exists(f"ou=before,{settings.suffix}")
        # the keeper notes each slapd's first answer to its probes (the two killed here were
        # killed before its first probe)
        last = f"slapd (pid {int(settings.pid_file.read_text())}) answers, "
        deadline = time.monotonic() + 5
        while last not in "\n".join(keeper.events(settings)) and time.monotonic() < deadline:
            time.sleep(0.1)
        log = "\n".join(keeper.events(settings))
        assert "slapd died (signal SIGKILL)" in log and "(signal SIGSEGV)" in log
        assert last in log, log
        assert not crash.crashed(settings)  # the restart took its crash into account
    finally:
        assert embedded.stop(settings) is True
    time.sleep(0.5)  # a keeper that would start slapd again has had the time to
    after = embedded.status(settings)
    assert after.pid is None and after.keeper is None and not after.running
    assert not settings.pid_file.exists() and not embedded.keeper_pid_file(settings).exists()
    assert embedded.stop(settings) is False


def test_a_slapd_that_no_longer_answers_is_killed_and_started_again(tmp_path) -> None:  # type: ignore[no-untyped-def]
    """A hung slapd (here: stopped with SIGSTOP) is a site down too: the keeper's probes find it
    and it is replaced within about STRIKES x (PROBE_EVERY + PROBE_TIMEOUT) seconds."""
    settings = start_server(tmp_path / "idm")
    try:
        time.sleep(keeper.PROBE_EVERY * 1.5)  # the keeper has seen it answer
        assert embedded.probe(settings) is None
        pid = int(settings.pid_file.read_text())
        os.kill(pid, signal.SIGSTOP)
        assert embedded.probe(settings) is not None
        bound = keeper.STRIKES * (keeper.PROBE_EVERY + keeper.PROBE_TIMEOUT) + 10
        downtime = back_after(settings, pid, timeout=bound)
        log = "\n".join(keeper.events(settings))
        assert f"slapd (pid {pid}) did not answer {keeper.STRIKES} probes in a row: killing it" in log
        print(f"\na hung slapd was replaced {downtime:.1f}s after it stopped answering")
    finally:
        embedded.stop(settings)


def test_a_slapd_that_cannot_start_is_reported_and_not_started_again(tmp_path) -> None:  # type: ignore[no-untyped-def]
    settings = start_server(tmp_path / "idm")
    embedded.stop(settings)
    database = next(p for p in (settings.data_dir).rglob("data.mdb"))
    saved = database.read_bytes()
    database.write_bytes(b"not a database" * 1000)
    try:
        with pytest.raises(ServerError) as refused:
            embedded.start(settings)
        assert "slapd failed to start" in str(refused.value.args) or "slapd 启动失败" in str(refused.value)
        time.sleep(0.5)
        assert not embedded.status(settings).running  # no keeper left trying
    finally:
        database.write_bytes(saved)
    assert embedded.start(settings) is True
    embedded.stop(settings)


def test_a_probe_left_unanswered_lets_the_rest_of_the_process_run(tmp_path) -> None:  # type: ignore[no-untyped-def]
    """The keeper's watcher must go on counting while a probe waits. A peer that takes the
    connection and never answers the bind (as slapd 2.5.13 did after a loader holding a
    transaction was killed) once froze the whole keeper for over 45 s, so the hung slapd was
    never replaced: python-ldap's interactive SASL bind holds the GIL while it waits."""
    import socket
    import threading

    settings = Settings(data_dir=tmp_path / "idm")
    embedded.clear_socket(settings)
    taken: list[socket.socket] = []
    with socket.socket(socket.AF_UNIX) as listener:
        listener.bind(str(settings.socket_path))
        listener.listen(8)

        def take() -> None:
            while True:
                try:
                    taken.append(listener.accept()[0])
                except OSError:
                    return

        threading.Thread(target=take, daemon=True).start()
        said: list[str | None] = []
        probing = threading.Thread(target=lambda: said.append(embedded.probe(settings)), daemon=True)
        probing.start()
        ticks, began = 0, time.monotonic()
        while probing.is_alive() and time.monotonic() - began < keeper.PROBE_LIMIT + 5:
            time.sleep(0.01)
            ticks += 1
        waited = time.monotonic() - began
        probing.join(1)
        for conn in taken:
            conn.close()
    assert taken, "the probe never connected"
    assert said and said[0] is not None, said  # unanswered: a failure, named
    assert ticks >= 0.5 * waited / 0.01, (ticks, waited)  # the other thread ran all along
