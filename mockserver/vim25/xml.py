"""vim25 on the wire, driven by the model: values rendered as vCenter writes them, SOAP calls parsed
into typed arguments (:mod:`.reading`), and SOAP faults.

Rendering builds text, not trees: each type's writer is made once from the model (which fields,
in which order, of which declared types) and a value is written by appending strings. Fragments
assume the default namespace is ``urn:vim25`` and the prefixes ``xsi`` and ``xsd`` are declared
by the envelope around them (:func:`response_envelope` declares them all).
"""

from __future__ import annotations

import base64
import math
import re
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from typing import Any

from vismock.codec.values import XsDateTime
from vismock.mockserver.vim25.reading import SOAPENV as SOAPENV
from vismock.mockserver.vim25.reading import VIM25 as VIM25
from vismock.mockserver.vim25.reading import XSD as XSD
from vismock.mockserver.vim25.reading import XSI as XSI
from vismock.mockserver.vim25.reading import XSI_TYPE as XSI_TYPE
from vismock.mockserver.vim25.reading import SoapCall as SoapCall
from vismock.mockserver.vim25.reading import from_text
from vismock.mockserver.vim25.reading import parse_call as parse_call
from vismock.mockserver.vim25.reading import parse_value as parse_value
from vismock.mockserver.vim25.typemodel import MOREF, Field, model
from vismock.mockserver.vim25.values import (
    Data,
    MoRef,
    Typed,
    array_type,
    canonical_any,
    checker,
    entity_type_of,
    item_type,
    wire_type_of,
)

# -- text ----------------------------------------------------------------------------------------------------

# What text needs escaped (as libxml2 escapes it, so that both renderings agree byte for byte), or
# cannot carry at all (XML 1.0 has no control characters but tab, newline and carriage return).
_SPECIAL = re.compile("[&<>\r\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff\ufffe\uffff]")
_INVALID = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff\ufffe\uffff]")


def escape(text: str) -> str:
    """*text* as XML character data; ValueError for a character XML cannot carry."""
    if _SPECIAL.search(text) is None:
        return text
    invalid = _INVALID.search(text)
    if invalid is not None:
        raise ValueError(f"{text[:40]!r}: character {invalid.group()!r} cannot be written in XML")
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;").replace("\r", "&#13;")


def bool_text(value: bool) -> str:
    return "true" if value else "false"


def double_text(value: float) -> str:
    if math.isfinite(value):
        return repr(value)
    return "NaN" if math.isnan(value) else ("INF" if value > 0 else "-INF")


_DATETIME_TEXTS: dict[tuple[datetime, Any], str] = {}
_DATETIME_CACHE_SIZE = 4096


def datetime_text(value: datetime | XsDateTime) -> str:
    """Canonical xs:dateTime, exactly as :meth:`XsDateTime.from_datetime` writes it (remembered:
    a task's times are rendered again at every poll)."""
    if isinstance(value, XsDateTime):
        return escape(str(value))
    key = (value, value.tzinfo)  # equal instants in two zones are written differently
    found = _DATETIME_TEXTS.get(key)
    if found is None:
        if len(_DATETIME_TEXTS) >= _DATETIME_CACHE_SIZE:
            _DATETIME_TEXTS.clear()
        found = _DATETIME_TEXTS[key] = str(XsDateTime.from_datetime(value))
    return found


def _binary_text(value: bytes) -> str:
    return base64.b64encode(value).decode("ascii")


# -- rendering -----------------------------------------------------------------------------------------------

Writer = Callable[[list[str], str, Any, bool], None]
"""``write(out, tag, value, typed)``: append element *tag* holding *value* to *out*; *typed*:
with ``xsi:type`` even where the declaration says the type already."""

_WRITERS: dict[str, Writer] = {}
_FIELD_WRITERS: dict[str, dict[str, tuple[Writer, bool]]] = {}
_PRIMITIVE_TEXT: dict[str, Callable[[Any], str]] = {
    "string": escape,
    "anyURI": escape,
    "boolean": bool_text,
    "byte": str,
    "short": str,
    "int": str,
    "long": str,
    "float": double_text,
    "double": double_text,
    "dateTime": datetime_text,
    "base64Binary": _binary_text,
}


def writer(type_name: str) -> Writer:
    """How a value declared *type_name* is written (made once per type)."""
    found = _WRITERS.get(type_name)
    if found is None:
        found = _WRITERS.setdefault(type_name, _new_writer(type_name))
    return found


def _new_writer(type_name: str) -> Writer:
    kind = model().kind(type_name)
    if kind == "data":
        return _data_writer(type_name)
    if kind == "managed":
        return _write_moref
    if type_name == "anyType":
        return _write_any
    if kind == "enum":
        return _text_writer(type_name, str)
    return _text_writer(f"xsd:{type_name}", _PRIMITIVE_TEXT[type_name])


def _text_writer(xsi_type: str, text_of: Callable[[Any], str]) -> Writer:
    typed_attribute = f' xsi:type="{xsi_type}">'

    def write(out: list[str], tag: str, value: Any, typed: bool) -> None:
        out.append(f"<{tag}{typed_attribute if typed else '>'}{text_of(value)}</{tag}>")

    return write


def _write_moref(out: list[str], tag: str, ref: MoRef, typed: bool) -> None:
    typed_attribute = ' xsi:type="ManagedObjectReference"' if typed else ""
    out.append(f'<{tag} type="{ref.type}"{typed_attribute}>{escape(ref.value)}</{tag}>')


def _data_writer(declared: str) -> Writer:
    def write(out: list[str], tag: str, value: Data, typed: bool) -> None:
        actual = value._type
        out.append(f'<{tag} xsi:type="{actual}">' if typed or actual != declared else f"<{tag}>")
        fields = _FIELD_WRITERS.get(actual) or _field_writers(actual)
        for name, item in value._values.items():
            write_field, array = fields[name]
            if array:
                for one in item:
                    write_field(out, name, one, False)
            else:
                write_field(out, name, item, False)
        out.append(f"</{tag}>")

    return write


def _field_writers(type_name: str) -> dict[str, tuple[Writer, bool]]:
    table = {field.name: (writer(field.type), field.array) for field in model().fields(type_name)}
    return _FIELD_WRITERS.setdefault(type_name, table)


def _write_any(out: list[str], tag: str, value: Any, typed: bool = True) -> None:
    """An anyType value: always with the xsi:type of what it holds."""
    if isinstance(value, Typed):
        _write_typed(out, tag, value.type, value.value)
        return
    wire_type = wire_type_of(value)
    if wire_type is None:
        canonical_any(value, tag)  # raises: says why the wire type is unknown
        return
    _write_typed(out, tag, wire_type, value)


def _write_typed(out: list[str], tag: str, wire_type: str, value: Any) -> None:
    """*value* with ``xsi:type="wire_type"``; an ``ArrayOf...`` as vim25 writes one."""
    items = item_type(wire_type)
    if items is None:
        writer(wire_type)(out, tag, value, True)
        return
    out.append(f'<{tag} xsi:type="{wire_type}">')
    kind = model().kind(items)
    write_item = writer(items)
    item_tag = MOREF if kind == "managed" else items
    # Objects and references carry their type in an array too; text items do not.
    typed_items = kind in ("data", "managed")
    for one in value:
        write_item(out, item_tag, one, typed_items)
    out.append(f"</{tag}>")


_CHECKERS: dict[tuple[str, bool], Callable[[Any], Any]] = {}


def _checked(value: Any, type_name: str, array: bool, where: str) -> Any:
    check = _CHECKERS.get((type_name, array))
    if check is None:
        check = _CHECKERS.setdefault((type_name, array), checker(type_name, array, type_name))
    try:
        return check(value)
    except (TypeError, ValueError) as error:
        raise type(error)(f"<{where}>: {error}") from None


def render(name: str, value: Any, type_name: str, array: bool = False) -> str:
    """Element *name* holding *value* declared *type_name* (for an array, one element per item), as
    vCenter writes it: ``xsi:type`` only where the value's type is not the declared one (and
    always for ``anyType``); "" for an unset value."""
    if value is None:
        return ""
    value = _checked(value, type_name, array, name)
    if value is None:
        return ""
    out: list[str] = []
    write = writer(type_name)
    for one in value if array else (value,):
        write(out, name, one, False)
    return "".join(out)


def render_typed(name: str, value: Any, type_name: str, array: bool = False) -> str:
    """The same, always with ``xsi:type`` (as ``propSet/val`` and an ``anyType`` ``returnval``
    carry it); an array is one element of vim25's ``ArrayOf...`` type."""
    out: list[str] = []
    if array:
        items = _checked(value, type_name, True, name) or ()
        kind = model().kind(type_name)
        _write_typed(
            out, name, "ArrayOfManagedObjectReference" if kind == "managed" else array_type(type_name), items
        )
    else:
        writer(type_name)(out, name, _checked(value, type_name, False, name), True)
    return "".join(out)


def render_fields(value: Data) -> str:
    """The fields of *value*, in wire order, without an element around them."""
    out: list[str] = []
    writer(value._type)(out, "x", value, False)
    return "".join(out[1:-1])


# -- faults --------------------------------------------------------------------------------------------------

DEFAULT_CONTEXT = MoRef("ServiceInstance", "ServiceInstance")


def fault_data(
    fault_type: str, fields: Mapping[str, Any], message: str, *, context: MoRef | None = None
) -> Data:
    """Fault *fault_type* with *fields* (values, or their text as a task file keeps them:
    ``{"existingState": "poweredOn", "task": "task-12"}``), every required field it is not given
    filled so that every client can read it: text with *message*, numbers 0, booleans false, an
    enum its first value, a reference *context* where it may be one (else a reference of the
    declared type with an empty id), a data object one of the declared type filled likewise, an
    array one such item."""
    if fault_type not in model().fault_types():
        raise ValueError(f"{fault_type!r} is not a vim25 fault type")
    given = {
        name: _typed_field(fault_type, name, value) for name, value in fields.items() if value is not None
    }
    return _filled(fault_type, given, message, context or DEFAULT_CONTEXT)


def localized_fault(
    fault_type: str, fields: Mapping[str, Any], message: str | None, *, context: MoRef | None = None
) -> Data:
    """A ``LocalizedMethodFault`` (a TaskInfo's ``error``, a MissingProperty's ``fault``)."""
    fault = fault_data(fault_type, fields, message or "", context=context)
    return Data("LocalizedMethodFault", fault=fault, localizedMessage=message)


def fault_detail(
    fault_type: str, fields: Mapping[str, Any], message: str, *, context: MoRef | None = None
) -> str:
    """The detail of a SOAP fault: ``<{Type}Fault xmlns="urn:vim25" xsi:type="{Type}">`` and the
    fault's fields (see :func:`fault_data`), what pyVmomi and govmomi raise typed exceptions from."""
    fault = fault_data(fault_type, fields, message, context=context)
    content = render_fields(fault)
    return f'<{fault_type}Fault xmlns="{VIM25}" xsi:type="{fault_type}">{content}</{fault_type}Fault>'


def _typed_field(fault_type: str, name: str, value: Any) -> Any:
    declared = model().field(fault_type, name)
    if declared is None:
        return value  # Data says which fields there are
    if (
        not isinstance(value, str)
        or model().kind(declared.type) in ("enum",)
        or declared.type in ("string", "anyURI")
    ):
        return value
    if declared.array or model().kind(declared.type) == "data":
        raise TypeError(f"{fault_type}.{name} is a {declared.declared}: it cannot be given as text")
    if model().kind(declared.type) == "managed":
        return _reference_from_id(declared.type, value)
    try:
        return from_text(declared.type, value)
    except ValueError as error:
        raise ValueError(f"{fault_type}.{name} {error}") from None


def _reference_from_id(declared: str, mo_id: str) -> MoRef:
    """A reference of declared type *declared* known by its id: the type itself when nothing derives
    from it (a Task), else the entity type the id names if that fits."""
    if len(model().subtypes(declared)) == 1:
        return MoRef(declared, mo_id)
    guess = entity_type_of(mo_id)
    return MoRef(guess if model().is_subtype(guess, declared) else declared, mo_id)


def _filled(type_name: str, given: dict[str, Any], message: str, context: MoRef) -> Data:
    values = dict(given)
    for field in model().fields(type_name):
        if not field.optional and values.get(field.name) is None:
            placeholder = _placeholder(field, message, context)
            values[field.name] = (placeholder,) if field.array else placeholder
    return Data(type_name, **values)


def _placeholder(field: Field, message: str, context: MoRef) -> Any:
    kind = model().kind(field.type)
    if kind == "enum":
        return model().enum(field.type).values[0]
    if kind == "managed":
        return context if model().is_subtype(context.type, field.type) else MoRef(field.type, "")
    if kind == "data":
        return _filled(field.type, {}, message, context)
    return {
        "string": message,
        "anyURI": message,
        "boolean": False,
        "float": 0.0,
        "double": 0.0,
        "dateTime": datetime(1970, 1, 1, tzinfo=UTC),
        "base64Binary": b"",
        "anyType": message,
    }.get(field.type, 0)


# -- envelopes -----------------------------------------------------------------------------------------------

_XML_DECLARATION = '<?xml version="1.0" encoding="UTF-8"?>\n'
_ENVELOPE_HEAD = (
    f'{_XML_DECLARATION}<soapenv:Envelope xmlns:soapenv="{SOAPENV}" xmlns:xsd="{XSD}" xmlns:xsi="{XSI}">'
    "<soapenv:Body>"
)
_ENVELOPE_TAIL = "</soapenv:Body></soapenv:Envelope>"


def response_envelope(method: str, content: str = "") -> bytes:
    """The SOAP response of *method* holding *content* (its ``returnval`` elements)."""
    return (
        f'{_ENVELOPE_HEAD}<{method}Response xmlns="{VIM25}">{content}</{method}Response>{_ENVELOPE_TAIL}'
    ).encode()


def fault_envelope(
    fault_type: str, fields: Mapping[str, Any], message: str, *, context: MoRef | None = None
) -> bytes:
    """A SOAP fault whose detail is fault *fault_type* (see :func:`fault_detail`)."""
    detail = fault_detail(fault_type, fields, message, context=context)
    return (
        f"{_ENVELOPE_HEAD}<soapenv:Fault><faultcode>ServerFaultCode</faultcode>"
        f"<faultstring>{escape(message)}</faultstring><detail>{detail}</detail></soapenv:Fault>{_ENVELOPE_TAIL}"
    ).encode()
