"""Helpers the tests share (imported as ``tests.support...``): where the data is, the SOAP helpers,
served mocks."""

from __future__ import annotations

from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent.parent  # the repository
DATA = ROOT / "tests" / "data"
# What every POST, PUT and PATCH to the admin API must say, with a body or without (faces/guard.py).
JSON = "application/json"
