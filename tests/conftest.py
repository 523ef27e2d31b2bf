"""Shared fixtures. Each area adds only its own fixtures here."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from hypothesis import settings

DATA = Path(__file__).parent / "data"

# CI (CI set, as .ci/run does) replays the same examples every run and writes no example database
# into the checkout; local runs keep exploring and remember what failed (.hypothesis/, ignored).
settings.register_profile("ci", derandomize=True, database=None, deadline=None, print_blob=True)
settings.register_profile("dev", deadline=None)
settings.load_profile(
    os.environ.get("VISMOCK_HYPOTHESIS_PROFILE") or ("ci" if os.environ.get("CI") else "dev")
)


# -- codec ----------------------------------------------------------------------------


@pytest.fixture(scope="session")
def seed_request() -> bytes:
    """The seed's request sample (root tag restored)."""
    return (DATA / "seed" / "request.xml").read_bytes()


@pytest.fixture(scope="session")
def seed_response() -> bytes:
    """The seed's response sample (root tag restored)."""
    return (DATA / "seed" / "response.xml").read_bytes()
