"""Proof of 三员 separation (等保 8.1.4.2), asked of the running server's own access rules:
`slapacl` evaluates them for an identity, an entry and an attribute exactly as slapd does, and
changes nothing. Each probe names what one of the three admins of a unit must not do (the
other roles' duty), and the answer must be DENIED; each role's own duty is asked too, beside
it, so a rule set that denies everything is seen for what it is.
"""

from __future__ import annotations

import subprocess
from dataclasses import dataclass, replace

from idm.config import Settings
from idm.errors import ServerError
from idm.rules.terms import WRITER

WRITE, READ = "write", "read"


@dataclass(frozen=True)
class Probe:
    who: str  # the admin's DN
    role: str  # its role
    what_zh: str  # what is asked, in words
    entry: str
    attr: str
    access: str
    expect: str  # "DENIED" (a cross-role duty) or "duty" (its own: reported as it is)
    answer: str = ""
    direct: bool = False  # the admin's own bind (a raw ldapmodify), not the toolkit's writer

    @property
    def ok(self) -> bool:
        return self.expect != "DENIED" or self.answer == "DENIED"


def ask(settings: Settings, probe: Probe) -> Probe:
    """slapd's answer, for the admin as the toolkit connects (the writer, acting as the admin by
    proxied authorization), or for the admin's own bind (`direct`)."""
    who = ["-D", probe.who] if probe.direct else \
        ["-D", f"cn={WRITER},ou=system,{settings.suffix}", "-X", f"dn:{probe.who}"]
    try:
        done = subprocess.run(["slapacl", "-F", str(settings.config_dir), *who, "-b", probe.entry,
                               f"{probe.attr}/{probe.access}"], capture_output=True, text=True, check=False,
                              timeout=60)
    except FileNotFoundError:
        raise ServerError("找不到 slapacl 命令（apt install slapd）",
                          "the slapacl command is missing (slapd)") from None
    said = (done.stdout + done.stderr).strip().splitlines()
    last = said[-1] if said else ""
    answer = "ALLOWED" if last.endswith("ALLOWED") else "DENIED" if last.endswith("DENIED") else f"? {last}"
    return replace(probe, answer=answer)


def plan(admins: dict[str, str], person: str | None, log_record: str | None) -> list[Probe]:
    """The probes for a unit's three admins (role -> DN), on one of its business users and one
    record of its write log, where it has them."""
    out: list[Probe] = []
    sysadmin, secadmin, auditor = admins.get("sysadmin"), admins.get("secadmin"), admins.get("auditor")
    if person:
        for role, dn in (("sysadmin", sysadmin), ("secadmin", secadmin), ("auditor", auditor)):
            if not dn:
                continue
            out.append(Probe(dn, role, "停用或启用业务用户（系统管理员的职责）", person, "idmStatus", WRITE,
                             "duty" if role == "sysadmin" else "DENIED"))
            out.append(Probe(dn, role, "授予业务系统权限（安全管理员的职责）", person, "idmGrant", WRITE,
                             "duty" if role == "secadmin" else "DENIED"))
        if sysadmin:
            out.append(Probe(sysadmin, "sysadmin", "以本人口令直接写目录、绕过工具（任何人都不可）", person,
                             "idmStatus", WRITE, "DENIED", direct=True))
    if secadmin:
        for role, dn in (("sysadmin", sysadmin), ("auditor", auditor)):
            if dn:
                out.append(Probe(dn, role, "修改管理员角色（上级安全管理员的职责）", secadmin, "idmAdminRole",
                                 WRITE, "DENIED"))
    if log_record:
        for role, dn in (("sysadmin", sysadmin), ("secadmin", secadmin), ("auditor", auditor)):
            if dn:
                out.append(Probe(dn, role, "读取写操作日志（安全审计员的职责）", log_record, "reqDN", READ,
                                 "duty" if role == "auditor" else "DENIED"))
                out.append(Probe(dn, role, "改写写操作日志（任何人都不可）", log_record, "reqResult", WRITE,
                                 "DENIED"))
    return out
