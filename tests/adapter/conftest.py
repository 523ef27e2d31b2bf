"""Fixtures of the adapter's tests."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.support.both_faces import ServerPair
from tests.support.soap import live_server, make_app


@pytest.fixture(scope="module")
def servers() -> Iterator[ServerPair]:
    """Two live mocks: one for the operation over SOAP, one for its adapter face."""
    with live_server(make_app()) as over_soap, live_server(make_app()) as adapter_face:
        yield over_soap, adapter_face
