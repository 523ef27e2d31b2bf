"""Rules of ``vismock serve --db FILE`` across a restart (docs/mock.md ``--db``, docs/tasks.md "The
inventory"): two real ``vismock serve`` runs on one state file, driven over HTTP only."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from tests.support.client import T0, Vcenter, http_transport
from tests.support.served import Served

pytestmark = pytest.mark.slow

TASKS = """\
tasks:
  - id: task-1
    name: PowerOnVM_Task
    timeline: [{state: queued}, {state: running, at: 5, progress: 30}, {state: success, at: 60}]
  - id: task-2
    name: PowerOffVM_Task
"""
OTHER_TASKS = """\
tasks:
  - id: task-9
    name: ResetVM_Task
"""


@contextmanager
def serving(folder: Path, tasks: Path, database: Path) -> Iterator[tuple[Vcenter, Served]]:
    server = Served(folder, "--tasks", str(tasks), "--db", str(database))
    try:
        yield Vcenter(http_transport(f"http://127.0.0.1:{server.port}")), server
    finally:
        assert server.stop() == 0, server.output


def test_a_restart_on_the_same_state_file_keeps_what_was_acknowledged(tmp_path: Path) -> None:
    tasks, database = tmp_path / "tasks.yaml", tmp_path / "state.sqlite3"
    tasks.write_text(TASKS)
    with serving(tmp_path, tasks, database) as (vcenter, _):
        vcenter.freeze()
        vcenter.add_task(
            "task-added", {"state": "running", "at": 5, "progress": 30}, {"state": "success", "at": 60}
        )
        vcenter.ok("DELETE", "tasks/task-2")
        vcenter.ok("POST", "faults", {"action": "error", "task": "task-1", "times": 3})
        vcenter.ok("POST", "overrides", {"vm": "TestDev", "fault": "InvalidState"})
        created = vcenter.soap().power("vm-601", "PowerOffVM_Task")
        vcenter.advance(30)
        journal = vcenter.count()
    with serving(tmp_path, tasks, database) as (vcenter, _):
        assert vcenter.now() == T0.replace(second=30)  # frozen where it was
        assert vcenter.task_ids() == ["task-1", "task-added", created]
        assert vcenter.ok("GET", "faults")["faults"][0]["times"] == 3
        assert [item["vm"] for item in vcenter.ok("GET", "overrides")["overrides"]] == ["TestDev"]
        assert vcenter.vm("vm-601")["powerState"] == "poweredOff"  # the power-off finished at 2 s
        assert (vcenter.peek("task-added").state, vcenter.peek("task-added").progress) == ("running", 30)
        assert vcenter.count() >= journal
        later = vcenter.soap().power("vm-601", "PowerOnVM_Task")
        assert int(later.removeprefix("task-")) > int(created.removeprefix("task-"))  # numbers go on
        vcenter.reset()
        assert vcenter.task_ids() == ["task-1", "task-2"]  # reset: the task file's


def test_a_restart_with_another_task_set_serves_the_tasks_given_now(tmp_path: Path) -> None:
    tasks, database = tmp_path / "tasks.yaml", tmp_path / "state.sqlite3"
    tasks.write_text(TASKS)
    with serving(tmp_path, tasks, database) as (vcenter, _):
        vcenter.freeze()
        vcenter.ok("POST", "faults", {"action": "delay", "delay_seconds": 0.01, "times": None})
        vcenter.status("task-1")
        assert (
            vcenter.count(task="task-1") == 1
        )  # written (the journal is written behind: docs/operations.md)
    tasks.write_text(OTHER_TASKS)
    with serving(tmp_path, tasks, database) as (vcenter, server):
        assert vcenter.task_ids() == ["task-9"]
        assert any("held another task set" in line for line in server.preamble), server.output
        assert vcenter.now() == T0  # the clock, fault rules and journal are kept
        assert len(vcenter.ok("GET", "faults")["faults"]) == 1
        assert vcenter.count(task="task-1") == 1
