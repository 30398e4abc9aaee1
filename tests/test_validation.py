"""Shape checks (no server): ID numbers, names, phones; and the exact escaping of DNs/filters."""

from __future__ import annotations

from datetime import date

import pytest

from idm import validation
from idm.directory import names
from idm.errors import InvalidInput

VALID_IDS = ["150102198803150019", "152502198507230026", "11010519491231002X", "11010519491231002x"]


@pytest.mark.parametrize("value", VALID_IDS)
def test_valid_id_numbers(value: str) -> None:
    assert validation.id_number(value) == value.upper()


@pytest.mark.parametrize(("value", "reason"), [
    ("150102198803150018", "check digit is wrong (expected 9)"),  # only the check digit is off
    ("11010519491231002 ", "18 characters"),
    ("1501021988031500X9", "18 characters"),  # X only last
    ("15010219880315001", "18 characters"),
    ("990102198803150016", "region '99'"),
    ("150102198802300012", "19880230 does not exist"),
    ("150102209901010012", "implausible"),
    ("１５０１０２１９８８０３１５００１９", "18 characters"),  # full-width digits
])
def test_invalid_id_numbers(value: str, reason: str) -> None:
    with pytest.raises(InvalidInput) as err:
        validation.id_number(value, today=date(2026, 11, 27))
    assert reason in err.value.en


def test_mask_id_number() -> None:
    assert validation.mask_id_number("15010219880315001X") == "1501**********001X"


@pytest.mark.parametrize("value", ["王敏", "阿拉坦·其其格", "欧阳娜娜", "Ma Li", "𠮷野"])
def test_valid_person_names(value: str) -> None:
    assert validation.person_name(value) == value


@pytest.mark.parametrize(("value", "reason"), [
    ("阿拉坦•其其格", "U+00B7"), ("阿拉坦・其其格", "U+00B7"), ("", "empty"), ("王 敏", "invalid"),
    ("王敏\x00", "invalid"), ("·王敏", "invalid"), ("王" * 41, "longer than 40"),
    ("*)(uid=*", "invalid"),
])
def test_invalid_person_names(value: str, reason: str) -> None:
    with pytest.raises(InvalidInput) as err:
        validation.person_name(value)
    assert reason in err.value.en


@pytest.mark.parametrize(("check", "good", "bad"), [
    (validation.mobile, "13904710001", "23904710001"),
    (validation.office_phone, "0471-2856405", "2856405"),
    (validation.email, "a.b@edu.cn", "a@b"),
    (validation.uid, "nmg.sys", "Nmg"),
    (validation.org_code, "1501020001", "15010"),
])
def test_simple_checks(check, good: str, bad: str) -> None:  # type: ignore[no-untyped-def]
    assert check(good) == good
    with pytest.raises(InvalidInput):
        check(bad)


def test_filter_values_are_escaped_exactly() -> None:
    assert names.eq("uid", "*)(uid=*") == r"(uid=\2a\29\28uid=\2a)"
    assert names.eq("cn", "a\\b\x00") == r"(cn=a\5cb\00)"


def test_dn_values_are_escaped_exactly() -> None:
    assert names.rdn("uid", "a,b+c=d") == r"uid=a\,b\+c\=d"
    assert names.rdn("uid", "#lead") == r"uid=\#lead"
    assert names.rdn("uid", " both ") == r"uid=\ both\ "
    assert names.node_dn(["150000", "150100"], "dc=edu,dc=cn") == "ou=150100,ou=150000,dc=edu,dc=cn"
    assert names.first_value(r"uid=a\,b,ou=people,dc=edu,dc=cn") == "a,b"


@pytest.mark.parametrize("name,written,expected", [
    ("欧阳晓明", None, "欧阳"), ("王敏", None, "王"), ("阿拉坦·其其格", None, "阿拉坦"),
    ("单于明", "单", "单"),  # as the person writes it: here not the compound surname 单于
])
def test_surnames_stay_as_written(name: str, written: str | None, expected: str) -> None:
    assert validation.surname_of(name, written) == expected


def test_a_written_surname_must_begin_the_name() -> None:
    with pytest.raises(InvalidInput):
        validation.surname("欧", "王敏")
