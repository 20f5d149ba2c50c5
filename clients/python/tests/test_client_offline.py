"""Fail modes and retries, against real loopback servers scripted to be down, stall or refuse."""

from __future__ import annotations

import json
import socket
import threading
import time
import unittest
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Callable, Dict, List

from quotaclock_live_server import free_port  # also puts the client on sys.path

from quotaclock_client import (
    QuotaClockApiError,
    QuotaClockClient,
    QuotaClockUnavailableError,
    to_rate_limit_headers,
)

Script = Callable[[int, BaseHTTPRequestHandler], None]


class ScriptedServer:
    """An HTTP server whose answers the test scripts; it records what the client sent."""

    def __init__(self, script: Script) -> None:
        self.seen: List[Dict[str, Any]] = []
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def _handle(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length).decode("utf-8")
                outer.seen.append(
                    {"at": time.time(), "key": self.headers.get("Idempotency-Key"), "body": body}
                )
                script(len(outer.seen), self)

            do_GET = _handle
            do_POST = _handle

            def log_message(self, *args: Any) -> None:
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self.url = "http://127.0.0.1:%d" % self._server.server_address[1]
        self._thread = threading.Thread(
            target=self._server.serve_forever, args=(0.05,), daemon=True
        )
        self._thread.start()

    def close(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join()


def answer(
    handler: BaseHTTPRequestHandler, status: int, body: Any, headers: Dict[str, str] = {}
) -> None:
    data = json.dumps(body).encode()
    handler.send_response(status)
    content_type = "application/json" if status < 400 else "application/problem+json"
    handler.send_header("Content-Type", content_type)
    handler.send_header("Content-Length", str(len(data)))
    for name, value in headers.items():
        handler.send_header(name, value)
    handler.end_headers()
    handler.wfile.write(data)


def problem(
    handler: BaseHTTPRequestHandler, status: int, code: str, headers: Dict[str, str] = {}
) -> None:
    body = {"type": "about:blank", "title": code, "status": status, "code": code, "where": "amount"}
    answer(handler, status, body, headers)


def drop(handler: BaseHTTPRequestHandler) -> None:
    handler.close_connection = True
    handler.connection.shutdown(socket.SHUT_RDWR)


def client(url: str, fail_mode: str = "closed", **extra: Any) -> QuotaClockClient:
    options: Dict[str, Any] = {"retries": 2, "retry_base": 0.01}
    options.update(extra)
    return QuotaClockClient(url, "qck_test", fail_mode=fail_mode, **options)


class OptionsTest(unittest.TestCase):
    def test_fail_mode_must_be_closed_or_open(self) -> None:
        for bad in ("", "CLOSED", "fail-open", None):
            with self.assertRaisesRegex(ValueError, "fail_mode"):
                QuotaClockClient("http://127.0.0.1:8787", "k", fail_mode=bad)  # type: ignore[arg-type]
        self.assertEqual(QuotaClockClient("http://127.0.0.1:8787", "k").fail_mode, "closed")

    def test_bad_options_are_named(self) -> None:
        with self.assertRaisesRegex(ValueError, "url"):
            QuotaClockClient("localhost:8787", "k")
        with self.assertRaisesRegex(ValueError, "api_key"):
            QuotaClockClient("http://127.0.0.1:8787", "")
        with self.assertRaisesRegex(ValueError, "retries"):
            QuotaClockClient("http://127.0.0.1:8787", "k", retries=-1)
        with self.assertRaisesRegex(ValueError, "timeout"):
            QuotaClockClient("http://127.0.0.1:8787", "k", timeout=0)


class UnreachableTest(unittest.TestCase):
    def test_closed_refuses_open_grants_nothing_else_has_a_default(self) -> None:
        url = "http://127.0.0.1:%d" % free_port()
        refused = client(url, "closed").consume("u1", "stock_reports")
        self.assertEqual(refused["granted"], False)
        self.assertEqual(refused["reason"], "unavailable")
        for field in ("used", "limit", "remaining", "period", "timeZone", "secondsLeft"):
            self.assertIsNone(refused[field])  # type: ignore[literal-required]
        self.assertRegex(refused["key"], r"^[0-9a-f-]{36}$")

        granted = client(url, "open").consume("u1", "stock_reports", key="report-7")
        self.assertEqual(
            (granted["granted"], granted["reason"], granted["key"]),
            (True, "unavailable", "report-7"),
        )
        self.assertEqual(client(url, "closed").check("u1", "f")["allowed"], False)
        self.assertEqual(client(url, "open").check("u1", "f")["allowed"], True)
        self.assertEqual(to_rate_limit_headers(granted), {})

        for call in (
            lambda c: c.refund("u1", "k"),
            lambda c: c.status("u1"),
            lambda c: c.history("u1"),
        ):
            with self.assertRaises(QuotaClockUnavailableError) as caught:
                call(client(url, "open"))
            self.assertEqual(
                (caught.exception.code, caught.exception.attempts), ("SERVICE_UNAVAILABLE", 3)
            )

        results = client(url, "closed").batch(
            [
                {"op": "consume", "subject": "u1", "feature": "f"},
                {"op": "check", "subject": "u1", "feature": "f"},
                {"op": "refund", "subject": "u1", "key": "k"},
            ]
        )["results"]
        self.assertEqual((results[0]["granted"], results[0]["reason"]), (False, "unavailable"))
        self.assertEqual((results[1]["allowed"], results[1]["reason"]), (False, "unavailable"))
        self.assertEqual((results[2]["status"], results[2]["code"]), (503, "SERVICE_UNAVAILABLE"))


class RetryTest(unittest.TestCase):
    def serve(self, script: Script) -> ScriptedServer:
        server = ScriptedServer(script)
        self.addCleanup(server.close)
        return server

    def test_dropped_consume_is_resent_with_the_same_key_and_body(self) -> None:
        server = self.serve(lambda n, h: drop(h))
        result = client(server.url).consume("u1", "stock_reports", 2, meta={"ticker": "ACME"})
        self.assertEqual(result["reason"], "unavailable")
        self.assertEqual(len(server.seen), 3)
        # Sent as the draft's sf-string: the quoted key.
        self.assertEqual({r["key"] for r in server.seen}, {'"%s"' % result["key"]})
        self.assertEqual(len({r["body"] for r in server.seen}), 1)
        self.assertEqual(
            json.loads(server.seen[0]["body"]),
            {
                "subject": "u1",
                "feature": "stock_reports",
                "amount": 2,
                "key": result["key"],
                "meta": {"ticker": "ACME"},
            },
        )

    def test_stalled_answer_times_out_per_attempt(self) -> None:
        release = threading.Event()
        self.addCleanup(release.set)
        server = self.serve(lambda n, h: release.wait(10))
        started = time.time()
        result = client(server.url, "open", timeout=0.2, retries=1).consume("u1", "f")
        self.assertEqual((result["granted"], result["reason"]), (True, "unavailable"))
        self.assertEqual(len(server.seen), 2)
        self.assertLess(time.time() - started, 2.0)

    def test_waits_for_retry_after_on_503(self) -> None:
        def script(n: int, h: BaseHTTPRequestHandler) -> None:
            if n == 1:
                return problem(h, 503, "STORE_UNAVAILABLE", {"Retry-After": "1"})
            answer(
                h, 200, {"allowed": True, "limit": 10, "used": 0, "remaining": 10, "period": None}
            )

        server = self.serve(script)
        result = client(server.url).check("u1", "stock_reports")
        self.assertEqual(
            (result["allowed"], result["subject"], result["feature"]), (True, "u1", "stock_reports")
        )
        self.assertEqual(len(server.seen), 2)
        self.assertGreaterEqual(server.seen[1]["at"] - server.seen[0]["at"], 0.95)

    def test_gives_up_when_retry_after_is_too_long(self) -> None:
        server = self.serve(
            lambda n, h: problem(h, 503, "STORE_UNAVAILABLE", {"Retry-After": "60"})
        )
        with self.assertRaises(QuotaClockUnavailableError) as caught:
            client(server.url, max_retry_delay=2.0).status("u1")
        self.assertEqual((caught.exception.attempts, caught.exception.last_status), (1, 503))

    def test_retries_a_key_in_flight_and_a_non_json_502(self) -> None:
        def script(n: int, h: BaseHTTPRequestHandler) -> None:
            if n == 1:
                return problem(h, 409, "IDEMPOTENCY_KEY_IN_FLIGHT", {"Retry-After": "0"})
            if n == 2:
                h.send_response(502)
                h.send_header("Content-Length", "4")
                h.end_headers()
                h.wfile.write(b"oops")
                return
            answer(
                h,
                200,
                {
                    "granted": True,
                    "used": 1,
                    "limit": 10,
                    "remaining": 9,
                    "period": None,
                    "replayed": True,
                },
            )

        server = self.serve(script)
        result = client(server.url).consume("u1", "f", key="k1")
        self.assertEqual((result["granted"], result["replayed"], result["key"]), (True, True, "k1"))
        self.assertEqual([r["key"] for r in server.seen], ['"k1"'] * 3)

    def test_4xx_is_not_retried_and_carries_the_code(self) -> None:
        server = self.serve(lambda n, h: problem(h, 400, "INVALID_AMOUNT"))
        with self.assertRaises(QuotaClockApiError) as caught:
            client(server.url, "open").consume("u1", "f", 0)
        error = caught.exception
        self.assertEqual((error.code, error.status, error.where), ("INVALID_AMOUNT", 400, "amount"))
        self.assertEqual(len(server.seen), 1)


class RateLimitHeadersTest(unittest.TestCase):
    def test_draft_10_fields_with_t_rounded_up(self) -> None:
        period = {
            "key": "2026-12",
            "start": "2026-12-01T00:00:00.000Z",
            "end": "2027-01-01T00:00:00.000Z",
        }
        result = {"feature": "stock_reports", "limit": 10, "remaining": 3, "period": period}
        now = 1798761600 - 1.8  # 1.8 s before the end
        self.assertEqual(
            to_rate_limit_headers(result, now),
            {
                "RateLimit-Policy": '"stock_reports";q=10;w=2678400',
                "RateLimit": '"stock_reports";r=3;t=2',
            },
        )
        self.assertEqual(to_rate_limit_headers({**result, "limit": None}), {})

    def test_t_is_the_answers_seconds_left_unless_a_time_is_given(self) -> None:
        period = {
            "key": "2026-12",
            "start": "2026-12-01T00:00:00.000Z",
            "end": "2027-01-01T00:00:00.000Z",
        }
        answer = {"feature": "f", "limit": 10, "remaining": 3, "period": period, "secondsLeft": 42}
        self.assertEqual(to_rate_limit_headers(answer)["RateLimit"], '"f";r=3;t=42')
        self.assertEqual(to_rate_limit_headers(answer, 1798761600 - 1.8)["RateLimit"], '"f";r=3;t=2')


if __name__ == "__main__":
    unittest.main()
