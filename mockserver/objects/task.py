"""Task: vim25's Task managed object, and the one way any method starts one (:func:`start_task`).

A task's ``info`` (vim25 TaskInfo) follows its timeline (the task file's, or the behaviour of the
method that created it: ``operations:``/``overrides:``). The timeline is a pure function of the
task's definition, its runtime and the mock's clock (:mod:`vismock.mockserver.state.lifecycle`);
the state keeps ``info`` as it is now and changes it when something moves the task on:

* the clock reaching its next step (``progression: time``): an event on the registry's schedule;
* a client's read showing the next step (``progression: polls``): :meth:`Task.read_info`;
* the admin API advancing it (``progression: manual``): :meth:`Task.advance`;
* CancelTask: :meth:`Task.cancel`.

A task a method created carries its *effect* (what its method does on success: power a VM off,
create a snapshot); it is applied when the task is first seen to succeed, and its result (the new
snapshot, the clone) becomes the task's typed ``info.result``. An effect that raises a fault fails
the task with it instead.

:func:`start_task` holds every rule about tasks on entities, for every method: an entity busy with
a task refuses another (TaskInProgress, in the task or raised for the adapter face), tasks are
numbered ``task-3001`` up and never reuse an id, ``recentTask`` lists them, the oldest created ones
are dropped beyond the cap (never an entity's latest), and scripting picks their timeline.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any

from vismock.faults import InvalidState, NotSupported, TaskInProgress, VimFault
from vismock.mockserver.objects.base import Context, vim_method
from vismock.mockserver.state import lifecycle
from vismock.mockserver.state.behaviour import Behaviour
from vismock.mockserver.state.clock import from_us, to_us
from vismock.mockserver.state.models import Reason, Step, TaskSpec
from vismock.mockserver.state.registry import ManagedObject, Scheduled, derived
from vismock.mockserver.state.stored import storable
from vismock.mockserver.vim25 import taskinfo
from vismock.mockserver.vim25.values import Data, MoRef
from vismock.schemas import task_methods

if TYPE_CHECKING:
    from vismock.mockserver.objects.managed_entity import ManagedEntity

FIRST_TASK_NUMBER = 3001  # above the built-in tasks' numbers (task-2675 is the highest)
RECENT_ON_ENTITY = 10  # ManagedEntity.recentTask: an entity's newest tasks
RECENT_CREATED = 200  # TaskManager.recentTask: "one of the last 200 completed Task objects"
TASK_MANAGER_ID = "TaskManager"


@storable
@dataclass(frozen=True, slots=True)
class Effect:
    """What a task does when it succeeds: the effect of *method* on *target*, given *args*."""

    target: MoRef
    method: str
    args: tuple[tuple[str, Any], ...] = ()


@storable
@dataclass(frozen=True, slots=True)
class Outcome:
    """How a task's effect went: its *result*, or the fault (*fault*, *message*, *fields*) it failed with."""

    result: Any = None
    fault: str | None = None
    message: str | None = None
    fields: tuple[tuple[str, str], ...] = ()


class Task(ManagedObject):
    """``info`` (vim25 TaskInfo) and the mock's own: ``_spec`` (its definition and timeline),
    ``_runtime`` (where its lifecycle stands), ``_effect``/``_outcome`` (a created task's work),
    ``_number`` (a created task's number; unset for the task file's and the admin API's)."""

    vim_type = "Task"

    @classmethod
    def of(
        cls,
        spec: TaskSpec,
        now_us: int,
        *,
        number: int | None = None,
        effect: Effect | None = None,
        from_file: bool = False,
        info_when_added: bool = False,
    ) -> Task:
        """A new task of *spec* queued at *now_us* (or its fixed queueTime). *info_when_added*:
        its ``info`` is made when it is added, at the same instant (a task that succeeds at once
        then builds its TaskInfo once, with its effect's outcome)."""
        now = from_us(now_us)
        runtime = lifecycle.initial_runtime(spec, now)
        info = None if info_when_added else task_info(spec, runtime, now, None)
        props = {"info": info, "_spec": spec, "_runtime": runtime, "_number": number, "_effect": effect}
        return cls(spec.id, {**props, "_from_file": from_file or None})

    @property
    def spec(self) -> TaskSpec:
        spec: TaskSpec = self._props["_spec"]
        return spec

    @property
    def runtime(self) -> lifecycle.Runtime:
        runtime: lifecycle.Runtime = self._props["_runtime"]
        return runtime

    @property
    def info(self) -> Data:
        info: Data = self._props["info"]
        return info

    @property
    def number(self) -> int | None:
        number: int | None = self._props.get("_number")
        return number

    @property
    def entity_id(self) -> str | None:
        return self.spec.entity_id

    def _now(self) -> datetime:
        return from_us(self.state.now_us())

    # -- what clients see

    def read_info(self, *, poll: bool) -> Data:
        """``info`` as a client's read shows it; a read of a task progressing by polls counts
        (a change: inside a transaction). *poll* False: a peek (what the next read would show)."""
        spec, runtime = self.spec, self.runtime
        if not (poll and lifecycle.counts_polls(spec, runtime)):
            return self.info
        now = self._now()
        shown, stored = lifecycle.after_poll(spec, runtime, now)
        self.update(_runtime=stored)
        self._moved(stored, now, shown=shown)
        return self._info_at(shown, now)

    def client_read(self, *, poll: bool, session: Any = None) -> Mapping[str, Any]:
        return {"info": self.read_info(poll=poll)}

    def ended(self) -> str | None:
        """``success`` or ``error`` once clients know it ended (a polls task: once a read showed
        its last step), None while it runs."""
        if self._props.get("_outcome") is not None and self._props["_outcome"].fault is not None:
            return "error"
        return lifecycle.outcome(self.spec, self.runtime, self._now())

    # -- moving it on (inside a transaction)

    @property
    def seq(self) -> int:
        """Its place in the order tasks were added (a replaced task keeps its place): what vCenter's
        events about tasks are keyed by."""
        return int(self._props.get("_seq", 0))

    def added(self) -> None:
        if self._props.get("_seq") is None:
            manager = self.state.find(TASK_MANAGER_ID)
            if isinstance(manager, TaskManager):
                self.update(_seq=manager.next_seq())
        now = self._now()
        made = "info" in self._props  # else made here (Task.of's info_when_added)
        if self._succeeds(self.runtime, now):  # it succeeds at once: its effect now
            self._apply_effect(self.runtime, now)
            outcome: Outcome = self._props["_outcome"]
            if outcome.fault is not None or outcome.result is not None:  # all the info shows of it
                made = False
        if not made:
            self.update(info=self._info_at(self.runtime, now))
        self._schedule_next()

    def restored(self) -> None:
        if self.spec.progression == "time" and self.info["state"] not in ("success", "error"):
            # Steps fell due while the server was down: shown (the effect applied) before any read.
            self.state.schedule(self.state.now_us(), self.refresh)
        else:
            self._schedule_next()

    def recorded_after(self, moment_us: int) -> bool:
        """Whether the task holds a time after *moment_us* (the clock is set back before it)."""
        runtime = self.runtime
        times = (runtime.queued_at, runtime.started_at, runtime.completed_at, runtime.cancelled_at)
        return any(time is not None and to_us(time) > moment_us for time in times)

    def forget_effect_on(self, gone: set[str]) -> None:
        """The objects *gone* were replaced: a pending effect on one of them will not run."""
        effect: Effect | None = self._props.get("_effect")
        if effect is not None and effect.target.value in gone and self._props.get("_outcome") is None:
            self.update(_effect=None)

    def removed(self) -> None:
        from vismock.mockserver.objects.managed_entity import ManagedEntity

        entity = self.state.find(self.entity_id or "")
        if isinstance(entity, ManagedEntity):
            entity.forget_task(self.id)

    def refresh(self, _due_us: int = 0) -> None:
        """The clock moved (an event fell due, the clock was advanced): show the step of now."""
        if self.state.find(self.id) is not self:
            return  # deleted meanwhile
        self._moved(self.runtime, self._now())

    def advance(self, steps: int = 1) -> Data:
        """Manual progression: take the next *steps* timeline steps; the new info."""
        if self.spec.progression != "manual":
            raise InvalidState(f"Task {self.id} progresses by {self.spec.progression}, not manually")
        now = self._now()
        runtime = lifecycle.advance(self.spec, self.runtime, steps, now)
        self.update(_runtime=runtime)
        self._moved(runtime, now)
        return self.info

    @vim_method("CancelTask")
    def cancel(self, ctx: Context | None = None) -> None:
        """vim25 CancelTask: NotSupported if not cancelable, InvalidState if already finished;
        otherwise the task ends in error with RequestCanceled and cancelled=true, where it was."""
        spec, runtime, now = self.spec, self.runtime, self._now()
        if not spec.cancelable:
            raise NotSupported(f"Task {self.id} ({spec.name}) cannot be cancelled")
        if lifecycle.is_finished(spec, runtime, now) or self._failed():
            raise InvalidState(f"Task {self.id} has already finished")
        if spec.progression == "polls":
            # The read that would have shown the current step: make its times stick.
            runtime = lifecycle.note_shown(spec, runtime, lifecycle.current_index(spec, runtime, now), now)
        runtime = lifecycle.cancel(runtime, now)
        self.update(_runtime=runtime)
        self._moved(runtime, now)

    def restart(self, moment: datetime | None = None) -> None:
        """Start the lifecycle over: queued now (or at its fixed queueTime), or at *moment*."""
        now = moment or self._now()
        runtime = (
            lifecycle.restarted_at(self.spec, now) if moment else lifecycle.initial_runtime(self.spec, now)
        )
        self.update(_runtime=runtime, _outcome=None)
        self._moved(runtime, now)

    def _moved(
        self, runtime: lifecycle.Runtime, now: datetime, *, shown: lifecycle.Runtime | None = None
    ) -> None:
        """The lifecycle moved: apply the effect if the task is now seen to succeed, update
        ``info``, schedule the next step."""
        visible = shown or runtime
        if self._succeeds(visible, now):
            self._apply_effect(visible, now)
        self.update(info=self._info_at(runtime, now))
        self._schedule_next()

    def _succeeds(self, runtime: lifecycle.Runtime, now: datetime) -> bool:
        if self._props.get("_effect") is None or self._props.get("_outcome") is not None:
            return False
        index = lifecycle.current_index(self.spec, runtime, now)
        return runtime.cancelled_at is None and index >= 0 and self.spec.timeline[index].state == "success"

    def _apply_effect(self, runtime: lifecycle.Runtime, now: datetime) -> None:
        effect: Effect = self._props["_effect"]
        finished = lifecycle.completed_at(self.spec, runtime, now) or now
        target = self.state.find(effect.target.value)
        function = type(target).effects.get(effect.method) if target is not None else None
        try:
            if target is None or function is None:
                raise InvalidState(
                    f"{effect.target.type} {effect.target.value} is gone: {effect.method} cannot finish"
                )
            with self.state.savepoint():
                result = function(target, self, dict(effect.args), to_us(finished))
            outcome = Outcome(result=result)
        except VimFault as fault:
            outcome = Outcome(fault=fault.fault_type, message=fault.message, fields=fault.fields())
        self.update(_outcome=outcome)

    def _failed(self) -> bool:
        outcome: Outcome | None = self._props.get("_outcome")
        return outcome is not None and outcome.fault is not None

    def _info_at(self, runtime: lifecycle.Runtime, now: datetime) -> Data:
        return task_info(self.spec, runtime, now, self._props.get("_outcome"))

    def _schedule_next(self) -> None:
        pending: Scheduled | None = getattr(self, "_pending", None)
        if pending is not None:
            pending.cancel()
        change = lifecycle.next_change(self.spec, self.runtime, self._now())
        scheduled = None if change is None else self.state.schedule(to_us(change), self.refresh)
        object.__setattr__(self, "_pending", scheduled)


def task_info(spec: TaskSpec, runtime: lifecycle.Runtime, now: datetime, outcome: Outcome | None) -> Data:
    """vim25 TaskInfo of a task at *now*: its timeline's step, and its effect's outcome once it ran."""
    info = lifecycle.task_info_fields(spec, runtime, now)  # to_vim25 puts them in order
    fault_fields = lifecycle.fault_fields(spec, runtime, now)
    if outcome is not None and outcome.fault is not None:
        info.pop("result", None)
        info["state"] = "error"
        info["error"] = {"fault": outcome.fault, "localizedMessage": outcome.message}
        fault_fields = outcome.fields
    elif outcome is not None and outcome.result is not None and info.get("state") == "success":
        info["result"] = outcome.result
    return taskinfo.to_vim25(info, fault_fields)


class TaskManager(ManagedObject):
    """vim25 TaskManager: ``recentTask``; and the mock's task numbering (``_next``), which no reset
    sets back, so a task id is never given twice."""

    vim_type = "TaskManager"
    permanent = True

    def __init__(self, object_id: str = TASK_MANAGER_ID, props: Mapping[str, Any] | None = None) -> None:
        super().__init__(object_id, props or {"_next": FIRST_TASK_NUMBER})

    @derived
    def recentTask(self) -> tuple[MoRef, ...]:
        """Every task not created by a method (the task file's, the admin API's), then the newest
        :data:`RECENT_CREATED` created ones."""
        tasks = sorted(self.state.all(Task), key=lambda task: task.seq)  # a replaced task in its place
        canned = [task.ref for task in tasks if task.number is None]
        created = [task for task in tasks if task.number is not None]
        created.sort(key=lambda task: task.number or 0)
        return (*canned, *(task.ref for task in created[-RECENT_CREATED:]))

    def created(self) -> list[str]:
        """The created tasks still kept, oldest first (an index the manager keeps in memory: the
        state's tasks are its source, read again after a load)."""
        order: list[str] | None = getattr(self, "_order", None)
        if order is None:
            tasks = [task for task in self.state.all(Task) if task.number is not None]
            order = [task.id for task in sorted(tasks, key=lambda task: task.number or 0)]
            object.__setattr__(self, "_order", order)
        return order

    def noted(self, task: Task) -> None:
        self.created().append(task.id)

    def prune(self, up_to: int) -> None:
        """Drop created tasks numbered *up_to* or lower, except an entity's latest."""
        order, kept = self.created(), []
        while order:
            task = self.state.find(order[0])
            if not isinstance(task, Task):
                order.pop(0)
                continue
            if (task.number or 0) > up_to:
                break
            order.pop(0)
            entity = self.state.find(task.entity_id or "")
            if entity is not None and entity.get("_latest") == task.id:
                kept.append(task.id)
            else:
                self.state.remove(task)
        order[:0] = kept

    def next_seq(self) -> int:
        number = int(self._props.get("_seq", 1))
        self.update(_seq=number + 1)
        return number

    def next_task_id(self) -> tuple[str, int]:
        """The next task number whose id no task holds (the task file's or the admin API's)."""
        number = int(self._props["_next"])
        while f"task-{number}" in self.state:
            number += 1
        self.update(_next=number + 1)
        return f"task-{number}", number


def start_task(
    ctx: Context,
    entity: ManagedEntity,
    method: str,
    *,
    target: ManagedObject | None = None,
    args: Mapping[str, Any] | None = None,
    refusal: VimFault | None = None,
) -> Task:
    """Start a task of vim25 method *method* on *entity* (what its TaskInfo names), whose effect
    on success is *target*'s (the entity by default) effect of that method with *args*.

    A task that cannot run fails at once, as vCenter reports it in the task: *refusal* (the
    method's own check), or TaskInProgress while another task runs on the entity; with
    ``ctx.refuse`` (the adapter face, which checks first) the refusal is raised and no task made.
    """
    backend = ctx.backend
    running = entity.running_task()
    if running is not None:
        refusal = TaskInProgress(running.id)
    if refusal is not None and ctx.refuse:
        raise refusal
    manager = backend.task_manager
    task_id, number = manager.next_task_id()
    behaviour = (
        failing_at_once(refusal)
        if refusal is not None
        else backend.operations.behaviour_for(method, entity.id, entity.name)
    )
    effect = (
        None if refusal is not None else Effect((target or entity).ref, method, tuple((args or {}).items()))
    )
    spec = task_spec(task_id, number, method, entity, ctx.user, behaviour)
    task = Task.of(spec, backend.clock.now_us(), number=number, effect=effect, info_when_added=True)
    ctx.registry.add(task)
    manager.noted(task)
    entity.note_task(task, ran=refusal is None)
    ctx.noted_task(task_id)
    prune(backend, number)
    return task


def task_spec(
    task_id: str, number: int, method: str, entity: ManagedEntity, user: str | None, behaviour: Behaviour
) -> TaskSpec:
    """The TaskInfo vCenter shows for a created task: the method's name and descriptionId, the
    entity and its name, started by the user, its event chain numbered like the task."""
    found = task_methods().get(method)
    return TaskSpec(
        id=task_id,
        name=method,
        description_id=found.description_id if found is not None else method,
        entity_type=entity.vim_type,
        entity_id=entity.id,
        entity_name=entity.name,
        reason=Reason(kind="user", user_name=user or None),
        cancelable=behaviour.cancelable,
        event_chain_id=number,
        progression=behaviour.progression,
        timeline=behaviour.timeline,
    )


def failing_at_once(fault: VimFault) -> Behaviour:
    step = Step(
        state="error", at=0, fault=fault.fault_type, message=fault.message, fault_fields=fault.fields()
    )
    return Behaviour(progression="time", timeline=(step,))


def prune(backend: Any, number: int) -> None:
    """Keep at most the task cap of created tasks: drop the oldest, never an entity's latest."""
    backend.task_manager.prune(number - backend.task_cap)


def replace_timeline(spec: TaskSpec, **changes: Any) -> TaskSpec:
    return dataclasses.replace(spec, **changes)
