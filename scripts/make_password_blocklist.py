"""Regenerate data/common-passwords.txt: the 3,000 most common passwords of zxcvbn's frequency
list (MIT licence; compiled from public password leaks), plus patterns common in China.

    .venv/bin/pip install zxcvbn && .venv/bin/python scripts/make_password_blocklist.py
"""

from pathlib import Path

from zxcvbn.frequency_lists import FREQUENCY_LISTS

CHINA = """5201314 1314520 woaini woaini1314 woaini520 iloveyou1314 qq123456 qq5201314 a123456
a123456789 aa123456 abc123456 123qwe qwe123 1qaz2wsx zxc123 zxcvbnm123 wang123 zhang123
li123456 admin123 admin888 888888 666666 168168 147258369 159753 asd123 111222 a5201314
woaini123 nihao123 huawei123 baidu123 taobao123 weixin123 jiayou123 password123""".split()


def main() -> None:
    top = FREQUENCY_LISTS["passwords"][:3000]
    words = list(dict.fromkeys([*top, *CHINA]))
    out = Path(__file__).resolve().parents[1] / "data" / "common-passwords.txt"
    out.write_text("\n".join(words) + "\n", encoding="utf-8")
    print(f"{len(words)} passwords -> {out}")


if __name__ == "__main__":
    main()
