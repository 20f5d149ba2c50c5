"""The reference stock-analysis app's quota check, on the quotaclock service.

    QUOTACLOCK_URL=http://127.0.0.1:8787 QUOTACLOCK_API_KEY=qck_... flask --app app run

``GET /reports/<report_id>`` (user in ``X-User-Id``) costs one ``stock_reports`` unit.
"""

from __future__ import annotations

import os
from datetime import datetime, timezone
from typing import Any, Callable, Dict, Optional

from flask import Flask, request

from quota_guard import EXTENSION, client_from_env, require_quota
from quotaclock_client import QuotaClockClient

ReportGenerator = Callable[[str, str], Dict[str, Any]]


def generate_report(report_id: str, ticker: str) -> Dict[str, Any]:
    """Stands in for the real analysis; the app's generator goes here."""
    return {
        "reportId": report_id,
        "ticker": ticker,
        "generatedAt": datetime.now(timezone.utc).isoformat(),
    }


def create_app(
    client: Optional[QuotaClockClient] = None,
    generator: ReportGenerator = generate_report,
) -> Flask:
    app = Flask(__name__)
    app.extensions[EXTENSION] = client if client is not None else client_from_env(dict(os.environ))

    @app.get("/reports/<report_id>")
    @require_quota("stock_reports")
    def report(report_id: str) -> Dict[str, Any]:
        return generator(report_id, request.args.get("ticker", "ACME").upper())

    return app
