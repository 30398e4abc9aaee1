"""What a load needs to know of the directory, asked in batches: units by code, the containers
of existing units, accounts by login, the holders of ID numbers, the catalogue of grants.

`Online` asks slapd as the loader (and, for forms not yet acted on, as the lookup account: the
same global test of ID numbers as `idm.identity_numbers`, many numbers per search). `Offline`
answers from a `slapcat` of the stopped server's database.
"""

from __future__ import annotations

import base64
import json
import re
import subprocess
import tempfile
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

import ldap

from idm.directory import names
from idm.directory.session import Session, _decode
from idm.errors import NotFound, ServerError
from idm.tree.org import CONTAINERS

ACCOUNTS = "(|(objectClass=idmAdminAccount)(objectClass=idmBusinessAccount))"
ORG_ATTRS = ["idmCode", "idmNameZh", "idmLevel", "idmManagedBy"]
# an account's kind is its place (ou=admins or ou=people: the rules admit each class only at its
# own), so neither the filter nor the answer needs objectClass: each costs the loader an access
# check that walks the account clauses (a rerun's plan of existing accounts ran a third faster)
ACCOUNT_ATTRS = ["uid", "idmGrant", "idmLegacy", "idmStatus"]
_ACCOUNT_PLACE = re.compile(r"uid=[^,]+,ou=(people|admins),", re.IGNORECASE)
CHUNK = 16


@dataclass(frozen=True, slots=True)
class Unit:
    dn: str
    code: str
    name: str
    level: str
    managed_by: str | None


@dataclass(frozen=True, slots=True)
class Account:
    dn: str
    kind: str  # admin | business
    grants: tuple[str, ...]
    legacy: bool
    status: str


@dataclass(frozen=True, slots=True)
class Holder:
    """Someone who holds an ID number: an account or a form not yet acted on."""

    kind: str  # admin | business | form
    name: str
    dn: str
    unit_dn: str


class View(Protocol):
    suffix: str

    def units(self, codes: Sequence[str]) -> dict[str, Unit]: ...
    def containers(self, unit_dns: Sequence[str]) -> dict[str, set[str]]: ...
    def accounts(self, uids: Sequence[str], details: bool = True) -> dict[str, Account]: ...
    def holders(self, pairs: Sequence[tuple[str, str]]) -> dict[str, list[Holder]]: ...
    def catalogue(self) -> dict[str, set[str]]: ...


def _unit(dn: str, a: dict[str, list[str]]) -> Unit:
    def one(name: str) -> str:
        return (a.get(name) or [""])[0]

    return Unit(dn, one("idmCode"), one("idmNameZh"), one("idmLevel"), one("idmManagedBy") or None)


def _account(dn: str, a: dict[str, list[str]], kind: str | None = None) -> Account:
    if kind is None:
        kind = "admin" if "idmadminaccount" in {c.lower() for c in a.get("objectClass", [])} else "business"
    return Account(dn, kind, tuple(a.get("idmGrant", [])), (a.get("idmLegacy") or [""])[0].upper() == "TRUE",
                   (a.get("idmStatus") or [""])[0])


def node_of(dn: str) -> str:
    return names.parent_of(names.parent_of(dn))


class Online:
    """The directory as the loader sees it, many questions per search."""

    def __init__(self, session: Session, lookup: Session | None) -> None:
        self.session = session
        self.lookup = lookup  # None where no lookup account exists yet (then no form exists either)
        self.suffix = session.suffix

    def _many(self, session: Session, shape: str, attr: str, values: Sequence[str], attrs: list[str]
              ) -> list[tuple[str, dict[str, list[str]]]]:
        """Entries matching `shape` with `attr` equal to any of `values`: OR filters of a few
        terms each, sent together. slapd tests a filter's terms against every candidate entry,
        each test an access check of its own, so one OR of hundreds of terms costs hundreds of
        checks per entry found; groups of CHUNK cost at most CHUNK."""
        conn = session.conn
        pending = []
        for group in chunks(values, CHUNK):
            flt = names.any_of(*(names.eq(attr, v) for v in group))
            flt = names.all_of(shape, flt) if shape else flt
            pending.append(conn.search_ext(self.suffix, ldap.SCOPE_SUBTREE, flt, attrs))
        out = []
        for msgid in pending:
            _, found, _, _ = conn.result3(msgid)
            out += [(dn, _decode(a)) for dn, a in found if dn]
        return out

    def units(self, codes: Sequence[str]) -> dict[str, Unit]:
        found = self._many(self.session, "(objectClass=idmOrgUnit)", "idmCode", codes, ORG_ATTRS)
        return {u.code: u for u in (_unit(dn, a) for dn, a in found)}

    def containers(self, unit_dns: Sequence[str]) -> dict[str, set[str]]:
        """Asked all at once (pipelined one-level searches), answered in any order."""
        conn = self.session.conn
        flt = "(&(objectClass=organizationalUnit)(!(objectClass=idmOrgUnit)))"
        pending = {conn.search_ext(dn, ldap.SCOPE_ONELEVEL, flt, ["ou"]): dn for dn in unit_dns}
        out: dict[str, set[str]] = {}
        for msgid, dn in pending.items():
            try:
                _, found, _, _ = conn.result3(msgid)
            except ldap.NO_SUCH_OBJECT:
                found = []
            out[dn.lower()] = {names.first_value(d).lower() for d, _ in found if d}
        return out

    def accounts(self, uids: Sequence[str], details: bool = True) -> dict[str, Account]:
        """Accounts by login; without `details` only where they are (grants, legacy and status
        unread: each is one more access check per account, and a rerun asks for every login)."""
        out = {}
        for dn, a in self._many(self.session, "", "uid", uids, ACCOUNT_ATTRS if details else ["uid"]):
            place = _ACCOUNT_PLACE.match(dn)
            if place is None:
                continue  # not an account (no other entry the loader sees carries uid today)
            kind = "admin" if place.group(1).lower() == "admins" else "business"
            out[(a.get("uid") or [names.first_value(dn)])[0].lower()] = _account(dn, a, kind)
        return out

    def holders(self, pairs: Sequence[tuple[str, str]]) -> dict[str, list[Holder]]:
        """Holders of these numbers that could stand in the way: any account or pending form
        under another name, and every account holding one (its kind and unit decide). One search
        for the whole batch; numbers are told apart only when it finds someone."""
        if not pairs:
            return {}
        numbers = [n for n, _ in pairs]
        found = self._many(self.session, ACCOUNTS, "idmIdNumber", numbers, ["1.1"])
        pending = []
        if self.lookup is not None:
            pending = self._many(self.lookup, "(&(objectClass=idmRecord)(idmRecordStatus=received))",
                                 "idmIdNumber", numbers, ["1.1"])
        if not found and not pending:
            return {}
        out: dict[str, list[Holder]] = {}
        for number, _ in pairs:
            holders = self._holders_of(number, bool(found), bool(pending))
            if holders:
                out[number] = holders
        return out

    def _holders_of(self, number: str, accounts: bool, forms: bool) -> list[Holder]:
        out = []
        if accounts:
            flt = names.all_of(ACCOUNTS, names.eq("idmIdNumber", number))
            for dn, a in self.session.search(self.suffix, flt, ["cn", "objectClass"]):
                kind = "admin" if "idmAdminAccount" in a.get("objectClass", []) else "business"
                out.append(Holder(kind, (a.get("cn") or [""])[0], dn, node_of(dn)))
        if forms and self.lookup is not None:
            flt = names.all_of("(objectClass=idmRecord)", "(idmRecordStatus=received)",
                               names.eq("idmIdNumber", number))
            for dn, a in self.lookup.search(self.suffix, flt, ["idmRecordData"]):
                data = json.loads((a.get("idmRecordData") or ["{}"])[0])
                out.append(Holder("form", str(data.get("name", "")), dn, str(data.get("unit", ""))))
        return out

    def catalogue(self) -> dict[str, set[str]]:
        out: dict[str, set[str]] = {}
        try:
            for _, a in self.session.search(f"ou=apps,{self.suffix}", "(objectClass=idmApp)",
                                            ["cn", "idmAppRole"], scope=ldap.SCOPE_ONELEVEL):
                out[a["cn"][0]] = {v.split("#", 1)[0] for v in a.get("idmAppRole", [])}
        except NotFound:
            pass
        return out


class Offline:
    """The stopped server's database as `slapcat` gives it, held in memory for the plan (an
    offline load is a first load or a recovery: the directory is small or being rebuilt)."""

    def __init__(self, suffix: str, slapcat: str, config_dir: Path) -> None:
        self.suffix = suffix
        self._units: dict[str, Unit] = {}
        self._containers: dict[str, int] = {}  # a unit's DN (lower case) -> one bit per container
        self._accounts: dict[str, Account] = {}
        self._numbers: dict[str, list[Holder]] = {}
        self._apps: dict[str, set[str]] = {}
        for dn, lower in _slapcat(slapcat, config_dir, suffix):
            self._take(dn, lower)

    def _take(self, dn: str, lower: dict[str, list[str]]) -> None:
        classes = {c.lower() for c in lower.get("objectclass", [])}
        if "idmorgunit" in classes:
            unit = _unit(dn, {k: lower.get(k.lower(), []) for k in ORG_ATTRS})
            self._units[unit.code] = unit
        elif classes & {"idmadminaccount", "idmbusinessaccount"}:
            account = _account(dn, {"objectClass": lower.get("objectclass", []),
                                    "idmGrant": lower.get("idmgrant", []),
                                    "idmLegacy": lower.get("idmlegacy", []),
                                    "idmStatus": lower.get("idmstatus", [])})
            self._accounts[(lower.get("uid") or [""])[0].lower()] = account
            for number in lower.get("idmidnumber", []):
                self._numbers.setdefault(number, []).append(
                    Holder(account.kind, (lower.get("cn") or [""])[0], dn, node_of(dn)))
        elif "idmrecord" in classes and lower.get("idmrecordstatus") == ["received"]:
            data = json.loads((lower.get("idmrecorddata") or ["{}"])[0])
            for number in lower.get("idmidnumber", []):
                self._numbers.setdefault(number, []).append(
                    Holder("form", str(data.get("name", "")), dn, str(data.get("unit", ""))))
        elif "idmapp" in classes:
            self._apps[lower["cn"][0]] = {v.split("#", 1)[0] for v in lower.get("idmapprole", [])}
        elif "organizationalunit" in classes and names.first_value(dn).lower() in CONTAINERS:
            parent = names.parent_of(dn).lower()
            self._containers[parent] = self._containers.get(parent, 0) | 1 << CONTAINERS.index(
                names.first_value(dn).lower())

    def units(self, codes: Sequence[str]) -> dict[str, Unit]:
        return {c: self._units[c] for c in codes if c in self._units}

    def containers(self, unit_dns: Sequence[str]) -> dict[str, set[str]]:
        bits = {dn.lower(): self._containers.get(dn.lower(), 0) for dn in unit_dns}
        return {dn: {c for i, c in enumerate(CONTAINERS) if mask >> i & 1} for dn, mask in bits.items()}

    def accounts(self, uids: Sequence[str], details: bool = True) -> dict[str, Account]:
        return {u.lower(): self._accounts[u.lower()] for u in uids if u.lower() in self._accounts}

    def holders(self, pairs: Sequence[tuple[str, str]]) -> dict[str, list[Holder]]:
        return {n: self._numbers[n] for n, _ in pairs if n in self._numbers}

    def catalogue(self) -> dict[str, set[str]]:
        return self._apps


# what the plan needs of each entry; slapcat gives every attribute, the rest is skipped unread
_WANTED = frozenset(a.lower() for a in (*ORG_ATTRS, *ACCOUNT_ATTRS, "objectClass", "cn", "idmIDNumber",
                                        "idmRecordStatus", "idmRecordData", "idmAppRole"))


def _slapcat(slapcat: str, config_dir: Path, suffix: str) -> Iterator[tuple[str, dict[str, list[str]]]]:
    """The database's entries as slapcat writes them (unwrapped, `name: value` or `name:: base64`),
    read as they come: its output is slapd's own, so this reader is lean (a national database is
    millions of entries) where `idm.bulk.source` is strict with a user's file."""
    args = [slapcat, "-F", str(config_dir), "-b", suffix, "-o", "ldif-wrap=no"]
    with tempfile.TemporaryFile() as errors, \
            subprocess.Popen(args, stdout=subprocess.PIPE, stderr=errors) as proc:
        assert proc.stdout is not None
        dn = ""
        attrs: dict[str, list[str]] = {}
        for raw in proc.stdout:
            line = raw.rstrip(b"\n")
            if not line:
                if dn:
                    yield dn, attrs
                dn, attrs = "", {}
                continue
            name, _, value = line.partition(b":")
            key = name.decode("ascii").lower()
            if key != "dn" and key not in _WANTED:
                continue
            text = (base64.b64decode(value[1:]) if value.startswith(b":") else value[1:]).decode("utf-8")
            if key == "dn":
                dn = text
            else:
                attrs.setdefault(key, []).append(text)
        if dn:
            yield dn, attrs
        if proc.wait() != 0:
            errors.seek(0)
            error = errors.read().decode("utf-8", "replace").strip()
            raise ServerError(f"slapcat 失败：{error[-2000:]}", f"slapcat failed: {error[-2000:]}")


def chunks(values: Iterable[str], size: int) -> Iterable[list[str]]:
    batch: list[str] = []
    for value in values:
        batch.append(value)
        if len(batch) >= size:
            yield batch
            batch = []
    if batch:
        yield batch
