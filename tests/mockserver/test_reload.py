"""Reload: ``POST /_vismock/reload`` and SIGHUP read the task file again; a file that does not load
changes nothing and is answered with its file and line."""

from __future__ import annotations

import os
import re
import signal
import time
from pathlib import Path
from typing import Any

import pytest
from flask import Flask

from tests.support import JSON
from tests.support.served import Served, served
from vismock.mockserver.app import create_app
from vismock.mockserver.services import services_of
from vismock.mockserver.state.taskfile import load_builtin_tasks

ONE_TASK = """\
tasks:
  - id: task-1
    name: PowerOnVM_Task
    progression: manual
    timeline: [{state: queued}, {state: running, progress: 50}, {state: success}]
"""
TWO_TASKS = (
    ONE_TASK
    + """\
  - id: task-2
    name: PowerOffVM_Task
"""
)
BROKEN = (
    ONE_TASK
    + """\
  - id: task-2
    name: PowerOffVM_Task
    timeline: [{state: runing}]
"""
)
WITH_INVENTORY = (
    ONE_TASK
    + """\
inventory:
  datacenters:
    - name: DC-Reloaded
      hosts: [{name: esx-r, vms: [{id: vm-77, name: reloaded-vm, power: poweredOff}]}]
"""
)
BROKEN_LINE = 8  # the line of "timeline: [{state: runing}]" in BROKEN


@pytest.fixture
def tasks_file(tmp_path: Path) -> Path:
    path = tmp_path / "tasks.yaml"
    path.write_text(ONE_TASK)
    return path


@pytest.fixture
def app(tmp_path: Path, tasks_file: Path) -> Flask:
    return create_app({"VISMOCK_DB": str(tmp_path / "state.sqlite3"), "VISMOCK_TASKS": str(tasks_file)})


def _ids(app: Flask) -> list[str]:
    return [task["id"] for task in app.test_client().get("/_vismock/tasks").get_json()["tasks"]]


def _reload(app: Flask) -> tuple[int, dict[str, Any]]:
    answer = app.test_client().post("/_vismock/reload", content_type=JSON)
    return answer.status_code, answer.get_json()


def test_a_changed_file_replaces_the_tasks_and_keeps_journal_rules_and_clock(
    app: Flask, tasks_file: Path
) -> None:
    client = app.test_client()
    assert client.post("/_vismock/tasks/task-1/advance", json={}).status_code == 200
    assert client.post("/_vismock/faults", json={"action": "delay", "times": 5}).status_code == 201
    frozen = client.post("/_vismock/clock/freeze", json={"at": "2030-01-01T00:00:00Z"}).get_json()
    tasks_file.write_text(TWO_TASKS)
    status, answer = _reload(app)
    assert (status, answer) == (
        200,
        {"reloaded": True, "source": str(tasks_file), "tasks": 2, "entities": 27, "changed": True},
    )
    assert _ids(app) == ["task-1", "task-2"]
    task_1 = client.get("/_vismock/tasks/task-1").get_json()["info"]
    assert task_1["state"] == "queued"  # its lifecycle started over
    assert len(client.get("/_vismock/faults").get_json()["faults"]) == 1
    clock = client.get("/_vismock/clock").get_json()
    assert (clock["now"], clock["frozen"]) == (frozen["now"], True)
    operations = [entry.operation for entry in services_of(app).backend.journal.entries(face="admin")]
    assert operations[-1] == "POST /_vismock/reload"
    # reset now returns to the file as reloaded
    client.post("/_vismock/reset", content_type=JSON)
    assert _ids(app) == ["task-1", "task-2"]


def test_an_unchanged_file_keeps_the_running_state(app: Flask) -> None:
    client = app.test_client()
    client.post("/_vismock/tasks/task-1/advance", json={})
    status, answer = _reload(app)
    assert (status, answer["changed"]) == (200, False)
    assert client.get("/_vismock/tasks/task-1").get_json()["info"]["progress"] == 50


def test_a_broken_file_changes_nothing_and_says_where(app: Flask, tasks_file: Path) -> None:
    client = app.test_client()
    client.post("/_vismock/tasks/task-1/advance", json={})
    before = client.get("/_vismock/tasks").get_json()
    tasks_file.write_text(BROKEN)
    status, answer = _reload(app)
    assert status == 400
    assert answer == {
        "error": f"{tasks_file}:{BROKEN_LINE}: tasks[1].timeline[0].state: 'runing' is not one of queued,"
        " running, success, error",
        "file": str(tasks_file),
        "line": BROKEN_LINE,
    }
    assert client.get("/_vismock/tasks").get_json() == before


def test_a_file_gone_is_a_clear_error_too(app: Flask, tasks_file: Path) -> None:
    tasks_file.unlink()
    status, answer = _reload(app)
    assert status == 400
    assert answer["error"].startswith(f"{tasks_file}: cannot read the task file: [Errno 2] No such file")
    assert (answer["file"], answer["line"]) == (str(tasks_file), None)
    assert _ids(app) == ["task-1"]


def test_the_inventory_is_reloaded_too(app: Flask, tasks_file: Path) -> None:
    tasks_file.write_text(WITH_INVENTORY)
    status, answer = _reload(app)
    assert (status, answer["changed"]) == (200, True)
    vm = app.test_client().get("/_vismock/inventory/vm-77").get_json()
    assert (vm["name"], vm["powerState"]) == ("reloaded-vm", "poweredOff")


WITH_BEHAVIOURS = (
    ONE_TASK
    + """\
operations:
  Power_Off_VM: {timeline: [{state: success, at: 0}]}
overrides:
  - {operation: Power_On_VM, vm: win1, fault: InvalidState, after: 0}
"""
)


def test_operations_and_overrides_are_reloaded_too(app: Flask, tasks_file: Path) -> None:
    client = app.test_client()
    assert "PowerOffVM_Task" not in client.get("/_vismock/operations").get_json()["operations"]
    tasks_file.write_text(WITH_BEHAVIOURS)
    status, answer = _reload(app)
    assert (status, answer["changed"]) == (200, True)
    timeline = client.get("/_vismock/operations").get_json()["operations"]["PowerOffVM_Task"]["timeline"]
    assert timeline == [{"state": "success", "at": 0}]
    (override,) = client.get("/_vismock/overrides").get_json()["overrides"]
    assert (override["operation"], override["vm"], override["times"]) == ("PowerOnVM_Task", "win1", 1)
    assert _reload(app) == (200, {**answer, "changed": False})  # the same file again: nothing replaced


def test_a_reloaded_inventory_forgets_the_old_power_states(app: Flask, tasks_file: Path) -> None:
    client = app.test_client()
    tasks_file.write_text(WITH_INVENTORY)  # vm-77 poweredOff
    assert _reload(app)[0] == 200
    assert client.patch("/_vismock/inventory/vm-77", json={"powerState": "poweredOn"}).status_code == 200
    tasks_file.write_text(WITH_INVENTORY.replace("reloaded-vm", "renamed-vm"))  # still poweredOff
    assert _reload(app)[1]["changed"] is True
    vm = client.get("/_vismock/inventory/vm-77").get_json()
    assert (vm["name"], vm["powerState"]) == ("renamed-vm", "poweredOff")  # the file's, as at start-up


def test_tasks_given_in_code_have_no_file_to_reload(tmp_path: Path) -> None:
    app = create_app({"VISMOCK_DB": str(tmp_path / "s.sqlite3"), "VISMOCK_TASK_SPECS": load_builtin_tasks()})
    status, answer = _reload(app)
    assert status == 409
    assert answer["error"] == "the tasks were given in code (VISMOCK_TASK_SPECS): there is no file to read"


# -- vismock serve, for real ------------------------------------------------------------------------


def _served_ids(mock: Served) -> list[str]:
    return [task["id"] for task in mock.call("GET", "/_vismock/tasks")["tasks"]]


def _wait_for_log(mock: Served, text: str, count: int = 1, timeout: float = 10.0) -> list[str]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        lines = [line for line in mock.output.splitlines() if text in line]
        if len(lines) >= count:
            return lines
        time.sleep(0.05)
    raise AssertionError(f"no {count} line(s) with {text!r} in:\n{mock.output}")


@pytest.mark.slow
def test_sighup_reloads_once_and_a_broken_file_keeps_the_state(tmp_path: Path) -> None:
    tasks_file = tmp_path / "tasks.yaml"
    tasks_file.write_text(ONE_TASK)
    arguments = ["--tasks", str(tasks_file), "--db", str(tmp_path / "s.sqlite3")]
    with served(*arguments) as mock:
        tasks_file.write_text(TWO_TASKS)
        os.kill(mock.process.pid, signal.SIGHUP)
        (line,) = _wait_for_log(mock, "vismock.reload")
        assert line.endswith(
            f"INFO vismock.reload: reloaded {tasks_file}: 2 task(s), 27 inventory entities"
            " (scenario replaced)"
        )
        assert _served_ids(mock) == ["task-1", "task-2"]

        tasks_file.write_text(BROKEN)
        os.killpg(mock.process.pid, signal.SIGHUP)  # the whole group: the server process ignores it
        _, refused = _wait_for_log(mock, "vismock.reload", count=2)
        assert refused.endswith(
            "ERROR vismock.reload: reload refused, still serving what was loaded before: "
            f"{tasks_file}:{BROKEN_LINE}: tasks[1].timeline[0].state: 'runing' is not one of queued,"
            " running, success, error"
        )
        time.sleep(0.5)
        assert len([line for line in mock.output.splitlines() if "vismock.reload" in line]) == 2
        assert _served_ids(mock) == ["task-1", "task-2"]
        assert len(re.findall("Spawning worker", mock.output)) == 1  # the same server process
        assert mock.stop(signal.SIGTERM) == 0


@pytest.mark.slow
def test_post_reload_to_vismock_serve(tmp_path: Path) -> None:
    tasks_file = tmp_path / "tasks.yaml"
    tasks_file.write_text(ONE_TASK)
    with served("--tasks", str(tasks_file), "--db", str(tmp_path / "s.sqlite3")) as mock:
        assert _served_ids(mock) == ["task-1"]
        tasks_file.write_text(TWO_TASKS)
        assert mock.call("POST", "/_vismock/reload", b"", "application/json")["changed"] is True
        assert _served_ids(mock) == ["task-1", "task-2"]
        tasks_file.write_text(BROKEN)
        answer = mock.call("POST", "/_vismock/reload", b"", "application/json")
        assert (answer["file"], answer["line"]) == (str(tasks_file), BROKEN_LINE)
        assert _served_ids(mock) == ["task-1", "task-2"]
        assert mock.stop(signal.SIGTERM) == 0


@pytest.mark.slow
@pytest.mark.parametrize("server", ["waitress", "gunicorn"])
def test_sighup_reloads_on_the_other_servers(tmp_path: Path, server: str) -> None:
    tasks_file = tmp_path / "tasks.yaml"
    tasks_file.write_text(ONE_TASK)
    arguments = ["--server", server, "--tasks", str(tasks_file), "--db", str(tmp_path / "s.sqlite3")]
    with served(*arguments) as mock:
        tasks_file.write_text(TWO_TASKS)
        os.kill(mock.process.pid, signal.SIGHUP)
        _wait_for_log(mock, "vismock.reload: reloaded")
        _wait_for_ids(mock, ["task-1", "task-2"])  # a reload by SIGHUP is asynchronous
        assert mock.stop(signal.SIGTERM) == 0


def _wait_for_ids(mock: Served, wanted: list[str], timeout: float = 15.0) -> None:
    deadline = time.monotonic() + timeout
    while True:
        try:
            ids = [task["id"] for task in mock.call("GET", "/_vismock/tasks")["tasks"]]
        except OSError:
            ids = []  # a worker being replaced
        if ids == wanted:
            return
        if time.monotonic() > deadline:
            raise AssertionError(f"served {ids}, not {wanted}")
        time.sleep(0.1)


@pytest.mark.slow
def test_a_gunicorn_worker_replaced_does_not_read_the_task_file(tmp_path: Path) -> None:
    """gunicorn's replacement of a dead worker serves what was loaded (the copy vismock serve keeps
    of the task file as last loaded): a file left broken on disk does not stop it."""
    tasks_file = tmp_path / "tasks.yaml"
    tasks_file.write_text(ONE_TASK)
    with served("--server", "gunicorn", "--tasks", str(tasks_file)) as mock:
        first = mock.call("GET", "/_vismock/health")["pid"]
        tasks_file.write_text(BROKEN)
        os.kill(mock.process.pid, signal.SIGHUP)
        _wait_for_log(mock, "reload refused")
        assert mock.call("GET", "/_vismock/health")["pid"] == first  # gunicorn's SIGHUP restarts nothing
        os.kill(first, signal.SIGKILL)
        deadline = time.monotonic() + 15
        while _health_pid(mock) in (first, None) and time.monotonic() < deadline:
            time.sleep(0.1)
        assert _health_pid(mock) not in (first, None)  # a new worker answers
        assert _served_ids(mock) == ["task-1"]
        assert mock.stop(signal.SIGTERM) == 0


def _health_pid(mock: Served) -> int | None:
    try:
        pid: int = mock.call("GET", "/_vismock/health")["pid"]
    except OSError:
        return None
    return pid
