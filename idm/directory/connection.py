"""Opening connections to the directory.

Three ways in, each for one kind of caller:
- `ops_connection`: SASL EXTERNAL over the ldapi socket, i.e. the local operating-system account
  that owns the data folder. Used for initialisation, bootstrap and tree loading only.
- `bind_as`: simple bind as a person or service account with its own password; the directory
  then enforces its ACLs and ppolicy for exactly that identity.
- `anonymous`: for the root DSE and health checks.
"""

from __future__ import annotations

import ldap
import ldap.sasl
from ldap.ldapobject import LDAPObject

from idm.directory.errors import translated

TIMEOUT_SECONDS = 10


def _open(uri: str) -> LDAPObject:
    conn = ldap.initialize(uri, bytes_mode=False)
    conn.set_option(ldap.OPT_PROTOCOL_VERSION, 3)
    conn.set_option(ldap.OPT_REFERRALS, 0)
    conn.set_option(ldap.OPT_NETWORK_TIMEOUT, TIMEOUT_SECONDS)
    conn.set_option(ldap.OPT_TIMEOUT, TIMEOUT_SECONDS * 6)
    return conn


def ops_connection(ldapi_uri: str) -> LDAPObject:
    conn = _open(ldapi_uri)
    with translated("本机运维连接", "local ops connection"):
        conn.sasl_non_interactive_bind_s("EXTERNAL")
    return conn


def bind_as(uri: str, dn: str, password: str) -> LDAPObject:
    conn = _open(uri)
    with translated("登录", "bind"):
        conn.simple_bind_s(dn, password)
    return conn


def anonymous(uri: str) -> LDAPObject:
    return _open(uri)


def whoami(conn: LDAPObject) -> str:
    with translated("身份查询", "whoami"):
        who = conn.whoami_s()
    return str(who).removeprefix("dn:")
