"""Reading a load file as a stream of records, each with its file:line.

Nothing is read whole: lines are decoded one by one (so a wrong byte is named by its line, and
memory stays flat however large the file), CSV rows come from `csv.reader` over those lines, and
LDIF records from a small parser of our own that refuses what an add-only load must never act
on: values fetched from URLs (`attr:< file:///etc/passwd`), change records other than adds, and
controls. Accepted and handled: a UTF-8 BOM (Excel), GBK/GB18030 with `encoding=`, CRLF line
ends, LDIF continuation lines and base64 values.
"""

from __future__ import annotations

import base64
import binascii
import codecs
import csv
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from idm.errors import InvalidInput

ENCODINGS = ("utf-8", "gbk", "gb18030")
# A spreadsheet runs a cell that starts with one of these as a formula (CSV injection).
FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


@dataclass(frozen=True, slots=True)
class Row:
    """One CSV row: its cells by column name."""

    where: str
    cells: dict[str, str]


@dataclass(frozen=True, slots=True)
class Entry:
    """One LDIF add record: attribute names as written, values as text."""

    where: str
    dn: str
    attrs: dict[str, list[str]]


class Refused(Exception):
    """A record that cannot be read; reading goes on with the next one."""

    def __init__(self, where: str, zh: str, en: str) -> None:
        super().__init__(en)
        self.where, self.zh, self.en = where, zh, en


MAX_WHOLE_FILE = 256 * 1024 * 1024


def read_text(path: Path) -> str:
    """A small file read whole (a bootstrap or post-account list): UTF-8, a BOM allowed;
    anything else is refused with the offending byte's line."""
    raw = path.read_bytes()
    if len(raw) > MAX_WHOLE_FILE:
        raise InvalidInput(f"{path}: 文件过大", f"{path}: file is too large")
    try:
        return raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = raw[: exc.start].count(b"\n") + 1
        raise InvalidInput(
            f"{path}:{line}: 文件不是 UTF-8 编码（第 {exc.start} 字节）",
            f"{path}:{line}: file is not UTF-8 (byte {exc.start}); save it as UTF-8",
        ) from None


def check_encoding(encoding: str) -> str:
    name = codecs.lookup(encoding).name.replace("_", "-")
    if name not in ENCODINGS:
        raise InvalidInput(f"不支持的编码 {encoding}，可选：{'、'.join(ENCODINGS)}",
                           f"unsupported encoding {encoding}; one of: {', '.join(ENCODINGS)}")
    return name


def lines(path: Path, encoding: str = "utf-8") -> Iterator[tuple[int, str]]:
    """(line number, text without its line end). A byte the encoding cannot read stops the load
    with its line; a UTF-8 file that is not UTF-8 is told which encodings can be given."""
    encoding = check_encoding(encoding)
    with open(path, "rb") as handle:
        for number, raw in enumerate(handle, start=1):
            if number == 1 and raw.startswith(codecs.BOM_UTF8):
                raw = raw[len(codecs.BOM_UTF8):]
            try:
                text = raw.decode(encoding)
            except UnicodeDecodeError as exc:
                if encoding == "utf-8":
                    raise InvalidInput(
                        f"{path}:{number}: 文件不是 UTF-8 编码（第 {exc.start + 1} 列）；若为 GBK/GB18030"
                        "（如 Excel 另存的 CSV），请加 --encoding gb18030",
                        f"{path}:{number}: file is not UTF-8 (column {exc.start + 1}); if it is GBK or "
                        "GB18030 (e.g. saved by Excel), give --encoding gb18030") from None
                raise InvalidInput(f"{path}:{number}: 按 {encoding} 无法解码（第 {exc.start + 1} 列）",
                                   f"{path}:{number}: not valid {encoding} (column {exc.start + 1})"
                                   ) from None
            yield number, text.rstrip("\r\n")


def csv_header(path: Path, encoding: str = "utf-8") -> list[str]:
    for _, text in lines(path, encoding):
        return [h.strip() for h in next(csv.reader([text]), [])]
    raise InvalidInput(f"{path}: 文件为空", f"{path}: file is empty")


def csv_rows(path: Path, encoding: str = "utf-8") -> Iterator[Row | Refused]:
    """Rows after the header; a malformed row is yielded as Refused, never raised."""
    numbered = lines(path, encoding)
    current = [0]

    def texts() -> Iterator[str]:
        for number, text in numbered:
            current[0] = number
            yield text + "\n"

    reader = csv.reader(texts(), strict=True)
    try:
        header = [h.strip() for h in next(reader)]
    except StopIteration:
        raise InvalidInput(f"{path}: 文件为空", f"{path}: file is empty") from None
    while True:
        try:
            row = next(reader)
        except StopIteration:
            return
        except csv.Error as exc:
            yield Refused(f"{path}:{current[0]}", f"格式错误：{exc}", f"malformed line: {exc}")
            return
        where = f"{path}:{current[0]}"
        if not row or all(not cell.strip() for cell in row):
            continue
        if len(row) != len(header):
            yield Refused(where, f"应有 {len(header)} 列，实有 {len(row)} 列",
                          f"expected {len(header)} fields, found {len(row)}")
            continue
        formula = next((c for c in row if c.startswith(FORMULA_START)), None)
        if formula is not None:
            yield Refused(where, f"单元格“{formula[:20]}”以 = + - @ 等开头，可能是电子表格公式，已拒绝",
                          f"cell {formula[:20]!r} starts like a spreadsheet formula (= + - @): refused")
            continue
        yield Row(where, dict(zip(header, row, strict=True)))


def ldif_entries(path: Path, encoding: str = "utf-8") -> Iterator[Entry | Refused]:
    """Add records of an LDIF file, one at a time."""
    record: list[tuple[int, str]] = []
    for number, text in lines(path, encoding):
        if text.startswith(" ") and record:
            first, previous = record[-1]
            record[-1] = (first, previous + text[1:])
            continue
        if text.startswith("#"):
            record.append((number, "#"))  # a comment: continuation lines join it, then it is dropped
            continue
        if number == 1 and text.lower().startswith("version:"):
            continue  # the LDIF version line, before the first record
        if text.strip() == "":
            if any(t != "#" for _, t in record):
                yield _entry(path, [(n, t) for n, t in record if t != "#"])
            record = []
            continue
        record.append((number, text))
    if any(t != "#" for _, t in record):
        yield _entry(path, [(n, t) for n, t in record if t != "#"])


def _value(path: Path, number: int, line: str) -> tuple[str, str] | Refused:
    where = f"{path}:{number}"
    name, sep, rest = line.partition(":")
    if not sep or not name or not all(c.isalnum() or c in "-;." for c in name):
        return Refused(where, f"无法识别的行：{line[:40]}", f"unreadable line: {line[:40]!r}")
    if rest.startswith("<"):
        return Refused(where, f"{name}: 不接受从 URL 读取的值（{rest[1:].strip()[:60]}）",
                       f"{name}: values read from a URL are not accepted ({rest[1:].strip()[:60]})")
    if rest.startswith(":"):
        try:
            value = base64.b64decode(rest[1:].strip(), validate=True).decode("utf-8")
        except (binascii.Error, UnicodeDecodeError):
            return Refused(where, f"{name}: base64 值无效或不是 UTF-8 文本",
                           f"{name}: the base64 value is invalid or not UTF-8 text")
        return name, value
    return name, rest[1:] if rest.startswith(" ") else rest


def _entry(path: Path, record: list[tuple[int, str]]) -> Entry | Refused:
    where = f"{path}:{record[0][0]}"
    parsed = [_value(path, n, t) for n, t in record]
    bad = next((p for p in parsed if isinstance(p, Refused)), None)
    if bad is not None:
        return bad
    pairs = [p for p in parsed if not isinstance(p, Refused)]
    if pairs[0][0].lower() != "dn":
        return Refused(where, "记录应以 dn: 开头", "a record must start with dn:")
    dn = pairs[0][1].strip()
    attrs: dict[str, list[str]] = {}
    for (name, value), (number, _) in zip(pairs[1:], record[1:], strict=True):
        lower = name.lower()
        if lower == "changetype":
            if value.strip().lower() != "add":
                return Refused(f"{path}:{number}", f"只接受新增记录，不接受 changetype: {value.strip()}",
                               f"an add-only load: changetype {value.strip()} is not accepted")
            continue
        if lower in ("control", "dn"):
            return Refused(f"{path}:{number}", f"不接受 {name}: 行", f"{name}: lines are not accepted")
        attrs.setdefault(name, []).append(value)
    return Entry(where, dn, attrs)
