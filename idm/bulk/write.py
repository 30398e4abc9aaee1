"""The second pass of a load: the file is read again and what the plan decided is written, in
batches that never split a unit from its containers.

Online, the loader sends each batch pipelined (`idm.bulk.txn.pipelined`, the default), or as one
RFC 5805 transaction with `--atomic` (`idm.bulk.txn.run`: a batch is all there or not at all; not
the default, as slapd 2.5.13 crashes when a client holding an open transaction is killed). Either
way a rerun after a `kill -9` plans only what is missing, and a unit's containers are never
split from it.
Offline, the same entries go to an LDIF file for `slapadd -q`.
"""

from __future__ import annotations

import base64
import io
import re
from collections.abc import Iterator

import ldap

from idm.bulk.plan import ADD, CHANGE, Plan
from idm.bulk.planner import Planner, stream
from idm.bulk.records import Item
from idm.bulk.source import Refused
from idm.bulk.txn import Op
from idm.directory import names
from idm.rules.actor import normal, now
from idm.tree.org import CONTAINERS


def _encode(attrs: dict[str, list[str]]) -> list[tuple[str, list[bytes]]]:
    return [(k, [v.encode("utf-8") for v in vs]) for k, vs in attrs.items() if vs]


# a unit's six containers differ only by name: their attributes are made once
_CONTAINER_ATTRS = {c: _encode({"objectClass": ["organizationalUnit"], "ou": [c]}) for c in CONTAINERS}


def _container(name: str, unit_dn: str, where: str) -> Op:
    return Op("add", f"ou={name},{unit_dn}", _CONTAINER_ATTRS[name], where)


def unit_attrs(item: Item, dn: str) -> dict[str, list[str]]:
    attrs = {"objectClass": ["idmOrgUnit"], "ou": [item.code], "idmCode": [item.code],
             "idmNameZh": [item.name], "idmLevel": [item.level], "description": [item.name]}
    if item.delegated:
        attrs["idmManagedBy"] = [names.parent_of(dn)]
    return attrs


def account_attrs(item: Item, dn: str, stamp: str) -> dict[str, list[str]]:
    base = {"uid": [item.uid], "idmStatus": ["active"], "idmStatusChanged": [stamp]}
    if item.kind == "legacy":
        return {"objectClass": ["idmBusinessAccount"], **base, "cn": [item.name], "sn": ["岗位账号"],
                "idmPostName": [item.name], "idmLegacy": ["TRUE"]}
    if item.kind == "admin":
        attrs = {"objectClass": ["idmAdminAccount"], **base, **item.attrs}
        if item.role:
            attrs["idmAdminRole"] = [item.role]
            attrs["idmScope"] = [normal(names.parent_of(names.parent_of(dn)))]
        return attrs
    attrs = {"objectClass": ["idmBusinessAccount"], **base, **item.attrs}
    if item.grants:
        attrs["idmGrant"] = list(item.grants)
    return attrs


def operations(plan: Plan, planner: Planner) -> Iterator[list[Op]]:
    """What the plan decided, record by record: a unit comes with its containers in one list."""
    stamp = now()
    for ordinal, item in stream(plan.path, plan.kind, plan.encoding):
        decision = plan.decisions[ordinal]
        if isinstance(item, Refused):
            continue
        ops: list[Op] = []
        if item.kind == "unit":
            dn = plan.units[item.code][0]
            if decision == ADD:
                ops.append(Op("add", dn, _encode(unit_attrs(item, dn)), item.where))
                ops += [_container(c, dn, item.where) for c in CONTAINERS]
            elif decision == CHANGE:
                current_dn, change, _ = plan.changes[ordinal]
                ops.append(Op("modify", current_dn,
                              [(ldap.MOD_REPLACE, k, [v.encode() for v in vs] or None)
                               for k, vs in change.items()], item.where))
            ops += [_container(c, dn, item.where) for c in plan.missing.get(ordinal, [])]
        elif item.kind in ("business", "admin", "legacy") and decision == ADD:
            unit_dn = planner.unit_dn(item.code)
            assert unit_dn is not None  # checked by the plan
            container = "admins" if item.kind == "admin" else "people"
            dn = names.child_dn("uid", item.uid, names.child_dn("ou", container, unit_dn))
            ops.append(Op("add", dn, _encode(account_attrs(item, dn, stamp)), item.where))
        elif item.kind == "grant" and decision == CHANGE:
            dn, wanted = plan.grant_targets[ordinal]
            grants = [(ldap.MOD_ADD, "idmGrant", [g.encode() for g in wanted])]
            ops.append(Op("modify", dn, grants, item.where))
        if ops:
            yield ops


def batches(plan: Plan, planner: Planner, size: int) -> Iterator[list[Op]]:
    """Batches of about `size` operations; a record's operations are never split."""
    batch: list[Op] = []
    for ops in operations(plan, planner):
        if batch and len(batch) + len(ops) > size:
            yield batch
            batch = []
        batch += ops
    if batch:
        yield batch


_UNSAFE = re.compile(rb"[^\x20-\x7e]|^[ :<]| $")


def _ldif_line(name: str, value: bytes) -> str:
    """RFC 2849: a SAFE-STRING as it is, anything else (non-ASCII, a leading space, colon or
    '<', a trailing space, control characters) in base64."""
    if _UNSAFE.search(value):
        return f"{name}:: {base64.b64encode(value).decode()}\n"
    return f"{name}: {value.decode()}\n"


def to_ldif(ops: list[Op], out: io.StringIO) -> None:
    """Adds as plain LDIF entries for slapadd, which sets the operational attributes itself.
    Written directly (python-ldap's LDIFWriter was a third of an offline national load)."""
    lines: list[str] = []
    unsafe = _UNSAFE.search
    for op in ops:
        if op.kind != "add":
            raise ValueError("an offline load only adds")
        lines.append(_ldif_line("dn", op.dn.encode("utf-8")))
        for pair in op.payload:
            name, values = pair[0], pair[1]
            assert isinstance(name, str) and isinstance(values, list)
            for value in values:  # _ldif_line, inlined: millions of values in a national load
                if unsafe(value):
                    lines.append(f"{name}:: {base64.b64encode(value).decode()}\n")
                else:
                    lines.append(f"{name}: {value.decode()}\n")
        lines.append("\n")
    out.write("".join(lines))
