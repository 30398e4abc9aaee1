"""Public errors: a stable code plus a message in Chinese and English.

Everything the toolkit refuses is raised as an `IdmError`; transports show `str(err)` (Chinese
first, then English) and never a traceback. Anything else is a bug and is reported as internal.
"""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class Problem:
    """One thing wrong with an input, with where it is (file:line, field)."""

    where: str
    zh: str
    en: str

    def __str__(self) -> str:
        return f"{self.where}: {self.zh} / {self.en}"


class IdmError(Exception):
    """Base of all public errors."""

    code = "error"

    def __init__(self, zh: str, en: str, *, problems: list[Problem] | None = None) -> None:
        super().__init__(en)
        self.zh = zh
        self.en = en
        self.problems: list[Problem] = problems or []

    def __str__(self) -> str:
        text = f"{self.zh} / {self.en}"
        if self.problems:
            text += "\n" + "\n".join(f"  {p}" for p in self.problems)
        return text


class InvalidInput(IdmError):
    code = "invalid_input"


class NotFound(IdmError):
    code = "not_found"


class AlreadyExists(IdmError):
    code = "already_exists"


class PermissionDenied(IdmError):
    code = "permission_denied"


class ConstraintViolation(IdmError):
    code = "constraint_violation"


class AuthenticationFailed(IdmError):
    code = "authentication_failed"


class AccountLocked(AuthenticationFailed):
    code = "account_locked"


class PasswordExpired(AuthenticationFailed):
    code = "password_expired"


class DirectoryUnavailable(IdmError):
    code = "directory_unavailable"


class ServerError(IdmError):
    """The embedded server could not be set up, started or stopped."""

    code = "server_error"


@dataclass
class ProblemList:
    """Collects every problem of an input before anything is written."""

    items: list[Problem] = field(default_factory=list)

    def add(self, where: str, zh: str, en: str) -> None:
        self.items.append(Problem(where, zh, en))

    def raise_if_any(self, zh: str, en: str) -> None:
        if self.items:
            raise InvalidInput(zh, en, problems=list(self.items))
