"""Hypothesis strategies of vim25 values, from the vim25 model: any data type filled with valid values.

``data_objects()`` draws a data object of any vim25 data type (or of *type_name* and the types
deriving from it): every required field set (arrays of them with at least one item, as a reader
needs), some optional ones, nested objects down to *depth*. ``values(type_name, array)`` draws a
value declared *type_name*. What they draw renders and parses back equal (:mod:`vismock.mockserver
.vim25.xml`), as the tests of that module check.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from functools import cache

from hypothesis import strategies as st

from vismock.mockserver.vim25 import model
from vismock.mockserver.vim25.values import INT_RANGES, Data, MoRef, Typed, array_type

# Text XML can carry (no control characters but tab, newline and carriage return; no surrogates or
# noncharacters).
TEXT = st.text(
    st.one_of(
        st.characters(codec="utf-8", exclude_categories=("Cs", "Cc", "Cn")),
        st.sampled_from("\t\n\r"),
    ),
    max_size=12,
)
ZONES = st.sampled_from([UTC, timezone(timedelta(hours=5, minutes=30)), timezone(-timedelta(hours=8))])
# From year 1000: pyVmomi writes earlier years unpadded (not xs:dateTime), which no client reads back.
DATETIMES = st.datetimes(min_value=datetime(1000, 1, 2), max_value=datetime(9999, 12, 30), timezones=ZONES)
IDS = st.text(
    st.characters(codec="ascii", categories=("L", "N"), include_characters="-_"), min_size=1, max_size=12
)
_PRIMITIVES: dict[str, st.SearchStrategy[object]] = {
    "string": TEXT,
    "anyURI": TEXT,
    "boolean": st.booleans(),
    **{name: st.integers(low, high) for name, (low, high) in INT_RANGES.items()},
    "float": st.floats(allow_nan=False),
    "double": st.floats(allow_nan=False),
    "dateTime": DATETIMES,
    "base64Binary": st.binary(max_size=16),
}


@cache
def _data_type_names() -> tuple[str, ...]:
    """The data types a value can be drawn for: all but two whose required fields refer to each
    other (HostMultipathInfoLogicalUnit and -Path hold each other by key only on the wire)."""
    return tuple(sorted(name for name in model().data_type_names() if _constructible(name, ())))


def _constructible(name: str, seen: tuple[str, ...]) -> bool:
    if name in seen:
        return False
    return all(
        _constructible(field.type, (*seen, name))
        for field in model().fields(name)
        if not field.optional and model().kind(field.type) == "data"
    )


@cache
def _subtypes(type_name: str, like_vcenter: bool) -> tuple[str, ...]:
    names = set(_data_type_names())
    found = model().subtypes(type_name)
    if like_vcenter:  # a fault only in a LocalizedMethodFault, and never MethodFault itself
        faults = model().fault_types()
        found = found - faults if type_name not in faults else found - {"MethodFault"}
    return tuple(sorted(name for name in found if name in names))


@cache
def _managed_subtypes(type_name: str) -> tuple[str, ...]:
    return tuple(sorted(name for name in model().subtypes(type_name) if model().kind(name) == "managed"))


# DynamicData's own fields: the wire allows them, vCenter does not send them.
_BOOKKEEPING = frozenset({"dynamicType", "dynamicProperty"})


def data_objects(
    type_name: str | None = None, depth: int = 2, *, like_vcenter: bool = False
) -> st.SearchStrategy[Data]:
    """A data object of *type_name* or a type deriving from it (of any data type when None);
    *like_vcenter*: only what vCenter itself sends (no DynamicData bookkeeping fields, faults only
    inside a LocalizedMethodFault, never the abstract MethodFault itself)."""
    if type_name is None and not like_vcenter:
        names = _data_type_names()
    else:  # what vCenter sends at the top is a DynamicData (a fault travels in a SOAP fault)
        names = _subtypes(type_name or "DynamicData", like_vcenter)
    return st.sampled_from(names).flatmap(lambda name: _filled(name, depth, like_vcenter))


def _filled(type_name: str, depth: int, like_vcenter: bool = False) -> st.SearchStrategy[Data]:
    fields = [
        field for field in model().fields(type_name) if not (like_vcenter and field.name in _BOOKKEEPING)
    ]
    required = {
        field.name: values(field.type, field.array, depth - 1, exact=depth <= 0, like_vcenter=like_vcenter)
        for field in fields
        if not field.optional
    }
    optional = {
        field.name: values(field.type, field.array, depth - 1, like_vcenter=like_vcenter)
        for field in fields
        if field.optional and (depth > 0 or model().kind(field.type) != "data")
    }
    return st.fixed_dictionaries(required, optional=optional).map(lambda found: Data(type_name, **found))


def values(
    type_name: str, array: bool = False, depth: int = 1, exact: bool = False, *, like_vcenter: bool = False
) -> st.SearchStrategy[object]:
    """A value declared *type_name* (a non-empty tuple of them for an array); *exact*: of that type
    itself, not a subtype (which keeps required nesting short)."""
    item = _item(type_name, depth, exact, like_vcenter)
    return st.lists(item, min_size=1, max_size=3).map(tuple) if array else item


def _item(type_name: str, depth: int, exact: bool, like_vcenter: bool) -> st.SearchStrategy[object]:
    kind = model().kind(type_name)
    if kind == "data":
        if exact and not (like_vcenter and type_name == "MethodFault"):
            return _filled(type_name, depth, like_vcenter)
        return data_objects(type_name, depth, like_vcenter=like_vcenter)
    if kind == "managed":
        return st.builds(MoRef, st.sampled_from(_managed_subtypes(type_name)), IDS)
    if kind == "enum":
        return st.sampled_from(model().enum(type_name).values)
    if type_name == "anyType":
        return any_values(depth, like_vcenter=like_vcenter)
    return _PRIMITIVES[type_name]


def any_values(depth: int = 1, *, like_vcenter: bool = False) -> st.SearchStrategy[object]:
    """What an ``anyType`` holds: plain values whose Python type tells their wire type, and
    :class:`Typed` ones where it does not (a long, an enum, an array of a supertype)."""
    plain = st.one_of(
        TEXT,
        st.booleans(),
        st.integers(*INT_RANGES["long"]),
        st.floats(allow_nan=False),
        DATETIMES,
        st.binary(min_size=1, max_size=8),
        st.builds(MoRef, st.sampled_from(_managed_subtypes("ManagedObject")), IDS),
        st.lists(TEXT, min_size=1, max_size=3).map(tuple),
    )
    typed = st.one_of(
        st.integers(0, 2**31 - 1).map(lambda number: Typed("long", number)),
        st.integers(*INT_RANGES["short"]).map(lambda number: Typed("short", number)),
        st.floats(allow_nan=False).map(lambda number: Typed("float", number)),
        st.sampled_from(model().enum("VirtualMachinePowerState").values).map(
            lambda state: Typed("VirtualMachinePowerState", state)
        ),
        st.just(Typed(array_type("string"), ())),
    )
    if depth <= 0:
        return st.one_of(plain, typed)
    devices = st.lists(
        data_objects("VirtualDevice", depth - 1, like_vcenter=like_vcenter), min_size=1, max_size=2
    )
    return st.one_of(
        plain,
        typed,
        data_objects("DynamicData", depth - 1, like_vcenter=like_vcenter),
        devices.map(lambda items: Typed("ArrayOfVirtualDevice", tuple(items))),
    )
