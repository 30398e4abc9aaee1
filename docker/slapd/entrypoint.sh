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
exec idm server run
