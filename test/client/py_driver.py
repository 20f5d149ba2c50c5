"""Drives the Python client for the vitest suites: consumes described on stdin, results on stdout.

stdin: {"url", "apiKey", "failMode", "retries", "timeout"?, "concurrency",
        "calls": [{"subject", "feature", "key"?}]}
"""

import json
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "clients" / "python" / "src"))

from quotaclock_client import QuotaClockClient  # noqa: E402


def main() -> None:
    spec = json.load(sys.stdin)
    client = QuotaClockClient(
        spec["url"],
        spec["apiKey"],
        fail_mode=spec["failMode"],
        timeout=spec.get("timeout", 2.0),
        retries=spec["retries"],
        retry_base=0.02,
    )

    def consume(call):
        return client.consume(
            call["subject"], call["feature"], call.get("amount", 1), key=call.get("key")
        )

    with ThreadPoolExecutor(max_workers=spec["concurrency"]) as pool:
        results = list(pool.map(consume, spec["calls"]))
    json.dump(results, sys.stdout)


main()
