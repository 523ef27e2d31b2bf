"""Session activity (callCount, lastActiveTime) counted in shared memory: no call lost between
threads and processes, and no database write per call."""

from __future__ import annotations

import fcntl
import multiprocessing
import os
import threading
from pathlib import Path

from vismock.mockserver.state import Backend
from vismock.mockserver.state.activity import LANES, SHARED_LANE, Activity, ActivityCounters, session_tag

CALLS = 2000


def _touch(path: Path, key: str, calls: int, lane: str) -> None:
    backend = Backend(path)
    try:
        for _ in range(calls):
            backend.sessions.touch(key)
        claimed = backend.sessions._activity._my_claim().lane  # which lane this process counted in
        assert (claimed == SHARED_LANE) == (lane == "shared"), claimed
    finally:
        backend.close()


def _fork_touching(
    path: Path, key: str, processes: int, lane: str = "own"
) -> list[multiprocessing.process.BaseProcess]:
    context = multiprocessing.get_context("fork")
    started = [context.Process(target=_touch, args=(path, key, CALLS, lane)) for _ in range(processes)]
    for process in started:
        process.start()
    return started


def test_processes_and_threads_lose_no_call(tmp_path: Path) -> None:
    path = tmp_path / "state.sqlite3"
    backend = Backend(path)
    key = backend.sessions.create("vismock")
    children = _fork_touching(path, key, 3)
    threads = [
        threading.Thread(target=lambda: [backend.sessions.touch(key) for _ in range(CALLS)]) for _ in range(4)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    for child in children:
        child.join(timeout=60)
        assert child.exitcode == 0
    info = backend.sessions.info(key)
    assert info is not None and info.calls == 1 + 7 * CALLS  # the Login, then every touch
    backend.close()


def test_without_a_free_lane_processes_share_one_under_a_lock(tmp_path: Path) -> None:
    path = tmp_path / "state.sqlite3"
    backend = Backend(path)
    key = backend.sessions.create("vismock")
    # Hold every lane from this process: the children find none free and take the shared one.
    holder = os.open(f"{path}-lanes", os.O_RDWR | os.O_CREAT, 0o600)
    fcntl.lockf(holder, fcntl.LOCK_EX, LANES, 0)
    try:
        children = _fork_touching(path, key, 3, lane="shared")
        for child in children:
            child.join(timeout=60)
            assert child.exitcode == 0
    finally:
        os.close(holder)
    info = backend.sessions.info(key)
    assert info is not None and info.calls == 1 + 3 * CALLS
    backend.close()


def test_a_slot_given_to_another_session_is_not_counted_for_the_old_one(tmp_path: Path) -> None:
    counters = ActivityCounters(tmp_path / "state", slots=2)
    first, second = session_tag("first"), session_tag("second")
    counters.start(0, first, now_us=10)
    counters.touch(0, first, now_us=20)
    assert counters.read(0, first) == Activity(2, 20)
    counters.start(2, second, now_us=30)  # slot 2 of 2: the same place, now another session's
    counters.touch(0, first, now_us=40)
    assert counters.read(0, first) is None
    assert counters.read(0, second) == Activity(1, 30)
    assert SHARED_LANE == LANES
    counters.close()


def test_touching_writes_nothing_to_the_database(tmp_path: Path) -> None:
    backend = Backend(tmp_path / "state.sqlite3")
    key = backend.sessions.create("vismock")
    revision, changes = backend.revision(), backend.database.connection().total_changes
    for _ in range(100):
        backend.sessions.touch(key)
    assert (backend.revision(), backend.database.connection().total_changes) == (revision, changes)
    backend.close()
