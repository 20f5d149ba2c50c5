"""When to retry and how long to wait. Pure functions, the same rules as quotaclock/client."""

from __future__ import annotations

from email.utils import parsedate_to_datetime
from typing import Optional


def is_retryable_status(status: int, code: Optional[str]) -> bool:
    """5xx and 429 may succeed later; so may a 409 for a key still in flight."""
    if status >= 500 or status == 429:
        return True
    return status == 409 and code == "IDEMPOTENCY_KEY_IN_FLIGHT"


def parse_retry_after(value: Optional[str], now: float) -> Optional[float]:
    """Retry-After in seconds: delta-seconds or an HTTP date. None when absent or unreadable."""
    if value is None:
        return None
    text = value.strip()
    if text.isdigit():
        return float(text)
    try:
        at = parsedate_to_datetime(text)
    except (TypeError, ValueError, IndexError):
        return None
    if at is None:
        return None
    return max(0.0, at.timestamp() - now)


def backoff_delay(attempt: int, base: float, cap: float, random: float) -> float:
    """Exponential backoff with jitter: between half and all of min(cap, base * 2**attempt)."""
    ceiling = min(cap, base * (2**attempt))
    return ceiling / 2 + (ceiling / 2) * random
