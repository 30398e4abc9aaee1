"""`idm load` of a transfer file (调动): many transfers at the start of a school year.

    account,from,to,release_form,accept_form

`account` is a login or an ID number; `from` and `to` are unit codes; the two forms are the
releasing department's change form (调出) and the receiving department's registration (调入),
recorded beforehand. The whole file is read and checked first, and the plan shown: for each row
what the acting admin does (the steps that are its own department's: the release, the
acceptance, or both where it holds both units, e.g. a county for its delegated schools), what
waits for the other department, what is done already, and what is refused, with file:line.

Every step then runs through `idm.pipeline.run`, as any admin operation does (the same form
check, permission pre-check and writes as the admin); the plan's reads (forms, accounts and
units, many at a time) are handed to it as `Known`. Rows are worked on by a few connections at
once, so slapd's threads stay busy. A load stopped half way is resumed by loading the file
again: a row released already goes on with the acceptance, a row arrived is done.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import ldap

from idm import validation
from idm.bulk.source import Refused, csv_header, csv_rows
from idm.directory import names
from idm.directory.session import Session
from idm.errors import IdmError, InvalidInput, NotFound
from idm.filing.forms import FORM_ATTRS, FORM_FILTER, Form, parse
from idm.identity import accounts
from idm.identity.accounts import Account
from idm.pipeline import Acting, Known, run
from idm.rules import actor as actors
from idm.rules.actor import normal
from idm.tree import org
from idm.tree.org import Node

COLUMNS = ("account", "from", "to", "release_form", "accept_form")
CHUNK = 10  # values in one search filter: slapd weighs the rules for each value on each candidate
MAX_FORM_ID = 64


@dataclass(frozen=True)
class Row:
    where: str  # file:line
    account: str  # login or ID number
    source: str
    target: str
    release_form: str
    accept_form: str


@dataclass
class Move:
    """One row as planned: the steps the acting admin does, or why it does none."""

    row: Row
    account: Account | None = None
    steps: tuple[str, ...] = ()  # operations: "release", "transfer-user" / "transfer-admin"
    state: str = ""  # "todo", "waits", "done", "refused"
    zh: str = ""
    en: str = ""


@dataclass
class TransferPlan:
    moves: list[Move]
    known: Known
    refused: list[tuple[str, str, str]] = field(default_factory=list)  # where, zh, en

    def count(self, state: str) -> int:
        return sum(1 for m in self.moves if m.state == state)

    def steps(self) -> int:
        return sum(len(m.steps) for m in self.moves)

    def summary(self) -> tuple[str, str]:
        todo, waits, done = self.count("todo"), self.count("waits"), self.count("done")
        refused = len(self.refused) + self.count("refused")
        return (f"调动 {len(self.moves)} 行：办理 {todo} 行（{self.steps()} 步），待对方单位办理 {waits} 行，"
                f"已完成 {done} 行，拒绝 {refused} 行",
                f"{len(self.moves)} transfers: {todo} to do ({self.steps()} steps), {waits} wait for the "
                f"other unit, {done} done already, {refused} refused")

    def lines(self) -> Iterator[str]:
        for where, zh, en in self.refused:
            yield f"{where}: 拒绝 / refused: {zh} / {en}"
        for m in self.moves:
            r = m.row
            what = " + ".join(m.steps) if m.steps else m.state
            note = f" — {m.zh} / {m.en}" if m.zh else ""
            yield f"{r.where}: {r.account} {r.source} → {r.target}: {what}{note}"

    def raise_if_refused(self) -> None:
        bad = [(m.row.where, m.zh, m.en) for m in self.moves if m.state == "refused"]
        if self.refused or bad:
            first = (self.refused + bad)[0]
            n = len(self.refused) + len(bad)
            raise InvalidInput(f"调动文件有 {n} 行被拒绝，未做任何修改（首个：{first[0]}：{first[1]}）",
                               f"{n} rows of the transfer file are refused; nothing was changed "
                               f"(first: {first[0]}: {first[2]})")


def is_transfer_file(path: Path, encoding: str) -> bool:
    return path.suffix.lower() != ".ldif" and set(csv_header(path, encoding)) == set(COLUMNS)


def read(path: Path, encoding: str = "utf-8") -> tuple[list[Row], list[tuple[str, str, str]]]:
    """The rows, each checked for shape; refusals with file:line (reading goes on)."""
    header = csv_header(path, encoding)
    if sorted(header) != sorted(COLUMNS) or len(header) != len(set(header)):
        shape = ",".join(COLUMNS)
        raise InvalidInput(f"{path}:1: 表头应为 {shape}", f"{path}:1: header must be {shape}")
    rows: list[Row] = []
    refused: list[tuple[str, str, str]] = []
    seen: dict[str, str] = {}
    for record in csv_rows(path, encoding):
        if isinstance(record, Refused):
            refused.append((record.where, record.zh, record.en))
            continue
        cells = {k: v.strip() for k, v in record.cells.items()}
        try:
            row = _row(record.where, cells)
        except InvalidInput as err:
            refused.append((record.where, err.zh, err.en))
            continue
        if row.account.lower() in seen:
            refused.append((record.where, f"{row.account} 已在 {seen[row.account.lower()]} 调动",
                            f"{row.account} already moves at {seen[row.account.lower()]}"))
            continue
        seen[row.account.lower()] = record.where
        rows.append(row)
    return rows, refused


def _row(where: str, cells: dict[str, str]) -> Row:
    account = cells["account"]
    if account[:1].isdigit() and len(account) == 18:
        account = validation.id_number(account)
    else:
        validation.uid(account)
    for column in ("from", "to"):
        validation.org_code(cells[column])
    if cells["from"] == cells["to"]:
        raise InvalidInput("调出与调入单位相同", "from and to are the same unit")
    for column in ("release_form", "accept_form"):
        value = cells[column]
        if not value or len(value) > MAX_FORM_ID or not all(c.isascii() and (c.isalnum() or c == "-")
                                                            for c in value):
            raise InvalidInput(f"{column} 应为申请单编号", f"{column} must be a form number")
    return Row(where, account, cells["from"], cells["to"], cells["release_form"], cells["accept_form"])


def _chunks(values: Iterable[str]) -> Iterator[list[str]]:
    chunk: list[str] = []
    for value in values:
        chunk.append(value)
        if len(chunk) == CHUNK:
            yield chunk
            chunk = []
    if chunk:
        yield chunk


def _accounts(session: Session, rows: list[Row], units: dict[str, Node]) -> dict[str, Account]:
    """The rows' accounts the actor may see, by login and by ID number, many per search, in
    the containers of the units the rows name: access rules are then weighed for those entries
    only. Where an account should be (its `from` unit's people) is searched first, and each
    further place (admins, then the `to` unit, where a resumed load finds it arrived) only for
    the rows not found yet: one search of each chunk in the usual file, not four."""
    out: dict[str, Account] = {}
    places = [(end, container) for end in ("source", "target") for container in ("people", "admins")]
    for end, container in places:
        by_unit: dict[str, list[Row]] = {}
        for row in rows:
            code = getattr(row, end)
            if code in units and row.account.lower() not in out:
                by_unit.setdefault(code, []).append(row)
        for code, some in by_unit.items():
            base = names.child_dn("ou", container, units[code].dn)
            for attr, wanted in (("idmIdNumber", [r.account for r in some if r.account[:1].isdigit()]),
                                 ("uid", [r.account for r in some if not r.account[:1].isdigit()])):
                for chunk in _chunks(wanted):
                    _found(session, base, attr, chunk, out)
    return out


def _found(session: Session, base: str, attr: str, chunk: list[str], out: dict[str, Account]) -> None:
    flt = names.all_of(accounts.ACCOUNT_CLASSES, names.any_of(*(names.eq(attr, v) for v in chunk)))
    try:
        found = list(session.search(base, flt, accounts.CORE_ATTRS, scope=ldap.SCOPE_ONELEVEL))
    except NotFound:
        return
    for dn, attrs in found:
        account = accounts.parse(dn, attrs)
        out[account.uid.lower()] = account
        if attr == "idmIdNumber":
            out.setdefault(_by_number(chunk, attrs), account)


def _by_number(chunk: list[str], attrs: dict[str, list[str]]) -> str:
    numbers = set(attrs.get("idmIdNumber", []))
    return next((v for v in chunk if v in numbers), "")


def _forms(session: Session, actor_node: str, moves: list[Move]) -> dict[str, Form]:
    """The forms of the steps planned, where the actor's department received them (kept at
    its node: the only ones it acts on). A receiving school reads its acceptances, not the
    releases it never holds."""
    ids = sorted({m.row.release_form if step == "release" else m.row.accept_form
                  for m in moves for step in m.steps})
    out: dict[str, Form] = {}
    base = names.child_dn("ou", "forms", actor_node)
    for chunk in _chunks(ids):
        flt = names.all_of(FORM_FILTER, names.any_of(*(names.eq("cn", v) for v in chunk)))
        for dn, attrs in session.search(base, flt, FORM_ATTRS, scope=ldap.SCOPE_ONELEVEL):
            form = parse(dn, attrs)
            out[form.form_id] = form
    return out


def _units(session: Session, rows: list[Row]) -> dict[str, Node]:
    out: dict[str, Node] = {}
    for code in sorted({c for r in rows for c in (r.source, r.target)}):
        try:
            out[code] = org.find(session, code)
        except NotFound:
            continue
    return out


def plan(acting: Acting, rows: list[Row], refused: list[tuple[str, str, str]] | None = None) -> TransferPlan:
    """What the acting admin does for each row: nothing is written."""
    session, actor = acting.session, acting.actor
    units = _units(session, rows)
    found = _accounts(session, rows, units)
    may: dict[tuple[str, str], bool] = {}

    def allowed(operation: str, target: str) -> bool:
        key = (operation, normal(names.parent_of(target)) if operation == "release" else normal(target))
        if key not in may:
            may[key] = actors.may(session, actor, operation, target)
        return may[key]

    moves = []
    for row in rows:
        move = Move(row)
        moves.append(move)
        missing = [c for c in (row.source, row.target) if c not in units]
        if missing:
            move.state, move.zh, move.en = "refused", f"单位 {missing[0]} 不存在", f"no unit {missing[0]}"
            continue
        account = found.get(row.account.lower())
        if account is None:
            move.state, move.zh, move.en = ("refused", f"找不到账号 {row.account}，或不在您的管理范围内",
                                            f"no account {row.account} within your reach")
            continue
        move.account = account
        source, target = units[row.source], units[row.target]
        container = names.child_dn("ou", "admins" if account.kind == "admin" else "people", target.dn)
        accept = "transfer-admin" if account.kind == "admin" else "transfer-user"
        here = normal(account.node_dn)
        released_to = normal(account.released_to or "")
        may_accept = allowed("transfer_in", container)
        if here == normal(target.dn) and not released_to:
            move.state = "done"
        elif here not in (normal(source.dn), normal(target.dn)):
            move.state, move.zh, move.en = ("refused", f"账号 {account.uid} 不在单位 {row.source}",
                                            f"account {account.uid} is not at {row.source}")
        elif released_to and released_to != normal(target.dn):
            move.state, move.zh, move.en = ("refused", f"账号 {account.uid} 已调出到别的单位",
                                            f"account {account.uid} is released to another unit")
        elif released_to:
            move.steps, move.state = ((accept,), "todo") if may_accept else ((), "waits")
            if not may_accept:
                move.zh, move.en = "待调入单位办理调入", "waits for the receiving unit's acceptance"
        elif allowed("release", account.dn):
            move.steps, move.state = (("release", accept) if may_accept else ("release",)), "todo"
        else:
            move.state, move.zh, move.en = "waits", "待原单位办理调出", "waits for the releasing unit"
    known = Known(_forms(session, actor.node_dn, moves), found, units)
    return TransferPlan(moves, known, list(refused or []))


@dataclass
class Done:
    steps: int = 0
    failed: list[tuple[str, str, str]] = field(default_factory=list)  # where, zh, en
    interrupted: bool = False


def write(open_acting: Callable[[], Acting], plan: TransferPlan, connections: int = 4,
          tick: Callable[[int], None] | None = None, stop: Callable[[], bool] | None = None) -> Done:
    """Every planned step, through the pipeline, on a few connections at once. A step refused
    now (the directory changed since the plan) is reported with its row; the others go on."""
    todo = [m for m in plan.moves if m.steps]
    done = Done()
    lock = threading.Lock()
    cursor = iter(todo)

    def worker() -> None:
        acting = open_acting()
        try:
            while True:
                with lock:
                    if stop is not None and stop():
                        done.interrupted = True
                        return
                    move = next(cursor, None)
                if move is None:
                    return
                steps, failure = _carry_out(acting, plan.known, move)
                with lock:
                    done.steps += steps
                    if failure:
                        done.failed.append(failure)
                if tick is not None:
                    tick(1)
        finally:
            acting.session.close()

    threads = [threading.Thread(target=worker) for _ in range(max(1, min(connections, len(todo))))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return done


def _carry_out(acting: Acting, known: Known, move: Move) -> tuple[int, tuple[str, str, str] | None]:
    """One row's steps: the release, then (with the account as the release left it) the
    acceptance."""
    row, account, steps = move.row, move.account, 0
    assert account is not None
    for operation in move.steps:
        form = row.release_form if operation == "release" else row.accept_form
        mine = Known(known.forms, {account.uid.lower(): account}, known.units)
        try:
            outcome = run(acting, operation, form, account.uid, known=mine,
                          **({} if operation == "release" else {"to": row.target}))
        except IdmError as err:
            return steps, (row.where, err.zh, err.en)
        steps += 1
        if isinstance(outcome.result, Account):
            account = outcome.result
    return steps, None
