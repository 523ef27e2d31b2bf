"""A SOAP response checked against the vim25 model, as a strict client would read it.

:func:`envelope_errors` says what is wrong with a response (or a SOAP fault): the envelope's
shape, the response element of a vim25 method and its ``returnval`` against the method's declared
return, and every value below it: element names and their order, required fields, the kinds of
values, ``xsi:type`` (present where vim25 needs it, naming a type that fits the declaration),
references' ``type`` attribute and enum values. Tests run it on every answer the mock gives.
"""

from __future__ import annotations

from collections.abc import Iterable
from functools import cache

from lxml import etree

from vismock.codec.parsing import ParseFailure, parse
from vismock.mockserver.vim25.reading import SOAPENV, VIM25, XSD, XSI_TYPE, from_text
from vismock.mockserver.vim25.typemodel import MOREF, Field, Method, model
from vismock.mockserver.vim25.values import item_type

_VIM25_PREFIX = f"{{{VIM25}}}"


def envelope_errors(response: bytes) -> list[str]:
    """What is wrong with SOAP response *response*, each problem with its line and element path;
    [] when a strict vim25 client reads it without a doubt."""
    try:
        root = parse(response).getroot()
    except ParseFailure as failure:
        return [f"line {failure.issue.line}: not XML: {failure.issue.reason}"]
    if root.tag != f"{{{SOAPENV}}}Envelope":
        return [
            f"line {root.sourceline}: the root is <{etree.QName(root).localname}>, not a SOAP 1.1 Envelope"
        ]
    body = root.find(f"{{{SOAPENV}}}Body")
    payloads = [] if body is None else list(body)
    if len(payloads) != 1:
        return [f"line {root.sourceline}: soapenv:Body must hold exactly one element, not {len(payloads)}"]
    errors = _Errors()
    if payloads[0].tag == f"{{{SOAPENV}}}Fault":
        _fault(payloads[0], errors)
    else:
        _response(payloads[0], errors)
    return errors.found


class _Errors:
    def __init__(self) -> None:
        self.found: list[str] = []

    def add(self, element: etree._Element, problem: str) -> None:
        self.found.append(f"line {element.sourceline}: {_path(element)}: {problem}")


def _path(element: etree._Element) -> str:
    names: list[str] = []
    current: etree._Element | None = element
    while current is not None and current.tag != f"{{{SOAPENV}}}Body":
        names.append(etree.QName(current).localname)
        current = current.getparent()
    return "/".join(reversed(names))


# -- faults --------------------------------------------------------------------------------------------------


def _fault(fault: etree._Element, errors: _Errors) -> None:
    for name in ("faultcode", "faultstring"):
        if fault.find(name) is None:
            errors.add(fault, f"lacks <{name}>")
    detail = fault.find("detail")
    details = [] if detail is None else list(detail)
    if detail is None or len(details) != 1:
        errors.add(fault, "must hold a <detail> of exactly one element (the vim25 fault)")
        return
    element = details[0]
    tag = str(element.tag)
    named = tag[len(_VIM25_PREFIX) :].removesuffix("Fault") if tag.startswith(_VIM25_PREFIX) else ""
    if not tag.endswith("Fault") or named not in model().fault_types():
        errors.add(element, "is not a vim25 fault element (<{Type}Fault> in urn:vim25, Type a MethodFault)")
        return
    if element.get(XSI_TYPE) is None:
        errors.add(element, f"lacks xsi:type (clients type the fault by it: xsi:type={named!r})")
    _value(element, named, errors)


# -- responses -----------------------------------------------------------------------------------------------


@cache
def _methods_named(wire_name: str) -> tuple[Method, ...]:
    """Every declaration of method *wire_name* (a response does not say which object answered)."""
    found = (model().method(name, wire_name) for name in model().managed_type_names())
    return tuple(
        {(method.declared_by, method.name): method for method in found if method is not None}.values()
    )


def _response(response: etree._Element, errors: _Errors) -> None:
    tag = str(response.tag)
    if not tag.startswith(_VIM25_PREFIX) or not tag.endswith("Response"):
        errors.add(response, "is not a vim25 method's response (<{Method}Response> in urn:vim25)")
        return
    methods = _methods_named(tag[len(_VIM25_PREFIX) : -len("Response")])
    if not methods:
        errors.add(response, "answers no vim25 method")
        return
    # Methods of one name declared on several types may return differently: any one may fit.
    attempts = []
    for method in methods:
        attempt = _Errors()
        _returned(response, method, attempt)
        if not attempt.found:
            return
        attempts.append(attempt)
    errors.found.extend(attempts[0].found)


def _returned(response: etree._Element, method: Method, errors: _Errors) -> None:
    values = list(response)
    for value in values:
        if value.tag != f"{_VIM25_PREFIX}returnval":
            errors.add(value, "is not a <returnval>")
    declared = method.returns
    if declared is None:
        if values:
            errors.add(response, f"{method.name} returns nothing, but the response holds elements")
        return
    if not values and not declared.optional:
        errors.add(response, f"lacks <returnval>: {method.name} returns a {declared.declared}")
    if len(values) > 1 and not declared.array:
        errors.add(values[1], f"is repeated, but {method.name} returns one {declared.type}")
    for value in values:
        _value(value, declared.type, errors)


# -- values --------------------------------------------------------------------------------------------------


def _value(element: etree._Element, declared: str, errors: _Errors) -> None:
    """*element* as a value declared *declared*."""
    actual = _actual_type(element, declared, errors)
    if actual is None:
        return
    items = item_type(actual)
    if items is not None:
        _array(element, actual, items, errors)
        return
    kind = model().kind(actual)
    if kind == "data":
        _data(element, actual, errors)
    elif kind == "managed":
        _moref(element, actual, errors)
    elif kind == "enum":
        _enum(element, actual, errors)
    else:
        _primitive(element, actual, errors)


def _actual_type(element: etree._Element, declared: str, errors: _Errors) -> str | None:
    """The type *element*'s value has: its xsi:type, if any, checked against *declared*."""
    xsi_type = element.get(XSI_TYPE)
    if xsi_type is None:
        if declared == "anyType":
            errors.add(element, "is an anyType without xsi:type: its value's type is unknown")
            return None
        return declared
    prefix, _, local = xsi_type.rpartition(":")
    namespace = element.nsmap.get(prefix or None)
    named = _named_type(namespace, local)
    if named is None:
        errors.add(element, f"has xsi:type {xsi_type!r}, which names no vim25 type")
        return None
    if declared == "anyType" or named == declared:
        return named
    kind = model().kind(declared)
    if kind == "managed" and named == MOREF:
        return declared
    if kind == "data" and model().kind_or_none(named) == "data" and model().is_subtype(named, declared):
        return named
    errors.add(element, f"has xsi:type {named!r}, which is not a {declared}")
    return None


def _named_type(namespace: str | None, local: str) -> str | None:
    if namespace == XSD:
        return local if model().kind_or_none(local) == "primitive" else None
    if namespace == VIM25:
        return local if local in model() or item_type(local) is not None else None
    return None


def _array(element: etree._Element, array_type: str, items: str, errors: _Errors) -> None:
    _no_text(element, array_type, errors)
    item_tag = MOREF if model().kind(items) == "managed" else items
    for child in element:
        if child.tag != f"{_VIM25_PREFIX}{item_tag}":
            errors.add(child, f"is not an item of {array_type} (<{item_tag}>)")
        else:
            _value(child, items, errors)


def _data(element: etree._Element, type_name: str, errors: _Errors) -> None:
    _no_text(element, type_name, errors)
    fields, position = _fields(type_name)
    seen: set[str] = set()
    last, last_name = -1, ""
    for child in element:
        tag = str(child.tag)
        name = tag[len(_VIM25_PREFIX) :] if tag.startswith(_VIM25_PREFIX) else None
        field = fields.get(name) if name is not None else None
        if field is None:
            errors.add(child, f"is not a field of {type_name}")
            continue
        index = position[field.name]
        if index < last:
            errors.add(
                child, f"is out of order: a {type_name}'s <{field.name}> comes before its <{last_name}>"
            )
        elif index == last and not field.array:
            errors.add(child, "is repeated, but it is not an array")
        if index > last:
            last, last_name = index, field.name
        seen.add(field.name)
        _value(child, field.type, errors)
    for field in fields.values():
        if not field.optional and field.name not in seen:
            errors.add(element, f"lacks <{field.name}>, which a {type_name} requires")


@cache
def _fields(type_name: str) -> tuple[dict[str, Field], dict[str, int]]:
    fields = model().fields(type_name)
    return {field.name: field for field in fields}, {field.name: index for index, field in enumerate(fields)}


def _moref(element: etree._Element, declared: str, errors: _Errors) -> None:
    mo_type = element.get("type")
    if not mo_type:
        errors.add(element, f"is a reference to a {declared} without a type attribute")
    elif model().kind_or_none(mo_type) != "managed":
        errors.add(element, f"refers to {mo_type!r}, which is not a vim25 managed type")
    elif not model().is_subtype(mo_type, declared):
        errors.add(element, f"refers to a {mo_type}, which is not a {declared}")
    if len(element):
        errors.add(element, "is a reference but holds elements")


def _enum(element: etree._Element, type_name: str, errors: _Errors) -> None:
    if _no_children(element, type_name, errors):
        values = model().enum(type_name).values
        if (element.text or "") not in values:
            errors.add(element, f"holds {element.text!r}, not a {type_name} value ({_some(values)})")


def _primitive(element: etree._Element, type_name: str, errors: _Errors) -> None:
    if _no_children(element, type_name, errors):
        try:
            from_text(type_name, element.text or "")
        except ValueError as error:
            errors.add(element, str(error))


def _no_children(element: etree._Element, type_name: str, errors: _Errors) -> bool:
    if len(element):
        errors.add(element, f"holds elements, but a {type_name} is a simple value")
        return False
    return True


def _no_text(element: etree._Element, type_name: str, errors: _Errors) -> None:
    if element.text and element.text.strip():
        errors.add(element, f"holds text, but a {type_name} holds only elements")


def _some(values: Iterable[str]) -> str:
    listed = list(values)
    return ", ".join(listed[:8]) + (", ..." if len(listed) > 8 else "")
