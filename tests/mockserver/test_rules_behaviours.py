"""Rules of how created tasks behave, ``operations:`` and ``overrides:`` (docs/power.md), set through
the admin API over HTTP and observed on the SOAP and adapter faces."""

from __future__ import annotations

from typing import Any

import pytest

from tests.support.client import Vcenter

WIN1, TESTDEV, FILES = "vm-601", "vm-525", "vm-1005"
INSTANT = {"timeline": [{"state": "success"}]}
NOT_ALLOWED = "The operation is not allowed in the current state."


# -- operations: how an operation's tasks behave ----------------------------------------------------------


def test_an_operation_s_behaviour_applies_to_its_tasks_by_vis_name_or_method(vcenter: Vcenter) -> None:
    vcenter.ok(
        "PUT",
        "operations/Power_Off_VM",
        {"timeline": [{"state": "running", "progress": 7}, {"state": "success", "at": 30}]},
    )
    vcenter.ok("PUT", "operations/PowerOnVM_Task", INSTANT)
    soap = vcenter.soap()
    off = soap.power(WIN1, "PowerOffVM_Task")
    on = soap.power(FILES, "PowerOnVM_Task")
    suspend = soap.power(TESTDEV, "SuspendVM_Task")  # no behaviour of its own: vismock's default
    off_view, on_view, suspend_view = soap.tasks(off, on, suspend)
    assert (off_view.state, off_view.progress) == ("running", 7)
    assert (on_view.state, soap.power_state(FILES)) == ("success", "poweredOn")
    assert suspend_view.state == "queued"
    vcenter.advance(2)
    assert (soap.task(suspend).state, soap.task(off).state) == ("success", "running")
    vcenter.advance(28)
    assert soap.power_state(WIN1) == "poweredOff"


def test_default_applies_to_operations_without_their_own_and_put_all_replaces_them(vcenter: Vcenter) -> None:
    vcenter.ok(
        "PUT", "operations/Power_Off_VM", {"timeline": [{"state": "running"}, {"state": "success", "at": 99}]}
    )
    vcenter.ok("PUT", "operations/default", INSTANT)
    soap = vcenter.soap()
    assert soap.task(soap.power(FILES, "PowerOnVM_Task")).state == "success"
    assert soap.task(soap.power(WIN1, "PowerOffVM_Task")).state == "running"
    assert vcenter.ok("PUT", "operations", {}) == {"operations": {}}  # {}: vismock's own default
    vcenter.advance(99)
    assert soap.task(soap.power(FILES, "PowerOffVM_Task")).state == "queued"


def test_a_behaviour_may_progress_by_polls(vcenter: Vcenter) -> None:
    vcenter.ok(
        "PUT",
        "operations/Suspend_VM",
        {"progression": "polls", "timeline": [{"state": "running"}, {"state": "success", "at": 2}]},
    )
    answer = vcenter.power("Suspend_VM", "win1")
    states = [vcenter.task(answer.task_id or "").state for _ in range(3)]
    assert states == ["running", "running", "success"]
    assert vcenter.vm(WIN1)["powerState"] == "suspended"


def test_a_bad_operation_or_behaviour_is_refused_saying_what_is_known(vcenter: Vcenter) -> None:
    status, message = vcenter.refused("PUT", "operations", {"Power_Off": INSTANT})
    assert status == 400 and "'Power_Off' is not a power operation" in message and "Power_Off_VM" in message
    status, message = vcenter.refused("PUT", "operations/default", {"timeline": [{"state": "running"}]})
    assert status == 400
    assert vcenter.ok("GET", "operations") == {"operations": {}}


# -- cancel of power tasks ------------------------------------------------------------------------------


def test_power_tasks_are_not_cancelable_unless_scripted(vcenter: Vcenter) -> None:
    soap = vcenter.soap()
    task = soap.power(WIN1, "PowerOffVM_Task")
    fault = soap.cancel(task)
    assert fault is not None and fault.type == "NotSupported"
    vcenter.advance(2)
    assert soap.power_state(WIN1) == "poweredOff"


def test_a_cancelled_power_task_keeps_its_progress_and_leaves_the_power_state(vcenter: Vcenter) -> None:
    steps = [
        {"state": "running", "progress": 10},
        {"state": "running", "at": 1, "progress": 50},
        {"state": "success", "at": 2},
    ]
    vcenter.ok("PUT", "operations/default", {"cancelable": True, "timeline": steps})
    soap = vcenter.soap()
    task = soap.power(WIN1, "PowerOffVM_Task")
    vcenter.advance(1)  # running, 50 %
    assert soap.cancel(task) is None
    vcenter.advance(10)
    view = soap.task(task)
    assert (view.state, view.cancelled, view.fault, view.progress) == ("error", True, "RequestCanceled", 50)
    assert soap.power_state(WIN1) == "poweredOn"
    assert vcenter.vm(WIN1)["runningTask"] is None  # the VM is free again
    fault = soap.cancel(task)
    assert fault is not None and fault.type == "InvalidState"
    assert soap.task(soap.power(WIN1, "PowerOffVM_Task")).fault is None


# -- overrides: the next tasks' outcomes -----------------------------------------------------------------


def test_the_next_power_off_on_win1_fails_with_invalid_state_after_two_polls(vcenter: Vcenter) -> None:
    vcenter.add(
        "overrides", operation="Power_Off_VM", vm="win1", fault="InvalidState", after=2, progression="polls"
    )
    soap = vcenter.soap()
    other = soap.power(TESTDEV, "PowerOffVM_Task")  # another VM: not scripted
    task = soap.power(WIN1, "PowerOffVM_Task")
    views = [soap.task(task) for _ in range(3)]
    assert [view.state for view in views] == ["running", "running", "error"]
    assert (views[-1].fault, views[-1].message) == ("InvalidState", NOT_ALLOWED)
    assert soap.power_state(WIN1) == "poweredOn"  # a failed task changes nothing
    assert vcenter.listed("overrides") == []  # used up
    vcenter.advance(2)
    assert soap.task(other).state == "success"
    assert soap.task(soap.power(WIN1, "PowerOffVM_Task")).fault is None  # the next one runs as usual


def test_an_override_fails_after_seconds_or_advances_with_its_progression(vcenter: Vcenter) -> None:
    vcenter.add("overrides", vm=WIN1, fault="InvalidState", after=5)  # by id; time by default
    vcenter.add("overrides", vm="files-01", fault="InvalidState", after=1, progression="manual")
    timed = vcenter.power("Power_Off_VM", "win1").task_id or ""
    manual = vcenter.power("Power_On_VM", "files-01").task_id or ""
    vcenter.advance(4.9)
    assert (vcenter.task(timed).state, vcenter.task(manual).state) == ("running", "running")
    vcenter.advance(0.1)
    assert vcenter.task(timed).fault == "InvalidState"
    assert vcenter.advance_task(manual).fault == "InvalidState"
    assert (vcenter.vm(WIN1)["powerState"], vcenter.vm(FILES)["powerState"]) == ("poweredOn", "poweredOff")


def test_an_override_counts_down_its_times_and_null_is_every_time(vcenter: Vcenter) -> None:
    vcenter.ok("PUT", "operations/default", INSTANT)
    counted = vcenter.add("overrides", operation="ResetVM_Task", fault="InvalidState", times=2)
    soap = vcenter.soap()
    first = soap.task(soap.power(WIN1, "ResetVM_Task"))
    assert (first.fault, vcenter.listed("overrides")[0]["times"]) == ("InvalidState", 1)
    assert soap.task(soap.power(WIN1, "ResetVM_Task")).fault == "InvalidState"
    assert soap.task(soap.power(WIN1, "ResetVM_Task")).fault is None
    assert vcenter.listed("overrides") == []
    assert counted["times"] == 2
    vcenter.add("overrides", operation="ResetVM_Task", fault="InvalidState", times=None)
    for _ in range(4):
        assert soap.task(soap.power(WIN1, "ResetVM_Task")).fault == "InvalidState"
    assert vcenter.listed("overrides")[0]["times"] is None


def test_overrides_match_by_operation_and_vm_and_the_first_match_wins(vcenter: Vcenter) -> None:
    vcenter.ok("PUT", "operations/default", INSTANT)
    vcenter.add("overrides", operation="PowerOffVM_Task", vm="TestDev", fault="InvalidState")
    vcenter.add("overrides", vm="win1", fault="FileFault", message="first for win1")
    vcenter.add("overrides", vm="win1", fault="NoDiskSpace")
    soap = vcenter.soap()
    reset_win1 = soap.task(soap.power(WIN1, "ResetVM_Task"))
    assert (reset_win1.fault, reset_win1.message) == ("FileFault", "first for win1")
    reset_testdev = soap.task(soap.power(TESTDEV, "ResetVM_Task"))  # not the operation scripted
    assert reset_testdev.fault is None
    assert soap.task(soap.power(TESTDEV, "PowerOffVM_Task")).fault == "InvalidState"
    assert soap.task(soap.power(WIN1, "ResetVM_Task")).fault == "NoDiskSpace"
    assert vcenter.listed("overrides") == []


def test_an_override_is_used_only_by_a_task_that_can_run(vcenter: Vcenter) -> None:
    vcenter.add("overrides", operation="PowerOnVM_Task", vm="win1", fault="InvalidState")
    soap = vcenter.soap()
    refused = soap.task(soap.power(WIN1, "PowerOnVM_Task"))  # already on: InvalidPowerState
    assert refused.fault == "InvalidPowerState"
    running = soap.power(WIN1, "PowerOffVM_Task")
    assert soap.task(soap.power(WIN1, "PowerOnVM_Task")).fault == "TaskInProgress"
    assert vcenter.power("Power_On_VM", "win1").fault == "TaskInProgress"
    assert vcenter.listed("overrides")[0]["times"] == 1  # none of them consumed it
    vcenter.advance(2)
    assert soap.task(running).state == "success"
    scripted = soap.power(WIN1, "PowerOnVM_Task")
    vcenter.advance(2)
    assert soap.task(scripted).fault == "InvalidState"
    assert vcenter.listed("overrides") == []


def test_fault_fields_reach_the_soap_face_and_a_message_replaces_vcenter_s(vcenter: Vcenter) -> None:
    vcenter.add(
        "overrides",
        vm="win1",
        fault="InvalidPowerState",
        message="scripted",
        faultFields={"requestedState": "poweredOff", "existingState": "suspended"},
    )
    soap = vcenter.soap()
    view = soap.task(soap.power(WIN1, "PowerOffVM_Task"))
    assert (view.fault, view.message) == ("InvalidPowerState", "scripted")
    assert view.fault_fields == {"requestedState": "poweredOff", "existingState": "suspended"}
    adapter = vcenter.task(view.key)
    assert (adapter.fault, adapter.message) == ("InvalidPowerState", "scripted")


def test_an_override_with_a_timeline_replaces_the_behaviour(vcenter: Vcenter) -> None:
    vcenter.add(
        "overrides",
        vm="win1",
        times=None,
        timeline=[{"state": "running", "progress": 3}, {"state": "success", "at": 30}],
    )
    soap = vcenter.soap()
    task = soap.power(WIN1, "PowerOffVM_Task")
    vcenter.advance(29)
    assert (soap.task(task).progress, soap.power_state(WIN1)) == (3, "poweredOn")
    vcenter.advance(1)
    assert soap.power_state(WIN1) == "poweredOff"


def test_overrides_are_removed_one_by_one_or_all(vcenter: Vcenter) -> None:
    first = vcenter.add("overrides", vm="win1", fault="InvalidState")
    vcenter.add("overrides", vm="TestDev", fault="InvalidState")
    assert vcenter.ok("DELETE", f"overrides/{first['id']}") == {"deleted": first["id"]}
    assert [item["vm"] for item in vcenter.listed("overrides")] == ["TestDev"]
    assert vcenter.refused("DELETE", f"overrides/{first['id']}")[0] == 404
    vcenter.ok("DELETE", "overrides")
    assert vcenter.listed("overrides") == []
    soap = vcenter.soap()
    vcenter.advance(1)
    task = soap.power(TESTDEV, "PowerOffVM_Task")
    vcenter.advance(2)
    assert soap.task(task).state == "success"


@pytest.mark.parametrize(
    ("body", "words"),
    [
        ({"fault": "InvalidStat"}, "did you mean InvalidState?"),
        (
            {"operation": "Power_Off", "vm": "win1", "timeline": [{"state": "success"}]},
            "not a power operation",
        ),
        ({"fault": "InvalidPowerState", "faultFields": {"colour": "x"}}, "unknown field 'colour'"),
        ({"vm": "win1", "fault": "InvalidState", "times": 0}, "times"),
    ],
)
def test_a_bad_override_is_refused_naming_the_field(
    vcenter: Vcenter, body: dict[str, Any], words: str
) -> None:
    status, message = vcenter.refused("POST", "overrides", body)
    assert status == 400 and words in message
    assert vcenter.listed("overrides") == []


def test_reset_returns_to_the_loaded_operations_and_overrides(vcenter: Vcenter) -> None:
    vcenter.ok("PUT", "operations/default", INSTANT)
    vcenter.add("overrides", vm="win1", fault="InvalidState", times=None)
    vcenter.reset()
    assert vcenter.ok("GET", "operations") == {"operations": {}}
    assert vcenter.listed("overrides") == []
    vcenter.freeze()
    soap = vcenter.soap()
    task = soap.power(WIN1, "PowerOffVM_Task")
    assert soap.task(task).state == "queued"  # vismock's default again
