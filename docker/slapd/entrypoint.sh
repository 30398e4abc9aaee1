#!/bin/sh
# With a command (`docker compose run --rm ldap1 idm ...`): run it, as the operator's toolkit.
# Without: serve the data folder with slapd in the foreground (PID 1 is slapd itself).
set -eu
if [ "$#" -gt 0 ]; then
  exec "$@"
fi
if [ ! -f "${IDM_DATA_DIR:-/var/lib/idm}/idm.json" ]; then
  echo "idm: ${IDM_DATA_DIR:-/var/lib/idm} holds no server yet: run 'idm server init' or 'idm restore'" >&2
  echo "idm: (docs/deployment.md, 'Install from the images')" >&2
  exit 78
fi
if [ -n "${IDM_SEAL_INTERVAL:-}" ]; then
  # A provider seals its write log on a schedule (SM2-signed, docs/compliance.md): a loop beside
  # slapd in this container, with the data folder's seal key. Consumers cannot write seals.
  ( while sleep "$IDM_SEAL_INTERVAL"; do
      idm audit seal >/dev/null || echo "idm: audit seal failed (retrying in ${IDM_SEAL_INTERVAL}s)" >&2
    done ) &
fi
if [ -n "${IDM_RULES_INTERVAL:-}" ]; then
  # A downstream node (the read tier) regenerates its rules from the directory's service
  # accounts, live (docs/deployment.md, "The read tier").
  ( while sleep "$IDM_RULES_INTERVAL"; do
      idm cluster rules >/dev/null || echo "idm: cluster rules failed (retrying in ${IDM_RULES_INTERVAL}s)" >&2
    done ) &
fi
exec idm server run
