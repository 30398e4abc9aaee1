"""The rules of the read tier: a replica (`idm cluster`, role `downstream`) that serves
downstream systems' binds and searches and nothing else. Generated from the service accounts in
the directory, with what the provider's positional rule lets a service read."""

from __future__ import annotations

from dataclasses import dataclass

from idm.directory.names import replicator_dn
from idm.rules.patterns import posix_escape
from idm.rules.permissions import RULES
from idm.rules.terms import GROUPS


@dataclass(frozen=True)
class DownstreamService:
    """A downstream system's service account as the read tier's rules name it: its DN and
    the subtree it reads (its unit, for one at ou=services; its idmScope, for one at ou=system)."""

    dn: str
    scope: str


def downstream_view() -> tuple[str, str]:
    """What a service reads of a user, as the provider's positional rule has it: (the filter
    a user must match, the attributes)."""
    rules = [r for r in RULES if r.relation == "position"]
    (when,) = {r.when for r in rules}
    assert when is not None
    return f"(&(objectClass=idmBusinessAccount){when})", ",".join(a for r in rules for a in GROUPS[r.group])


def rules(suffix: str, services: list[DownstreamService]) -> list[str]:
    """The rules of a replica that serves downstream binds and searches only: for each scope, a
    static `dn.subtree` clause naming its services by exact DN (no set, no DN pattern compiled
    at run time), so a search costs what it costs on a vanilla slapd. Nothing else is read
    there: no unit, no form, no private attribute, no admin. Generated from the services in
    the directory by `idm cluster apply`; a service made since is refused there until it runs
    again (`idm cluster status` says so)."""
    user_filter, attrs = downstream_view()
    by_scope: dict[str, list[str]] = {}
    for s in services:
        by_scope.setdefault(s.scope.lower(), []).append(s.dn.lower())
    everyone = sorted({s.dn.lower() for s in services})
    out = [
        # binds: only an active entry's password is checked (a disabled service or person is
        # refused here at once, whatever ppolicy's lock says)
        f'to dn.subtree="{suffix}" attrs=userPassword filter=(idmStatus=active) by anonymous auth by * none',
        f'to dn.subtree="{suffix}" attrs=userPassword by * none',
        # a search's base must be searchable; the suffix and the units disclose that they exist
        # ... and `idm cluster status` reads the replica's state as the replication identity
        f'to dn.base="{suffix}" attrs=entry,objectClass,contextCSN '
        f'by dn.exact="{replicator_dn(suffix)}" read by users search by * none',
    ]
    for scope in sorted(by_scope, key=lambda d: (-d.count(","), d)):  # deepest first
        bys = " ".join(f'by dn.exact="{dn}" read' for dn in sorted(by_scope[scope]))
        out.append(f'to dn.subtree="{scope}" filter={user_filter} attrs={attrs} {bys} by * break')
    for scope in sorted(by_scope):
        bys = " ".join(f'by dn.exact="{dn}" search' for dn in sorted(by_scope[scope]))
        out.append(
            f'to dn.regex="^(ou=people,)?(ou=[0-9]+,)*{posix_escape(scope)}$" attrs=entry {bys} by * break'
        )
    if everyone:
        bys = " ".join(f'by dn.exact="{dn}" read' for dn in everyone)
        out.append(f'to dn.subtree="ou=apps,{suffix}" {bys} by * none')
    out.append("to * by * none")
    return out
