"""The auditor's view of the write log (R6): `cn=accesslog`, written by slapd alone, read by the
security auditor of a level for the operations of that level's admins, refused ones included.

Scoping is done by slapd (the log's access rules compare the actor's node with the auditor's);
this module only filters and shapes. Sensitive values inside logged modifications (passwords,
ID numbers, contact data) are withheld by value-level rules.
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime

from idm.directory import names
from idm.directory.session import Session
from idm.errors import InvalidInput

LOG_BASE = "cn=accesslog"
LOG_ATTRS = ["reqStart", "reqType", "reqDN", "reqAuthzID", "reqResult", "reqMessage", "reqMod"]
FORM_REF = re.compile(r"^idmFormRef:[+=] (.+)$", re.IGNORECASE)
SIGN_IN = re.compile(r"^idmSignIn:[+=] (\S+) (.*)$", re.IGNORECASE)
SIGN_IN_ZH = {"signin-web": "登录（Web）", "signin-cli": "登录（命令行）", "failure": "登录失败（密码错误）",
              "lockout": "登录失败，账号被锁定", "refused-locked": "登录被拒（账号已锁定或停用）",
              "expired": "密码已过期", "factor-failure": "动态验证码错误",
              "factor-lockout": "动态验证码错误次数过多，已锁定", "signout": "退出"}
RESULT_ZH = {"0": "成功", "50": "权限不足", "32": "不存在", "19": "违反约束", "65": "对象类违规",
             "53": "拒绝执行", "68": "已存在", "21": "语法错误", "8": "需要认证"}
# Cells a spreadsheet would read as a formula (CWE-1236).
FORMULA_START = ("=", "+", "-", "@", "\t", "\r", "|", "%")


@dataclass(frozen=True)
class Operation:
    when: str
    actor: str
    kind: str
    target: str
    result: str
    message: str
    form: str | None

    @property
    def ok(self) -> bool:
        return self.result == "0"


def _operation(attrs: dict[str, list[str]]) -> Operation:
    """One log record; a sign-in event (recorded by the web UI's lookup account on the admin's
    entry) is shown as the admin's own, with the event and the client address."""
    def one(name: str) -> str:
        return attrs[name][0] if attrs.get(name) else ""

    form = None
    for line in attrs.get("reqMod", []):
        match = FORM_REF.match(line)
        if match:
            form = match.group(1)
        event = SIGN_IN.match(line)
        if event:
            return Operation(when=one("reqStart"), actor=one("reqDN"), kind="signin",
                             target=one("reqDN"), result=one("reqResult"),
                             message=f"{SIGN_IN_ZH.get(event.group(1), event.group(1))} {event.group(2)}",
                             form=None)
    return Operation(when=one("reqStart"), actor=one("reqAuthzID").removeprefix("dn:"),
                     kind=one("reqType"), target=one("reqDN"), result=one("reqResult"),
                     message=one("reqMessage"), form=form)


def operations(session: Session, *, actor: str | None = None, kind: str | None = None,
               target: str | None = None, since: str | None = None, until: str | None = None,
               failed: bool | None = None) -> list[Operation]:
    """The log records the bound identity may read, filtered; oldest first.

    `since`/`until` are generalized times (YYYYmmddHHMMSSZ); `target` matches part of the DN.
    """
    parts = ["(objectClass=auditWriteObject)"]
    if actor:
        parts.append(names.eq("reqAuthzID", actor))
    if kind:
        parts.append(names.eq("reqType", kind))
    if since:
        parts.append(f"(reqStart>={_gentime(since)})")
    if until:
        parts.append(f"(reqStart<={_gentime(until)})")
    if failed is True:
        parts.append("(!(reqResult=0))")
    elif failed is False:
        parts.append("(reqResult=0)")
    found = [_operation(a) for _, a in session.search(LOG_BASE, names.all_of(*parts), LOG_ATTRS)]
    if target:
        found = [op for op in found if target.lower() in op.target.lower()]
    return sorted(found, key=lambda op: op.when)


def _gentime(value: str) -> str:
    if not re.fullmatch(r"[0-9]{8}([0-9]{6})?Z?", value):
        raise InvalidInput(f"时间应为 YYYYMMDD 或 YYYYMMDDHHMMSSZ：{value}",
                           f"time must be YYYYMMDD or YYYYMMDDHHMMSSZ: {value!r}")
    digits = (value.rstrip("Z") + "000000")[:14]
    try:
        datetime.strptime(digits, "%Y%m%d%H%M%S")
    except ValueError:
        raise InvalidInput(f"时间不存在：{value}（YYYYMMDD 或 YYYYMMDDHHMMSSZ）",
                           f"no such time: {value!r} (YYYYMMDD or YYYYMMDDHHMMSSZ)") from None
    return digits + "Z"


def safe_cell(value: str) -> str:
    """Neutralise spreadsheet formulas: a leading formula character gets a leading quote."""
    return "'" + value if value.startswith(FORMULA_START) else value


def to_csv(ops: Iterable[Operation]) -> str:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(["时间 when", "操作人 actor", "操作 operation", "对象 target", "结果 result",
                     "说明 message", "申请单 form"])
    for op in ops:
        result = f"{op.result} {RESULT_ZH.get(op.result, '')}".strip()
        writer.writerow([safe_cell(v) for v in (op.when, op.actor, op.kind, op.target, result,
                                                 op.message, op.form or "")])
    return "\ufeff" + out.getvalue()  # BOM: spreadsheets then read the file as UTF-8
