"""PropertyFilterSpecs: what a property collector reads, and which objects a spec reaches by its
``selectSet`` (TraversalSpecs followed from object to object, SelectionSpecs naming them).

This is how vim25 clients browse the inventory: govmomi's ``mo.Ancestors`` follows
``ManagedEntity.parent`` with a TraversalSpec that names itself, ``Lister`` follows
``Folder.childEntity`` and ``Datacenter.vmFolder``, ``find`` and ``govc tasks`` follow
``ContainerView.view`` and ``ListView.view``. Types match by vim25's model (a TraversalSpec of type
``ComputeResource`` applies to a cluster, a PropertySpec of type ``ManagedEntity`` to every entity).
A spec is kept as JSON (a filter outlives the request that created it, in the state).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from lxml import etree

from vismock.faults import InvalidArgument, InvalidRequest, ManagedObjectNotFound
from vismock.mockserver.faces.soap import wire
from vismock.mockserver.faces.soap.objects import (
    default_paths,
    is_a,
    load,
    property_reader,
    read_properties,
)
from vismock.mockserver.faces.soap.wire import XSI_TYPE, MoRef

if TYPE_CHECKING:
    from vismock.mockserver.faces.soap.objects import Call, PropertyValue

MAX_OBJECTS = 100_000  # a traversal that reaches more is refused rather than left to run away


@dataclass(frozen=True, slots=True)
class Selection:
    """A TraversalSpec (``type`` and ``path`` set), or a SelectionSpec naming one (only ``name``)."""

    name: str | None
    type: str | None = None
    path: str | None = None
    skip: bool = False
    select: tuple[Selection, ...] = ()

    def to_json(self) -> Any:
        return [self.name, self.type, self.path, self.skip, [s.to_json() for s in self.select]]

    @classmethod
    def from_json(cls, data: Any) -> Selection:
        name, mo_type, path, skip, select = data
        return cls(name, mo_type, path, bool(skip), tuple(cls.from_json(item) for item in select))


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

    def paths_for(self, ref: MoRef) -> tuple[str, ...] | None:
        """What to read of *ref*; None when no PropertySpec applies to its type (not reported)."""
        paths: list[str] | None = None
        for spec in self.props:
            if is_a(ref.type, spec.type):
                paths = paths or []
                paths.extend(default_paths(ref) if spec.all else spec.paths)
        return None if paths is None else tuple(dict.fromkeys(paths))

    def check(self, call: Call, *, reading: bool = False) -> None:
        """Faults now rather than on every read: every starting object exists, every path (to read
        or to follow) is one of its type, every SelectionSpec names a TraversalSpec.

        *reading*: the call reads the objects next (RetrieveProperties), so a starting object it
        reads is loaded as that read (a poll), once, rather than peeked at first."""
        for spec in self.objects:
            load(call, spec.obj, poll=reading and bool(self.paths_for(spec.obj)))
            named = spec.traversals()
            for selection in _selections(spec.select):
                if selection.type is None and selection.name not in named:
                    raise InvalidArgument(f"No TraversalSpec is named {selection.name!r}", "selectSet")
                if selection.type is not None:
                    property_reader(MoRef(selection.type, ""), str(selection.path))
        for prop in self.props:
            for path in prop.paths:
                property_reader(MoRef(prop.type, ""), path)

    def to_json(self) -> Any:
        return {
            "o": [[s.obj.type, s.obj.value, s.skip, [t.to_json() for t in s.select]] for s in self.objects],
            "p": [[spec.type, spec.all, list(spec.paths)] for spec in self.props],
        }

    @classmethod
    def from_json(cls, data: Any) -> FilterSpec:
        return cls(
            objects=tuple(
                ObjectSpec(MoRef(str(t), str(v)), bool(skip), tuple(Selection.from_json(s) for s in select))
                for t, v, skip, select in data["o"]
            ),
            props=tuple(
                PropertySpec(str(t), bool(a), tuple(str(p) for p in paths)) for t, a, paths in data["p"]
            ),
        )


def _selections(selections: tuple[Selection, ...]) -> Iterator[Selection]:
    for selection in selections:
        yield selection
        yield from _selections(selection.select)


# -- reading specs from the wire


def parse_filter_spec(element: etree._Element) -> FilterSpec:
    objects = tuple(_object_spec(spec) for spec in wire.children(element, "objectSet"))
    props = []
    for prop_spec in wire.children(element, "propSet"):
        mo_type = wire.child_text(prop_spec, "type")
        if not mo_type:
            raise InvalidRequest("A PropertySpec needs a <type>")
        paths = tuple((path.text or "").strip() for path in wire.children(prop_spec, "pathSet"))
        props.append(PropertySpec(mo_type.strip(), wire.child_bool(prop_spec, "all"), paths))
    return FilterSpec(objects, tuple(props))


def _object_spec(element: etree._Element) -> ObjectSpec:
    obj = element.find(f"{{{wire.VIM25}}}obj")
    if obj is None:
        raise InvalidRequest("An ObjectSpec needs an <obj>")
    select = tuple(_selection(item) for item in wire.children(element, "selectSet"))
    return ObjectSpec(wire.moref_of(obj), wire.child_bool(element, "skip"), select)


def _selection(element: etree._Element) -> Selection:
    """A selectSet entry: a TraversalSpec (by its xsi:type, or by having a type and a path)."""
    declared = (element.get(XSI_TYPE) or "").rsplit(":", 1)[-1]
    name = (wire.child_text(element, "name") or "").strip() or None
    mo_type, path = wire.child_text(element, "type"), wire.child_text(element, "path")
    if declared == "SelectionSpec" or (declared != "TraversalSpec" and mo_type is None and path is None):
        if name is None:
            raise InvalidRequest("A SelectionSpec needs a <name>")
        return Selection(name)
    if not (mo_type or "").strip() or not (path or "").strip():
        raise InvalidRequest("A TraversalSpec needs a <type> and a <path>")
    select = tuple(_selection(item) for item in wire.children(element, "selectSet"))
    return Selection(
        name, (mo_type or "").strip(), (path or "").strip(), wire.child_bool(element, "skip"), select
    )


def filter_specs(call: Call, name: str) -> list[FilterSpec]:
    """The call's FilterSpecs in argument *name*, parsed once per parsed call."""
    memo_key = f"specs:{name}"
    specs: list[FilterSpec] | None = call.soap.memo.get(memo_key)
    if specs is None:
        specs = [parse_filter_spec(spec) for spec in call.soap.args(name)]
        call.soap.memo[memo_key] = specs
    return specs


# -- following a spec


def reached(call: Call, spec: ObjectSpec) -> list[MoRef]:
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
                (child, traversal.skip, traversal.select) for child in _follow(call, ref, traversal)
            )
        pending.extend(reversed(children))  # depth first, in the order the specs and values give
    return list(found)


def _follow(call: Call, ref: MoRef, traversal: Selection) -> tuple[MoRef, ...]:
    """The references property ``traversal.path`` of *ref* holds (none when unreadable)."""
    try:
        ((_path, value),) = read_properties(call, ref, [str(traversal.path)], poll=False)
    except ManagedObjectNotFound:
        return ()  # gone meanwhile: nothing to follow
    refs = getattr(value, "refs", None)
    return tuple(refs) if refs else ()


def targets(call: Call, spec: FilterSpec) -> Iterator[tuple[MoRef, tuple[str, ...]]]:
    """Every object *spec* reaches that some PropertySpec applies to, with what to read of it."""
    seen: set[MoRef] = set()
    for object_spec in spec.objects:
        for ref in reached(call, object_spec):
            paths = spec.paths_for(ref)
            if paths is not None and ref not in seen:
                seen.add(ref)
                yield ref, paths


def read_target(
    call: Call, ref: MoRef, paths: tuple[str, ...], *, poll: bool
) -> list[tuple[str, PropertyValue]]:
    return read_properties(call, ref, paths, poll=poll)
