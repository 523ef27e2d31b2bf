"""What a SOAP session keeps (collectors, filters, views, event collectors): owned, destroyed with
its owner and its session, and bounded."""

from __future__ import annotations

from pathlib import Path

import pytest

from vismock.faults import InvalidState
from vismock.mockserver.state import Backend, sessions


def test_objects_end_with_their_owner_and_their_session(tmp_path: Path) -> None:
    backend = Backend(tmp_path / "state.sqlite3")
    key, other = backend.sessions.create("vismock"), backend.sessions.create("vismock")
    backend.sessions.add_object(key, "collector-1", "collector", "{}")
    backend.sessions.add_object(key, "filter-1", "filter", "{}", owner="collector-1")
    assert backend.sessions.object(other, "collector-1") is None  # another session's
    assert [item.id for item in backend.sessions.objects(key, "filter", "collector-1")] == ["filter-1"]
    assert backend.sessions.remove_object(key, "collector-1")
    assert backend.sessions.object(key, "filter-1") is None  # with its collector
    backend.sessions.add_object(key, "view-1", "view", "{}")
    backend.sessions.end(key)
    assert backend.sessions.object(key, "view-1") is None  # with its session
    backend.close()


def test_a_session_keeps_a_bounded_number_of_objects(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(sessions, "OBJECTS_PER_SESSION", 3)
    backend = Backend(tmp_path / "state.sqlite3")
    key = backend.sessions.create("vismock")
    for number in range(3):
        backend.sessions.add_object(key, f"view-{number}", "view", "{}")
    with pytest.raises(InvalidState, match="destroy some first"):
        backend.sessions.add_object(key, "view-3", "view", "{}")
    assert backend.sessions.remove_object(key, "view-0")
    backend.sessions.add_object(key, "view-3", "view", "{}")  # room again
    backend.close()
