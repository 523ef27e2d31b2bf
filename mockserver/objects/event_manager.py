"""EventManager and EventHistoryCollector: the events of the mock's tasks, as ``govc events`` and
``QueryEvents`` read them.

vCenter logs a TaskEvent when a task is created; vismock's events are exactly those, one per task
in the state, derived from the tasks rather than stored: keyed by the task's place in the order
tasks were added, created at its queueTime, with the TaskInfo as it was then (queued), placed in
the inventory by the task's entity (datacenter, compute resource, host, VM).

A collector (CreateCollectorForEvents) belongs to its session. Its ``latestPage`` holds the newest
matching events, newest first (``SetCollectorPageSize``: how many; 10 by default); ReadNextEvents
and ReadPreviousEvents scroll from a position that starts just before the latest page.
"""

from __future__ import annotations

import weakref
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from vismock.faults import InvalidArgument, ManagedObjectNotFound
from vismock.mockserver.objects.base import Context, vim_method
from vismock.mockserver.objects.managed_entity import ManagedEntity
from vismock.mockserver.objects.property_collector import owned_by, session_ref
from vismock.mockserver.objects.task import Task
from vismock.mockserver.state.clock import to_us
from vismock.mockserver.state.registry import ManagedObject, Registry, derived, is_a
from vismock.mockserver.vim25.values import Data, MoRef

if TYPE_CHECKING:
    from vismock.mockserver.state import Backend

DEFAULT_PAGE_SIZE = 10  # vCenter's latestPage size until SetCollectorPageSize
MAX_PAGE_SIZE = 1000
MAX_COLLECTORS = 32  # EventManager.maxCollector: collectors one session may keep at once
ROOT_FOLDER = MoRef("Folder", "group-d1")
CATEGORIES = (("info", "Information"), ("warning", "Warning"), ("error", "Error"), ("user", "User"))
TASK_EVENT_FORMAT = "Task: {info.descriptionId}"
# EventFilterSpec fields vismock cannot apply: refused rather than silently ignored.
UNSUPPORTED_FILTERS = ("alarm", "scheduledTask", "tag", "auditable", "auditId")
# An event's entity arguments in vim25 order: the field, its argument type and its reference's name.
ARGUMENTS = (
    ("datacenter", "DatacenterEventArgument", "datacenter", "Datacenter"),
    ("computeResource", "ComputeResourceEventArgument", "computeResource", "ComputeResource"),
    ("host", "HostEventArgument", "host", "HostSystem"),
    ("vm", "VmEventArgument", "vm", "VirtualMachine"),
    ("ds", "DatastoreEventArgument", "datastore", "Datastore"),
    ("net", "NetworkEventArgument", "network", "Network"),
)
_QUEUED_ONLY = ("error", "result", "progress", "startTime", "completeTime")


@dataclass(frozen=True, slots=True)
class Event:
    """One TaskEvent: the task it is about, as it was when queued."""

    key: int
    created_us: int
    target: MoRef | None
    data: Data  # the TaskEvent, with its full message

    def value(self, *, full_message: bool = True) -> Data:
        return self.data if full_message else self.data.replace(fullFormattedMessage=None)

    @property
    def user(self) -> str:
        return str(self.data.userName or "")

    @property
    def chain_id(self) -> int:
        return int(self.data.chainId or 0)


def events(backend: Backend) -> list[Event]:
    """Every event, oldest first (by key). They change only with the state: worked out once per
    revision of it (a waiting `govc events -f` asks every 50 ms)."""
    registry = backend.registry
    found = _EVENTS.get(registry)
    if found is None or found[0] != registry.revision:
        found = _EVENTS[registry] = (registry.revision, _events(registry))
    return found[1]


# By the registry itself (weakly): an id() of a registry gone could be a new one's, at the same revision.
_EVENTS: weakref.WeakKeyDictionary[Registry, tuple[int, list[Event]]] = weakref.WeakKeyDictionary()


def _events(registry: Registry) -> list[Event]:
    found = []
    for task in sorted(registry.all(Task), key=lambda task: task.seq):
        info = task.info.replace(state="queued", cancelled=False, **dict.fromkeys(_QUEUED_ONLY))
        target: MoRef | None = info.entity
        reason = info.reason
        user = reason.userName if reason is not None and reason.type == "TaskReasonUser" else None
        spec = task.spec
        data = Data(
            "TaskEvent",
            key=task.seq,
            chainId=int(info.eventChainId or 0),
            createdTime=info.queueTime,
            userName=str(user or ""),
            fullFormattedMessage=f"Task: {spec.description or spec.description_id}",
            info=info,
            **_arguments(registry, target, str(info.entityName or "")),
        )
        found.append(
            Event(
                task.seq,
                to_us(info.queueTime.datetime if hasattr(info.queueTime, "datetime") else info.queueTime),
                target,
                data,
            )
        )
    return found


def _arguments(registry: Registry, target: MoRef | None, target_name: str) -> dict[str, Data]:
    """The entities an event about *target* names: itself and where it sits (vCenter fills the
    datacenter, compute resource, host and VM of an event about a VM)."""
    if target is None:
        return {}
    entity = registry.find(target.value)
    placed: list[tuple[str, str, MoRef]]
    if not isinstance(entity, ManagedEntity):  # an entity the task names but the inventory does not hold
        placed = [(target.type, target_name or target.value, target)]
    else:
        placed = [(e.vim_type, e.name, e.ref) for e in placement(registry, entity)]
    found: dict[str, Data] = {}
    for vim_type, name, ref in placed:
        for field, argument_type, ref_name, kind in ARGUMENTS:
            if field not in found and is_a(vim_type, kind):
                found[field] = Data(argument_type, name=name, **{ref_name: ref})
    return {field: found[field] for field, *_ in ARGUMENTS if field in found}


def placement(registry: Registry, entity: ManagedEntity) -> list[ManagedEntity]:
    """*entity*, then everything it sits in: its host and resource pool (a VM), and their parents."""
    found: dict[str, ManagedEntity] = {}
    pending = [entity]
    while pending:
        current = pending.pop(0)
        if current.id in found:
            continue
        found[current.id] = current
        host = current.read("runtime.host") if current.vim_type == "VirtualMachine" else None
        for link in (host, current.get("resourcePool"), current.get("parent")):
            linked = registry.find(link.value) if isinstance(link, MoRef) else None
            if isinstance(linked, ManagedEntity):
                pending.append(linked)
    return list(found.values())


# -- filters


@dataclass(frozen=True, slots=True)
class EventFilter:
    """An EventFilterSpec, as far as vismock applies it."""

    entity: MoRef | None = None
    recursion: str = "all"
    begin_us: int | None = None
    end_us: int | None = None
    users: tuple[str, ...] | None = None
    system_user: bool = False
    chain_id: int | None = None
    categories: tuple[str, ...] = ()
    types: tuple[str, ...] = ()
    max_count: int | None = None
    full_message: bool = True

    @classmethod
    def of(cls, spec: Data) -> EventFilter:
        for name in UNSUPPORTED_FILTERS:
            if spec[name] is not None:
                raise InvalidArgument(f"vismock does not filter events by {name}", f"filter.{name}")
        by_entity, by_time, by_user = spec.entity, spec.time, spec.userName
        return cls(
            entity=by_entity.entity if by_entity is not None else None,
            recursion=by_entity.recursion if by_entity is not None else "all",
            begin_us=_us(by_time.beginTime) if by_time is not None else None,
            end_us=_us(by_time.endTime) if by_time is not None else None,
            users=tuple(by_user.userList or ()) if by_user is not None else None,
            system_user=bool(by_user.systemUser) if by_user is not None else False,
            chain_id=spec.eventChainId,
            categories=tuple(spec.category or ()),
            types=tuple(spec.eventTypeId or ()) + tuple(spec["type"] or ()),
            max_count=spec.maxCount,
            full_message=not spec.disableFullMessage,
        )

    def matches(self, registry: Registry, event: Event) -> bool:
        return (
            (self.begin_us is None or event.created_us >= self.begin_us)
            and (self.end_us is None or event.created_us <= self.end_us)
            and (self.chain_id is None or event.chain_id == self.chain_id)
            and (not self.categories or "info" in self.categories)
            and (not self.types or "TaskEvent" in self.types)
            and self._user_matches(event)
            and self._entity_matches(registry, event)
        )

    def _user_matches(self, event: Event) -> bool:
        if self.users is None and not self.system_user:
            return True
        return event.user in (self.users or ()) or (self.system_user and not event.user)

    def _entity_matches(self, registry: Registry, event: Event) -> bool:
        if self.entity is None:
            return True
        wanted = self.entity.value
        if event.target is None:  # about no entity: only all of the root folder holds it
            return wanted == ROOT_FOLDER.value and self.recursion == "all"
        if self.recursion == "self":
            return event.target.value == wanted
        entity = registry.find(event.target.value)
        if not isinstance(entity, ManagedEntity):  # outside the inventory: only the root folder holds it
            return event.target.value == wanted or (wanted == ROOT_FOLDER.value and self.recursion == "all")
        if self.recursion == "children":  # the entity or what it sits in directly
            host = entity.read("runtime.host") if entity.vim_type == "VirtualMachine" else None
            links = (entity.get("parent"), host, entity.get("resourcePool"))
            return wanted in {entity.id, *(link.value for link in links if isinstance(link, MoRef))}
        return wanted in {placed.id for placed in placement(registry, entity)}


def _us(value: Any) -> int | None:
    if value is None:
        return None
    return to_us(value.datetime if hasattr(value, "datetime") else value)


def matching(backend: Backend, event_filter: EventFilter) -> list[Event]:
    """The events *event_filter* selects, oldest first."""
    return [event for event in events(backend) if event_filter.matches(backend.registry, event)]


def _checked_filter(ctx: Context, spec: Data) -> EventFilter:
    event_filter = EventFilter.of(spec)
    if event_filter.entity is not None:
        ctx.registry.get(event_filter.entity, ManagedEntity)  # ManagedObjectNotFound for an unknown one
    return event_filter


def _page_size(count: int | None, default: int) -> int:
    if count is None:
        return default
    if not 0 < count <= MAX_PAGE_SIZE:
        raise InvalidArgument(f"maxCount must be 1 to {MAX_PAGE_SIZE}, not {count}", "maxCount")
    return count


class EventManager(ManagedObject):
    vim_type = "EventManager"
    permanent = True

    def __init__(self, object_id: str = "EventManager", props: Mapping[str, Any] | None = None) -> None:
        super().__init__(object_id, props or {"maxCollector": MAX_COLLECTORS, "description": description()})

    @derived
    def latestEvent(self) -> Data | None:
        found = events(self.state.backend)
        return found[-1].value() if found else None

    @vim_method("QueryEvents")
    def query_events(self, ctx: Context, filter: Data) -> tuple[Data, ...]:
        """The newest matching events (at most ``maxCount``, else 1000), newest first."""
        event_filter = _checked_filter(ctx, filter)
        found = matching(ctx.backend, event_filter)[-_page_size(event_filter.max_count, MAX_PAGE_SIZE) :]
        return tuple(event.value(full_message=event_filter.full_message) for event in reversed(found))

    @vim_method("CreateCollectorForEvents")
    def create_collector_for_events(self, ctx: Context, filter: Data) -> MoRef:
        event_filter = _checked_filter(ctx, filter)
        page = _page_size(event_filter.max_count, DEFAULT_PAGE_SIZE)
        session = ctx.required_session()
        if sum(isinstance(obj, EventHistoryCollector) for obj in session.owned()) >= MAX_COLLECTORS:
            raise InvalidArgument(f"A session keeps at most {MAX_COLLECTORS} event collectors", "filter")
        ctx.backend.sessions.check_room(session)
        props = {"filter": filter, "_page": page, "_session": session.id}
        made = EventHistoryCollector(session_ref(ctx, "EventHistoryCollector"), props)
        ctx.registry.add(made)
        return made.ref


def description() -> Data:
    categories = tuple(
        Data("ElementDescription", label=label, summary=label, key=key) for key, label in CATEGORIES
    )
    formats = dict.fromkeys(
        ("formatOnDatacenter", "formatOnComputeResource", "formatOnHost", "formatOnVm", "fullFormat"),
        TASK_EVENT_FORMAT,
    )
    detail = Data(
        "EventDescriptionEventDetail", key="TaskEvent", description="Task event", category="info", **formats
    )
    return Data("EventDescription", category=categories, eventInfo=(detail,))


class HistoryCollector(ManagedObject):
    vim_type = "HistoryCollector"

    def _checked(self, ctx: Context) -> None:
        if not owned_by(self, ctx.session):
            raise ManagedObjectNotFound(self.vim_type, self.id)

    @vim_method("SetCollectorPageSize")
    def set_collector_page_size(self, ctx: Context, maxCount: int) -> None:
        self._checked(ctx)
        self.update(_page=_page_size(maxCount, 0))

    @vim_method("DestroyCollector")
    def destroy_collector(self, ctx: Context) -> None:
        self._checked(ctx)
        ctx.registry.remove(self)

    @vim_method("ResetCollector")
    def reset_collector(self, ctx: Context) -> None:
        self._checked(ctx)
        self.update(_mark=None)

    @vim_method("RewindCollector")
    def rewind_collector(self, ctx: Context) -> None:
        self._checked(ctx)
        self.update(_mark=0)


class EventHistoryCollector(HistoryCollector):
    """``filter`` (the EventFilterSpec); ``_page`` (the latest page's size), ``_mark`` (where
    ReadNextEvents reads from: the first key it may return; unset: just before the latest page)."""

    vim_type = "EventHistoryCollector"

    @property
    def event_filter(self) -> EventFilter:
        return EventFilter.of(self.get("filter"))

    def latest(self) -> list[Event]:
        """The latest page, oldest first."""
        return matching(self.state.backend, self.event_filter)[-int(self.get("_page", DEFAULT_PAGE_SIZE)) :]

    def position(self) -> int:
        mark = self.get("_mark")
        if mark is not None:
            return int(mark)
        latest = self.latest()
        every = events(self.state.backend)
        return latest[0].key if latest else (every[-1].key + 1 if every else 0)

    @derived
    def latestPage(self) -> tuple[Data, ...]:
        """Newest first (what govmomi's event tailer expects)."""
        full = self.event_filter.full_message
        return tuple(event.value(full_message=full) for event in reversed(self.latest()))

    @derived
    def initialized(self) -> bool:
        return True

    @vim_method("ReadNextEvents")
    def read_next_events(self, ctx: Context, maxCount: int) -> tuple[Data, ...]:
        """Up to ``maxCount`` events from the position on, oldest first; the position moves past them."""
        self._checked(ctx)
        count = _page_size(maxCount, 0)
        position = self.position()
        found = [event for event in matching(ctx.backend, self.event_filter) if event.key >= position][:count]
        if found:
            self.update(_mark=found[-1].key + 1)
        return _values(found, self.event_filter)

    @vim_method("ReadPreviousEvents")
    def read_previous_events(self, ctx: Context, maxCount: int) -> tuple[Data, ...]:
        """Up to ``maxCount`` events before the position, oldest first; the position moves back to them."""
        self._checked(ctx)
        count = _page_size(maxCount, 0)
        position = self.position()
        found = [event for event in matching(ctx.backend, self.event_filter) if event.key < position][-count:]
        if found:
            self.update(_mark=found[0].key)
        return _values(found, self.event_filter)


def _values(found: Sequence[Event], event_filter: EventFilter) -> tuple[Data, ...]:
    return tuple(event.value(full_message=event_filter.full_message) for event in found)
