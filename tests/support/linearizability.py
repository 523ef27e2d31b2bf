"""The check of a concurrent run against a real ``vismock serve``: is what the journal, the task
store and the clients' own log say explained by one order of operations on a model of the VMs?

The model (:class:`Vm`, a :data:`World` of them) holds what vCenter documents (docs/snapshots.md,
docs/power.md), written here again rather than imported from the server: a VM's power state, its
snapshot tree (a snapshot is taken under the current one and becomes current, recording the power
state: the VM's with memory, else powered off, a suspended VM's always suspended; a revert makes
the snapshot current and restores that state, powered off with suppressPowerOn; removing moves
the children up to the parent, or takes the subtree with removeChildren, and a removed current
snapshot's parent becomes current; remove-all empties the tree), clones (a new VM in its folder,
powered on when asked, with no snapshots; a name a VM in the folder has is DuplicateName) and
destroys. Power rules are :mod:`vismock.power`'s, the table the faces share.

The rules checked, each broken one a violation, described:

* every task has ended; every call that started a task has it queued within the call, on the VM
  and by the method the client asked;
* no two tasks that acted on one VM overlap in time;
* the successful tasks, in the order they ended, are each allowed by the model from the world the
  earlier ones left, a task that ran and failed is explained (a clone whose name was taken
  meanwhile, a scripted failure), and the world they give is the one read from the server at the
  end: every VM's power state, snapshot tree (ids, names, numbers, parents, recorded states) and
  current snapshot, and the clones there are (names, folders);
* every refusal (TaskInProgress, InvalidPowerState, NotFound, ManagedObjectNotFound,
  DuplicateName), on either face, is explained by some instant of its own call: the VM busy, or
  idle in a state that refuses, or the snapshot or VM asked for absent, or the name taken;
* no 5xx but SOAP faults a vim25 method raises (HTTP 500 is how SOAP carries every fault, on
  vCenter too), and each of those is such a refusal, explained.

What a client asked (the snapshot, the clone's name) is not in the journal; each client logs in
as its own user and keeps its own log (:class:`Asked`), so its log and the journal's entries of its
user, in order, are the same calls: joined, each call has the journal's window and the client's
arguments.
"""

from __future__ import annotations

import bisect
import itertools
from collections import Counter
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta

from vismock import power
from vismock.schemas import task_operations

SLACK = timedelta(milliseconds=1)  # journal times and latencies are rounded to microseconds
ADAPTER_METHODS = task_operations()  # Power_Off_VM -> PowerOffVM_Task, Clone_VM -> CloneVM_Task...
IN_TASK = ("TaskInProgress", "InvalidPowerState", "DuplicateName")  # SOAP: the task fails at once
RAISED = ("ManagedObjectNotFound", "NotFound")  # SOAP: a fault of the call (HTTP 500)
CREATE, CREATE_EX = "CreateSnapshot_Task", "CreateSnapshotEx_Task"
REVERT, REVERT_CURRENT = "RevertToSnapshot_Task", "RevertToCurrentSnapshot_Task"
REMOVE, REMOVE_ALL = "RemoveSnapshot_Task", "RemoveAllSnapshots_Task"
CLONE, DESTROY = "CloneVM_Task", "Destroy_Task"
ACTIONS = frozenset(
    {*power.METHODS, CREATE, CREATE_EX, REVERT, REVERT_CURRENT, REMOVE, REMOVE_ALL, CLONE, DESTROY}
)


def method_of(operation: str) -> str:
    """The vim25 method of a journal operation (an adapter operation's, or the SOAP method itself)."""
    return ADAPTER_METHODS.get(operation, operation)


# -- the model ---------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Snap:
    """A snapshot as the VM's tree shows it."""

    id: str
    name: str
    number: int  # VirtualMachineSnapshotTree.id
    parent: str | None
    state: str  # the power state it recorded


@dataclass(frozen=True)
class Vm:
    id: str
    name: str
    folder: str
    power: str
    snapshots: tuple[Snap, ...] = ()  # in the order taken
    current: str | None = None
    next_number: int = 1  # a VM numbers its snapshots 1, 2, ... and never reuses a number

    def snap(self, snapshot_id: str | None) -> Snap | None:
        return next((s for s in self.snapshots if s.id == snapshot_id), None)

    def at_path(self, path: str) -> Snap | None:
        """The snapshot a VIS path names (names from a root down; the first in tree order)."""
        found, parent = None, None
        for name in [part for part in path.split("/") if part]:
            found = next((s for s in self.snapshots if s.parent == parent and s.name == name), None)
            if found is None:
                return None
            parent = found.id
        return found

    def below(self, snapshot_id: str) -> set[str]:
        """The snapshot and every one under it."""
        found, pending = set(), [snapshot_id]
        while pending:
            current = pending.pop()
            found.add(current)
            pending.extend(s.id for s in self.snapshots if s.parent == current)
        return found

    def tree(self) -> tuple[str | None, frozenset[Snap]]:
        return self.current, frozenset(self.snapshots)


World = Mapping[str, Vm]
"""The VMs the run watches, by id (a destroyed VM is gone from it)."""


def snapshot_state(vm_power: str, memory: bool) -> str:
    """docs/snapshots.md: with memory a VM's state, else powered off; a suspended VM's always suspended."""
    if vm_power == power.SUSPENDED or (memory and vm_power == power.POWERED_ON):
        return vm_power
    return power.POWERED_OFF


def named(world: World, name: str, folder: str | None = None) -> Vm | None:
    return next((vm for vm in world.values() if vm.name == name and folder in (None, vm.folder)), None)


# -- what was observed ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class TaskRecord:
    id: str
    vm: str
    method: str
    progression: str
    state: str
    fault: str | None
    queued: datetime
    completed: datetime | None
    result: str | None = None  # the snapshot or VM it made
    vm_name: str = ""

    @property
    def refused(self) -> bool:
        """Failed at once by the method's own check: it never acted on the VM."""
        return self.fault in IN_TASK and self.completed == self.queued


@dataclass(frozen=True)
class CallRecord:
    """A call in the journal: its window (server-side: start, start + latency) and its answer."""

    face: str
    operation: str
    vm: str | None
    start: datetime
    end: datetime
    outcome: str
    tasks: tuple[str, ...]
    http_status: int
    user: str | None = None

    @property
    def is_action(self) -> bool:
        return method_of(self.operation) in ACTIONS


@dataclass(frozen=True)
class Asked:
    """One call as the client that made it logs it: what it asked, and the answer's gist."""

    user: str
    face: str
    method: str  # the vim25 method
    vm: str  # the VM's id, or its name (by_name: the adapter names VMs)
    by_name: bool = False
    snapshot: str | None = None  # the snapshot's id (SOAP) or its path (adapter)
    name: str | None = None  # the new snapshot's or clone's name
    folder: str | None = None  # the clone's folder
    memory: bool = False
    suppress: bool = False  # suppressPowerOn
    remove_children: bool = False
    power_on: bool = False
    outcome: str = "ok"  # or the fault
    task: str | None = None


@dataclass(frozen=True)
class Action:
    """A client's call joined with its journal entry."""

    asked: Asked
    call: CallRecord


@dataclass
class Findings:
    tasks: int = 0
    actions: int = 0
    ran: int = 0
    successes: Counter[str] = field(default_factory=Counter)
    refusals: Counter[str] = field(default_factory=Counter)
    soap_faults: int = 0
    violations: list[str] = field(default_factory=list)

    def fail(self, text: str) -> None:
        if len(self.violations) < 50:
            self.violations.append(text)


# -- joining the clients' logs with the journal ---------------------------------------------------------


def join(asked: Iterable[Asked], calls: Iterable[CallRecord], findings: Findings) -> list[Action]:
    """Each client's calls with its user's action entries in the journal, in order; a call the
    journal lacks, has more of, or records otherwise is a violation."""
    logged: dict[str, list[Asked]] = {}
    for each in asked:
        logged.setdefault(each.user, []).append(each)
    journaled: dict[str, list[CallRecord]] = {}
    for call in calls:
        if call.is_action and call.user in logged:
            journaled.setdefault(call.user, []).append(call)
    actions = []
    for user, mine in logged.items():
        entries = journaled.get(user, [])
        if len(entries) != len(mine):
            findings.fail(f"{user} made {len(mine)} calls; the journal has {len(entries)}")
        for number, (one, entry) in enumerate(zip(mine, entries, strict=False), start=1):
            same = method_of(entry.operation) == one.method and entry.outcome == one.outcome
            if not same or entry.tasks != ((one.task,) if one.task else ()):
                findings.fail(f"{user}'s call {number}, {one}, is journaled as {entry}")
                break
            actions.append(Action(one, entry))
    return actions


# -- when what clients saw changed ---------------------------------------------------------------------


class Windows:
    """When each task's start and end took effect, as clients could see them: a start within the
    call that created the task (a state change is committed, then announced to remembered answers,
    both before that call answers); a clock-driven end exactly at completeTime; a poll-driven end
    within the poll that showed it."""

    def __init__(self, tasks: Iterable[TaskRecord], actions: Iterable[Action], calls: Iterable[CallRecord]):
        self.created: dict[str, tuple[datetime, datetime]] = {}
        self.ended: dict[str, tuple[datetime, datetime]] = {}
        for action in actions:
            if action.asked.task:
                self.created[action.asked.task] = (action.call.start - SLACK, action.call.end + SLACK)
        polls: dict[str, list[CallRecord]] = {}
        for call in calls:
            if not call.is_action:
                for task_id in call.tasks:
                    polls.setdefault(task_id, []).append(call)
        for task in tasks:
            if task.completed is None:
                continue
            end = task.completed
            if task.progression == "polls":
                showing = [
                    c.end
                    for c in polls.get(task.id, ())
                    if c.start - SLACK <= task.completed <= c.end + SLACK
                ]
                end = max([task.completed, *showing]) + SLACK
            self.ended[task.id] = (task.completed, end)

    def started(self, task: TaskRecord) -> tuple[datetime, datetime]:
        return self.created.get(task.id, (task.queued, task.queued))

    def end(self, task: TaskRecord) -> tuple[datetime, datetime]:
        far = datetime.max.replace(tzinfo=task.queued.tzinfo)
        return self.ended.get(task.id, (far, far))


# -- the replay -------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Effect:
    task: TaskRecord
    asked: Asked | None


class Replay:
    """The world after each prefix of the tasks that ran (in the order they ended), and which
    prefixes clients could have seen at an instant."""

    def __init__(
        self, initial: World, ran: list[Effect], windows: Windows, scripted: Mapping[tuple[str, str], str]
    ) -> None:
        self.effects = sorted(ran, key=lambda e: (e.task.completed or e.task.queued, e.task.queued))
        self.windows = windows
        self.scripted = scripted
        self.worlds: list[World] = [dict(initial)]
        self.problems: list[str] = []
        for effect in self.effects:
            self.worlds.append(self._after(self.worlds[-1], effect))
        ends = [windows.end(e.task) for e in self.effects]
        self._earliest = [earliest for earliest, _ in ends]
        self._latest_after = _suffix_minimum([latest for _, latest in ends])

    def final(self) -> World:
        return self.worlds[-1]

    def at(self, moment: datetime) -> list[World]:
        """The worlds clients could see at *moment*: every effect surely ended by then applied,
        and no effect that had not possibly ended."""
        possibly = bisect.bisect_right(self._earliest, moment)
        surely = bisect.bisect_right(self._latest_after, moment)  # the effects from here on: later
        return self.worlds[min(surely, possibly) : possibly + 1]

    def _after(self, world: World, effect: Effect) -> World:
        task, asked = effect.task, effect.asked
        vm = world.get(task.vm)
        if task.state != "success":
            self._failed(world, effect)
            return world
        if vm is None or asked is None:
            self.problems.append(f"{task.id} {task.method} succeeded on {task.vm}, which no call explains")
            return world
        changed, wrong = _effect(world, vm, task, asked)
        if wrong:
            self.problems.append(f"{task.id} {task.method} on {vm.name} succeeded, but {wrong}")
        return changed

    def _failed(self, world: World, effect: Effect) -> None:
        task, asked = effect.task, effect.asked
        if self.scripted.get((task.method, task.vm)) == task.fault:
            return
        taken = asked is not None and named(world, asked.name or "", asked.folder) is not None
        if task.method == CLONE and task.fault == "DuplicateName" and taken:
            return  # another clone took the name while this one ran
        self.problems.append(
            f"{task.id} {task.method} ran and failed with {task.fault}, which nothing explains"
        )


def _suffix_minimum(values: list[datetime]) -> list[datetime]:
    found = list(values)
    for index in range(len(found) - 2, -1, -1):
        found[index] = min(found[index], found[index + 1])
    return found


def _effect(world: World, vm: Vm, task: TaskRecord, asked: Asked) -> tuple[World, str | None]:
    """The world after *task* succeeded on *vm*, and what the model refuses about it (None: nothing)."""
    method, changed = task.method, dict(world)
    if method in power.METHODS:
        wrong = None if vm.power in power.method(method).allowed else f"vim25 refuses it from {vm.power}"
        changed[vm.id] = replace(vm, power=power.after(method, vm.power))
        return changed, wrong
    if method in (CREATE, CREATE_EX):
        made = Snap(task.result or "?", asked.name or "", vm.next_number, vm.current, "")
        made = replace(made, state=snapshot_state(vm.power, asked.memory))
        reused = vm.snap(made.id) is not None or not task.result
        changed[vm.id] = replace(
            vm, snapshots=(*vm.snapshots, made), current=made.id, next_number=vm.next_number + 1
        )
        return changed, f"its result {task.result} is no new snapshot" if reused else None
    if method == DESTROY:
        del changed[vm.id]
        return changed, f"it was {vm.power}" if vm.power == power.POWERED_ON else None
    if method == CLONE:
        name, folder = asked.name or "", asked.folder or vm.folder
        state = power.POWERED_ON if asked.power_on else power.POWERED_OFF
        changed[task.result or "?"] = Vm(task.result or "?", name, folder, state)
        taken = named(world, name, folder) or world.get(task.result or "")
        return changed, f"{name} was taken in {folder} by {taken.id}" if taken else None
    if method == REMOVE_ALL:
        changed[vm.id] = replace(vm, snapshots=(), current=None)
        return changed, None
    target = _target(vm, asked)
    if target is None:
        return world, f"the model has no snapshot {asked.snapshot or 'current'} then"
    if method in (REVERT, REVERT_CURRENT):
        state = target.state
        if asked.suppress and state == power.POWERED_ON:
            state = power.POWERED_OFF
        changed[vm.id] = replace(vm, power=state, current=target.id)
        return changed, None
    gone = vm.below(target.id) if asked.remove_children else {target.id}
    kept = tuple(
        replace(s, parent=target.parent) if s.parent == target.id else s
        for s in vm.snapshots
        if s.id not in gone
    )
    current = target.parent if vm.current in gone else vm.current
    changed[vm.id] = replace(vm, snapshots=kept, current=current)
    return changed, None


def _target(vm: Vm, asked: Asked) -> Snap | None:
    """The snapshot a revert or remove acts on: the current one, the one asked by id, or (the
    adapter) the one its path's last name names. No two snapshots the clients take share a name,
    and the path may have changed since the adapter found it: it reads the tree, then starts the
    task, and a task ending in between may move the snapshot up (its task still acts on it)."""
    if asked.method == REVERT_CURRENT:
        return vm.snap(vm.current)
    if asked.face == "adapter":
        leaf = (asked.snapshot or "").rstrip("/").rpartition("/")[2]
        return next((s for s in vm.snapshots if s.name == leaf), None)
    return vm.snap(asked.snapshot)


# -- one VM's tasks in time -------------------------------------------------------------------------------


class Busy:
    """When each VM could be, or surely was, busy with a task that acted on it."""

    def __init__(self, ran: Iterable[TaskRecord], windows: Windows) -> None:
        self.windows = windows
        self.by_vm: dict[str, list[TaskRecord]] = {}
        for task in ran:
            self.by_vm.setdefault(task.vm, []).append(task)
        for tasks in self.by_vm.values():
            tasks.sort(key=lambda task: task.queued)

    def possibly(self, vm_id: str, moment: datetime) -> bool:
        w = self.windows
        return any(w.started(t)[0] <= moment < w.end(t)[1] for t in self.by_vm.get(vm_id, ()))

    def surely(self, vm_id: str, moment: datetime) -> bool:
        w = self.windows
        return any(w.started(t)[1] <= moment < w.end(t)[0] for t in self.by_vm.get(vm_id, ()))

    def check_no_overlap(self, findings: Findings) -> None:
        for tasks in self.by_vm.values():
            for before, after in itertools.pairwise(tasks):
                if before.completed is None or after.queued < before.completed:
                    findings.fail(
                        f"{after.id} (queued {after.queued}) overlaps {before.id} (ended {before.completed})"
                    )


# -- the check ------------------------------------------------------------------------------------------


def check(
    tasks: list[TaskRecord],
    calls: list[CallRecord],
    asked: list[Asked],
    initial: World,
    final: World,
    scripted: Mapping[tuple[str, str], str] | None = None,
) -> Findings:
    """Every rule the run must keep (module docstring); *scripted*: (method, VM id) -> the fault
    the scenario makes such a task fail with after it ran."""
    findings = Findings(tasks=len(tasks))
    by_id = {task.id: task for task in tasks}
    actions = join(asked, calls, findings)
    findings.actions = len(actions)
    for task in tasks:
        if task.state not in ("success", "error"):
            findings.fail(f"{task.id} has not ended: {task.state}")
    for call in calls:
        _check_status(call, findings)
    windows = Windows(tasks, actions, calls)
    ran = [task for task in tasks if not task.refused]
    asked_for = {action.asked.task: action.asked for action in actions if action.asked.task}
    replay = Replay(initial, [Effect(t, asked_for.get(t.id)) for t in ran], windows, scripted or {})
    busy = Busy(ran, windows)
    findings.ran = len(ran)
    findings.successes.update(t.method for t in ran if t.state == "success")
    busy.check_no_overlap(findings)
    for problem in replay.problems:
        findings.fail(problem)
    _check_final(replay.final(), final, findings)
    instants = Instants(tasks, windows)
    for action in actions:
        _check_action(action, by_id, Explainer(replay, busy, instants), findings)
    return findings


def _check_status(call: CallRecord, findings: Findings) -> None:
    if call.http_status < 500:
        return
    if call.face == "soap" and call.http_status == 500 and call.outcome in RAISED:
        findings.soap_faults += 1  # explained (or not) with its action
    else:
        findings.fail(f"HTTP {call.http_status}: {call}")


def _check_action(
    action: Action, by_id: Mapping[str, TaskRecord], explain: Explainer, findings: Findings
) -> None:
    asked, call = action.asked, action.call
    if asked.task is None:
        if asked.outcome == "ok" or (asked.face == "soap" and asked.outcome in IN_TASK):
            findings.fail(f"{asked.outcome} without a task: {action}")
        explain.refusal(asked.outcome, action, findings)
        return
    task = by_id.get(asked.task)
    if task is None:
        findings.fail(f"{asked.task}, answered to {asked.user}, is not in the store")
        return
    if not call.start - SLACK <= task.queued <= call.end + SLACK:
        findings.fail(f"{task.id} was queued at {task.queued}, outside its call {call.start}..{call.end}")
    if task.method != asked.method or asked.vm != (task.vm_name if asked.by_name else task.vm):
        findings.fail(f"{task.id} acts on {task.vm} by {task.method}; {asked.user} asked {asked}")
    if task.refused:
        if asked.face == "adapter":
            findings.fail(f"the adapter face made a task {task.id} only to refuse it ({task.fault})")
        explain.refusal(task.fault or "", action, findings)


def _check_final(replayed: World, final: World, findings: Findings) -> None:
    for vm_id in sorted({*replayed, *final}):
        model, read = replayed.get(vm_id), final.get(vm_id)
        if model is None:
            findings.fail(f"the server has {vm_id} ({final[vm_id].name}); the tasks replayed do not make it")
            continue
        if read is None:
            findings.fail(f"the tasks replayed give {vm_id} ({model.name}); the server has no such VM")
            continue
        if (model.name, model.folder, model.power) != (read.name, read.folder, read.power):
            findings.fail(
                f"the tasks replayed give {vm_id} {model.name} in {model.folder} {model.power};"
                f" the server reads {read.name} in {read.folder} {read.power}"
            )
        if model.tree() != read.tree():
            findings.fail(
                f"the tasks replayed give {vm_id} the snapshots {_shown(model)};"
                f" the server reads {_shown(read)}"
            )


def _shown(vm: Vm) -> str:
    nodes = ", ".join(
        f"{s.id} {s.name!r} #{s.number} under {s.parent} {s.state}"
        for s in sorted(vm.snapshots, key=lambda s: s.number)
    )
    return f"[{nodes}] current {vm.current}"


class Instants:
    """Every instant at which what clients see may change (a task's start or end took effect)."""

    def __init__(self, tasks: Iterable[TaskRecord], windows: Windows) -> None:
        moments: set[datetime] = set()
        for task in tasks:
            for moment in (*windows.started(task), *windows.end(task)):
                moments.update((moment, moment - timedelta(microseconds=1)))
        self.sorted = sorted(moments)

    def within(self, start: datetime, end: datetime) -> Iterator[datetime]:
        yield start
        yield end
        low, high = bisect.bisect_left(self.sorted, start), bisect.bisect_right(self.sorted, end)
        yield from self.sorted[low:high]


@dataclass
class Explainer:
    replay: Replay
    busy: Busy
    instants: Instants

    def refusal(self, fault: str, action: Action, findings: Findings) -> None:
        """A refusal is right if, at one instant of its call, the model could be in a state that
        refuses the call with that fault."""
        findings.refusals[fault] += 1
        call = action.call
        for moment in self.instants.within(call.start - SLACK, call.end + SLACK):
            if self._explains(fault, action.asked, moment):
                return
        findings.fail(f"{fault} is explained by no instant of {action.asked} ({call.start}..{call.end})")

    def _explains(self, fault: str, asked: Asked, moment: datetime) -> bool:
        worlds = self.replay.at(moment)
        if fault == "TaskInProgress":
            return any(self.busy.possibly(vm.id, moment) for vm in _vms(worlds, asked))
        if fault == "InvalidPowerState":
            return any(
                not self.busy.surely(vm.id, moment) and _power_refuses(asked.method, vm.power)
                for vm in _vms(worlds, asked)
            )
        if fault == "DuplicateName":
            return any(named(world, asked.name or "", asked.folder) is not None for world in worlds)
        if fault in RAISED:
            return any(_absent(world, asked) for world in worlds)
        return False


def _vms(worlds: Iterable[World], asked: Asked) -> Iterator[Vm]:
    for world in worlds:
        vm = named(world, asked.vm) if asked.by_name else world.get(asked.vm)
        if vm is not None:
            yield vm


def _power_refuses(method: str, state: str) -> bool:
    if method == DESTROY:
        return state == power.POWERED_ON
    return method in power.METHODS and power.state_refusal(method, state) is not None


def _absent(world: World, asked: Asked) -> bool:
    """What a NotFound or ManagedObjectNotFound says is missing is: the VM, the snapshot asked
    (by id or path), or (RevertToCurrentSnapshot_Task) a current snapshot."""
    vm = named(world, asked.vm) if asked.by_name else world.get(asked.vm)
    if vm is None:
        return True
    if asked.method in (REVERT, REMOVE) and asked.face == "adapter":
        return vm.at_path(asked.snapshot or "") is None
    if asked.method in (REVERT, REMOVE):
        return _target(vm, asked) is None
    return asked.method == REVERT_CURRENT and vm.current is None
