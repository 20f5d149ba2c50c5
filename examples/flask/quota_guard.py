"""``@require_quota``: consume before the view, refund if it fails, refuse with 429."""

from __future__ import annotations

import functools
import logging
from datetime import datetime
from typing import Any, Callable, Dict, Optional, TypeVar, cast
from zoneinfo import ZoneInfo

from flask import Response, current_app, jsonify, request

from quotaclock_client import QuotaClockClient, QuotaClockError, to_rate_limit_headers

log = logging.getLogger(__name__)

View = TypeVar("View", bound=Callable[..., Any])

EXTENSION = "quotaclock"


def quota_client() -> QuotaClockClient:
    return cast(QuotaClockClient, current_app.extensions[EXTENSION])


def resets_at(result: Dict[str, Any]) -> str:
    """The period's end as the user reads it: an ISO instant in the answer's own time zone.

    Every consume answer carries the ``timeZone`` its period was computed in (the
    subject's own), so this needs no second call to the service.
    """
    end = datetime.fromisoformat(result["period"]["end"].replace("Z", "+00:00"))
    return end.astimezone(ZoneInfo(result["timeZone"])).isoformat()


def _refused(result: Dict[str, Any]) -> Response:
    if result.get("reason") == "unavailable":
        # fail_mode="closed" and the service cannot be reached: not the user's quota, so not 429.
        response = jsonify(error="quota service unavailable", remaining=None, resetsAt=None)
        response.status_code = 503
        response.headers["Retry-After"] = "5"
        return response
    response = jsonify(
        remaining=result["remaining"],
        resetsAt=resets_at(result),
        reason=result.get("reason"),
    )
    response.status_code = 429
    response.headers.update(to_rate_limit_headers(result))
    return response


def require_quota(feature: str, key_arg: str = "report_id") -> Callable[[View], View]:
    """Charges one unit of ``feature`` to the ``X-User-Id`` user before the view runs.

    The view argument ``key_arg`` (the report id) is the idempotency key: a retried
    or repeated request for the same report counts once in the period. When the
    view raises, the unit is refunded and the error propagates. A refusal answers
    429 with ``remaining`` and ``resetsAt`` (the period's end in the user's zone).
    """

    def decorate(view: View) -> View:
        @functools.wraps(view)
        def guarded(*args: Any, **kwargs: Any) -> Any:
            user = request.headers.get("X-User-Id", "").strip()
            if not user:
                response = jsonify(error="the X-User-Id header is required")
                response.status_code = 400
                return response
            key = str(kwargs[key_arg])
            client = quota_client()
            result = cast(
                Dict[str, Any], client.consume(user, feature, key=key, meta={key_arg: key})
            )
            if not result["granted"]:
                return _refused(result)
            try:
                answer = current_app.make_response(view(*args, **kwargs))
            except Exception:
                _refund(client, user, result)
                raise
            answer.headers.update(to_rate_limit_headers(result))
            return answer

        return cast(View, guarded)

    return decorate


def _refund(client: QuotaClockClient, user: str, result: Dict[str, Any]) -> None:
    if result.get("reason") == "unavailable":
        return  # fail_mode="open" let it through uncounted: nothing to give back
    try:
        client.refund(user, result["key"])
    except QuotaClockError as error:
        # The view's own error is the one to report; this one goes to the log for a manual refund.
        log.error("refund of %s for %s failed: %s", result["key"], user, error)


def client_from_env(environ: Dict[str, str]) -> QuotaClockClient:
    url: Optional[str] = environ.get("QUOTACLOCK_URL")
    api_key: Optional[str] = environ.get("QUOTACLOCK_API_KEY")
    if not url:
        raise RuntimeError(
            "QUOTACLOCK_URL is not set (the quotaclock service, e.g. http://127.0.0.1:8787)"
        )
    if not api_key:
        raise RuntimeError(
            "QUOTACLOCK_API_KEY is not set (quotaclock keys create --scope quota:write)"
        )
    return QuotaClockClient(url, api_key, fail_mode=environ.get("QUOTACLOCK_FAIL_MODE", "closed"))
