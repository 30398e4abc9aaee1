"""The embedded slapd's keeper: a small parent process that starts slapd again after it crashed.

Why: slapd 2.5.13 (Debian 12) segfaults when a client holding an open RFC 5805 transaction goes
away (`benches/txn_crash.py`), and any slapd may be killed by the OOM killer. Under systemd
(`Restart=on-failure`) and in the containers (`restart: unless-stopped`, slapd is PID 1) the
supervisor starts it again; `idm server start` had none, so a crash left the site down until an
operator noticed. The keeper is that supervisor for the embedded server: it runs slapd in the
foreground as its child, and when slapd dies of anything but a stop it was asked for, it starts
it again at once, with where its replication consumers start (`idm.ops.crash`). A slapd that
lives but no longer answers is a site down all the same (after a client holding a transaction
was killed, slapd 2.5.13 was seen not answering for about 20 s before it segfaulted): once
slapd has answered, the keeper asks it every `PROBE_EVERY` seconds for a bind and its root
entry over ldapi (`embedded.probe`), and after `STRIKES` unanswered probes in a row it kills
it (SIGKILL) and starts it again. A probe runs in a thread of its own, so a probe that itself
never returns (a socket libldap waits on despite its timeouts) is an unanswered probe too, not a
keeper that stops watching. Each (re)started slapd's first answer and each unanswered probe is
an event in `log/keeper.log`.

    python -m idm.ops.keeper DATA_DIR      (the settings' JSON on standard input)

What it does not do: restart a slapd that exits by itself with an error soon after its start (a
configuration, port or database error, for `idm server start` to report from the log), or one
that keeps crashing at once (after `GIVE_UP` deaths within `QUICK` seconds of their starts it
stops, and says so in `log/keeper.log`).
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from datetime import UTC, datetime
from pathlib import Path
from types import FrameType

from idm.config import Settings, parse_settings
from idm.ops import embedded

QUICK = 3.0  # a death this soon after a start counts towards giving up (a crash loop)
GIVE_UP = 5
STOPS = (signal.SIGTERM, signal.SIGINT, signal.SIGHUP)
PROBE_EVERY = 1.0
PROBE_TIMEOUT = embedded.PROBE_TIMEOUT
PROBE_LIMIT = 2 * PROBE_TIMEOUT + 1  # a bind and a search, each within PROBE_TIMEOUT
STRIKES = 3  # so a hung slapd is killed after 3 to 12 s without an answer
START_GRACE = 15.0  # a restarted slapd answers in a fraction of a second
STOP_GRACE = 20.0  # `embedded.stop` waits 30 s for the keeper


def _watch(settings: Settings, proc: subprocess.Popen[bytes], stopping: list[float | None],
           restarted: bool) -> int:
    """Wait for slapd to exit; kill it when it stopped answering, when a restarted one has not
    answered within START_GRACE, or when it has not finished a stop within STOP_GRACE (seen: a
    slapd whose shutdown stalled, its listener never woken). Its exit status."""
    answered = False
    strikes = 0
    started = time.monotonic()
    probe = _Probe(settings)
    while True:
        try:
            return proc.wait(timeout=PROBE_EVERY)
        except subprocess.TimeoutExpired:
            pass
        asked = stopping[0]
        if asked is not None:
            if time.monotonic() - asked > STOP_GRACE:
                _say(settings, f"slapd (pid {proc.pid}) did not stop within {STOP_GRACE:.0f}s: killing it")
                proc.kill()
            continue
        probe_started = time.monotonic()
        failed = probe.ask()
        if failed is None:
            if not answered:
                _say(settings, f"slapd (pid {proc.pid}) answers, "
                               f"{time.monotonic() - started:.1f}s after its start")
            answered, strikes = True, 0
        elif answered:
            strikes += 1
            _say(settings, f"slapd (pid {proc.pid}) did not answer a probe ({failed}, "
                           f"{time.monotonic() - probe_started:.1f}s)")
            if strikes >= STRIKES:
                _say(settings, f"slapd (pid {proc.pid}) did not answer {strikes} probes in a row: killing it")
                proc.kill()
        elif restarted and time.monotonic() - started > START_GRACE:
            _say(settings, f"slapd (pid {proc.pid}) started again but did not answer within "
                           f"{START_GRACE:.0f}s: killing it")
            proc.kill()


class _Probe:
    """`embedded.probe` in a thread, waited for PROBE_LIMIT seconds at most. While one probe has
    not returned, no other is started: each round it is still out counts as unanswered."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.thread: threading.Thread | None = None
        self.result: list[str | None] = []
        self.since = time.monotonic()

    def ask(self) -> str | None:
        wait = PROBE_EVERY  # a probe still out from an earlier round
        if self.thread is None:
            self.result, wait, self.since = [], PROBE_LIMIT, time.monotonic()
            self.thread = threading.Thread(target=self._run, args=(self.result,), daemon=True)
            self.thread.start()
        self.thread.join(wait)
        if self.thread.is_alive():
            return f"the probe has not returned for {time.monotonic() - self.since:.0f}s"
        self.thread = None
        return self.result[0] if self.result else "the probe failed"

    def _run(self, into: list[str | None]) -> None:
        try:
            into.append(embedded.probe(self.settings))
        except Exception as err:  # noqa: BLE001 - the keeper keeps watching whatever a probe raises
            into.append(f"{type(err).__name__}: {err}")


def events_file(settings: Settings) -> Path:
    """The keeper's own log (restarts, hangs), small and apart from slapd's stats log."""
    return settings.data_dir / "log" / "keeper.log"


def events(settings: Settings) -> list[str]:
    try:
        return events_file(settings).read_text(encoding="utf-8").splitlines()
    except FileNotFoundError:
        return []


def _say(settings: Settings, text: str) -> None:
    stamp = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    with open(events_file(settings), "a", encoding="utf-8") as out:
        out.write(f"{stamp} {text}\n")


def _start(settings: Settings, log: Path) -> subprocess.Popen[bytes]:
    cookies = embedded.after_a_crash(settings)
    embedded.clear_socket(settings)
    with open(log, "ab") as out:
        return subprocess.Popen(embedded.command(settings, cookies), stdin=subprocess.DEVNULL,
                                stdout=out, stderr=out)


def keep(settings: Settings) -> int:
    """Run slapd until it is stopped; start it again after every crash. The exit status is
    slapd's when it stopped or could not start."""
    log = settings.data_dir / "log" / "slapd.log"
    log.parent.mkdir(exist_ok=True)
    stopping: list[float | None] = [None]  # when a stop was asked for
    proc: subprocess.Popen[bytes] | None = None

    def stop(signum: int, _frame: FrameType | None) -> None:
        stopping[0] = stopping[0] or time.monotonic()
        if proc is not None and proc.poll() is None:
            proc.send_signal(signal.SIGTERM)

    for signum in STOPS:
        signal.signal(signum, stop)
    embedded.keeper_pid_file(settings).write_text(f"{os.getpid()}\n")
    quick_crashes = 0
    restarted = False
    try:
        while True:
            started = time.monotonic()
            proc = _start(settings, log)
            code = _watch(settings, proc, stopping, restarted)
            restarted = True
            lasted = time.monotonic() - started
            if stopping[0] is not None or code == 0 or code in (-signal.SIGTERM, -signal.SIGINT):
                return 0 if code < 0 else code
            if code > 0 and lasted < QUICK:
                return code  # slapd refused to run: `idm server start` reports its log
            quick_crashes = quick_crashes + 1 if lasted < QUICK else 1  # the first: at once
            how = f"signal {signal.Signals(-code).name}" if code < 0 else f"exit code {code}"
            if quick_crashes >= GIVE_UP:
                _say(settings, f"slapd died ({how}) {quick_crashes} times within {QUICK:.0f}s of its "
                          "start: not starting it again; see the lines above")
                return code if code > 0 else 128 - code
            _say(settings, f"slapd died ({how}) after {lasted:.1f}s; starting it again")
            time.sleep(0.0 if quick_crashes == 1 else min(0.25 * 2 ** (quick_crashes - 1), 5.0))
            if stopping[0] is not None:
                return 0
    finally:
        embedded.keeper_pid_file(settings).unlink(missing_ok=True)


def main() -> None:
    folder = Path(sys.argv[1])
    settings = parse_settings(sys.stdin.read(), folder)
    sys.stdin.close()
    sys.exit(keep(settings))


if __name__ == "__main__":
    main()
