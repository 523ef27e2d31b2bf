"""The SOAP face's managed objects: their types, properties and methods in one registry.

As in govmomi's simulator, each managed object type lives in a module of its own
(``session_manager.py``, ``task.py``...) that declares a :class:`ManagedType` and registers its
methods and properties on it; the dispatcher finds a method by the call's ``_this`` type and
name (walking up to the supertype: ``VirtualMachine`` -> ``ManagedEntity``). Handlers return
data (a :class:`~.wire.Value`, a list of them, or None) and one serializer renders the envelope.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, TypeAlias

from vismock.faults import InvalidProperty, ManagedObjectNotFound, NotAuthenticated
from vismock.mockserver.faces.common import FaceRequest, Observation
from vismock.mockserver.faces.soap.wire import MoRef, SoapRequest, Value
from vismock.mockserver.state import Backend

if TYPE_CHECKING:
    from vismock.mockserver.services import Services

Answer: TypeAlias = Value | Sequence[Value] | None
Handler = Callable[["Call"], Answer]
Loader = Callable[["Call", MoRef, bool], Any]
"""``load(call, ref, poll)``: what the object's properties are read from (raises
ManagedObjectNotFound when there is no such object); *poll* False for peeks that must not count."""
PropertyReader = Callable[["Call", MoRef, Any], Value | None]
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
    methods: dict[str, Method] = field(default_factory=dict)

    def property(self, path: str, *, default: bool = False) -> Callable[[PropertyReader], PropertyReader]:
        def register(reader: PropertyReader) -> PropertyReader:
            self.properties[path] = reader
            if default:
                self.defaults.append(path)
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

    def is_a(self, name: str) -> bool:
        return any(managed.name == name for managed in self.lineage())


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


def property_reader(ref: MoRef, path: str) -> PropertyReader:
    """The reader of property *path* of *ref*'s type; InvalidProperty when it has none."""
    managed = type_of(ref)
    for candidate in managed.lineage() if managed is not None else ():
        if path in candidate.properties:
            return candidate.properties[path]
    raise InvalidProperty(path)


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
    return loader(call, ref, poll)


def read_properties(
    call: Call, ref: MoRef, paths: Sequence[str], *, poll: bool
) -> list[tuple[str, Value | None]]:
    """The values of *paths* of *ref* now: the object loaded once, however many paths."""
    readers = [(path, property_reader(ref, path)) for path in paths]
    loaded = load(call, ref, poll=poll)
    return [(path, reader(call, ref, loaded)) for path, reader in readers]
