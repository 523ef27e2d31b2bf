"""The reference simulator (govmomi's vcsim, built at /tmp/vcsim-anchor by
``/work/shared/anchors/vcsim/build.sh``), started on a free port for tests that compare against it.

Outside CI a missing binary skips the test with how to build it; in CI (``CI`` set, as ``.ci/run``
does, which also builds it) a missing binary fails the test: a comparison never silently vanishes.
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

import pytest

VCSIM = Path(os.environ.get("VISMOCK_VCSIM", "/tmp/vcsim-anchor"))
BUILD = "bash /work/shared/anchors/vcsim/build.sh /tmp/vcsim-anchor"


def require_vcsim() -> Path:
    """The simulator's binary; skips (or, in CI, fails) the calling test when it is not built."""
    if VCSIM.is_file():
        return VCSIM
    message = f"the reference simulator {VCSIM} is not built; build it with: {BUILD}"
    if os.environ.get("CI"):
        pytest.fail(message, pytrace=False)
    pytest.skip(message)


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@contextmanager
def running_vcsim(deadline_seconds: float = 20.0) -> Iterator[tuple[str, int]]:
    """A fresh simulator on a free port of 127.0.0.1: ``(host, port)``; stopped afterwards."""
    binary = require_vcsim()
    port = free_port()
    process = subprocess.Popen(
        [str(binary), "-l", f"127.0.0.1:{port}"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    try:
        _wait_until_up(f"http://127.0.0.1:{port}/sdk/vimServiceVersions.xml", process, deadline_seconds)
        yield "127.0.0.1", port
    finally:
        process.terminate()
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
