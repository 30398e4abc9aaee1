#!/usr/bin/env bash
# The national set loaded by hand (issue 11): minutes to hours, never in CI. Prints each step's
# wall time and peak RSS. Usage: benches/national.sh [DATA_FOLDER] (default /tmp/national)
set -euo pipefail
cd "$(dirname "$0")/.."
data=${1:-/tmp/national}
export IDM_DATA_DIR=${IDM_DATA_DIR:-/tmp/idm-national}
T=(/usr/bin/time -f "elapsed=%es maxrss=%MKB")
[ -f "$data/tree.csv" ] || .venv/bin/python scripts/gen-national.py "$data"
rm -rf "$IDM_DATA_DIR"
.venv/bin/idm server init --port 39111
echo "== tree, offline (load average $(cut -d' ' -f1 /proc/loadavg))"
"${T[@]}" .venv/bin/idm load --offline "$data/tree.csv" | tail -2
.venv/bin/idm server start
for part in admins people legacy; do
  echo "== $part, online (load average $(cut -d' ' -f1 /proc/loadavg))"
  "${T[@]}" .venv/bin/idm load "$data/$part.csv" | tail -2
done
echo "== people again: the plan of a rerun (load average $(cut -d' ' -f1 /proc/loadavg))"
"${T[@]}" .venv/bin/idm load --dry-run "$data/people.csv" | tail -1
.venv/bin/idm server stop
du -sh "$IDM_DATA_DIR/db/main" "$IDM_DATA_DIR/db/accesslog"
