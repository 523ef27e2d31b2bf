"""How fast is the mock's state layer on the request hot path?

Prints calls/s of the Backend calls every request makes (task_info, record,
take_fault, session_user), in one process and with several processes sharing
one database file, next to a bare SQLite primary-key SELECT on the same file
as the ceiling. Each figure is the best of three runs.
Run: ``python bench/store.py [--seconds 3] [--processes 2]``.
"""

from __future__ import annotations

import argparse
import multiprocessing
import tempfile
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from vismock.mockserver.state import Backend, FaultRule, JournalEntry
from vismock.mockserver.state.taskfile import load_builtin_tasks


def rate(call: Callable[[], Any], seconds: float, rounds: int = 3) -> float:
    """Calls per second of *call*: the best of *rounds* runs sharing *seconds* (the machine is shared,
    and the best run is the one least disturbed by other jobs)."""
    return max(_rate_once(call, seconds / rounds) for _ in range(rounds))


def _rate_once(call: Callable[[], Any], seconds: float) -> float:
    calls = 0
    start = time.perf_counter()
    deadline = start + seconds
    while True:
        for _ in range(200):
            call()
        calls += 200
        now = time.perf_counter()
        if now >= deadline:
            return calls / (now - start)


def workloads(backend: Backend) -> dict[str, Callable[[], Any]]:
    entry = JournalEntry(
        time=datetime.now(UTC), face="adapter", operation="Retrieve_Task_Status", task_ids=("task-525",)
    )
    session = backend.sessions.create("vismock")
    connection = backend.database.connection()  # the floor: one bare SQLite SELECT by primary key

    return {
        "sqlite SELECT by key (ceiling)": lambda: connection.execute(
            "SELECT rev FROM tasks WHERE id = ?", ("task-525",)
        ).fetchone(),
        "task_info, time progression": lambda: backend.tasks.info("task-1001"),
        "task_info, finished task": lambda: backend.tasks.info("task-2675"),
        "task_info, polls (write per read)": lambda: backend.tasks.info("task-bench-polls"),
        "task_info, poll=False": lambda: backend.tasks.info("task-bench-polls", poll=False),
        "record (journal append, cap 10000)": lambda: backend.journal.record(entry),
        "take_fault, no rules": lambda: backend.faults.take(face="adapter", operation="Retrieve_Task_Status"),
        "session_user": lambda: backend.sessions.user(session),
    }


def prepare(path: Path) -> None:
    backend = Backend(path, tasks=load_builtin_tasks())
    polls = load_builtin_tasks()[3]
    # A polls task that never finishes within the benchmark, so every read is a counted write.
    from dataclasses import replace

    from vismock.mockserver.state import Step

    endless = replace(
        polls, id="task-bench-polls", timeline=(Step("queued", 0), Step("running", 1), Step("success", 10**9))
    )
    backend.tasks.put([endless])
    backend.close()


def run_one(path: str, seconds: float, names: list[str] | None, queue: Any = None) -> dict[str, float]:
    backend = Backend(path)
    results = {}
    for name, call in workloads(backend).items():
        if names is None or name in names:
            results[name] = rate(call, seconds)
    if queue is not None:
        queue.put(results)
    return results


def take_fault_with_rule(path: str, seconds: float) -> float:
    backend = Backend(path)
    backend.faults.add(FaultRule(action="delay", times=None, task="task-other"))
    backend.faults.add(
        FaultRule(action="delay", times=None, probability=0.0, operation="Retrieve_Task_Status")
    )
    result = rate(lambda: backend.faults.take(face="adapter", operation="Retrieve_Task_Status"), seconds)
    backend.faults.clear()
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--seconds", type=float, default=3.0, help="per workload, split in 3 runs")
    parser.add_argument("--processes", type=int, default=2)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "state.sqlite3"
        prepare(path)
        single = run_one(str(path), args.seconds, None)
        single["take_fault, 2 rules, none firing"] = take_fault_with_rule(str(path), args.seconds)
        context = multiprocessing.get_context("spawn")
        queue = context.Queue()
        names = [name for name in single if not name.startswith("take_fault, 2")]
        children = [
            context.Process(target=run_one, args=(str(path), args.seconds, names, queue))
            for _ in range(args.processes)
        ]
        for child in children:
            child.start()
        shared = [queue.get() for _ in children]
        for child in children:
            child.join()
    ceiling = single["sqlite SELECT by key (ceiling)"]
    print(f"{'workload':45} {'1 process':>12} {'vs ceiling':>10} {f'{args.processes} processes (sum)':>22}")
    for name, value in single.items():
        total = sum(result.get(name, 0.0) for result in shared)
        together = f"{total:>22,.0f}" if total else f"{'-':>22}"
        print(f"{name:45} {value:>12,.0f} {value / ceiling:>10.2f} {together}")


if __name__ == "__main__":
    main()
