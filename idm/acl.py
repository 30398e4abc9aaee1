"""The directory's access rules, generated as `olcAccess` values.

The rules are the guard (ARCHITECTURE principle 1): the Python layer checks the same things
first only to give clearer errors. The number of clauses is fixed: it never grows with the
number of org units.
"""

from __future__ import annotations


def ops_clause(ops_dn: str) -> str:
    """The local operating-system account (SASL EXTERNAL over ldapi) may do anything."""
    return f'to * by dn.exact="{ops_dn}" manage by * break'


def main_acl(suffix: str, ops_dn: str) -> list[str]:
    """Access rules of the main database."""
    return [
        ops_clause(ops_dn),
        "to attrs=userPassword by anonymous auth by * none",
        f'to dn.subtree="ou=system,{suffix}" by * none',
        "to attrs=idmIdNumber,telephoneNumber,mobile,homePhone,postalAddress by * none",
        "to * by users read by * none",
    ]


def log_acl(ops_dn: str) -> list[str]:
    """Access rules of cn=accesslog: nobody but slapd writes it."""
    return [f'to * by dn.exact="{ops_dn}" read by * none']


def as_ldif(rules: list[str]) -> str:
    return "".join(f"olcAccess: {{{i}}}{rule}\n" for i, rule in enumerate(rules))
