"""What create_app's services are built from: the settings, in the main process and in workers."""

from __future__ import annotations

from pathlib import Path

from vismock.mockserver.config import Settings
from vismock.mockserver.services import build_backend


def test_a_worker_attached_to_the_state_keeps_the_configured_task_cap(tmp_path: Path) -> None:
    """Workers of vismock serve attach; with the default cap they pruned tasks the file kept."""
    path = str(tmp_path / "state.sqlite3")
    main = build_backend(Settings(db=path, task_cap=1_000_000))
    worker = build_backend(Settings(db=path, task_cap=1_000_000, attach=True))
    assert (main.power.task_cap, worker.power.task_cap) == (1_000_000, 1_000_000)
    worker.close()
    main.close()
