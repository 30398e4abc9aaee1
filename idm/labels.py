"""Words for every value a person reads: the directory keeps short internal values (`active`,
`sysadmin`, `registration`, `19`), people read these labels, in Chinese and in English.

One vocabulary for the web UI, the CLI and the PDFs, so a value is named the same everywhere.
A value without a label is shown as itself (and the web UI's crawler test fails on it).
"""

from __future__ import annotations

from datetime import UTC, datetime

from idm import operations
from idm.filing.kinds import KINDS
from idm.validation import ADMIN_ROLE_ZH, CHINA, LEVEL_ZH

Pair = tuple[str, str]

VOCABULARY: dict[str, dict[str, Pair]] = {
    "status": {"active": ("启用", "active"), "disabled": ("停用", "disabled")},
    "role": {**{k: (v, {"sysadmin": "system admin", "secadmin": "security admin",
                        "auditor": "security auditor"}[k]) for k, v in ADMIN_ROLE_ZH.items()},
             "": ("（未授予角色）", "(no role yet)")},
    "review_flag": {"idle": ("180 天未登录", "no sign-in for 180 days"),
                    "admin+business": ("同一人兼有管理与业务账号", "same person holds admin and business accounts"),
                    "several-admin": ("同一人有多个管理员账号", "same person holds several admin accounts"),
                    "legacy": ("岗位账号未实名制转化", "post account not converted to real name"),
                    "no-form": ("授权无申请单依据", "grant without a form")},
    "review_decision": {"keep": ("保留", "keep"), "revoke": ("撤销授权", "revoke grant"),
                        "disable": ("停用", "disable")},
    "review_status": {"open": ("进行中", "open"), "closing": ("待审计员会签", "awaiting the auditor's countersignature"),
                      "closed": ("已会签关闭", "closed and countersigned")},
    "account_kind": {"admin": ("管理类用户", "admin account"), "business": ("业务类用户", "business user")},
    "form_kind": {k: (kind.zh, kind.en) for k, kind in KINDS.items()},
    "form_state": {"received": ("已受理", "received"), "executed": ("已办结", "done"),
                   "rejected": ("已驳回", "rejected")},
    "change_type": {op.change_type: (op.zh, op.en) for op in operations.ALL if op.change_type},
    "operation": {op.name: (op.zh, op.en) for op in operations.ALL},
    "cert_status": {"requested": ("待签发", "requested"), "issued": ("已签发", "issued"),
                    "downloaded": ("已下载", "downloaded"), "revoked": ("已吊销", "revoked"),
                    "expired": ("已过期", "expired")},
    "action_kind": {"form": ("登记申请单", "recording a form"), "signin": ("登录事件", "sign-in events"),
                    "factor": ("启用动态验证码", "second factor enrolled"),
                    "write": ("其他目录写入", "other directory writes"), "operation": ("业务操作", "operations")},
    "cert_algorithm": {"sm2": ("SM2（国密，SM2-with-SM3）", "SM2 (SM2-with-SM3)"),
                       "ec": ("ECDSA P-256（SHA-256）", "ECDSA P-256 (SHA-256)"),
                       "rsa": ("RSA 3072（SHA-256）", "RSA 3072 (SHA-256)")},
    "p12_cipher": {"sm4": ("SM4（国密）", "SM4"), "aes256": ("AES-256（客户端不支持 SM4 时）", "AES-256 (clients without SM4)")},
    "revocation": {"unspecified": ("未说明", "unspecified"), "key_compromise": ("私钥泄露", "key compromise"),
                   "affiliation_changed": ("调离或离职", "affiliation changed"),
                   "superseded": ("已更换", "superseded"), "cessation_of_operation": ("停止使用", "ceased")},
    "level": {k: (v, k) for k, v in LEVEL_ZH.items()},
    "log_op": {"add": ("新增", "add"), "modify": ("修改", "modify"), "delete": ("删除", "delete"),
               "modrdn": ("调动", "transfer"), "extended": ("扩展操作（如改密码）", "extended operation"),
               "signin": ("登录事件", "sign-in event")},
    "attribute": {
        "idmStatus": ("状态", "status"), "idmStatusChanged": ("状态时间", "status time"),
        "idmStatusReason": ("原因", "reason"), "idmReleasedTo": ("调往单位", "released to"),
        "pwdAccountLockedTime": ("锁定", "lock"),
        "pwdReset": ("须改密", "must change"), "userPassword": ("密码", "password"),
        "idmGrant": ("授权", "grants"), "idmAdminRole": ("角色", "role"), "idmScope": ("管理范围", "scope"),
        "cn": ("姓名", "name"), "sn": ("姓", "surname"), "givenName": ("名", "given name"),
        "displayName": ("显示名", "display name"), "mobile": ("手机", "mobile"), "mail": ("电子邮箱", "e-mail"),
        "telephoneNumber": ("办公电话", "office phone"), "idmIdNumber": ("身份证号", "ID number"),
        "idmIdMasked": ("身份证号（脱敏）", "ID number (masked)"), "idmRecordStatus": ("办理状态", "state"),
        "idmRecordState": ("办理记录", "history"), "idmRecordTarget": ("涉及账号", "accounts"),
        "idmRecordSubject": ("涉及账号", "accounts"),
        "idmRetainUntil": ("保存期限", "retention"), "idmAttachment": ("扫描件", "scan"),
        "idmAttachmentSha256": ("扫描件摘要", "scan digest"), "oathSecret": ("动态验证码密钥", "factor secret"),
        "oathTOTPLastTimeStep": ("验证码使用记录", "code used"), "oathFailureCount": ("验证码错误次数", "wrong codes"),
        "oathLastFailure": ("验证码错误时间", "wrong code time"), "oathLastLogin": ("验证码最近使用", "code last used"),
        "oathTOTPParams": ("验证码参数", "factor parameters"), "idmConfirmed": ("首次登录确认", "first-login confirmation"),
        "idmDispute": ("首次登录不一致报告", "first-login mismatch"), "idmSignIn": ("登录事件", "sign-in event"),
        "idmManagedBy": ("委托管理", "delegation"), "userCertificate;binary": ("证书", "certificate"),
        "userCertificate": ("证书", "certificate"), "idmLegacy": ("岗位账号", "post account"),
        "objectClass": ("类型", "kind"), "uid": ("登录账号", "login"), "idmRecordData": ("申请单内容", "form fields"),
        "idmRecordPrivate": ("申请单联系方式", "form contact data"), "idmRecordKind": ("申请单类型", "form kind"),
        "description": ("说明", "description"), "idmPostName": ("岗位", "post"),
        "pwdChangedTime": ("密码修改时间", "password changed"), "pwdFailureTime": ("密码错误记录", "wrong passwords"),
        "pwdHistory": ("历史密码", "password history"), "pwdPolicySubentry": ("密码策略", "password policy"),
        "pwdGraceUseTime": ("宽限登录", "grace logins"), "pwdLastSuccess": ("最近登录", "last sign-in"),
        "idmNameZh": ("单位名称", "unit name"), "idmCode": ("单位代码", "unit code"),
        "idmLevel": ("层级", "level"), "idmApp": ("系统", "system"), "idmAppRole": ("系统角色", "system role"),
        "ou": ("单位", "unit"), "o": ("组织", "organisation"),
    },
    "service": {"idm-webui": ("网页服务", "web service"), "idm-writer": ("写入服务", "writer service"),
                "idm-selfservice": ("密码服务", "password service"), "idm-dummy": ("系统", "system")},
    "signin_event": {"signin-web": ("登录（网页）", "signed in (web)"),
                     "signin-cli": ("登录（命令行）", "signed in (command line)"),
                     "failure": ("登录失败（密码错误）", "sign-in failed (wrong password)"),
                     "lockout": ("登录失败，账号被锁定", "sign-in failed, account locked"),
                     "refused-locked": ("登录被拒（账号已锁定或停用）", "sign-in refused (locked or disabled)"),
                     "expired": ("密码已过期", "password expired"),
                     "factor-failure": ("动态验证码错误", "wrong one-time code"),
                     "factor-lockout": ("动态验证码错误次数过多，已锁定", "too many wrong codes, locked"),
                     "signout": ("退出", "signed out")},
    "result": {"0": ("成功", "done"), "50": ("被拒绝：权限不足", "refused: no right"),
               "32": ("被拒绝：对象不存在", "refused: no such entry"),
               "19": ("被拒绝：违反约束（如密码规则）", "refused: constraint (e.g. password rules)"),
               "65": ("被拒绝：条目类型不符", "refused: wrong kind of entry"),
               "53": ("被拒绝：目录拒绝执行", "refused: unwilling to perform"),
               "68": ("被拒绝：已存在", "refused: already exists"),
               "21": ("被拒绝：值的格式不对", "refused: invalid value"),
               "16": ("被拒绝：属性不存在", "refused: no such attribute"),
               "20": ("被拒绝：值已存在", "refused: value exists"),
               "8": ("被拒绝：需要认证", "refused: authentication required")},
}

# slapd's own words, as they reach a refusal, and what a person should read instead
DIRECTORY_MESSAGES: dict[str, Pair] = {
    "Password is too young to change": ("距上次修改密码未满最短间隔，暂不能再改",
                                        "the password was changed too recently to change again"),
    "Password is in history of old passwords": ("不能与最近使用过的密码相同",
                                                "the password was used recently"),
    "Password fails quality checking policy": ("密码不符合复杂度要求", "the password is not complex enough"),
    "Password is not being changed from existing value": ("新密码不能与当前密码相同",
                                                          "the new password is the current one"),
    "non-unique attributes found": ("与已有条目重复（如登录账号或身份证号）",
                                    "duplicates an existing entry (login or ID number)"),
    "Insufficient access": ("权限不足", "insufficient access"),
    "modify breaks constraint": ("不符合目录约束", "breaks a directory constraint"),
}



def label(kind: str, value: str | None, lang: str = "zh") -> str:
    """The word for an internal value (itself when the vocabulary has none)."""
    pair = VOCABULARY.get(kind, {}).get(value or "")
    if pair is None:
        return value or ""
    return pair[0] if lang == "zh" else pair[1]


def directory_message(text: str, lang: str = "zh") -> str:
    """slapd's English message in the reader's words, where it is one we know."""
    for known, pair in DIRECTORY_MESSAGES.items():
        if known.lower() in text.lower():
            return pair[0] if lang == "zh" else pair[1]
    return text


def local_time(value: str | None, seconds: bool = False) -> str:
    """A directory time (YYYYmmddHHMMSS[.ffffff]Z) as local YYYY-MM-DD HH:mm (China time); with
    seconds for exports, where two events in one minute must still sort apart."""
    if not value:
        return ""
    digits = value.rstrip("Z").split(".")[0]
    try:  # by hand: strptime was a tenth of a form list's rendering
        when = datetime(int(digits[0:4]), int(digits[4:6]), int(digits[6:8]), int(digits[8:10]),
                        int(digits[10:12]), int(digits[12:14]), tzinfo=UTC)
    except ValueError:
        return value
    return when.astimezone(CHINA).strftime("%Y-%m-%d %H:%M:%S" if seconds else "%Y-%m-%d %H:%M")
