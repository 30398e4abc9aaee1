"""The one place that turns python-ldap exceptions into the toolkit's public errors.

Everything else calls directory functions inside `translated()` and never catches
`ldap.LDAPError` itself.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import ldap

from idm.errors import (
    AlreadyExists,
    AuthenticationFailed,
    ConstraintViolation,
    DirectoryUnavailable,
    IdmError,
    InvalidInput,
    NotFound,
    PermissionDenied,
)
from idm.labels import directory_message


def _detail(exc: ldap.LDAPError) -> str:
    info = exc.args[0] if exc.args and isinstance(exc.args[0], dict) else {}
    text = str(info.get("info") or info.get("desc") or exc)
    return text


@contextmanager
def translated(what_zh: str = "目录操作", what_en: str = "directory operation") -> Iterator[None]:
    try:
        yield
    except ldap.INSUFFICIENT_ACCESS as exc:
        raise PermissionDenied(
            f"{what_zh}被目录拒绝：权限不足", f"{what_en} refused by the directory: insufficient access"
        ) from exc
    except (ldap.INVALID_CREDENTIALS, ldap.INAPPROPRIATE_AUTH) as exc:
        raise AuthenticationFailed("账号或密码错误", "wrong account or password") from exc
    except ldap.NO_SUCH_OBJECT as exc:
        raise NotFound(f"{what_zh}：条目不存在", f"{what_en}: no such entry") from exc
    except ldap.ALREADY_EXISTS as exc:
        raise AlreadyExists(f"{what_zh}：条目已存在", f"{what_en}: entry already exists") from exc
    except (ldap.CONSTRAINT_VIOLATION, ldap.OBJECT_CLASS_VIOLATION, ldap.INVALID_SYNTAX,
            ldap.UNDEFINED_TYPE, ldap.NOT_ALLOWED_ON_NONLEAF, ldap.NAMING_VIOLATION,
            ldap.INVALID_DN_SYNTAX, ldap.TYPE_OR_VALUE_EXISTS, ldap.UNWILLING_TO_PERFORM,
            ldap.NO_SUCH_ATTRIBUTE) as exc:
        detail = _detail(exc)
        raise ConstraintViolation(f"{what_zh}被目录拒绝：{directory_message(detail)}",
                                  f"{what_en} refused by the directory: {detail}") from exc
    except ldap.FILTER_ERROR as exc:
        raise InvalidInput("查询条件无效", "invalid search filter") from exc
    except (ldap.SERVER_DOWN, ldap.CONNECT_ERROR, ldap.TIMEOUT, ldap.BUSY) as exc:
        raise DirectoryUnavailable("目录服务不可用", "the directory is unavailable") from exc
    except ldap.LDAPError as exc:
        detail = _detail(exc)
        raise IdmError(f"{what_zh}失败：{detail}", f"{what_en} failed: {detail}") from exc
