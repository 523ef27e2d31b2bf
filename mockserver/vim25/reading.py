"""Reading vim25 SOAP calls: an untrusted body into the call's arguments, typed by the model.

A reader per declared type is made once from the model (for a data type: its fields by element
tag, which are required, their wire order), so reading an element is a dictionary lookup and a call.
Anything vCenter would refuse to read is InvalidRequest naming the element, its line and the
problem. :mod:`.xml` exports what is public here.
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from lxml import etree

from vismock.codec.parsing import DEFAULT_MAX_BYTES, ParseFailure, parse, read_bytes
from vismock.codec.values import XsDateTime
from vismock.faults import InvalidRequest
from vismock.mockserver.vim25.typemodel import MOREF, Field, model, suggestion
from vismock.mockserver.vim25.values import INT_RANGES, Data, MoRef, Typed, canonical_any, item_type

VIM25 = "urn:vim25"
SOAPENV = "http://schemas.xmlsoap.org/soap/envelope/"
XSI = "http://www.w3.org/2001/XMLSchema-instance"
XSD = "http://www.w3.org/2001/XMLSchema"
XSI_TYPE = f"{{{XSI}}}type"
_VIM25_PREFIX = f"{{{VIM25}}}"
_THIS = f"{{{VIM25}}}_this"


@dataclass(frozen=True, slots=True)
class SoapCall:
    """One vim25 call: its method, its ``_this`` and its arguments typed by the model (every
    parameter the method declares, None when not sent); ``args`` is None when ``_this``'s type
    has no such method (the dispatcher answers MethodNotFound)."""

    method: str
    this: MoRef | None
    args: dict[str, Any] | None


def parse_call(body: bytes) -> SoapCall:
    """The vim25 call in SOAP request *body*; InvalidRequest, naming the element, its line and the
    problem, for anything vCenter would refuse to read."""
    call = _call_element(body)
    method = str(call.tag)[len(_VIM25_PREFIX) :]
    this_elements = [child for child in call if child.tag == _THIS]
    if len(this_elements) > 1:
        raise _invalid(this_elements[1], "is repeated: a call has one _this")
    this = _this(this_elements[0]) if this_elements else None
    declared = None if this is None else model().method(this.type, method)
    if declared is None:
        return SoapCall(method, this, None)
    owner = f"{declared.declared_by}.{declared.name}"
    table = _TABLES.get(owner) or _fields_table(owner, declared.params)
    found = _read_fields(call, table, method, skip=_THIS)
    return SoapCall(method, this, {param.name: found.get(param.name) for param in declared.params})


def _call_element(body: bytes) -> etree._Element:
    try:
        root = parse(read_bytes(body, DEFAULT_MAX_BYTES)).getroot()
    except ParseFailure as failure:
        where = f" (line {failure.issue.line})" if failure.issue.line else ""
        raise InvalidRequest(
            f"The request body is not a SOAP envelope{where}: {failure.issue.reason}"
        ) from None
    if root.tag != f"{{{SOAPENV}}}Envelope":
        qname = etree.QName(root)
        if qname.localname == "Envelope" and qname.namespace:
            namespace = qname.namespace
            raise InvalidRequest(
                f"SOAP envelope namespace {namespace!r} is not supported; vim25 uses SOAP 1.1"
            )
        raise InvalidRequest(f"The request root element is {qname.localname!r}, not a SOAP Envelope")
    body_element = root.find(f"{{{SOAPENV}}}Body")
    calls = [] if body_element is None else list(body_element)  # the safe parser drops comments and PIs
    if len(calls) != 1:
        where = "" if body_element is None else f" (line {body_element.sourceline})"
        raise InvalidRequest(
            f"The SOAP Body{where} must hold exactly one vim25 method call, not {len(calls)}"
        )
    call = calls[0]
    if not str(call.tag).startswith(_VIM25_PREFIX):
        raise _invalid(call, "is not in the urn:vim25 namespace: it is not a vim25 method")
    return call


def _this(element: etree._Element) -> MoRef:
    """The object called (of any type: one vim25 does not define has no methods)."""
    mo_type = element.get("type")
    if not mo_type:
        raise _invalid(element, "is a managed object reference without a type attribute")
    return MoRef(mo_type, _simple_text(element).strip())


# -- readers -------------------------------------------------------------------------------------------------

Reader = Callable[[etree._Element], Any]


@dataclass(frozen=True, slots=True)
class _FieldsTable:
    """A data type's fields (or a method's parameters) for reading: by element tag, the required
    ones, and each one's place in wire order."""

    owner: str
    by_tag: dict[str, tuple[str, Reader, bool]]
    required: tuple[str, ...]
    position: dict[str, int]


_READERS: dict[str, Reader] = {}
_TABLES: dict[str, _FieldsTable] = {}


def reader(type_name: str) -> Reader:
    """How an element declared *type_name* is read (made once per type)."""
    found = _READERS.get(type_name)
    if found is None:
        found = _READERS.setdefault(type_name, _new_reader(type_name))
    return found


def parse_value(element: etree._Element, declared: str) -> Any:
    """The value *element* holds, declared *declared* (its ``xsi:type`` may name a subtype)."""
    return reader(declared)(element)


def _new_reader(type_name: str) -> Reader:
    kind = model().kind(type_name)
    if kind == "data":
        return _data_reader(type_name)
    if kind == "managed":
        return _moref_reader(type_name)
    if type_name == "anyType":
        return _read_any
    if kind == "enum":
        return _enum_reader(type_name, frozenset(model().enum(type_name).values))
    return _primitive_reader(type_name)


def _data_reader(declared: str) -> Reader:
    def read(element: etree._Element) -> Data:
        xsi_type = element.get(XSI_TYPE)
        actual = declared if xsi_type is None else _xsi_type(element, xsi_type, declared)
        if element.text and element.text.strip():
            raise _invalid(element, f"holds text, but a {actual} holds only fields")
        table = _TABLES.get(actual) or _fields_table(actual, model().fields(actual))
        return Data._trusted(actual, _read_fields(element, table, actual))

    return read


def _fields_table(owner: str, fields: tuple[Field, ...]) -> _FieldsTable:
    table = _FieldsTable(
        owner,
        {f"{_VIM25_PREFIX}{field.name}": (field.name, reader(field.type), field.array) for field in fields},
        tuple(field.name for field in fields if not field.optional),
        {field.name: index for index, field in enumerate(fields)},
    )
    return _TABLES.setdefault(owner, table)


def _read_fields(element: etree._Element, table: _FieldsTable, owner: str, skip: str = "") -> dict[str, Any]:
    """The fields (or arguments) *element* holds, in wire order: arrays as tuples."""
    found: dict[str, Any] = {}
    last, ordered = -1, True
    for child in element:
        tag = child.tag
        spec = table.by_tag.get(tag)  # type: ignore[arg-type]
        if spec is None:
            if tag == skip:
                continue
            name = _local_name(child)
            what = "a parameter of" if skip else "a field of"
            known = [known_tag[len(_VIM25_PREFIX) :] for known_tag in table.by_tag]
            raise _unknown(child, f"is not {what} {owner}", name, known)
        name, read, array = spec
        value = read(child)
        if array:
            found.setdefault(name, []).append(value)
        elif name in found:
            raise _invalid(child, "is repeated, but it is not an array")
        else:
            found[name] = value
        position = table.position[name]
        if position < last:
            ordered = False
        last = position
    for name in table.required:
        if name not in found:
            what = "which is required" if skip else f"which a {owner} requires"
            raise _invalid(element, f"lacks <{name}>, {what}")
    names = found if ordered else sorted(found, key=table.position.__getitem__)
    return {name: tuple(found[name]) if isinstance(found[name], list) else found[name] for name in names}


def _moref_reader(declared: str) -> Reader:
    def read(element: etree._Element) -> MoRef:
        xsi_type = element.get(XSI_TYPE)
        if xsi_type is not None:
            _xsi_type(element, xsi_type, declared)
        mo_type = element.get("type")
        if not mo_type:
            raise _invalid(element, "is a managed object reference without a type attribute")
        if model().kind_or_none(mo_type) != "managed":
            problem = f"refers to {mo_type!r}, which is not a vim25 managed type"
            raise _unknown(element, problem, mo_type, model().managed_type_names())
        if not model().is_subtype(mo_type, declared):
            raise _invalid(element, f"refers to a {mo_type}, which is not a {declared}")
        return MoRef(mo_type, _simple_text(element).strip())

    return read


def _enum_reader(declared: str, values: frozenset[str]) -> Reader:
    def read(element: etree._Element) -> str:
        xsi_type = element.get(XSI_TYPE)
        if xsi_type is not None:
            _xsi_type(element, xsi_type, declared)
        text = _simple_text(element).strip()
        if text not in values:
            listed = ", ".join(model().enum(declared).values[:8])
            raise _invalid(element, f"holds {text!r}, not a {declared} value ({listed})")
        return text

    return read


def _primitive_reader(declared: str) -> Reader:
    def read(element: etree._Element) -> Any:
        xsi_type = element.get(XSI_TYPE)
        if xsi_type is not None:
            _xsi_type(element, xsi_type, declared)
        text = _simple_text(element)
        if declared == "string":
            return text
        try:
            return from_text(declared, text)
        except ValueError as error:
            raise _invalid(element, str(error)) from None

    return read


def _read_any(element: etree._Element) -> Any:
    xsi_type = element.get(XSI_TYPE)
    if xsi_type is None:
        raise _invalid(element, "is an anyType without an xsi:type: its value's type is unknown")
    wire_type = _xsi_type(element, xsi_type, "anyType")
    items = item_type(wire_type)
    if items is None:
        return canonical_any(Typed(wire_type, reader(wire_type)(element)))
    item_tag = _VIM25_PREFIX + (MOREF if model().kind(items) == "managed" else items)
    read_item = reader(items)
    values = []
    for child in element:
        if child.tag != item_tag:
            raise _invalid(child, f"is not an item of {wire_type}")
        values.append(read_item(child))
    return canonical_any(Typed(wire_type, tuple(values)))


def _xsi_type(element: etree._Element, xsi_type: str, declared: str) -> str:
    """The type *xsi_type* names, checked against *declared*."""
    prefix, _, local = xsi_type.rpartition(":")
    namespace = element.nsmap.get(prefix or None)
    if namespace == XSD:
        if model().kind_or_none(local) != "primitive":
            raise _invalid(element, f"has xsi:type {xsi_type!r}, which is not an XML Schema type vim25 uses")
    elif namespace == VIM25:
        if local not in model() and item_type(local) is None:
            problem = f"has xsi:type {xsi_type!r}, which is not a vim25 type"
            raise _unknown(element, problem, local, model().data_type_names())
    else:
        raise _invalid(
            element, f"has xsi:type {xsi_type!r}, whose prefix names no vim25 or XML Schema namespace"
        )
    if declared == "anyType" or local == declared:
        return local
    kind = model().kind(declared)
    if kind == "managed" and local == MOREF:
        return declared
    if kind == "data" and model().kind_or_none(local) == "data" and model().is_subtype(local, declared):
        return local
    raise _invalid(element, f"has xsi:type {local!r}, which is not a {declared}")


# -- text ----------------------------------------------------------------------------------------------------


def _simple_text(element: etree._Element) -> str:
    if len(element):
        raise _invalid(element[0], f"is inside <{_local_name(element)}>, which holds a simple value")
    return element.text or ""


def from_text(type_name: str, text: str) -> Any:
    """The value of primitive *type_name* written *text*; ValueError saying why it is not one."""
    if type_name in ("string", "anyURI"):
        return text
    stripped = text.strip()
    if type_name == "boolean":
        if stripped in ("true", "1"):
            return True
        if stripped in ("false", "0"):
            return False
        raise ValueError(f"holds {text!r}, not a boolean (true, false, 1 or 0)")
    if type_name in INT_RANGES:
        return _integer(type_name, text)
    if type_name in ("float", "double"):
        try:
            return float(stripped)
        except ValueError:
            raise ValueError(f"holds {text!r}, not a number ({type_name})") from None
    if type_name == "dateTime":
        return _datetime(stripped)
    if type_name == "base64Binary":
        try:
            return base64.b64decode("".join(stripped.split()), validate=True)
        except binascii.Error:
            raise ValueError(f"holds {text[:40]!r}, not base64") from None
    raise ValueError(f"{type_name!r} is not a primitive vim25 type")


def _integer(type_name: str, text: str) -> int:
    low, high = INT_RANGES[type_name]
    try:
        number = int(text.strip())
    except ValueError:
        raise ValueError(f"holds {text!r}, not an integer ({type_name})") from None
    if not low <= number <= high:
        raise ValueError(f"holds {number}, out of the {type_name} range {low}..{high}")
    return number


def _datetime(text: str) -> datetime:
    if "T" not in text:
        raise ValueError(f"holds {text!r}, not an xs:dateTime (2026-01-01T00:00:00Z)")
    try:
        value = XsDateTime(text).datetime
    except ValueError:
        raise ValueError(f"holds {text!r}, not an xs:dateTime (2026-01-01T00:00:00Z)") from None
    return value if value.tzinfo is not None else value.replace(tzinfo=UTC)  # no zone: vCenter's UTC


def _local_name(element: etree._Element) -> str:
    tag = str(element.tag)
    if not tag.startswith(_VIM25_PREFIX):
        raise _invalid(element, "is not in the urn:vim25 namespace")
    return tag[len(_VIM25_PREFIX) :]


def _invalid(element: etree._Element, problem: str) -> InvalidRequest:
    return InvalidRequest(f"<{etree.QName(element).localname}> (line {element.sourceline}) {problem}")


def _unknown(element: etree._Element, problem: str, word: str, known: Iterable[str]) -> InvalidRequest:
    return _invalid(element, problem + suggestion(word, known))
