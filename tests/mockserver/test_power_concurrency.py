"""32 clients hammer power operations on three VMs through both faces of a real ``vismock serve``
(granian: one process with threads, its state written through to --db) for 20 s; then every task
has ended, no two tasks acting on one VM overlap, and the journal is linearizable: each call is
explained by an instant within it, and the successful tasks, in order, explain every VM's final
power state. No 5xx."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from tests.support import power_load
from tests.support.load import Server

CLIENTS, SECONDS = 32, 20
T = datetime(2030, 1, 1, tzinfo=UTC)


@pytest.fixture
def server(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Server]:
    scenario = tmp_path / "scenario.yaml"
    scenario.write_text(power_load.SCENARIO)
    monkeypatch.setenv("VISMOCK_TASK_CAP", "1000000")  # keep every task for the check
    running = Server(tmp_path, journal_cap=2_000_000, extra=("--tasks", str(scenario)))
    yield running
    running.stop()


@pytest.mark.slow
def test_power_operations_under_concurrency_are_linearizable(server: Server) -> None:
    initial = {vm: power_load.admin(server.port, f"/inventory/{vm}")["powerState"] for vm in power_load.VMS}
    tally = power_load.hammer(server.port, CLIENTS, SECONDS, power_load.VMS)
    assert tally.problems == []
    assert all(status < 500 for status in tally.statuses), tally.statuses
    tasks, calls, final = power_load.collect(server.port, power_load.VMS)
    findings = power_load.check(tasks, calls, final, initial)
    print(
        f"\n{CLIENTS} clients, {SECONDS} s: {tally.started} tasks started, {tally.refused} adapter refusals,"
        f" {tally.polls} polls, HTTP {dict(tally.statuses)}; {findings.tasks} tasks in the store"
        f" ({findings.ran} acted on a VM, {findings.successes} succeeded), {findings.calls} power calls"
        f" in the journal, {findings.refusals_checked} refusals explained,"
        f" {len(findings.violations)} violations"
    )
    assert findings.violations == []
    assert findings.tasks == tally.started and findings.calls == tally.started + tally.refused
    assert findings.successes > 100 and findings.refusals_checked > 100  # the run did contend


# -- the check itself finds what is wrong (a check that cannot fail checks nothing) ---------------


def at(ms: float) -> datetime:
    return T + timedelta(milliseconds=ms)


def task(task_id: str, method: str, queued: float, completed: float, fault: str | None = None) -> Any:
    state = "error" if fault else "success"
    return power_load.TaskRecord(task_id, "vm-1", method, "time", state, fault, at(queued), at(completed))


def call(operation: str, start: float, end: float, task_id: str | None = None, outcome: str = "ok") -> Any:
    tasks = (task_id,) if task_id else ()
    return power_load.CallRecord("soap", operation, "vm-1", at(start), at(end), outcome, tasks, 200)


def findings(tasks: list[Any], calls: list[Any], final: str = "poweredOn") -> list[str]:
    return power_load.check(tasks, calls, {"vm-1": final}, {"vm-1": "poweredOn"}).violations


GOOD_TASKS = [task("t1", "PowerOffVM_Task", 0, 150), task("t2", "PowerOnVM_Task", 200, 350)]
GOOD_CALLS = [call("PowerOffVM_Task", 0, 1, "t1"), call("Power_On_VM", 199, 201, "t2")]


def test_a_consistent_history_passes() -> None:
    refusal = call("Power_Off_VM", 100, 101, outcome="TaskInProgress")
    assert findings(GOOD_TASKS, [*GOOD_CALLS, refusal]) == []


@pytest.mark.parametrize(
    ("tasks", "calls", "final", "wrong"),
    [
        (GOOD_TASKS, GOOD_CALLS, "poweredOff", "replayed give poweredOn; the VM reads poweredOff"),
        ([GOOD_TASKS[0], task("t2", "PowerOnVM_Task", 100, 350)], GOOD_CALLS, "poweredOn", "overlaps t1"),
        ([task("t1", "PowerOnVM_Task", 0, 150)], GOOD_CALLS[:1], "poweredOn", "succeeded from poweredOn"),
        (GOOD_TASKS, [*GOOD_CALLS, call("Power_On_VM", 100, 101, outcome="InvalidPowerState")], "poweredOn",
         "InvalidPowerState is explained by no instant"),
        (GOOD_TASKS, [*GOOD_CALLS, call("Power_Off_VM", 170, 171, outcome="TaskInProgress")], "poweredOn",
         "TaskInProgress is explained by no instant"),
        (GOOD_TASKS, [GOOD_CALLS[0], call("Power_On_VM", 250, 260, "t2")], "poweredOn", "outside its call"),
        ([*GOOD_TASKS[:1], power_load.TaskRecord("t2", "vm-1", "PowerOnVM_Task", "polls", "running", None,
          at(200), None)], GOOD_CALLS, "poweredOff", "t2 has not ended"),
    ],
)  # fmt: skip
def test_each_broken_rule_is_found(tasks: list[Any], calls: list[Any], final: str, wrong: str) -> None:
    assert any(wrong in violation for violation in findings(tasks, calls, final)), findings(
        tasks, calls, final
    )
