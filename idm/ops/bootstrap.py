"""First accounts: the toolkit's service accounts and the province's three admins (R7).

Run by the local operator over ldapi. Service secrets go to 0600 files in the data folder;
admins get a random one-time password, shown once, that they must change at first login.
Running it again creates only what is missing and never shows a password twice.
"""

from __future__ import annotations

import csv
import io
import os
import secrets
from dataclasses import dataclass
from pathlib import Path

from idm import validation
from idm.bulk.source import read_text
from idm.directory import names
from idm.directory.session import Session
from idm.errors import InvalidInput, ProblemList
from idm.identity.passwords import one_time_password
from idm.ops.render import service_policy_dn
from idm.tree import org

# RFC 4370 proxy rights: whom each service account may act as (olcAuthzPolicy: to). The
# lookup account acts as nobody: it reads what sign-in needs and keeps the factor's state.
PROXY_TARGETS = {
    "idm-selfservice": "dn.regex:^uid=[^,]+,ou=(people|admins),ou=[0-9]+,.+$",
    "idm-writer": "dn.regex:^uid=[^,]+,ou=admins,ou=[0-9]+,.+$",
}
SERVICE_ACCOUNTS = {
    "idm-webui": "web UI lookups: finds accounts by login, keeps second-factor state, records "
                 "admin sign-ins",
    "idm-selfservice": "password service: own changes and admin resets, after the policy check",
    "idm-writer": "writer: every admin write, acting as the admin by proxied authorization",
    "idm-loader": "loader: bulk loads (idm load) of the tree and accounts, adding as itself",
}
# Bound with the typed password when a login is unknown, so an unknown login costs the same
# Argon2 verification as a known one (its own password is random and never kept).
DUMMY = "idm-dummy"
ADMIN_COLUMNS = ("uid", "role", "name", "id_number", "mobile", "email", "office_phone", "unit")


@dataclass(frozen=True)
class AdminSpec:
    uid: str
    role: str
    name: str
    id_number: str
    mobile: str
    email: str
    office_phone: str
    unit: str
    where: str


@dataclass(frozen=True)
class Created:
    dn: str
    uid: str
    password: str | None  # None: already existed, nothing to show


def write_secret(path: Path, value: str | bytes) -> None:
    """A 0600 file from the first byte; no trailing newline, so `ldapsearch -y FILE` works."""
    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as handle:
        handle.write(value.encode("utf-8") if isinstance(value, str) else value)
    os.chmod(path, 0o600)


def service_accounts(session: Session, secrets_dir: Path, only: tuple[str, ...] = ()) -> list[Created]:
    """The toolkit's own accounts, with their proxy rights made what the table says (a data
    folder from an earlier version loses rights it no longer needs). `only`: just these (a load
    makes its loader on a directory that was never bootstrapped)."""
    created = []
    if not only:
        _dummy(session)
    for name, description in SERVICE_ACCOUNTS.items():
        if only and name not in only:
            continue
        dn = names.service_dn(name, session.suffix)
        secret_file = secrets_dir / f"{name}.secret"
        current = session.get(dn, ["authzTo", "description"])
        wanted = {"authzTo": [PROXY_TARGETS[name]] if name in PROXY_TARGETS else [],
                  "description": [description]}
        if current is not None and any(current[1].get(k, []) != v for k, v in wanted.items()):
            session.replace(dn, wanted)
        if current is not None and secret_file.is_file():
            created.append(Created(dn, name, None))
            continue
        if current is None:
            attrs = {"objectClass": ["idmServiceAccount"], "cn": [name],
                     "description": [description], "idmStatus": ["active"],
                     "pwdPolicySubentry": [service_policy_dn(session.suffix)]}
            if name in PROXY_TARGETS:
                attrs["authzTo"] = [PROXY_TARGETS[name]]
            session.add(dn, attrs)
        password = secrets.token_urlsafe(32)
        session.set_password(dn, password)
        write_secret(secret_file, password)
        created.append(Created(dn, name, None))
    return created


def _dummy(session: Session) -> None:
    dn = names.service_dn(DUMMY, session.suffix)
    if session.exists(dn):
        return
    session.add(dn, {"objectClass": ["idmServiceAccount"], "cn": [DUMMY], "idmStatus": ["disabled"],
                     "description": ["verifies nothing: makes unknown logins cost a real bind"],
                     "pwdPolicySubentry": [service_policy_dn(session.suffix)]})
    session.set_password(dn, secrets.token_urlsafe(32))


def read_admins(path: Path) -> list[AdminSpec]:
    text = read_text(path)
    reader = csv.DictReader(io.StringIO(text, newline=""))
    if tuple(reader.fieldnames or ()) != ADMIN_COLUMNS:
        raise InvalidInput(f"{path}:1: 表头应为 {','.join(ADMIN_COLUMNS)}",
                           f"{path}:1: header must be {','.join(ADMIN_COLUMNS)}")
    problems = ProblemList()
    specs: list[AdminSpec] = []
    checks = {"uid": validation.uid, "role": validation.admin_role, "name": validation.person_name,
              "id_number": validation.id_number, "mobile": validation.mobile,
              "email": validation.email, "office_phone": validation.office_phone,
              "unit": validation.org_code}
    for row in reader:
        where = f"{path}:{reader.line_num}"
        if None in row or any(v is None for v in row.values()):
            problems.add(where, "列数不对", "wrong number of fields")
            continue
        clean: dict[str, str] = {}
        for column, check in checks.items():
            try:
                clean[column] = check(row[column].strip())
            except InvalidInput as err:
                problems.add(f"{where} {column}", err.zh, err.en)
        if len(clean) == len(checks):
            specs.append(AdminSpec(where=where, **clean))
    roles = [s.role for s in specs]
    for role in validation.ADMIN_ROLES:
        if roles.count(role) != 1 and not problems.items:
            problems.add(str(path), f"{validation.ADMIN_ROLE_ZH[role]}应恰好有一个",
                         f"exactly one {role} is required")
    problems.raise_if_any("管理员文件有错误，未做任何修改", "the admin file has errors; nothing was changed")
    return specs


def admin_attrs(spec: AdminSpec, scope_dn: str) -> dict[str, list[str]]:
    surname = validation.surname_of(spec.name)
    return {
        "objectClass": ["idmAdminAccount"],
        "uid": [spec.uid],
        "cn": [spec.name],
        "sn": [surname],
        "displayName": [spec.name],
        "idmAdminRole": [spec.role],
        "idmScope": [scope_dn],
        "idmIdNumber": [spec.id_number],
        "mobile": [spec.mobile],
        "mail": [spec.email],
        "telephoneNumber": [spec.office_phone],
        "idmStatus": ["active"],
        "idmFormRef": ["bootstrap"],
    }


def province_admins(session: Session, specs: list[AdminSpec]) -> list[Created]:
    """Create the admins that do not exist yet; each new one gets a one-time password."""
    units = {code: org.find(session, code) for code in {s.unit for s in specs}}
    for code, unit in units.items():
        if unit.level not in ("province", "ministry"):
            raise InvalidInput(f"单位 {code} 不是省级或部级，引导只创建顶层管理员",
                               f"unit {code} is not a province or the ministry: "
                               "bootstrap creates top-level admins only")
    created = []
    for spec in specs:
        unit = units[spec.unit]
        dn = names.child_dn("uid", spec.uid, names.child_dn("ou", "admins", unit.dn))
        if session.exists(dn):
            created.append(Created(dn, spec.uid, None))
            continue
        session.add(dn, admin_attrs(spec, unit.dn))
        created.append(Created(dn, spec.uid, one_time_password(session, dn)))
    return created
