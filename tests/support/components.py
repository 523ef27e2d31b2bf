"""Real components a test needs (govc, chromium...): used when present; when absent, the test
skips with a message saying how to get it, except under CI (``CI`` set), where it fails."""

from __future__ import annotations

import os
from pathlib import Path

import pytest


def required(path: Path, what: str, how: str) -> Path:
    """*path* if it exists; else skip (or, with ``CI`` set, fail) saying *what* is missing and *how*
    to get it."""
    if path.exists():
        return path
    message = f"{what} is missing at {path} ({how})"
    if os.environ.get("CI"):
        pytest.fail(f"{message}; CI must provide it", pytrace=False)
    pytest.skip(message)
