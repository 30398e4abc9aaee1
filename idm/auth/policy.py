"""Password policy (R18) in two named profiles, and the checks slapd cannot make on a hash.

slapd's ppolicy carries what it can (length, history, age, lockout, must-change); the toolkit
checks the rest (character classes, the common-password list, the account's own uid, name,
name in pinyin and ID-number digits) before every change, and the access rules make the
toolkit's self-service path the only way a user can change their own password.
"""

from __future__ import annotations

import functools
import os
import re
import string
from dataclasses import dataclass
from pathlib import Path

from idm.errors import ProblemList


@dataclass(frozen=True)
class Profile:
    name: str
    title: str
    min_length: int
    min_classes: int  # of lower, upper, digit, other
    max_age_days: int  # 0: no periodic change
    expire_warning_days: int
    min_age_seconds: int
    history: int
    lockout_failures: int
    lockout_seconds: int
    admin_second_factor: bool


PROFILES = {
    # GB/T 22239-2019 level 3 (等保三级) as the seed asks: complexity, periodic change, 2FA for admins
    "mlps3": Profile("mlps3", "等级保护三级 / MLPS level 3", min_length=8, min_classes=3, max_age_days=90,
                     expire_warning_days=14, min_age_seconds=3600, history=5, lockout_failures=5,
                     lockout_seconds=900, admin_second_factor=True),
    # NIST SP 800-63B: length over composition, no periodic change, screen against common passwords
    "nist": Profile("nist", "NIST SP 800-63B", min_length=12, min_classes=0, max_age_days=0,
                    expire_warning_days=0, min_age_seconds=0, history=0, lockout_failures=10,
                    lockout_seconds=900, admin_second_factor=False),
}
DEFAULT_PROFILE = "mlps3"
MAX_LENGTH = 128
CLASSES = (string.ascii_lowercase, string.ascii_uppercase, string.digits)


def data_file(name: str) -> Path:
    base = os.environ.get("IDM_DATA_FILES") or str(Path(__file__).resolve().parents[2] / "data")
    return Path(base) / name


@functools.cache
def common_passwords() -> frozenset[str]:
    text = data_file("common-passwords.txt").read_text(encoding="utf-8")
    return frozenset(line.strip().lower() for line in text.splitlines() if line.strip())


def ppolicy_attrs(profile: Profile) -> dict[str, list[str]]:
    """The default pwdPolicy entry for a profile."""
    return {
        "pwdAttribute": ["userPassword"],
        "pwdMinLength": [str(profile.min_length)],
        "pwdInHistory": [str(profile.history)],
        "pwdMaxAge": [str(profile.max_age_days * 86400)],
        "pwdExpireWarning": [str(profile.expire_warning_days * 86400)],
        "pwdMinAge": [str(profile.min_age_seconds)],
        "pwdLockout": ["TRUE"],  # also what makes a disabled account's lock refuse binds
        "pwdMaxFailure": [str(profile.lockout_failures)],
        "pwdLockoutDuration": [str(profile.lockout_seconds)],
        "pwdFailureCountInterval": [str(profile.lockout_seconds)],
        "pwdMustChange": ["TRUE"],
        "pwdAllowUserChange": ["TRUE"],
        "pwdGraceAuthNLimit": ["3"],
    }


def describe(profile: Profile) -> list[tuple[str, str, str]]:
    """The rules in words, shown before anyone types a password: (key, Chinese, English). The
    web UI's password page marks the ones it can check as the person types (by key)."""
    rules = [("length", f"{profile.min_length} 至 {MAX_LENGTH} 个字符",
              f"{profile.min_length} to {MAX_LENGTH} characters")]
    if profile.min_classes:
        rules.append(("classes", f"大写字母、小写字母、数字、符号中至少 {profile.min_classes} 类",
                      f"at least {profile.min_classes} of: upper case, lower case, digits, symbols"))
    rules.append(("common", "不能是常见密码", "not a common password"))
    rules.append(("personal", "不能包含登录账号、姓名（含拼音）或身份证号中的连续数字",
                  "must not contain your login, your name (also in pinyin) or digits of your ID number"))
    if profile.history:
        rules.append(("history", f"不能与最近 {profile.history} 个密码相同",
                      f"not one of your last {profile.history}"))
    if profile.min_age_seconds:
        hours = max(1, profile.min_age_seconds // 3600)
        rules.append(("min_age", f"两次修改至少间隔 {hours} 小时（重置后的首次修改除外）",
                      f"at least {hours} hour(s) between two changes (not after a reset)"))
    if profile.max_age_days:
        rules.append(("max_age", f"每 {profile.max_age_days} 天须更换",
                      f"changed every {profile.max_age_days} days"))
    return rules


def _classes(password: str) -> int:
    n = sum(any(c in cls for c in password) for cls in CLASSES)
    return n + any(not c.isascii() or not c.isalnum() for c in password)


def _personal(name: str) -> list[str]:
    from pypinyin import lazy_pinyin  # its dictionaries take 0.2 s to load: only when a password is checked

    parts = [name.replace("·", "")]
    syllables = lazy_pinyin(name.replace("·", ""))
    parts.append("".join(syllables))
    if len(syllables) >= 2:
        parts.append("".join(syllables[1:]))  # the given name in pinyin
    return [p.lower() for p in parts if len(p) >= 3]


def check(password: str, profile: Profile, *, uid: str = "", name: str = "",
          id_number: str = "") -> None:
    """Raise InvalidInput listing every rule the password breaks."""
    problems = ProblemList()
    lowered = password.lower()
    if len(password) < profile.min_length:
        problems.add("password", f"少于 {profile.min_length} 个字符", f"shorter than {profile.min_length}")
    if len(password) > MAX_LENGTH:
        problems.add("password", f"超过 {MAX_LENGTH} 个字符", f"longer than {MAX_LENGTH}")
    if profile.min_classes and _classes(password) < profile.min_classes:
        problems.add("password", f"字符类别不足 {profile.min_classes} 类",
                     f"fewer than {profile.min_classes} kinds of character")
    if lowered in common_passwords() or re.sub(r"[0-9!@#$%^&*.]+$", "", lowered) in common_passwords():
        problems.add("password", "是常见密码", "is a common password")
    if uid and len(uid) >= 3 and uid.lower() in lowered:
        problems.add("password", "包含登录账号", "contains your login")
    if name and any(p in lowered for p in _personal(name)):
        problems.add("password", "包含姓名或其拼音", "contains your name or its pinyin")
    digits = re.sub(r"[^0-9]", "", id_number)
    if len(digits) >= 6 and any(digits[i:i + 6] in password for i in range(len(digits) - 5)):
        problems.add("password", "包含身份证号中的连续数字", "contains digits of your ID number")
    problems.raise_if_any("密码不符合策略", "the password does not meet the policy")
