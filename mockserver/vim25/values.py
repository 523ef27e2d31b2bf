"""vim25 values: managed object references, data objects, and a lossless JSON form of them.

A vim25 value is one of: ``str`` (string, anyURI, an enum's value), ``bool``, ``int`` (byte, short,
int, long), ``float`` (float, double), an aware ``datetime`` or a :class:`~vismock.codec.XsDateTime`
(dateTime), ``bytes`` (base64Binary), :class:`MoRef` (a managed object), :class:`Data` (a data
object), a tuple of one of these (an array), or :class:`Typed` where an ``anyType`` field holds a
value whose wire type Python cannot tell (``long`` 5, an array of an enum).

:class:`Data` checks what it is given against the vim25 model when it is built (field names, the
kinds of values, enum values, integer ranges, the types of nested data objects and references),
so that what is built renders without surprises; it does not check that required fields are set
(a value may be built up in steps; :mod:`.check` checks whole answers).
"""

from __future__ import annotations

import base64
import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from vismock.codec.values import XsDateTime
from vismock.mockserver.cache import BoundedCache
from vismock.mockserver.vim25.typemodel import MOREF, Field, model, suggestion


@dataclass(frozen=True, slots=True)
class MoRef:
    """A vim25 ManagedObjectReference."""

    type: str
    value: str


@dataclass(frozen=True, slots=True)
class Typed:
    """An ``anyType`` value with the wire type its Python value does not tell: ``Typed("long", 5)``,
    ``Typed("VirtualMachinePowerState", "poweredOn")``, ``Typed("ArrayOfVirtualDevice", (disk,))``.

    Where the Python value does tell (a str is a string, a :class:`Data` its own type), the plain
    value is the canonical form: :class:`Data` stores it unwrapped, and parsing gives it back so."""

    type: str  # the xsi:type, unprefixed: "long", "ArrayOfString", "ArrayOfManagedObjectReference"
    value: Any


# Managed object id prefixes vCenter uses: the type of a reference known only by its id.
_ID_PREFIX_TYPES = (
    ("vm-", "VirtualMachine"),
    ("host-", "HostSystem"),
    ("domain-c", "ClusterComputeResource"),
    ("domain-s", "ComputeResource"),
    ("datacenter-", "Datacenter"),
    ("datastore-", "Datastore"),
    ("group-p", "StoragePod"),
    ("group-", "Folder"),
    ("resgroup-v", "VirtualApp"),
    ("resgroup-", "ResourcePool"),
    ("network-", "Network"),
    ("dvportgroup-", "DistributedVirtualPortgroup"),
    ("dvs-", "VmwareDistributedVirtualSwitch"),
)


def entity_type_of(mo_id: str) -> str:
    """The managed entity type vCenter's id *mo_id* belongs to (``ManagedEntity`` if unknown)."""
    for prefix, mo_type in _ID_PREFIX_TYPES:
        if mo_id.startswith(prefix):
            return mo_type
    return "ManagedEntity"


# -- checking values -----------------------------------------------------------------------------------------

Check = Callable[[Any], Any]
"""Checks a value given for a declaration and returns it as stored (tuples for arrays, floats for
doubles, None for an empty array); TypeError or ValueError when it does not fit."""

INT_RANGES = {
    "byte": (-(2**7), 2**7 - 1),
    "short": (-(2**15), 2**15 - 1),
    "int": (-(2**31), 2**31 - 1),
    "long": (-(2**63), 2**63 - 1),
}


def _describe(value: Any) -> str:
    text = repr(value)
    return f"{type(value).__name__} {text[:60] + '...' if len(text) > 60 else text}"


def checker(type_name: str, array: bool, where: str) -> Check:
    """How a value declared *type_name* (an array of them when *array*) is checked; *where* names
    the declaration in errors ("TaskInfo.state"). Made once per declaration: an ``anyType`` field
    (a task's result) asks for its value's checker at every value."""
    key = (type_name, array, where)
    found = _CHECKERS.get(key)
    return found if found is not None else _CHECKERS.put(key, _made_checker(type_name, array, where))


def _made_checker(type_name: str, array: bool, where: str) -> Check:
    item = _item_checker(type_name, where)
    if not array:
        return item

    def check_array(value: Any) -> Any:
        if not isinstance(value, (tuple, list)):
            raise TypeError(f"{where}: expected a tuple of {type_name}, got {_describe(value)}")
        return tuple(map(item, value)) if value else None  # vim25 cannot tell [] from unset

    return check_array


_CHECKERS: BoundedCache[tuple[str, bool, str], Check] = BoundedCache(1024)


def _item_checker(type_name: str, where: str) -> Check:
    kind = model().kind(type_name)
    if kind == "data":
        return _data_checker(type_name, model().subtypes(type_name), where)
    if kind == "managed":
        return _moref_checker(type_name, model().subtypes(type_name) | {MOREF}, where)
    if kind == "enum":
        return _enum_checker(type_name, frozenset(model().enum(type_name).values), where)
    return _PRIMITIVE_CHECKERS[type_name](where)


def _data_checker(type_name: str, allowed: frozenset[str], where: str) -> Check:
    def check(value: Any) -> Any:
        if isinstance(value, Data) and value._type in allowed:
            return value
        raise TypeError(f"{where}: expected a {type_name} data object, got {_describe(value)}")

    return check


def _moref_checker(type_name: str, allowed: frozenset[str], where: str) -> Check:
    def check(value: Any) -> Any:
        if isinstance(value, MoRef) and value.type in allowed and isinstance(value.value, str):
            return value
        raise TypeError(f"{where}: expected a MoRef to a {type_name}, got {_describe(value)}")

    return check


def _enum_checker(type_name: str, values: frozenset[str], where: str) -> Check:
    def check(value: Any) -> Any:
        if isinstance(value, str) and value in values:
            return value
        allowed = ", ".join(sorted(values)[:8]) + (", ..." if len(values) > 8 else "")
        raise ValueError(f"{where}: {_describe(value)} is not a {type_name} value ({allowed})")

    return check


def _string(where: str) -> Check:
    def check(value: Any) -> Any:
        if isinstance(value, str):
            return value
        raise TypeError(f"{where}: expected a str, got {_describe(value)}")

    return check


def _boolean(where: str) -> Check:
    def check(value: Any) -> Any:
        if value is True or value is False:
            return value
        raise TypeError(f"{where}: expected a bool, got {_describe(value)}")

    return check


def _integer(type_name: str) -> Callable[[str], Check]:
    low, high = INT_RANGES[type_name]

    def make(where: str) -> Check:
        def check(value: Any) -> Any:
            if isinstance(value, int) and not isinstance(value, bool):
                if low <= value <= high:
                    return int(value)
                raise ValueError(f"{where}: {value} is out of the {type_name} range {low}..{high}")
            raise TypeError(f"{where}: expected an int ({type_name}), got {_describe(value)}")

        return check

    return make


def _double(where: str) -> Check:
    def check(value: Any) -> Any:
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            return float(value)
        raise TypeError(f"{where}: expected a float, got {_describe(value)}")

    return check


def _date_time(where: str) -> Check:
    def check(value: Any) -> Any:
        if isinstance(value, XsDateTime):
            return value
        if isinstance(value, datetime):
            if value.tzinfo is None:
                raise ValueError(f"{where}: a naive datetime has no time zone; vim25 dateTime needs one")
            return value
        raise TypeError(f"{where}: expected an aware datetime or an XsDateTime, got {_describe(value)}")

    return check


def _binary(where: str) -> Check:
    def check(value: Any) -> Any:
        if isinstance(value, (bytes, bytearray, memoryview)):
            return bytes(value)
        raise TypeError(f"{where}: expected bytes, got {_describe(value)}")

    return check


def _any(where: str) -> Check:
    def check(value: Any) -> Any:
        return canonical_any(value, where)

    return check


_PRIMITIVE_CHECKERS: dict[str, Callable[[str], Check]] = {
    "string": _string,
    "anyURI": _string,
    "boolean": _boolean,
    "byte": _integer("byte"),
    "short": _integer("short"),
    "int": _integer("int"),
    "long": _integer("long"),
    "float": _double,
    "double": _double,
    "dateTime": _date_time,
    "base64Binary": _binary,
    "anyType": _any,
}


# -- anyType -------------------------------------------------------------------------------------------------


def wire_type_of(value: Any) -> str | None:
    """The xsi:type an ``anyType`` holding *value* carries (``string``, ``long``, ``TaskInfo``,
    ``ArrayOfManagedObjectReference``); None when Python's value cannot tell (then it needs a
    :class:`Typed`)."""
    if isinstance(value, Data):
        return value._type
    if isinstance(value, Typed):
        return value.type
    if isinstance(value, MoRef):
        return MOREF
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int):
        low, high = INT_RANGES["int"]
        return "int" if low <= value <= high else "long"
    if isinstance(value, float):
        return "double"
    if isinstance(value, (XsDateTime, datetime)):
        return "dateTime"
    if isinstance(value, str):
        return "string"
    if isinstance(value, (bytes, bytearray)):
        return "base64Binary"
    if isinstance(value, (tuple, list)) and value:
        item_types = {wire_type_of(item) for item in value}
        if len(item_types) == 1 and None not in item_types:
            (item_type,) = item_types
            return None if item_type is None or item_type.startswith("ArrayOf") else array_type(item_type)
    return None


def array_type(item_type: str) -> str:
    """vim25's array type of *item_type*: ``ArrayOfString``, ``ArrayOfVirtualDevice``."""
    return f"ArrayOf{item_type[:1].upper()}{item_type[1:]}"


def item_type(array_type_name: str) -> str | None:
    """The item type of vim25 array type *array_type_name* (``ArrayOfString`` -> ``string``); None
    when it is not one."""
    if not array_type_name.startswith("ArrayOf"):
        return None
    name = array_type_name.removeprefix("ArrayOf")
    if name in model():
        return name
    lowered = name[:1].lower() + name[1:]
    return lowered if model().kind_or_none(lowered) == "primitive" else None


def canonical_any(value: Any, where: str = "anyType") -> Any:
    """*value* as an ``anyType`` stores it: checked, arrays as tuples, a :class:`Typed` unwrapped
    when the plain value says the same."""
    if isinstance(value, Typed):
        inner = _typed_value(value, where)
        return (
            inner
            if wire_type_of(inner) == value.type or _self_typed(value.type)
            else Typed(value.type, inner)
        )
    wire_type = wire_type_of(value)
    if wire_type is None:
        raise TypeError(
            f"{where}: an anyType cannot tell the wire type of {_describe(value)}:"
            " give it as Typed(type, value) (Typed('ArrayOfString', ()), Typed('long', 5))"
        )
    if isinstance(value, (tuple, list)):
        items = item_type(wire_type)
        assert items is not None
        return checker(items, True, where)(value)
    return checker(wire_type, False, where)(value)


def _self_typed(type_name: str) -> bool:
    """A Typed of a data type or a reference says no more than its value (which carries its type)."""
    return model().kind_or_none(type_name) in ("data", "managed")


def _typed_value(value: Typed, where: str) -> Any:
    items = item_type(value.type)
    if items is not None:
        if not isinstance(value.value, (tuple, list)):
            raise TypeError(f"{where}: {value.type} needs a tuple, got {_describe(value.value)}")
        return tuple(map(checker(items, False, where), value.value))
    if value.type not in model():
        raise TypeError(f"{where}: {value.type!r} is not a vim25 type")
    return checker(value.type, False, where)(value.value)


# -- data objects --------------------------------------------------------------------------------------------


_STRING, _DATA, _MOREF, _BOOLEAN, _OTHER = "string", "data", "managed", "boolean", "other"


class _Table:
    """What a data type's objects need of the model, computed on first use: each field's position
    in wire order and how its values are checked (its kind, the types it may hold, its checker)."""

    __slots__ = ("fields", "names", "position", "specs")

    def __init__(self, type_name: str) -> None:
        try:
            fields = model().fields(type_name)
        except KeyError as error:
            raise TypeError(str(error).strip("\"'")) from None
        self.fields: tuple[Field, ...] = fields
        self.names = tuple(field.name for field in fields)
        self.position = {name: index for index, name in enumerate(self.names)}
        self.specs: dict[str, tuple[int, str, frozenset[str], Check]] = {
            field.name: (
                index,
                *_fast_kind(field),
                checker(field.type, field.array, f"{type_name}.{field.name}"),
            )
            for index, field in enumerate(fields)
        }


def _fast_kind(field: Field) -> tuple[str, frozenset[str]]:
    """Which kind Data checks inline for *field*, and the types its values may have."""
    kind = model().kind(field.type)
    if field.array or kind == "enum":
        return _OTHER, frozenset()
    if kind in ("data", "managed"):
        return (_DATA if kind == "data" else _MOREF), model().subtypes(field.type)
    return {"string": _STRING, "anyURI": _STRING, "boolean": _BOOLEAN}.get(field.type, _OTHER), frozenset()


_TABLES: dict[str, _Table] = {}


def _table(type_name: str) -> _Table:
    found = _TABLES.get(type_name)
    if found is None:
        found = _TABLES.setdefault(type_name, _Table(type_name))
    return found


class Data:
    """An immutable vim25 data object: ``Data("TaskInfo", key="task-1", state="running", ...)``.

    Fields read as attributes (``info.state``; None when unset) or by name (``info["type"]``, for a
    field named like a method here); ``type`` is the data type's name. Unset fields (None) are not
    stored, so two objects are equal when their types and set fields are.
    """

    __slots__ = ("_type", "_values")
    _type: str
    _values: dict[str, Any]

    def __init__(self, type_name: str, /, **fields: Any) -> None:
        table = _TABLES.get(type_name) or _table(type_name)
        specs = table.specs
        values: dict[str, Any] = {}
        last, ordered = -1, True
        for name, value in fields.items():
            if value is None:
                continue
            spec = specs.get(name)
            if spec is None:
                raise _unknown_field(type_name, name, table)
            index, kind, allowed, check = spec
            # The commonest kinds inline (a call per field would double the cost), the rest by check.
            if kind is _STRING:
                if value.__class__ is not str and not isinstance(value, str):
                    check(value)
            elif kind is _DATA:
                if value.__class__ is not Data or value._type not in allowed:
                    value = check(value)
            elif kind is _MOREF:
                if value.__class__ is not MoRef or value.type not in allowed:
                    value = check(value)
            elif kind is _BOOLEAN:
                if value is not True and value is not False:
                    check(value)
            else:
                value = check(value)
                if value is None:
                    continue
            values[name] = value
            if index < last:
                ordered = False
            last = index
        if not ordered:
            values = {name: values[name] for name in sorted(values, key=table.position.__getitem__)}
        _set(self, "_type", type_name)
        _set(self, "_values", values)

    @classmethod
    def _trusted(cls, type_name: str, values: dict[str, Any]) -> Data:
        """A data object of values already checked and in wire order (the parser's)."""
        made = cls.__new__(cls)
        _set(made, "_type", type_name)
        _set(made, "_values", values)
        return made

    @property
    def type(self) -> str:
        return self._type

    def __getattr__(self, name: str) -> Any:
        if name.startswith("_"):
            raise AttributeError(name)
        table = _table(self._type)
        if name in table.specs:
            return self._values.get(name)
        raise AttributeError(_unknown_field(self._type, name, table).args[0])

    def __getitem__(self, name: str) -> Any:
        table = _table(self._type)
        if name in table.specs:
            return self._values.get(name)
        raise KeyError(_unknown_field(self._type, name, table).args[0])

    def __setattr__(self, name: str, value: Any) -> None:
        raise AttributeError(f"a {self._type} data object is immutable: use replace() or with_path()")

    def __delattr__(self, name: str) -> None:
        raise AttributeError(f"a {self._type} data object is immutable: use replace() or with_path()")

    def fields(self) -> dict[str, Any]:
        """The set fields, in wire order."""
        return dict(self._values)

    def replace(self, /, **changes: Any) -> Data:
        """A copy with *changes* (None unsets a field)."""
        return Data(self._type, **{**self._values, **changes})

    def at(self, path: str) -> Any:
        """The value at field path *path* ("runtime.powerState"); None where it is unset on the way.
        KeyError for a path the types do not have (a path does not index arrays)."""
        value: Any = self
        for segment in path.split("."):
            if value is None:
                return None
            if not isinstance(value, Data):
                raise KeyError(f"{path!r}: {segment!r} is below a value that is not a data object")
            value = value[segment]
        return value

    def with_path(self, path: str, value: Any) -> Data:
        """A copy with the field at *path* set to *value* (None unsets it); unset data objects on the
        way are created, of the declared type."""
        head, _, rest = path.partition(".")
        if not rest:
            return self.replace(**{head: value})
        declared = model().field(self._type, head)
        if declared is None:
            raise KeyError(_unknown_field(self._type, head, _table(self._type)).args[0])
        if declared.array or model().kind(declared.type) != "data":
            raise KeyError(f"{self._type}.{head} is not a data object: {path!r} cannot go below it")
        child = self._values.get(head)
        return self.replace(
            **{head: (child if child is not None else Data(declared.type)).with_path(rest, value)}
        )

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Data):
            return NotImplemented
        return self._type == other._type and self._values == other._values

    def __hash__(self) -> int:
        return hash((self._type, tuple(self._values.items())))

    def __repr__(self) -> str:
        fields = "".join(f", {name}={value!r}" for name, value in self._values.items())
        return f"Data({self._type!r}{fields})"

    def __reduce__(self) -> tuple[Any, ...]:
        return (Data._trusted, (self._type, self._values))


_set = object.__setattr__


def _unknown_field(type_name: str, name: str, table: _Table) -> TypeError:
    return TypeError(f"{type_name} has no field {name!r}{suggestion(name, table.names)}")


# -- JSON ----------------------------------------------------------------------------------------------------


def to_json(value: Any) -> Any:
    """*value* as JSON data (dicts, lists, str, int, float, bool, None), losslessly:
    :func:`from_json` gives back an equal value of the same Python types."""
    if isinstance(value, Data):
        return {"_type": value._type, **{name: to_json(item) for name, item in value._values.items()}}
    if isinstance(value, MoRef):
        return {"_moref": [value.type, value.value]}
    if isinstance(value, Typed):
        return {"_typed": [value.type, to_json(value.value)]}
    if isinstance(value, XsDateTime):
        return {"_xsdatetime": str(value)}
    if isinstance(value, datetime):
        return {"_datetime": value.isoformat()}
    if isinstance(value, bytes):
        return {"_base64": base64.b64encode(value).decode("ascii")}
    if isinstance(value, (tuple, list)):
        return [to_json(item) for item in value]
    if isinstance(value, float) and not math.isfinite(value):
        return {"_float": repr(value)}
    if value is None or isinstance(value, (str, int, float)):
        return value
    raise TypeError(f"{_describe(value)} is not a vim25 value")


def from_json(data: Any) -> Any:
    """The value :func:`to_json` gave *data* for."""
    if isinstance(data, list):
        return tuple(from_json(item) for item in data)
    if not isinstance(data, Mapping):
        return data
    if "_type" in data:
        return Data(
            data["_type"], **{name: from_json(item) for name, item in data.items() if name != "_type"}
        )
    (tag, content), *rest = data.items()
    if rest:
        raise ValueError(f"not the JSON form of a vim25 value: {dict(data)!r:.80}")
    if tag == "_moref":
        return MoRef(*content)
    if tag == "_typed":
        return Typed(content[0], from_json(content[1]))
    if tag == "_xsdatetime":
        return XsDateTime(content)
    if tag == "_datetime":
        return datetime.fromisoformat(content)
    if tag == "_base64":
        return base64.b64decode(content)
    if tag == "_float":
        return float(content)
    raise ValueError(f"not the JSON form of a vim25 value: {tag!r}")
