"""Client for the quotaclock service. Standard library only; Python >= 3.9.

from quotaclock_client import QuotaClockClient

quota = QuotaClockClient("http://127.0.0.1:8787", api_key, fail_mode="closed")
result = quota.consume("user-1", "stock_reports", key=report_id)
if not result["granted"]:
    ...
"""

from ._client import QuotaClockClient
from ._errors import QuotaClockApiError, QuotaClockError, QuotaClockUnavailableError
from ._headers import to_rate_limit_headers
from ._types import (
    BatchResult,
    CheckResult,
    ConsumeResult,
    FailMode,
    HistoryEntry,
    PeriodView,
    RefundResult,
    StatusResult,
)

__all__ = [
    "BatchResult",
    "CheckResult",
    "ConsumeResult",
    "FailMode",
    "HistoryEntry",
    "PeriodView",
    "QuotaClockApiError",
    "QuotaClockClient",
    "QuotaClockError",
    "QuotaClockUnavailableError",
    "RefundResult",
    "StatusResult",
    "to_rate_limit_headers",
]
