"""Between pyVmomi's objects and vim25 values: the same operation code against the mock's values and a
real vCenter's pyVmomi objects.

pyVmomi's model and the wire differ in a few places, and the conversions follow the wire (as the
vim25 model does): a fault in a data object is a ``LocalizedMethodFault`` (pyVmomi keeps the
``MethodFault`` and its ``msg``), a link field holds the linked object's key, a ``TypeName`` or
``MethodName`` is its wire name, and an ``anyType`` keeps its wire type (:class:`Typed` where
Python's type does not tell it).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pyVmomi import VmomiSupport as _VmomiSupport

from vismock.mockserver.vim25.typemodel import MOREF, Field, model
from vismock.mockserver.vim25.values import Data, MoRef, Typed, canonical_any, item_type, wire_type_of

VmomiSupport: Any = _VmomiSupport  # untyped: its calls are checked by the tests, not by mypy
NAMESPACE = "urn:vim25"
LOCALIZED_FAULT = "LocalizedMethodFault"
_MethodFault: Any = VmomiSupport.GetVmodlType("vmodl.MethodFault")
_PY_PRIMITIVES = {"dateTime": "vmodl.DateTime", "base64Binary": "binary", "anyURI": "vmodl.URI"}


def from_pyvmomi(obj: Any) -> Any:
    """The vim25 value of pyVmomi's *obj*: a data object, a managed object stub, a list of them or a
    primitive."""
    if obj is None:
        return None
    if isinstance(obj, VmomiSupport.ManagedObject):
        return MoRef(obj._wsdlName, obj._moId)
    if isinstance(obj, VmomiSupport.DataObject):
        return _data_from(obj)
    if isinstance(obj, list):
        return tuple(from_pyvmomi(item) for item in obj)
    return _primitive_from(obj)


def _data_from(obj: Any) -> Data:
    type_name = obj._wsdlName
    fields = {}
    for prop in obj._GetPropertyList():
        declared = model().field(type_name, prop.name)
        value = getattr(obj, prop.name, None)
        if declared is None or value is None:
            continue  # MethodFault's msg: the wire carries it as the LocalizedMethodFault's message
        fields[prop.name] = _field_from(value, declared)
    return Data(type_name, **fields)


def _field_from(value: Any, declared: Field) -> Any:
    if declared.array:
        return tuple(_one_from(item, declared.type) for item in value) or None
    return _one_from(value, declared.type)


def _one_from(value: Any, declared: str) -> Any:
    if declared == LOCALIZED_FAULT and isinstance(value, _MethodFault) and value._wsdlName != LOCALIZED_FAULT:
        return Data(LOCALIZED_FAULT, fault=_data_from(value), localizedMessage=value.msg)
    if declared == "string" and isinstance(value, VmomiSupport.DataObject):
        return value.key  # a link field: pyVmomi resolved it to the object, the wire holds its key
    if declared == "anyType":
        return _any_from(value)
    return from_pyvmomi(value)


def _any_from(value: Any) -> Any:
    """An anyType's value, its wire type kept (pyVmomi's value classes say it: long, short...)."""
    converted = from_pyvmomi(value)
    item_class = getattr(type(value), "Item", None)
    if isinstance(converted, tuple) and item_class is not None:
        return canonical_any(_typed_array(item_class, converted))
    if isinstance(converted, (Data, MoRef, tuple)):
        return converted
    wire_type = _pyvmomi_wire_type(value)
    return canonical_any(Typed(wire_type, converted) if wire_type is not None else converted)


def _pyvmomi_wire_type(value: Any) -> str | None:
    try:
        name = str(VmomiSupport.GetWsdlName(VmomiSupport.Type(value)))
    except (AttributeError, KeyError):
        return None
    return name if name in model() else None


def _typed_array(item_class: Any, items: tuple[Any, ...]) -> Any:
    """A pyVmomi typed list: plain when Python's types tell its wire type, else Typed."""
    if issubclass(item_class, VmomiSupport.ManagedObject):
        return items
    name = str(VmomiSupport.GetWsdlName(item_class))
    if name in ("TypeName", "MethodName", "PropertyPath"):
        name = "string"
    if name not in model():
        return items
    wire_type = f"ArrayOf{name[:1].upper()}{name[1:]}"
    return items if wire_type_of(items) == wire_type else Typed(wire_type, items)


def _primitive_from(value: Any) -> Any:
    if isinstance(value, bool):
        return bool(value)
    if isinstance(value, int):
        return int(value)
    if isinstance(value, float):
        return float(value)
    if isinstance(value, bytes):
        return bytes(value)
    if isinstance(value, datetime):
        return value
    if isinstance(value, str):
        return str(value)  # strings, enum values, property paths
    if isinstance(value, type):
        return str(VmomiSupport.GetWsdlName(value))  # a TypeName: pyVmomi holds the class
    if isinstance(value, VmomiSupport.ManagedMethod):
        return str(value.info.wsdlName)
    raise TypeError(f"{type(value).__name__} {value!r:.60} is not a pyVmomi value")


def to_pyvmomi(value: Any, stub: Any = None) -> Any:
    """pyVmomi's object for vim25 value *value*; references become stubs bound to *stub* (a
    pyVmomi SoapStubAdapter; None for objects that are not called)."""
    if value is None:
        return None
    if isinstance(value, MoRef):
        return _pyvmomi_type(value.type)(value.value, stub)
    if isinstance(value, Data):
        return _data_to(value, stub)
    if isinstance(value, Typed):
        return _typed_to(value, stub)
    if isinstance(value, tuple):
        return [to_pyvmomi(item, stub) for item in value]
    if isinstance(value, bytes):
        return VmomiSupport.binary(value)  # pyVmomi base64-encodes its own binary class only
    # In an anyType pyVmomi writes a Python float as xsd:float and any int as xsd:int: give it the
    # wire types these values have here (double; long past int's range).
    if isinstance(value, float):
        return VmomiSupport.GetVmodlType("double")(value)
    if isinstance(value, int) and not isinstance(value, bool) and wire_type_of(value) == "long":
        return VmomiSupport.GetVmodlType("long")(value)
    return value


def _data_to(value: Data, stub: Any) -> Any:
    if value.type == LOCALIZED_FAULT:
        fault = _data_to(value.fault, stub)  # pyVmomi's MethodFault, its message in msg
        fault.msg = value.localizedMessage
        return fault
    made = _pyvmomi_type(value.type)()
    for name, item in value.fields().items():
        declared = made._GetPropertyInfo(name).type
        item_class = declared.Item if issubclass(declared, list) else declared
        if item_class is type or item_class is VmomiSupport.ManagedMethod:
            named = _named_to(item_class)  # a TypeName or MethodName: pyVmomi holds the class or method
            setattr(made, name, [named(one) for one in item] if isinstance(item, tuple) else named(item))
        else:
            setattr(made, name, to_pyvmomi(item, stub))
    return made


def _named_to(item_class: Any) -> Any:
    def named(wire_name: str) -> Any:
        try:
            if item_class is type:
                return VmomiSupport.GetWsdlType(NAMESPACE, wire_name)
            return VmomiSupport.GetWsdlMethod(NAMESPACE, wire_name)
        except KeyError:
            what = "type" if item_class is type else "method"
            raise ValueError(f"{wire_name!r} is not a vim25 {what}: pyVmomi cannot hold it") from None

    return named


def _typed_to(value: Typed, stub: Any) -> Any:
    items = item_type(value.type)
    if items is None:
        return _primitive_class(value.type)(value.value)
    if model().kind(items) == "managed":
        array_class = VmomiSupport.GetVmodlType("vmodl.ManagedObject[]")
    else:
        array_class = VmomiSupport.GetWsdlType(NAMESPACE, value.type)
    return array_class([to_pyvmomi(item, stub) for item in value.value])


def _primitive_class(type_name: str) -> Any:
    if model().kind(type_name) == "enum":
        return _pyvmomi_type(type_name)
    return VmomiSupport.GetVmodlType(_PY_PRIMITIVES.get(type_name, type_name))


def _pyvmomi_type(type_name: str) -> Any:
    if type_name in (MOREF, "ManagedObject"):
        return VmomiSupport.GetVmodlType("vmodl.ManagedObject")
    return VmomiSupport.GetWsdlType(NAMESPACE, type_name)
