"""vim25 on the wire: reading SOAP requests and writing SOAP responses and faults.

The mock's SOAP face (:mod:`vismock.mockserver.soap`) decides *what* to answer;
this module knows *how* vim25 says it: the envelope, managed object
references, ``xsi:type`` on polymorphic values, TaskInfo in vim25's shape (from
the same codec dict the adapter face renders) and SOAP faults whose
``<{Type}Fault>`` detail pyVmomi and govmomi turn into typed exceptions.

Every response written here is checked against the vim25 model
(:func:`vismock.mockserver.vim25.check.envelope_errors`; the tests run it on each one).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from lxml import etree

from vismock.codec.parsing import ParseFailure, parse
from vismock.codec.taskinfo import REASON_GROUP, Slot, entity_of, task_info_model
from vismock.codec.values import XsDateTime
from vismock.faults import (
    InvalidArgument,
    InvalidProperty,
    InvalidRequest,
    ManagedObjectNotFound,
    MethodNotFound,
    VimFault,
)
from vismock.mockserver.vim25 import xml as vim25_xml
from vismock.mockserver.vim25.values import Data
from vismock.mockserver.vim25.values import MoRef as MoRef  # moved there; importable here too
from vismock.mockserver.vim25.values import entity_type_of as entity_type_of
from vismock.schemas import entity_types, fault_types, schema_directory
from vismock.schemas import fault_fields as fault_field_types

VIM25 = "urn:vim25"
SOAPENV = "http://schemas.xmlsoap.org/soap/envelope/"
XSI = "http://www.w3.org/2001/XMLSchema-instance"
XSD = "http://www.w3.org/2001/XMLSchema"
XSI_TYPE = f"{{{XSI}}}type"
ENVELOPE_NSMAP = {"soapenv": SOAPENV, "xsd": XSD, "xsi": XSI}
API_VERSION = "8.0.3.0"
PRIOR_API_VERSIONS = ("8.0.2.0", "8.0.1.0", "8.0.0.0", "7.0.3.0", "7.0.2.0", "7.0.1.0", "7.0", "6.7", "6.5")

# The elements of the adapter schema's ManagedEntity group: in the codec's
# TaskInfo dict the entity is an element named after its managed object type.
MANAGED_ENTITY_TYPES = entity_types()

# -- reading requests ----------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class SoapRequest:
    """One vim25 call: the method name, its ``_this`` and its argument element."""

    method: str
    this: MoRef | None
    call: etree._Element
    # What handlers derived from this call (its parsed filter specs), reused while the same call
    # object is: the face keeps parsed calls of small bodies, which pollers send again and again.
    memo: dict[str, Any] = field(default_factory=dict, compare=False, repr=False)

    def arg(self, name: str) -> etree._Element | None:
        return self.call.find(f"{{{VIM25}}}{name}")

    def args(self, name: str) -> list[etree._Element]:
        return self.call.findall(f"{{{VIM25}}}{name}")

    def text(self, name: str, default: str | None = None) -> str | None:
        found = self.arg(name)
        return default if found is None else (found.text or "")


_VIM25_PREFIX = f"{{{VIM25}}}"
_THIS = f"{{{VIM25}}}_this"


def parse_request(data: bytes) -> SoapRequest:
    """The call in a SOAP request body; InvalidRequest when it is not a vim25 SOAP call."""
    try:
        root = parse(data).getroot()
    except ParseFailure as failure:
        raise InvalidRequest(f"The request body is not a SOAP envelope: {failure.issue.reason}") from None
    if root.tag != f"{{{SOAPENV}}}Envelope":
        namespace = etree.QName(root).namespace
        if etree.QName(root).localname == "Envelope" and namespace:
            raise InvalidRequest(
                f"SOAP envelope namespace {namespace!r} is not supported; vim25 uses SOAP 1.1 ({SOAPENV})"
            )
        raise InvalidRequest(f"The request root element is {_name(root.tag)!r}, not a SOAP Envelope")
    body = root.find(f"{{{SOAPENV}}}Body")
    calls = [] if body is None else list(body)  # the safe parser drops comments and PIs
    if len(calls) != 1:
        raise InvalidRequest("The SOAP Body must hold exactly one vim25 method call")
    call = calls[0]
    tag = str(call.tag)
    if not tag.startswith(_VIM25_PREFIX):
        raise InvalidRequest(f"The method {_name(tag)!r} is not in the urn:vim25 namespace")
    method = tag[len(_VIM25_PREFIX) :]
    this = call.find(_THIS)
    return SoapRequest(method=method, this=None if this is None else moref_of(this), call=call)


def moref_of(element: etree._Element) -> MoRef:
    """The ManagedObjectReference *element* holds; InvalidRequest without a type."""
    mo_type = element.get("type")
    if not mo_type:
        raise InvalidRequest(f"<{_name(element.tag)}> is a managed object reference without a type")
    return MoRef(type=mo_type, value=(element.text or "").strip())


def child_text(element: etree._Element, name: str) -> str | None:
    found = element.find(f"{{{VIM25}}}{name}")
    return None if found is None else (found.text or "")


def child_bool(element: etree._Element, name: str, default: bool = False) -> bool:
    text = child_text(element, name)
    if text is None:
        return default
    if text.strip() in ("true", "1"):
        return True
    if text.strip() in ("false", "0"):
        return False
    raise InvalidRequest(f"<{name}> must be a boolean, not {text!r}")


def child_int(element: etree._Element, name: str) -> int | None:
    text = child_text(element, name)
    if text is None or not text.strip():
        return None
    try:
        return int(text)
    except ValueError:
        raise InvalidRequest(f"<{name}> must be an integer, not {text!r}") from None


def children(element: etree._Element, name: str) -> list[etree._Element]:
    return element.findall(f"{{{VIM25}}}{name}")


def _name(tag: Any) -> str:
    return etree.QName(tag).localname if isinstance(tag, str) else str(tag)


# -- writing values ------------------------------------------------------------------------------------------

Fill = Callable[[etree._Element], None]


@dataclass(frozen=True, slots=True)
class Value:
    """A property value: its xsi:type and how to fill an element with it."""

    xsi_type: str
    fill: Fill
    key: str | None = None  # identifies the content when it is a pure function of data (cacheable)
    refs: tuple[MoRef, ...] | None = None  # the references it holds (a moref, or an array of them)


def sub(parent: etree._Element, name: str, text: str | None = None, **attrs: str) -> etree._Element:
    element = etree.SubElement(parent, f"{{{VIM25}}}{name}", attrs)
    if text is not None:
        element.text = text
    return element


def sub_moref(parent: etree._Element, name: str, ref: MoRef) -> etree._Element:
    return sub(parent, name, ref.value, type=ref.type)


def sub_value(parent: etree._Element, name: str, value: Value) -> etree._Element:
    element = sub(parent, name)
    element.set(XSI_TYPE, value.xsi_type)
    value.fill(element)
    return element


def text_value(xsi_type: str, text: str) -> Value:
    def fill(element: etree._Element) -> None:
        element.text = text

    return Value(xsi_type, fill)


def format_datetime(value: datetime) -> str:
    """An aware datetime as canonical xs:dateTime text (the codec's rendering)."""
    return str(XsDateTime.from_datetime(value))


def bool_text(flag: bool) -> str:
    return "true" if flag else "false"


def moref_array(refs: Sequence[MoRef]) -> Value:
    def fill(element: etree._Element) -> None:
        for ref in refs:
            item = sub_moref(element, "ManagedObjectReference", ref)
            item.set(XSI_TYPE, "ManagedObjectReference")

    return Value("ArrayOfManagedObjectReference", fill, refs=tuple(refs))


def data_array(item_type: str, items: Sequence[Value]) -> Value:
    """``ArrayOf{item_type}``: one ``<{item_type}>`` per item, each with its own xsi:type."""

    def fill(element: etree._Element) -> None:
        for item in items:
            sub_value(element, item_type, item)

    return Value(f"ArrayOf{item_type}", fill)


def datetime_value(value: datetime) -> Value:
    return text_value("xsd:dateTime", format_datetime(value))


def data_object(xsi_type: str, fields: Sequence[tuple[str, str | None]]) -> Value:
    """A data object of plain text fields, in order (None: the field is unset)."""

    def fill(element: etree._Element) -> None:
        for name, text in fields:
            if text is not None:
                sub(element, name, text)

    return Value(xsi_type, fill)


def string_array(texts: Sequence[str]) -> Value:
    def fill(element: etree._Element) -> None:
        for text in texts:
            sub(element, "string", text).set(XSI_TYPE, "xsd:string")

    return Value("ArrayOfString", fill)


# -- TaskInfo ------------------------------------------------------------------------------------------------


def reason_types() -> tuple[str, ...]:
    """The TaskReason types a TaskInfo's reason may be (the schema's TaskReason group)."""
    return task_info_model().slot(REASON_GROUP).elements


FaultFields = tuple[tuple[str, str], ...]
"""A fault's own vim25 fields, in schema order (``(("existingState", "poweredOff"),)``)."""


def task_info_value(info: Mapping[str, Any], fault_fields: FaultFields = ()) -> Value:
    """vim25 TaskInfo from the codec's TaskInfo dict (the one model both faces render), and the
    fields of its error's fault (which the adapter's TaskInfo does not carry)."""

    def fill(element: etree._Element) -> None:
        fill_task_info(element, info, fault_fields)

    return Value("TaskInfo", fill)


def fill_task_info(element: etree._Element, info: Mapping[str, Any], fault_fields: FaultFields = ()) -> None:
    """TaskInfo's fields in schema order (vismock.codec.taskinfo), each in vim25's shape."""
    for slot in task_info_model().slots:
        found = slot.value_in(info)
        if found is not None:
            fill_slot(element, slot, found[0], found[1], info, fault_fields)


def fill_slot(
    parent: etree._Element,
    slot: Slot,
    name: str,
    value: Any,
    info: Mapping[str, Any],
    fault_fields: FaultFields = (),
) -> None:
    """One TaskInfo field as vim25 writes it, by what the adapter schema says it is: a managed
    object reference, a data object of one of a few known types, or plain text."""
    if slot.is_reference:
        sub(parent, slot.vim25_name, str(value), type=name)  # <Task>t</Task> -> <task type="Task">t</task>
    elif slot.type_name == "ManagedEntityRef":
        for item in value or ():
            for mo_type, mo_id in item.items():
                sub(parent, slot.vim25_name, str(mo_id), type=mo_type)
    elif slot.is_simple:
        element = sub(parent, slot.vim25_name, plain_text(value))
        if slot.vim25_any:
            element.set(XSI_TYPE, xsi_type_of(slot))
    else:
        data_object = _data_object(slot, name, value, info, fault_fields)
        element = sub(parent, slot.vim25_name)
        if slot.name == REASON_GROUP:
            element.set(XSI_TYPE, data_object.xsi_type)
        data_object.fill(element)


def task_info_field(info: Mapping[str, Any], vim25_name: str, fault_fields: FaultFields = ()) -> Value | None:
    """The value of property ``info.<vim25_name>`` of a task (None when unset)."""
    slot = task_info_model().by_vim25_name(vim25_name)
    found = slot.value_in(info)
    if found is None:
        return None
    name, value = found
    if slot.is_reference:
        return moref_value(MoRef(name, str(value)))
    if slot.type_name == "ManagedEntityRef":
        return moref_array([MoRef(mo_type, str(mo_id)) for item in value for mo_type, mo_id in item.items()])
    if slot.is_simple:
        return text_value(xsi_type_of(slot), plain_text(value))
    return _data_object(slot, name, value, info, fault_fields)


def _data_object(
    slot: Slot, name: str, value: Any, info: Mapping[str, Any], fault_fields: FaultFields = ()
) -> Value:
    """A data object field of TaskInfo: the reason (its type is the element chosen), a
    LocalizableMessage or a LocalizedMethodFault."""
    if slot.name == REASON_GROUP:
        return Value(name, lambda element: fill_reason(element, name, value or {}))
    if slot.type_name == "LocalizableMessage":
        return Value(slot.type_name, lambda element: _fill_localizable_message(element, value))
    if slot.type_name == "LocalizedMethodFault":
        context = task_entity(info)
        return Value(
            slot.type_name,
            lambda element: fill_localized_fault(
                element, value, context=context, info=info, fields=fault_fields
            ),
        )
    raise TypeError(f"TaskInfo field {name!r} of type {slot.type_name!r} has no vim25 rendering")


def xsi_type_of(slot: Slot) -> str:
    """vim25's type of a simple field: its enumeration's own type (TaskInfoState), else the builtin."""
    return slot.type_name if slot.enumeration else f"xsd:{slot.builtin}"


def plain_text(value: Any) -> str:
    return bool_text(value) if isinstance(value, bool) else str(value)


def task_entity(info: Mapping[str, Any]) -> MoRef | None:
    found = entity_of(info)
    return None if found is None else MoRef(*found)


def fill_reason(reason: etree._Element, reason_type: str, fields: Mapping[str, Any]) -> None:
    """A TaskReason's fields (the element's xsi:type is *reason_type*)."""
    if reason_type == "TaskReasonUser":
        sub(reason, "userName", str(fields.get("userName") or ""))
    elif reason_type == "TaskReasonAlarm":
        sub(reason, "alarmName", str(fields.get("alarmName") or ""))
        sub(reason, "alarm", str(fields.get("alarm") or ""), type="Alarm")
        sub(reason, "entityName", str(fields.get("entityName") or ""))
        entity_id = str(fields.get("entity") or "")
        sub(reason, "entity", entity_id, type=entity_type_of(entity_id))
    elif reason_type == "TaskReasonSchedule":
        sub(reason, "name", str(fields.get("name") or ""))
        sub(reason, "scheduledTask", str(fields.get("scheduledTask") or ""), type="ScheduledTask")


def moref_value(ref: MoRef) -> Value:
    def fill(element: etree._Element) -> None:
        element.set("type", ref.type)
        element.text = ref.value

    return Value("ManagedObjectReference", fill, refs=(ref,))


def _fill_localizable_message(element: etree._Element, message: Mapping[str, Any]) -> None:
    sub(element, "key", str(message.get("key") or ""))
    for arg in message.get("arg") or ():
        item = sub(element, "arg")
        sub(item, "key", str(arg.get("key") or ""))
        sub_value(item, "value", text_value("xsd:string", str(arg.get("value") or "")))
    _optional_text(element, "message", message.get("message"))


def _optional_text(element: etree._Element, name: str, value: Any) -> None:
    if value is not None:
        sub(element, name, str(value))


# -- faults --------------------------------------------------------------------------------------------------


def served_fault_types() -> frozenset[str]:
    """Every vim25 fault type (the vim25 model's): each has a ``<{Type}Fault>`` detail element."""
    return fault_types()


def served_fault_type(fault_type: str) -> str:
    """*fault_type* if vim25 (and so every client) knows it; else SystemError."""
    return fault_type if fault_type in served_fault_types() else "SystemError"


def fill_fault_fields(
    element: etree._Element,
    fault_type: str,
    message: str,
    *,
    context: MoRef | None = None,
    info: Mapping[str, Any] | None = None,
    fault: VimFault | None = None,
    fields: FaultFields = (),
) -> None:
    """The fields vim25 requires of *fault_type*: those the fault carries (a task's error step,
    a raised fault's own), else what is known about the failure."""
    if _fill_given_fields(element, fault_type, fields or (fault.fields() if fault is not None else ())):
        return
    context = context or MoRef("ServiceInstance", "ServiceInstance")
    if fault_type == "ManagedObjectNotFound":
        ref = MoRef(fault.mo_type, fault.mo_id) if isinstance(fault, ManagedObjectNotFound) else context
        sub_moref(element, "obj", ref)
    elif fault_type == "MethodNotFound":
        sub_moref(element, "receiver", context)
        sub(element, "method", fault.method if isinstance(fault, MethodNotFound) else message)
    elif fault_type in ("SystemError", "GenericVmConfigFault"):
        sub(element, "reason", message)
    elif fault_type == "InvalidProperty":
        sub(element, "name", fault.name if isinstance(fault, InvalidProperty) else message)
    elif fault_type == "InvalidArgument" and isinstance(fault, InvalidArgument) and fault.invalid_property:
        sub(element, "invalidProperty", fault.invalid_property)
    elif fault_type == "NotAuthenticated":
        sub_moref(element, "object", context)
        sub(element, "privilegeId", "System.View")
    elif fault_type == "TaskInProgress":
        sub(element, "task", str((info or {}).get("Task") or context.value), type="Task")
    elif fault_type == "InvalidPowerState":
        name = str((info or {}).get("name") or "")
        sub(element, "existingState", "poweredOff" if "PowerOff" in name else "poweredOn")
    elif fault_type in ("FileFault", "FileNotFound", "CannotAccessFile", "NoDiskSpace"):
        sub(element, "file", message)
        if fault_type == "NoDiskSpace":
            sub(element, "datastore", str((info or {}).get("entityName") or ""))
    elif fault_type == "DuplicateName":
        sub(element, "name", message)
        sub_moref(element, "object", context)
    else:
        # Any other vim25 fault: what was given of its fields, the rest it requires as the model
        # fills them (vim25.xml.fault_data).
        given = fields or (fault.fields() if fault is not None else ())
        _append_fields(element, _model_fault(fault_type, given, message, context))


def _model_fault(fault_type: str, given: FaultFields, message: str, context: MoRef) -> Data:
    try:
        return vim25_xml.fault_data(fault_type, dict(given), message, context=context)
    except (TypeError, ValueError):  # a given text that is not a value of its field's type
        return vim25_xml.fault_data(fault_type, {}, message, context=context)


def _append_fields(element: etree._Element, data: Data) -> None:
    fragment = f'<f xmlns="{VIM25}" xmlns:xsi="{XSI}" xmlns:xsd="{XSD}">{vim25_xml.render_fields(data)}</f>'
    element.extend(list(etree.fromstring(fragment)))


def fill_missing_property(element: etree._Element, path: str, fault: VimFault, context: MoRef) -> None:
    """A MissingProperty: the property *path* of *context* that could not be read, and why."""
    sub(element, "path", path)
    localized = sub(element, "fault")
    fault_type = served_fault_type(fault.fault_type)
    inner = sub(localized, "fault")
    inner.set(XSI_TYPE, fault_type)
    fill_fault_fields(inner, fault_type, fault.message, context=context, fault=fault)
    sub(localized, "localizedMessage", fault.message)


def _fill_given_fields(element: etree._Element, fault_type: str, fields: FaultFields) -> bool:
    """Write *fields* when they give every field *fault_type* requires, each as the vim25 model
    types it; False when they do not, or one is no value of its field (nothing written: then the
    fields are made up from what is known)."""
    declared = {declared.name: declared for declared in fault_field_types(fault_type)}
    given = dict(fields)
    if not fields or any(one.required and name not in given for name, one in declared.items()):
        return False
    try:
        found = vim25_xml.fault_data(fault_type, given, "")
    except (TypeError, ValueError):
        return False
    _append_fields(element, found)
    return True


def fill_localized_fault(
    element: etree._Element,
    error: Mapping[str, Any],
    *,
    context: MoRef | None = None,
    info: Mapping[str, Any] | None = None,
    fields: FaultFields = (),
) -> None:
    """vim25 LocalizedMethodFault from the codec's ``{"fault", "localizedMessage"}``."""
    message = str(error.get("localizedMessage") or "")
    wanted = str(error.get("fault") or "SystemError")
    fault_type = served_fault_type(wanted)
    if fault_type != wanted:
        message = f"{wanted}: {message}" if message else wanted
    fault = sub(element, "fault")
    fault.set(XSI_TYPE, fault_type)
    fill_fault_fields(fault, fault_type, message, context=context, info=info, fields=fields)
    if error.get("localizedMessage") is not None or fault_type != wanted:
        sub(element, "localizedMessage", message)


# -- envelopes -----------------------------------------------------------------------------------------------

_XML_DECLARATION = b'<?xml version="1.0" encoding="UTF-8"?>\n'


def new_envelope() -> tuple[etree._Element, etree._Element]:
    """An empty ``soapenv:Envelope`` and its ``soapenv:Body``."""
    envelope = etree.Element(f"{{{SOAPENV}}}Envelope", nsmap=ENVELOPE_NSMAP)
    return envelope, etree.SubElement(envelope, f"{{{SOAPENV}}}Body")


def serialize(envelope: etree._Element) -> bytes:
    return _XML_DECLARATION + etree.tostring(envelope, encoding="UTF-8", xml_declaration=False)


_RESPONSE_NSMAP = {None: VIM25, "xsd": XSD, "xsi": XSI}
_ENVELOPE_HEAD = (
    _XML_DECLARATION
    + (
        f'<soapenv:Envelope xmlns:soapenv="{SOAPENV}" xmlns:xsd="{XSD}" xmlns:xsi="{XSI}"><soapenv:Body>'
    ).encode()
)
_ENVELOPE_TAIL = b"</soapenv:Body></soapenv:Envelope>"


def response_envelope(method: str, fill: Callable[[etree._Element], None] | None = None) -> bytes:
    """The SOAP response of *method*; *fill* writes the response element's content.

    Only the response element is built as a tree; the fixed envelope around it is
    bytes (the same document, without building and serialising two more elements).
    """
    response = etree.Element(f"{{{VIM25}}}{method}Response", nsmap=_RESPONSE_NSMAP)
    if fill is not None:
        fill(response)
    return _ENVELOPE_HEAD + etree.tostring(response, encoding="UTF-8", xml_declaration=False) + _ENVELOPE_TAIL


def fault_envelope(fault: VimFault, *, context: MoRef | None = None) -> bytes:
    """A SOAP fault whose detail is ``<{Type}Fault xsi:type="{Type}">`` (what clients type on)."""
    fault_type = served_fault_type(fault.fault_type)
    message = fault.message if fault_type == fault.fault_type else f"{fault.fault_type}: {fault.message}"
    envelope, body = new_envelope()
    soap_fault = etree.SubElement(body, f"{{{SOAPENV}}}Fault")
    etree.SubElement(soap_fault, "faultcode").text = "ServerFaultCode"
    etree.SubElement(soap_fault, "faultstring").text = message
    detail = etree.SubElement(soap_fault, "detail")
    element = etree.SubElement(detail, f"{{{VIM25}}}{fault_type}Fault", nsmap={None: VIM25})
    element.set(XSI_TYPE, fault_type)
    fill_fault_fields(element, fault_type, message, context=context, fault=fault)
    return serialize(envelope)


def service_versions_document() -> bytes:
    """``/sdk/vimServiceVersions.xml``: which vim25 versions the face speaks."""
    root = etree.Element("namespaces", version="1.0")
    namespace = etree.SubElement(root, "namespace")
    etree.SubElement(namespace, "name").text = VIM25
    etree.SubElement(namespace, "version").text = API_VERSION
    prior = etree.SubElement(namespace, "priorVersions")
    for version in PRIOR_API_VERSIONS:
        etree.SubElement(prior, "version").text = version
    return _XML_DECLARATION + etree.tostring(root, encoding="UTF-8", pretty_print=True)


# -- the schema ----------------------------------------------------------------------------------------------


def schema_path() -> Path:
    """The trimmed vim25 schema, which :mod:`.paths` still reads nested property paths' types from."""
    return schema_directory() / "vim25" / "vim25.xsd"


def fault_type_of(response: bytes) -> str | None:
    """The xsi:type of a SOAP fault's detail, or None for a non-fault response."""
    root = etree.fromstring(response)
    detail = root.find(f"{{{SOAPENV}}}Body/{{{SOAPENV}}}Fault/detail")
    if detail is None or len(detail) == 0:
        return None
    return detail[0].get(XSI_TYPE)
