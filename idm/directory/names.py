"""DN and filter builders. Nothing in the toolkit formats a DN or filter by hand.

Values are escaped with python-ldap's own `ldap.dn.escape_dn_chars` and
`ldap.filter.escape_filter_chars` (>= 3.4.5, which fixed CVE-2025-61911/61912 in exactly these).
"""

from __future__ import annotations

import re
from collections.abc import Sequence

import ldap.dn
import ldap.filter


def rdn(attr: str, value: str) -> str:
    return f"{attr}={ldap.dn.escape_dn_chars(value)}"


def child_dn(attr: str, value: str, parent: str) -> str:
    return f"{rdn(attr, value)},{parent}"


def node_dn(code_path: Sequence[str], suffix: str) -> str:
    """DN of an org node from its codes, top first: ('150000', '150100') -> ou=150100,ou=150000,..."""
    parts = [rdn("ou", code) for code in reversed(code_path)]
    return ",".join([*parts, suffix])


def service_dn(name: str, suffix: str) -> str:
    return child_dn("cn", name, f"ou=system,{suffix}")


def replicator_dn(suffix: str) -> str:
    """The replication identity of a cluster (`idm cluster`): no entry and no password; slapd
    maps a node's certificate to it (SASL EXTERNAL over TLS), and nothing else leads to it."""
    return f"cn=replicator,ou=system,{suffix}"


def eq(attr: str, value: str) -> str:
    """Equality filter with the value escaped."""
    return f"({attr}={ldap.filter.escape_filter_chars(value)})"


def contains(attr: str, value: str) -> str:
    """Substring filter with the value escaped: `*` in the input is a literal asterisk."""
    return f"({attr}=*{ldap.filter.escape_filter_chars(value)}*)"


def all_of(*filters: str) -> str:
    return "(&" + "".join(filters) + ")"


def any_of(*filters: str) -> str:
    return "(|" + "".join(filters) + ")"


# a DN whose values need no escaping and carry no spaces at their edges: the parent is what follows
# the first comma, as explode_dn would give it (a bulk load asks this for every entry it writes)
_PLAIN_RDN = r'[A-Za-z][A-Za-z0-9-]*=[^\s,=+\\"#<>;]([^,=+\\"<>;]*[^\s,=+\\"<>;])?'
_PLAIN_DN = re.compile(rf"{_PLAIN_RDN}(,{_PLAIN_RDN})*")


def parent_of(dn: str) -> str:
    if _PLAIN_DN.fullmatch(dn):
        return dn.partition(",")[2]
    parts = ldap.dn.explode_dn(dn)
    return ",".join(parts[1:])


def first_value(dn: str) -> str:
    """The value of a DN's first RDN (unescaped)."""
    return str(ldap.dn.str2dn(dn)[0][0][1])
