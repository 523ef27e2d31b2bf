"""PropertyFilterSpecs: what a property collector reads, and which objects a spec reaches by its
``selectSet`` (TraversalSpecs followed from object to object, SelectionSpecs naming them).

This is how vim25 clients browse the inventory: govmomi's ``mo.Ancestors`` follows
``ManagedEntity.parent`` with a TraversalSpec that names itself, ``Lister`` follows
``Folder.childEntity`` and ``Datacenter.vmFolder``, ``find`` and ``govc tasks`` follow
``ContainerView.view`` and ``ListView.view``. Types match by vim25's model (a TraversalSpec of type
``ComputeResource`` applies to a cluster, a PropertySpec of type ``ManagedEntity`` to every entity).
A spec arrives as the vim25 data objects the call's arguments were parsed into.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from vismock.faults import InvalidArgument, ManagedObjectNotFound
from vismock.mockserver.objects.base import default_paths, property_type
from vismock.mockserver.state.registry import is_a
from vismock.mockserver.vim25.values import Data, MoRef

if TYPE_CHECKING:
    from vismock.mockserver.state import Backend

MAX_OBJECTS = 100_000  # a traversal that reaches more is refused rather than left to run away


@dataclass(frozen=True, slots=True)
class Selection:
    """A TraversalSpec (``type`` and ``path`` set), or a SelectionSpec naming one (only ``name``)."""

    name: str | None
    type: str | None = None
    path: str | None = None
    skip: bool = False
    select: tuple[Selection, ...] = ()

    @classmethod
    def of(cls, data: Data) -> Selection:
        if data.type != "TraversalSpec":
            if not data.name:
                raise InvalidArgument("A SelectionSpec needs a name", "selectSet")
            return cls(data.name)
        select = tuple(cls.of(item) for item in data.selectSet or ())
        return cls(data.name or None, data["type"], data.path, bool(data.skip), select)


@dataclass(frozen=True, slots=True)
class ObjectSpec:
    obj: MoRef
    skip: bool = False
    select: tuple[Selection, ...] = ()

    def traversals(self) -> dict[str, Selection]:
        """The named TraversalSpecs anywhere below this ObjectSpec (what SelectionSpecs refer to)."""
        named: dict[str, Selection] = {}

        def walk(selections: tuple[Selection, ...]) -> None:
            for selection in selections:
                if selection.type is not None and selection.name and selection.name not in named:
                    named[selection.name] = selection
                    walk(selection.select)
                elif selection.type is not None:
                    walk(selection.select)

        walk(self.select)
        return named


@dataclass(frozen=True, slots=True)
class PropertySpec:
    type: str
    all: bool
    paths: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class FilterSpec:
    """A PropertyFilterSpec: where to start, how to go on, and what to read of what is reached."""

    objects: tuple[ObjectSpec, ...]
    props: tuple[PropertySpec, ...]

    @classmethod
    def of(cls, data: Data) -> FilterSpec:
        objects = tuple(
            ObjectSpec(item.obj, bool(item.skip), tuple(Selection.of(s) for s in item.selectSet or ()))
            for item in data.objectSet or ()
        )
        props = tuple(
            PropertySpec(item["type"], bool(item.all), tuple(item.pathSet or ()))
            for item in data.propSet or ()
        )
        return cls(objects, props)

    def paths_for(self, ref: MoRef) -> tuple[str, ...] | None:
        """What to read of *ref*; None when no PropertySpec applies to its type (not reported)."""
        paths: list[str] | None = None
        for spec in self.props:
            if is_a(ref.type, spec.type):
                paths = paths or []
                paths.extend(default_paths(ref.type) if spec.all else spec.paths)
        return None if paths is None else tuple(dict.fromkeys(paths))

    def check(self, backend: Backend) -> None:
        """Faults now rather than on every read: every starting object exists, every path (to read
        or to follow) is one of its type, every SelectionSpec names a TraversalSpec."""
        for spec in self.objects:
            backend.lookup(spec.obj)
            named = spec.traversals()
            for selection in _selections(spec.select):
                if selection.type is None and selection.name not in named:
                    raise InvalidArgument(f"No TraversalSpec is named {selection.name!r}", "selectSet")
                if selection.type is not None:
                    property_type(selection.type, str(selection.path))
        for prop in self.props:
            for path in prop.paths:
                property_type(prop.type, path)


def _selections(selections: tuple[Selection, ...]) -> Iterator[Selection]:
    for selection in selections:
        yield selection
        yield from _selections(selection.select)


# -- following a spec


def reached(backend: Backend, spec: ObjectSpec) -> list[MoRef]:
    """The objects *spec* selects, in the order reached, each once: its starting object unless
    skipped, and whatever its TraversalSpecs lead to (unless they skip it)."""
    named = spec.traversals()
    found: dict[MoRef, None] = {}
    followed: set[tuple[MoRef, int]] = set()
    pending: list[tuple[MoRef, bool, tuple[Selection, ...]]] = [(spec.obj, spec.skip, spec.select)]
    while pending:
        ref, skip, select = pending.pop()
        if not skip:
            found.setdefault(ref)
            if len(found) > MAX_OBJECTS:
                raise InvalidArgument(f"The spec reaches more than {MAX_OBJECTS} objects", "selectSet")
        children: list[tuple[MoRef, bool, tuple[Selection, ...]]] = []
        for selection in select:
            traversal = selection if selection.type is not None else named.get(selection.name or "")
            if traversal is None or traversal.type is None or not is_a(ref.type, traversal.type):
                continue
            if (ref, id(traversal)) in followed:
                continue  # a cycle (or the same way twice): once is enough
            followed.add((ref, id(traversal)))
            children.extend(
                (child, traversal.skip, traversal.select)
                for child in _follow(backend, ref, str(traversal.path))
            )
        pending.extend(reversed(children))  # depth first, in the order the specs and values give
    return list(found)


def _follow(backend: Backend, ref: MoRef, path: str) -> tuple[MoRef, ...]:
    """The references property *path* of *ref* holds (none when it is gone)."""
    try:
        value: Any = backend.lookup(ref).read(path)
    except ManagedObjectNotFound:
        return ()
    if isinstance(value, MoRef):
        return (value,)
    if isinstance(value, tuple):
        return tuple(item for item in value if isinstance(item, MoRef))
    return ()


def targets(backend: Backend, spec: FilterSpec) -> Iterator[tuple[MoRef, tuple[str, ...]]]:
    """Every object *spec* reaches that some PropertySpec applies to, with what to read of it."""
    seen: set[MoRef] = set()
    for object_spec in spec.objects:
        for ref in reached(backend, object_spec):
            paths = spec.paths_for(ref)
            if paths is not None and ref not in seen:
                seen.add(ref)
                yield ref, paths
