"""Web UI settings: derived from the idm data folder, secrets from 0600 files, never the repo."""

from __future__ import annotations

import os
import secrets
from dataclasses import dataclass
from pathlib import Path

from idm import config
from idm.ops.bootstrap import write_secret


@dataclass(frozen=True)
class WebSettings:
    idm: config.Settings
    secret_key: str
    secure_cookies: bool = True
    idle_minutes_admin: int = 15
    idle_minutes_user: int = 30
    absolute_hours: int = 8
    sessions_db: Path | None = None
    ratelimit_storage: str = "memory://"
    trusted_proxies: int = 0  # how many proxies in front may set X-Forwarded-For


def load(data_dir: str | None = None, *, secure_cookies: bool | None = None) -> WebSettings:
    """Settings of the web UI for an initialised data folder; the Flask secret key lives in a
    0600 file there (created on first use)."""
    idm_settings = config.load_settings(data_dir)
    key_file = idm_settings.secrets_dir / "webui-flask.secret"
    if not key_file.is_file():
        write_secret(key_file, secrets.token_urlsafe(48))
    if secure_cookies is None:
        secure_cookies = os.environ.get("IDM_WEB_INSECURE_COOKIES") != "1"
    return WebSettings(
        idm=idm_settings,
        secret_key=key_file.read_text(encoding="utf-8"),
        secure_cookies=secure_cookies,
        sessions_db=idm_settings.sessions_db,
        ratelimit_storage=os.environ.get("IDM_WEB_RATELIMIT_STORAGE")
        or f"idmsqlite://{idm_settings.data_dir / 'webui-limits.sqlite'}",
        trusted_proxies=int(os.environ.get("IDM_WEB_TRUSTED_PROXIES", "0")),
    )
