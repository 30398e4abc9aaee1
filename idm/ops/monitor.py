"""slapd's own counters (cn=Monitor), for the operator's monitoring: connections, operations by
kind, threads. Read over ldapi as the local operator, the only identity the monitor database
lets in (ldif/config/slapd.ldif.tmpl)."""

from __future__ import annotations

import ldap

from idm.config import Settings
from idm.directory import connection
from idm.errors import ServerError

ATTRS = ["monitorCounter", "monitorOpInitiated", "monitorOpCompleted", "monitoredInfo"]
WANTED = "(|(cn=Current)(cn=Total)(objectClass=monitorOperation)(cn=Active)(cn=Open)(cn=Pending))"


def counters(settings: Settings) -> dict[str, int]:
    """`connections current`, `operations search completed`, `threads active`, ... as numbers."""
    conn = connection.ops_connection(settings.ldapi_uri)
    try:
        found = conn.search_s("cn=Monitor", ldap.SCOPE_SUBTREE, WANTED, ATTRS)
    except ldap.NO_SUCH_OBJECT:
        raise ServerError(
            "此服务器未配置 cn=Monitor：见 docs/deployment.md「监控」一节",
            "cn=Monitor is not configured on this server: see docs/deployment.md, Monitoring") from None
    finally:
        conn.unbind_s()
    out: dict[str, int] = {}
    for dn, attrs in found:
        rdns = [part.split("=", 1)[1].lower() for part in dn.split(",")[:-1]]  # leaf first, minus cn=Monitor
        name = " ".join(reversed(rdns))
        for attr, suffix in (("monitorCounter", ""), ("monitoredInfo", ""),
                             ("monitorOpInitiated", " initiated"), ("monitorOpCompleted", " completed")):
            for value in attrs.get(attr, []):
                if value.isdigit():
                    out[name + suffix] = int(value)
    return dict(sorted(out.items()))
