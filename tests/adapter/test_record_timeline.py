"""What the recorder makes of the TaskInfos it saw (vismock.adapter.recording.timeline): no network.

Each recorded task is checked by the task file's own rules (check_spec) inside recorded_task, and
replayed here by the mock's lifecycle, which must show what was seen.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from vismock.adapter.recording.timeline import NotRecordable, Sighting, recorded_task, task_method
from vismock.codec import XsDateTime
from vismock.mockserver.state.lifecycle import initial_runtime, task_info

Q = datetime(2026, 5, 4, 3, 2, 1, 123456, tzinfo=UTC)


def at(seconds: float) -> datetime:
    return Q + timedelta(seconds=seconds)


def info(state: str, **fields: Any) -> dict[str, Any]:
    """A TaskInfo (codec dict form) of a clone queued at Q."""
    base: dict[str, Any] = {
        "key": "task-7",
        "Task": "task-7",
        "name": "CloneVM_Task",
        "descriptionId": "VirtualMachine.clone",
        "VirtualMachine": "vm-7",
        "entityName": "web-07",
        "state": state,
        "cancelled": False,
        "cancelable": True,
        "TaskReasonUser": {"userName": "VSPHERE.LOCAL\\alice"},
        "queueTime": XsDateTime.from_datetime(Q),
        "eventChainId": 7001,
    }
    for key in ("startTime", "completeTime"):
        if key in fields:
            fields[key] = XsDateTime.from_datetime(fields[key])
    return {**base, **fields}


def replayed(sightings: list[Sighting], timing: str, moment: datetime) -> dict[str, Any]:
    """The TaskInfo the mock shows at *moment* for the recorded task (queued at Q when not fixed)."""
    spec = recorded_task(sightings, timing).spec  # type: ignore[arg-type]
    return task_info(spec, initial_runtime(spec, Q), moment)


def test_a_finished_task_seen_once_replays_exactly() -> None:
    done = info("success", progress=100, result="vm-8", startTime=at(2.5), completeTime=at(40.000001))
    task = recorded_task([Sighting(at(60), done)], "fixed")
    assert task.spec.queued_at == Q
    assert [(step.state, step.at) for step in task.spec.timeline] == [
        ("running", 2.5),
        ("success", 40.000001),
    ]
    assert replayed([Sighting(at(60), done)], "fixed", at(3600)) == done


def test_a_running_task_seen_once_stays_where_it_was() -> None:
    running = info("running", progress=35, startTime=at(1))
    assert replayed([Sighting(at(9), running)], "fixed", at(3600)) == running


def test_an_error_keeps_its_fault_and_message() -> None:
    failed = info(
        "error",
        error={"fault": "InvalidPowerState", "localizedMessage": "cannot be performed (Powered off)."},
        startTime=at(1),
        completeTime=at(1),
    )
    assert replayed([Sighting(at(5), failed)], "fixed", at(10)) == failed


def test_a_fault_vismock_cannot_serve_becomes_system_error_with_its_name_in_front() -> None:
    # Every vim25 fault is served (the whole model); a name outside it (another service's fault,
    # PBM's here) is not.
    failed = info(
        "error",
        error={"fault": "PbmFault", "localizedMessage": "bad policy"},
        completeTime=at(2),
        startTime=at(1),
    )
    task = recorded_task([Sighting(at(5), failed)], "fixed")
    last = task.spec.timeline[-1]
    assert (last.fault, last.message) == ("SystemError", "PbmFault: bad policy")
    assert any("PbmFault is not a fault type vismock serves" in note for note in task.notes)


def test_a_vim25_fault_beyond_the_old_trimmed_schema_is_recorded_as_it_is() -> None:
    failed = info(
        "error",
        error={"fault": "VAppConfigFault", "localizedMessage": "bad vApp"},
        completeTime=at(2),
        startTime=at(1),
    )
    last = recorded_task([Sighting(at(5), failed)], "fixed").spec.timeline[-1]
    assert (last.fault, last.message) == ("VAppConfigFault", "bad vApp")


def test_a_cancelled_task_is_said_to_lose_its_cancelled_flag() -> None:
    cancelled = info(
        "error",
        cancelled=True,
        error={"fault": "RequestCanceled", "localizedMessage": "The task was canceled by a user."},
        startTime=at(1),
        completeTime=at(3),
    )
    task = recorded_task([Sighting(at(5), cancelled)], "fixed")
    assert any("cancelled false" in note for note in task.notes)
    assert replayed([Sighting(at(5), cancelled)], "fixed", at(10)) == {**cancelled, "cancelled": False}


def test_a_followed_task_replays_its_changes_at_their_offsets() -> None:
    sightings = [
        Sighting(at(0.2), info("queued")),
        Sighting(at(5.1), info("running", progress=0, startTime=at(5))),
        Sighting(at(5.1), info("running", progress=0, startTime=at(5))),  # the same: no step
        Sighting(at(20.05), info("running", progress=50, startTime=at(5))),
        Sighting(
            at(30.2), info("success", progress=100, result="vm-8", startTime=at(5), completeTime=at(30))
        ),
    ]
    spec = recorded_task(sightings, "relative").spec
    assert spec.queued_at is None
    assert [(s.state, s.at, s.progress) for s in spec.timeline] == [
        ("queued", 0, None),
        ("running", 5, 0),  # startTime - queueTime, exactly
        ("running", 20.05, 50),  # when it was seen
        ("success", 30, 100),  # completeTime - queueTime, exactly
    ]
    for sighting in sightings:
        moment = sighting.seen_at
        assert replayed(sightings, "relative", moment)["state"] == sighting.info["state"]


def test_a_server_clock_ahead_of_the_task_times_still_gives_an_increasing_timeline() -> None:
    # The server clock was estimated 10 s late: the progress change "seen" after the completion.
    sightings = [
        Sighting(at(1), info("running", progress=0, startTime=at(1))),
        Sighting(at(25), info("running", progress=60, startTime=at(1))),
        Sighting(at(26), info("running", progress=90, startTime=at(1))),
        Sighting(at(27), info("success", progress=100, startTime=at(1), completeTime=at(20))),
    ]
    steps = recorded_task(sightings, "relative").spec.timeline
    assert steps[0].at == 1 and steps[-1].at == 20
    assert [step.at for step in steps] == sorted({step.at for step in steps})  # strictly increasing
    assert [step.progress for step in steps] == [0, 60, 90, 100]


def test_by_polls_one_change_per_read() -> None:
    sightings = [
        Sighting(at(1), info("queued")),
        Sighting(at(2), info("running", progress=10, startTime=at(2))),
        Sighting(at(3), info("success", startTime=at(2), completeTime=at(3))),
    ]
    spec = recorded_task(sightings, "polls").spec
    assert spec.progression == "polls"
    assert [(s.state, s.at) for s in spec.timeline] == [("queued", 0), ("running", 1), ("success", 2)]


def test_progress_that_goes_back_is_kept_and_said() -> None:
    sightings = [
        Sighting(at(1), info("running", progress=70, startTime=at(1))),
        Sighting(at(2), info("running", progress=20, startTime=at(1))),
    ]
    task = recorded_task(sightings, "relative")
    assert [step.progress for step in task.spec.timeline] == [70]
    assert any("went back from 70 to 20" in note for note in task.notes)


def test_other_fields_are_kept() -> None:
    seen = info(
        "success",
        description={"key": "VirtualMachine.clone", "message": "Cloning web-07"},
        changeTag="tag-9",
        parentTaskKey="task-6",
        rootTaskKey="task-5",
        activationId="act-1",
        startTime=at(1),
        completeTime=at(2),
    )
    spec = recorded_task([Sighting(at(3), seen)], "fixed").spec
    assert spec.description == "Cloning web-07"
    assert spec.field_values == {
        "changeTag": "tag-9",
        "parentTaskKey": "task-6",
        "rootTaskKey": "task-5",
        "activationId": "act-1",
    }
    assert replayed([Sighting(at(3), seen)], "fixed", at(9)) == seen


@pytest.mark.parametrize(
    ("name", "description_id", "method"),
    [
        ("PowerOnVM_Task", "VirtualMachine.powerOn", "PowerOnVM_Task"),  # vCenter's
        ("PowerOn", "VirtualMachine.powerOn", "PowerOnVM_Task"),  # the simulator's
        ("Suspend", "VirtualMachine.suspend", "SuspendVM_Task"),
        ("AddDVPortgroup", "DistributedVirtualSwitch.addDVPortgroup", "AddDVPortgroup_Task"),
    ],
)
def test_task_methods_from_simulator_names(name: str, description_id: str, method: str) -> None:
    assert task_method(name, description_id) == method


def test_a_task_of_no_known_method_is_not_recordable() -> None:
    with pytest.raises(NotRecordable, match="'Frobnicate' is not a vim25 task method"):
        recorded_task(
            [Sighting(at(1), {**info("success"), "name": "Frobnicate", "descriptionId": "X.y"})], "fixed"
        )
