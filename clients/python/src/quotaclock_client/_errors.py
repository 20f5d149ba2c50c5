"""Errors the client raises. Each carries a stable ``code``."""

from __future__ import annotations

from typing import Any, Mapping, Optional


class QuotaClockError(Exception):
    """Base class: every error from the client has a stable ``code``."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code


class QuotaClockApiError(QuotaClockError):
    """The service answered with an RFC 9457 problem.

    ``code`` is the service's stable error code (``INVALID_AMOUNT``,
    ``REFUND_KEY_NOT_FOUND``, ...), or ``HTTP_<status>`` when the answer
    carried none (an error page from something in front of the service).
    """

    def __init__(self, status: int, problem: Mapping[str, Any]) -> None:
        code = problem.get("code")
        code = code if isinstance(code, str) else "HTTP_%d" % status
        title = problem.get("title")
        detail = problem.get("detail")
        where = problem.get("where")
        kind = problem.get("type")
        self.status = status
        self.title: str = title if isinstance(title, str) else "HTTP %d" % status
        self.detail: Optional[str] = detail if isinstance(detail, str) else None
        self.where: Optional[str] = where if isinstance(where, str) else None
        self.type: str = kind if isinstance(kind, str) else "about:blank"
        super().__init__(code, "%s (%d): %s" % (code, status, self.detail or self.title))


class QuotaClockUnavailableError(QuotaClockError):
    """The service could not be reached, or kept failing, through every retry.

    ``consume`` and ``check`` turn this into the fail mode's answer;
    ``refund``, ``status`` and ``history`` have no safe default and raise it.
    """

    def __init__(self, attempts: int, last_error: BaseException) -> None:
        self.attempts = attempts
        self.last_status: Optional[int] = (
            last_error.status if isinstance(last_error, QuotaClockApiError) else None
        )
        super().__init__(
            "SERVICE_UNAVAILABLE",
            "quotaclock service unavailable after %d attempt(s): %s" % (attempts, last_error),
        )
        self.__cause__ = last_error
