"""EventManager and EventHistoryCollector: the events of the mock's tasks, as ``govc events`` and
``QueryEvents`` read them.

vCenter logs a TaskEvent when a task is created; vismock's events are exactly those, one per task
in the state, derived from the tasks rather than stored: keyed by the task's number (the order
tasks were added), created at the task's queueTime, with the TaskInfo as it was then (queued),
placed in the inventory by the task's entity (datacenter, compute resource, host, VM).

A collector (CreateCollectorForEvents) belongs to its session. Its ``latestPage`` holds the newest
matching events, newest first (``SetCollectorPageSize``: how many; 10 by default); ReadNextEvents
and ReadPreviousEvents scroll from a position that starts just before the latest page.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from typing import Any

from lxml import etree

from vismock.codec.values import XsDateTime
from vismock.faults import InvalidArgument, InvalidRequest, ManagedObjectNotFound
from vismock.mockserver.cache import BoundedCache
from vismock.mockserver.faces.soap import wire
from vismock.mockserver.faces.soap.objects import Call, is_a, managed_type, new_session_ref, session_object
from vismock.mockserver.faces.soap.service_instance import EVENT_MANAGER, ROOT_FOLDER
from vismock.mockserver.faces.soap.wire import MoRef, Value
from vismock.mockserver.state.db import to_us
from vismock.mockserver.state.models import Entity

COLLECTOR = "events"  # the kind of session object a collector is kept as
DEFAULT_PAGE_SIZE = 10  # vCenter's latestPage size until SetCollectorPageSize
MAX_PAGE_SIZE = 1000
MAX_COLLECTORS = 32  # EventManager.maxCollector: collectors one session may keep at once
CATEGORIES = (("info", "Information"), ("warning", "Warning"), ("error", "Error"), ("user", "User"))
TASK_EVENT_FORMAT = "Task: {info.descriptionId}"
# EventFilterSpec fields vismock cannot apply: refused rather than silently ignored.
UNSUPPORTED_FILTERS = ("alarm", "scheduledTask", "tag", "auditable", "auditId")

event_manager = managed_type("EventManager", singleton=EVENT_MANAGER.value)


# -- events


@dataclass(frozen=True, slots=True)
class Event:
    """One TaskEvent: the task it is about, as it was when queued."""

    key: int
    chain_id: int
    created: str  # xs:dateTime text: the task's queueTime
    user: str
    info: dict[str, Any]
    target: MoRef | None
    arguments: tuple[tuple[str, str, MoRef], ...]  # (field, entity name, entity): datacenter, host, vm...
    message: str
    category: str = "info"
    type: str = "TaskEvent"

    @property
    def created_us(self) -> int:
        return to_us(XsDateTime(self.created).datetime)

    def value(self, *, full_message: bool = True) -> Value:
        def fill(element: etree._Element) -> None:
            wire.sub(element, "key", str(self.key))
            wire.sub(element, "chainId", str(self.chain_id))
            wire.sub(element, "createdTime", self.created)
            wire.sub(element, "userName", self.user)
            for field_name, name, ref in self.arguments:
                argument = wire.sub(element, field_name)
                wire.sub(argument, "name", name)
                wire.sub_moref(argument, ARGUMENT_REFS[field_name], ref)
            if full_message:
                wire.sub(element, "fullFormattedMessage", self.message)
            wire.fill_task_info(wire.sub(element, "info"), self.info)

        return Value(self.type, fill)


# Event's entity arguments in vim25 order: the element, and the name of its reference inside.
ARGUMENT_REFS = {
    "datacenter": "datacenter",
    "computeResource": "computeResource",
    "host": "host",
    "vm": "vm",
    "ds": "datastore",
    "net": "network",
}
_ARGUMENT_OF_TYPE = {
    "Datacenter": "datacenter",
    "ComputeResource": "computeResource",
    "HostSystem": "host",
    "VirtualMachine": "vm",
    "Datastore": "ds",
    "Network": "net",
}
_QUEUED_ONLY = ("error", "result", "progress", "startTime", "completeTime")


def events(call: Call) -> list[Event]:
    """Every event, oldest first (by key). They change only with the state (a task added, replaced
    or deleted; the inventory): worked out once per revision of it, as a waiting `govc events -f`
    asks every 50 ms."""
    backend = call.backend
    key = (str(backend.path), backend.revision())
    found = _EVENTS.get(key)
    if found is None:
        found = _EVENTS.put(key, _events(call))
    return found


_EVENTS: BoundedCache[tuple[str, int], list[Event]] = BoundedCache(16)


def _events(call: Call) -> list[Event]:
    found = []
    for number, spec in call.backend.tasks.numbered():
        try:
            info = dict(call.backend.tasks.read(spec.id, poll=False).info)
        except ManagedObjectNotFound:
            continue  # deleted meanwhile
        for name in _QUEUED_ONLY:
            info.pop(name, None)
        info.update(state="queued", cancelled=False)
        target = wire.task_entity(info)
        reason_user = next((v.get("userName") for k, v in info.items() if k == "TaskReasonUser"), None)
        found.append(
            Event(
                key=number,
                chain_id=int(info.get("eventChainId") or 0),
                created=str(info["queueTime"]),
                user=str(reason_user or ""),
                info=info,
                target=target,
                arguments=_arguments(call, target, str(info.get("entityName") or "")),
                message=f"Task: {spec.description or spec.description_id}",
            )
        )
    return sorted(found, key=lambda event: event.key)


def _arguments(call: Call, target: MoRef | None, target_name: str) -> tuple[tuple[str, str, MoRef], ...]:
    """The entities an event about *target* names: itself and where it sits (vCenter fills the
    datacenter, compute resource, host and VM of an event about a VM)."""
    if target is None:
        return ()
    inventory = call.backend.inventory
    found: dict[str, tuple[str, MoRef]] = {}
    entity = inventory.find(target.value)
    if entity is None:  # an entity the task names but the inventory does not hold
        field_name = next((f for t, f in _ARGUMENT_OF_TYPE.items() if is_a(target.type, t)), None)
        return () if field_name is None else ((field_name, target_name or target.value, target),)
    for placed in _placement(call, entity):
        field_name = next((f for t, f in _ARGUMENT_OF_TYPE.items() if is_a(placed.type, t)), None)
        if field_name is not None and field_name not in found:
            found[field_name] = (placed.name, MoRef(placed.type, placed.id))
    return tuple((f, *found[f]) for f in ARGUMENT_REFS if f in found)


def _placement(call: Call, entity: Entity) -> list[Entity]:
    """*entity*, then everything it sits in: its host and resource pool (a VM), and their parents."""
    inventory = call.backend.inventory
    found: dict[str, Entity] = {}
    pending = [entity]
    while pending:
        current = pending.pop(0)
        if current.id in found:
            continue
        found[current.id] = current
        for link in (current.props.get("host"), current.props.get("resourcePool"), current.parent):
            linked = inventory.find(str(link)) if link else None
            if linked is not None:
                pending.append(linked)
    return list(found.values())


# -- filters


@dataclass(frozen=True, slots=True)
class EventFilter:
    """An EventFilterSpec, as far as vismock applies it."""

    entity: tuple[str, str] | None = None
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

    def matches(self, call: Call, event: Event) -> bool:
        return (
            (self.begin_us is None or event.created_us >= self.begin_us)
            and (self.end_us is None or event.created_us <= self.end_us)
            and (self.chain_id is None or event.chain_id == self.chain_id)
            and (not self.categories or event.category in self.categories)
            and (not self.types or event.type in self.types)
            and self._user_matches(event)
            and self._entity_matches(call, event)
        )

    def _user_matches(self, event: Event) -> bool:
        if self.users is None and not self.system_user:
            return True
        return event.user in (self.users or ()) or (self.system_user and not event.user)

    def _entity_matches(self, call: Call, event: Event) -> bool:
        if self.entity is None:
            return True
        wanted = self.entity[1]
        if event.target is None:  # about no entity: only all of the root folder holds it
            return wanted == ROOT_FOLDER.value and self.recursion == "all"
        if self.recursion == "self":
            return event.target.value == wanted
        entity = call.backend.inventory.find(event.target.value)
        if entity is None:  # outside the inventory: only the root folder holds it
            return event.target.value == wanted or (wanted == ROOT_FOLDER.value and self.recursion == "all")
        if self.recursion == "children":  # the entity or what it sits in directly
            return wanted in {entity.id, *(str(link) for link in (entity.parent, *_links(entity)) if link)}
        return wanted in {placed.id for placed in _placement(call, entity)}

    @classmethod
    def parse(cls, element: etree._Element) -> EventFilter:
        for name in UNSUPPORTED_FILTERS:
            if wire.children(element, name):
                raise InvalidArgument(f"vismock does not filter events by {name}", f"filter.{name}")
        return cls(
            entity=_by_entity(element),
            recursion=_recursion(element),
            begin_us=_time(element, "beginTime"),
            end_us=_time(element, "endTime"),
            users=_users(element),
            system_user=_system_user(element),
            chain_id=_optional_int(element, "eventChainId"),
            categories=_texts(element, "category"),
            types=_texts(element, "eventTypeId") + _texts(element, "type"),
            max_count=_optional_int(element, "maxCount"),
            full_message=not wire.child_bool(element, "disableFullMessage"),
        )

    def to_json(self) -> Any:
        return asdict(self)

    @classmethod
    def from_json(cls, data: Any) -> EventFilter:
        data = dict(data)
        for name in ("entity", "users", "categories", "types"):
            if data[name] is not None:
                data[name] = tuple(data[name])
        return cls(**data)


def _links(entity: Entity) -> list[Any]:
    return [entity.props.get("host"), entity.props.get("resourcePool")]


def _by_entity(element: etree._Element) -> tuple[str, str] | None:
    by_entity = element.find(f"{{{wire.VIM25}}}entity")
    entity = None if by_entity is None else by_entity.find(f"{{{wire.VIM25}}}entity")
    if entity is None:
        return None
    ref = wire.moref_of(entity)
    return (ref.type, ref.value)


def _recursion(element: etree._Element) -> str:
    by_entity = element.find(f"{{{wire.VIM25}}}entity")
    recursion = "all" if by_entity is None else (wire.child_text(by_entity, "recursion") or "all").strip()
    if recursion not in ("self", "children", "all"):
        raise InvalidArgument(
            f"{recursion!r} is not an EventFilterSpecRecursionOption", "filter.entity.recursion"
        )
    return recursion


def _time(element: etree._Element, name: str) -> int | None:
    by_time = element.find(f"{{{wire.VIM25}}}time")
    text = None if by_time is None else wire.child_text(by_time, name)
    if not text or not text.strip():
        return None
    try:
        return to_us(XsDateTime(text.strip()).datetime)
    except ValueError:
        raise InvalidArgument(f"<{name}> is not an xs:dateTime: {text!r}", f"filter.time.{name}") from None


def _users(element: etree._Element) -> tuple[str, ...] | None:
    by_user = element.find(f"{{{wire.VIM25}}}userName")
    return None if by_user is None else _texts(by_user, "userList")


def _system_user(element: etree._Element) -> bool:
    by_user = element.find(f"{{{wire.VIM25}}}userName")
    return by_user is not None and wire.child_bool(by_user, "systemUser")


def _texts(element: etree._Element, name: str) -> tuple[str, ...]:
    return tuple((child.text or "").strip() for child in wire.children(element, name))


def _optional_int(element: etree._Element, name: str) -> int | None:
    return wire.child_int(element, name)


def matching(call: Call, event_filter: EventFilter) -> list[Event]:
    """The events *event_filter* selects, oldest first."""
    call.observation.not_remembered()  # the tasks' events: every task added or replaced moves them
    return [event for event in events(call) if event_filter.matches(call, event)]


def _filter_argument(call: Call) -> EventFilter:
    element = call.soap.arg("filter")
    if element is None:
        raise InvalidRequest(f"{call.soap.method} needs a <filter>")
    event_filter = EventFilter.parse(element)
    if event_filter.entity is not None:
        ref = MoRef(*event_filter.entity)
        if call.backend.inventory.find(ref.value) is None:
            raise ManagedObjectNotFound(ref.type, ref.value)
    return event_filter


def _page_size(count: int | None, default: int) -> int:
    if count is None:
        return default
    if not 0 < count <= MAX_PAGE_SIZE:
        raise InvalidArgument(f"maxCount must be 1 to {MAX_PAGE_SIZE}, not {count}", "maxCount")
    return count


def _event_array(found: Sequence[Event], event_filter: EventFilter) -> Value:
    return wire.data_array("Event", [event.value(full_message=event_filter.full_message) for event in found])


# -- EventManager


@event_manager.method("QueryEvents", typed=True)
def query_events(call: Call) -> list[Value]:
    """The newest matching events (at most ``maxCount``, else 1000), newest first."""
    event_filter = _filter_argument(call)
    found = matching(call, event_filter)[-_page_size(event_filter.max_count, MAX_PAGE_SIZE) :]
    return [event.value(full_message=event_filter.full_message) for event in reversed(found)]


@event_manager.method("CreateCollectorForEvents")
def create_collector_for_events(call: Call) -> Value:
    event_filter = _filter_argument(call)
    page = _page_size(event_filter.max_count, DEFAULT_PAGE_SIZE)
    session = call.required_session()
    if len(call.backend.sessions.objects(session, COLLECTOR)) >= MAX_COLLECTORS:
        raise InvalidArgument(f"A session keeps at most {MAX_COLLECTORS} event collectors", "filter")
    ref = new_session_ref(call, "EventHistoryCollector")
    data = {"filter": event_filter.to_json(), "page": page, "mark": None}
    call.backend.sessions.add_object(session, ref.value, COLLECTOR, json.dumps(data))
    return wire.moref_value(ref)


@event_manager.property("description", default=True)
def description(call: Call, ref: MoRef, loaded: object) -> Value:
    def fill(element: etree._Element) -> None:
        for key, label in CATEGORIES:
            category = wire.sub(element, "category")
            wire.sub(category, "label", label)
            wire.sub(category, "summary", label)
            wire.sub(category, "key", key)
        detail = wire.sub(element, "eventInfo")
        wire.sub(detail, "key", "TaskEvent")
        wire.sub(detail, "description", "Task event")
        wire.sub(detail, "category", "info")
        for field_name in (
            "formatOnDatacenter",
            "formatOnComputeResource",
            "formatOnHost",
            "formatOnVm",
            "fullFormat",
        ):
            wire.sub(detail, field_name, TASK_EVENT_FORMAT)

    return Value("EventDescription", fill)


@event_manager.property("latestEvent", default=True)
def latest_event(call: Call, ref: MoRef, loaded: object) -> Value | None:
    found = matching(call, EventFilter())
    return found[-1].value() if found else None


@event_manager.property("maxCollector", default=True)
def max_collector(call: Call, ref: MoRef, loaded: object) -> Value:
    return wire.text_value("xsd:int", str(MAX_COLLECTORS))


# -- EventHistoryCollector


@dataclass(frozen=True, slots=True)
class Collector:
    ref: MoRef
    filter: EventFilter
    page: int
    mark: int | None  # where ReadNextEvents reads from: the first key it may return

    def latest(self, call: Call) -> list[Event]:
        """The latest page, oldest first."""
        return matching(call, self.filter)[-self.page :]

    def position(self, call: Call) -> int:
        """The scroll position: a key (just before the latest page until it is moved)."""
        if self.mark is not None:
            return self.mark
        latest = self.latest(call)
        every = events(call)
        return latest[0].key if latest else (every[-1].key + 1 if every else 0)

    def save(self, call: Call, **changes: Any) -> None:
        data = {"filter": self.filter.to_json(), "page": self.page, "mark": self.mark, **changes}
        call.backend.sessions.replace_object(call.required_session(), self.ref.value, json.dumps(data))


def _load_collector(call: Call, ref: MoRef, poll: bool) -> Collector:
    stored = session_object(call, ref, COLLECTOR)
    data = json.loads(stored.data)
    return Collector(ref, EventFilter.from_json(data["filter"]), int(data["page"]), data["mark"])


history_collector = managed_type("HistoryCollector", load=_load_collector)
event_history_collector = managed_type("EventHistoryCollector", history_collector)


@event_history_collector.property("latestPage", default=True)
def latest_page(call: Call, ref: MoRef, collector: Collector) -> Value:
    """Newest first (what govmomi's event tailer expects), typed even when empty."""
    return _event_array(list(reversed(collector.latest(call))), collector.filter)


@event_history_collector.property("initialized")
def initialized(call: Call, ref: MoRef, collector: Collector) -> Value:
    return wire.text_value("xsd:boolean", "true")


@history_collector.method("SetCollectorPageSize")
def set_collector_page_size(call: Call) -> None:
    collector = _load_collector(call, call.this, False)
    collector.save(call, page=_page_size(_max_count(call), 0))


def _max_count(call: Call) -> int:
    text = (call.soap.text("maxCount") or "").strip()
    try:
        return int(text)
    except ValueError:
        raise InvalidArgument(f"maxCount must be an integer, not {text!r}", "maxCount") from None


@history_collector.method("DestroyCollector")
def destroy_collector(call: Call) -> None:
    _load_collector(call, call.this, False)
    call.backend.sessions.remove_object(call.required_session(), call.this.value)


@history_collector.method("ResetCollector")
def reset_collector(call: Call) -> None:
    collector = _load_collector(call, call.this, False)
    collector.save(call, mark=None)


@history_collector.method("RewindCollector")
def rewind_collector(call: Call) -> None:
    collector = _load_collector(call, call.this, False)
    collector.save(call, mark=0)


@event_history_collector.method("ReadNextEvents", typed=True)
def read_next_events(call: Call) -> list[Value]:
    """Up to ``maxCount`` events from the position on, oldest first; the position moves past them."""
    collector = _load_collector(call, call.this, False)
    count = _page_size(_max_count(call), 0)
    position = collector.position(call)
    found = [event for event in matching(call, collector.filter) if event.key >= position][:count]
    if found:
        collector.save(call, mark=found[-1].key + 1)
    return [event.value(full_message=collector.filter.full_message) for event in found]


@event_history_collector.method("ReadPreviousEvents", typed=True)
def read_previous_events(call: Call) -> list[Value]:
    """Up to ``maxCount`` events before the position, oldest first; the position moves back to them."""
    collector = _load_collector(call, call.this, False)
    count = _page_size(_max_count(call), 0)
    position = collector.position(call)
    found = [event for event in matching(call, collector.filter) if event.key < position][-count:]
    if found:
        collector.save(call, mark=found[0].key)
    return [event.value(full_message=collector.filter.full_message) for event in found]
