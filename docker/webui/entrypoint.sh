#!/bin/sh
# The web UI's data folder (a volume: its session store) is assembled from read-only parts:
#   /etc/idm/idm.json   the providers to use, written by `idm cluster client-settings`
#   /etc/idm/ca.pem     the education CA's chain, to verify the providers' certificates
#   /run/secrets/       idm-webui.secret, idm-selfservice.secret, webui-flask.secret (0600 files)
set -eu
data=${IDM_DATA_DIR:-/var/lib/idm}
if [ "$#" -gt 0 ]; then
  exec "$@"
fi
if [ ! -f /etc/idm/idm.json ]; then
  echo "idm-webui: mount the client settings at /etc/idm/idm.json (idm cluster client-settings)" >&2
  exit 78
fi
python3 - "$data" <<'PY'
import json, sys
data = sys.argv[1]
settings = json.load(open("/etc/idm/idm.json", encoding="utf-8"))
settings["data_dir"] = data
with open(f"{data}/idm.json", "w", encoding="utf-8") as out:
    json.dump(settings, out, indent=2, ensure_ascii=False)
PY
if [ -f /etc/idm/ca.pem ]; then
  mkdir -p "$data/tls"
  cp /etc/idm/ca.pem "$data/tls/ca.pem"
fi
ln -sfn /run/secrets "$data/secrets"
exec gunicorn --bind "$IDM_WEB_BIND" --workers "$IDM_WEB_WORKERS" --access-logfile - --error-logfile - \
  'webui:create_app()'
