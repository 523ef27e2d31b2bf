"""PropertyCollector and PropertyFilter: RetrieveProperties(Ex) with paging, Fetch, collectors of
a session's own (CreatePropertyCollector: govmomi's task waiter makes one per wait), property
filters, WaitForUpdates(Ex) with real versions and CancelWaitForUpdates.

Every session has the service's collector (``propertyCollector``) and may create more; filters
belong to a collector, collectors and filters to the session (kept in the state, so every worker
process sees them). A version carries its own snapshot (see :data:`Snapshot`), so no per-version
state is kept anywhere and any worker can answer the next wait.
"""

from __future__ import annotations

import base64
import hashlib
import json
import time
import uuid
import zlib
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from lxml import etree

from vismock.faults import (
    InvalidArgument,
    InvalidCollectorVersion,
    InvalidRequest,
    ManagedObjectNotFound,
    RequestCanceled,
)
from vismock.mockserver.faces.soap import wire
from vismock.mockserver.faces.soap.objects import (
    MANAGED_OBJECT,
    Answer,
    Call,
    Missing,
    PropertyValue,
    managed_type,
    new_session_ref,
    read_properties,
    session_object,
)
from vismock.mockserver.faces.soap.service_instance import PROPERTY_COLLECTOR
from vismock.mockserver.faces.soap.traversal import FilterSpec, filter_specs, parse_filter_spec, targets
from vismock.mockserver.faces.soap.wire import MoRef, Value

WAIT_POLL_SECONDS = 0.05
COLLECTOR, FILTER, WAIT = "collector", "filter", "wait"  # the session objects kept here, by kind


def _load_collector(call: Call, ref: MoRef, poll: bool) -> str:
    return collector_of(call, ref)


def _load_filter(call: Call, ref: MoRef, poll: bool) -> Any:
    return session_object(call, ref, FILTER)


property_collector = managed_type("PropertyCollector", load=_load_collector)
property_filter = managed_type("PropertyFilter", load=_load_filter)


def collector_of(call: Call, ref: MoRef) -> str:
    """The id of the calling session's collector *ref* (the service's, or one it created);
    ManagedObjectNotFound for another session's."""
    if ref != PROPERTY_COLLECTOR:
        session_object(call, ref, COLLECTOR)
    return ref.value


# -- reading


@dataclass(frozen=True, slots=True)
class ObjectContent:
    ref: MoRef
    values: list[tuple[str, PropertyValue]]

    def fill(self, element: etree._Element) -> None:
        wire.sub_moref(element, "obj", self.ref)
        for path, value in self.values:
            if isinstance(value, Value):
                prop = wire.sub(element, "propSet")
                wire.sub(prop, "name", path)
                wire.sub_value(prop, "val", value)
        for path, value in self.values:
            if isinstance(value, Missing):
                wire.fill_missing_property(wire.sub(element, "missingSet"), path, value.fault, self.ref)


Target = tuple[FilterSpec, MoRef, tuple[str, ...]]


def targets_of(call: Call, specs: Sequence[FilterSpec]) -> list[Target]:
    """Every object *specs* reach that a PropertySpec applies to, with what to read of it (a
    starting object that does not exist is ManagedObjectNotFound, a bad path InvalidProperty)."""
    for spec in specs:
        spec.check(call, reading=True)
    return [(spec, ref, paths) for spec in specs for ref, paths in targets(call, spec)]


def read_targets(call: Call, found: Sequence[Target]) -> list[ObjectContent]:
    """What the targets hold now; an object reached on the way and gone meanwhile is left out."""
    read: list[ObjectContent] = []
    for spec, ref, paths in found:
        try:
            read.append(ObjectContent(ref, read_properties(call, ref, paths, poll=True)))
        except ManagedObjectNotFound:
            if any(ref == start.obj for start in spec.objects):
                raise
    return read


@MANAGED_OBJECT.method("Fetch", typed=True, remembered=True)
def fetch(call: Call) -> Value | None:
    path = call.soap.text("prop")
    if not path:
        raise InvalidRequest("Fetch needs a <prop>")
    ((_path, value),) = read_properties(call, call.this, [path], poll=True)
    if isinstance(value, Missing):
        raise value.fault
    return value


# Without a session vCenter still answers RetrieveProperties for what anyone may read
# (``currentSession``: unset); any other property is NotAuthenticated.
@property_collector.method("RetrieveProperties", authenticated=False, remembered=True)
def retrieve_properties(call: Call) -> list[Value]:
    if call.session is not None:
        collector_of(call, call.this)
    found = read_targets(call, targets_of(call, filter_specs(call, "specSet")))
    return [Value("ObjectContent", content.fill) for content in found]


@property_collector.method("RetrievePropertiesEx", authenticated=False, remembered=True)
def retrieve_properties_ex(call: Call) -> Answer:
    if call.session is not None:
        collector_of(call, call.this)
    options = call.soap.arg("options")
    max_objects = None if options is None else wire.child_int(options, "maxObjects")
    page = RetrievePage(
        filter_specs(call, "specSet"), 0, max_objects if max_objects and max_objects > 0 else None
    )
    return page.result(call, first=True)


@property_collector.method("ContinueRetrievePropertiesEx")
def continue_retrieve_properties_ex(call: Call) -> Answer:
    page = RetrievePage.from_token(call.soap.text("token") or "", call.required_session())
    return page.result(call, first=False)


@property_collector.method("CancelRetrievePropertiesEx")
def cancel_retrieve_properties_ex(call: Call) -> None:
    RetrievePage.from_token(call.soap.text("token") or "", call.required_session())  # a valid token


@dataclass(frozen=True, slots=True)
class RetrievePage:
    """One page of a RetrievePropertiesEx result; the token of the next page carries the query itself."""

    specs: Sequence[FilterSpec]
    offset: int
    size: int | None

    def result(self, call: Call, *, first: bool) -> Answer:
        found = targets_of(call, self.specs)
        end = len(found) if self.size is None else min(len(found), self.offset + self.size)
        page = read_targets(call, found[self.offset : end])
        token = self.token(end, call.required_session()) if end < len(found) else None
        if not page and first:
            return None  # no objects: no RetrieveResult at all

        def fill(result: etree._Element) -> None:
            if token is not None:
                wire.sub(result, "token", token)
            for content in page:
                content.fill(wire.sub(result, "objects"))

        return Value("RetrieveResult", fill)

    def token(self, offset: int, session: str) -> str:
        data = {
            "s": _session_tag(session),
            "o": offset,
            "n": self.size,
            "q": [s.to_json() for s in self.specs],
        }
        return _pack(data)

    @classmethod
    def from_token(cls, token: str, session: str) -> RetrievePage:
        try:
            data = _unpack(token)
            if data["s"] != _session_tag(session):
                raise ValueError("token of another session")
            return cls([FilterSpec.from_json(q) for q in data["q"]], int(data["o"]), data["n"])
        except (ValueError, KeyError, TypeError):
            raise InvalidArgument("The token is not valid for this session", "token") from None


# -- collectors of a session's own


@property_collector.method("CreatePropertyCollector")
def create_property_collector(call: Call) -> Value:
    collector_of(call, call.this)
    ref = new_session_ref(call, "PropertyCollector")
    call.backend.sessions.add_object(call.required_session(), ref.value, COLLECTOR, "{}")
    return wire.moref_value(ref)


@property_collector.method("DestroyPropertyCollector")
def destroy_property_collector(call: Call) -> None:
    """Destroys a collector the session created, its filters with it (pending waits end with
    RequestCanceled); the service's own collector cannot be destroyed."""
    if call.this == PROPERTY_COLLECTOR:
        raise InvalidArgument("The service's property collector cannot be destroyed", "_this")
    collector_of(call, call.this)
    call.backend.sessions.remove_object(call.required_session(), call.this.value)


@property_collector.property("filter")
def filters_property(call: Call, ref: MoRef, collector: str) -> Value:
    call.observation.not_remembered()
    owned = call.backend.sessions.objects(call.required_session(), FILTER, collector)
    return wire.moref_array([MoRef("PropertyFilter", item.id) for item in owned])


# -- property filters


@property_collector.method("CreateFilter")
def create_filter(call: Call) -> Value:
    collector = collector_of(call, call.this)
    spec_element = call.soap.arg("spec")
    if spec_element is None:
        raise InvalidRequest("CreateFilter needs a <spec>")
    spec = parse_filter_spec(spec_element)
    spec.check(call)  # ManagedObjectNotFound, InvalidProperty now rather than on every wait
    partial = call.soap.text("partialUpdates") in ("true", "1")
    ref = new_session_ref(call, "PropertyFilter")
    data = json.dumps({"spec": spec.to_json(), "partial": partial})
    call.backend.sessions.add_object(call.required_session(), ref.value, FILTER, data, owner=collector)
    return wire.moref_value(ref)


@property_filter.method("DestroyPropertyFilter")
def destroy_property_filter(call: Call) -> None:
    if not call.backend.sessions.remove_object(call.required_session(), call.this.value):
        raise ManagedObjectNotFound("PropertyFilter", call.this.value)


@property_filter.property("partialUpdates")
def partial_updates(call: Call, ref: MoRef, stored: Any) -> Value:
    return wire.text_value("xsd:boolean", wire.bool_text(bool(json.loads(stored.data)["partial"])))


# -- WaitForUpdates


@property_collector.method("WaitForUpdates")
def wait_for_updates(call: Call) -> Value:
    version = call.soap.text("version")
    update = wait(call, version, call.services.settings.soap_max_wait)
    return Value("UpdateSet", (update or Updates(version or "", [])).fill)


@property_collector.method("WaitForUpdatesEx")
def wait_for_updates_ex(call: Call) -> Value | None:
    version = call.soap.text("version")
    options = call.soap.arg("options")
    max_wait = None if options is None else wire.child_int(options, "maxWaitSeconds")
    cap = call.services.settings.soap_max_wait
    update = wait(call, version, cap if max_wait is None else min(float(max_wait), cap))
    return None if update is None else Value("UpdateSet", update.fill)


@property_collector.method("CheckForUpdates")
def check_for_updates(call: Call) -> Value | None:
    update = wait(call, call.soap.text("version"), 0.0)
    return None if update is None else Value("UpdateSet", update.fill)


@property_collector.method("CancelWaitForUpdates")
def cancel_wait_for_updates(call: Call) -> None:
    """Ends the collector's pending waits with RequestCanceled (none pending: nothing happens)."""
    session, collector = call.required_session(), collector_of(call, call.this)
    for pending in call.backend.sessions.objects(session, WAIT, collector):
        call.backend.sessions.replace_object(session, pending.id, json.dumps({"canceled": True}))


@dataclass(slots=True)
class ObjectChange:
    kind: str  # enter, modify, leave
    ref: MoRef
    changes: list[tuple[str, PropertyValue]] = field(default_factory=list)

    def fill(self, update: etree._Element) -> None:
        wire.sub(update, "kind", self.kind)
        wire.sub_moref(update, "obj", self.ref)
        for path, value in self.changes:
            if isinstance(value, Missing):
                continue
            prop = wire.sub(update, "changeSet")
            wire.sub(prop, "name", path)
            wire.sub(prop, "op", "assign")
            if value is not None:
                wire.sub_value(prop, "val", value)
        for path, value in self.changes:
            if isinstance(value, Missing):
                wire.fill_missing_property(wire.sub(update, "missingSet"), path, value.fault, self.ref)


@dataclass(slots=True)
class Updates:
    """An UpdateSet about to be sent."""

    version: str
    filters: list[tuple[str, list[ObjectChange]]]

    def fill(self, element: etree._Element) -> None:
        wire.sub(element, "version", self.version)
        for filter_id, changes in self.filters:
            filter_update = wire.sub(element, "filterSet")
            wire.sub_moref(filter_update, "filter", MoRef("PropertyFilter", filter_id))
            for change in changes:
                change.fill(wire.sub(filter_update, "objectSet"))


Snapshot = dict[str, dict[str, dict[str, str]]]
"""filter id -> "Type:id" -> property path -> digest of the value last reported."""


def wait(call: Call, version: str | None, max_wait: float) -> Updates | None:
    """Block until something the collector's filters watch differs from *version*, or *max_wait*
    passes, or CancelWaitForUpdates, the collector's end or the session's end cancels the wait.

    An empty *version* reports everything at once. A version is the snapshot of what was
    reported, packed: so any worker can compare against it.
    """
    session, collector = call.required_session(), collector_of(call, call.this)
    seen: Snapshot = unpack_version(version, session, collector) if version else {}
    deadline = time.monotonic() + max(0.0, max_wait)
    # The first look of each call counts as a client poll (tasks progressing by polls), re-checks do not.
    snapshot, changed = look(call, session, collector, seen, poll=True)
    if changed or not version:
        return Updates(pack_version(snapshot, session, collector), changed)
    if time.monotonic() >= deadline:
        return None
    with _pending_wait(call, session, collector) as still_waiting:
        while time.monotonic() < deadline:
            time.sleep(WAIT_POLL_SECONDS)
            still_waiting()
            snapshot, changed = look(call, session, collector, seen, poll=False)
            if changed:
                return Updates(pack_version(snapshot, session, collector), changed)
    return None


class _pending_wait:
    """A wait others can see (CancelWaitForUpdates marks it); ``still_waiting()`` raises
    RequestCanceled once it was canceled, or its collector or session has ended."""

    def __init__(self, call: Call, session: str, collector: str) -> None:
        self._sessions = call.backend.sessions
        self._session = session
        self._id = f"wait-{uuid.uuid4().hex}"
        self._sessions.add_object(session, self._id, WAIT, "{}", owner=collector)

    def __enter__(self) -> Any:
        return self.still_waiting

    def still_waiting(self) -> None:
        pending = self._sessions.object(self._session, self._id)
        if pending is None or json.loads(pending.data).get("canceled"):
            raise RequestCanceled("The wait for updates was canceled.")

    def __exit__(self, *_: object) -> None:
        self._sessions.remove_object(self._session, self._id)


def look(
    call: Call, session: str, collector: str, seen: Snapshot, *, poll: bool
) -> tuple[Snapshot, list[tuple[str, list[ObjectChange]]]]:
    # Each look is a fresh read: a wait looks again and again within one call, and what the
    # call loaded on an earlier look is exactly what the wait is waiting to see change.
    call.loaded.clear()
    snapshot: Snapshot = {}
    changed: list[tuple[str, list[ObjectChange]]] = []
    for stored in call.backend.sessions.objects(session, FILTER, collector):
        spec = FilterSpec.from_json(json.loads(stored.data)["spec"])
        before = seen.get(stored.id, {})
        now: dict[str, dict[str, str]] = {}
        changes: list[ObjectChange] = []
        for ref, paths in _reachable(call, spec):
            key = f"{ref.type}:{ref.value}"
            change = _object_change(call, ref, paths, before.get(key), now, key, poll=poll)
            if change is not None:
                changes.append(change)
        changes.extend(ObjectChange("leave", MoRef(*key.split(":", 1))) for key in before if key not in now)
        snapshot[stored.id] = now
        if changes:
            changed.append((stored.id, changes))
    return snapshot, changed


def _reachable(call: Call, spec: FilterSpec) -> list[tuple[MoRef, tuple[str, ...]]]:
    try:
        return list(targets(call, spec))
    except ManagedObjectNotFound:
        return []  # a view or collector the filter starts from is gone: nothing reachable now


def _object_change(
    call: Call,
    ref: MoRef,
    paths: tuple[str, ...],
    before: dict[str, str] | None,
    now: dict[str, dict[str, str]],
    key: str,
    *,
    poll: bool,
) -> ObjectChange | None:
    try:
        values = read_properties(call, ref, paths, poll=poll)
    except ManagedObjectNotFound:
        return None  # gone: reported as "leave" when it was seen before
    digests = {path: _digest(value) for path, value in values}
    now[key] = digests
    if before is None:
        return ObjectChange("enter", ref, [(path, value) for path, value in values if value is not None])
    changed = [(path, value) for path, value in values if before.get(path) != digests[path]]
    return ObjectChange("modify", ref, changed) if changed else None


def _digest(value: PropertyValue) -> str:
    if value is None:
        return "-"
    if isinstance(value, Missing):
        return f"missing:{value.fault.fault_type}"
    element = etree.Element("v")
    value.fill(element)
    return hashlib.blake2b(etree.tostring(element), digest_size=6).hexdigest()


def pack_version(snapshot: Snapshot, session: str, collector: str) -> str:
    return _pack({"s": _session_tag(session), "c": collector, "f": snapshot})


def unpack_version(version: str, session: str, collector: str) -> Snapshot:
    try:
        data = _unpack(version)
        if data["s"] != _session_tag(session) or data.get("c") != collector:
            raise ValueError("version of another session or collector")
        snapshot: Snapshot = data["f"]
        return snapshot
    except (ValueError, KeyError, TypeError):
        raise InvalidCollectorVersion() from None


def _session_tag(session: str) -> str:
    return hashlib.blake2b(session.encode(), digest_size=6).hexdigest()


def _pack(data: Any) -> str:
    raw = zlib.compress(json.dumps(data, separators=(",", ":")).encode(), 6)
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def _unpack(text: str) -> Any:
    padded = text + "=" * (-len(text) % 4)
    try:
        return json.loads(zlib.decompress(base64.urlsafe_b64decode(padded.encode()), bufsize=1 << 16))
    except (zlib.error, json.JSONDecodeError, UnicodeDecodeError, ValueError) as exc:
        raise ValueError(str(exc)) from None
