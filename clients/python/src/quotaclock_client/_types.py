"""The service's answers, with the library's field names (API.md). Plain dicts at run time."""

from __future__ import annotations

from typing import Any, Dict, List, Literal, Optional, TypedDict

FailMode = Literal["closed", "open"]


class PeriodView(TypedDict):
    key: str
    start: str
    """ISO instant, inclusive."""
    end: str
    """ISO instant, exclusive."""


class ConsumeResult(TypedDict, total=False):
    """``consume``: ``granted``, ``used``, ``limit`` (None = unlimited), ``remaining``, ``period``,
    ``timeZone`` (the IANA zone the period was computed in), ``secondsLeft`` (whole seconds until
    the period ends, rounded up: the ``t`` of the RateLimit header), ``reason`` when refused (``quota_exceeded``, ``suspended``, or ``unavailable`` from the fail
    mode), ``replayed`` on a replay, plus ``subject``, ``feature`` and the ``key`` it was counted
    under. A fail-mode answer has ``used``, ``limit``, ``remaining``, ``period``, ``timeZone`` and
    ``secondsLeft`` set to None."""

    granted: bool
    used: Optional[int]
    limit: Optional[int]
    remaining: Optional[int]
    period: Optional[PeriodView]
    timeZone: Optional[str]
    secondsLeft: Optional[int]
    reason: str
    replayed: bool
    subject: str
    feature: str
    key: str


class CheckResult(TypedDict, total=False):
    allowed: bool
    used: Optional[int]
    limit: Optional[int]
    remaining: Optional[int]
    period: Optional[PeriodView]
    timeZone: Optional[str]
    secondsLeft: Optional[int]
    reason: str
    subject: str
    feature: str


class RefundResult(TypedDict, total=False):
    refunded: bool
    amount: int
    used: int
    period: PeriodView
    timeZone: str
    secondsLeft: int
    alreadyRefunded: bool


class FeatureStatus(TypedDict):
    limit: Optional[int]
    used: int
    remaining: Optional[int]
    unlimited: bool


class StatusResult(TypedDict):
    subject: str
    plan: str
    suspended: bool
    suspendedReason: Optional[str]
    period: PeriodView
    timeZone: str
    secondsLeft: int
    features: Dict[str, FeatureStatus]


class HistoryEntry(TypedDict):
    key: str
    start: str
    end: str
    closed: bool
    plan: Optional[str]
    features: Dict[str, Dict[str, Any]]


class BatchResult(TypedDict):
    results: List[Dict[str, Any]]
