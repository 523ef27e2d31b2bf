"""The vim25 type model: every data type, enum and managed type of vim25, as the wire names them.

Loaded from ``schemas/vim25/model.json`` (written by ``scripts/vim25_model.py`` from pyVmomi's
type information). Loading parses the JSON only; a type's objects are built the first time it is
asked for, so that the ~4,000 types cost nothing until used.
"""

from __future__ import annotations

import difflib
import json
import threading
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from functools import cache
from typing import Any, Literal, TypeVar, cast

from vismock.schemas import schema_directory

Kind = Literal["primitive", "enum", "data", "managed"]
T = TypeVar("T")

PRIMITIVES = frozenset(
    {
        "string",
        "boolean",
        "byte",
        "short",
        "int",
        "long",
        "float",
        "double",
        "dateTime",
        "base64Binary",
        "anyURI",
        "anyType",
    }
)
# What a managed object reference is called where its type does not matter: the wire's name of the
# root managed type, ManagedObject.
MANAGED_OBJECT = "ManagedObject"
MOREF = "ManagedObjectReference"
METHOD_FAULT = "MethodFault"
TASK = "Task"


@dataclass(frozen=True, slots=True)
class Field:
    """A data type's field, a managed type's property, a method's parameter or its return."""

    name: str
    type: str  # the wire name of its type: "string", "VirtualMachineConfigInfo", "VirtualMachine"
    array: bool
    optional: bool
    version: str = ""  # the first vim25 API version with it ("4.0"); "" where the model does not say
    secret: bool = False  # a password or key: never logged

    @property
    def declared(self) -> str:
        """Its type as ``managed_property_type`` spells it: ``HostSystem[]`` for an array."""
        return f"{self.type}[]" if self.array else self.type


@dataclass(frozen=True, slots=True)
class DataType:
    name: str
    base: str | None
    own_fields: tuple[Field, ...]


@dataclass(frozen=True, slots=True)
class EnumType:
    name: str
    values: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class Method:
    """A vim25 method: its wire name, the managed type declaring it, and its signature."""

    name: str  # the wire name: "CreateSnapshot_Task"
    declared_by: str
    params: tuple[Field, ...]
    returns: Field | None  # named "returnval"; None for a void method
    task_result: Field | None  # a Task's TaskInfo.result when it succeeds (named "result"); None if none
    faults: tuple[str, ...]
    description_id: str  # "VirtualMachine.createSnapshot": what vCenter names its tasks' descriptionId

    def param(self, name: str) -> Field | None:
        return next((param for param in self.params if param.name == name), None)


@dataclass(frozen=True, slots=True)
class ManagedType:
    name: str
    base: str | None
    own_properties: tuple[Field, ...]
    methods: dict[str, Method]


class Model:
    """The loaded model. Lookups of an unknown name raise KeyError naming the closest known ones."""

    def __init__(self, raw: dict[str, Any]) -> None:
        self._data: dict[str, Any] = raw["data"]
        self._enums: dict[str, Any] = raw["enums"]
        self._managed: dict[str, Any] = raw["managed"]
        self._lock = threading.Lock()
        self._built: dict[tuple[str, str], Any] = {}
        self._children: dict[str, list[str]] | None = None

    # -- kinds and names -------------------------------------------------------------------------------------

    def __contains__(self, name: object) -> bool:
        return isinstance(name, str) and self.kind_or_none(name) is not None

    def kind(self, name: str) -> Kind:
        """What vim25 type *name* is; KeyError for a name vim25 does not define."""
        found = self.kind_or_none(name)
        if found is None:
            raise self._unknown(name, "type", [*self._data, *self._enums, *self._managed])
        return found

    def kind_or_none(self, name: str) -> Kind | None:
        if name in self._data:
            return "data"
        if name in self._managed or name == MOREF:
            return "managed"
        if name in self._enums:
            return "enum"
        if name in PRIMITIVES:
            return "primitive"
        return None

    def data_type_names(self) -> Iterable[str]:
        return self._data.keys()

    def enum_names(self) -> Iterable[str]:
        return self._enums.keys()

    def managed_type_names(self) -> Iterable[str]:
        return self._managed.keys()

    # -- types -----------------------------------------------------------------------------------------------

    def data_type(self, name: str) -> DataType:
        self._check(name, self._data, "data type")
        return self._build("data", name, lambda: self._new_data_type(name))

    def enum(self, name: str) -> EnumType:
        self._check(name, self._enums, "enum")
        return self._build("enum", name, lambda: EnumType(name, tuple(self._enums[name])))

    def managed_type(self, name: str) -> ManagedType:
        name = MANAGED_OBJECT if name == MOREF else name
        self._check(name, self._managed, "managed type")
        return self._build("managed", name, lambda: self._new_managed_type(name))

    def fields(self, type_name: str) -> tuple[Field, ...]:
        """The fields of data type *type_name*, inherited ones first: its wire order."""
        self._check(type_name, self._data, "data type")
        return self._build("fields", type_name, lambda: self._lineage_fields(type_name))

    def field(self, type_name: str, name: str) -> Field | None:
        return self._field_index(type_name).get(name)

    def properties(self, managed_type: str) -> tuple[Field, ...]:
        """The properties of managed type *managed_type*, inherited ones first."""
        managed_type = MANAGED_OBJECT if managed_type == MOREF else managed_type
        self._check(managed_type, self._managed, "managed type")
        return self._build("properties", managed_type, lambda: self._lineage_properties(managed_type))

    def property(self, managed_type: str, name: str) -> Field | None:
        return self._property_index(managed_type).get(name)

    def method(self, managed_type: str, wire_name: str) -> Method | None:
        """Method *wire_name* of *managed_type* or of a supertype; None when it has none (or when
        vim25 has no such managed type)."""
        current: str | None = MANAGED_OBJECT if managed_type == MOREF else managed_type
        while current is not None and current in self._managed:
            found = self.managed_type(current).methods.get(wire_name)
            if found is not None:
                return found
            current = self._managed[current][0]
        return None

    def base(self, name: str) -> str | None:
        """The direct supertype of data or managed type *name* (None for a root, or an unknown name)."""
        entry = self._data.get(name) or self._managed.get(name)
        return None if entry is None else entry[0]

    def lineage(self, name: str) -> tuple[str, ...]:
        """*name* and its supertypes, nearest first (just *name* for another kind of type)."""
        return self._build("lineage", name, lambda: self._new_lineage(name))

    def is_subtype(self, name: str, ancestor: str) -> bool:
        """Whether *name* is *ancestor* or derives from it (data and managed types; any managed type
        is a ``ManagedObjectReference``, anything an ``anyType``)."""
        if name == ancestor or ancestor == "anyType":
            return True
        if ancestor in (MOREF, MANAGED_OBJECT):
            return name in self._managed or name == MOREF
        return ancestor in self.lineage(name)

    def subtypes(self, name: str) -> frozenset[str]:
        """*name* and every data or managed type deriving from it."""
        if name == MOREF:
            return self._build("subtypes", name, lambda: self.subtypes(MANAGED_OBJECT) | {MOREF})
        return self._build("subtypes", name, lambda: self._new_subtypes(name))

    def path_type(self, type_name: str, path: str) -> Field | None:
        """The declaration at the end of property path *path* ("config.hardware.device") below a
        managed or data type: its ``type`` and whether it is an ``array``. None when vim25 has no
        such path: every segment must be a field of the type before it, and an array ends a path
        (vim25 paths do not index arrays)."""
        found: Field | None = None
        current = type_name
        for segment in path.split("."):
            if found is not None and found.array:
                return None
            kind = self.kind_or_none(current)
            if kind == "managed" and found is None:
                found = self.property(current, segment)
            elif kind == "data":
                found = self.field(current, segment)
            else:
                return None
            if found is None:
                return None
            current = found.type
        return found

    def fault_types(self) -> frozenset[str]:
        """Every fault type: MethodFault and every type deriving from it."""
        return self.subtypes(METHOD_FAULT)

    def task_methods(self) -> dict[str, tuple[str, str | None]]:
        """Every method returning a Task, by wire name -> (the managed type declaring it, the type its
        Task's result has when it succeeds, ``Type[]`` for an array, or None)."""
        return self._build("tasks", "", self._new_task_methods)

    def task_method(self, wire_name: str) -> Method | None:
        found = self.task_methods().get(wire_name)
        return None if found is None else self.method(found[0], wire_name)

    # -- building --------------------------------------------------------------------------------------------

    def _build(self, what: str, name: str, make: Callable[[], T]) -> T:
        """What *make* builds for (*what*, *name*), built once."""
        key = (what, name)
        found = self._built.get(key)
        if found is None:
            built = make()
            with self._lock:
                found = self._built.setdefault(key, built)
        return cast(T, found)

    def _check(self, name: str, table: dict[str, Any], what: str) -> None:
        if name not in table:
            raise self._unknown(name, what, table)

    def _new_data_type(self, name: str) -> DataType:
        base, fields = self._data[name]
        return DataType(name, base, tuple(Field(*field) for field in fields))

    def _new_managed_type(self, name: str) -> ManagedType:
        base, properties, methods = self._managed[name]
        return ManagedType(
            name,
            base,
            tuple(Field(*prop) for prop in properties),
            {wire: _method(wire, name, entry) for wire, entry in methods.items()},
        )

    def _lineage_fields(self, name: str) -> tuple[Field, ...]:
        return tuple(
            field for one in reversed(self.lineage(name)) for field in self.data_type(one).own_fields
        )

    def _lineage_properties(self, name: str) -> tuple[Field, ...]:
        return tuple(
            prop for one in reversed(self.lineage(name)) for prop in self.managed_type(one).own_properties
        )

    def _field_index(self, type_name: str) -> dict[str, Field]:
        return self._build("field-index", type_name, lambda: {f.name: f for f in self.fields(type_name)})

    def _property_index(self, managed_type: str) -> dict[str, Field]:
        return self._build(
            "property-index", managed_type, lambda: {p.name: p for p in self.properties(managed_type)}
        )

    def _new_lineage(self, name: str) -> tuple[str, ...]:
        table = self._data if name in self._data else self._managed
        lineage = [name]
        while lineage[-1] in table and table[lineage[-1]][0] is not None:
            lineage.append(table[lineage[-1]][0])
        return tuple(lineage)

    def _new_subtypes(self, name: str) -> frozenset[str]:
        if self._children is None:
            children: dict[str, list[str]] = {}
            for table in (self._data, self._managed):
                for child, entry in table.items():
                    if entry[0] is not None:
                        children.setdefault(entry[0], []).append(child)
            self._children = children
        found, pending = {name}, [name]
        while pending:
            for child in self._children.get(pending.pop(), ()):
                found.add(child)
                pending.append(child)
        return frozenset(found)

    def _new_task_methods(self) -> dict[str, tuple[str, str | None]]:
        found: dict[str, tuple[str, str | None]] = {}
        for type_name, (_base, _properties, methods) in self._managed.items():
            for wire, entry in methods.items():
                if entry["returns"] and entry["returns"][0] == TASK:
                    result = entry["taskResult"]
                    found[wire] = (
                        type_name,
                        None if result is None else result[0] + ("[]" if result[1] else ""),
                    )
        return dict(sorted(found.items()))

    @staticmethod
    def _unknown(name: str, what: str, known: Iterable[str]) -> KeyError:
        return KeyError(f"{name!r} is not a vim25 {what}{suggestion(name, known)}")


def suggestion(word: str, known: Iterable[str]) -> str:
    """`` (did you mean x, y?)``: the known names closest to *word* (or holding it), or ""."""
    names = list(known)
    close = difflib.get_close_matches(word, names, n=3, cutoff=0.7)
    lowered = word.lower()
    if not close and len(word) > 2:
        close = [name for name in names if lowered in name.lower()][:3]
    return f" (did you mean {', '.join(close)}?)" if close else ""


def _method(wire: str, declared_by: str, entry: dict[str, Any]) -> Method:
    returns = entry["returns"]
    result = entry["taskResult"]
    return Method(
        name=wire,
        declared_by=declared_by,
        params=tuple(
            Field(name, type_, array, optional, "", secret)
            for name, type_, array, optional, secret in entry["params"]
        ),
        returns=None if returns is None else Field("returnval", *returns),
        task_result=None if result is None else Field("result", result[0], result[1], True),
        faults=tuple(entry["faults"]),
        description_id=entry["descriptionId"],
    )


def model_path() -> Any:
    return schema_directory() / "vim25" / "model.json"


@cache
def model() -> Model:
    """The vim25 model (loaded once, on first use)."""
    with open(model_path(), "rb") as fh:
        return Model(json.load(fh))
