"""PropertyCollector: RetrieveProperties(Ex) with paging, Fetch, property filters and
WaitForUpdates(Ex) with real versions.

Filters live in the state (each session's, shared by worker processes); a collector version
carries its own snapshot (see :data:`Snapshot`), so no per-version state is kept anywhere and
any worker can answer the next wait.
"""

from __future__ import annotations

import base64
import hashlib
import json
import time
import zlib
from collections.abc import Iterator, Sequence
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
    default_paths,
    load,
    managed_type,
    property_reader,
    read_properties,
    type_of,
)
from vismock.mockserver.faces.soap.service_instance import PROPERTY_COLLECTOR
from vismock.mockserver.faces.soap.wire import MoRef, Value

WAIT_POLL_SECONDS = 0.05

property_collector = managed_type("PropertyCollector", singleton=PROPERTY_COLLECTOR.value)
property_filter = managed_type("PropertyFilter")


# -- filter specs


@dataclass(frozen=True, slots=True)
class PropertySpec:
    type: str
    all: bool
    paths: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class FilterSpec:
    """A PropertyFilterSpec: the objects named (selectSet traversal is not followed) and what to read."""

    objects: tuple[tuple[MoRef, bool], ...]  # (object, skip)
    props: tuple[PropertySpec, ...]

    def targets(self) -> Iterator[MoRef]:
        for ref, skip in self.objects:
            if not skip:
                yield ref

    def paths_for(self, ref: MoRef) -> tuple[str, ...]:
        managed = type_of(ref)
        paths: list[str] = []
        for spec in self.props:
            if spec.type == ref.type or (managed is not None and managed.is_a(spec.type)):
                paths.extend(default_paths(ref) if spec.all else spec.paths)
        return tuple(dict.fromkeys(paths))

    def to_json(self) -> Any:
        return {
            "o": [[ref.type, ref.value, skip] for ref, skip in self.objects],
            "p": [[spec.type, spec.all, list(spec.paths)] for spec in self.props],
        }

    @classmethod
    def from_json(cls, data: Any) -> FilterSpec:
        return cls(
            objects=tuple((MoRef(str(t), str(v)), bool(skip)) for t, v, skip in data["o"]),
            props=tuple(
                PropertySpec(str(t), bool(a), tuple(str(p) for p in paths)) for t, a, paths in data["p"]
            ),
        )


def parse_filter_spec(element: etree._Element) -> FilterSpec:
    objects = []
    for object_spec in wire.children(element, "objectSet"):
        obj = object_spec.find(f"{{{wire.VIM25}}}obj")
        if obj is None:
            raise InvalidRequest("An ObjectSpec needs an <obj>")
        objects.append((wire.moref_of(obj), wire.child_bool(object_spec, "skip")))
    props = []
    for prop_spec in wire.children(element, "propSet"):
        mo_type = wire.child_text(prop_spec, "type")
        if not mo_type:
            raise InvalidRequest("A PropertySpec needs a <type>")
        paths = tuple((path.text or "").strip() for path in wire.children(prop_spec, "pathSet"))
        props.append(PropertySpec(mo_type, wire.child_bool(prop_spec, "all"), paths))
    return FilterSpec(tuple(objects), tuple(props))


def filter_specs(call: Call, name: str) -> list[FilterSpec]:
    """The call's FilterSpecs in argument *name*, parsed once per parsed call."""
    memo_key = f"specs:{name}"
    specs: list[FilterSpec] | None = call.soap.memo.get(memo_key)
    if specs is None:
        specs = [parse_filter_spec(spec) for spec in call.soap.args(name)]
        call.soap.memo[memo_key] = specs
    return specs


# -- reading


@dataclass(frozen=True, slots=True)
class ObjectContent:
    ref: MoRef
    values: list[tuple[str, Value | None]]

    def fill(self, element: etree._Element) -> None:
        wire.sub_moref(element, "obj", self.ref)
        for path, value in self.values:
            if value is not None:
                prop = wire.sub(element, "propSet")
                wire.sub(prop, "name", path)
                wire.sub_value(prop, "val", value)


def object_content(call: Call, spec: FilterSpec, ref: MoRef, *, poll: bool) -> ObjectContent:
    return ObjectContent(ref, read_properties(call, ref, spec.paths_for(ref), poll=poll))


@MANAGED_OBJECT.method("Fetch", typed=True, remembered=True)
def fetch(call: Call) -> Value | None:
    path = call.soap.text("prop")
    if not path:
        raise InvalidRequest("Fetch needs a <prop>")
    ((_path, value),) = read_properties(call, call.this, [path], poll=True)
    return value


@property_collector.method("RetrieveProperties", remembered=True)
def retrieve_properties(call: Call) -> list[Value]:
    specs = filter_specs(call, "specSet")
    contents = [object_content(call, spec, ref, poll=True) for spec in specs for ref in spec.targets()]
    return [Value("ObjectContent", content.fill) for content in contents]


@property_collector.method("RetrievePropertiesEx", remembered=True)
def retrieve_properties_ex(call: Call) -> Answer:
    specs = filter_specs(call, "specSet")
    options = call.soap.arg("options")
    max_objects = None if options is None else wire.child_int(options, "maxObjects")
    page = RetrievePage(specs, 0, max_objects if max_objects and max_objects > 0 else None)
    return page.result(call, first=True)


@property_collector.method("ContinueRetrievePropertiesEx")
def continue_retrieve_properties_ex(call: Call) -> Answer:
    page = RetrievePage.from_token(call.soap.text("token") or "", call.required_session())
    return page.result(call, first=False)


@dataclass(frozen=True, slots=True)
class RetrievePage:
    """One page of a RetrievePropertiesEx result; the token of the next page carries the query itself."""

    specs: Sequence[FilterSpec]
    offset: int
    size: int | None

    def result(self, call: Call, *, first: bool) -> Answer:
        targets = [(spec, ref) for spec in self.specs for ref in spec.targets()]
        end = len(targets) if self.size is None else min(len(targets), self.offset + self.size)
        contents = [object_content(call, spec, ref, poll=True) for spec, ref in targets[self.offset : end]]
        token = self.token(end, call.required_session()) if end < len(targets) else None
        if not contents and first:
            return None  # no objects: no RetrieveResult at all

        def fill(result: etree._Element) -> None:
            if token is not None:
                wire.sub(result, "token", token)
            for content in contents:
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


# -- property filters and WaitForUpdates


@property_collector.method("CreateFilter")
def create_filter(call: Call) -> Value:
    spec_element = call.soap.arg("spec")
    if spec_element is None:
        raise InvalidRequest("CreateFilter needs a <spec>")
    spec = parse_filter_spec(spec_element)
    for ref in spec.targets():
        load(call, ref, poll=False)  # ManagedObjectNotFound now rather than on every wait
        for path in spec.paths_for(ref):
            property_reader(ref, path)  # InvalidProperty now rather than on every wait
    partial = call.soap.text("partialUpdates") in ("true", "1")
    filter_id = call.backend.sessions.add_filter(call.required_session(), json.dumps(spec.to_json()), partial)
    return wire.moref_value(MoRef("PropertyFilter", filter_id))


@property_filter.method("DestroyPropertyFilter")
def destroy_property_filter(call: Call) -> None:
    if not call.backend.sessions.remove_filter(call.required_session(), call.this.value):
        raise ManagedObjectNotFound("PropertyFilter", call.this.value)


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


@dataclass(slots=True)
class ObjectChange:
    kind: str  # enter, modify, leave
    ref: MoRef
    changes: list[tuple[str, Value | None]] = field(default_factory=list)


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
                update = wire.sub(filter_update, "objectSet")
                wire.sub(update, "kind", change.kind)
                wire.sub_moref(update, "obj", change.ref)
                for path, value in change.changes:
                    prop = wire.sub(update, "changeSet")
                    wire.sub(prop, "name", path)
                    wire.sub(prop, "op", "assign")
                    if value is not None:
                        wire.sub_value(prop, "val", value)


Snapshot = dict[str, dict[str, dict[str, str]]]
"""filter id -> "Type:id" -> property path -> digest of the value last reported."""


def wait(call: Call, version: str | None, max_wait: float) -> Updates | None:
    """Block until something the session's filters watch differs from *version*, or *max_wait* passes.

    An empty *version* reports everything at once. A version is the snapshot of what was
    reported, packed: so any worker can compare against it.
    """
    session = call.required_session()
    seen: Snapshot = unpack_version(version, session) if version else {}
    deadline = time.monotonic() + max(0.0, max_wait)
    poll = True  # the first look of each call counts as a client poll, re-checks do not
    while True:
        snapshot, changed = look(call, session, seen, poll=poll)
        if changed or not version:
            return Updates(pack_version(snapshot, session), changed)
        if time.monotonic() >= deadline:
            return None
        time.sleep(WAIT_POLL_SECONDS)
        poll = False
        if call.backend.sessions.user(session) is None:
            raise RequestCanceled("The session ended while waiting for updates.")


def look(
    call: Call, session: str, seen: Snapshot, *, poll: bool
) -> tuple[Snapshot, list[tuple[str, list[ObjectChange]]]]:
    snapshot: Snapshot = {}
    changed: list[tuple[str, list[ObjectChange]]] = []
    for filter_id, text in call.backend.sessions.filters(session):
        spec = FilterSpec.from_json(json.loads(text))
        before = seen.get(filter_id, {})
        now: dict[str, dict[str, str]] = {}
        changes: list[ObjectChange] = []
        for ref in spec.targets():
            key = f"{ref.type}:{ref.value}"
            change = _object_change(call, spec, ref, before.get(key), now, key, poll=poll)
            if change is not None:
                changes.append(change)
        changes.extend(ObjectChange("leave", MoRef(*key.split(":", 1))) for key in before if key not in now)
        snapshot[filter_id] = now
        if changes:
            changed.append((filter_id, changes))
    return snapshot, changed


def _object_change(
    call: Call,
    spec: FilterSpec,
    ref: MoRef,
    before: dict[str, str] | None,
    now: dict[str, dict[str, str]],
    key: str,
    *,
    poll: bool,
) -> ObjectChange | None:
    try:
        values = read_properties(call, ref, spec.paths_for(ref), poll=poll)
    except ManagedObjectNotFound:
        return None  # gone: reported as "leave" when it was seen before
    digests = {path: _digest(value) for path, value in values}
    now[key] = digests
    if before is None:
        return ObjectChange("enter", ref, [(path, value) for path, value in values if value is not None])
    changed = [(path, value) for path, value in values if before.get(path) != digests[path]]
    return ObjectChange("modify", ref, changed) if changed else None


def _digest(value: Value | None) -> str:
    if value is None:
        return "-"
    element = etree.Element("v")
    value.fill(element)
    return hashlib.blake2b(etree.tostring(element), digest_size=6).hexdigest()


def pack_version(snapshot: Snapshot, session: str) -> str:
    return _pack({"s": _session_tag(session), "f": snapshot})


def unpack_version(version: str, session: str) -> Snapshot:
    try:
        data = _unpack(version)
        if data["s"] != _session_tag(session):
            raise ValueError("version of another session")
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
