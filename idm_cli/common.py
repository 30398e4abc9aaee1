"""Shared pieces of the CLI: the context (data folder, ldapi) and the error wrapper."""

from __future__ import annotations

import functools
import os
import sys
from collections.abc import Callable
from typing import Any, TypeVar

import click

from idm import config
from idm.directory import connection
from idm.directory.session import Session
from idm.errors import IdmError

F = TypeVar("F", bound=Callable[..., Any])


def friendly(func: F) -> F:
    """Turn public errors into a message and exit code 1; anything else into exit code 2."""

    @functools.wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return func(*args, **kwargs)
        except IdmError as err:
            click.echo(f"错误 / error: {err}", err=True)
            sys.exit(1)
        except click.exceptions.Exit:
            raise
        except BrokenPipeError:  # the reader went away (`idm ... | head`): nothing wrong here
            os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
            sys.exit(0)
        except Exception:
            if os.environ.get("IDM_DEBUG"):
                raise
            click.echo("内部错误，请设置 IDM_DEBUG=1 查看详情 / internal error; set IDM_DEBUG=1 "
                       "for details", err=True)
            sys.exit(2)

    return wrapper  # type: ignore[return-value]


class Context:
    def __init__(self, data_dir: str | None, ldapi: str | None, suffix: str | None) -> None:
        self.data_dir = config.resolve_data_dir(data_dir)
        self.ldapi = ldapi
        self.suffix = suffix

    def settings(self) -> config.Settings:
        return config.load_settings(self.data_dir)

    def ops_session(self) -> Session:
        """The local operator's session: the embedded server's socket, or --ldapi for a site's."""
        if self.ldapi:
            return Session(connection.ops_connection(self.ldapi),
                           self.suffix or config.DEFAULT_SUFFIX)
        settings = self.settings()
        return Session(connection.ops_connection(settings.ldapi_uri), settings.suffix)


pass_ctx = click.make_pass_decorator(Context)


