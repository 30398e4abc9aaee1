#!/usr/bin/env python3
"""Container health: the web UI answers /healthz on its own address (no directory access)."""
import os
import sys
import urllib.request

host, port = os.environ.get("IDM_WEB_BIND", "0.0.0.0:8080").rsplit(":", 1)
host = "127.0.0.1" if host in ("0.0.0.0", "") else host
try:
    with urllib.request.urlopen(f"http://{host}:{port}/healthz", timeout=4) as answer:  # noqa: S310
        sys.exit(0 if answer.status == 200 else 1)
except OSError:
    sys.exit(1)
