"""The server process killed under load (docs/operations.md "The server process dies"): granian
replaces it; with ``--db`` every acknowledged write is served again and is in the state file,
which passes SQLite's integrity check; without ``--db`` the scenario is served again."""

from __future__ import annotations

import http.client
import json
import os
import re
import signal
import sqlite3
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from tests.support.served import Served, served

CLIENTS = 6
SECONDS_BEFORE_KILL = 2.0
SECONDS_AFTER_KILL = 4.0
# Answers the killed process had sent may still be read by their clients just after the kill.
IN_FLIGHT_SECONDS = 0.3
SPAWNED = re.compile(r"Spawning worker-1 with PID: (\d+)")
SCENARIO = "tasks:\n  - id: task-1\n    name: PowerOnVM_Task\n"
CONNECTION_ERRORS = {"RemoteDisconnected", "ConnectionResetError", "BrokenPipeError"}

pytestmark = pytest.mark.slow  # a real `vismock serve` under load


@dataclass
class Client:
    """Adds tasks through the admin API until told to stop; remembers what was acknowledged."""

    number: int
    port: int
    acknowledged: list[tuple[float, str]] = field(default_factory=list)  # (when, task id)
    failures: list[tuple[float, str]] = field(default_factory=list)  # (when, what)

    def run(self, stop: threading.Event) -> None:
        count = 0
        while not stop.is_set():
            task_id = f"task-c{self.number}-{count}"
            count += 1
            body = json.dumps({"id": task_id, "name": "PowerOnVM_Task"})
            connection = http.client.HTTPConnection("127.0.0.1", self.port, timeout=10)
            try:
                connection.request("POST", "/_vismock/tasks", body, {"Content-Type": "application/json"})
                answer = connection.getresponse()
                answer.read()
                if answer.status == 201:
                    self.acknowledged.append((time.monotonic(), task_id))
                else:
                    self.failures.append((time.monotonic(), f"HTTP {answer.status}"))
            except (OSError, http.client.HTTPException) as error:
                self.failures.append((time.monotonic(), type(error).__name__))
            finally:
                connection.close()


def _server_pids(mock: Served) -> list[int]:
    """The PIDs of the server process granian started, in order, from its log lines."""
    return [int(pid) for pid in SPAWNED.findall(mock.output)]


def _wait_for(condition: Callable[[], bool], what: str, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.05)


@dataclass
class Run:
    """What happened around the kill."""

    acknowledged: list[tuple[float, str]]
    failures: list[tuple[float, str]]
    killed_at: float
    served: set[str]


def _kill_under_load(mock: Served) -> Run:
    """Clients adding tasks; the server process killed with SIGKILL after a while, more load after;
    then its replacement is the one answering."""
    (victim,) = _server_pids(mock)
    assert mock.call("GET", "/_vismock/health")["pid"] == victim
    clients = [Client(number, mock.port) for number in range(CLIENTS)]
    stop = threading.Event()
    threads = [threading.Thread(target=client.run, args=(stop,)) for client in clients]
    for thread in threads:
        thread.start()
    time.sleep(SECONDS_BEFORE_KILL)
    killed_at = time.monotonic()
    os.kill(victim, signal.SIGKILL)
    time.sleep(SECONDS_AFTER_KILL)
    stop.set()
    for thread in threads:
        thread.join(timeout=30)

    # Replaced, not shut down: a new server process answers, granian still runs.
    _wait_for(lambda: len(_server_pids(mock)) == 2, "a new server process")
    assert "Unexpected exit from worker-1" in mock.output
    assert "Granian shutdown" not in mock.output
    assert mock.process.poll() is None
    assert mock.call("GET", "/_vismock/health")["pid"] == _server_pids(mock)[1]

    acknowledged = sorted(ack for client in clients for ack in client.acknowledged)
    failures = [failure for client in clients for failure in client.failures]
    assert len([ack for ack in acknowledged if ack[0] < killed_at]) > 50  # load before the kill
    assert len([ack for ack in acknowledged if ack[0] > killed_at + IN_FLIGHT_SECONDS]) > 50  # and after
    # Only the requests the killed process held failed: connection errors, never an HTTP error, all
    # at the kill. Connections made while it was replaced waited for the new one (none refused).
    assert {what for _, what in failures} <= CONNECTION_ERRORS, failures
    assert all(killed_at - 0.5 < when < killed_at + 2.0 for when, _ in failures), failures
    assert len(failures) <= CLIENTS, failures  # at most the one request each client had in flight
    ids = {task["id"] for task in mock.call("GET", "/_vismock/tasks")["tasks"]}
    return Run(acknowledged, failures, killed_at, ids)


def test_with_db_a_replaced_server_process_serves_every_acknowledged_write(tmp_path: Path) -> None:
    database, scenario = tmp_path / "state.sqlite3", tmp_path / "tasks.yaml"
    scenario.write_text(SCENARIO)
    # The journal keeps every entry of the run (the default cap, 10,000, can drop the first ones).
    with served("--tasks", str(scenario), "--db", str(database), "--journal-cap", "1000000") as mock:
        run = _kill_under_load(mock)
        acknowledged = {task_id for _, task_id in run.acknowledged}
        assert acknowledged | {"task-1"} <= run.served
        assert mock.stop(signal.SIGTERM) == 0

    with sqlite3.connect(database) as db:
        assert db.execute("PRAGMA integrity_check").fetchall() == [("ok",)]
        stored = {row[0] for row in db.execute("SELECT id FROM objects")}
    assert acknowledged <= stored


def test_without_db_a_replaced_server_process_serves_the_scenario_again(tmp_path: Path) -> None:
    scenario = tmp_path / "tasks.yaml"
    scenario.write_text(SCENARIO)
    with served("--tasks", str(scenario)) as mock:
        run = _kill_under_load(mock)
        before = {task_id for when, task_id in run.acknowledged if when < run.killed_at}
        after = {task_id for when, task_id in run.acknowledged if when > run.killed_at + IN_FLIGHT_SECONDS}
        # The scenario again, and what was acknowledged since: what came before the kill is gone.
        assert "task-1" in run.served
        assert after <= run.served
        assert not before & run.served
        assert run.served <= {"task-1"} | {task_id for _, task_id in run.acknowledged}
        assert mock.stop(signal.SIGTERM) == 0


def test_a_replaced_server_process_does_not_read_the_task_file_again(tmp_path: Path) -> None:
    """It serves what was loaded (the state file, or serve's copy of the task file as loaded): a
    file left broken on disk, not reloaded, neither stops it nor is served."""
    scenario = tmp_path / "tasks.yaml"
    scenario.write_text(SCENARIO)
    for extra in ([], ["--db", str(tmp_path / "state.sqlite3")]):
        with served("--tasks", str(scenario), *extra) as mock:
            scenario.write_text(SCENARIO.replace("task-1", "task-2") + "    colour: blue\n")
            os.kill(_server_pids(mock)[0], signal.SIGKILL)
            _wait_for(lambda: len(_server_pids(mock)) == 2, "a new server process")
            _wait_for(lambda: _answers(mock), "the new server process to answer")
            assert [task["id"] for task in mock.call("GET", "/_vismock/tasks")["tasks"]] == ["task-1"]
            assert "Granian shutdown" not in mock.output
            assert mock.stop(signal.SIGTERM) == 0
        scenario.write_text(SCENARIO)


def test_a_replaced_server_process_serves_the_last_reloaded_scenario_without_db(tmp_path: Path) -> None:
    scenario = tmp_path / "tasks.yaml"
    scenario.write_text(SCENARIO)
    with served("--tasks", str(scenario)) as mock:
        scenario.write_text(SCENARIO.replace("task-1", "task-2"))
        assert mock.call("POST", "/_vismock/reload", b"{}", "application/json")["changed"] is True
        scenario.write_text(SCENARIO.replace("task-1", "task-3"))  # edited, not reloaded
        os.kill(_server_pids(mock)[0], signal.SIGKILL)
        _wait_for(lambda: len(_server_pids(mock)) == 2, "a new server process")
        _wait_for(lambda: _answers(mock), "the new server process to answer")
        assert [task["id"] for task in mock.call("GET", "/_vismock/tasks")["tasks"]] == ["task-2"]
        assert mock.stop(signal.SIGTERM) == 0


def _answers(mock: Served) -> bool:
    try:
        return bool(mock.call("GET", "/_vismock/health")["pid"] == _server_pids(mock)[-1])
    except OSError:
        return False
