"""``vismock serve`` as a real subprocess, for the tests that need the real command and server."""

from __future__ import annotations

import http.client
import json
import os
import re
import signal
import ssl
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from pathlib import Path
from typing import Any

URL_LINE = re.compile(r"vismock serving on (https?)://[^:/]+:(\d+)/")
CA_FILE = re.compile(r"; CA file: ([^;]+);")
XML = "text/xml; charset=utf-8"


def serve_command(*arguments: str) -> list[str]:
    return [sys.executable, "-m", "vismock", "serve", *arguments]


class Served:
    """``vismock serve --port 0 ARGUMENTS`` in its own process group, its output in a log file."""

    def __init__(
        self,
        folder: Path,
        *arguments: str,
        environment: dict[str, str] | None = None,
        context: ssl.SSLContext | None = None,
    ) -> None:
        """*context*: how to trust an HTTPS server's certificate (default: the CA file it prints)."""
        self.context = context
        self.log = folder / f"serve-{uuid.uuid4().hex[:8]}.log"
        self._log_file = self.log.open("w")
        self.process = subprocess.Popen(
            serve_command("--port", "0", *arguments),
            stdout=self._log_file,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # its own process group: stopping reaches the workers too
            env={**os.environ, **(environment or {})},
        )
        self.port = self._wait_for_port()

    @property
    def output(self) -> str:
        return self.log.read_text()

    @property
    def preamble(self) -> list[str]:
        """The lines it printed before its URL."""
        lines = self.output.splitlines()
        return lines[: next(i for i, line in enumerate(lines) if URL_LINE.search(line))]

    def _wait_for_port(self, timeout: float = 30.0) -> int:
        """The port it printed, once it answers; a server process that died fails at once."""
        deadline = time.monotonic() + timeout
        port: int | None = None
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise AssertionError(
                    f"vismock serve exited with status {self.process.returncode}:\n{self.output}"
                )
            found = URL_LINE.search(self.output) if port is None else None
            if found:
                port = int(found.group(2))
                if found.group(1) == "https" and self.context is None:
                    ca_file = CA_FILE.search(self.output)
                    assert ca_file, f"an https server without a CA file: give a context\n{self.output}"
                    self.context = ssl.create_default_context(cafile=ca_file.group(1))
            if port is not None:
                with suppress(OSError):
                    self.call_on(port, "GET", "/_vismock/health", context=self.context)
                    return port
            time.sleep(0.05)
        raise AssertionError(f"vismock serve did not start:\n{self.output}")

    def request(
        self, method: str, path: str, body: bytes = b"", headers: dict[str, str] | None = None
    ) -> tuple[int, bytes, dict[str, str]]:
        """One request on a fresh connection (so successive ones may reach different workers)."""
        connection = _connection(self.port, self.context)
        try:
            connection.request(method, path, body=body, headers={"Content-Type": XML, **(headers or {})})
            response = connection.getresponse()
            return response.status, response.read(), dict(response.getheaders())
        finally:
            connection.close()

    def call(self, method: str, path: str, body: bytes | None = None, content_type: str = "text/xml") -> Any:
        """``(status, body)`` from a face; the decoded JSON from the admin API."""
        return self.call_on(self.port, method, path, body, content_type, context=self.context)

    @staticmethod
    def call_on(
        port: int,
        method: str,
        path: str,
        body: bytes | None = None,
        content_type: str = "text/xml",
        context: ssl.SSLContext | None = None,
    ) -> Any:
        connection = _connection(port, context)
        try:
            connection.request(method, path, body=body, headers={"Content-Type": content_type})
            response = connection.getresponse()
            data = response.read()
            return json.loads(data) if path.startswith("/_vismock") else (response.status, data)
        finally:
            connection.close()

    def stop(self, signum: int = signal.SIGTERM) -> int:
        """Its exit status after *signum*; whatever happens, no process of it outlives this."""
        with suppress(ProcessLookupError):
            if self.process.poll() is None:
                self.process.send_signal(signum)
                with suppress(subprocess.TimeoutExpired):
                    self.process.wait(timeout=20)
            os.killpg(self.process.pid, signal.SIGKILL)  # workers left behind, if any
        status = self.process.wait(timeout=10)
        self._log_file.close()
        return status


def _connection(port: int, context: ssl.SSLContext | None) -> http.client.HTTPConnection:
    """A connection to 127.0.0.1:*port*: HTTPS trusting *context* when there is one."""
    if context is not None:
        return http.client.HTTPSConnection("127.0.0.1", port, timeout=10, context=context)
    return http.client.HTTPConnection("127.0.0.1", port, timeout=10)


@contextmanager
def served(
    *arguments: str, environment: dict[str, str] | None = None, context: ssl.SSLContext | None = None
) -> Iterator[Served]:
    with tempfile.TemporaryDirectory(prefix="vismock-served-") as folder:
        server = Served(Path(folder), *arguments, environment=environment, context=context)
        try:
            yield server
        finally:
            server.stop()
