"""One recorded task: the TaskInfos the recorder saw of it -> a TaskSpec whose timeline replays them.

A *sighting* is one TaskInfo (vismock.codec's dict form, as ``task_info_dict`` gives it) with the
moment it was seen, on the server's clock. Three timings:

- ``fixed``: the task observed once. Its ``queueTime`` is written as it is and its steps sit at
  their offsets from it (``startTime - queueTime``, ``completeTime - queueTime``), so the replay
  shows the same TaskInfo, times included.
- ``relative``: the task followed. ``queueTime`` is left out (the replay queues it when the file is
  loaded) and each change is a step at its offset from ``queueTime``: the task's own times where
  TaskInfo has them (start, completion), else when the recorder saw the change. The replay goes
  through the same states with the same relative timing, every time shifted by the same amount.
- ``polls``: the task followed, replayed one change per client poll (``progression: polls``).

Nothing here touches the network.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Literal

from vismock.codec import XsDateTime
from vismock.mockserver.state.models import Reason, Step, TaskSpec
from vismock.mockserver.state.taskfile import check_spec, plain_keys
from vismock.schemas import entity_types, fault_types, task_methods

Timing = Literal["fixed", "relative", "polls"]
TERMINAL = ("success", "error")
UNKNOWN_FAULT_STAND_IN = "SystemError"
# The smallest gap between two steps the recorder makes when it has to move one (1 ms).
TICK = 0.001


class NotRecordable(ValueError):
    """The task cannot be written to a task file (its method is no vim25 task method)."""


@dataclass(frozen=True, slots=True)
class Sighting:
    """One TaskInfo of a task and when the recorder got it (server clock, estimated)."""

    seen_at: datetime
    info: Mapping[str, Any]


@dataclass(frozen=True, slots=True)
class RecordedTask:
    spec: TaskSpec
    notes: tuple[str, ...] = ()  # what the file says about the task in a comment
    finished: bool = True  # its last sighting was success or error


@dataclass(frozen=True, slots=True)
class _Point:
    """A step's content (what a TaskInfo shows) before it has its ``at``."""

    state: str
    progress: int | None = None
    result: str | None = None
    fault: str | None = None
    message: str | None = None

    def step(self, at: float) -> Step:
        return Step(
            state=self.state,  # type: ignore[arg-type]
            at=at,
            progress=self.progress,
            result=self.result,
            fault=self.fault,
            message=self.message,
        )


@dataclass(slots=True)
class _Placed:
    point: _Point
    at: float
    exact: bool  # from the task's own times (queue/start/complete), not from when it was seen


@dataclass(slots=True)
class _Notes:
    lines: list[str] = field(default_factory=list)

    def add(self, line: str) -> None:
        if line not in self.lines:
            self.lines.append(line)


def recorded_task(sightings: Sequence[Sighting], timing: Timing) -> RecordedTask:
    """The task file's task for one task's sightings (oldest first); NotRecordable if it has none."""
    if not sightings:
        raise NotRecordable("the task was never seen")
    notes = _Notes()
    last = sightings[-1].info
    name = task_method(str(last.get("name", "")), _optional_text(last.get("descriptionId")), notes)
    points = _points(sightings, notes)
    queued = _time(last, "queueTime")
    if timing == "polls":
        steps = tuple(point.step(float(index)) for index, (point, _seen) in enumerate(points))
    else:
        steps = _timed_steps(points, queued, _time(last, "startTime"), _time(last, "completeTime"))
    entity = _entity(last)
    if entity["entity_type"] is None and last.get("entityName") is not None:
        notes.add(f"entity {last['entityName']!r} is of a type the adapter schema lacks: not recorded")
    spec = TaskSpec(
        id=str(last["key"]),
        name=name,
        description_id=_optional_text(last.get("descriptionId")) or task_methods()[name].description_id,
        description=_description(last),
        **entity,
        reason=reason_of(last),
        cancelable=bool(last.get("cancelable", False)),
        event_chain_id=int(last.get("eventChainId", 0)),
        progression="polls" if timing == "polls" else "time",
        timeline=steps,
        queued_at=queued if timing == "fixed" else None,
        fields=tuple((key, str(last[key])) for key in plain_keys() if last.get(key) is not None),
    )
    check_spec(spec, f"task {spec.id}")  # a recorder bug, not bad input: caught by the tests
    return RecordedTask(spec, tuple(notes.lines), finished=str(last.get("state")) in TERMINAL)


# -- the method


def task_method(name: str, description_id: str | None, notes: _Notes | None = None) -> str:
    """The vim25 task method a TaskInfo names. vCenter sends the method's wire name
    (``PowerOnVM_Task``); the reference simulator sends a short name (``PowerOn``), which no
    client can resolve and the task file refuses: that one is found by the task's descriptionId
    (``VirtualMachine.powerOn``, by the vim25 model: schemas/vim25/model.json), or as ``NAME_Task``."""
    methods = task_methods()
    if name in methods:
        return name
    by_description = sorted(m.name for m in methods.values() if m.description_id == description_id)
    if len(by_description) == 1:
        found, how = by_description[0], f"by its descriptionId {description_id}"
    elif f"{name}_Task" in methods:
        found, how = f"{name}_Task", "by adding _Task"
    else:
        raise NotRecordable(
            f"its name {name!r} is not a vim25 task method and its descriptionId {description_id!r} "
            "names none (the vim25 model, schemas/vim25/model.json, lists them)"
        )
    if notes is not None:
        notes.add(
            f"name {name!r} is no vim25 task method (a simulator's short name): recorded as {found} ({how})"
        )
    return found


# -- what each TaskInfo shows


def _points(sightings: Sequence[Sighting], notes: _Notes) -> list[tuple[_Point, datetime]]:
    """The distinct contents the task went through, in order, each with when it was first seen."""
    points: list[tuple[_Point, datetime]] = []
    for sighting in sightings:
        point = _point(sighting.info, notes)
        if points:
            point = _no_progress_back(points[-1][0], point, notes)
            if point == points[-1][0] or _goes_back(points[-1][0], point):
                continue
        points.append((point, sighting.seen_at))
    return points


def _point(info: Mapping[str, Any], notes: _Notes) -> _Point:
    state = str(info.get("state", "queued"))
    progress = info.get("progress")
    progress = None if progress is None else min(100, max(0, int(progress)))
    if state == "success":
        result = info.get("result")
        return _Point(state, progress, result=None if result is None else str(result))
    if state == "error":
        fault, message = _fault(info, notes)
        return _Point(state, progress, fault=fault, message=message)
    return _Point(state, progress)


def _fault(info: Mapping[str, Any], notes: _Notes) -> tuple[str, str | None]:
    error = info.get("error") or {}
    fault = str(error.get("fault") or UNKNOWN_FAULT_STAND_IN)
    message = _optional_text(error.get("localizedMessage"))
    if info.get("cancelled"):
        notes.add("cancelled: replayed as an error RequestCanceled, with cancelled false")
    if fault in fault_types():
        return fault, message
    # As the SOAP face sends a fault type its schema lacks: SystemError, the type name in front.
    notes.add(f"fault {fault} is not a fault type vismock serves: recorded as SystemError, its name in front")
    return UNKNOWN_FAULT_STAND_IN, f"{fault}: {message}" if message else fault


def _no_progress_back(before: _Point, after: _Point, notes: _Notes) -> _Point:
    """A task file's progress never goes down: a lower value is kept at the previous one."""
    if before.progress is not None and after.progress is not None and after.progress < before.progress:
        notes.add(f"progress went back from {before.progress} to {after.progress}: kept at {before.progress}")
        return _Point(after.state, before.progress, after.result, after.fault, after.message)
    return after


def _goes_back(before: _Point, after: _Point) -> bool:
    order = ("queued", "running", *TERMINAL)
    return before.state in TERMINAL or order.index(after.state) < order.index(before.state)


# -- when each step happens


def _timed_steps(
    points: Sequence[tuple[_Point, datetime]],
    queued: datetime | None,
    started: datetime | None,
    completed: datetime | None,
) -> tuple[Step, ...]:
    """Steps at their offsets from queueTime: exact where TaskInfo has a time for them."""

    def offset(moment: datetime | None) -> float | None:
        return None if moment is None or queued is None else (moment - queued).total_seconds()

    placed: list[_Placed] = []
    for point, seen in points:
        exact: float | None = None
        begun = any(item.point.state != "queued" for item in placed)
        if point.state == "queued" and not placed:
            exact = 0.0
        elif point.state == "running" and not begun:
            exact = offset(started)
        elif point.state in TERMINAL:
            if not begun and started is not None and completed is not None and started < completed:
                # Seen only once finished: a running step of its own keeps startTime in the replay.
                placed.append(_Placed(_Point("running"), offset(started) or 0.0, exact=True))
            exact = offset(completed)
        at = exact if exact is not None else (offset(seen) or 0.0)
        placed.append(_Placed(point, at, exact=exact is not None))
    return tuple(item.point.step(at) for item, at in zip(placed, _increasing(placed), strict=True))


def _increasing(placed: Sequence[_Placed]) -> list[float]:
    """Offsets that increase strictly, as a task file needs: the task's own times kept, the times
    a change was seen moved (evenly between their neighbours) only where clocks disagree."""
    ats = [max(0.0, item.at) for item in placed]
    last_exact: float | None = None
    for index, item in enumerate(placed):
        if item.exact:
            if last_exact is not None and ats[index] <= last_exact:
                ats[index] = last_exact + TICK
            last_exact = ats[index]
    index = 0
    while index < len(ats):
        if placed[index].exact:
            index += 1
            continue
        end = index
        while end < len(ats) and not placed[end].exact:
            end += 1
        _fit(ats, index, end)
        index = end
    return _rounded_increasing(ats)


def _fit(ats: list[float], start: int, end: int) -> None:
    """Make ats[start:end] (seen times) increase strictly between their exact neighbours."""
    low = ats[start - 1] if start > 0 else None
    high = ats[end] if end < len(ats) else None
    run = ats[start:end]
    previous = low
    for position, value in enumerate(run):
        run[position] = value if previous is None or value > previous else previous + TICK
        previous = run[position]
    if high is not None and run[-1] >= high:
        floor = low if low is not None else 0.0
        gap = (high - floor) / (len(run) + 1)
        run = [floor + gap * (position + 1) for position in range(len(run))]
    ats[start:end] = run


def _rounded_increasing(ats: Sequence[float]) -> list[float]:
    rounded: list[float] = []
    for value in ats:
        value = round(value, 6)
        if rounded and value <= rounded[-1]:
            value = round(rounded[-1] + 1e-6, 6)
        rounded.append(value)
    return rounded


# -- the task's constant fields


def _entity(info: Mapping[str, Any]) -> dict[str, str | None]:
    kind = next((name for name in entity_types() if info.get(name) is not None), None)
    if kind is None:
        return {"entity_type": None, "entity_id": None, "entity_name": None}
    return {
        "entity_type": kind,
        "entity_id": str(info[kind]),
        "entity_name": _optional_text(info.get("entityName")),
    }


def reason_of(info: Mapping[str, Any]) -> Reason:
    if "TaskReasonUser" in info:
        return Reason(kind="user", user_name=_optional_text((info["TaskReasonUser"] or {}).get("userName")))
    if "TaskReasonAlarm" in info:
        alarm = info["TaskReasonAlarm"] or {}
        return Reason(
            kind="alarm",
            alarm=str(alarm.get("alarm", "")),
            alarm_name=str(alarm.get("alarmName", "")),
            entity=str(alarm.get("entity", "")),
            entity_name=str(alarm.get("entityName", "")),
        )
    if "TaskReasonSchedule" in info:
        schedule = info["TaskReasonSchedule"] or {}
        return Reason(
            kind="schedule",
            name=str(schedule.get("name", "")),
            scheduled_task=str(schedule.get("scheduledTask", "")),
        )
    return Reason(kind="system")


def _description(info: Mapping[str, Any]) -> str | None:
    description = info.get("description")
    return _optional_text(description.get("message")) if isinstance(description, Mapping) else None


def _time(info: Mapping[str, Any], key: str) -> datetime | None:
    value = info.get(key)
    return None if value is None else XsDateTime(str(value)).datetime


def _optional_text(value: Any) -> str | None:
    return None if value is None or value == "" else str(value)
