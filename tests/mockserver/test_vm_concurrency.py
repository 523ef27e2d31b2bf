"""32 clients, half on each face of a real ``vismock serve`` (granian: one process with threads,
its state written through to --db), each logged in as its own user, for 20 s on three shared VMs:
power operations, snapshots taken, reverted and removed (one, with its children, all), clones
(a small pool of names, so they collide) powered off and destroyed, every task polled to its end.
Then every task has ended, no two tasks acting on one VM overlap, and the journal is
linearizable: each call is explained by an instant within it, and the tasks, in the order they
ended, explain every VM's final power state, snapshot tree and current snapshot, and the clones
there are. No 5xx but the SOAP faults vim25 methods raise, each explained.

The checker (tests/support/linearizability.py) is tested below on histories that break each rule."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from tests.support import linearizability as lin
from tests.support import power_load, vm_load
from tests.support.load import Server

CLIENTS, SECONDS = 32, 20
T = datetime(2030, 1, 1, tzinfo=UTC)


@pytest.fixture
def server(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Server]:
    scenario = tmp_path / "scenario.yaml"
    scenario.write_text(power_load.SCENARIO)
    monkeypatch.setenv("VISMOCK_TASK_CAP", "1000000")  # keep every task for the check
    arguments = ("--tasks", str(scenario), *vm_load.account_arguments(CLIENTS))
    running = Server(tmp_path, journal_cap=2_000_000, extra=arguments)
    yield running
    running.stop()


@pytest.mark.slow
def test_snapshots_clones_and_power_under_concurrency_are_linearizable(server: Server) -> None:
    fleet = vm_load.fleet(server.port)
    initial = vm_load.read_world(server.port, fleet)
    assert sorted(initial) == sorted(fleet.vms)  # no clone-named VM before the run
    tally, asked = vm_load.hammer(server.port, CLIENTS, SECONDS, fleet)
    assert tally.problems == []
    tasks, calls, final = vm_load.collect(server.port, fleet, CLIENTS)
    findings = lin.check(tasks, calls, asked, initial, final, vm_load.SCRIPTED)
    trees = {vm.name: len(vm.snapshots) for vm in final.values() if vm.id in fleet.vms}
    print(
        f"\n{CLIENTS} clients, {SECONDS} s: {len(asked)} task-starting calls ({tally.started} answered a"
        f" task, {tally.refused} refused by the call), {tally.polls} polls, HTTP {dict(tally.statuses)};"
        f" {findings.tasks} tasks in the store, {findings.ran} acted on a VM,"
        f" succeeded: {dict(findings.successes)}; refusals explained: {dict(findings.refusals)}"
        f" ({findings.soap_faults} SOAP faults, HTTP 500); snapshots at the end: {trees},"
        f" clones: {sorted(vm.name for vm in final.values() if vm.id not in fleet.vms)};"
        f" {len(findings.violations)} violations"
    )
    assert findings.violations == []
    assert set(tally.statuses) <= {200, 500} and tally.statuses[500] == findings.soap_faults
    assert findings.actions == len(asked) and findings.tasks == tally.started
    for method in (lin.CREATE, lin.REVERT, lin.REMOVE, lin.CLONE, lin.DESTROY, "PowerOffVM_Task"):
        assert findings.successes[method] >= 5, method  # each kind of change happened
    assert findings.refusals["TaskInProgress"] > 100  # the run did contend


# -- the check itself finds what is wrong (a check that cannot fail checks nothing) ---------------

VM, SNAP_A, SNAP_B, CLONE_ID = "vm-1", "snapshot-1", "snapshot-2", "vm-9"
INITIAL = {VM: lin.Vm(VM, "win1", "group-v1", "poweredOn")}


def at(ms: float) -> datetime:
    return T + timedelta(milliseconds=ms)


def task(
    task_id: str, method: str, queued: float, completed: float, fault: str | None = None, **more: Any
) -> lin.TaskRecord:
    state = "error" if fault else "success"
    fields: dict[str, Any] = {"vm": VM, "vm_name": "win1", **more}
    return lin.TaskRecord(
        task_id, fields.pop("vm"), method, "time", state, fault, at(queued), at(completed), **fields
    )


class History:
    """Calls one client made (its log) and the journal's entries of them, made together."""

    def __init__(self) -> None:
        self.asked: list[lin.Asked] = []
        self.calls: list[lin.CallRecord] = []

    def call(
        self, method: str, start: float, task_id: str | None = None, outcome: str = "ok", **asked: Any
    ) -> History:
        face = asked.pop("face", "soap")
        status = 500 if face == "soap" and outcome in lin.RAISED else 200
        operation = method if face == "soap" else _vis(method)
        self.asked.append(
            lin.Asked("c1", face, method, asked.pop("vm", VM), outcome=outcome, task=task_id, **asked)
        )
        tasks = (task_id,) if task_id else ()
        self.calls.append(
            lin.CallRecord(face, operation, VM, at(start), at(start + 1), outcome, tasks, status, "c1")
        )
        return self

    def check(self, tasks: list[lin.TaskRecord], final: dict[str, lin.Vm]) -> list[str]:
        return lin.check(tasks, self.calls, self.asked, INITIAL, final, {}).violations


def _vis(method: str) -> str:
    return next(vis for vis, m in lin.ADAPTER_METHODS.items() if m == method)


def vm(
    power: str = "poweredOn", snapshots: tuple[lin.Snap, ...] = (), current: str | None = None, **more: Any
) -> lin.Vm:
    return replace(INITIAL[VM], power=power, snapshots=snapshots, current=current, **more)


# A snapshot with memory (poweredOn), then the VM off, a child without memory (poweredOff), then
# a revert to the first (back on, the first current), then the child removed.
A = lin.Snap(SNAP_A, "a", 1, None, "poweredOn")
B = lin.Snap(SNAP_B, "b", 2, SNAP_A, "poweredOff")
GOOD_TASKS = [
    task("t1", lin.CREATE, 0, 150, result=SNAP_A),
    task("t2", "PowerOffVM_Task", 200, 350),
    task("t3", lin.CREATE, 400, 550, result=SNAP_B),
    task("t4", lin.REVERT, 600, 750),
    task("t5", lin.REMOVE, 800, 950),
]


def good_history() -> History:
    return (
        History()
        .call(lin.CREATE, 0, "t1", name="a", memory=True)
        .call("PowerOffVM_Task", 199, "t2", face="adapter", vm="win1", by_name=True)
        .call(lin.CREATE, 399, "t3", name="b", face="adapter", vm="win1", by_name=True)
        .call(lin.REVERT, 599, "t4", snapshot=SNAP_A)
        .call(lin.REMOVE, 799, "t5", snapshot="a/b", face="adapter", vm="win1", by_name=True)
    )


GOOD_FINAL = {VM: vm("poweredOn", (A,), SNAP_A, next_number=3)}


def test_a_consistent_history_passes() -> None:
    history = good_history()
    history.call("PowerOnVM_Task", 100, outcome="TaskInProgress", face="adapter", vm="win1", by_name=True)
    history.call(lin.REVERT, 960, outcome="ManagedObjectNotFound", snapshot=SNAP_B)  # removed at 950
    history.call(lin.REVERT, 970, outcome="NotFound", snapshot="a/b", face="adapter", vm="win1", by_name=True)
    assert history.check(GOOD_TASKS, GOOD_FINAL) == []


CLONE_TASKS = [
    task("t1", lin.CLONE, 0, 150, result=CLONE_ID),
    task("t2", lin.CLONE, 200, 350, fault="DuplicateName"),  # the name taken meanwhile: at its end
    task("t3", "PowerOffVM_Task", 400, 550, vm=CLONE_ID, vm_name="copy"),
    task("t4", lin.DESTROY, 600, 750, vm=CLONE_ID, vm_name="copy"),
]


def clone_history(calls: int = 4) -> History:
    history = (
        History()
        .call(lin.CLONE, 0, "t1", name="copy", folder="group-v1", power_on=True)
        .call(lin.CLONE, 199, "t2", name="copy", folder="group-v1")
        .call("PowerOffVM_Task", 399, "t3", vm=CLONE_ID)
        .call(lin.DESTROY, 599, "t4", face="adapter", vm="copy", by_name=True)
    )
    history.asked, history.calls = history.asked[:calls], history.calls[:calls]
    return history


def test_clones_destroys_and_a_duplicate_name_pass() -> None:
    history = clone_history()
    history.call(lin.DESTROY, 800, outcome="ManagedObjectNotFound", face="adapter", vm="copy", by_name=True)
    assert history.check(CLONE_TASKS, {VM: vm()}) == []
    survivor = {VM: vm(), CLONE_ID: lin.Vm(CLONE_ID, "copy", "group-v1", "poweredOff")}
    assert clone_history(3).check(CLONE_TASKS[:3], survivor) == []


def test_a_clone_the_server_lacks_or_kept_is_found() -> None:
    found = clone_history(3).check(CLONE_TASKS[:3], {VM: vm()})
    assert any("the server has no such VM" in violation for violation in found), found
    kept = {VM: vm(), CLONE_ID: lin.Vm(CLONE_ID, "copy", "group-v1", "poweredOff")}
    found = clone_history().check(CLONE_TASKS, kept)
    assert any("the tasks replayed do not make it" in violation for violation in found), found


def test_a_duplicate_name_no_clone_explains_is_found() -> None:
    tasks = [replace(CLONE_TASKS[0], completed=at(500)), CLONE_TASKS[1]]  # t1 ends after t2
    found = clone_history(2).check(
        tasks, {VM: vm(), CLONE_ID: lin.Vm(CLONE_ID, "copy", "group-v1", "poweredOn")}
    )
    assert any("ran and failed with DuplicateName" in violation for violation in found), found


BROKEN = {
    "a final power state no history gives": (
        GOOD_TASKS,
        {VM: vm("poweredOff", (A,), SNAP_A)},
        "the server reads",
    ),
    "a current snapshot the revert did not make": (
        GOOD_TASKS,
        {VM: vm("poweredOn", (A,), None)},
        "the server reads [snapshot-1 'a' #1 under None poweredOn] current None",
    ),
    "a removed snapshot still there": (GOOD_TASKS, {VM: vm("poweredOn", (A, B), SNAP_A)}, "the snapshots"),
    "a snapshot recorded powered off though taken with memory": (
        GOOD_TASKS,
        {VM: vm("poweredOn", (replace(A, state="poweredOff"),), SNAP_A)},
        "the snapshots",
    ),
    "tasks that overlap": (
        [*GOOD_TASKS[:1], task("t2", "PowerOffVM_Task", 100, 350), *GOOD_TASKS[2:]],
        GOOD_FINAL,
        "overlaps t1",
    ),
    "a task that has not ended": (
        [*GOOD_TASKS[:4], replace(GOOD_TASKS[4], state="running", completed=None)],
        GOOD_FINAL,
        "t5 has not ended",
    ),
    "a task queued outside its call": (
        [*GOOD_TASKS[:1], replace(GOOD_TASKS[1], queued=at(230)), *GOOD_TASKS[2:]],
        GOOD_FINAL,
        "outside its call",
    ),
    "a revert that succeeded though its snapshot was gone": (
        [*GOOD_TASKS, task("t6", lin.REVERT, 1000, 1150)],
        GOOD_FINAL,
        "the model has no snapshot",
    ),
}


@pytest.mark.parametrize(("tasks", "final", "wrong"), BROKEN.values(), ids=BROKEN)
def test_each_broken_rule_about_tasks_and_the_end_is_found(
    tasks: list[lin.TaskRecord], final: dict[str, lin.Vm], wrong: str
) -> None:
    history = good_history()
    if any(t.id == "t6" for t in tasks):
        history.call(lin.REVERT, 999, "t6", snapshot=SNAP_B)
    found = history.check(tasks, final)
    assert any(wrong in violation for violation in found), found


ON_WIN1 = {"face": "adapter", "vm": "win1", "by_name": True}  # the adapter names the VM
REFUSALS = {
    "TaskInProgress while the VM was idle": (
        ("PowerOffVM_Task", 170), {"outcome": "TaskInProgress", **ON_WIN1}
    ),
    "InvalidPowerState while the state allowed it": (
        ("PowerOffVM_Task", 160), {"outcome": "InvalidPowerState", **ON_WIN1}
    ),
    "ManagedObjectNotFound for a snapshot that was there": (
        (lin.REVERT, 560), {"outcome": "ManagedObjectNotFound", "snapshot": SNAP_B}
    ),
    "NotFound for a path that was there": (
        (lin.REMOVE, 560), {"outcome": "NotFound", "snapshot": "a/b", **ON_WIN1}
    ),
    "NotFound from RevertToCurrentSnapshot_Task with a current snapshot": (
        (lin.REVERT_CURRENT, 560), {"outcome": "NotFound"}
    ),
    "DuplicateName with the name free": (
        (lin.CLONE, 560), {"outcome": "DuplicateName", "name": "copy", "folder": "group-v1", **ON_WIN1}
    ),
    "a SOAP fault a vim25 method does not raise": (
        (lin.CREATE, 560), {"outcome": "SystemError", "name": "x"}
    ),
}  # fmt: skip


@pytest.mark.parametrize(("call", "asked"), REFUSALS.values(), ids=REFUSALS)
def test_each_unexplained_refusal_is_found(call: tuple[str, float], asked: dict[str, Any]) -> None:
    history = good_history()
    history.call(*call, **asked)
    found = history.check(GOOD_TASKS, GOOD_FINAL)
    assert any("is explained by no instant" in violation for violation in found), found


def test_a_5xx_that_is_no_vim25_refusal_is_found() -> None:
    history = good_history()
    history.calls[0] = replace(history.calls[0], http_status=503)
    found = history.check(GOOD_TASKS, GOOD_FINAL)
    assert any(violation.startswith("HTTP 503") for violation in found), found


def test_a_clone_that_took_a_name_in_use_is_found() -> None:
    tasks = [task("t1", lin.CLONE, 0, 150, result=CLONE_ID), task("t2", lin.CLONE, 200, 350, result="vm-10")]
    history = (
        History()
        .call(lin.CLONE, 0, "t1", name="copy", folder="group-v1")
        .call(lin.CLONE, 199, "t2", name="copy", folder="group-v1")
    )
    final = {
        VM: vm(),
        CLONE_ID: lin.Vm(CLONE_ID, "copy", "group-v1", "poweredOff"),
        "vm-10": lin.Vm("vm-10", "copy", "group-v1", "poweredOff"),
    }
    found = history.check(tasks, final)
    assert any("copy was taken in group-v1 by vm-9" in violation for violation in found), found


def test_a_call_the_journal_records_otherwise_is_found() -> None:
    history = good_history()
    history.calls[1] = replace(history.calls[1], outcome="TaskInProgress", tasks=())
    found = history.check(GOOD_TASKS, GOOD_FINAL)
    assert any("is journaled as" in violation for violation in found), found
