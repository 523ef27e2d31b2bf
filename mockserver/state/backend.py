"""The mock vCenter's state, as the faces, the admin API, the dashboard and the pytest plugin use it.

One process owns it in memory: a :class:`~.registry.Registry` of managed objects (the inventory,
tasks, sessions' objects) and the mock's own settings (clock, task behaviours, fault rules), each
an object changed in one place. :class:`Backend` builds it from a scenario (the task file's tasks,
inventory, ``operations:`` and ``overrides:``), optionally over a store (``--db``) that keeps every
acknowledged change, and offers what callers need:

* :attr:`Backend.tasks` and :attr:`Backend.inventory`: views with the admin API's vocabulary;
* :meth:`Backend.freeze`, :meth:`advance`, :meth:`resume`: the clock (and what it moves);
* :attr:`operations`, :attr:`faults`, :attr:`sessions`, :attr:`journal`;
* :meth:`load` (start-up and reload: each section of the scenario replaced only if it changed),
  :meth:`reset` (back to the loaded scenario).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any, TypeVar

from vismock import power
from vismock.errors import VismockError
from vismock.faults import InvalidState, ManagedObjectNotFound, MethodNotFound, TaskInProgress, TaskNotFound
from vismock.mockserver import objects
from vismock.mockserver.objects.base import EVERY_OBJECT, Context, Method
from vismock.mockserver.objects.managed_entity import ManagedEntity
from vismock.mockserver.objects.scenario import entity_of, objects_of, stand_in
from vismock.mockserver.objects.task import Task, TaskManager
from vismock.mockserver.objects.virtual_machine import VirtualMachine
from vismock.mockserver.state import dynamic as dynamic_tasks
from vismock.mockserver.state import taskfile
from vismock.mockserver.state.behaviour import Behaviour, Override
from vismock.mockserver.state.clock import Clock, from_us
from vismock.mockserver.state.fault_rules import FaultRules
from vismock.mockserver.state.ids import IDS_ID, Ids
from vismock.mockserver.state.journal import Journal
from vismock.mockserver.state.models import Entity, TaskSpec
from vismock.mockserver.state.operations import Operations
from vismock.mockserver.state.registry import KINDS, ManagedObject, Registry, is_a
from vismock.mockserver.state.sessions import Sessions
from vismock.mockserver.state.store import Store
from vismock.mockserver.vim25 import taskinfo
from vismock.mockserver.vim25.values import Data, MoRef

T = TypeVar("T", bound=ManagedObject)
SCENARIO_ID = "vismock:scenario"
SECTIONS = ("tasks", "inventory", "operations")


class EntityNotFound(ManagedObjectNotFound):
    def __init__(self, entity_id: str, mo_type: str = "ManagedEntity") -> None:
        super().__init__(mo_type, entity_id)


class LoadedScenario(ManagedObject):
    """What was loaded (reset returns to it): the file's tasks and inventory, and each section's
    digest (a reload replaces only the sections whose digest changed)."""

    vim_type = "vismock.Scenario"
    served = False
    permanent = True

    @property
    def tasks(self) -> tuple[TaskSpec, ...]:
        tasks: tuple[TaskSpec, ...] = self._props.get("tasks", ())
        return tasks

    @property
    def inventory(self) -> tuple[Entity, ...]:
        inventory: tuple[Entity, ...] = self._props.get("inventory", ())
        return inventory

    def digest(self, section: str) -> str | None:
        found: str | None = self._props.get(f"digest_{section}")
        return found


class Backend:
    """All mock state: one registry in memory, written through to *path* when given."""

    def __init__(
        self,
        path: str | Path | None = None,
        *,
        tasks: Sequence[TaskSpec] = (),
        inventory: Sequence[Entity] = (),
        operations: Mapping[str, Behaviour] | None = None,
        overrides: Sequence[Override] = (),
        accounts: Mapping[str, str] | None = None,
        journal_cap: int = 10_000,
        session_cap: int = 10_000,
        session_lifetime: float | None = None,
        dynamic: bool = False,
        task_cap: int = 10_000,
        soap_max_wait: float = 300.0,
        attach: bool = False,
    ) -> None:
        """A state file at *path* that holds a state is served as it stands where the scenario's
        sections are the ones it was loaded with (a restart), each other section replaced
        (:attr:`load_notice` says which). *attach*: served as it stands, whatever the scenario
        given (which is loaded only into an empty state): a replaced server process."""
        if task_cap < 1:
            raise VismockError(f"task_cap must be at least 1, not {task_cap}")
        self.path = None if path is None else Path(path)
        self.store = None if path is None else Store(path)
        self.task_cap = task_cap
        self.dynamic = dynamic
        self.settings_max_wait = soap_max_wait  # seconds a WaitForUpdates without maxWaitSeconds holds
        self._generation = 0
        self.clock = Clock()
        self.registry = Registry(self.clock.now_us, self.store)
        self.registry.backend = self
        self.journal = Journal(journal_cap, self.store, lambda: self._generation)
        self.sessions = Sessions(self.registry, accounts=accounts, cap=session_cap, lifetime=session_lifetime)
        self.tasks = Tasks(self)
        self.inventory = Inventory(self)
        self.load_notice: str | None = None
        restored = self.store is not None and self._restore()
        if not restored:
            self._start()
        if not (restored and attach):
            self.load(tasks, inventory, operations or {}, overrides)

    # -- the mock's own objects

    def _own(self, object_id: str, cls: type[T]) -> T:
        found = self.registry.find(object_id)
        assert isinstance(found, cls), f"{object_id} is missing from the state"
        return found

    @property
    def operations(self) -> Operations:
        return self._own("vismock:operations", Operations)

    @property
    def faults(self) -> FaultRules:
        return self._own("vismock:faults", FaultRules)

    @property
    def ids(self) -> Ids:
        return self._own(IDS_ID, Ids)

    @property
    def task_manager(self) -> TaskManager:
        return self._own("TaskManager", TaskManager)

    @property
    def scenario(self) -> LoadedScenario:
        return self._own(SCENARIO_ID, LoadedScenario)

    def _start(self) -> None:
        """An empty state: the mock's own objects and the service's singletons."""
        with self.registry.transaction():
            for obj in (
                self.clock,
                Operations(),
                FaultRules(),
                Ids(),
                TaskManager(),
                LoadedScenario(SCENARIO_ID),
            ):
                self.registry.add(obj)
            for service in objects.service_objects():
                self.registry.add(service)

    def _restore(self) -> bool:
        """The state the store holds, if any (False: an empty file)."""
        assert self.store is not None
        rows = self.store.objects()
        if not rows:
            return False
        registry = self.registry
        with registry.transaction():
            for object_id, kind, props in rows:
                if object_id == self.clock.id:
                    obj: ManagedObject = self.clock
                    object.__setattr__(obj, "_props", props)
                else:
                    obj = KINDS[kind](object_id, props)
                registry.restore(obj)
            for obj in registry.all():
                obj.restored()
        return True

    # -- loading a scenario, resetting to it

    def load(
        self,
        tasks: Sequence[TaskSpec],
        inventory: Sequence[Entity],
        operations: Mapping[str, Behaviour],
        overrides: Sequence[Override],
    ) -> bool:
        """Make a scenario the loaded one (start-up, reload): each section (tasks, inventory,
        operations with overrides) that differs from what is loaded is replaced; the others, and
        everything made since (tasks the operations or the admin API created, power states), stay
        as they are. True: something was replaced."""
        _check_task_ids(tasks)
        digests = {
            "tasks": _digest([taskfile.spec_to_dict(spec) for spec in tasks]),
            "inventory": _digest([[e.id, e.type, e.name, e.parent, e.properties] for e in inventory]),
            "operations": _digest(
                [
                    sorted((k, taskfile.behaviour_to_dict(b)) for k, b in operations.items()),
                    [taskfile.override_to_dict(o) for o in overrides],
                ]
            ),
        }
        scenario = self.scenario
        fresh = scenario.digest("tasks") is None
        changed = [section for section in SECTIONS if scenario.digest(section) != digests[section]]
        if not tasks and not fresh:  # an empty tasks list keeps the running tasks (docs/operations.md)
            changed = [section for section in changed if section != "tasks"]
        if not changed:
            return False
        with self.registry.transaction():
            if "inventory" in changed:
                scenario.update(inventory=tuple(inventory))
                self._serve_inventory(inventory)
            if "tasks" in changed:
                scenario.update(tasks=tuple(tasks))
                self._serve_file_tasks(tasks)
            if "operations" in changed:
                self.operations.load(operations, overrides)
            scenario.update({f"digest_{section}": digests[section] for section in changed})
        self.load_notice = None if fresh else self._notice(changed, len(tasks), len(inventory))
        return True

    def _notice(self, changed: list[str], tasks: int, entities: int) -> str:
        """``FILE held another task set; serving the 2 task(s) given now (...)``: what was replaced."""
        where = self.path if self.path is not None else "the state"
        held = {"tasks": "task set", "inventory": "inventory", "operations": "operations"}
        given = {"tasks": f"{tasks} task(s)", "inventory": f"{entities} inventory entities"}
        given["operations"] = "operations"
        return (
            f"{where} held another {' and '.join(held[s] for s in changed)};"
            f" serving the {' and '.join(given[s] for s in changed)} given now"
            " (the rest of the state is kept)"
        )

    def _serve_inventory(self, entities: Sequence[Entity]) -> None:
        """Serve *entities* as the inventory (inside a transaction): the old entities go, with
        the tasks that ran on them; a VM's power state is the new inventory's."""
        registry = self.registry
        gone = {old.id for old in registry.all(ManagedEntity)}
        for old in registry.all(ManagedEntity):
            registry.remove(old)
        for task in registry.all(Task):
            task.forget_effect_on(gone)  # the power history of the old VMs is forgotten
        for obj in objects_of(entities):
            registry.add(obj)

    def _serve_file_tasks(self, specs: Sequence[TaskSpec]) -> None:
        """The file's tasks, started now (inside a transaction): those of the previous file go,
        tasks the operations or the admin API created stay."""
        registry = self.registry
        for task in registry.all(Task):
            if task.get("_from_file"):
                registry.remove(task)
        now = self.clock.now_us()
        for spec in specs:
            existing = registry.find(spec.id)
            if existing is not None:
                registry.remove(existing)
            registry.add(Task.of(spec, now, from_file=True))

    def reset(self) -> None:
        """Every part back to the loaded scenario: tasks restarted (those created since removed;
        task numbers go on), inventory as loaded, behaviours and overrides as loaded, journal,
        fault rules and sessions cleared, clock real. A request still running from before
        cannot journal into what follows (its generation is gone)."""
        registry = self.registry
        with registry.transaction():
            self._generation += 1
            self.clock.reset()
            for obj in registry.all(ManagedObject):
                if not obj.survives_reset():
                    registry.remove(obj)
            for obj in objects.service_objects():  # those a reset empties are made anew
                if obj.id not in registry:
                    registry.add(obj)
            for obj in objects_of(self.scenario.inventory):
                registry.add(obj)
            self._serve_file_tasks(self.scenario.tasks)
            self.operations.reset()
            self.faults.update(rules=())
        self.journal.clear()
        self.sessions.forget_activity()
        registry.notify()

    def replace_inventory(self, entities: Sequence[Entity]) -> None:
        """Serve another inventory (live; reset returns to the loaded one)."""
        with self.registry.transaction():
            self._serve_inventory(entities)

    # -- the clock, and what it moves

    def now(self) -> datetime:
        return self.clock.now()

    def freeze(self, at: datetime | None = None) -> datetime:
        """Stop the clock at *at* (or now). At an earlier instant, every task with a time after it
        starts over, queued then, so no TaskInfo ever shows a time after the mock's now."""
        with self.registry.transaction():
            before = self.clock.now_us()
            frozen_us = self.clock.freeze(at)
            if frozen_us < before:
                moment = from_us(frozen_us)
                for task in self.registry.all(Task):
                    if task.recorded_after(frozen_us):
                        task.restart(moment)
            self._refresh_tasks()
        return from_us(frozen_us)

    def advance(self, seconds: float) -> datetime:
        with self.registry.transaction():
            now = self.clock.advance(seconds)
        self.registry.settle()
        return now

    def resume(self) -> datetime:
        with self.registry.transaction():
            return self.clock.resume()

    def _refresh_tasks(self) -> None:
        for task in self.registry.all(Task):
            task.refresh()

    # -- calling a vim25 method on the state, without a face

    def invoke(
        self,
        target: MoRef | str,
        method: str,
        *,
        context: Context | None = None,
        user: str | None = None,
        refuse: bool = False,
        **args: Any,
    ) -> Any:
        """vim25 method *method* of *target* (a reference, or an object's id) with *args*, called
        in *context* (by default by *user*; *refuse*: its refusals raised, as the adapter face wants
        them), inside one transaction (a blocking method opens its own). The one way every face,
        the admin API and the plugin call a method."""
        ctx = context or Context(self, user=user, refuse=refuse)
        obj, found = self._method(target, method)
        if found.blocking:
            return found.function(obj, ctx, **args)
        with self.registry.transaction():
            obj, found = self._method(target, method)  # as it is now, under the lock
            return found.function(obj, ctx, **args)

    def _method(self, target: MoRef | str, method: str) -> tuple[ManagedObject, Method]:
        obj = self.lookup(target) if isinstance(target, MoRef) else self.registry.find(target)
        if obj is None:
            raise ManagedObjectNotFound("ManagedObject", str(target))
        found = type(obj).methods.get(method) or EVERY_OBJECT.get(method)
        if found is None:
            raise MethodNotFound(method)
        if self.registry.find(obj.id) is not obj and method not in EVERY_OBJECT:
            raise ManagedObjectNotFound(obj.vim_type, obj.id)  # a stand-in (_unstored) is only read
        return obj, found

    # -- finding what a call names

    def lookup(self, ref: MoRef) -> ManagedObject:
        """The object *ref* names (ManagedObjectNotFound, as vCenter answers). Two kinds exist
        without being stored: in dynamic mode, any task id (a generated, read-only TaskInfo); and
        an entity a task names that the inventory does not hold (the seed's ``TestDev``), which
        answers its name."""
        try:
            return self.registry.get(ref)
        except ManagedObjectNotFound:
            found = self._unstored(ref)
            if found is None:
                raise
            return found

    def _unstored(self, ref: MoRef) -> ManagedObject | None:
        found: ManagedObject | None = None
        if ref.type == "Task" and self.dynamic:
            found = GeneratedTask(ref.value)  # its info made when read: finding it costs nothing
        for task in self.registry.all(Task) if found is None else ():
            spec = task.spec
            if (
                spec.entity_id == ref.value
                and spec.entity_type is not None
                and is_a(spec.entity_type, ref.type)
            ):
                found = stand_in(spec.entity_type, ref.value, spec.entity_name or ref.value)
                break
        if found is not None:
            object.__setattr__(found, "registry", self.registry)  # it reads the state; it is not in it
        return found

    def pending_waits(self) -> set[str]:
        """The WaitForUpdates(Ex) calls blocked waiting for a change now (their ids): what a test
        waits for before it changes what they wait on."""
        from vismock.mockserver.objects.property_collector import pending_waits

        return pending_waits(self.registry)

    # -- revision and generation (remembered answers, requests across a reset)

    def revision(self) -> int:
        return self.registry.revision

    def generation(self) -> int:
        return self._generation

    def close(self) -> None:
        self.journal.close()
        if self.store is not None:
            self.store.close()


class GeneratedTask(Task):
    """A task of dynamic mode: its generated ``info`` only, made when it is first read (finding a
    task costs nothing; read-only: CancelTask finds no task)."""

    @property
    def info(self) -> Data:
        made: Data | None = getattr(self, "_made", None)
        if made is None:
            made = taskinfo.to_vim25(dynamic_tasks.dynamic_task_info(self.id))
            object.__setattr__(self, "_made", made)
        return made

    def read_info(self, *, poll: bool) -> Data:
        return self.info

    def client_read(self, *, poll: bool, session: Any = None) -> Mapping[str, Any]:
        return {"info": self.info}


@dataclass(frozen=True, slots=True)
class VmPower:
    """A VM's power as clients see it now, for the admin API and the plugin."""

    vm_id: str
    state: str  # poweredOn, poweredOff, suspended
    boot_time: datetime | None
    running: str | None  # the task acting on it now
    recent: tuple[str, ...]


class Tasks:
    """The tasks, with the admin API's vocabulary (each call its own transaction)."""

    def __init__(self, backend: Backend) -> None:
        self._backend = backend
        self._registry = backend.registry

    def task(self, task_id: str) -> Task:
        """Task *task_id* (TaskNotFound)."""
        found = self._registry.find(task_id)
        if not isinstance(found, Task):
            raise TaskNotFound(task_id)
        return found

    def specs(self) -> list[TaskSpec]:
        """Every task's definition, in the order they were added (a replaced task in its place)."""
        return [task.spec for task in sorted(self._registry.all(Task), key=lambda task: task.seq)]

    def get(self, task_id: str) -> TaskSpec:
        return self.task(task_id).spec

    def put(self, specs: Iterable[TaskSpec]) -> None:
        """Add or replace; a replaced task's lifecycle restarts (queued at the clock's now)."""
        specs = list(specs)
        for spec in specs:
            taskfile.check_spec(spec, f"task {spec.id!r}")
        _check_task_ids(specs)
        with self._registry.transaction():
            now = self._backend.clock.now_us()
            for spec in specs:
                existing = self._registry.find(spec.id)
                if existing is not None and not isinstance(existing, Task):
                    raise VismockError(f"task {spec.id!r}: the id names a {existing.vim_type}")
                task = Task.of(spec, now)
                if existing is not None:
                    self._registry.remove(existing)
                    task = Task(task.id, {**task.props, "_seq": existing.get("_seq")})  # keeps its place
                self._registry.add(task)

    def delete(self, task_id: str) -> None:
        with self._registry.transaction():
            self._registry.remove(self.task(task_id))

    def restart(self, task_id: str) -> None:
        with self._registry.transaction():
            self.task(task_id).restart()

    def advance(self, task_id: str, steps: int = 1) -> dict[str, Any]:
        with self._registry.transaction():
            return taskinfo.to_adapter(self.task(task_id).advance(steps))

    def cancel(self, task_id: str) -> None:
        with self._registry.transaction():
            self.task(task_id).cancel()

    def read(self, task_id: str, *, poll: bool = True) -> Data:
        """The task's vim25 TaskInfo as a client reads it (*poll*: a read counts, for tasks
        progressing by polls). In dynamic mode an unknown id reads as a generated TaskInfo."""
        with self._registry.transaction():
            found = self._registry.find(task_id)
            if isinstance(found, Task):
                return found.read_info(poll=poll)
        if self._backend.dynamic:
            return taskinfo.to_vim25(dynamic_tasks.dynamic_task_info(task_id))
        raise TaskNotFound(task_id)

    def info(self, task_id: str, *, poll: bool = True) -> dict[str, Any]:
        """The task's TaskInfo in the adapter's (the codec's) dict form."""
        return taskinfo.to_adapter(self.read(task_id, poll=poll))


class Inventory:
    """The inventory's entities, as the scenario and the admin API see them."""

    def __init__(self, backend: Backend) -> None:
        self._backend = backend
        self._registry = backend.registry

    def entities(self) -> list[ManagedEntity]:
        return self._registry.all(ManagedEntity)

    def all(self) -> dict[str, Entity]:
        return {obj.id: entity_of(obj) for obj in self.entities()}

    def object(self, entity_id: str) -> ManagedEntity:
        found = self._registry.find(entity_id)
        if not isinstance(found, ManagedEntity):
            raise EntityNotFound(entity_id)
        return found

    def find(self, entity_id: str) -> Entity | None:
        found = self._registry.find(entity_id)
        return entity_of(found) if isinstance(found, ManagedEntity) else None

    def get(self, entity_id: str, mo_type: str = "ManagedEntity") -> Entity:
        found = self.find(entity_id)
        if found is None:
            raise EntityNotFound(entity_id, mo_type)
        return found

    def named(self, name: str, *types: str) -> list[Entity]:
        return [
            entity_of(obj)
            for obj in self.entities()
            if obj.name == name and (not types or obj.vim_type in types)
        ]

    def vm(self, vm_id: str) -> VirtualMachine:
        found = self._registry.find(vm_id)
        if not isinstance(found, VirtualMachine):
            raise ManagedObjectNotFound("VirtualMachine", vm_id)
        return found

    def power(self, vm_id: str) -> VmPower:
        vm = self.vm(vm_id)
        running = vm.running_task()
        boot = vm.read("runtime.bootTime")
        recent = tuple(ref.value for ref in vm.get("recentTask", ()))
        return VmPower(vm.id, vm.power_state, boot, running.id if running else None, recent)

    def identity(self, vm_id: str) -> dict[str, str]:
        """A VM's ``uuid`` and ``instanceUuid``."""
        vm = self.vm(vm_id)
        return {name: str(vm.read(f"config.{name}")) for name in ("uuid", "instanceUuid")}

    def snapshots(self, vm_id: str) -> list[dict[str, Any]]:
        """A VM's snapshots in tree order (depth first): id, name, path, power state, when taken,
        and whether it is the current one."""
        vm = self.vm(vm_id)
        current = vm.get("_currentSnapshot")
        found: list[dict[str, Any]] = []
        pending = list(vm.root_snapshots())
        while pending:
            snapshot = pending.pop(0)
            found.append(
                {
                    "id": snapshot.id,
                    "name": snapshot.get("name"),
                    "path": snapshot.path(),
                    "state": snapshot.get("state"),
                    "createTime": snapshot.get("createTime"),
                    "current": snapshot.id == current,
                }
            )
            pending[:0] = snapshot.children()
        return found

    def set_power_state(self, vm_id: str, state: str) -> VmPower:
        """Set a VM's power state as if it had always been so (TaskInProgress while a task runs
        on it; a template stays poweredOff)."""
        if state not in power.POWER_STATES:
            raise VismockError(f"power state {state!r} is not one of {', '.join(power.POWER_STATES)}")
        with self._registry.transaction():
            vm = self.vm(vm_id)
            if vm.template and state != power.POWERED_OFF:
                raise VismockError(f"{vm.name} ({vm.id}) is a template: it stays poweredOff")
            running = vm.running_task()
            if running is not None:
                raise TaskInProgress(running.id, f"{vm.name} ({vm.id}) is busy with {running.id}")
            vm.set_power_state(state, at_us=self._backend.clock.now_us())
        return self.power(vm_id)


def _check_task_ids(specs: Sequence[TaskSpec]) -> None:
    ids = [spec.id for spec in specs]
    duplicates = sorted({task_id for task_id in ids if ids.count(task_id) > 1})
    if duplicates:
        raise VismockError(f"duplicate task ids: {', '.join(duplicates)}")


def _digest(value: Any) -> str:
    return hashlib.sha256(json.dumps(value, sort_keys=True, default=str).encode()).hexdigest()


__all__ = ["Backend", "EntityNotFound", "InvalidState", "Inventory", "Tasks", "VmPower"]
