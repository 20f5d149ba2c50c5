"""The Python client against a live ``quotaclock serve``."""

from __future__ import annotations

import json
import unittest
import urllib.request
from concurrent.futures import ThreadPoolExecutor

from quotaclock_live_server import LiveServer  # also puts the client on sys.path

from quotaclock_client import QuotaClockApiError, QuotaClockClient, to_rate_limit_headers


class LiveClientTest(unittest.TestCase):
    server: LiveServer
    quota: QuotaClockClient

    @classmethod
    def setUpClass(cls) -> None:
        cls.server = LiveServer().start()
        cls.quota = QuotaClockClient(cls.server.url, cls.server.api_key, fail_mode="closed")

    @classmethod
    def tearDownClass(cls) -> None:
        cls.server.stop()

    def assertApiError(self, code: str, status: int, call) -> QuotaClockApiError:  # noqa: N802
        with self.assertRaises(QuotaClockApiError) as caught:
            call()
        self.assertEqual((caught.exception.code, caught.exception.status), (code, status))
        return caught.exception

    def test_consume_counts_and_a_retry_with_its_key_replays(self) -> None:
        first = self.quota.consume(
            "py-consume", "stock_reports", 3, key="k-1", meta={"ticker": "ACME"}
        )
        fields = ("granted", "used", "limit", "remaining", "subject", "feature", "key")
        self.assertEqual(
            {k: dict(first)[k] for k in fields},
            {
                "granted": True,
                "used": 3,
                "limit": 10,
                "remaining": 7,
                "subject": "py-consume",
                "feature": "stock_reports",
                "key": "k-1",
            },
        )
        period = first["period"]
        assert period is not None
        self.assertLess(period["start"], period["end"])
        # Every answer carries the zone and the whole seconds left until the period ends.
        self.assertEqual(first["timeZone"], "UTC")
        seconds_left = first["secondsLeft"]
        assert seconds_left is not None
        self.assertTrue(0 < seconds_left <= 31 * 24 * 3600)
        again = self.quota.consume(
            "py-consume", "stock_reports", 3, key="k-1", meta={"ticker": "ACME"}
        )
        self.assertEqual((again["used"], again.get("replayed")), (3, True))
        self.assertEqual(self.quota.status("py-consume")["features"]["stock_reports"]["used"], 3)

    def test_keys_with_quotes_backslashes_and_non_ascii_stay_exact(self) -> None:
        for key in ('say "hi" \\ bye', "rapport-été-№1"):
            first = self.quota.consume("py-odd-keys", "stock_reports", key=key)
            self.assertEqual((first["granted"], first["key"]), (True, key))
            again = self.quota.consume("py-odd-keys", "stock_reports", key=key)
            self.assertEqual((again.get("replayed"), again["used"]), (True, first["used"]))
            self.assertTrue(self.quota.refund("py-odd-keys", key)["refunded"])

    def test_refusal_is_a_result_not_an_error(self) -> None:
        self.assertTrue(self.quota.consume("py-full", "stock_reports", 10)["granted"])
        refused = self.quota.consume("py-full", "stock_reports")
        self.assertEqual(
            (refused["granted"], refused["reason"], refused["remaining"]),
            (False, "quota_exceeded", 0),
        )

    def test_check_writes_nothing(self) -> None:
        self.quota.consume("py-check", "stock_reports", 4)
        checked = self.quota.check("py-check", "stock_reports", 6)
        self.assertEqual((checked["allowed"], checked["used"], checked["remaining"]), (True, 4, 6))
        self.assertEqual(checked["timeZone"], "UTC")
        self.assertIsInstance(checked["secondsLeft"], int)
        self.assertFalse(self.quota.check("py-check", "stock_reports", 7)["allowed"])
        self.assertEqual(self.quota.status("py-check")["features"]["stock_reports"]["used"], 4)

    def test_refund_gives_the_unit_back_once(self) -> None:
        consumed = self.quota.consume("py-refund", "stock_reports")
        refunded = self.quota.refund("py-refund", consumed["key"])
        self.assertEqual((refunded["refunded"], refunded["amount"], refunded["used"]), (True, 1, 0))
        self.assertEqual(refunded["timeZone"], "UTC")
        self.assertIsInstance(refunded["secondsLeft"], int)
        twice = self.quota.refund("py-refund", consumed["key"])
        self.assertEqual((twice["refunded"], twice.get("alreadyRefunded")), (False, True))
        self.assertApiError(
            "REFUND_KEY_NOT_FOUND", 404, lambda: self.quota.refund("py-refund", "nope")
        )

    def test_status_history_and_unknown_subjects(self) -> None:
        self.quota.consume("py-status", "stock_reports", 2)
        status = self.quota.status("py-status")
        self.assertEqual((status["subject"], status["plan"]), ("py-status", "free"))
        self.assertEqual(status["timeZone"], "UTC")
        self.assertIsInstance(status["secondsLeft"], int)
        self.assertEqual(
            status["features"]["stock_reports"],
            {"limit": 10, "used": 2, "remaining": 8, "unlimited": False},
        )
        history = self.quota.history("py-status", limit=5)
        self.assertIsInstance(history, list)
        self.assertLessEqual(len(history), 5)
        self.assertApiError("SUBJECT_NOT_FOUND", 404, lambda: self.quota.status("py-nobody"))

    def test_batch_answers_in_order(self) -> None:
        results = self.quota.batch(
            [
                {"op": "consume", "subject": "py-batch", "feature": "stock_reports", "amount": 2},
                {"op": "check", "subject": "py-batch", "feature": "stock_reports", "amount": 9},
                {"op": "consume", "subject": "py-batch", "feature": "stock_reports", "amount": 0},
            ]
        )["results"]
        self.assertEqual(len(results), 3)
        self.assertEqual((results[0]["granted"], results[0]["used"]), (True, 2))
        self.assertRegex(results[0]["key"], r"^[0-9a-f-]{36}$")
        self.assertEqual(results[0]["timeZone"], "UTC")
        self.assertIsInstance(results[0]["secondsLeft"], int)
        self.assertEqual((results[1]["allowed"], results[1]["subject"]), (False, "py-batch"))
        self.assertEqual(results[2]["status"], 400)
        self.assertIn(results[2]["code"], ("INVALID_AMOUNT", "BAD_INPUT"))

    def test_bad_input_wrong_key_and_reused_key_are_typed_errors(self) -> None:
        error = self.assertApiError(
            "INVALID_AMOUNT", 400, lambda: self.quota.consume("py-bad", "stock_reports", 0)
        )
        self.assertEqual(error.where, "amount")
        stranger = QuotaClockClient(self.server.url, "qck_" + "0" * 43, fail_mode="open")
        self.assertApiError(
            "UNAUTHENTICATED", 401, lambda: stranger.consume("py-bad", "stock_reports")
        )
        self.quota.consume("py-bad", "stock_reports", 1, key="same")
        self.assertApiError(
            "IDEMPOTENCY_KEY_REUSED",
            422,
            lambda: self.quota.consume("py-bad", "stock_reports", 2, key="same"),
        )

    def test_rate_limit_headers_match_the_services(self) -> None:
        request = urllib.request.Request(
            self.server.url + "/v1/check",
            data=json.dumps({"subject": "py-headers", "feature": "stock_reports"}).encode(),
            headers={
                "Authorization": "Bearer " + self.server.api_key,
                "Content-Type": "application/json",
            },
            method="POST",
        )
        with urllib.request.urlopen(request, timeout=5) as answer:
            served = {name: answer.headers[name] for name in ("RateLimit-Policy", "RateLimit")}
            body = json.loads(answer.read())
        ours = to_rate_limit_headers({**body, "feature": "stock_reports"})
        # t is the answer's secondsLeft, so the whole headers agree.
        self.assertEqual(ours, served)
        self.assertEqual(served["RateLimit"].split(";t=")[1], str(body["secondsLeft"]))

    def test_concurrent_consumes_never_overshoot(self) -> None:
        with ThreadPoolExecutor(max_workers=8) as pool:
            results = list(
                pool.map(lambda _: self.quota.consume("py-race", "stock_reports"), range(30))
            )
        self.assertEqual(sum(1 for r in results if r["granted"]), 10)
        self.assertEqual(self.quota.status("py-race")["features"]["stock_reports"]["used"], 10)


if __name__ == "__main__":
    unittest.main()
