"""QuotaClockClient: the quotaclock service over HTTP, standard library only."""

from __future__ import annotations

import urllib.parse
import uuid
from typing import Any, Dict, List, Mapping, Optional, Sequence, cast

from ._errors import QuotaClockUnavailableError
from ._transport import Settings, send
from ._types import (
    BatchResult,
    CheckResult,
    ConsumeResult,
    HistoryEntry,
    RefundResult,
    StatusResult,
)

_FAIL_MODES = ("closed", "open")


def _new_key() -> str:
    return str(uuid.uuid4())


def _number(name: str, value: Any, minimum: float) -> float:
    if (
        isinstance(value, bool)
        or not isinstance(value, (int, float))
        or value != value
        or value < minimum
    ):
        raise ValueError(
            "QuotaClockClient: %s must be a number >= %s, got %r" % (name, minimum, value)
        )
    return float(value)


class QuotaClockClient:
    """The quotaclock service (API.md, "Clients").

    Every call retries transient failures (network errors, timeouts, 5xx, 429,
    and 409 ``IDEMPOTENCY_KEY_IN_FLIGHT``) with exponential backoff and jitter,
    honouring ``Retry-After``. A consume always carries an idempotency key (the
    caller's, or a new UUID), sent unchanged on every retry, so an answer lost
    on the way back is replayed instead of counted twice.

    ``fail_mode`` decides what ``consume`` and ``check`` return when the service
    cannot be reached after the retries: ``"closed"`` refuses
    (``granted``/``allowed`` False), ``"open"`` lets the call through (True). Both
    set ``reason`` to ``"unavailable"`` and ``used``, ``limit``, ``remaining`` and
    ``period`` to None; nothing was counted. The client is safe to share between
    threads.
    """

    def __init__(
        self,
        url: str,
        api_key: str,
        fail_mode: str = "closed",
        timeout: float = 2.0,
        retries: int = 2,
        *,
        retry_base: float = 0.1,
        max_retry_delay: float = 5.0,
    ) -> None:
        if fail_mode not in _FAIL_MODES:
            raise ValueError(
                "QuotaClockClient: fail_mode must be 'closed' or 'open', got %r" % (fail_mode,)
            )
        if not isinstance(api_key, str) or not api_key:
            raise ValueError("QuotaClockClient: api_key is required")
        parsed = urllib.parse.urlsplit(url) if isinstance(url, str) else None
        if parsed is None or parsed.scheme not in ("http", "https") or not parsed.netloc:
            raise ValueError("QuotaClockClient: url must be an http(s) URL, got %r" % (url,))
        if isinstance(retries, bool) or not isinstance(retries, int) or retries < 0:
            raise ValueError(
                "QuotaClockClient: retries must be an integer >= 0, got %r" % (retries,)
            )
        self.fail_mode = fail_mode
        self._settings = Settings(
            base_url=url.rstrip("/"),
            api_key=api_key,
            timeout=_number("timeout", timeout, 0.001),
            retries=retries,
            retry_base=_number("retry_base", retry_base, 0),
            max_retry_delay=_number("max_retry_delay", max_retry_delay, 0),
        )

    def consume(
        self,
        subject: str,
        feature: str,
        amount: int = 1,
        key: Optional[str] = None,
        meta: Optional[Mapping[str, Any]] = None,
    ) -> ConsumeResult:
        """Consumes ``amount`` units atomically. A refusal is a result (``granted`` False), not an error.

        The returned ``key`` is the one the consume was counted under; pass it to ``refund``.
        """
        key = key if key is not None else _new_key()
        body: Dict[str, Any] = {
            "subject": subject,
            "feature": feature,
            "amount": amount,
            "key": key,
        }
        if meta is not None:
            body["meta"] = dict(meta)
        try:
            answer = send(self._settings, "POST", "/v1/consume", body, idempotency_key=key)
        except QuotaClockUnavailableError:
            return self._unavailable_consume(subject, feature, key)
        return cast(ConsumeResult, {"subject": subject, "feature": feature, **answer, "key": key})

    def check(self, subject: str, feature: str, amount: int = 1) -> CheckResult:
        """Whether ``amount`` units would be granted now. Writes nothing."""
        body = {"subject": subject, "feature": feature, "amount": amount}
        try:
            answer = send(self._settings, "POST", "/v1/check", body)
        except QuotaClockUnavailableError:
            return self._unavailable_check(subject, feature)
        return cast(CheckResult, {**answer, "subject": subject, "feature": feature})

    def refund(self, subject: str, key: str) -> RefundResult:
        """Reverses the consume made with ``key``. Raises QuotaClockUnavailableError when unreachable."""
        return cast(
            RefundResult,
            send(self._settings, "POST", "/v1/refund", {"subject": subject, "key": key}),
        )

    def status(self, subject: str) -> StatusResult:
        """Plan, period and per-feature usage. QuotaClockApiError ``SUBJECT_NOT_FOUND`` when unknown."""
        return cast(StatusResult, send(self._settings, "GET", "/v1/subjects/" + _segment(subject)))

    def history(self, subject: str, limit: Optional[int] = None) -> List[HistoryEntry]:
        """Usage per period, newest first."""
        query = "" if limit is None else "?" + urllib.parse.urlencode({"limit": limit})
        path = "/v1/subjects/" + _segment(subject) + "/history" + query
        return cast(List[HistoryEntry], send(self._settings, "GET", path))

    def batch(self, items: Sequence[Mapping[str, Any]]) -> BatchResult:
        """Up to 100 operations (``op``: consume, check or refund), answered in order.

        Each consume gets its own key (made up when missing), so retrying the whole batch is
        safe. When the service cannot be reached, consumes and checks get the fail mode's
        answer and refunds a ``SERVICE_UNAVAILABLE`` problem.
        """
        keyed = [
            (
                {**item, "key": _new_key()}
                if item.get("op") == "consume" and item.get("key") is None
                else dict(item)
            )
            for item in items
        ]
        try:
            answer = send(self._settings, "POST", "/v1/batch", {"items": keyed})
        except QuotaClockUnavailableError:
            return {"results": [self._unavailable_item(item) for item in keyed]}
        results = [_complete(item, result) for item, result in zip(keyed, answer["results"])]
        return {"results": results}

    def _unavailable_consume(self, subject: str, feature: str, key: str) -> ConsumeResult:
        return {
            "granted": self.fail_mode == "open",
            "reason": "unavailable",
            "used": None,
            "limit": None,
            "remaining": None,
            "period": None,
            "timeZone": None,
            "secondsLeft": None,
            "subject": subject,
            "feature": feature,
            "key": key,
        }

    def _unavailable_check(self, subject: str, feature: str) -> CheckResult:
        return {
            "allowed": self.fail_mode == "open",
            "reason": "unavailable",
            "used": None,
            "limit": None,
            "remaining": None,
            "period": None,
            "timeZone": None,
            "secondsLeft": None,
            "subject": subject,
            "feature": feature,
        }

    def _unavailable_item(self, item: Mapping[str, Any]) -> Dict[str, Any]:
        if item.get("op") == "consume":
            return dict(self._unavailable_consume(item["subject"], item["feature"], item["key"]))
        if item.get("op") == "check":
            return dict(self._unavailable_check(item["subject"], item["feature"]))
        return {
            "type": "about:blank",
            "title": "Service unavailable",
            "status": 503,
            "code": "SERVICE_UNAVAILABLE",
            "detail": "the quotaclock service could not be reached; the refund was not applied",
        }


def _segment(value: str) -> str:
    return urllib.parse.quote(value, safe="")


def _complete(item: Mapping[str, Any], result: Any) -> Any:
    """Adds what the service leaves out of an item's answer: its subject, feature and key."""
    if not isinstance(result, dict) or "code" in result:
        return result
    if item.get("op") == "consume":
        return {
            "subject": item["subject"],
            "feature": item["feature"],
            **result,
            "key": item["key"],
        }
    if item.get("op") == "check":
        return {"subject": item["subject"], "feature": item["feature"], **result}
    return result
