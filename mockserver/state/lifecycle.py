"""A canned task's lifecycle as a pure function: spec + runtime state + clock -> TaskInfo.

Nothing here touches storage or the real clock, so every state of every task
can be computed (and tested) at any instant. The store keeps a :class:`Runtime`
per task and hands it here with the mock's ``now``.

Progression modes:

* ``time``: step *i* is reached when ``now - queueTime >= step.at`` seconds;
  its start/complete times are ``queueTime + step.at``.
* ``polls``: step *i* is shown once ``step.at`` earlier polled reads were
  counted ("after N polls"); the store records when each step was first shown.
* ``manual``: ``Runtime.step_index`` moves only through ``advance``.

Before the first step is reached (a first step with ``at > 0``) the task is
queued. A cancelled task stays where it was when cancelled, in state error.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from vismock.codec import XsDateTime
from vismock.codec.taskinfo import task_info_model

if TYPE_CHECKING:
    from vismock.mockserver.state.models import Reason, Step, TaskSpec

TERMINAL_STATES = frozenset({"success", "error"})
BEFORE_FIRST_STEP = -1
CANCELED_FAULT = "RequestCanceled"
CANCELED_MESSAGE = "The task was canceled by a user."
DEFAULT_ERROR_FAULT = "SystemError"


@dataclass(frozen=True, slots=True)
class Runtime:
    """What the store remembers about one task besides its spec."""

    queued_at: datetime
    polls: int = 0  # polled reads counted so far ("polls" progression)
    step_index: int = 0  # current step ("manual" progression)
    started_at: datetime | None = None  # when a running/terminal step was first shown (polls, manual)
    completed_at: datetime | None = None  # when the terminal step was first shown (polls, manual)
    cancelled_at: datetime | None = None


def initial_runtime(spec: TaskSpec, now: datetime) -> Runtime:
    """A task's state when it is (re)loaded at *now*: queued at the spec's fixed time or *now*."""
    runtime = Runtime(queued_at=spec.queued_at or now)
    return note_shown(spec, runtime, current_index(spec, runtime, now), runtime.queued_at)


def restarted_at(spec: TaskSpec, moment: datetime) -> Runtime:
    """The task started over at *moment*: queued then (or at its fixed queueTime, if not later)."""
    queued_at = spec.queued_at if spec.queued_at is not None and spec.queued_at <= moment else moment
    runtime = Runtime(queued_at=queued_at)
    return note_shown(spec, runtime, current_index(spec, runtime, moment), queued_at)


def current_index(spec: TaskSpec, runtime: Runtime, now: datetime) -> int:
    """The index of the timeline step shown at *now* (``BEFORE_FIRST_STEP`` if none yet)."""
    if spec.progression == "manual":
        return min(runtime.step_index, len(spec.timeline) - 1)
    if spec.progression == "polls":
        return _last_step_at_or_before(spec.timeline, runtime.polls)
    # A cancelled task froze when it was cancelled.
    moment = runtime.cancelled_at or now
    elapsed = (moment - runtime.queued_at).total_seconds()
    return _last_step_at_or_before(spec.timeline, elapsed)


def _last_step_at_or_before(timeline: tuple[Step, ...], position: float) -> int:
    index = BEFORE_FIRST_STEP
    for candidate, step in enumerate(timeline):
        if step.at > position:
            break
        index = candidate
    return index


def is_finished(spec: TaskSpec, runtime: Runtime, now: datetime) -> bool:
    """Cancelled, or showing a success/error step."""
    if runtime.cancelled_at is not None:
        return True
    index = current_index(spec, runtime, now)
    return index >= 0 and spec.timeline[index].state in TERMINAL_STATES


def counts_polls(spec: TaskSpec, runtime: Runtime) -> bool:
    """Whether a polled read of this task must be counted (a write): polls progression, not yet
    seen finished. Once the terminal step has been shown, reads stop counting."""
    return spec.progression == "polls" and runtime.cancelled_at is None and runtime.completed_at is None


def note_shown(spec: TaskSpec, runtime: Runtime, index: int, at: datetime) -> Runtime:
    """Record start/complete times the first time a running/terminal step is shown (polls, manual)."""
    if index < 0:
        return runtime
    state = spec.timeline[index].state
    if state != "queued" and runtime.started_at is None:
        runtime = replace(runtime, started_at=at)
    if state in TERMINAL_STATES and runtime.completed_at is None:
        runtime = replace(runtime, completed_at=at)
    return runtime


def after_poll(spec: TaskSpec, runtime: Runtime, now: datetime) -> tuple[Runtime, Runtime]:
    """A polled read at *now*: (the runtime to render this read with, the runtime to store).

    The read shows the step reached after the polls counted so far, then counts itself.
    Finished tasks stop counting.
    """
    if not counts_polls(spec, runtime):
        return runtime, runtime
    shown = note_shown(spec, runtime, current_index(spec, runtime, now), now)
    return shown, replace(shown, polls=shown.polls + 1)


def advance(spec: TaskSpec, runtime: Runtime, steps: int, now: datetime) -> Runtime:
    """Manual progression: move *steps* steps on (never past the last), recording when."""
    if runtime.cancelled_at is not None:
        return runtime
    last = len(spec.timeline) - 1
    index = min(runtime.step_index + max(steps, 0), last)
    return note_shown(spec, replace(runtime, step_index=index), index, now)


def cancel(runtime: Runtime, now: datetime) -> Runtime:
    return replace(runtime, cancelled_at=now)


def task_info(spec: TaskSpec, runtime: Runtime, now: datetime) -> dict[str, Any]:
    """The vim25 TaskInfo at *now* in vismock.codec's decode form, fields in schema order."""
    return task_info_model().ordered(task_info_fields(spec, runtime, now))


def task_info_fields(spec: TaskSpec, runtime: Runtime, now: datetime) -> dict[str, Any]:
    """:func:`task_info`'s fields in no particular order (what a conversion that reads them by
    name takes, without the sort)."""
    index = current_index(spec, runtime, now)
    step = spec.timeline[index] if index >= 0 else None
    cancelled = runtime.cancelled_at is not None
    started, completed = _start_and_complete(spec, runtime, index)
    if cancelled:
        completed = runtime.cancelled_at
    info: dict[str, Any] = {**spec.field_values, "key": spec.id, "Task": spec.id, "name": spec.name}
    if spec.description is not None:
        info["description"] = {"key": spec.description_id, "message": spec.description}
    info["descriptionId"] = spec.description_id
    if spec.entity_type and spec.entity_id is not None:
        info[spec.entity_type] = spec.entity_id
    if spec.entity_name is not None:
        info["entityName"] = spec.entity_name
    info["state"] = "error" if cancelled else (step.state if step else "queued")
    info["cancelled"] = cancelled
    info["cancelable"] = spec.cancelable
    _add_outcome(info, step, cancelled)
    info.update(reason_element(spec.reason))
    queued = info["queueTime"] = XsDateTime.from_datetime(runtime.queued_at)
    if started is not None:
        info["startTime"] = _written(started, runtime.queued_at, queued)
    if completed is not None:
        info["completeTime"] = _written(completed, runtime.queued_at, queued)
    info["eventChainId"] = spec.event_chain_id
    return info


def _written(moment: datetime, other: datetime, other_text: XsDateTime) -> XsDateTime:
    """*moment* as xs:dateTime: *other*'s text when it is the same moment in the same offset (a
    task that ends at once is queued, started and completed at one instant)."""
    if moment == other and moment.utcoffset() == other.utcoffset():
        return other_text
    return XsDateTime.from_datetime(moment)


def next_change(spec: TaskSpec, runtime: Runtime, now: datetime) -> datetime | None:
    """When the TaskInfo shown at *now* changes by itself (the clock reaching the next step of a
    time-progressed task), or None when only a write can change it (polls, manual, finished)."""
    if spec.progression != "time" or runtime.cancelled_at is not None:
        return None
    following = current_index(spec, runtime, now) + 1
    if following >= len(spec.timeline):
        return None
    return runtime.queued_at + _seconds(spec.timeline[following].at)


def outcome(spec: TaskSpec, runtime: Runtime, now: datetime) -> str | None:
    """How the task ended as its clients know it ("success" or "error"), or None while it has not.

    A polls-progressed task has ended only once a read showed its last step (an internal peek
    shows what the *next* read would); a cancelled one ended in error.
    """
    if runtime.cancelled_at is not None:
        return "error"
    if spec.progression == "polls" and runtime.completed_at is None:
        return None
    index = current_index(spec, runtime, now)
    state = spec.timeline[index].state if index >= 0 else "queued"
    return state if state in TERMINAL_STATES else None


def completed_at(spec: TaskSpec, runtime: Runtime, now: datetime) -> datetime | None:
    """When the task ended (its completeTime), None while it has not."""
    if runtime.cancelled_at is not None:
        return runtime.cancelled_at
    if outcome(spec, runtime, now) is None:
        return None
    return _start_and_complete(spec, runtime, current_index(spec, runtime, now))[1]


def fault_fields(spec: TaskSpec, runtime: Runtime, now: datetime) -> tuple[tuple[str, str], ...]:
    """The vim25 fields of the fault the task shows now (none when it shows no error step)."""
    if runtime.cancelled_at is not None:
        return ()
    index = current_index(spec, runtime, now)
    return spec.timeline[index].fault_fields if index >= 0 else ()


def _add_outcome(info: dict[str, Any], step: Step | None, cancelled: bool) -> None:
    """error / result / progress, as the current step (or the cancellation) says."""
    if cancelled:
        info["error"] = {"fault": CANCELED_FAULT, "localizedMessage": CANCELED_MESSAGE}
    elif step is not None and step.state == "error":
        error: dict[str, Any] = {"fault": step.fault or DEFAULT_ERROR_FAULT}
        if step.message is not None:
            error["localizedMessage"] = step.message
        info["error"] = error
    if not cancelled and step is not None and step.state == "success" and step.result is not None:
        info["result"] = step.result
    if step is not None and step.progress is not None:
        info["progress"] = step.progress


def _start_and_complete(
    spec: TaskSpec, runtime: Runtime, index: int
) -> tuple[datetime | None, datetime | None]:
    if index < 0:
        return None, None
    if spec.progression != "time":
        return runtime.started_at, runtime.completed_at
    timeline = spec.timeline
    first_started = next((i for i in range(index + 1) if timeline[i].state != "queued"), None)
    started = None if first_started is None else runtime.queued_at + _seconds(timeline[first_started].at)
    completed = None
    if timeline[index].state in TERMINAL_STATES:
        completed = runtime.queued_at + _seconds(timeline[index].at)
    return started, completed


def _seconds(value: float) -> timedelta:
    return timedelta(seconds=value)


def reason_element(reason: Reason) -> dict[str, Any]:
    """The TaskReason choice element: ``{"TaskReasonUser": {"userName": ...}}`` etc."""
    if reason.kind == "user":
        return {"TaskReasonUser": {"userName": reason.user_name or ""}}
    if reason.kind == "alarm":
        return {
            "TaskReasonAlarm": {
                "alarm": reason.alarm or "",
                "alarmName": reason.alarm_name or "",
                "entity": reason.entity or "",
                "entityName": reason.entity_name or "",
            }
        }
    if reason.kind == "schedule":
        return {
            "TaskReasonSchedule": {"name": reason.name or "", "scheduledTask": reason.scheduled_task or ""}
        }
    return {"TaskReasonSystem": None}
