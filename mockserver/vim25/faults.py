"""vim25 faults as data objects: what a SOAP fault's detail and a task's ``error.fault`` hold.

A fault raised by the mock (:class:`vismock.faults.VimFault`) or scripted in a task's timeline
names its type, a message and the fields it knows (``existingState``...). vim25 requires some
fields of some types (``ManagedObjectNotFound.obj``, ``TaskInProgress.task``): what the fault does
not give is filled in from what is known of the failure (the object the call was on), so every
client can read every fault.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from vismock.faults import InvalidArgument, InvalidProperty, ManagedObjectNotFound, MethodNotFound, VimFault
from vismock.mockserver.vim25.values import Data, MoRef
from vismock.schemas import fault_fields, fault_types

SERVICE_INSTANCE = MoRef("ServiceInstance", "ServiceInstance")
# Managed object id prefixes vCenter uses, for fault fields that hold a reference by its id.
_ID_PREFIX_TYPES = (
    ("task-", "Task"),
    ("vm-", "VirtualMachine"),
    ("snapshot-", "VirtualMachineSnapshot"),
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
    """The managed object type vCenter's id *mo_id* belongs to (``ManagedEntity`` if unknown)."""
    for prefix, mo_type in _ID_PREFIX_TYPES:
        if mo_id.startswith(prefix):
            return mo_type
    return "ManagedEntity"


def served_fault_type(fault_type: str) -> str:
    """*fault_type* if vim25 (and so every client) knows it; else SystemError."""
    return fault_type if fault_type in fault_types() else "SystemError"


def fault_data(fault: VimFault, context: MoRef | None = None) -> Data:
    """The fault object of a raised fault (its own fields, the required ones made up from *context*)."""
    return fault_object(fault.fault_type, fault.message, fault.fields(), context, fault)


def fault_object(
    fault_type: str,
    message: str,
    fields: Sequence[tuple[str, str]] = (),
    context: MoRef | None = None,
    fault: VimFault | None = None,
) -> Data:
    """A fault of *fault_type* with *fields* (vim25 names, text values), the fields vim25
    requires and the fault does not give filled in from what is known. A type vim25 does not
    know is sent as SystemError naming it."""
    served = served_fault_type(fault_type)
    if served != fault_type:
        return Data("SystemError", reason=f"{fault_type}: {message}" if message else fault_type)
    declared = {field.name: field for field in fault_fields(served)}
    given = {name: _typed(name, text) if declared.get(name) and declared[name].is_reference else text
             for name, text in fields if name in declared}  # fmt: skip
    missing = {name for name, field in declared.items() if field.required and name not in given}
    if missing:
        given.update(_made_up(served, message, context or SERVICE_INSTANCE, fault, missing))
    return Data(served, **{name: given[name] for name in declared if name in given})


def _typed(name: str, text: str) -> MoRef:
    return MoRef("Task" if name == "task" else entity_type_of(text), text)


def _made_up(
    fault_type: str, message: str, context: MoRef, fault: VimFault | None, missing: set[str]
) -> dict[str, Any]:
    """The required fields of *fault_type* from what is known about the failure."""
    if fault_type == "ManagedObjectNotFound":
        ref = MoRef(fault.mo_type, fault.mo_id) if isinstance(fault, ManagedObjectNotFound) else context
        return {"obj": ref}
    if fault_type == "MethodNotFound":
        return {"receiver": context, "method": fault.method if isinstance(fault, MethodNotFound) else message}
    if fault_type == "InvalidProperty":
        return {"name": fault.name if isinstance(fault, InvalidProperty) else message}
    if fault_type == "InvalidArgument" and isinstance(fault, InvalidArgument) and fault.invalid_property:
        return {"invalidProperty": fault.invalid_property}
    if fault_type == "NotAuthenticated":
        return {"object": context, "privilegeId": "System.View"}
    if fault_type == "TaskInProgress":
        return {"task": context if context.type == "Task" else MoRef("Task", context.value)}
    if fault_type == "InvalidPowerState":
        return {"existingState": "poweredOn"}
    if fault_type == "DuplicateName":
        return {"name": message, "object": context}
    # reason (SystemError, GenericVmConfigFault...), file (FileFault and its kin), datastore...
    return {name: message for name in missing}


def localized_fault(
    fault_type: str,
    message: str | None,
    fields: Sequence[tuple[str, str]] = (),
    context: MoRef | None = None,
) -> Data:
    """vim25 LocalizedMethodFault: a task's ``error``."""
    fault = fault_object(fault_type, message or "", fields, context)
    if fault.type != fault_type:  # sent as SystemError: the message names the real type
        message = f"{fault_type}: {message}" if message else fault_type
    return Data("LocalizedMethodFault", fault=fault, localizedMessage=message)
