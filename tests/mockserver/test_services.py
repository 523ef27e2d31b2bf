"""build_backend: the worker processes of ``vismock serve`` attach to the state file the main
process loaded, and must honour the same limits as a Backend that loads it."""

from __future__ import annotations

from pathlib import Path

import pytest

from vismock.mockserver.config import Settings
from vismock.mockserver.services import build_backend


@pytest.mark.parametrize("attach", [False, True])
def test_every_limit_reaches_the_backend_loaded_or_attached(tmp_path: Path, attach: bool) -> None:
    db = str(tmp_path / "state.sqlite3")
    limits = {"journal_cap": 7, "session_cap": 8, "session_lifetime": 90.0, "task_cap": 5, "dynamic": True}
    build_backend(Settings(db=db))  # the main process loads the state file first
    settings = Settings(db=db, attach=attach, accounts={"ops": "pw"}, **limits)  # type: ignore[arg-type]
    backend = build_backend(settings)
    assert backend.task_cap == 5
    assert backend.journal.cap == 7
    assert backend.tasks.dynamic is True
    assert backend.sessions.check_login("ops", "pw") and not backend.sessions.check_login(
        "vismock", "vismock"
    )
    session = backend.sessions.create("ops")
    backend.advance(91)  # past the session's 90 s of life
    assert backend.sessions.user(session) is None
