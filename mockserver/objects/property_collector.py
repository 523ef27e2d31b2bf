"""PropertyCollector and PropertyFilter: RetrieveProperties(Ex) with paging, collectors of a
session's own (CreatePropertyCollector: govmomi's task waiter makes one per wait), property
filters, WaitForUpdates(Ex) with real versions, CheckForUpdates and CancelWaitForUpdates.

Every session has the service's collector (``propertyCollector``) and may create more; filters
belong to a collector, collectors and filters to the session that made them (objects of the state
whose ``_session`` names it: they go with it). A version carries the digests of what it reported,
so nothing per version is kept: the next wait compares against the version it is given.

A wait blocks on the state's one condition: every change of the state wakes it (and the clock's
next event), and it looks again, without polling.
"""

from __future__ import annotations

import base64
import hashlib
import json
import threading
import time
import uuid
import zlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from vismock.faults import (
    InvalidArgument,
    InvalidCollectorVersion,
    ManagedObjectNotFound,
    RequestCanceled,
    fault_named,
)
from vismock.mockserver.objects.base import Context, read_properties, vim_method
from vismock.mockserver.objects.traversal import FilterSpec, targets
from vismock.mockserver.state import stored
from vismock.mockserver.state.registry import ManagedObject, Registry
from vismock.mockserver.vim25.values import Data, MoRef

if TYPE_CHECKING:
    from vismock.mockserver.state import Backend
    from vismock.mockserver.state.sessions import Session

SERVICE_COLLECTOR = MoRef("PropertyCollector", "propertyCollector")
# Objects a RetrievePropertiesEx answers at most when maxObjects asks for more or for no limit: its
# "PropertyCollector policy may still limit the number of objects" (vCenter pages by 100 too); the
# rest follows with ContinueRetrievePropertiesEx.
PAGE_LIMIT = 100
# Starting objects (objectSet entries) one call may name: the ceiling of one request's work while it
# holds the state's lock (about 30 us each), answered with vim25's LimitExceeded beyond it. A client
# with more reaches them through a view (a ContainerView or a ListView: one starting object).
MAX_START_OBJECTS = 2000


def session_ref(ctx: Context, vim_type: str) -> str:
    """An id for a new object of the calling session, vCenter style: ``session[...]<uuid>`` (the
    session's public tag: the key itself is a secret)."""
    return f"session[{ctx.required_session().key_hash[:12]}]{uuid.uuid4()}"


def owned_by(obj: ManagedObject, session: Session | None) -> bool:
    return session is not None and obj.get("_session") == session.id


class PropertyCollector(ManagedObject):
    """The service's collector (``propertyCollector``) or one a session made (``_session``)."""

    vim_type = "PropertyCollector"

    @classmethod
    def service(cls) -> PropertyCollector:
        return cls(SERVICE_COLLECTOR.value)

    def survives_reset(self) -> bool:
        return self.get("_session") is None  # the service's own; a session's goes with it

    def _check_caller(self, ctx: Context) -> None:
        """Another session's collector is not there for the caller (ManagedObjectNotFound)."""
        if self.get("_session") is not None and not owned_by(self, ctx.session):
            raise ManagedObjectNotFound(self.vim_type, self.id)

    def filters(self, session: Session | None) -> list[PropertyFilter]:
        """The collector's filters that *session* made: the service's collector is every
        session's, but what one session filters is its own (as its collectors are)."""
        return [
            f
            for f in self.state.all(PropertyFilter)
            if f.get("_collector") == self.id and owned_by(f, session)
        ]

    def client_read(self, *, poll: bool, session: Any = None) -> Mapping[str, Any]:
        """``filter``: the reader's own filters."""
        return {"filter": tuple(f.ref for f in self.filters(session))}

    # -- reading

    @vim_method("RetrieveProperties", authenticated=False)
    def retrieve_properties(self, ctx: Context, specSet: tuple[Data, ...]) -> tuple[Data, ...]:
        if ctx.session is not None:
            self._check_caller(ctx)
        found = targets_of(ctx.backend, [FilterSpec.of(spec) for spec in specSet])
        return tuple(read_targets(ctx, found))

    @vim_method("RetrievePropertiesEx", authenticated=False)
    def retrieve_properties_ex(
        self,
        ctx: Context,
        specSet: tuple[Data, ...],
        options: Data | None = None,
    ) -> Data | None:
        if ctx.session is not None:
            self._check_caller(ctx)
        wanted = options.maxObjects if options is not None else None
        size = min(wanted, PAGE_LIMIT) if wanted and wanted > 0 else PAGE_LIMIT
        return RetrievePage(specSet, 0, size).result(ctx, first=True)

    @vim_method("ContinueRetrievePropertiesEx")
    def continue_retrieve_properties_ex(self, ctx: Context, token: str) -> Data | None:
        return RetrievePage.from_token(token, ctx.required_session()).result(ctx, first=False)

    @vim_method("CancelRetrievePropertiesEx")
    def cancel_retrieve_properties_ex(self, ctx: Context, token: str) -> None:
        RetrievePage.from_token(token, ctx.required_session())  # a valid token; nothing is kept for it

    # -- collectors of a session's own

    @vim_method("CreatePropertyCollector")
    def create_property_collector(self, ctx: Context) -> MoRef:
        self._check_caller(ctx)
        session = ctx.required_session()
        ctx.backend.sessions.check_room(session)
        made = PropertyCollector(session_ref(ctx, self.vim_type), {"_session": session.id})
        ctx.registry.add(made)
        return made.ref

    @vim_method("DestroyPropertyCollector")
    def destroy_property_collector(self, ctx: Context) -> None:
        """Destroys a collector the session created, its filters with it (pending waits end with
        RequestCanceled); the service's own collector cannot be destroyed."""
        if self.get("_session") is None:
            raise InvalidArgument("The service's property collector cannot be destroyed", "_this")
        self._check_caller(ctx)
        for owned in self.filters(ctx.session):
            ctx.registry.remove(owned)
        ctx.registry.remove(self)

    # -- filters

    @vim_method("CreateFilter")
    def create_filter(self, ctx: Context, spec: Data, partialUpdates: bool) -> MoRef:
        self._check_caller(ctx)
        session = ctx.required_session()
        FilterSpec.of(spec).check(
            ctx.backend
        )  # ManagedObjectNotFound, InvalidProperty now, not on every wait
        ctx.backend.sessions.check_room(session)
        props = {
            "spec": spec,
            "partialUpdates": partialUpdates,
            "_collector": self.id,
            "_session": session.id,
        }
        made = PropertyFilter(session_ref(ctx, "PropertyFilter"), props)
        ctx.registry.add(made)
        return made.ref

    # -- waiting for updates

    @vim_method("WaitForUpdates", blocking=True)
    def wait_for_updates(self, ctx: Context, version: str | None = None) -> Data:
        update = self._wait(ctx, version, ctx.backend.settings_max_wait)
        return update or Data("UpdateSet", version=version or "")

    @vim_method("WaitForUpdatesEx", blocking=True)
    def wait_for_updates_ex(
        self, ctx: Context, version: str | None = None, options: Data | None = None
    ) -> Data | None:
        cap = ctx.backend.settings_max_wait
        wanted = options.maxWaitSeconds if options is not None else None
        return self._wait(ctx, version, cap if wanted is None else min(float(wanted), cap))

    @vim_method("CheckForUpdates", blocking=True)
    def check_for_updates(self, ctx: Context, version: str | None = None) -> Data | None:
        return self._wait(ctx, version, 0.0)

    @vim_method("CancelWaitForUpdates")
    def cancel_wait_for_updates(self, ctx: Context) -> None:
        """Ends the session's pending waits on the collector with RequestCanceled (none pending:
        nothing happens)."""
        self._check_caller(ctx)
        self._waits().cancel(ctx.required_session().id)
        ctx.registry.notify()

    def _waits(self) -> Waits:
        waits: Waits | None = getattr(self, "_pending", None)
        if waits is None:
            waits = Waits()
            object.__setattr__(self, "_pending", waits)  # the waiting threads' own: not state
        return waits

    def _wait(self, ctx: Context, version: str | None, max_wait: float) -> Data | None:
        """Block until something the collector's filters watch differs from *version*, or
        *max_wait* passes, or CancelWaitForUpdates, the collector's end or the session's end
        cancels the wait. An empty *version* reports everything at once."""
        registry = ctx.registry
        registry.note_volatile()  # a wait's answer depends on when it was asked
        with registry.transaction():
            self._check_caller(ctx)
            session = ctx.required_session()
            seen = unpack_version(version, session, self.id) if version else {}
            # The first look of each call counts as a client poll (tasks progressing by polls).
            snapshot, changed = self._look(ctx, seen, poll=True)
            revision = registry.revision
        if changed or not version:
            return update_set(pack_version(snapshot, session, self.id), changed)
        deadline = time.monotonic() + max(0.0, max_wait)
        waits = self._waits()
        wait_id = waits.start(session.id)
        try:
            while (left := deadline - time.monotonic()) > 0:
                revision = registry.wait(revision, left)
                with registry.transaction():
                    self._still_waiting(ctx, waits, wait_id)
                    snapshot, changed = self._look(ctx, seen, poll=False)
                    revision = registry.revision
                if changed:
                    return update_set(pack_version(snapshot, session, self.id), changed)
        finally:
            waits.end(session.id, wait_id)
        return None

    def _still_waiting(self, ctx: Context, waits: Waits, wait_id: str) -> None:
        session = ctx.required_session()
        gone = ctx.registry.find(self.id) is not self or ctx.registry.find(session.id) is None
        if waits.canceled(wait_id) or gone:
            raise RequestCanceled("The wait for updates was canceled.")

    def _look(
        self, ctx: Context, seen: Snapshot, *, poll: bool
    ) -> tuple[Snapshot, list[tuple[MoRef, list[Data]]]]:
        snapshot: Snapshot = {}
        changed: list[tuple[MoRef, list[Data]]] = []
        for property_filter in self.filters(ctx.session):
            spec = FilterSpec.of(property_filter.get("spec"))
            before = seen.get(property_filter.id, {})
            now: dict[str, dict[str, str]] = {}
            changes: list[Data] = []
            for ref, paths in _reachable(ctx.backend, spec):
                key = f"{ref.type}:{ref.value}"
                change = _object_change(ctx, ref, paths, before.get(key), now, key, poll=poll)
                if change is not None:
                    changes.append(change)
            for key in before:
                if key not in now:
                    changes.append(Data("ObjectUpdate", kind="leave", obj=MoRef(*key.split(":", 1))))
            snapshot[property_filter.id] = now
            if changes:
                changed.append((property_filter.ref, changes))
        return snapshot, changed


class Waits:
    """A collector's pending waits by session, and those CancelWaitForUpdates ended: the waiting
    threads' own bookkeeping (a wait is not state: it ends with the request that made it)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._pending: dict[str, set[str]] = {}
        self._canceled: set[str] = set()

    def start(self, session_id: str) -> str:
        wait_id = uuid.uuid4().hex
        with self._lock:
            self._pending.setdefault(session_id, set()).add(wait_id)
        return wait_id

    def end(self, session_id: str, wait_id: str) -> None:
        with self._lock:
            self._pending.get(session_id, set()).discard(wait_id)
            self._canceled.discard(wait_id)

    def cancel(self, session_id: str) -> None:
        with self._lock:
            self._canceled.update(self._pending.get(session_id, ()))

    def canceled(self, wait_id: str) -> bool:
        with self._lock:
            return wait_id in self._canceled

    def pending(self) -> set[str]:
        with self._lock:
            return {wait_id for waits in self._pending.values() for wait_id in waits}


def pending_waits(registry: Registry) -> set[str]:
    """Every WaitForUpdates(Ex) blocked now on a collector of *registry* (their ids)."""
    return {
        wait_id for collector in registry.all(PropertyCollector) for wait_id in collector._waits().pending()
    }


class PropertyFilter(ManagedObject):
    """``spec`` (the PropertyFilterSpec), ``partialUpdates``; ``_collector``, ``_session``."""

    vim_type = "PropertyFilter"

    @vim_method("DestroyPropertyFilter")
    def destroy_property_filter(self, ctx: Context) -> None:
        if not owned_by(self, ctx.session):
            raise ManagedObjectNotFound(self.vim_type, self.id)
        ctx.registry.remove(self)


# -- reading objects

Target = tuple[FilterSpec, MoRef, tuple[str, ...]]


def targets_of(backend: Backend, specs: Sequence[FilterSpec]) -> list[Target]:
    """Every object *specs* reach that a PropertySpec applies to, with what to read of it (a
    starting object that does not exist is ManagedObjectNotFound, a bad path InvalidProperty,
    more starting objects than :data:`MAX_START_OBJECTS` LimitExceeded)."""
    check_size(specs)
    for spec in specs:
        spec.check(backend)
    return [(spec, ref, paths) for spec in specs for ref, paths in targets(backend, spec)]


def check_size(specs: Sequence[FilterSpec]) -> None:
    named = sum(len(spec.objects) for spec in specs)
    if named > MAX_START_OBJECTS:
        raise fault_named(
            "LimitExceeded",
            f"The call names {named} objects; vismock reads at most {MAX_START_OBJECTS} a call"
            " (name a ContainerView or a ListView of them instead)",
            (("limit", str(MAX_START_OBJECTS)), ("property", "specSet.objectSet")),
        )


def read_targets(ctx: Context, found: Sequence[Target]) -> list[Data]:
    """What the targets hold now (ObjectContents); an object reached on the way and gone
    meanwhile is left out."""
    read: list[Data] = []
    for spec, ref, paths in found:
        try:
            values = read_properties(ctx.backend.lookup(ref), paths, ctx.session, poll=True)
        except ManagedObjectNotFound:
            if any(ref == start.obj for start in spec.objects):
                raise
            continue
        props = tuple(
            Data("DynamicProperty", name=path, val=value) for path, value in values if value is not None
        )
        read.append(Data("ObjectContent", obj=ref, propSet=props))
    return read


@dataclass(frozen=True, slots=True)
class RetrievePage:
    """One page of a RetrievePropertiesEx result; the token of the next page carries the query
    itself (nothing is kept for it), tied to the session."""

    specs: tuple[Data, ...]
    offset: int
    size: int

    def result(self, ctx: Context, *, first: bool) -> Data | None:
        # Only the page is read: finding what the specs reach is cheap, reading values is not.
        found = targets_of(ctx.backend, [FilterSpec.of(spec) for spec in self.specs])
        end = min(len(found), self.offset + self.size)
        page = read_targets(ctx, found[self.offset : end])
        token = None
        if end < len(found):
            token = RetrievePage(self.specs, end, self.size).token(ctx.required_session())
        if not page and first:
            return None  # no objects: no RetrieveResult at all
        return Data("RetrieveResult", token=token, objects=tuple(page))

    def token(self, session: Session) -> str:
        return _pack(
            {"s": session.key_hash[:12], "o": self.offset, "n": self.size, "q": stored.encode(self.specs)}
        )

    @classmethod
    def from_token(cls, token: str, session: Session) -> RetrievePage:
        try:
            data = _unpack(token)
            if data["s"] != session.key_hash[:12]:
                raise ValueError("token of another session")
            return cls(tuple(stored.decode(data["q"])), int(data["o"]), int(data["n"]))
        except (ValueError, KeyError, TypeError):
            raise InvalidArgument("The token is not valid for this session", "token") from None


# -- updates

Snapshot = dict[str, dict[str, dict[str, str]]]
"""filter id -> "Type:id" -> property path -> digest of the value last reported."""


def update_set(version: str, changed: list[tuple[MoRef, list[Data]]]) -> Data:
    filters = tuple(
        Data("PropertyFilterUpdate", filter=ref, objectSet=tuple(changes)) for ref, changes in changed
    )
    return Data("UpdateSet", version=version, filterSet=filters)


def _reachable(backend: Backend, spec: FilterSpec) -> list[tuple[MoRef, tuple[str, ...]]]:
    try:
        return list(targets(backend, spec))
    except ManagedObjectNotFound:
        return []  # a view or collector the filter starts from is gone: nothing reachable now


def _object_change(
    ctx: Context,
    ref: MoRef,
    paths: tuple[str, ...],
    before: Mapping[str, str] | None,
    now: dict[str, dict[str, str]],
    key: str,
    *,
    poll: bool,
) -> Data | None:
    try:
        values = read_properties(ctx.backend.lookup(ref), paths, ctx.session, poll=poll)
    except ManagedObjectNotFound:
        return None  # gone: reported as "leave" when it was seen before
    digests = {path: _digest(value) for path, value in values}
    now[key] = digests
    if before is None:
        changes = [(path, value) for path, value in values if value is not None]
        kind = "enter"
    else:
        changes = [(path, value) for path, value in values if before.get(path) != digests[path]]
        kind = "modify"
    if kind == "modify" and not changes:
        return None
    change_set = tuple(Data("PropertyChange", name=path, op="assign", val=value) for path, value in changes)
    return Data("ObjectUpdate", kind=kind, obj=ref, changeSet=change_set)


def _digest(value: Any) -> str:
    if value is None:
        return "-"
    return hashlib.blake2b(repr(value).encode(), digest_size=6).hexdigest()


def pack_version(snapshot: Snapshot, session: Session, collector: str) -> str:
    return _pack({"s": session.key_hash[:12], "c": collector, "f": snapshot})


def unpack_version(version: str, session: Session, collector: str) -> Snapshot:
    try:
        data = _unpack(version)
        if data["s"] != session.key_hash[:12] or data.get("c") != collector:
            raise ValueError("version of another session or collector")
        snapshot: Snapshot = data["f"]
        return snapshot
    except (ValueError, KeyError, TypeError):
        raise InvalidCollectorVersion() from None


def _pack(data: Any) -> str:
    raw = zlib.compress(json.dumps(data, separators=(",", ":")).encode(), 6)
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def _unpack(text: str) -> Any:
    padded = text + "=" * (-len(text) % 4)
    try:
        return json.loads(zlib.decompress(base64.urlsafe_b64decode(padded.encode()), bufsize=1 << 16))
    except (zlib.error, json.JSONDecodeError, UnicodeDecodeError, ValueError) as exc:
        raise ValueError(str(exc)) from None
