"""A worker killed under load: ``vismock serve --workers 2`` replaces it, the other keeps serving,
and every acknowledged write is in the state file, which passes SQLite's integrity check."""

from __future__ import annotations

import http.client
import json
import os
import re
import signal
import sqlite3
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from tests.support.served import Served, served

CLIENTS = 6
SECONDS_BEFORE_KILL = 2.0
SECONDS_AFTER_KILL = 4.0
SPAWNED = re.compile(r"Spawning worker-(\d+) with PID: (\d+)")

pytestmark = pytest.mark.slow  # a real `vismock serve` under load


@dataclass
class Client:
    """Adds tasks through the admin API until told to stop; remembers what was acknowledged."""

    number: int
    port: int
    acknowledged: list[str] = field(default_factory=list)
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
                    self.acknowledged.append(task_id)
                else:
                    self.failures.append((time.monotonic(), f"HTTP {answer.status}"))
            except (OSError, http.client.HTTPException) as error:
                self.failures.append((time.monotonic(), type(error).__name__))
            finally:
                connection.close()


def _workers(mock: Served) -> dict[int, int]:
    """The latest PID of each worker number, from granian's log lines."""
    return {int(number): int(pid) for number, pid in SPAWNED.findall(mock.output)}


def _wait_for(condition: object, what: str, timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():  # type: ignore[operator]
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.05)


def _answering_pids(mock: Served, wanted: set[int], timeout: float = 20.0) -> set[int]:
    """The worker PIDs that answer /health on fresh connections, until all of *wanted* have."""
    seen: set[int] = set()
    deadline = time.monotonic() + timeout
    while not wanted <= seen and time.monotonic() < deadline:
        seen.add(mock.call("GET", "/_vismock/health")["pid"])
    return seen


@pytest.mark.parametrize("journal", ["written-behind", "--journal-sync"])
def test_a_worker_killed_under_load_is_replaced_and_nothing_acknowledged_is_lost(
    tmp_path: Path, journal: str
) -> None:
    database = tmp_path / "state.sqlite3"
    extra = [journal] if journal.startswith("--") else []
    # The journal keeps every entry of the run (the default cap, 10,000, can drop the first ones).
    with served("--workers", "2", "--db", str(database), "--journal-cap", "1000000", *extra) as mock:
        _wait_for(lambda: len(_workers(mock)) == 2, "two workers")
        victim = _workers(mock)[1]
        clients = [Client(number, mock.port) for number in range(CLIENTS)]
        stop = threading.Event()
        threads = [threading.Thread(target=client.run, args=(stop,)) for client in clients]
        for thread in threads:
            thread.start()
        time.sleep(SECONDS_BEFORE_KILL)
        os.kill(victim, signal.SIGKILL)
        killed_at = time.monotonic()
        time.sleep(SECONDS_AFTER_KILL)
        stop.set()
        for thread in threads:
            thread.join(timeout=30)

        # Replaced, not shut down: a new worker-1, both workers answering, the server running.
        _wait_for(lambda: _workers(mock)[1] != victim, "a new worker-1")
        assert "Unexpected exit from worker-1" in mock.output
        assert "Granian shutdown" not in mock.output
        assert mock.process.poll() is None
        replacement, survivor = _workers(mock)[1], _workers(mock)[2]
        assert _answering_pids(mock, {replacement, survivor}) == {replacement, survivor}

        acknowledged = [task_id for client in clients for task_id in client.acknowledged]
        failures = [failure for client in clients for failure in client.failures]
        assert len(acknowledged) > 100  # there was load before and after the kill
        after_kill = [task_id for client in clients for task_id in client.acknowledged[-5:]]
        # Only requests the dead worker was answering failed: connection errors, never an HTTP
        # error, all within moments of the kill.
        assert all(what in ("RemoteDisconnected", "ConnectionResetError") for _, what in failures), failures
        assert all(killed_at - 0.5 < when < killed_at + 2.0 for when, _ in failures), failures
        served_ids = {task["id"] for task in mock.call("GET", "/_vismock/tasks")["tasks"]}
        assert set(acknowledged) <= served_ids
        assert set(after_kill) <= served_ids
        assert mock.stop(signal.SIGTERM) == 0

    with sqlite3.connect(database) as db:
        assert db.execute("PRAGMA integrity_check").fetchall() == [("ok",)]
        stored = {row[0] for row in db.execute("SELECT id FROM tasks")}
        assert set(acknowledged) <= stored
        if journal == "--journal-sync":  # each answer's journal entry was committed before it
            journaled = {
                json.loads(row[0])[0]
                for row in db.execute("SELECT task_ids FROM journal WHERE operation = 'POST /_vismock/tasks'")
            }
            assert set(acknowledged) <= journaled
