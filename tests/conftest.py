"""Shared fixtures. Each area adds only its own fixtures here."""

from __future__ import annotations

from pathlib import Path

import pytest

DATA = Path(__file__).parent / "data"


# -- codec ----------------------------------------------------------------------------


@pytest.fixture(scope="session")
def seed_request() -> bytes:
    """The seed's request sample (root tag restored)."""
    return (DATA / "seed" / "request.xml").read_bytes()


@pytest.fixture(scope="session")
def seed_response() -> bytes:
    """The seed's response sample (root tag restored)."""
    return (DATA / "seed" / "response.xml").read_bytes()
