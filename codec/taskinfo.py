"""vim25 TaskInfo as the adapter schema defines it: the one model of its fields.

Everything that builds or reads a TaskInfo (the mock's task lifecycle, the adapter face, the SOAP
face's vim25 rendering, the vCenter client's conversion from pyVmomi) takes the fields, their
order, occurrence and types from here, and this module takes them from ``vim25-adapter.xsd``: a
field added to the XSD is carried everywhere without another edit.

A *slot* is one item of TaskInfo's sequence: an element (``state``) or a choice group
(``ManagedEntity``: one of ``VirtualMachine``, ``HostSystem``, ...; ``TaskReason``: one of
``TaskReasonUser``, ...). In the codec's dict a slot's value sits under the element's name.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import cache
from typing import Any

from vismock.codec.core import Codec
from vismock.codec.model import builtin_ancestors

TASK_INFO_TYPE = "TaskInfo"


@dataclass(frozen=True, slots=True)
class Slot:
    """One item of TaskInfo's sequence. What it is (its vim25 name, a reference, a group...) is
    worked out once, when the model is read: every task's TaskInfo asks it of every slot."""

    name: str  # the element's name, or the choice group's (ManagedEntity, TaskReason)
    elements: tuple[str, ...]  # the element names it may hold: one, or a choice's alternatives
    required: bool
    repeated: bool
    type_name: str  # the XSD type of its element(s), local name: "string", "TaskInfoState", ...
    builtin: str | None  # simple content: the nearest builtin type ("string", "boolean", "int", ...)
    enumeration: bool  # simple content restricted to an enumeration (a vim25 enum type)
    vim25_name: str = field(init=False, compare=False)
    """The field's name in vim25 (the property path under ``info.``)."""
    vim25_any: bool = field(init=False, compare=False)
    is_group: bool = field(init=False, compare=False)
    is_simple: bool = field(init=False, compare=False)
    is_reference: bool = field(init=False, compare=False)
    """Text naming a managed object: the adapter names such elements after the object's type
    (``<Task>task-1</Task>``, ``<VirtualMachine>vm-42</VirtualMachine>``)."""

    def __post_init__(self) -> None:
        simple = self.builtin is not None
        derived = {
            "vim25_name": VIM25_NAMES.get(self.name, self.name),
            "vim25_any": self.name in VIM25_ANY_TYPED,
            "is_group": self.elements != (self.name,),
            "is_simple": simple,
            "is_reference": simple and all(name[:1].isupper() for name in self.elements),
        }
        for name, value in derived.items():
            object.__setattr__(self, name, value)

    def value_in(self, info: Mapping[str, Any]) -> tuple[str, Any] | None:
        """The (element name, value) this slot holds in a TaskInfo dict, or None."""
        for name in self.elements:
            value = info.get(name)
            if value is not None or (name in info and not self.is_simple):
                return name, value
        return None


@dataclass(frozen=True, slots=True)
class TaskInfoModel:
    slots: tuple[Slot, ...]
    element_names: tuple[str, ...] = field(init=False, compare=False)
    _rank: dict[str, int] = field(init=False, compare=False, repr=False)  # element name -> its place

    def __post_init__(self) -> None:
        names = tuple(name for slot in self.slots for name in slot.elements)
        object.__setattr__(self, "element_names", names)
        object.__setattr__(self, "_rank", {name: index for index, name in enumerate(names)})

    def slot(self, name: str) -> Slot:
        """The slot named *name* (an element or a group name)."""
        for slot in self.slots:
            if slot.name == name:
                return slot
        raise KeyError(f"TaskInfo has no {name!r}")

    def by_vim25_name(self, vim25_name: str) -> Slot:
        """The slot whose vim25 property name is *vim25_name* (``task``, ``entity``, ``state``...)."""
        for slot in self.slots:
            if slot.vim25_name == vim25_name:
                return slot
        raise KeyError(f"TaskInfo has no vim25 field {vim25_name!r}")

    def ordered(self, info: Mapping[str, Any]) -> dict[str, Any]:
        """*info* with its keys in schema order (unknown keys last, as they were)."""
        rank, last = self._rank, len(self._rank)
        return dict(sorted(info.items(), key=lambda item: rank.get(item[0], last)))

    def plain_fields(self) -> tuple[Slot, ...]:
        """Optional, single, simple, non-reference elements: values a task carries as they are."""
        return tuple(
            slot
            for slot in self.slots
            if slot.is_simple and not slot.is_group and not slot.is_reference
            and not slot.required and not slot.repeated
        )  # fmt: skip


@cache
def task_info_model(codec: Codec | None = None) -> TaskInfoModel:
    """The TaskInfo model of *codec*'s schemas (the shipped ones by default)."""
    if codec is None:
        from vismock.codec import default_codec

        codec = default_codec()
    xsd_type: Any = codec.schema().types[TASK_INFO_TYPE]
    return TaskInfoModel(tuple(_slot(item) for item in xsd_type.content))


def _slot(item: Any) -> Slot:
    if hasattr(item, "iter_elements") and not hasattr(item, "type"):  # a choice group
        elements = tuple(element.local_name for element in item.iter_elements())
        types = {element.type for element in item.iter_elements()}
        xsd_type = next(iter(types)) if len(types) == 1 else None
        name = item.local_name
    else:
        elements, xsd_type, name = (item.local_name,), item.type, item.local_name
    simple = xsd_type is not None and xsd_type.is_simple()
    builtins = builtin_ancestors(xsd_type) if simple else []
    return Slot(
        name=name,
        elements=elements,
        required=item.min_occurs > 0,
        repeated=item.max_occurs is None or item.max_occurs > 1,
        type_name=(xsd_type.local_name or "") if xsd_type is not None and xsd_type.name else "",
        builtin=builtins[0] if builtins else None,
        enumeration=simple and bool(getattr(xsd_type, "enumeration", None)),
    )


ENTITY_GROUP = "ManagedEntity"  # the schema's group of managed entity types a TaskInfo names


def entity_of(info: Mapping[str, Any]) -> tuple[str, str] | None:
    """The (type, id) of the managed entity a TaskInfo dict names, or None."""
    found = task_info_model().slot(ENTITY_GROUP).value_in(info)
    return None if found is None else (found[0], str(found[1]))


REASON_GROUP = "TaskReason"  # the schema's group of TaskReason types
# Where vim25 names a field otherwise than the adapter's element (its property name in vim25).
VIM25_NAMES = {"Task": "task", ENTITY_GROUP: "entity", REASON_GROUP: "reason"}
# vim25 declares these fields xsd:anyType: their values carry an xsi:type on the wire.
VIM25_ANY_TYPED = frozenset({"result"})
