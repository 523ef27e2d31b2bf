"""The reference simulator (govmomi's vcsim, /tmp/vcsim-anchor) started for a test.

Outside CI a missing binary skips the test, saying how to build it; in CI (CI set) it fails it:
``.ci/run`` builds the simulator, so a missing one is a broken CI, not a reason to pass.
"""

from __future__ import annotations

import os
import socket
import subprocess
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from urllib.parse import urlsplit

import pytest

VCSIM = Path(os.environ.get("VISMOCK_VCSIM", "/tmp/vcsim-anchor"))
BUILD = "../shared/anchors/vcsim/build.sh /tmp/vcsim-anchor"


def require_vcsim() -> Path:
    """The simulator's path; skips (fails in CI) when it is not built."""
    if not VCSIM.is_file():
        message = f"the reference simulator {VCSIM} is not built (build it: {BUILD})"
        if os.environ.get("CI"):
            pytest.fail(message)
        pytest.skip(message)
    return VCSIM


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@contextmanager
def running_vcsim(deadline_seconds: float = 20.0, port: int | None = None) -> Iterator[str]:
    """A fresh simulator (its VPX model: DC0, DC0_H0_VM0...) on *port* (a free one by default):
    its SOAP URL."""
    binary = require_vcsim()
    port = port or free_port()
    process = subprocess.Popen(
        [str(binary), "-l", f"127.0.0.1:{port}"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    try:
        _wait_until_up(f"http://127.0.0.1:{port}/sdk/vimServiceVersions.xml", process, deadline_seconds)
        yield f"http://127.0.0.1:{port}/sdk"
    finally:
        process.terminate()
        try:
            process.wait(timeout=5)
        except subprocess.TimeoutExpired:  # a client's long poll can hold it (it ignores SIGTERM then)
            process.kill()
            process.wait(timeout=10)


def _wait_until_up(url: str, process: subprocess.Popen[bytes], deadline_seconds: float) -> None:
    deadline = time.monotonic() + deadline_seconds
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"{VCSIM} exited with status {process.returncode}")
        try:
            with urllib.request.urlopen(url, timeout=1):
                return
        except OSError:
            time.sleep(0.1)
    raise RuntimeError(f"{VCSIM} did not answer {url} within {deadline_seconds} s")


def vcsim_address(url: str) -> tuple[str, int]:
    """(host, port) of a simulator's SOAP URL, for clients that take them apart (pyVmomi's SmartConnect)."""
    address = urlsplit(url)
    assert address.hostname is not None and address.port is not None
    return address.hostname, address.port
