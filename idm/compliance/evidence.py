"""The evidence items of a pack, read from the running server by the local operator for one
unit (and the units below it) over a date window. Each item says what it proves and which
clauses it answers, with its facts and, where it has rows, a table. Nothing here writes, and
nothing here holds a password, a secret or a full ID number (accounts show the masked one).
"""

from __future__ import annotations

import bisect
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import ldap

from idm import labels
from idm.auth import policy, sessions
from idm.compliance import inventory, probes
from idm.config import MIN_LOG_DAYS, Settings
from idm.directory import names
from idm.directory.session import Session
from idm.errors import NotFound
from idm.filing.forms import FORM_ATTRS, FORM_FILTER, parse
from idm.identity.accounts import ACCOUNT_CLASSES
from idm.oversight import actions, audit, reviews, seal, seal_key
from idm.tree import org


@dataclass
class Section:
    key: str  # file name of its table
    title: str
    clauses: tuple[str, ...]
    proves: str
    facts: list[tuple[str, str]] = field(default_factory=list)
    header: list[str] = field(default_factory=list)
    rows: list[list[str]] = field(default_factory=list)
    files: dict[str, bytes] = field(default_factory=dict)  # more files of its own (name -> content)
    findings: list[str] = field(default_factory=list)  # what an assessor must look at


CHINA = ZoneInfo("Asia/Shanghai")


@dataclass(frozen=True)
class Window:
    """The days of a pack, in China time (as every time the product shows), as UTC bounds."""

    unit: org.Node
    since: str  # YYYYMMDD, China time
    until: str  # YYYYMMDD (inclusive), China time

    def _utc(self, day: str, end: bool) -> str:
        local = datetime.strptime(day, "%Y%m%d").replace(tzinfo=CHINA) + timedelta(days=1 if end else 0)
        return (local.astimezone(UTC) - timedelta(seconds=1 if end else 0)).strftime("%Y%m%d%H%M%S")

    @property
    def since_time(self) -> str:
        """The first second, UTC, `YYYYmmddHHMMSS`: it sorts before every record time of that
        second (`…SS.ffffffZ`) and after every earlier one."""
        return self._utc(self.since, False)

    @property
    def until_time(self) -> str:
        """The last second, UTC, `YYYYmmddHHMMSSZ`: it sorts after every record time of that
        second (`.` before `Z`)."""
        return self._utc(self.until, True) + "Z"


def _config(session: Session, flt: str, attrs: list[str]) -> list[tuple[str, dict[str, list[str]]]]:
    return list(session.search("cn=config", flt, attrs))


def password_policy(session: Session, settings: Settings) -> Section:
    profile = policy.PROFILES[settings.password_profile]
    s = Section("password-policy", "口令策略、锁定与会话超时", ("等保 8.1.4.1 a)", "等保 8.1.4.1 b)"),
                "鉴别信息具有复杂度要求并定期更换；登录失败处理（锁定）；会话超时自动退出。")
    s.facts = [("策略", profile.title)] + [(zh, "") for _, zh, _ in policy.describe(profile)]
    s.facts += [("连续失败锁定", f"{profile.lockout_failures} 次，锁定 {profile.lockout_seconds // 60} 分钟"),
                ("管理员第二因素", "必须（动态验证码）" if profile.admin_second_factor else "不要求"),
                ("网页会话空闲超时",
                 f"管理员 {sessions.IDLE_ADMIN // 60} 分钟，其他用户 {sessions.IDLE_USER // 60} 分钟"),
                ("网页会话最长", f"{sessions.ABSOLUTE // 3600} 小时")]
    s.header = ["目录中的口令策略条目", "属性", "值"]
    for dn, a in session.search(session.suffix, "(objectClass=pwdPolicy)"):
        for attr, values in sorted(a.items()):
            if attr.lower().startswith("pwd"):
                s.rows.extend([dn, attr, v] for v in values)
    return s


def transport_and_factors(session: Session, settings: Settings) -> Section:
    s = Section("tls-and-factors", "传输加密与各类账号的登录因素", ("等保 8.1.4.1 c)", "密评 8.4 a)"),
                "远程管理时鉴别信息加密传输；管理员以两种鉴别技术登录；持证用户有国密证书。")
    security = [v for _, a in _config(session, "(olcSecurity=*)", ["olcSecurity"]) for v in a["olcSecurity"]]
    tls = [(k, v[0]) for _, a in _config(session, "(olcTLSCertificateFile=*)",
                                         ["olcTLSCertificateFile", "olcTLSProtocolMin", "olcTLSCipherSuite"])
           for k, v in sorted(a.items())]
    s.facts = [("ldaps 端口", str(settings.tls_port) if settings.tls_port else "未启用（idm server tls）"),
               ("无 TLS 的简单绑定", "拒绝（olcSecurity simple_bind=64）"
                if any("simple_bind" in v for v in security) else "允许")] + [(k, v) for k, v in tls]
    if not settings.tls_port:
        s.findings.append("目录未启用 TLS：运行 idm server tls")
    s.header = ["账号类型", "登录因素"]
    profile = policy.PROFILES[settings.password_profile]
    s.rows = [["管理类用户（三员）", "口令 + 动态验证码（TOTP）" if profile.admin_second_factor else "口令"],
              ["业务类用户", "口令；已授权者另有教育 CA 证书（SM2 或 EC）"],
              ["下游系统服务账号", "随机密钥（0600 文件）"]]
    return s


def account_inventory(session: Session, window: Window) -> Section:
    s = Section("accounts", "账号清单与最近登录", ("等保 8.1.4.2 d)", "R16"),
                "账号实名、无多余或过期账号：每个账号的类型、状态、角色与授权、最近一次成功登录。")
    s.header = ["登录账号", "姓名", "类型", "状态", "角色/授权", "身份证号（已遮蔽）", "单位", "最近登录"]
    attrs = ["uid", "cn", "objectClass", "idmStatus", "idmAdminRole", "idmGrant", "idmIdMasked",
             "authTimestamp"]
    for dn, a in sorted(session.search(window.unit.dn, ACCOUNT_CLASSES, attrs)):
        kind = "admin" if "idmAdminAccount" in a.get("objectClass", []) else "business"
        access = (labels.label("role", a["idmAdminRole"][0]) if a.get("idmAdminRole")
                  else " ".join(a.get("idmGrant", [])))
        last = labels.local_time(a["authTimestamp"][0]) if a.get("authTimestamp") else "从未"
        s.rows.append([a.get("uid", [""])[0], a.get("cn", [""])[0], labels.label("account_kind", kind),
                       labels.label("status", a.get("idmStatus", [""])[0]), access,
                       a.get("idmIdMasked", [""])[0], org.unit_of(dn), last])
    s.facts = [("账号数", str(len(s.rows))),
               ("其中管理类", str(sum(1 for r in s.rows if r[2] == labels.label("account_kind", "admin"))))]
    return s


def _admins_of(session: Session, node: org.Node) -> dict[str, str]:
    out: dict[str, str] = {}
    try:
        for dn, a in session.search(names.child_dn("ou", "admins", node.dn), "(idmAdminRole=*)",
                                    ["idmAdminRole"], scope=ldap.SCOPE_ONELEVEL):
            out.setdefault(a["idmAdminRole"][0], dn)
    except NotFound:
        pass
    return out


def separation(session: Session, settings: Settings, window: Window) -> Section:
    s = Section("separation", "三员分立的证明", ("等保 8.1.4.2 b)", "等保 8.1.4.2 c)"),
                "系统管理员、安全管理员、安全审计员权限分离：目录的访问规则（原文）与在运行中的服务器上"
                "逐项询问的结果（slapacl，不写入任何数据）。")
    rules = [v for _, a in _config(session, f"(olcSuffix={session.suffix})", ["olcAccess"])
             for v in a.get("olcAccess", [])]
    log_rules = [v for _, a in _config(session, "(olcSuffix=cn=accesslog)", ["olcAccess"])
                 for v in a.get("olcAccess", [])]
    s.files["olcAccess-directory.txt"] = ("\n".join(rules) + "\n").encode()
    s.files["olcAccess-accesslog.txt"] = ("\n".join(log_rules) + "\n").encode()
    admins = _admins_of(session, window.unit)
    people = session.search(window.unit.dn, "(objectClass=idmBusinessAccount)", ["1.1"])
    person = next((dn for dn, _ in people), None)
    record = None
    if admins:
        flt = "(|" + "".join(names.eq("reqAuthzID", f"{prefix}{dn}") for dn in admins.values()
                             for prefix in ("", "dn:")) + ")"
        found = session.first(audit.LOG_BASE, flt, ["1.1"], scope=ldap.SCOPE_ONELEVEL)
        record = found[0] if found else None
    asked = [probes.ask(settings, p) for p in probes.plan(admins, person, record)]
    s.header = ["角色", "询问", "对象", "slapd 的回答", "应为", "符合"]
    words = {"ALLOWED": "允许", "DENIED": "拒绝"}
    for p in asked:
        role = labels.label("role", p.role) + ("（直接绑定）" if p.direct else "")
        s.rows.append([role, p.what_zh, p.entry,
                       words.get(p.answer, p.answer),
                       "拒绝" if p.expect == "DENIED" else "允许（本职，账号就绪时）",
                       "是" if p.ok else "否"])
    s.facts = [("访问规则", f"目录 {len(rules)} 条，日志 {len(log_rules)} 条（见附件）"),
               ("询问", f"{len(asked)} 项，越权 {sum(1 for p in asked if p.expect == 'DENIED')} 项")]
    s.findings += [f"越权未被拒绝：{labels.label('role', p.role)} {p.what_zh}" for p in asked if not p.ok]
    if not admins:
        s.findings.append("本单位尚无三员账号，未能逐项询问")
    return s


def _in_unit(dn: str, unit: org.Node) -> bool:
    return dn.lower().endswith("," + unit.dn.lower())


def admin_actions(log: seal.Log, window: Window) -> tuple[Section, Section, list[actions.Action]]:
    """The unit's admins' actions in the window, from the log as read once: a record is
    looked at only if it names someone of the unit (as actor, or a sign-in's account)."""
    unit = ("," + window.unit.dn).lower().encode()
    start = log.times[bisect.bisect_left(log.times, window.since_time):
                      bisect.bisect_right(log.times, window.until_time)]
    records = []
    for t in start:
        attrs = log.records[t]
        names_ = (attrs.get("reqAuthzID") or [b""])[0] + b"|" + (attrs.get("reqDN") or [b""])[0]
        if unit in names_.lower():
            records.append(audit.from_raw(attrs))
    found = [a for a in actions.group(records) if _in_unit(a.actor, window.unit)]
    done = [a for a in found if a.kind != "signin"]
    s = Section("actions", "管理员操作（按管理员）", ("等保 8.1.4.3 a)", "等保 8.1.4.3 b)", "R12"),
                "每项管理操作都有依据的申请单、操作人、时间与结果；每位管理员的操作单独成表。")
    s.header = ["时间", "操作人", "操作", "对象", "申请单", "结果", "目录写入"]
    for a in done:
        s.rows.append(_row(a))
    by_admin: dict[str, list[actions.Action]] = {}
    for a in done:
        by_admin.setdefault(names.first_value(a.actor), []).append(a)
    for uid, mine in sorted(by_admin.items()):
        s.files[f"actions-{uid}.csv"] = actions.to_csv(mine).encode("utf-8")
    unformed = [a for a in done if a.kind == "operation" and not a.form]
    s.facts = [("操作", f"{len(done)} 项，{len(by_admin)} 位管理员"),
               ("被拒绝的", str(sum(1 for a in done if not a.ok))),
               ("无申请单的业务操作", str(len(unformed)))]
    signins = Section("signins", "登录事件", ("等保 8.1.4.1 b)", "等保 8.1.4.3 a)"),
                      "管理员的每次登录、失败、锁定与退出都有记录（含客户端地址）。")
    signins.header = ["时间", "账号", "事件", "地址"]
    for a in found:
        if a.kind == "signin":
            signins.rows.append([labels.local_time(a.when, seconds=True), names.first_value(a.actor),
                                 labels.label("signin_event", a.name), a.detail])
    signins.facts = [("登录事件", str(len(signins.rows))),
                     ("失败与锁定", str(sum(1 for a in found if a.kind == "signin" and a.name not in
                                            ("signin-web", "signin-cli", "signout"))))]
    return s, signins, found


def _row(a: actions.Action) -> list[str]:
    return [labels.local_time(a.when, seconds=True), names.first_value(a.actor), actions.title(a),
            names.first_value(a.target), a.form or "", "成功" if a.ok else f"拒绝 {a.result}",
            str(len(a.writes))]


def form_register(session: Session, window: Window) -> Section:
    s = Section("forms", "申请单登记簿与保存期限", ("R12", "等保 8.1.4.3 d)"),
                "每项操作依据的申请单都已登记，办结后按期保存（停用后保存一年）。")
    s.header = ["编号", "类型", "状态", "受理单位", "受理时间", "办结", "保存至"]
    for dn, a in session.search(window.unit.dn, FORM_FILTER, FORM_ATTRS):
        if names.parent_of(dn).split(",")[0].lower() != "ou=forms":
            continue  # a certificate or review record, not a form
        form = parse(dn, a)
        received = form.history[0]["at"] if form.history else ""
        if received and not window.since_time <= received <= window.until_time:
            continue
        executed = next((h["at"] for h in form.history if h.get("status") == "executed"), "")
        s.rows.append([form.form_id, labels.label("form_kind", form.data.kind),
                       labels.label("form_state", form.status), org.unit_of(dn), labels.local_time(received),
                       labels.local_time(executed) if executed else "", form.retain_until or ""])
    s.rows.sort()
    s.facts = [("申请单", str(len(s.rows))), ("已办结", str(sum(1 for r in s.rows if r[5])))]
    return s


def log_and_seal(session: Session, settings: Settings, key: seal_key.SealKey, log: seal.Log) -> Section:
    s = Section("audit-log", "审计日志：配置、读取权限、封存校验、最早记录",
                ("等保 8.1.4.3 c)", "密评 8.4 b)", "网络安全法 第二十一条"),
                "日志由 slapd 写入、任何人不可改写；只有审计员按范围读取；SM2 签名的封存可检出任何改动；"
                "保存不少于六个月。")
    conf = _config(session, "(objectClass=olcAccessLogConfig)", ["olcAccessLogDB", "olcAccessLogOps",
                                                                  "olcAccessLogPurge", "olcAccessLogSuccess"])
    for _, a in conf:
        s.facts += [(k, " ".join(v)) for k, v in sorted(a.items())]
    kept = audit.retention_days(session)
    oldest = audit.oldest(session)
    s.facts += [("保存期", f"{kept} 天（不少于 {MIN_LOG_DAYS} 天）" if kept is not None else "不清除"),
                ("最早的记录", labels.local_time(oldest, seconds=True) if oldest else "无")]
    if kept is not None and kept < MIN_LOG_DAYS:
        s.findings.append(f"日志保存期仅 {kept} 天")
    findings = seal.verify(session, key.public_pem(), settings.log_purge_days, settings.server_id, log,
                           key.anchor(settings.server_id))
    seals = seal.list_seals(session, settings.server_id)
    bad = [f for f in findings if f.problem not in seal.NOTES]
    s.facts += [("封存", f"{len(seals)} 个，SM2 签名，密钥指纹 {key.fingerprint()[:16]}…"),
                ("封存校验", "完好" if not bad else f"发现 {len(bad)} 处改动")]
    s.findings += [seal.in_words(f) for f in bad]
    s.header = ["校验发现", "位置", "说明"]
    s.rows = [[seal.PROBLEM_ZH.get(f.problem, f.problem), f.record, f.detail] for f in findings]
    s.files["seal.pub.pem"] = key.public_pem()
    return s


def review_campaigns(session: Session, window: Window) -> Section:
    s = Section("reviews", "定期核查（每六个月）", ("R16", "等保 8.1.4.2 d)"),
                "每六个月核查一次账号与权限，由安全管理员决定、审计员会签。")
    s.header = ["编号", "单位", "状态", "发起", "应完成", "账号", "已决定"]
    for node in org.all_nodes(session, window.unit.dn):
        for c in reviews.list_campaigns(session, node.code):
            s.rows.append([c.review_id, node.name, labels.label("review_status", c.status),
                           labels.local_time(c.opened_at), c.due, str(len(c.rows)),
                           str(sum(1 for r in c.rows if r.decision))])
    s.facts = [("核查", str(len(s.rows)))]
    return s


def cryptography_inventory() -> Section:
    s = Section("cryptography", "密码应用清单", ("密评 8.4", "GB/T 39786-2021"),
                "产品中每一处密码使用、算法、是否国密，以及不用国密的原因。")
    s.header = ["用途", "算法", "国密", "说明"]
    s.rows = [list(r) for r in inventory.CRYPTOGRAPHY]
    return s


def gather(session: Session, settings: Settings, key: seal_key.SealKey, window: Window,
           log: seal.Log | None = None) -> list[Section]:
    """Every item. `log`: the write log as the pack's seal read it (read here otherwise)."""
    log = log or seal.read(session)
    acts, signins, _ = admin_actions(log, window)
    return [password_policy(session, settings), transport_and_factors(session, settings),
            account_inventory(session, window), separation(session, settings, window), acts,
            form_register(session, window), signins, log_and_seal(session, settings, key, log),
            review_campaigns(session, window), cryptography_inventory()]


def made_at() -> str:
    return datetime.now(UTC).strftime("%Y%m%d%H%M%SZ")


def describe(section: Section) -> dict[str, Any]:
    return {"key": section.key, "title": section.title, "clauses": list(section.clauses),
            "rows": len(section.rows), "findings": section.findings}
