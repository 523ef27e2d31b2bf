"""Rules of power operations (docs/power.md), through a client's eyes: raw SOAP envelopes (the
vim25 methods, Task.info, the VM's properties), the adapter face's Basic_Vm operations and the
admin API over HTTP."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

import pytest

from tests.support.client import T0, Soap, Vcenter

WIN1, TEMPLATE, FILES, LEGACY, TESTDEV = "vm-601", "vm-900", "vm-1005", "vm-1100", "vm-525"
WORDS = {"poweredOn": "Powered on", "poweredOff": "Powered off", "suspended": "Suspended"}


def at(seconds: float) -> datetime:
    return T0 + timedelta(seconds=seconds)


def set_power(vcenter: Vcenter, vm: str, state: str) -> None:
    assert vcenter.ok("PATCH", f"inventory/{vm}", {"powerState": state})["powerState"] == state


# -- vim25's table: every method from every state ------------------------------------------------------

TABLE = [
    # method, from, outcome: the state it leaves, or (requestedState, existingState) of InvalidPowerState
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
def test_every_method_from_every_state_over_soap(
    vcenter: Vcenter, method: str, start: str, outcome: Any
) -> None:
    set_power(vcenter, WIN1, start)
    soap = vcenter.soap()
    task = soap.power(WIN1, method)  # a task either way: InvalidPowerState fails the task, not the call
    vcenter.advance(2)
    view = soap.task(task)
    if isinstance(outcome, str):
        assert (view.state, soap.power_state(WIN1)) == ("success", outcome)
        return
    requested, existing = outcome
    assert (view.state, view.fault) == ("error", "InvalidPowerState")
    assert (
        view.message
        == f"The attempted operation cannot be performed in the current state ({WORDS[existing]})."
    )
    assert view.fault_fields == {"requestedState": requested, "existingState": existing}
    assert view.queue_time == view.start_time == view.complete_time == T0  # failed at once
    assert soap.power_state(WIN1) == start


@pytest.mark.parametrize(("method", "start", "outcome"), TABLE)
def test_every_method_from_every_state_on_the_adapter_face(
    vcenter: Vcenter, method: str, start: str, outcome: Any
) -> None:
    set_power(vcenter, WIN1, start)
    answer = vcenter.power(method, "win1")
    if isinstance(outcome, str):
        assert (answer.status, answer.task_id) == ("success", "task-3001")
        vcenter.advance(2)
        assert vcenter.task("task-3001").state == "success"
        assert vcenter.vm(WIN1)["powerState"] == outcome
        return
    existing = outcome[1]
    assert (answer.status, answer.fault, answer.task_id) == ("error", "InvalidPowerState", None)
    assert (
        answer.error
        == f"The attempted operation cannot be performed in the current state ({WORDS[existing]})."
    )
    assert vcenter.vm(WIN1)["recentTask"] == []  # no task started


# -- when the power state changes ------------------------------------------------------------------------


def test_the_power_state_changes_exactly_when_the_task_succeeds_on_the_clock(vcenter: Vcenter) -> None:
    soap = vcenter.soap()
    task = soap.power(WIN1, "PowerOffVM_Task")
    assert soap.task(task).state == "queued"
    assert vcenter.vm(WIN1)["runningTask"] == task
    vcenter.advance(1.999999)
    assert (soap.task(task).state, soap.power_state(WIN1), vcenter.vm(WIN1)["powerState"]) == (
        "running",
        "poweredOn",
        "poweredOn",
    )
    vcenter.advance(0.000001)
    assert soap.power_state(WIN1) == "poweredOff"  # before anyone reads the task
    assert vcenter.power("Power_Off_VM", "win1").fault == "InvalidPowerState"
    assert (soap.task(task).state, vcenter.vm(WIN1)["runningTask"]) == ("success", None)


def test_a_task_that_succeeds_at_once_changes_the_power_state_at_once(vcenter: Vcenter) -> None:
    vcenter.ok("PUT", "operations/default", {"timeline": [{"state": "success", "at": 0}]})
    soap = vcenter.soap()
    task = soap.power(WIN1, "PowerOffVM_Task")
    assert (soap.power_state(WIN1), vcenter.vm(WIN1)["powerState"]) == ("poweredOff", "poweredOff")
    assert soap.task(task).state == "success"
    assert vcenter.power("Power_On_VM", "win1").status == "success"  # the adapter face: the same
    assert soap.power_state(WIN1) == "poweredOn"


def test_by_polls_the_state_changes_on_the_read_that_shows_success(vcenter: Vcenter) -> None:
    vcenter.ok(
        "PUT",
        "operations/Power_Off_VM",
        {"progression": "polls", "timeline": [{"state": "running"}, {"state": "success", "at": 2}]},
    )
    soap = vcenter.soap()
    task = soap.power(WIN1, "PowerOffVM_Task")
    assert [soap.task(task).state for _ in range(2)] == ["running", "running"]
    vcenter.advance(3600)
    for _ in range(3):  # peeks show what the next read will, and change nothing
        assert vcenter.peek(task).state == "success"
    assert soap.power_state(WIN1) == "poweredOn"
    assert vcenter.vm(WIN1)["runningTask"] == task
    assert vcenter.task(task).state == "success"  # a client's read
    assert soap.power_state(WIN1) == "poweredOff"


def test_by_hand_the_state_changes_when_the_task_is_advanced_to_success(vcenter: Vcenter) -> None:
    manual = {
        "progression": "manual",
        "timeline": [{"state": "queued"}, {"state": "running", "progress": 40}, {"state": "success"}],
    }
    vcenter.ok("PUT", "operations/default", manual)
    task = vcenter.power("Power_Off_VM", "win1").task_id
    assert task is not None
    vcenter.advance(3600)
    assert vcenter.advance_task(task).progress == 40
    assert vcenter.vm(WIN1)["powerState"] == "poweredOn"
    vcenter.advance_task(task)
    assert vcenter.soap().power_state(WIN1) == "poweredOff"


def test_both_faces_act_on_one_vm(vcenter: Vcenter) -> None:
    task = vcenter.power("Power_Off_VM", "win1").task_id
    vcenter.advance(2)
    soap = vcenter.soap()
    assert (soap.task(task or "").state, soap.power_state(WIN1)) == ("success", "poweredOff")
    on = soap.power(WIN1, "PowerOnVM_Task")
    vcenter.advance(2)
    assert (vcenter.task(on).state, vcenter.vm(WIN1)["powerState"]) == ("success", "poweredOn")


# -- refusals: where each fault goes ------------------------------------------------------------------------


def test_a_busy_vm_fails_the_new_task_with_task_in_progress_naming_the_running_one(vcenter: Vcenter) -> None:
    soap = vcenter.soap()
    running = soap.power(WIN1, "PowerOffVM_Task")
    refused = soap.power(WIN1, "ResetVM_Task")
    view = soap.task(refused)
    assert (view.state, view.fault, view.message) == (
        "error",
        "TaskInProgress",
        "Another task is already in progress.",
    )
    assert view.fault_fields == {"task": running}
    assert view.complete_time == view.queue_time == T0
    adapter = vcenter.power("Suspend_VM", "win1")
    assert (adapter.status, adapter.fault, adapter.task_id) == ("error", "TaskInProgress", None)
    assert vcenter.vm(WIN1)["runningTask"] == running  # the refused ones do not take the VM
    vcenter.advance(2)
    assert soap.power_state(WIN1) == "poweredOff"  # the first one decides


def test_a_template_is_not_supported_on_the_call(vcenter: Vcenter) -> None:
    soap = vcenter.soap()
    before = soap.recent_tasks("TaskManager", "TaskManager")
    for method in ("PowerOnVM_Task", "PowerOffVM_Task", "ResetVM_Task", "SuspendVM_Task"):
        fault = soap.fault(method, "VirtualMachine", TEMPLATE)
        assert (fault.type, fault.message) == (
            "NotSupported",
            "The operation is not supported on the object.",
        )
        answer = vcenter.power(method, "rhel9-template")
        assert (answer.status, answer.fault) == ("error", "NotSupported")
    assert soap.recent_tasks("TaskManager", "TaskManager") == before  # no task created


def test_an_unknown_vm_is_managed_object_not_found(vcenter: Vcenter) -> None:
    soap = vcenter.soap()
    for vm in ("vm-404", "host-21"):  # a host is not a VM
        fault = soap.fault("PowerOnVM_Task", "VirtualMachine", vm)
        assert (fault.type, fault.fields) == ("ManagedObjectNotFound", {"obj": vm})
    answer = vcenter.power("Power_On_VM", "win9")
    assert (answer.status, answer.fault, answer.error) == (
        "error",
        "ManagedObjectNotFound",
        "There is no virtual machine named 'win9'",
    )


def test_a_name_two_vms_share_is_an_invalid_argument_on_the_adapter_face(vcenter: Vcenter) -> None:
    vms = [{"name": "twin", "folder": "a"}, {"name": "twin", "folder": "b"}]
    vcenter.ok("PUT", "inventory", {"datacenters": [{"name": "DC", "hosts": [{"name": "esx", "vms": vms}]}]})
    answer = vcenter.power("Power_Off_VM", "twin")
    assert (answer.status, answer.fault) == ("error", "InvalidArgument")


# -- the TaskInfo of a created task --------------------------------------------------------------------------


def test_the_task_info_is_what_vcenter_shows(vcenter: Vcenter) -> None:
    soap = vcenter.soap(user="vismock")
    vcenter.advance(5)
    task = soap.power(WIN1, "SuspendVM_Task")
    vcenter.advance(0.1)
    queued = soap.task(task)
    vcenter.advance(0.5)
    running = soap.task(task)
    vcenter.advance(2)
    done = soap.task(task)
    number = int(task.removeprefix("task-"))
    assert (done.name, done.entity, done.entity_name, done.user) == (
        "SuspendVM_Task",
        f"VirtualMachine:{WIN1}",
        "win1",
        "vismock",
    )
    assert (done.cancelable, done.cancelled, done.result, done.event_chain_id) == (False, False, None, number)
    assert (queued.state, running.state, running.progress, done.state) == ("queued", "running", 0, "success")
    assert (done.queue_time, done.start_time, done.complete_time) == (at(5), at(5.2), at(7))
    admin = vcenter.ok("GET", f"tasks/{task}")["info"]
    assert admin["descriptionId"] == "VirtualMachine.suspend"


def test_the_adapter_face_names_the_request_s_user_or_the_first_account(make_vcenter: Any) -> None:
    vcenter = make_vcenter(VISMOCK_ACCOUNTS={"bmc": "hunter2", "other": "pw"})
    named = vcenter.power("Power_Off_VM", "win1", user="other", password="pw").task_id
    vcenter.advance(2)
    default = vcenter.power("Power_On_VM", "win1").task_id
    assert (vcenter.task(named or "").user, vcenter.task(default or "").user) == ("other", "bmc")
    refused = vcenter.power("Power_On_VM", "files-01", user="bmc", password="wrong")
    assert (refused.status, refused.fault) == ("error", "InvalidLogin")


# -- numbering, recent tasks, the cap ------------------------------------------------------------------------


def test_task_ids_count_up_from_3001_skipping_ids_in_use_and_never_reused(vcenter: Vcenter) -> None:
    vcenter.add_task("task-3002", {"state": "success"})
    vcenter.ok("PUT", "operations/default", {"timeline": [{"state": "success"}]})
    soap = vcenter.soap()
    made = [soap.power(WIN1, method) for method in ("PowerOffVM_Task", "PowerOnVM_Task")]
    assert made == ["task-3001", "task-3003"]
    vcenter.reset()
    vcenter.freeze()
    again = vcenter.soap().power(WIN1, "PowerOffVM_Task")
    assert int(again.removeprefix("task-")) > 3003  # a reset does not start them over
    for task in made:
        assert vcenter.status(task).fault == "ManagedObjectNotFound"  # the reset forgot them


def test_a_vm_s_recent_tasks_are_its_newest_ten(vcenter: Vcenter) -> None:
    soap = vcenter.soap()
    made = []
    for _ in range(12):
        made.append(soap.power(WIN1, "PowerOffVM_Task"))  # every other one refused: already off
        vcenter.advance(2)
        made.append(soap.power(WIN1, "PowerOnVM_Task"))
        vcenter.advance(2)
    assert soap.recent_tasks("VirtualMachine", WIN1) == made[-10:]
    assert vcenter.vm(WIN1)["recentTask"] == made[-10:]
    assert soap.recent_tasks("VirtualMachine", FILES) == []


@pytest.mark.slow
def test_the_task_manager_lists_the_loaded_tasks_and_the_newest_200_created(vcenter: Vcenter) -> None:
    soap = vcenter.soap()
    loaded = soap.recent_tasks("TaskManager", "TaskManager")
    vcenter.ok("PUT", "operations/default", {"timeline": [{"state": "success"}]})
    made = [soap.power(WIN1, "ResetVM_Task") for _ in range(205)]
    recent = soap.recent_tasks("TaskManager", "TaskManager")
    assert recent == loaded + made[-200:]
    assert soap.task(made[0]).state == "success"  # out of the list, still there


def test_the_oldest_created_tasks_are_dropped_beyond_the_cap_but_never_a_vm_s_latest(
    make_vcenter: Any,
) -> None:
    vcenter = make_vcenter(VISMOCK_TASK_CAP=3)
    vcenter.ok("PUT", "operations/default", {"timeline": [{"state": "success"}]})
    soap = vcenter.soap()
    first = soap.power(TESTDEV, "ResetVM_Task")
    made = [soap.power(WIN1, "ResetVM_Task") for _ in range(5)]
    for dropped in made[:2]:
        assert soap.fault("Fetch", "Task", dropped, "<prop>info</prop>").type == "ManagedObjectNotFound"
    assert [view.state for view in soap.tasks(first, *made[2:])] == ["success"] * 4  # TestDev's latest stays
    assert soap.recent_tasks("VirtualMachine", WIN1) == made[2:]


# -- bootTime ---------------------------------------------------------------------------------------------


def power_and_wait(vcenter: Vcenter, soap: Soap, method: str, vm: str = WIN1) -> None:
    soap.power(vm, method)
    vcenter.advance(2)


def test_boot_time_follows_vcenter(vcenter: Vcenter) -> None:
    soap = vcenter.soap()
    assert soap.boot_time(WIN1) is None  # loaded running: when it booted is unknown
    power_and_wait(vcenter, soap, "PowerOffVM_Task")
    assert soap.boot_time(WIN1) is None
    power_and_wait(vcenter, soap, "PowerOnVM_Task")
    booted = soap.boot_time(WIN1)
    assert booted == at(4)  # the power-on task's completeTime
    assert vcenter.vm(WIN1)["bootTime"] == "2030-01-01T00:00:04Z"
    power_and_wait(vcenter, soap, "SuspendVM_Task")
    power_and_wait(vcenter, soap, "PowerOnVM_Task")  # a resume keeps it
    assert soap.boot_time(WIN1) == booted
    power_and_wait(vcenter, soap, "ResetVM_Task")  # a reset renews it
    assert soap.boot_time(WIN1) == at(10)
    power_and_wait(vcenter, soap, "PowerOffVM_Task")  # a power-off clears it
    assert soap.boot_time(WIN1) is None


# -- the admin API's power writes, inventory replacement, reset ----------------------------------------------


def test_patch_sets_a_power_state_as_if_always_so(vcenter: Vcenter) -> None:
    set_power(vcenter, LEGACY, "poweredOn")
    soap = vcenter.soap()
    assert (soap.power_state(LEGACY), soap.recent_tasks("VirtualMachine", LEGACY)) == ("poweredOn", [])
    assert soap.boot_time(LEGACY) is None


def test_patch_refuses_while_a_task_runs_for_a_template_and_a_bad_state(vcenter: Vcenter) -> None:
    running = vcenter.soap().power(WIN1, "PowerOffVM_Task")
    status, answer = vcenter.admin("PATCH", f"inventory/{WIN1}", {"powerState": "suspended"})
    assert (status, answer["fault"]) == (409, "TaskInProgress")
    assert running in answer["error"]
    status, message = vcenter.refused("PATCH", f"inventory/{TEMPLATE}", {"powerState": "poweredOn"})
    assert status == 400 and "template" in message
    assert vcenter.refused("PATCH", f"inventory/{LEGACY}", {"powerState": "on"})[0] == 400
    assert vcenter.vm(LEGACY)["powerState"] == "suspended"


def test_put_inventory_serves_another_until_reset(vcenter: Vcenter) -> None:
    soap = vcenter.soap()
    power_and_wait(vcenter, soap, "PowerOffVM_Task")
    vms = [{"name": "win1", "id": WIN1, "power": "suspended"}, {"name": "solo", "id": "vm-5"}]
    vcenter.ok(
        "PUT", "inventory", {"datacenters": [{"name": "DC9", "hosts": [{"name": "esx9", "vms": vms}]}]}
    )
    assert (soap.power_state(WIN1), soap.power_state("vm-5")) == (
        "suspended",
        "poweredOn",
    )  # history forgotten
    assert soap.fault("PowerOnVM_Task", "VirtualMachine", FILES).type == "ManagedObjectNotFound"
    vcenter.reset()
    assert vcenter.soap().power_state(FILES) == "poweredOff"
    assert vcenter.vm(WIN1)["powerState"] == "poweredOn"


def test_reset_returns_every_vm_to_its_loaded_power_state_and_forgets_created_tasks(vcenter: Vcenter) -> None:
    soap = vcenter.soap()
    power_and_wait(vcenter, soap, "PowerOffVM_Task")
    power_and_wait(vcenter, soap, "PowerOnVM_Task", vm=FILES)
    set_power(vcenter, LEGACY, "poweredOff")
    vcenter.reset()
    states = {vm: vcenter.vm(vm)["powerState"] for vm in (WIN1, FILES, LEGACY)}
    assert states == {WIN1: "poweredOn", FILES: "poweredOff", LEGACY: "suspended"}
    assert all(vcenter.vm(vm)["recentTask"] == [] for vm in (WIN1, FILES))
