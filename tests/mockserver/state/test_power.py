"""Power operations in the state: created tasks, the power state they leave and when, refusals,
behaviours and overrides, cancel, reset."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from vismock import power
from vismock.faults import InvalidState, ManagedObjectNotFound, NotSupported, TaskInProgress
from vismock.mockserver.state import Backend, FaultRule, Step, taskfile
from vismock.mockserver.state.behaviour import INSTANT, Behaviour, Override
from vismock.mockserver.state.db import to_us
from vismock.mockserver.state.tasks import FOREVER

T0 = datetime(2030, 1, 1, tzinfo=UTC)
BUILTIN = taskfile.load_builtin()
WIN1, TEMPLATE, LEGACY, FILES = "vm-601", "vm-900", "vm-1100", "vm-1005"  # on, template, suspended, off


@pytest.fixture
def backend() -> Iterator[Backend]:
    state = Backend(tasks=BUILTIN.tasks, inventory=BUILTIN.inventory or ())
    state.clock.freeze(T0)
    yield state
    state.close()


def info(backend: Backend, task_id: str) -> dict[str, Any]:
    return backend.tasks.info(task_id, poll=False)


# -- the default: queued, running, success after 2 s of the mock's clock --------------------------


def test_the_power_state_changes_exactly_when_the_task_succeeds_on_the_clock(backend: Backend) -> None:
    task_id = backend.power.start(WIN1, "PowerOffVM_Task", user="bob").task_id
    assert info(backend, task_id)["state"] == "queued"
    before = backend.power.of(WIN1)
    assert (before.state, before.running) == ("poweredOn", task_id)
    backend.clock.advance(1.999999)
    assert info(backend, task_id)["state"] == "running"
    assert backend.power.of(WIN1).state == "poweredOn"
    backend.clock.advance(0.000001)
    assert info(backend, task_id)["state"] == "success"
    after = backend.power.of(WIN1)
    assert (after.state, after.running, after.until_us) == ("poweredOff", None, FOREVER)


def test_a_read_says_until_when_the_power_state_holds(backend: Backend) -> None:
    backend.power.start(WIN1, "PowerOffVM_Task", user="bob")
    # Queued until 0.2 s, then running: the state cannot change before the task's next step.
    assert backend.power.of(WIN1).until_us == to_us(T0 + timedelta(seconds=0.2))
    backend.clock.advance(1.5)
    assert backend.power.of(WIN1).until_us == to_us(T0 + timedelta(seconds=2))


def test_the_task_info_is_what_vcenter_shows(backend: Backend) -> None:
    task_id = backend.power.start(WIN1, "PowerOnVM_Task", user="bob").task_id  # refused: already on
    backend.clock.advance(5)
    task_id = backend.power.start(WIN1, "SuspendVM_Task", user="bob").task_id
    backend.clock.advance(2)
    shown = info(backend, task_id)
    number = int(task_id.split("-")[1])
    assert shown == {
        "key": task_id,
        "Task": task_id,
        "name": "SuspendVM_Task",
        "descriptionId": "VirtualMachine.suspend",
        "VirtualMachine": WIN1,
        "entityName": "win1",
        "state": "success",
        "cancelled": False,
        "cancelable": False,
        "TaskReasonUser": {"userName": "bob"},
        "queueTime": "2030-01-01T00:00:05Z",
        "startTime": "2030-01-01T00:00:05.2Z",
        "completeTime": "2030-01-01T00:00:07Z",
        "eventChainId": number,
    }
    assert backend.power.of(WIN1).state == "suspended"


def test_task_ids_count_up_and_skip_ids_in_use(backend: Backend) -> None:
    backend.tasks.put(taskfile.specs_from_dicts({"id": "task-3002", "name": "PowerOnVM_Task"}))
    first = backend.power.start(WIN1, "PowerOffVM_Task", user=None).task_id
    second = backend.power.start(WIN1, "PowerOffVM_Task", user=None).task_id
    assert (first, second) == ("task-3001", "task-3003")


# -- the state table ---------------------------------------------------------------------------------

TABLE = [
    # method, from, outcome (a state, or the InvalidPowerState's requestedState)
    ("PowerOnVM_Task", "poweredOff", "poweredOn"),
    ("PowerOnVM_Task", "suspended", "poweredOn"),
    ("PowerOnVM_Task", "poweredOn", ("poweredOn", "poweredOn")),
    ("PowerOffVM_Task", "poweredOn", "poweredOff"),
    ("PowerOffVM_Task", "suspended", "poweredOff"),
    ("PowerOffVM_Task", "poweredOff", ("poweredOff", "poweredOff")),
    ("SuspendVM_Task", "poweredOn", "suspended"),
    ("SuspendVM_Task", "poweredOff", ("poweredOn", "poweredOff")),
    ("SuspendVM_Task", "suspended", ("poweredOn", "suspended")),
    ("ResetVM_Task", "poweredOn", "poweredOn"),
    ("ResetVM_Task", "poweredOff", ("poweredOn", "poweredOff")),
    ("ResetVM_Task", "suspended", ("poweredOn", "suspended")),
]


@pytest.mark.parametrize(("method", "start", "outcome"), TABLE)
def test_every_method_from_every_state(backend: Backend, method: str, start: str, outcome: Any) -> None:
    backend.power.set_state(WIN1, start)
    task_id = backend.power.start(WIN1, method, user="bob").task_id
    backend.clock.advance(2)
    shown, read = info(backend, task_id), backend.tasks.read(task_id, poll=False)
    if isinstance(outcome, str):
        assert shown["state"] == "success"
        assert backend.power.of(WIN1).state == outcome
        return
    requested, existing = outcome
    words = {"poweredOn": "Powered on", "poweredOff": "Powered off", "suspended": "Suspended"}[existing]
    assert shown["state"] == "error" and shown["completeTime"] == shown["queueTime"]  # at once
    assert shown["error"] == {
        "fault": "InvalidPowerState",
        "localizedMessage": f"The attempted operation cannot be performed in the current state ({words}).",
    }
    assert read.fault_fields == (("requestedState", requested), ("existingState", existing))
    assert backend.power.of(WIN1).state == start


def test_a_busy_vm_fails_the_new_task_with_task_in_progress_naming_the_running_one(backend: Backend) -> None:
    running = backend.power.start(WIN1, "PowerOffVM_Task", user="bob").task_id
    refused = backend.power.start(WIN1, "ResetVM_Task", user="bob")
    assert isinstance(refused.refusal, TaskInProgress)
    assert info(backend, refused.task_id)["error"] == {
        "fault": "TaskInProgress",
        "localizedMessage": "Another task is already in progress.",
    }
    assert backend.tasks.read(refused.task_id).fault_fields == (("task", running),)
    # The refused task does not take the VM: the first still runs and decides.
    assert backend.power.of(WIN1).running == running
    backend.clock.advance(2)
    assert backend.power.of(WIN1).state == "poweredOff"


def test_refuse_raises_instead_of_creating_a_task(backend: Backend) -> None:
    tasks_before = len(backend.tasks.specs())
    with pytest.raises(power.InvalidPowerState) as raised:
        backend.power.start(FILES, "PowerOffVM_Task", user="bob", refuse=True)
    assert raised.value.existing_state == "poweredOff"
    running = backend.power.start(WIN1, "PowerOffVM_Task", user="bob", refuse=True).task_id
    with pytest.raises(TaskInProgress) as busy:
        backend.power.start(WIN1, "PowerOnVM_Task", user="bob", refuse=True)
    assert busy.value.task_id == running
    assert len(backend.tasks.specs()) == tasks_before + 1


def test_a_template_and_an_unknown_vm_are_faults_of_the_method(backend: Backend) -> None:
    for method in power.METHODS:
        with pytest.raises(NotSupported, match="not supported on the object"):
            backend.power.start(TEMPLATE, method, user="bob")
    with pytest.raises(ManagedObjectNotFound, match=r"vim\.VirtualMachine:vm-404"):
        backend.power.start("vm-404", "PowerOnVM_Task", user="bob")
    with pytest.raises(ManagedObjectNotFound):  # a host is not a VM
        backend.power.start("host-21", "PowerOnVM_Task", user="bob")


def test_boot_time_follows_vcenter(backend: Backend) -> None:
    assert backend.power.of(WIN1).boot_time is None  # loaded running: when it booted is unknown
    for method in ("PowerOffVM_Task", "PowerOnVM_Task"):
        backend.power.start(WIN1, method, user="bob")
        backend.clock.advance(2)
    booted = backend.power.of(WIN1).boot_time
    assert booted == T0 + timedelta(seconds=4)
    backend.power.start(WIN1, "SuspendVM_Task", user="bob")
    backend.clock.advance(2)
    backend.power.start(WIN1, "PowerOnVM_Task", user="bob")  # a resume keeps it
    backend.clock.advance(2)
    assert backend.power.of(WIN1).boot_time == booted
    backend.power.start(WIN1, "ResetVM_Task", user="bob")  # a reset renews it
    backend.clock.advance(2)
    assert backend.power.of(WIN1).boot_time == T0 + timedelta(seconds=10)


# -- progression by polls and manually -----------------------------------------------------------------


def test_by_polls_the_state_changes_on_the_read_that_shows_success(backend: Backend) -> None:
    polls = Behaviour("polls", (Step("running", 0), Step("success", 2)))
    backend.power.set_behaviours({"PowerOffVM_Task": polls})
    task_id = backend.power.start(WIN1, "PowerOffVM_Task", user="bob").task_id
    assert [backend.tasks.info(task_id)["state"] for _ in range(2)] == ["running", "running"]
    # An internal peek shows what the next read will show; the VM waits for a client to see it.
    assert info(backend, task_id)["state"] == "success"
    assert backend.power.of(WIN1).state == "poweredOn"
    backend.clock.advance(3600)
    assert backend.power.of(WIN1).running == task_id
    assert backend.tasks.info(task_id)["state"] == "success"
    assert backend.power.of(WIN1).state == "poweredOff"


def test_manually_the_state_changes_when_the_task_is_advanced_to_success(backend: Backend) -> None:
    manual = Behaviour("manual", (Step("queued"), Step("running", progress=40), Step("success")))
    backend.power.set_behaviours({"default": manual})
    task_id = backend.power.start(WIN1, "PowerOffVM_Task", user="bob").task_id
    backend.clock.advance(3600)
    backend.tasks.advance(task_id)
    assert (info(backend, task_id)["progress"], backend.power.of(WIN1).state) == (40, "poweredOn")
    backend.tasks.advance(task_id)
    assert backend.power.of(WIN1).state == "poweredOff"


def test_instant_tasks_finish_when_created(backend: Backend) -> None:
    backend.power.set_behaviours({"default": INSTANT})
    first = backend.power.start(WIN1, "PowerOffVM_Task", user="bob").task_id
    second = backend.power.start(WIN1, "PowerOnVM_Task", user="bob").task_id
    assert [info(backend, t)["state"] for t in (first, second)] == ["success", "success"]
    assert backend.power.of(WIN1).state == "poweredOn"


# -- overrides -----------------------------------------------------------------------------------------


def test_the_next_power_off_on_win1_fails_with_invalid_state_after_2_polls(backend: Backend) -> None:
    (override,) = taskfile.overrides_from_dicts(
        {
            "operation": "Power_Off_VM",
            "vm": "win1",
            "fault": "InvalidState",
            "after": 2,
            "progression": "polls",
        }
    )
    backend.power.add_override(override)
    other_vm = backend.power.start("vm-525", "PowerOffVM_Task", user="bob").task_id  # not win1
    task_id = backend.power.start(WIN1, "PowerOffVM_Task", user="bob").task_id
    states = [backend.tasks.info(task_id)["state"] for _ in range(3)]
    assert states == ["running", "running", "error"]
    assert info(backend, task_id)["error"] == {
        "fault": "InvalidState",
        "localizedMessage": "The operation is not allowed in the current state.",
    }
    assert backend.power.of(WIN1).state == "poweredOn"  # a failed task changes nothing
    assert backend.power.overrides() == []  # used up
    backend.clock.advance(2)
    assert info(backend, other_vm)["state"] == "success"
    assert backend.power.start(WIN1, "PowerOffVM_Task", user="bob").refusal is None


def test_an_override_is_used_only_by_a_task_that_can_run(backend: Backend) -> None:
    backend.power.add_override(Override(INSTANT, operation="PowerOnVM_Task", vm=WIN1, times=2))
    backend.power.start(WIN1, "PowerOnVM_Task", user="bob")  # refused (already on): not counted
    assert backend.power.overrides()[0].times == 2
    backend.power.start(WIN1, "PowerOffVM_Task", user="bob")  # another operation
    backend.clock.advance(2)
    backend.power.start(WIN1, "PowerOnVM_Task", user="bob")
    assert backend.power.of(WIN1).state == "poweredOn"  # instant
    assert backend.power.overrides()[0].times == 1


def test_unlimited_override_and_reset_to_the_loaded_ones(backend: Backend) -> None:
    backend.power.add_override(Override(INSTANT, times=None))
    for method in ("PowerOffVM_Task", "PowerOnVM_Task", "PowerOffVM_Task"):
        backend.power.start(WIN1, method, user="bob")
    assert backend.power.of(WIN1).state == "poweredOff"
    assert backend.power.overrides()[0].times is None
    backend.reset()
    assert backend.power.overrides() == []
    assert backend.power.of(WIN1).state == "poweredOn"  # the inventory's


def test_reset_forgets_created_tasks_but_numbers_go_on(backend: Backend) -> None:
    first = backend.power.start(WIN1, "PowerOffVM_Task", user="bob").task_id
    backend.reset()
    backend.clock.freeze(T0)
    assert backend.tasks.specs() == BUILTIN.tasks  # created tasks gone
    assert backend.power.recent(WIN1) == []
    again = backend.power.start(WIN1, "PowerOffVM_Task", user="bob").task_id
    assert int(again.split("-")[1]) > int(first.split("-")[1])


# -- cancel --------------------------------------------------------------------------------------------


def test_power_tasks_are_not_cancelable_unless_scripted(backend: Backend) -> None:
    task_id = backend.power.start(WIN1, "PowerOffVM_Task", user="bob").task_id
    with pytest.raises(NotSupported):
        backend.tasks.cancel(task_id)
    backend.clock.advance(2)
    backend.power.set_behaviours({"default": Behaviour(cancelable=True)})
    cancelable = backend.power.start(WIN1, "PowerOnVM_Task", user="bob").task_id
    backend.clock.advance(1)
    backend.tasks.cancel(cancelable)
    shown = info(backend, cancelable)
    assert (shown["state"], shown["cancelled"], shown["error"]["fault"]) == ("error", True, "RequestCanceled")
    backend.clock.advance(10)
    assert backend.power.of(WIN1).state == "poweredOff"  # unchanged by the cancelled power-on
    with pytest.raises(InvalidState):
        backend.tasks.cancel(cancelable)


# -- the admin API's writes, recent tasks, the cap ------------------------------------------------------


def test_set_state_refuses_while_busy_and_keeps_templates_off(backend: Backend) -> None:
    running = backend.power.start(WIN1, "PowerOffVM_Task", user="bob").task_id
    with pytest.raises(TaskInProgress, match=running):
        backend.power.set_state(WIN1, "suspended")
    with pytest.raises(ValueError, match="template"):
        backend.power.set_state(TEMPLATE, "poweredOn")
    with pytest.raises(ValueError, match="power state 'on'"):
        backend.power.set_state(LEGACY, "on")
    assert backend.power.set_state(LEGACY, "poweredOn").state == "poweredOn"


def test_recent_tasks_of_a_vm_and_of_the_task_manager(backend: Backend) -> None:
    created = []
    for _ in range(12):
        created.append(backend.power.start(WIN1, "PowerOffVM_Task", user="bob").task_id)
        backend.clock.advance(2)
    assert backend.power.recent(WIN1) == created[-10:]
    recent = backend.power.recent_task_ids()
    assert recent == [spec.id for spec in BUILTIN.tasks] + created
    assert backend.power.created(created[0]) == (WIN1, "PowerOffVM_Task", True)
    assert backend.power.created(created[1])[2] is False  # refused: already off
    assert backend.power.created("task-525") is None


def test_the_oldest_created_tasks_are_dropped_beyond_the_cap() -> None:
    backend = Backend(tasks=BUILTIN.tasks, inventory=BUILTIN.inventory or (), task_cap=3)
    try:
        backend.clock.freeze(T0)
        backend.power.set_behaviours({"default": INSTANT})
        made = [
            backend.power.start(vm, "ResetVM_Task", user=None).task_id for vm in ("vm-525",) + (WIN1,) * 5
        ]
        kept = backend.power.tasks_on(WIN1)
        assert kept == made[-3:]
        assert backend.power.tasks_on("vm-525") == made[:1]  # the VM's latest stays
        with pytest.raises(ManagedObjectNotFound):
            backend.tasks.info(made[1])
    finally:
        backend.close()


# -- what other workers cache across power starts ---------------------------------------------------


def test_a_power_start_keeps_other_caches_yet_each_worker_sees_every_other_change(tmp_path: Path) -> None:
    """A start leaves the settings revision alone (sessions, clock, fault rules stay cached), while
    a change of any of those in one worker reaches another worker's next read."""
    path = tmp_path / "state.sqlite3"
    one = Backend(path, tasks=BUILTIN.tasks, inventory=BUILTIN.inventory or ())
    two = Backend(path, attach=True)
    key = one.sessions.create("bob")
    assert two.sessions.user(key) == "bob" and not two.faults.any_stored()
    settings = one.database.revision.settings()
    revision = one.database.revision.value()
    one.power.start(WIN1, "PowerOffVM_Task", user="bob")
    assert one.database.revision.value() != revision  # task state changed: answers recomputed
    assert one.database.revision.settings() == settings  # the rest did not
    one.sessions.end(key)
    assert two.sessions.user(key) is None
    one.clock.freeze(T0)
    two.power.start(FILES, "PowerOnVM_Task", user="bob")
    assert two.clock.now() == T0
    one.faults.add(FaultRule(action="status", http_status=503, operation="PowerOnVM_Task"))
    two.power.start(WIN1, "PowerOnVM_Task", user="bob")
    assert two.faults.any_stored()
    one.close()
    two.close()
