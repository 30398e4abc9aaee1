#!/usr/bin/env python3
"""A synthetic national data set for `idm load`, deterministic by seed (issue 11).

    scripts/gen-national.py OUT_DIR [--seed 11] [--units 500000] [--accounts 1000000]
                            [--provinces 31] [--legacy-share 0.05]

writes, each in the order a streamed load needs (parents first, accounts grouped by unit):
    tree.csv     31 provinces, ~340 cities, ~2,800 counties (GB/T 2260-shaped codes), then
                 universities under the provinces and schools under the counties (10-digit codes)
                 up to --units units in all
    admins.csv   the three admins (sysadmin, secadmin, auditor) of every unit down to county
    people.csv   --accounts business users spread over the schools, universities and counties,
                 with valid GB 11643 numbers (one person, one number), Chinese names including
                 minority names joined by '·', some with grants
    legacy.csv   post-based accounts (R9) still to be converted, a share of --accounts

Nothing here is real: codes follow the shape of GB/T 2260, not its list, and names are drawn
from common characters.
"""

from __future__ import annotations

import argparse
import csv
import datetime
import random
from pathlib import Path

PROVINCES = ("11 12 13 14 15 21 22 23 31 32 33 34 35 36 37 41 42 43 44 45 46 50 51 52 53 54 "
             "61 62 63 64 65").split()
SURNAMES = ("王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗郑梁谢宋唐许韩冯"
            "邓曹彭曾肖田董袁潘于蒋蔡余杜叶程苏魏吕丁任沈")
GIVEN = ("伟芳娜秀英敏静丽强磊军洋勇艳杰娟涛明超秀兰霞平刚"
         "桂英华建国红梅玉兰志强晓东海燕文博宇轩浩然子涵欣怡雨萱")
MINORITY = ("阿依古丽·买买提", "巴特尔·那顺", "热依拉·艾山", "乌兰·图雅", "古丽娜尔·吐尔逊", "阿迪力·艾力",
            "斯琴·高娃", "扎西·多吉", "卓玛·次仁", "努尔兰·卡德尔")
CHECK_WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
GRANTS = ("teacher#viewer", "student#viewer", "teacher#editor", "student#editor")


def check_digit(first17: str) -> str:
    return "10X98765432"[sum(int(d) * w for d, w in zip(first17, CHECK_WEIGHTS, strict=True)) % 11]


class Numbers:
    """Distinct valid ID numbers per region: birth dates advance every 999 people."""

    def __init__(self, first_year: int) -> None:
        self.start = datetime.date(first_year, 1, 1)
        self.used: dict[str, int] = {}

    def next(self, region: str) -> str:
        n = self.used.get(region, 0)
        self.used[region] = n + 1
        day, seq = divmod(n, 999)
        born = self.start + datetime.timedelta(days=day)
        first = f"{region}{born:%Y%m%d}{seq + 1:03d}"
        return first + check_digit(first)


def name(rng: random.Random) -> str:
    if rng.random() < 0.03:
        return rng.choice(MINORITY)
    return rng.choice(SURNAMES) + "".join(rng.choice(GIVEN) for _ in range(rng.choice((1, 2))))


def build_tree(rng: random.Random, units: int, provinces: int) -> list[tuple[str, str, str, str]]:
    """(code, name, level, parent) parents first."""
    tree: list[tuple[str, str, str, str]] = []
    counties: list[str] = []
    chosen = PROVINCES[:provinces]
    for p in chosen:
        tree.append((f"{p}0000", f"合成省{p}", "province", ""))
        for c in range(1, rng.randint(10, 14)):
            city = f"{p}{c:02d}00"
            tree.append((city, f"合成市{city}", "city", f"{p}0000"))
            for k in range(1, rng.randint(6, 13)):
                county = f"{p}{c:02d}{k:02d}"
                tree.append((county, f"合成县{county}", "county", city))
                counties.append(county)
    universities = max(0, min(len(chosen) * 90, (units - len(tree)) // 180))
    for i in range(universities):
        p = chosen[i % len(chosen)]
        code = f"4{p}{i // len(chosen):07d}"
        tree.append((code, f"合成大学{code}", "university", f"{p}0000"))
    school = 0
    per_county: dict[str, int] = {}
    while len(tree) < units:
        county = counties[school % len(counties)]
        n = per_county.get(county, 0)
        per_county[county] = n + 1
        if n >= 999:
            raise SystemExit("too many schools per county for 10-digit codes: lower --units")
        code = f"2{county}{n:03d}"
        tree.append((code, f"合成学校{code}", "school", county))
        school += 1
    return tree


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("out", type=Path)
    parser.add_argument("--seed", type=int, default=11)
    parser.add_argument("--units", type=int, default=500_000)
    parser.add_argument("--accounts", type=int, default=1_000_000)
    parser.add_argument("--provinces", type=int, default=31)
    parser.add_argument("--legacy-share", type=float, default=0.05)
    args = parser.parse_args()
    rng = random.Random(args.seed)
    args.out.mkdir(parents=True, exist_ok=True)
    tree = build_tree(rng, args.units, args.provinces)
    with open(args.out / "tree.csv", "w", encoding="utf-8", newline="") as handle:
        out = csv.writer(handle, lineterminator="\n")
        out.writerow(("code", "name", "level", "parent"))
        out.writerows(tree)
    admin_numbers = Numbers(1950)
    with open(args.out / "admins.csv", "w", encoding="utf-8", newline="") as handle:
        out = csv.writer(handle, lineterminator="\n")
        out.writerow(("uid", "unit", "role", "name", "id_number", "mobile"))
        for code, _, level, _ in tree:
            if level in ("province", "city", "county"):
                for role in ("sysadmin", "secadmin", "auditor"):
                    out.writerow((f"a{code}.{role[:3]}", code, role, name(rng), admin_numbers.next(code),
                                  f"139{rng.randrange(10**8):08d}"))
    places = [code for code, _, level, _ in tree if level in ("school", "university", "county")]
    people_numbers = Numbers(1960)
    legacy = int(args.accounts * args.legacy_share)
    real = args.accounts - legacy
    with open(args.out / "people.csv", "w", encoding="utf-8", newline="") as handle:
        out = csv.writer(handle, lineterminator="\n")
        out.writerow(("uid", "unit", "name", "id_number", "mobile", "grants"))
        for i in range(real):
            unit = places[i * len(places) // max(real, 1)]  # grouped by unit, spread evenly
            if len(unit) == 6:
                region = unit
            else:  # a school's county, a university's province
                region = unit[1:7] if unit[0] == "2" else unit[1:3] + "0101"
            grants = " ".join(rng.sample(GRANTS, rng.choice((0, 0, 1, 2))))
            out.writerow((f"p{i:07d}", unit, name(rng), people_numbers.next(region),
                          f"138{rng.randrange(10**8):08d}", grants))
    with open(args.out / "legacy.csv", "w", encoding="utf-8", newline="") as handle:
        out = csv.writer(handle, lineterminator="\n")
        out.writerow(("uid", "unit", "post"))
        for i in range(legacy):
            unit = places[i * len(places) // max(legacy, 1)]
            out.writerow((f"POST{i:07d}", unit, f"岗位{rng.randrange(100)}号"))
    print(f"{args.out}: {len(tree)} units, {real} people, {legacy} post accounts (seed {args.seed})")


if __name__ == "__main__":
    main()
