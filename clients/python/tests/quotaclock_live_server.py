"""A real ``quotaclock serve`` for the Python tests.

It runs ``node dist/cli/main.js serve`` from this repository on a temp SQLite
database and a free loopback port, after ``init``, with a ``quota:write`` key
made by ``keys create --json``. ``stop()`` ends it with SIGTERM and removes the folder.
When node or the built CLI is missing the tests are skipped, except under
CI=true, where they fail.
"""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import unittest
import urllib.request
from pathlib import Path
from typing import List, Optional

REPO = Path(__file__).resolve().parents[3]
CLI = REPO / "dist" / "cli" / "main.js"

# Import the client from this checkout unless it is installed.
try:
    import quotaclock_client  # noqa: F401
except ImportError:
    sys.path.insert(0, str(REPO / "clients" / "python" / "src"))


def missing_component(reason: str) -> Exception:
    """Skip on a developer's machine; fail under CI=true, where the component must be there."""
    if os.environ.get("CI") == "true":
        return RuntimeError(reason + " (CI=true: it must be installed)")
    return unittest.SkipTest(reason)


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _clean_env() -> dict:
    return {k: v for k, v in os.environ.items() if not k.startswith("QUOTACLOCK_")}


class LiveServer:
    def __init__(self) -> None:
        self.url = ""
        self.api_key = ""
        self._dir: Optional[str] = None
        self._db = ""
        self._node = "node"
        self._process: Optional[subprocess.Popen] = None
        self._log = None

    def start(self) -> "LiveServer":
        node = shutil.which("node")
        if node is None:
            raise missing_component("node is not on PATH")
        self._node = node
        if not CLI.exists():
            raise missing_component("%s is missing: run npm run build" % CLI)
        self._dir = tempfile.mkdtemp(prefix="qc-py-client-")
        try:
            self._db = "sqlite:" + os.path.join(self._dir, "q.db")
            self.cli(["init"])
            created = self.cli(
                ["keys", "create", "--name", "python-tests", "--scope", "quota:write", "--json"]
            )
            self.api_key = json.loads(created)["key"]
            port = free_port()
            self._log = open(os.path.join(self._dir, "serve.log"), "wb")
            self._process = subprocess.Popen(
                [
                    node,
                    str(CLI),
                    "serve",
                    "--host",
                    "127.0.0.1",
                    "--port",
                    str(port),
                    "--db",
                    self._db,
                ],
                cwd=self._dir,
                env=_clean_env(),
                stdout=self._log,
                stderr=subprocess.STDOUT,
            )
            self.url = "http://127.0.0.1:%d" % port
            self._wait_healthy()
        except BaseException:
            self.stop()
            raise
        return self

    def cli(self, args: List[str]) -> str:
        """Runs a quotaclock command on the server's database; returns stdout, raises on failure."""
        run = subprocess.run(
            [self._node, str(CLI)] + args + ["--db", self._db],
            cwd=self._dir,
            env=_clean_env(),
            capture_output=True,
            text=True,
            timeout=60,
        )
        if run.returncode != 0:
            raise RuntimeError(
                "quotaclock %s failed (%d): %s" % (" ".join(args), run.returncode, run.stderr)
            )
        return run.stdout

    def _wait_healthy(self) -> None:
        until = time.time() + 30
        while True:
            assert self._process is not None
            if self._process.poll() is not None:
                raise RuntimeError(
                    "quotaclock serve exited (%s): %s" % (self._process.returncode, self._output())
                )
            try:
                with urllib.request.urlopen(self.url + "/healthz", timeout=1) as answer:
                    if answer.status == 200:
                        return
            except OSError:
                pass
            if time.time() > until:
                raise RuntimeError("quotaclock serve did not become healthy: " + self._output())
            time.sleep(0.1)

    def _output(self) -> str:
        if self._dir is None:
            return ""
        try:
            with open(os.path.join(self._dir, "serve.log"), "rb") as log:
                return log.read()[-4000:].decode("utf-8", "replace")
        except OSError:
            return ""

    def stop(self) -> None:
        if self._process is not None and self._process.poll() is None:
            self._process.terminate()
            try:
                self._process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self._process.kill()
                self._process.wait()
        self._process = None
        if self._log is not None:
            self._log.close()
            self._log = None
        if self._dir is not None:
            shutil.rmtree(self._dir, ignore_errors=True)
            self._dir = None
