"""Reading org nodes from CSV or LDIF files, with every problem named by file and line.

Nothing here touches the directory: a file is read whole and checked for shape (encoding,
columns, codes, names, levels) first; links between nodes are checked by `idm.org.plan`.
"""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass
from pathlib import Path

import ldap.dn
import ldif

from idm import validation
from idm.errors import InvalidInput, ProblemList

CSV_COLUMNS = ("code", "name", "level", "parent")
OPTIONAL_COLUMNS = ("managed_by",)
MAX_FILE_BYTES = 256 * 1024 * 1024


@dataclass(frozen=True)
class NodeSpec:
    """One org node as a file describes it."""

    code: str
    name: str
    level: str
    parent: str | None
    delegated: bool = False
    where: str = ""


def read_text(path: Path) -> str:
    """UTF-8 (a BOM is allowed); anything else is refused with the offending byte's line."""
    raw = path.read_bytes()
    if len(raw) > MAX_FILE_BYTES:
        raise InvalidInput(f"{path}: 文件过大", f"{path}: file is too large")
    try:
        return raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = raw[: exc.start].count(b"\n") + 1
        raise InvalidInput(
            f"{path}:{line}: 文件不是 UTF-8 编码（第 {exc.start} 字节）",
            f"{path}:{line}: file is not UTF-8 (byte {exc.start}); save it as UTF-8",
        ) from None


def read_nodes(path: Path) -> list[NodeSpec]:
    text = read_text(path)
    if path.suffix.lower() == ".ldif":
        return _read_ldif(path, text)
    return _read_csv(path, text)


def _check_fields(problems: ProblemList, where: str, code: str, name: str, level: str) -> bool:
    ok = True
    for check, value in ((validation.org_code, code), (validation.org_name, name),
                         (validation.level, level)):
        try:
            check(value)
        except InvalidInput as err:
            problems.add(where, err.zh, err.en)
            ok = False
    return ok


def _read_csv(path: Path, text: str) -> list[NodeSpec]:
    problems = ProblemList()
    reader = csv.reader(io.StringIO(text, newline=""), strict=True)
    try:
        header = [h.strip() for h in next(reader)]
    except StopIteration:
        raise InvalidInput(f"{path}: 文件为空", f"{path}: file is empty") from None
    except csv.Error as exc:
        raise InvalidInput(f"{path}:1: 表头格式错误：{exc}", f"{path}:1: malformed header: {exc}") from None
    missing = [c for c in CSV_COLUMNS if c not in header]
    unknown = [c for c in header if c not in CSV_COLUMNS + OPTIONAL_COLUMNS]
    if missing or unknown:
        raise InvalidInput(
            f"{path}:1: 表头应为 {','.join(CSV_COLUMNS)}[,managed_by]",
            f"{path}:1: header must be {','.join(CSV_COLUMNS)}[,managed_by]"
            f" (missing: {missing or '-'}, unknown: {unknown or '-'})",
        )
    nodes: list[NodeSpec] = []
    while True:
        try:
            row = next(reader)
        except StopIteration:
            break
        except csv.Error as exc:
            problems.add(f"{path}:{reader.line_num}", f"格式错误：{exc}", f"malformed line: {exc}")
            break
        where = f"{path}:{reader.line_num}"
        if not row or all(not cell.strip() for cell in row):
            continue
        if len(row) != len(header):
            problems.add(where, f"应有 {len(header)} 列，实有 {len(row)} 列",
                         f"expected {len(header)} fields, found {len(row)}")
            continue
        cells = dict(zip(header, row, strict=True))
        code, name, level = cells["code"].strip(), cells["name"], cells["level"].strip()
        parent = cells["parent"].strip() or None
        managed_by = cells.get("managed_by", "").strip()
        if not _check_fields(problems, where, code, name, level):
            continue
        if managed_by and managed_by != parent:
            problems.add(where, "managed_by 只能是上级单位代码（R2 委托上级管理）",
                         "managed_by may only name the parent (R2: delegated to the parent)")
            continue
        nodes.append(NodeSpec(code, name, level, parent, bool(managed_by), where))
    problems.raise_if_any("组织机构文件有错误，未做任何修改", "the org file has errors; nothing was changed")
    return nodes


class _Collector(ldif.LDIFParser):  # type: ignore[misc]
    def __init__(self, text: str) -> None:
        super().__init__(io.BytesIO(text.encode("utf-8")))
        self.records: list[tuple[int, str, dict[str, list[bytes]]]] = []

    def handle(self, dn: str, entry: dict[str, list[bytes]]) -> None:
        self.records.append((self.line_counter, dn, entry))


def _read_ldif(path: Path, text: str) -> list[NodeSpec]:
    problems = ProblemList()
    parser = _Collector(text)
    try:
        parser.parse()
    except ValueError as exc:
        raise InvalidInput(
            f"{path}:{parser.line_counter}: LDIF 格式错误：{exc}",
            f"{path}:{parser.line_counter}: malformed LDIF: {exc}",
        ) from None
    nodes: list[NodeSpec] = []
    for line, dn, entry in parser.records:
        where = f"{path}:{line}"
        try:
            rdns = ldap.dn.str2dn(dn)
        except ldap.DECODING_ERROR:
            problems.add(where, f"DN 无效：{dn}", f"invalid DN: {dn}")
            continue
        values = {k.lower(): [v.decode("utf-8", "replace") for v in vs] for k, vs in entry.items()}

        def one(attr: str, values: dict[str, list[str]] = values) -> str:
            found = values.get(attr.lower(), [])
            return found[0] if len(found) == 1 else ""

        code, name, level = one("idmCode"), one("idmNameZh"), one("idmLevel")
        if rdns[0][0][0].lower() != "ou" or rdns[0][0][1] != code:
            problems.add(where, "DN 的第一个 RDN 应为 ou=<代码>", "the DN's first RDN must be ou=<idmCode>")
            continue
        if not _check_fields(problems, where, code, name, level):
            continue
        parent_rdn = rdns[1][0] if len(rdns) > 1 else None
        parent = parent_rdn[1] if parent_rdn and parent_rdn[0].lower() == "ou" else None
        delegated = bool(values.get("idmmanagedby"))
        nodes.append(NodeSpec(code, name, level, parent, delegated, where))
    problems.raise_if_any("组织机构文件有错误，未做任何修改", "the org file has errors; nothing was changed")
    return nodes
