"""The pure lifecycle function: TaskSpec + Runtime + now -> TaskInfo."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import vismock.codec as codec
from vismock.adapter.operations import success_response
from vismock.adapter.operations.retrieve_task_status import returnvals
from vismock.mockserver.state import Reason, Step, TaskSpec, lifecycle
from vismock.mockserver.state.lifecycle import Runtime
from vismock.mockserver.state.taskfile import check_spec

T0 = datetime(2030, 1, 1, tzinfo=UTC)
TIMELINE = (
    Step("queued", 0),
    Step("running", 2, progress=0),
    Step("running", 5, progress=50),
    Step("success", 9, progress=100, result="vm-9"),
)
SCHEMA_ORDER = [
    "key", "Task", "description", "name", "descriptionId", "VirtualMachine", "entityName", "state",
    "cancelled", "cancelable", "error", "result", "progress", "TaskReasonUser", "TaskReasonAlarm",
    "TaskReasonSchedule", "TaskReasonSystem", "queueTime", "startTime", "completeTime", "eventChainId",
    "changeTag", "parentTaskKey", "rootTaskKey", "activationId",
]  # fmt: skip


def spec(**changes: Any) -> TaskSpec:
    fields: dict[str, Any] = {
        "id": "task-1",
        "name": "CloneVM_Task",
        "description_id": "VirtualMachine.clone",
        "entity_type": "VirtualMachine",
        "entity_id": "vm-1",
        "entity_name": "web-01",
        "timeline": TIMELINE,
    }
    fields.update(changes)
    return TaskSpec(**fields)


def at(seconds: float) -> datetime:
    return T0 + timedelta(seconds=seconds)


def xs(seconds: float) -> codec.XsDateTime:
    return codec.XsDateTime.from_datetime(at(seconds))


def test_initial_runtime_is_queued_now_or_at_the_fixed_time() -> None:
    assert lifecycle.initial_runtime(spec(), T0) == Runtime(queued_at=T0)
    fixed = datetime(2009, 5, 27, 8, 26, 34, 234375, tzinfo=UTC)
    assert lifecycle.initial_runtime(spec(queued_at=fixed), T0).queued_at == fixed


def test_initial_runtime_of_a_manual_task_already_running_records_its_start() -> None:
    manual = spec(progression="manual", timeline=(Step("running"), Step("success")))
    assert lifecycle.initial_runtime(manual, T0) == Runtime(queued_at=T0, started_at=T0)


@pytest.mark.parametrize(
    ("seconds", "index"), [(0, 0), (1.999999, 0), (2, 1), (4.9, 1), (5, 2), (9, 3), (1e9, 3), (-1, -1)]
)
def test_time_progression_index(seconds: float, index: int) -> None:
    assert lifecycle.current_index(spec(), Runtime(queued_at=T0), at(seconds)) == index


@pytest.mark.parametrize(("polls", "index"), [(0, 0), (1, 0), (2, 1), (4, 1), (5, 2), (9, 3), (50, 3)])
def test_polls_progression_index(polls: int, index: int) -> None:
    task = spec(progression="polls")
    assert lifecycle.current_index(task, Runtime(queued_at=T0, polls=polls), at(10_000)) == index


def test_manual_index_is_clamped_to_the_last_step() -> None:
    task = spec(progression="manual")
    assert lifecycle.current_index(task, Runtime(queued_at=T0, step_index=99), T0) == 3


def test_time_progression_info_follows_the_clock() -> None:
    task = spec()
    runtime = Runtime(queued_at=T0)
    queued = lifecycle.task_info(task, runtime, at(1))
    assert (queued["state"], "progress" in queued, "startTime" in queued) == ("queued", False, False)
    running = lifecycle.task_info(task, runtime, at(6))
    assert (running["state"], running["progress"], running["startTime"]) == ("running", 50, xs(2))
    assert "completeTime" not in running
    done = lifecycle.task_info(task, runtime, at(60))
    assert (done["state"], done["result"], done["startTime"], done["completeTime"]) == (
        "success",
        "vm-9",
        xs(2),
        xs(9),
    )


def test_a_poll_shows_what_earlier_polls_reached_then_counts_itself() -> None:
    task = spec(progression="polls", timeline=(Step("queued", 0), Step("running", 1), Step("success", 2)))
    runtime = Runtime(queued_at=T0)
    shown, runtime = lifecycle.after_poll(task, runtime, at(1))
    assert (lifecycle.task_info(task, shown, at(1))["state"], runtime.polls) == ("queued", 1)
    shown, runtime = lifecycle.after_poll(task, runtime, at(2))
    info = lifecycle.task_info(task, shown, at(2))
    assert (info["state"], info["startTime"], runtime.polls) == ("running", xs(2), 2)
    shown, runtime = lifecycle.after_poll(task, runtime, at(3))
    info = lifecycle.task_info(task, shown, at(3))
    assert (info["state"], info["completeTime"], runtime.completed_at) == ("success", xs(3), at(3))
    assert lifecycle.after_poll(task, runtime, at(4)) == (runtime, runtime)  # finished: no longer counted
    assert not lifecycle.counts_polls(task, runtime)


def test_polls_are_not_counted_for_other_progressions() -> None:
    runtime = Runtime(queued_at=T0)
    assert lifecycle.after_poll(spec(), runtime, at(1)) == (runtime, runtime)
    assert not lifecycle.counts_polls(spec(progression="manual"), runtime)


def test_manual_advance_records_when_each_state_was_reached() -> None:
    task = spec(progression="manual")
    runtime = lifecycle.advance(task, Runtime(queued_at=T0), 1, at(10))
    assert (runtime.step_index, runtime.started_at, runtime.completed_at) == (1, at(10), None)
    runtime = lifecycle.advance(task, runtime, 10, at(20))
    assert (runtime.step_index, runtime.started_at, runtime.completed_at) == (3, at(10), at(20))
    assert lifecycle.advance(task, runtime, -5, at(30)) == runtime


def test_cancelled_task_freezes_where_it_was() -> None:
    task = spec(cancelable=True)
    runtime = lifecycle.cancel(Runtime(queued_at=T0), at(6))
    info = lifecycle.task_info(task, runtime, at(1000))
    assert info["state"] == "error"
    assert info["cancelled"] is True
    assert info["error"] == {
        "fault": "RequestCanceled",
        "localizedMessage": "The task was canceled by a user.",
    }
    assert (info["progress"], info["startTime"], info["completeTime"]) == (50, xs(2), xs(6))
    assert "result" not in info
    assert lifecycle.is_finished(task, runtime, at(6))
    assert lifecycle.advance(spec(progression="manual"), runtime, 1, at(7)) == runtime


def test_error_step_renders_fault_and_message() -> None:
    task = spec(timeline=(Step("running", 0), Step("error", 1, fault="FileFault", message="disk full")))
    info = lifecycle.task_info(task, Runtime(queued_at=T0), at(1))
    assert info["error"] == {"fault": "FileFault", "localizedMessage": "disk full"}
    assert lifecycle.task_info(replace(task, timeline=(Step("error", 0),)), Runtime(queued_at=T0), T0)[
        "error"
    ] == {"fault": "SystemError"}


@pytest.mark.parametrize(
    ("reason", "element"),
    [
        (Reason(kind="user", user_name="bmc"), {"TaskReasonUser": {"userName": "bmc"}}),
        (Reason(kind="user"), {"TaskReasonUser": {"userName": ""}}),
        (
            Reason(kind="alarm", alarm="alarm-1", alarm_name="CPU", entity="host-1", entity_name="esx01"),
            {
                "TaskReasonAlarm": {
                    "alarm": "alarm-1",
                    "alarmName": "CPU",
                    "entity": "host-1",
                    "entityName": "esx01",
                }
            },
        ),
        (
            Reason(kind="schedule", name="Nightly", scheduled_task="scheduledtask-1"),
            {"TaskReasonSchedule": {"name": "Nightly", "scheduledTask": "scheduledtask-1"}},
        ),
        (Reason(kind="system"), {"TaskReasonSystem": None}),
    ],
)
def test_reason_elements(reason: Reason, element: dict[str, Any]) -> None:
    assert lifecycle.reason_element(reason) == element
    info = lifecycle.task_info(spec(reason=reason), Runtime(queued_at=T0), at(100))
    assert codec.encode(success_response("Retrieve_Task_Status", returnvals([info])))


def test_fields_come_in_schema_order_with_optional_ones() -> None:
    task = spec(
        description="Clone virtual machine",
        fields=(
            ("changeTag", "c"),
            ("parentTaskKey", "task-0"),
            ("rootTaskKey", "task-0"),
            ("activationId", "a"),
        ),
    )
    info = lifecycle.task_info(task, Runtime(queued_at=T0), at(100))
    assert list(info) == [key for key in SCHEMA_ORDER if key in info]
    assert info["description"] == {"key": "VirtualMachine.clone", "message": "Clone virtual machine"}
    assert codec.encode(success_response("Retrieve_Task_Status", returnvals([info])))


def test_task_without_an_entity_has_no_entity_elements() -> None:
    info = lifecycle.task_info(
        spec(entity_type=None, entity_id=None, entity_name=None), Runtime(queued_at=T0), T0
    )
    assert "VirtualMachine" not in info and "entityName" not in info
    assert codec.encode(success_response("Retrieve_Task_Status", returnvals([info])))


# -- property: any valid timeline, any moment, any mode renders a valid TaskInfo, never going back --


@st.composite
def timelines(draw: st.DrawFn) -> tuple[Step, ...]:
    ending = draw(st.sampled_from(["success", "error", "running"]))
    states = ["queued"] * draw(st.integers(0, 2)) + ["running"] * draw(st.integers(0, 3))
    if ending != "running" or not states:
        states.append(ending)
    ats = sorted(
        draw(st.sets(st.floats(0, 1000, allow_nan=False), min_size=len(states), max_size=len(states)))
    )
    progress = sorted(draw(st.lists(st.integers(0, 100), min_size=len(states), max_size=len(states))))
    return tuple(
        Step(
            state=state,  # type: ignore[arg-type]
            at=moment,
            progress=percent if draw(st.booleans()) else None,
            result="vm-1" if state == "success" and draw(st.booleans()) else None,
            fault="FileFault" if state == "error" else None,
            message="failed" if state == "error" and draw(st.booleans()) else None,
        )
        for state, moment, percent in zip(states, ats, progress, strict=True)
    )


ORDER = {"queued": 0, "running": 1, "success": 2, "error": 2}


@settings(max_examples=60, deadline=None)
@given(
    timeline=timelines(),
    progression=st.sampled_from(["time", "polls", "manual"]),
    moments=st.lists(st.floats(0, 1200, allow_nan=False), min_size=1, max_size=6),
)
def test_any_timeline_renders_valid_and_never_goes_back(
    timeline: tuple[Step, ...], progression: str, moments: list[float]
) -> None:
    task = spec(timeline=timeline, progression=progression)
    check_spec(task)
    runtime = lifecycle.initial_runtime(task, T0)
    previous = -1
    for moment in sorted(moments):
        now = at(moment)
        if progression == "manual":
            runtime = lifecycle.advance(task, runtime, 1, now)
        shown, runtime = lifecycle.after_poll(task, runtime, now)
        info = lifecycle.task_info(task, shown, now)
        codec.encode(success_response("Retrieve_Task_Status", returnvals([info])))
        assert ORDER[info["state"]] >= previous
        previous = ORDER[info["state"]]
        if "startTime" in info and "completeTime" in info:
            assert info["startTime"].datetime <= info["completeTime"].datetime
