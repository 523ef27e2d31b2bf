"""vim25 TaskInfo and the adapter's TaskInfo: one value, two renderings.

The mock keeps a task's ``info`` as vim25's ``TaskInfo`` data object (typed result, fault with its
fields, morefs); the adapter face and the VIS operations speak the adapter schema's TaskInfo (the
codec's dict: an entity element named after its type, a fault named by its type). The two
conversions here are the only place that knows how one maps to the other, and both take the
fields and their order from the one TaskInfo model of the adapter schema
(:func:`vismock.codec.taskinfo.task_info_model`): a field added to the XSD is carried both ways.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from functools import cache
from typing import Any

from vismock.codec import XsDateTime
from vismock.codec.taskinfo import ENTITY_GROUP, REASON_GROUP, Slot, task_info_model
from vismock.mockserver.vim25.typemodel import model
from vismock.mockserver.vim25.values import Data, MoRef, entity_type_of
from vismock.mockserver.vim25.xml import localized_fault
from vismock.schemas import task_methods

FaultFields = Sequence[tuple[str, str]]

# The TaskReason types' fields that are references, and their types.
_REASON_REFERENCES = {"alarm": "Alarm", "scheduledTask": "ScheduledTask"}


def to_vim25(info: Mapping[str, Any], fault_fields: FaultFields = ()) -> Data:
    """vim25 TaskInfo from the adapter's TaskInfo dict (and the fields of its error's fault)."""
    fields: dict[str, Any] = {}
    for slot, convert in _conversions():
        found = slot.value_in(info)
        if found is not None:
            name, value = found
            fields[slot.vim25_name] = value if convert is None else convert(name, value, info, fault_fields)
    return Data("TaskInfo", **fields)


Conversion = Callable[[str, Any, Mapping[str, Any], FaultFields], Any]


@cache
def _conversions() -> tuple[tuple[Slot, Conversion | None], ...]:
    """Each slot with how its value becomes vim25's (None: as it is), chosen once from the model."""
    return tuple((slot, _conversion(slot)) for slot in task_info_model().slots)


def _conversion(slot: Slot) -> Conversion | None:
    if slot.is_reference:
        return lambda name, value, info, fault_fields: MoRef(name, str(value))  # <Task>t</Task>
    if slot.type_name == "ManagedEntityRef":
        return lambda name, value, info, fault_fields: tuple(
            MoRef(mo_type, str(mo_id)) for item in value or () for mo_type, mo_id in item.items()
        )
    if slot.name == REASON_GROUP:
        return lambda name, value, info, fault_fields: _reason(name, value or {})
    if slot.type_name == "LocalizableMessage":
        return lambda name, value, info, fault_fields: _message(value)
    if slot.type_name == "LocalizedMethodFault":
        return lambda name, value, info, fault_fields: _error(value, info, fault_fields)
    if slot.name == "result":
        return lambda name, value, info, fault_fields: _result(str(info.get("name") or ""), value)
    return None


def _reason(reason_type: str, fields: Mapping[str, Any]) -> Data:
    values: dict[str, Any] = {}
    for key, text in fields.items():
        if key in _REASON_REFERENCES:
            values[key] = MoRef(_REASON_REFERENCES[key], str(text or ""))
        elif key == "entity":
            values[key] = MoRef(entity_type_of(str(text or "")), str(text or ""))
        else:
            values[key] = str(text or "")
    return Data(reason_type, **values)


def _message(message: Mapping[str, Any]) -> Data:
    args = tuple(
        Data("KeyAnyValue", key=str(arg.get("key") or ""), value=str(arg.get("value") or ""))
        for arg in message.get("arg") or ()
    )
    return Data(
        "LocalizableMessage",
        key=str(message.get("key") or ""),
        arg=args or None,
        message=message.get("message"),
    )


def _error(error: Mapping[str, Any], info: Mapping[str, Any], fault_fields: FaultFields) -> Data:
    fault_type = str(error.get("fault") or "SystemError")
    fields = list(fault_fields)
    if fault_type == "InvalidPowerState" and not any(name == "existingState" for name, _ in fields):
        # A scripted InvalidPowerState without its fields: the state the method found, by its name.
        fields.append(("existingState", "poweredOff" if "PowerOff" in str(info.get("name")) else "poweredOn"))
    if fault_type not in model().fault_types():  # a type no client knows: SystemError naming it
        message = f"{fault_type}: {error.get('localizedMessage') or ''}".rstrip(": ")
        return localized_fault("SystemError", {"reason": message}, message, context=task_entity(info))
    return localized_fault(fault_type, dict(fields), error.get("localizedMessage"), context=task_entity(info))


@cache
def result_type(method: str) -> str | None:
    """The managed type a task of *method* returns (CloneVM_Task: VirtualMachine), or None."""
    found = task_methods().get(method)
    result = found.result if found is not None else None
    # An array result ("CheckResult[]") is no one type: a recorded text result stays text.
    return result if result is not None and model().kind_or_none(result) == "managed" else None


def _result(method: str, value: Any) -> Any:
    """A task's result: a reference when the method's task returns a managed object (a result
    recorded or scripted as its id), else the value as given."""
    if isinstance(value, MoRef | Data):
        return value
    managed = result_type(method)
    return MoRef(managed, str(value)) if managed else value


def task_entity(info: Mapping[str, Any]) -> MoRef | None:
    found = task_info_model().slot(ENTITY_GROUP).value_in(info)
    return None if found is None else MoRef(found[0], str(found[1]))


# -- back: vim25 TaskInfo -> the adapter's dict


def to_adapter(info: Data) -> dict[str, Any]:
    """The adapter's TaskInfo dict (the codec's decode form) of a vim25 TaskInfo."""
    data: dict[str, Any] = {}
    model = task_info_model()
    for slot in model.slots:
        value = getattr(info, slot.vim25_name)
        if value is not None:
            data.update(_adapter_entry(slot, value))
    return model.ordered(data)


def _adapter_entry(slot: Slot, value: Any) -> dict[str, Any]:
    if slot.is_group and slot.name == ENTITY_GROUP:
        return {value.type: value.value} if value.type in slot.elements else {}
    if slot.is_reference:
        return {slot.name: value.value}
    if slot.type_name == "ManagedEntityRef":
        return {slot.name: [{ref.type: ref.value} for ref in value]}
    if slot.name == REASON_GROUP:
        return {value.type: _adapter_reason(value)}
    if slot.type_name == "LocalizableMessage":
        message: dict[str, Any] = {"key": value.key}
        if value.arg:
            message["arg"] = [{"key": arg.key, "value": str(arg.value)} for arg in value.arg]
        if value.message is not None:
            message["message"] = value.message
        return {slot.name: message}
    if slot.type_name == "LocalizedMethodFault":
        error: dict[str, Any] = {"fault": value.fault.type}
        if value.localizedMessage is not None:
            error["localizedMessage"] = value.localizedMessage
        return {slot.name: error}
    if slot.name == "result":
        return {slot.name: value.value if isinstance(value, MoRef) else str(value)}
    if slot.builtin == "dateTime" and not isinstance(value, XsDateTime):
        return {slot.name: XsDateTime.from_datetime(value)}
    return {slot.name: value}


def _adapter_reason(reason: Data) -> dict[str, Any] | None:
    fields = reason.fields()
    if not fields:
        return None  # TaskReasonSystem: an empty element
    return {key: value.value if isinstance(value, MoRef) else value for key, value in fields.items()}
