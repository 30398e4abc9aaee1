"""Shape checks for the values people type: codes, names, ID numbers, phones.

Each check returns the value to store or raises `InvalidInput` with a message that says what is
wrong; callers that read files collect problems per line before writing anything.
"""

from __future__ import annotations

import operator
import re
import unicodedata
from datetime import UTC, date, datetime, timedelta, timezone

from idm.errors import InvalidInput

LEVELS = ("ministry", "province", "city", "county", "school", "university")
LEVEL_ZH = {
    "ministry": "部级",
    "province": "省级",
    "city": "地市级",
    "county": "区县级",
    "school": "学校",
    "university": "高等学校",
}
REGION_LEVELS = frozenset({"ministry", "province", "city", "county"})
ADMIN_ROLES = ("sysadmin", "secadmin", "auditor")
ADMIN_ROLE_ZH = {"sysadmin": "系统管理员", "secadmin": "安全管理员", "auditor": "安全审计员"}

# GB 11643 first two digits: the province-level divisions of GB/T 2260.
ID_REGIONS = frozenset(
    "11 12 13 14 15 21 22 23 31 32 33 34 35 36 37 41 42 43 44 45 46 50 51 52 53 54 "
    "61 62 63 64 65 71 81 82".split()
)
_ID_WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
_ID_CHECK = "10X98765432"
MIDDLE_DOT = "\u00b7"
_NAME_DOTS = "\u2022\u2027\u30fb\uff65\u02d1\u16eb\u2219"
_HAN = "\u3400-\u4dbf\u4e00-\u9fff\U00020000-\U0003134f"
_HAN_NAME = re.compile(f"[{_HAN}]+(\u00b7[{_HAN}]+)*")
_LATIN_NAME = re.compile(r"[A-Za-z]+( [A-Za-z]+)*")
MAX_ORG_NAME = 100
MAX_PERSON_NAME = 40


def _bad(zh: str, en: str) -> InvalidInput:
    return InvalidInput(zh, en)


def org_code(value: str) -> str:
    if not re.fullmatch(r"[0-9]{6}|[0-9]{10}", value):
        raise _bad(
            f"代码“{value}”无效：应为 6 位行政区划代码或 10 位学校标识码",
            f"code {value!r} is invalid: expected a 6-digit division code or a 10-digit school code",
        )
    return value


def level(value: str) -> str:
    if value not in LEVELS:
        raise _bad(
            f"层级“{value}”无效，可选：{'、'.join(LEVELS)}",
            f"level {value!r} is invalid; one of: {', '.join(LEVELS)}",
        )
    return value


def _has_control(value: str) -> bool:
    if value.isprintable():  # no character of any C* category (the usual case, checked in C)
        return False
    return any(unicodedata.category(ch) in ("Cc", "Cf", "Cs", "Co", "Cn") for ch in value)


def org_name(value: str) -> str:
    if not value:
        raise _bad("名称不能为空", "name is empty")
    if value != value.strip():
        raise _bad("名称首尾不能有空白", "name has leading or trailing spaces")
    if len(value) > MAX_ORG_NAME:
        raise _bad(f"名称超过 {MAX_ORG_NAME} 个字符", f"name is longer than {MAX_ORG_NAME} characters")
    if _has_control(value):
        raise _bad("名称含有控制字符", "name contains control characters")
    return value


def free_text(value: str, max_len: int = 1024) -> str:
    """Reasons and notes: bounded, no control characters."""
    if len(value) > max_len:
        raise _bad(f"内容超过 {max_len} 个字符", f"text is longer than {max_len} characters")
    if _has_control(value.replace("\n", "")):
        raise _bad("内容含有控制字符", "text contains control characters")
    return value


def person_name(value: str) -> str:
    """Chinese personal names, with the middle dot (·, U+00B7) of Mongolian and other names."""
    if not value:
        raise _bad("姓名不能为空", "name is empty")
    if len(value) > MAX_PERSON_NAME:
        raise _bad(f"姓名超过 {MAX_PERSON_NAME} 个字符", f"name is longer than {MAX_PERSON_NAME} characters")
    for ch in _NAME_DOTS:
        if ch in value:
            raise _bad(
                f"姓名中的间隔号应为“{MIDDLE_DOT}”（U+00B7），不是“{ch}”",
                f"the middle dot in a name must be U+00B7 '{MIDDLE_DOT}', not U+{ord(ch):04X}",
            )
    if not _HAN_NAME.fullmatch(value) and not _LATIN_NAME.fullmatch(value):
        raise _bad(
            f"姓名“{value}”无效：只能是汉字（可用“·”分隔）或拉丁字母",
            f"name {value!r} is invalid: Chinese characters (parts joined by '·') or Latin letters",
        )
    return value


def id_check_digit(first17: str) -> str:
    if len(first17) != len(_ID_WEIGHTS):
        raise ValueError("the first 17 characters of an ID number")
    total = sum(map(operator.mul, map(int, first17), _ID_WEIGHTS))  # a bulk load checks millions
    return _ID_CHECK[total % 11]


def id_number(value: str, today: date | None = None) -> str:
    """GB 11643 resident ID number: region, real birth date, check digit; `x` becomes `X`."""
    value = value.upper()
    if not re.fullmatch(r"[0-9]{17}[0-9X]", value):
        raise _bad(
            "身份证号应为 18 位：17 位数字，最后一位为数字或 X",
            "ID number must be 18 characters: 17 digits, then a digit or X",
        )
    if value[:2] not in ID_REGIONS:
        raise _bad(f"身份证号地区码“{value[:2]}”无效", f"ID number region {value[:2]!r} is invalid")
    try:
        born = date(int(value[6:10]), int(value[10:12]), int(value[12:14]))
    except ValueError:
        raise _bad(
            f"身份证号中的出生日期“{value[6:14]}”不存在", f"ID number birth date {value[6:14]} does not exist"
        ) from None
    if born > (today or date.today()) or born.year < 1900:
        raise _bad(
            f"身份证号中的出生日期“{value[6:14]}”不合理", f"ID number birth date {value[6:14]} is implausible"
        )
    expected = id_check_digit(value[:17])
    if value[17] != expected:
        raise _bad(
            f"身份证号校验位错误（应为 {expected}）",
            f"ID number check digit is wrong (expected {expected})",
        )
    return value


def mask_id_number(value: str) -> str:
    """R17: show region prefix and last four only, e.g. 1501**********001X."""
    return value[:4] + "*" * (len(value) - 8) + value[-4:] if len(value) > 8 else "*" * len(value)


def mobile(value: str) -> str:
    if not re.fullmatch(r"1[3-9][0-9]{9}", value):
        raise _bad("手机号应为 11 位数字，以 1 开头", "mobile number must be 11 digits starting with 1")
    return value


def office_phone(value: str) -> str:
    if not re.fullmatch(r"0[0-9]{2,3}-[0-9]{7,8}(-[0-9]{1,6})?", value):
        raise _bad(
            "办公电话应带区号，如 0471-2856405",
            "office phone needs its area code, e.g. 0471-2856405",
        )
    return value


def email(value: str) -> str:
    if len(value) > 254 or not re.fullmatch(r"[A-Za-z0-9._%+-]+@[A-Za-z0-9-]+(\.[A-Za-z0-9-]+)+", value):
        raise _bad(f"电子邮箱“{value}”无效", f"email address {value!r} is invalid")
    return value


def uid(value: str) -> str:
    if not re.fullmatch(r"[a-z][a-z0-9._-]{1,63}", value):
        raise _bad(
            f"登录账号“{value}”无效：小写字母开头，只含小写字母、数字和 . _ -，2 至 64 位",
            f"login {value!r} is invalid: 2-64 of a-z 0-9 . _ -, starting with a letter",
        )
    return value


def admin_role(value: str) -> str:
    if value not in ADMIN_ROLES:
        raise _bad(
            f"管理员角色“{value}”无效，可选：{'、'.join(ADMIN_ROLES)}",
            f"admin role {value!r} is invalid; one of: {', '.join(ADMIN_ROLES)}",
        )
    return value


# Two-character surnames (复姓) kept whole when a form gives the name only
COMPOUND_SURNAMES = frozenset(
    "欧阳 司马 上官 诸葛 东方 皇甫 尉迟 公孙 慕容 长孙 宇文 司徒 夏侯 轩辕 令狐 端木 独孤 南宫 万俟 "
    "闻人 赫连 澹台 呼延 申屠 太史 公冶 宗政 濮阳 淳于 单于 钟离 西门 百里 东郭 拓跋 鲜于".split())


def surname_of(name: str, given: str | None = None) -> str:
    """The surname as the person writes it (`given`, when the form has it), else: the part before
    the middle dot, a known compound surname, or the first character."""
    if given:
        return given
    if "·" in name:
        return name.split("·")[0]
    if name[:2] in COMPOUND_SURNAMES:
        return name[:2]
    return name[:1]


def surname(value: str, name: str) -> str:
    """A surname written on a form: it must begin the name."""
    if not value:
        return value
    person_name(value)
    if not name.startswith(value):
        raise _bad(f"姓“{value}”应为姓名“{name}”的开头", f"surname {value!r} must begin the name {name!r}")
    return value


CHINA = timezone(timedelta(hours=8), "CST")  # one time zone for the whole country


def local_day_start(value: str, what: str = "日期", what_en: str = "date") -> str:
    """A local date (YYYY-MM-DD or YYYYMMDD) as the directory time of its first moment (UTC)."""
    digits = value.replace("-", "")
    try:
        if not re.fullmatch(r"[0-9]{8}", digits):
            raise ValueError
        day = datetime.strptime(digits, "%Y%m%d").replace(tzinfo=CHINA)
    except ValueError:
        raise InvalidInput(f"{what}应为 YYYY-MM-DD：{value}",
                           f"{what_en} must be YYYY-MM-DD: {value!r}") from None
    return day.astimezone(UTC).strftime("%Y%m%d%H%M%SZ")

