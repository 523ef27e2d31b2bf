"""How the tasks that operations create behave: their timelines, and scripted outcomes.

Plain data shared by the scenario file's reader (:mod:`.taskfile`: the ``operations`` and
``overrides`` sections), the state's object that applies it (:mod:`.operations`) and the admin API. A
:class:`Behaviour` is a task file's lifecycle without the task: progression, timeline and
whether CancelTask may stop it. An :class:`Override` scripts the next tasks of an operation on a
VM ("the next Power_Off_VM on win1 fails with InvalidState after 2 polls").
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any

from vismock.mockserver.state.models import Progression, Step

DEFAULT_KEY = "default"  # the behaviour of every operation without one of its own

# vCenter's power operations take seconds: queued, running, done after 2 s of the mock's clock.
# (The seed's finished power-on shows no progress, so the last step carries none either.)
DEFAULT_TIMELINE = (
    Step(state="queued", at=0),
    Step(state="running", at=0.2, progress=0),
    Step(state="running", at=1, progress=50),
    Step(state="success", at=2),
)


@dataclass(frozen=True, slots=True)
class Behaviour:
    """A created task's lifecycle: the task file's progression and timeline, and cancelable."""

    progression: Progression = "time"
    timeline: tuple[Step, ...] = DEFAULT_TIMELINE
    cancelable: bool = False  # vCenter's power tasks are not (the seed's: cancelable false)


DEFAULT_BEHAVIOUR = Behaviour()
INSTANT = Behaviour(timeline=(Step(state="success", at=0),))  # finished when created, as vcsim's


@dataclass(frozen=True, slots=True)
class Override:
    """The next *times* tasks of *operation* on *vm* behave as *behaviour* (None: any operation,
    any VM; *times* None: every time). *operation* is a vim25 method (``PowerOffVM_Task``), *vm*
    a VM's name or id. Only a task the VM's state lets run uses an override."""

    behaviour: Behaviour
    operation: str | None = None
    vm: str | None = None
    times: int | None = 1
    id: int | None = None  # assigned when stored

    def matches(self, method: str, vm_id: str, vm_name: str) -> bool:
        return self.operation in (None, method) and self.vm in (None, vm_id, vm_name)


# -- the stored (JSON) form: written from validated values, read back as they were --------------


def behaviour_to_json(behaviour: Behaviour) -> dict[str, Any]:
    return {
        "progression": behaviour.progression,
        "cancelable": behaviour.cancelable,
        "timeline": [_step_to_json(step) for step in behaviour.timeline],
    }


def behaviour_from_json(data: dict[str, Any]) -> Behaviour:
    return Behaviour(
        progression=data["progression"],
        cancelable=bool(data["cancelable"]),
        timeline=tuple(_step_from_json(step) for step in data["timeline"]),
    )


def override_to_json(override: Override) -> dict[str, Any]:
    return {
        "operation": override.operation,
        "vm": override.vm,
        "times": override.times,
        "behaviour": behaviour_to_json(override.behaviour),
    }


def override_from_json(data: dict[str, Any], override_id: int | None, times: int | None) -> Override:
    return Override(
        behaviour=behaviour_from_json(data["behaviour"]),
        operation=data["operation"],
        vm=data["vm"],
        times=times,
        id=override_id,
    )


def _step_to_json(step: Step) -> dict[str, Any]:
    data: dict[str, Any] = {"state": step.state, "at": step.at}
    for key in ("progress", "result", "fault", "message"):
        if getattr(step, key) is not None:
            data[key] = getattr(step, key)
    if step.fault_fields:
        data["fault_fields"] = [list(pair) for pair in step.fault_fields]
    return data


def _step_from_json(data: dict[str, Any]) -> Step:
    fields = tuple((str(name), str(value)) for name, value in data.get("fault_fields", ()))
    return replace(
        Step(state=data["state"], at=data["at"]),
        progress=data.get("progress"),
        result=data.get("result"),
        fault=data.get("fault"),
        message=data.get("message"),
        fault_fields=fields,
    )
