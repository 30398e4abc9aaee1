"""`idm load`: one bulk engine for the tree, business, admin and post accounts, and grants, from
CSV or LDIF; `idm org import` runs on it too.

    plan (first pass: everything checked, nothing written; refusals with file:line)
      -> online: pipelined batches as the loader (RFC 5805 transactions with --atomic), through
         the access rules, ppolicy, uniqueness and the write log; resumable, interruptible
         between batches
      -> or offline: `slapadd -q` of the same entries into a stopped server, then one record in
         the write log naming the file, its SHA-256 and the counts

The loader (`idm-loader`) is a toolkit account like the writer: its secret is a 0600 file in
the data folder, and the rules give it add (never replace or delete) on units, their containers
and accounts, and reading what it compares. It acts for nobody: slapd's log names it.
"""

from __future__ import annotations

import io
import subprocess
import tempfile
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import IO, Protocol, TextIO

from idm.bulk import planner as planning
from idm.bulk import txn, view, write
from idm.bulk.plan import Plan
from idm.bulk.planner import Planner
from idm.config import Settings
from idm.directory import connection, lookup
from idm.directory.session import Session
from idm.errors import IdmError, InvalidInput, ServerError
from idm.ops import bootstrap, embedded, render
from idm.ops.backup import sha256
from idm.ops.slapcat import SLAPCAT
from idm.rules.terms import LOADER, LOOKUP_SERVICE

DEFAULT_BATCH = 500


class Progress(Protocol):
    """How a transport shows a load going on (a bar on a terminal, lines otherwise)."""

    def phase(self, name: str, total: int | None) -> None: ...
    def advance(self, n: int) -> None: ...
    def done(self) -> None: ...


class Quiet:
    def phase(self, name: str, total: int | None) -> None:
        pass

    def advance(self, n: int) -> None:
        pass

    def done(self) -> None:
        pass


@dataclass
class Written:
    operations: int = 0
    batches: int = 0
    interrupted: bool = False
    seconds: float = 0.0


def loader_session(settings: Settings) -> Session:
    """The loader, bound with its own secret; made (as the local operator) on a directory that
    has none yet, so a first load needs no other step."""
    secret = settings.secrets_dir / f"{LOADER}.secret"
    if not secret.is_file():
        with Session(connection.ops_connection(settings.ldapi_uri), settings.suffix) as ops:
            bootstrap.service_accounts(ops, settings.secrets_dir, only=(LOADER,))
    conn = connection.bind_as(settings.ldap_uri, settings.service_dn(LOADER), lookup.read_secret(secret))

    def opener(identity: str) -> Session:
        return lookup.service_session(settings.ldap_uri, settings.suffix, settings.secrets_dir, identity)

    return Session(conn, settings.suffix, opener=opener)


def online_view(session: Session, settings: Settings | None) -> view.Online:
    """As the loader; the lookup account (when there is one) tests ID numbers on pending forms.
    Without settings (a site's slapd, the local operator) the operator's session sees it all."""
    if settings is None:
        return view.Online(session, session)
    has_lookup = (settings.secrets_dir / f"{LOOKUP_SERVICE}.secret").is_file()
    return view.Online(session, session.peer(LOOKUP_SERVICE) if has_lookup else None)


def make_plan(source: view.View, path: Path, encoding: str = "utf-8", kind: str | None = None,
              plan_file: TextIO | None = None, progress: Progress | None = None) -> tuple[Plan, Planner]:
    progress = progress or Quiet()
    progress.phase("检查 / checking", None)
    last = [0]

    def tick(records: int) -> None:
        progress.advance(records - last[0])
        last[0] = records

    result = planning.make(source, path, encoding, kind, plan_file, tick)
    progress.done()
    return result


def write_online(session: Session, plan: Plan, planner: Planner, batch: int = DEFAULT_BATCH,
                 progress: Progress | None = None, stop: Callable[[], bool] = lambda: False,
                 atomic: bool = False, now: Callable[[], bool] = lambda: False) -> Written:
    """Write the plan in batches (pipelined, or one transaction each when `atomic`); between
    batches, `stop()` ends the load cleanly; `now()` ends it within the batch, a transaction
    aborted (the signals a loader can catch: slapd 2.5 crashes when a client goes away while it
    holds one, `benches/txn_crash.py`)."""
    send = txn.run if atomic else txn.pipelined
    progress = progress or Quiet()
    done = Written()
    started = time.monotonic()
    progress.phase("写入 / writing", plan.counts.entries)
    try:
        for ops in write.batches(plan, planner, batch):
            if stop():
                done.interrupted = True
                break
            try:
                send(session.conn, ops, now)
            except txn.Cancelled:
                done.interrupted = True
                break
            except txn.Failed as failed:
                where = failed.op.where if failed.op else f"{ops[0].where} … {ops[-1].where}"
                raise IdmError(f"{where}: 目录拒绝了写入（{failed.reason}）；已写入的部分保留，"
                               "修正后重新运行即可续传",
                               f"{where}: the directory refused a write ({failed.reason}); what was "
                               "written stays: fix it and run again to go on") from None
            done.operations += len(ops)
            done.batches += 1
            progress.advance(len(ops))
    finally:
        progress.done()
        done.seconds = time.monotonic() - started
    return done


def offline_view(settings: Settings) -> view.Offline:
    require_stopped(settings)
    return view.Offline(settings.suffix, SLAPCAT, settings.config_dir)


def require_stopped(settings: Settings) -> None:
    if embedded.status(settings).running:
        raise ServerError("离线导入须先停止 slapd（idm server stop）；运行中请用在线导入",
                          "an offline load needs slapd stopped (idm server stop); while it runs, "
                          "load online")


def write_offline(settings: Settings, plan: Plan, planner: Planner, progress: Progress | None = None,
                  ) -> Written:
    """slapadd -q of the planned entries, then one record in the write log naming the file."""
    require_stopped(settings)
    if plan.counts.changes or plan.counts.grants:
        raise InvalidInput("离线导入只能新增条目；修改与授权请在线导入",
                           "an offline load only adds entries: load changes and grants online")
    progress = progress or Quiet()
    done = Written()
    started = time.monotonic()
    progress.phase("写入 / writing", plan.counts.entries)

    def ldif() -> Iterator[str]:
        for ops in write.batches(plan, planner, DEFAULT_BATCH):
            buffer = io.StringIO()
            write.to_ldif(ops, buffer)
            yield buffer.getvalue()
            done.operations += len(ops)
            done.batches += 1
            progress.advance(len(ops))

    try:
        _slapadd(settings, settings.suffix, ldif())
    finally:
        progress.done()
    record_offline(settings, plan, done.operations)
    done.seconds = time.monotonic() - started
    return done


def _slapadd(settings: Settings, base: str, chunks: Iterable[str]) -> None:
    """slapadd reads the LDIF as it is made: on two cores the entries are written while the next
    ones are prepared. Should making them fail half way, slapadd is killed, never handed an end
    of file (that would be a clean end of a shorter load): what it wrote stays, and a rerun plans
    the rest, as after any interrupted offline load."""
    # -S: the entries' change stamps carry this server's ID (a cluster tells its nodes' writes
    # apart by it); -w: the database's contextCSN then covers them, so replicas and kept answers
    # (idm.directory.fresh) see that it changed
    args = [embedded.SLAPADD, "-q", "-w", "-S", str(settings.server_id), "-F", str(settings.config_dir),
            "-b", base]
    with tempfile.TemporaryFile() as errors, \
            subprocess.Popen(args, stdin=subprocess.PIPE, stdout=subprocess.DEVNULL, stderr=errors) as proc:
        assert proc.stdin is not None
        try:
            for chunk in chunks:
                proc.stdin.write(chunk.encode("utf-8"))
        except BrokenPipeError:
            pass  # slapadd stopped reading: its exit status and message say why
        except BaseException:  # Ctrl-C included: that, not a broken pipe, is what the caller sees
            proc.kill()
            _close(proc.stdin)
            raise
        _close(proc.stdin)
        if proc.wait() != 0:
            errors.seek(0)
            message = errors.read().decode("utf-8", "replace").strip()[-2000:]
            raise ServerError(f"slapadd 失败：{message}", f"slapadd failed: {message}")


def _close(pipe: IO[bytes]) -> None:
    """Close a pipe whose reader may be gone: the buffered rest is then lost, which is the point."""
    try:
        pipe.close()
    except BrokenPipeError:
        pass


def _log_started(settings: Settings) -> bool:
    """slapd makes the write log's top entry when it first starts; a server that never ran (a
    first load) has none yet."""
    proc = subprocess.run([SLAPCAT, "-F", str(settings.config_dir), "-b", "cn=accesslog", "-a",
                           "(objectClass=auditContainer)"], capture_output=True, text=True, check=False)
    return "dn: cn=accesslog" in proc.stdout


def record_offline(settings: Settings, plan: Plan, operations: int) -> str:
    """The write log learns of an offline load as one record: who (the local operator), which file,
    its SHA-256, and the counts. Written with slapadd too: the server is still stopped."""
    stamp = datetime.now(UTC).strftime("%Y%m%d%H%M%S.%fZ")
    c = plan.counts
    message = (f"idm load --offline {plan.path.resolve()} sha256={sha256(plan.path)} entries={operations} "
               f"units={c.units} containers={c.containers} accounts={c.accounts} unchanged={c.unchanged}")
    dn = f"reqStart={stamp},cn=accesslog"
    top = "dn: cn=accesslog\nobjectClass: auditContainer\ncn: accesslog\n\n"
    text = "" if _log_started(settings) else top
    text += (f"dn: {dn}\nobjectClass: auditObject\nreqStart: {stamp}\nreqEnd: {stamp}\n"
            f"reqType: extended\nreqSession: 0\nreqAuthzID: {render.ops_dn()}\nreqDN: {settings.suffix}\n"
            f"reqResult: 0\nreqMessage: {message}\n")
    _slapadd(settings, "cn=accesslog", [text])
    return message


def load_file(settings: Settings, path: Path, kind: str | None = None, encoding: str = "utf-8",
              session: Session | None = None) -> Written:
    """`idm load FILE` without a terminal: the whole file planned, refused with every problem
    if anything is wrong, then written online as the loader (or, on a slapd the site already
    runs, as the local operator's `session`, as `idm --ldapi ... load` does). Scripts, the test
    suite and the benches build their trees this way, the way a deployment does."""
    own = session is None
    writer = loader_session(settings) if session is None else session
    try:
        plan, planner = make_plan(online_view(writer, settings if own else None), path, encoding, kind)
        plan.raise_if_refused()
        return write_online(writer, plan, planner)
    finally:
        if own:
            writer.close()
