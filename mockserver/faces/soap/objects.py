"""The SOAP face's managed objects: their types, properties and methods in one registry.

As in govmomi's simulator, each managed object type lives in a module of its own
(``session_manager.py``, ``task.py``...) that declares a :class:`ManagedType` and registers its
methods and properties on it; the dispatcher finds a method by the call's ``_this`` type and
name (walking up to the supertype: ``VirtualMachine`` -> ``ManagedEntity``). Handlers return
data (a :class:`~.wire.Value`, a list of them, or None) and one serializer renders the envelope.
"""

from __future__ import annotations

import hashlib
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, TypeAlias

from vismock.faults import InvalidProperty, ManagedObjectNotFound, NotAuthenticated, VimFault, fault_named
from vismock.mockserver.faces.common import FaceRequest, Observation
from vismock.mockserver.faces.soap import paths
from vismock.mockserver.faces.soap.wire import MoRef, SoapRequest, Value
from vismock.mockserver.state import Backend
from vismock.mockserver.state.sessions import SessionObject
from vismock.schemas import managed_lineage, managed_property_type

if TYPE_CHECKING:
    from vismock.mockserver.services import Services

Answer: TypeAlias = Value | Sequence[Value] | None
Handler = Callable[["Call"], Answer]
Loader = Callable[["Call", MoRef, bool], Any]
"""``load(call, ref, poll)``: what the object's properties are read from (raises
ManagedObjectNotFound when there is no such object); *poll* False for peeks that must not count."""
PropertyReader = Callable[["Call", MoRef, Any], "PropertyValue"]
"""``read(call, ref, loaded)``: a property's value from the loaded object, None when unset."""


@dataclass(slots=True)
class Call:
    """One SOAP call on its way through the face."""

    services: Services
    request: FaceRequest
    soap: SoapRequest
    observation: Observation
    session: str | None  # the session cookie, when it names a live session
    user: str | None
    headers: list[tuple[str, str]] = field(default_factory=list)  # extra reply headers (Set-Cookie)
    # Objects this call loaded, and whether as a client's poll: one read of each per call (a
    # RetrieveProperties checks then reads its starting objects). A wait clears it per look.
    loaded: dict[MoRef, tuple[Any, bool]] = field(default_factory=dict)

    @property
    def backend(self) -> Backend:
        return self.services.backend

    @property
    def this(self) -> MoRef:
        assert self.soap.this is not None  # the dispatcher checked it
        return self.soap.this

    def required_session(self) -> str:
        if self.session is None:
            raise NotAuthenticated()
        return self.session


@dataclass(frozen=True, slots=True)
class Method:
    handler: Handler
    typed: bool = False  # the result is xsd:anyType (Fetch): its returnval carries xsi:type
    authenticated: bool = True  # False: callable without a session (Login, RetrieveServiceContent)
    remembered: bool = False  # a read whose answer may be remembered while it holds


@dataclass
class ManagedType:
    name: str
    parent: ManagedType | None = None
    load: Loader | None = None  # None: only the singletons of the type exist (see SINGLETONS)
    properties: dict[str, PropertyReader] = field(default_factory=dict)
    defaults: list[str] = field(default_factory=list)  # what a PropertySpec with all=true reads
    public: set[str] = field(default_factory=set)  # readable without a session (currentSession)
    methods: dict[str, Method] = field(default_factory=dict)

    def property(
        self, path: str, *, default: bool = True, public: bool = False
    ) -> Callable[[PropertyReader], PropertyReader]:
        """Register a reader of property *path*; *default*: read by a PropertySpec with ``all``
        (as vCenter reads every property then; a path below a property never is); *public*:
        readable without a session, as vCenter lets anyone read ``currentSession``."""

        def register(reader: PropertyReader) -> PropertyReader:
            self.properties[path] = reader
            if default and "." not in path:
                self.defaults.append(path)
            if public:
                self.public.add(path)
            return reader

        return register

    def method(
        self, name: str, *, typed: bool = False, authenticated: bool = True, remembered: bool = False
    ) -> Callable[[Handler], Handler]:
        def register(handler: Handler) -> Handler:
            self.methods[name] = Method(handler, typed, authenticated, remembered)
            return handler

        return register

    def lineage(self) -> list[ManagedType]:
        """This type and its supertypes, nearest first."""
        types: list[ManagedType] = []
        current: ManagedType | None = self
        while current is not None:
            types.append(current)
            current = current.parent
        return types


# vim25's root type: what every managed object answers (Fetch reads a property of any object).
MANAGED_OBJECT = ManagedType("ManagedObject")
TYPES: dict[str, ManagedType] = {MANAGED_OBJECT.name: MANAGED_OBJECT}
SINGLETONS: set[MoRef] = set()


def managed_type(
    name: str,
    parent: ManagedType = MANAGED_OBJECT,
    *,
    load: Loader | None = None,
    singleton: str | None = None,
) -> ManagedType:
    """Declare managed object type *name* (and, for a singleton, its one object's id)."""
    managed = TYPES[name] = ManagedType(name, parent, load)
    if singleton is not None:
        SINGLETONS.add(MoRef(name, singleton))
    return managed


def type_of(ref: MoRef) -> ManagedType | None:
    return TYPES.get(ref.type)


def method_of(ref: MoRef | None, name: str) -> Method | None:
    """The method *name* of the object's type (or a supertype's; any object is a ManagedObject,
    even of a type vismock does not serve); None when it has none."""
    managed = (type_of(ref) if ref is not None else None) or MANAGED_OBJECT
    for candidate in managed.lineage():
        if name in candidate.methods:
            return candidate.methods[name]
    return None


def callable_without_session(name: str) -> bool:
    """Whether some type offers method *name* without a session (Login...): such a call on the
    wrong object is MethodNotFound, not NotAuthenticated."""
    return any(
        name in managed.methods and not managed.methods[name].authenticated for managed in TYPES.values()
    )


def is_a(type_name: str, ancestor: str) -> bool:
    """Whether managed object type *type_name* is *ancestor* or a subtype of it, by vim25's type
    model (a ClusterComputeResource is a ComputeResource, everything a ManagedObject)."""
    return ancestor in managed_lineage(type_name) or ancestor == MANAGED_OBJECT.name


@dataclass(frozen=True, slots=True)
class Missing:
    """A property vCenter has but could not read: it goes to ``missingSet`` with *fault*."""

    fault: VimFault


PropertyValue: TypeAlias = Value | Missing | None


def _registered(ref: MoRef, path: str) -> tuple[PropertyReader, bool] | None:
    managed = type_of(ref)
    for candidate in managed.lineage() if managed is not None else ():
        if path in candidate.properties:
            return candidate.properties[path], path in candidate.public
    return None


def property_reader(ref: MoRef, path: str) -> tuple[PropertyReader, bool]:
    """The reader of property *path* of *ref* and whether it may be read without a session.

    A path vismock serves has its reader; one below a served property is read from that
    property's value (:mod:`.paths`); a property vim25 defines that vismock does not serve reads
    as :class:`Missing`; anything else is InvalidProperty, as vCenter answers.
    """
    found = _registered(ref, path)
    if found is not None:
        return found
    root, _, rest = path.partition(".")
    served_root = _registered(ref, root) if rest else None
    vim25_type = managed_property_type(ref.type, root)
    if served_root is not None and vim25_type is not None:
        if paths.path_type(vim25_type, rest.split(".")) is None:
            raise InvalidProperty(path, f"{ref.type} has no property {path!r}")
        return _nested(served_root[0], rest.split(".")), served_root[1]
    if vim25_type is not None:
        return _not_served(path), False
    raise InvalidProperty(path, f"{ref.type} has no property {path!r}")


def _nested(reader: PropertyReader, segments: list[str]) -> PropertyReader:
    def read(call: Call, ref: MoRef, loaded: Any) -> PropertyValue:
        value = reader(call, ref, loaded)
        return paths.nested_value(value, segments) if isinstance(value, Value) else value

    return read


def _not_served(path: str) -> PropertyReader:
    def read(call: Call, ref: MoRef, loaded: Any) -> PropertyValue:
        return Missing(
            fault_named("NotImplemented", f"vismock does not serve property {path!r} of {ref.type}")
        )

    return read


def default_paths(ref: MoRef) -> list[str]:
    """What a PropertySpec with ``all`` reads of *ref*."""
    managed = type_of(ref)
    if managed is None:
        return []
    return list(
        dict.fromkeys(path for candidate in reversed(managed.lineage()) for path in candidate.defaults)
    )


def load(call: Call, ref: MoRef, *, poll: bool) -> Any:
    """What *ref*'s properties are read from; ManagedObjectNotFound when there is no such object."""
    managed = type_of(ref)
    if ref in SINGLETONS:
        return None
    loader = (
        next((candidate.load for candidate in managed.lineage() if candidate.load), None) if managed else None
    )
    if loader is None:
        raise ManagedObjectNotFound(ref.type, ref.value)
    # A call reads an object once: again only when a peek is followed by a poll, which counts.
    found = call.loaded.get(ref)
    if found is not None and (found[1] or not poll):
        return found[0]
    value = loader(call, ref, poll)
    call.loaded[ref] = (value, poll)
    return value


def read_properties(
    call: Call, ref: MoRef, paths: Sequence[str], *, poll: bool
) -> list[tuple[str, PropertyValue]]:
    """The values of *paths* of *ref* now: the object loaded once, however many paths. Without a
    session only the properties vCenter shows anyone (``currentSession``...) can be read."""
    readers = [(path, property_reader(ref, path)) for path in paths]
    if call.session is None and not all(public for _path, (_reader, public) in readers):
        raise NotAuthenticated()
    loaded = load(call, ref, poll=poll)
    return [(path, reader(call, ref, loaded)) for path, (reader, _public) in readers]


# -- objects a session owns (property collectors and filters, views, event collectors)


def session_object(call: Call, ref: MoRef, kind: str) -> SessionObject:
    """The calling session's object *ref* of *kind*; ManagedObjectNotFound for anyone else's.

    The answer is not remembered: what a session owns changes without a new state revision.
    """
    call.observation.not_remembered()
    found = call.backend.sessions.object(call.required_session(), ref.value)
    if found is None or found.kind != kind:
        raise ManagedObjectNotFound(ref.type, ref.value)
    return found


def new_session_ref(call: Call, mo_type: str) -> MoRef:
    """A reference for a new object of the calling session, vCenter style: ``session[...]<uuid>``
    (the session's tag, a hash: the key itself is a secret)."""
    return MoRef(mo_type, f"session[{session_tag(call.required_session())}]{uuid.uuid4()}")


def session_tag(session: str) -> str:
    return hashlib.blake2b(session.encode(), digest_size=6).hexdigest()
