"""The Flask example against a live ``quotaclock serve`` (Flask's test client, real service)."""

from __future__ import annotations

import os
import sys
import unittest
from datetime import datetime
from pathlib import Path
from typing import Any, Dict
from unittest import mock
from zoneinfo import ZoneInfo

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "clients" / "python" / "tests"))

from quotaclock_live_server import (
    LiveServer,
    free_port,
)  # noqa: E402  (puts the client on sys.path)

from app import create_app, generate_report  # noqa: E402
from quotaclock_client import QuotaClockClient  # noqa: E402


def failing_for(bad_id: str):
    def generator(report_id: str, ticker: str) -> Dict[str, Any]:
        if report_id == bad_id:
            raise RuntimeError("the analysis failed")
        return generate_report(report_id, ticker)

    return generator


class FlaskExampleTest(unittest.TestCase):
    server: LiveServer

    @classmethod
    def setUpClass(cls) -> None:
        cls.server = LiveServer().start()

    @classmethod
    def tearDownClass(cls) -> None:
        cls.server.stop()

    def client(self, fail_mode: str = "closed") -> QuotaClockClient:
        return QuotaClockClient(self.server.url, self.server.api_key, fail_mode=fail_mode)

    def used(self, user: str) -> int:
        return self.client().status(user)["features"]["stock_reports"]["used"]

    def test_ten_reports_then_429_with_the_reset_in_the_users_zone(self) -> None:
        self.server.cli(["users", "add", "tokyo-1", "--time-zone", "Asia/Tokyo"])
        quota = self.client()
        web = create_app(quota).test_client()
        for n in range(10):
            answer = web.get("/reports/r%d?ticker=msft" % n, headers={"X-User-Id": "tokyo-1"})
            self.assertEqual(answer.status_code, 200, answer.get_data(as_text=True))
            self.assertEqual(answer.get_json()["ticker"], "MSFT")
            self.assertEqual(answer.headers["RateLimit"].split(";")[1], "r=%d" % (9 - n))
        # The consume answer carries the user's zone: the refusal asks the service nothing more.
        with mock.patch.object(quota, "status", wraps=quota.status) as status_calls:
            refused = web.get("/reports/r10", headers={"X-User-Id": "tokyo-1"})
        self.assertEqual(status_calls.call_count, 0)
        self.assertEqual(refused.status_code, 429)
        body = refused.get_json()
        self.assertEqual(body["remaining"], 0)
        status = self.client().status("tokyo-1")
        expected = (
            datetime.fromisoformat(status["period"]["end"].replace("Z", "+00:00"))
            .astimezone(ZoneInfo("Asia/Tokyo"))
            .isoformat()
        )
        self.assertEqual(body["resetsAt"], expected)
        self.assertTrue(body["resetsAt"].endswith("+09:00"), body["resetsAt"])
        self.assertIn('"stock_reports";q=10', refused.headers["RateLimit-Policy"])
        self.assertEqual(self.used("tokyo-1"), 10)

    def test_the_same_report_counts_once(self) -> None:
        web = create_app(self.client()).test_client()
        for _ in range(3):
            self.assertEqual(
                web.get("/reports/same", headers={"X-User-Id": "repeat-1"}).status_code, 200
            )
        self.assertEqual(self.used("repeat-1"), 1)

    def test_a_failed_report_is_refunded(self) -> None:
        app = create_app(self.client(), generator=failing_for("broken"))
        web = app.test_client()
        self.assertEqual(web.get("/reports/fine", headers={"X-User-Id": "fail-1"}).status_code, 200)
        with self.assertLogs(app.logger, "ERROR"):  # Flask logs the view's error; keep it off the output
            answer = web.get("/reports/broken", headers={"X-User-Id": "fail-1"})
        self.assertEqual(answer.status_code, 500)
        self.assertEqual(self.used("fail-1"), 1)

    def test_no_user_is_400_and_charges_nobody(self) -> None:
        web = create_app(self.client()).test_client()
        answer = web.get("/reports/x")
        self.assertEqual(answer.status_code, 400)
        self.assertIn("X-User-Id", answer.get_json()["error"])

    def test_service_down_closed_is_503_open_serves_the_report(self) -> None:
        down = "http://127.0.0.1:%d" % free_port()
        closed = create_app(
            QuotaClockClient(down, "k", fail_mode="closed", retries=0)
        ).test_client()
        open_ = create_app(QuotaClockClient(down, "k", fail_mode="open", retries=0)).test_client()
        refused = closed.get("/reports/a", headers={"X-User-Id": "u"})
        self.assertEqual(refused.status_code, 503)
        self.assertIsNone(refused.get_json()["remaining"])
        served = open_.get("/reports/a", headers={"X-User-Id": "u"})
        self.assertEqual(served.status_code, 200)
        self.assertNotIn("RateLimit", served.headers)

    def test_create_app_reads_the_environment(self) -> None:
        env = {"QUOTACLOCK_URL": self.server.url, "QUOTACLOCK_API_KEY": self.server.api_key}
        with mock.patch.dict(os.environ, env):
            web = create_app().test_client()
        self.assertEqual(web.get("/reports/env", headers={"X-User-Id": "env-1"}).status_code, 200)
        self.assertEqual(self.used("env-1"), 1)
        with mock.patch.dict(os.environ, {"QUOTACLOCK_URL": ""}):
            with self.assertRaisesRegex(RuntimeError, "QUOTACLOCK_URL"):
                create_app()


if __name__ == "__main__":
    unittest.main()
