"""The IETF draft-10 rate-limit fields for an app server to pass on to its own users."""

from __future__ import annotations

import math
import time
from datetime import datetime
from typing import Any, Dict, Mapping, Optional


def _instant(iso: str) -> float:
    # fromisoformat before 3.11 does not take a trailing Z.
    return datetime.fromisoformat(iso.replace("Z", "+00:00")).timestamp()


def _sf_string(value: str) -> str:
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'


def to_rate_limit_headers(result: Mapping[str, Any], now: Optional[float] = None) -> Dict[str, str]:
    """``RateLimit-Policy: "<feature>";q=<limit>;w=<period seconds>`` and
    ``RateLimit: "<feature>";r=<remaining>;t=<seconds until the period ends, rounded up>``
    for a consume or check answer; ``{}`` when the feature is unlimited or for a fail-mode answer.
    ``t`` is the answer's ``secondsLeft`` (so it equals the service's own header), or counted from
    ``now`` when that is given.
    """
    limit = result.get("limit")
    period = result.get("period")
    if limit is None or period is None:
        return {}
    feature = result.get("feature")
    if not isinstance(feature, str) or not feature:
        raise ValueError("to_rate_limit_headers: result['feature'] is missing")
    start = _instant(period["start"])
    end = _instant(period["end"])
    seconds_left = result.get("secondsLeft")
    if now is None and isinstance(seconds_left, int):
        until_end = seconds_left
    else:
        at = time.time() if now is None else now
        until_end = max(0, math.ceil(end - at))
    name = _sf_string(feature)
    remaining = result.get("remaining")
    return {
        "RateLimit-Policy": "%s;q=%d;w=%d" % (name, limit, round(end - start)),
        "RateLimit": "%s;r=%d;t=%d" % (name, remaining if remaining is not None else 0, until_end),
    }
