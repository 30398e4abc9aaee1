"""Settings of one idm installation, kept in `<data dir>/idm.json`.

The data folder holds everything of an embedded server: cn=config, the databases, the socket,
the pid file and the service secrets. Settings are written once by `idm server init`; the
environment (`IDM_DATA_DIR`) only says which data folder to use.
"""

from __future__ import annotations

import json
import os
from dataclasses import asdict, dataclass
from pathlib import Path
from urllib.parse import quote

from idm.errors import InvalidInput, ServerError

DEFAULT_DATA_DIR = "var/idm"
DEFAULT_SUFFIX = "dc=edu,dc=cn"
DEFAULT_PORT = 3389
SETTINGS_FILE = "idm.json"


@dataclass(frozen=True)
class Settings:
    data_dir: Path
    suffix: str = DEFAULT_SUFFIX
    host: str = "127.0.0.1"
    port: int = DEFAULT_PORT
    max_size: int = 16 * 1024**3
    log_max_size: int = 4 * 1024**3
    log_purge_days: int = 183
    log_level: str = "none"
    server_id: int = 1
    password_profile: str = "mlps3"
    tls_port: int | None = None  # ldaps listener, once `idm server tls` has run
    require_tls: bool = False  # refuse simple binds without TLS (olcSecurity simple_bind=64)
    # Providers the toolkit's clients use, in order (`idm cluster apply`); empty: this server.
    uris: tuple[str, ...] = ()

    @property
    def ldap_uri(self) -> str:
        """Where the toolkit's own clients connect: ldaps once plain binds are refused. With a
        list of providers, a space-separated URI list: libldap tries each in order, so a
        provider that is down is skipped (failover without code of our own)."""
        if self.uris:
            return " ".join(self.uris)
        if self.require_tls and self.tls_port:
            return f"ldaps://{self.host}:{self.tls_port}"
        return f"ldap://{self.host}:{self.port}"

    @property
    def plain_uri(self) -> str:
        return f"ldap://{self.host}:{self.port}"

    @property
    def tls_ca_file(self) -> Path:
        return self.data_dir / "tls" / "ca.pem"

    @property
    def socket_path(self) -> Path:
        return _short_socket_path(self.data_dir)

    @property
    def ldapi_uri(self) -> str:
        return "ldapi://" + quote(str(self.socket_path), safe="")

    @property
    def pid_file(self) -> Path:
        return self.data_dir / "run" / "slapd.pid"

    @property
    def config_dir(self) -> Path:
        return self.data_dir / "slapd.d"

    @property
    def secrets_dir(self) -> Path:
        return self.data_dir / "secrets"

    @property
    def sessions_db(self) -> Path:
        """Server-side sessions of the web UI and the CLI (0600)."""
        return self.data_dir / "sessions.sqlite"

    def service_dn(self, name: str) -> str:
        from idm.directory.names import service_dn

        return service_dn(name, self.suffix)

    def to_json(self) -> str:
        data = asdict(self)
        data["data_dir"] = str(self.data_dir)
        return json.dumps(data, indent=2, ensure_ascii=False) + "\n"


def _short_socket_path(data_dir: Path) -> Path:
    """The ldapi socket lives in the data folder unless that path is too long for AF_UNIX."""
    path = data_dir.resolve() / "run" / "ldapi"
    if len(str(path).encode()) <= 100:
        return path
    import hashlib

    digest = hashlib.sha256(str(path).encode()).hexdigest()[:16]
    return Path("/tmp") / f"idm-{digest}" / "ldapi"


def resolve_data_dir(data_dir: str | os.PathLike[str] | None) -> Path:
    value = data_dir or os.environ.get("IDM_DATA_DIR") or DEFAULT_DATA_DIR
    return Path(value).resolve()


MIN_LOG_DAYS = 183  # 网络安全法 art. 21: network logs are kept at least six months


def check_retention(days: int) -> None:
    """Refuse a write-log retention that would purge records younger than six months."""
    if days < MIN_LOG_DAYS:
        raise InvalidInput(f"写操作日志保存期不得少于 {MIN_LOG_DAYS} 天（网络安全法第二十一条）："
                           f"{days} 天会清除更新的记录",
                           f"the write log must be kept at least {MIN_LOG_DAYS} days (Cybersecurity Law "
                           f"art. 21): {days} days would purge younger records")


def new_settings(data_dir: Path, **overrides: object) -> Settings:
    """Settings for a data folder that is about to be initialised."""
    known = {k: v for k, v in overrides.items() if v is not None}
    settings = Settings(data_dir=data_dir, **known)  # type: ignore[arg-type]
    if not 1 <= settings.port <= 65535:
        raise InvalidInput(f"端口无效：{settings.port}", f"invalid port: {settings.port}")
    from idm.auth.policy import PROFILES

    if settings.password_profile not in PROFILES:
        raise InvalidInput(f"密码策略应为：{'、'.join(PROFILES)}",
                           f"password profile must be one of: {', '.join(PROFILES)}")
    check_retention(settings.log_purge_days)
    return settings


def load_settings(data_dir: str | os.PathLike[str] | None = None) -> Settings:
    """Settings of an initialised data folder."""
    folder = resolve_data_dir(data_dir)
    path = folder / SETTINGS_FILE
    if not path.is_file():
        raise ServerError(
            f"数据目录未初始化：{folder}（请先运行 idm server init）",
            f"data folder not initialised: {folder} (run `idm server init` first)",
        )
    settings = parse_settings(path.read_text(encoding="utf-8"), folder)
    check_retention(settings.log_purge_days)  # an idm.json edited by hand is refused too
    if settings.tls_port and settings.tls_ca_file.is_file():
        from idm.directory import connection

        connection.trust(settings.tls_ca_file)
    return settings


def parse_settings(text: str, folder: Path) -> Settings:
    """Settings from their JSON (`Settings.to_json`), for the data folder `folder`."""
    data = json.loads(text)
    data["data_dir"] = folder
    data["uris"] = tuple(data.get("uris") or ())
    return Settings(**data)


def save_settings(settings: Settings) -> None:
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    (settings.data_dir / SETTINGS_FILE).write_text(settings.to_json(), encoding="utf-8")
