"""build_backend: ``vismock serve``'s server process serves the state file as its main process
loaded it (attach), or its copy of the task file, and honours the same limits either way."""

from __future__ import annotations

from pathlib import Path

import pytest

from vismock.mockserver.config import Settings
from vismock.mockserver.services import build_backend

ONE_TASK = "tasks:\n  - id: task-1\n    name: PowerOnVM_Task\n"


@pytest.mark.parametrize("attach", [False, True])
def test_every_limit_reaches_the_backend_loaded_or_attached(tmp_path: Path, attach: bool) -> None:
    db = str(tmp_path / "state.sqlite3")
    limits = {"journal_cap": 7, "session_cap": 8, "session_lifetime": 90.0, "task_cap": 5, "dynamic": True}
    build_backend(Settings(db=db)).close()  # the main process loads the state file first
    settings = Settings(db=db, accounts={"ops": "pw"}, **limits)  # type: ignore[arg-type]
    backend = build_backend(settings, attach=attach)
    assert backend.task_cap == 5
    assert backend.journal.cap == 7
    assert backend.dynamic is True
    assert backend.sessions.check_login("ops", "pw") and not backend.sessions.check_login(
        "vismock", "vismock"
    )
    session = backend.sessions.create("ops")
    backend.advance(91)  # past the session's 90 s of life
    assert backend.sessions.user(session) is None


def test_attached_the_state_file_is_served_as_it_stands_whatever_the_file_says(tmp_path: Path) -> None:
    db, tasks, copy = str(tmp_path / "state.sqlite3"), tmp_path / "tasks.yaml", tmp_path / "copy.yaml"
    copy.write_text(ONE_TASK)
    build_backend(Settings(db=db, tasks=str(tasks)), scenario_file=copy).close()
    copy.write_text(ONE_TASK.replace("task-1", "task-2"))
    attached = build_backend(Settings(db=db, tasks=str(tasks)), scenario_file=copy, attach=True)
    assert [spec.id for spec in attached.tasks.specs()] == ["task-1"]
    attached.close()
    loaded = build_backend(Settings(db=db, tasks=str(tasks)), scenario_file=copy)  # a restart
    assert [spec.id for spec in loaded.tasks.specs()] == ["task-2"]
    loaded.close()
    fresh = build_backend(Settings(db=str(tmp_path / "new.sqlite3")), scenario_file=copy, attach=True)
    assert [spec.id for spec in fresh.tasks.specs()] == ["task-2"]  # an empty state file: the copy's
