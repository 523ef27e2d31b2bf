"""How fast is the mock's state layer on the request hot path?

Prints calls/s of the Backend calls requests make (a task's info read, a journal entry, a fault
rule lookup, a session check), with the state in memory and written through to ``--db``, next to
the floor every one of them pays: a registry transaction that changes nothing (the lock, the
clock read, the schedule checked). A poll of a task that progresses by polls changes the state on
every read, so with ``--db`` it is a SQLite commit each: the cost of write-through. Each figure is
the best of three runs (the machine is shared). Not a test: numbers depend on the machine.

    python bench/store.py [--seconds 3]
"""

from __future__ import annotations

import argparse
import tempfile
import time
from collections.abc import Callable
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from vismock.mockserver.state import Backend, FaultRule, JournalEntry, Step
from vismock.mockserver.state.taskfile import load_builtin


def rate(call: Callable[[], Any], seconds: float, rounds: int = 3) -> float:
    """Calls per second of *call*: the best of *rounds* runs sharing *seconds*."""
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


def backend(path: Path | None) -> Backend:
    """The built-in scenario, plus a task that progresses by polls and never ends within the run
    (so each read of it is a change)."""
    scenario = load_builtin()
    polls = next(spec for spec in scenario.tasks if spec.progression == "polls")
    endless = replace(
        polls, id="task-bench-polls", timeline=(Step("queued", 0), Step("running", 1), Step("success", 10**9))
    )
    return Backend(path, tasks=[*scenario.tasks, endless], inventory=scenario.inventory or ())


def workloads(state: Backend) -> dict[str, Callable[[], Any]]:
    entry = JournalEntry(
        time=datetime.now(UTC), face="adapter", operation="Retrieve_Task_Status", task_ids=("task-525",)
    )
    session = state.sessions.create("vismock")
    registry = state.registry

    def empty_transaction() -> None:
        with registry.transaction():
            pass

    return {
        "empty transaction (floor)": empty_transaction,
        "task info, time progression": lambda: state.tasks.info("task-1009"),
        "task info, finished task": lambda: state.tasks.info("task-2675"),
        "task info, polls (a change per read)": lambda: state.tasks.info("task-bench-polls"),
        "task info, peek (poll=False)": lambda: state.tasks.info("task-bench-polls", poll=False),
        "journal record (cap 10000)": lambda: state.journal.record(entry),
        "fault take, no rules": lambda: state.faults.take(face="adapter", operation="Retrieve_Task_Status"),
        "session user": lambda: state.sessions.user(session),
    }


def measure(path: Path | None, seconds: float) -> dict[str, float]:
    state = backend(path)
    try:
        results = {name: rate(call, seconds) for name, call in workloads(state).items()}
        state.faults.add(FaultRule(action="delay", times=None, task="task-other"))
        state.faults.add(
            FaultRule(action="delay", times=None, probability=0.0, operation="Retrieve_Task_Status")
        )
        take = state.faults.take
        results["fault take, 2 rules, none firing"] = rate(
            lambda: take(face="adapter", operation="Retrieve_Task_Status"), seconds
        )
        return results
    finally:
        state.close()


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--seconds", type=float, default=3.0, help="per workload, split in 3 runs")
    args = parser.parse_args()
    memory = measure(None, args.seconds)
    with tempfile.TemporaryDirectory() as folder:
        stored = measure(Path(folder) / "state.sqlite3", args.seconds)
    floor = memory["empty transaction (floor)"]
    print(f"{'workload':40} {'in memory':>12} {'vs floor':>9} {'--db':>12} {'--db/memory':>12}")
    for name, value in memory.items():
        print(
            f"{name:40} {value:>12,.0f} {value / floor:>9.2f}"
            f" {stored[name]:>12,.0f} {stored[name] / value:>12.2f}"
        )


if __name__ == "__main__":
    main()
