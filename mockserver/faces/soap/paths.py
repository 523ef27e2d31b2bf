"""Property paths below a served property (``runtime.powerState``, ``description.eventInfo``),
read from the served value by what the trimmed vim25 schema says its fields are.

vCenter lets a PropertySpec name any data object field under a property. Rather than a reader per
nested path, a nested path is read from its top-level property's value: the value is rendered once
and the field picked out, typed by the schema (``schemas/vim25/vim25.xsd``): the field's declared
type, or the element's own ``xsi:type`` where the field is polymorphic; a field the schema declares
repeated comes back as vim25's ``ArrayOf{Type}``.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass
from functools import cache

from lxml import etree

from vismock.mockserver.faces.soap import wire
from vismock.mockserver.faces.soap.wire import XSI_TYPE, Value

XS = "http://www.w3.org/2001/XMLSchema"
_NS = {"xs": XS}


@dataclass(frozen=True, slots=True)
class Field:
    name: str
    type: str  # "xsd:string", or a vim25 type name ("ManagedObjectReference", "TaskInfo")
    many: bool


@cache
def _complex_types() -> dict[str, etree._Element]:
    root = etree.parse(str(wire.schema_path())).getroot()
    return {str(node.get("name")): node for node in root.iterfind("xs:complexType", _NS)}


@cache
def fields_of(type_name: str) -> dict[str, Field] | None:
    """The fields of vim25 data type *type_name* (its base types' first), as the schema declares
    them; None when the schema does not define such a complex type."""
    node = _complex_types().get(type_name)
    if node is None:
        return None
    fields: dict[str, Field] = {}
    extension = node.find("xs:complexContent/xs:extension", _NS)
    if extension is not None:
        fields.update(fields_of(_local(str(extension.get("base")))) or {})
    for element in node.iterfind(".//xs:sequence/xs:element", _NS):
        raw = str(element.get("type") or "xs:anyType")
        field_type = f"xsd:{raw[3:]}" if raw.startswith("xs:") else _local(raw)
        fields[str(element.get("name"))] = Field(
            str(element.get("name")), field_type, element.get("maxOccurs") == "unbounded"
        )
    return fields


def path_type(type_name: str, segments: list[str]) -> str | None:
    """The vim25 type of field path *segments* below a value of *type_name*; None when the schema
    declares no such path (a repeated field is its end: vim25 paths do not index arrays)."""
    current = type_name
    for index, segment in enumerate(segments):
        field = (fields_of(current) or {}).get(segment)
        if field is None or (field.many and index < len(segments) - 1):
            return None
        current = array_type(field.type) if field.many else field.type
    return current


def nested_value(root: Value, segments: list[str]) -> Value | None:
    """The value at *segments* below *root*; None when it is unset there."""
    element = etree.Element("v")
    root.fill(element)
    current_type = root.xsi_type
    for index, segment in enumerate(segments):
        field = (fields_of(current_type) or {}).get(segment)
        if field is None:
            return None
        found = element.findall(f"{{{wire.VIM25}}}{segment}")
        if field.many and index == len(segments) - 1:
            return _array(field.type, found)
        if not found:
            return None
        element = found[0]
        current_type = element.get(XSI_TYPE) or field.type
    return _copy(current_type, element)


def array_type(item_type: str) -> str:
    """vim25's array type of *item_type*: ``ArrayOfString``, ``ArrayOfManagedObjectReference``."""
    local = item_type.removeprefix("xsd:")
    return f"ArrayOf{local[:1].upper()}{local[1:]}"


def _array(item_type: str, items: list[etree._Element]) -> Value:
    tag = item_type.removeprefix("xsd:")

    def fill(element: etree._Element) -> None:
        for item in items:
            copied = _copy(item.get(XSI_TYPE) or item_type, item)
            wire.sub_value(element, tag, copied)

    return Value(array_type(item_type), fill)


def _copy(xsi_type: str, source: etree._Element) -> Value:
    refs = None
    if xsi_type == "ManagedObjectReference":
        refs = (wire.MoRef(str(source.get("type")), (source.text or "").strip()),)

    def fill(element: etree._Element) -> None:
        element.text = source.text
        for name, value in source.attrib.items():
            if name != XSI_TYPE:
                element.set(name, value)
        for child in source:
            element.append(copy.deepcopy(child))

    return Value(xsi_type, fill, refs=refs)


def _local(qualified: str) -> str:
    return qualified.split(":", 1)[-1]
