"""One logical request over urllib, with retries."""

from __future__ import annotations

import http.client
import json
import random
import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from typing import Any, Dict, Mapping, Optional, Tuple

from ._errors import QuotaClockApiError, QuotaClockUnavailableError
from ._retry import backoff_delay, is_retryable_status, parse_retry_after

# Refused, reset, timed out, cut off, or an unreadable answer: the request may
# or may not have been processed, so only an idempotent request may be resent.
_TRANSIENT = (urllib.error.URLError, OSError, http.client.HTTPException, ValueError)


@dataclass(frozen=True)
class Settings:
    base_url: str
    api_key: str
    timeout: float
    retries: int
    retry_base: float
    max_retry_delay: float


def _sf_string(key: str) -> Optional[str]:
    """The key as the draft's sf-string, so the service reads back exactly the key in the body.

    A key outside printable ASCII cannot be a header value; it then travels in the body alone.
    """
    if not all(" " <= c <= "~" for c in key):
        return None
    return '"' + key.replace("\\", "\\\\").replace('"', '\\"') + '"'


def _problem(body: bytes) -> Mapping[str, Any]:
    try:
        parsed = json.loads(body.decode("utf-8"))
    except ValueError:
        text = body.decode("utf-8", "replace")[:200]
        return {"detail": text} if text else {}
    return parsed if isinstance(parsed, dict) else {}


def _attempt(
    settings: Settings, request: urllib.request.Request
) -> Tuple[bool, Any, Optional[float]]:
    """(done, value or error, retry-after seconds). Raises a QuotaClockApiError retrying cannot change."""
    try:
        with urllib.request.urlopen(request, timeout=settings.timeout) as response:
            body = response.read()
            return True, (json.loads(body.decode("utf-8")) if body else None), None
    except urllib.error.HTTPError as answer:
        with answer:
            error = QuotaClockApiError(answer.code, _problem(answer.read()))
            if not is_retryable_status(answer.code, error.code):
                raise error from None
            retry_after = parse_retry_after(answer.headers.get("Retry-After"), time.time())
            return False, error, retry_after
    except _TRANSIENT as error:
        return False, error, None


def send(
    settings: Settings,
    method: str,
    path: str,
    body: Optional[Any] = None,
    idempotency_key: Optional[str] = None,
) -> Any:
    """Sends one logical request; every retry carries the same body and Idempotency-Key."""
    headers: Dict[str, str] = {
        "Authorization": "Bearer " + settings.api_key,
        "Accept": "application/json, application/problem+json",
    }
    data = None
    if body is not None:
        data = json.dumps(body, separators=(",", ":")).encode("utf-8")
        headers["Content-Type"] = "application/json"
    key_header = None if idempotency_key is None else _sf_string(idempotency_key)
    if key_header is not None:
        headers["Idempotency-Key"] = key_header
    sent = 0
    while True:
        request = urllib.request.Request(
            settings.base_url + path, data=data, headers=headers, method=method
        )
        done, value, retry_after = _attempt(settings, request)
        sent += 1
        if done:
            return value
        if sent > settings.retries:
            raise QuotaClockUnavailableError(sent, value)
        delay = retry_after
        if delay is None:
            delay = backoff_delay(
                sent - 1, settings.retry_base, settings.max_retry_delay, random.random()
            )
        # Honouring Retry-After means never retrying sooner; when that is too far off, give up now.
        if delay > settings.max_retry_delay:
            raise QuotaClockUnavailableError(sent, value)
        time.sleep(delay)
