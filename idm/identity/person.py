"""A real person's data as the forms give it (R10): checked, then turned into attributes."""

from __future__ import annotations

from dataclasses import dataclass

from idm import validation
from idm.errors import InvalidInput, ProblemList

MAX_FIELD = 256


@dataclass(frozen=True)
class Person:
    name: str
    id_number: str
    mobile: str
    email: str | None = None
    office_phone: str | None = None
    surname: str | None = None  # as the person writes it; None: derived from the name

    @classmethod
    def checked(cls, name: str, id_number: str, mobile: str, email: str | None = None,
                office_phone: str | None = None, surname: str | None = None) -> Person:
        """Every field checked; all problems reported together."""
        problems = ProblemList()
        values: dict[str, str | None] = {}
        fields = (("name", name, validation.person_name), ("id_number", id_number, validation.id_number),
                  ("mobile", mobile, validation.mobile), ("email", email, validation.email),
                  ("office_phone", office_phone, validation.office_phone))
        for field, value, check in fields:
            if value is None or value == "":
                if field in ("email", "office_phone"):
                    values[field] = None
                    continue
                problems.add(field, "不能为空", "is required")
                continue
            if len(value) > MAX_FIELD:
                problems.add(field, f"超过 {MAX_FIELD} 个字符", f"longer than {MAX_FIELD} characters")
                continue
            try:
                values[field] = check(value)
            except InvalidInput as err:
                problems.add(field, err.zh, err.en)
        if surname:
            try:
                values["surname"] = validation.surname(surname, name)
            except InvalidInput as err:
                problems.add("surname", err.zh, err.en)
        problems.raise_if_any("人员信息有误，未做任何修改",
                              "the person's data is invalid; nothing was changed")
        return cls(**values)  # type: ignore[arg-type]

    def attrs(self) -> dict[str, list[str]]:
        surname = validation.surname_of(self.name, self.surname)
        given = self.name[len(surname):].lstrip("·")
        attrs = {
            "cn": [self.name],
            "sn": [surname],
            "displayName": [self.name],
            "idmIdNumber": [self.id_number],
            "idmIdMasked": [validation.mask_id_number(self.id_number)],
            "mobile": [self.mobile],
        }
        if given:
            attrs["givenName"] = [given]
        if self.email:
            attrs["mail"] = [self.email]
        if self.office_phone:
            attrs["telephoneNumber"] = [self.office_phone]
        return attrs


def uid_candidates(name: str) -> list[str]:
    """Login names from the pinyin of a name: wangmin, wangmin2, wangmin3, ..."""
    from pypinyin import lazy_pinyin  # its dictionaries take 0.15 s to load: only when asked

    base = "".join(ch for ch in "".join(lazy_pinyin(name.replace("·", ""))).lower()
                   if ch.isascii() and ch.isalnum())
    if not base or not base[0].isalpha():
        base = "u" + base
    base = base[:56]
    return [base] + [f"{base}{i}" for i in range(2, 100)]
