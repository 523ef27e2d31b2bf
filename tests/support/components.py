"""Real components a test needs (govc, chromium...): used when present; when absent, the test
skips with a message saying how to get it, except under CI (``CI`` set), where it fails."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path
from typing import NoReturn

import pytest


def required(path: Path, what: str, how: str) -> Path:
    """*path* if it exists; else skip (or, with ``CI`` set, fail) saying *what* is missing and *how*
    to get it."""
    if path.exists():
        return path
    missing(f"{what} is missing at {path} ({how})")


def command(name: str, what: str, how: str) -> str:
    """The path of the command *name* on PATH; else skip (or, with ``CI`` set, fail) saying *what* is
    missing and *how* to get it."""
    found = shutil.which(name)
    if found is None:
        missing(f"{what} ({name}) is not on PATH ({how})")
    return found


def missing(message: str) -> NoReturn:
    """Skip the test, or fail it under CI (which must provide every component)."""
    if os.environ.get("CI"):
        pytest.fail(f"{message}; CI must provide it", pytrace=False)
    pytest.skip(message)


def self_signed_certificate(folder: Path, name: str = "localhost") -> tuple[Path, Path]:
    """``(cert.pem, key.pem)`` in *folder*: a certificate for *name* signed by its own key, made by
    ``openssl req`` as an administrator would make one."""
    openssl = command("openssl", "OpenSSL's command line tool", "apt-get install openssl")
    cert, key = folder / "cert.pem", folder / "key.pem"
    request = ["req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1", "-subj", f"/CN={name}"]
    subprocess.run(
        [openssl, *request, "-keyout", str(key), "-out", str(cert)], check=True, capture_output=True
    )
    return cert, key
