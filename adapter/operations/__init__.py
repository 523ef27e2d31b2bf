"""The VIS operations, one module each, run against a vCenter: the mock's state or a real one.

An operation's module is named after its ``operation-name`` in lower case
(``Retrieve_Task_Status`` -> :mod:`.retrieve_task_status`), and ``schemas/catalog.toml`` lists
the operations: adding one is an XSD, a catalog line and a module here. A module offers

``run(request, vcenter) -> value``
    the content of the response's body element (``RetrieveTaskStatusResponse``...) for a
    decoded request; a :class:`~vismock.faults.VimFault` for an operation that fails;
``task_ids(request) -> list[str]`` (optional)
    the task ids the request names, for the journal and fault rules.

The mock's adapter face and ``vismock.adapter.vcenter`` (pyVmomi against any vCenter) both call
:func:`respond`, so both answer the same envelope for the same request and state.
"""

from __future__ import annotations

import importlib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from functools import cache
from types import ModuleType
from typing import Any, Protocol

from vismock.errors import VismockError
from vismock.faults import InvalidArgument, VimFault, VirtualMachineNotFound
from vismock.mockserver.vim25.values import MoRef
from vismock.schemas import Operation, load_catalog, schema_directory


@dataclass(frozen=True, slots=True)
class VirtualMachine:
    """A virtual machine as an operation checks it before acting on it."""

    id: str  # the managed object id, vm-42
    name: str
    power_state: str  # poweredOn, poweredOff, suspended
    template: bool
    busy_with: str | None  # a task running on it now, if any

    @property
    def ref(self) -> MoRef:
        return MoRef("VirtualMachine", self.id)


class VCenter(Protocol):
    """What the operations need of a vCenter: the mock's state, or a real one over pyVmomi. Values
    are vim25's (:mod:`vismock.mockserver.vim25.values`): a new operation needs no new method here,
    only vim25 methods and properties, which both sides serve."""

    def task_info(self, task_id: str) -> dict[str, Any]:
        """The task's TaskInfo in vismock.codec's dict form; raises a VimFault (TaskNotFound)."""
        ...

    def virtual_machines(self, name: str) -> list[VirtualMachine]:
        """Every VM named *name* (none: an empty list)."""
        ...

    def read(self, ref: MoRef, path: str) -> Any:
        """Property path *path* of *ref* (None when unset; ManagedObjectNotFound for no such object)."""
        ...

    def find(self, inventory_path: str) -> MoRef | None:
        """The entity at inventory path *inventory_path* (``Datacenter/vm/prod``), None if none is."""
        ...

    def call(self, ref: MoRef, method: str, **args: Any) -> Any:
        """vim25 method *method* of *ref* with *args*; a method returning a task answers the task's
        id. Raises the method's faults (the mock, which checks again atomically, raises what vCenter
        would report in the task)."""
        ...


def virtual_machine(vcenter: VCenter, name: str) -> VirtualMachine:
    """The VM named *name*: VirtualMachineNotFound when none is, InvalidArgument when several are."""
    found = vcenter.virtual_machines(name)
    if not found:
        raise VirtualMachineNotFound(name)
    if len(found) > 1:
        ids = ", ".join(vm.id for vm in found)
        raise InvalidArgument(f"{len(found)} virtual machines are named {name!r} ({ids})", "virtual-machine")
    return found[0]


@cache
def operations() -> dict[str, Operation]:
    """The catalog's operations by ``operation-name``."""
    return {operation.name: operation for operation in load_catalog(schema_directory())}


@cache
def module_of(operation_name: str) -> ModuleType:
    """The module running *operation_name*; UnknownOperation if the catalog does not list it."""
    if operation_name not in operations():
        raise UnknownOperation(operation_name)
    return importlib.import_module(f"{__name__}.{operation_name.lower()}")


class UnknownOperation(VismockError):
    def __init__(self, operation_name: str) -> None:
        known = ", ".join(sorted(operations()))
        super().__init__(f"operation-name {operation_name!r} is not one vismock runs (known: {known})")


def task_ids(request: Mapping[str, Any]) -> list[str]:
    """The task ids a decoded request names (for the journal and fault rules)."""
    module = module_of(str(request["operation-name"]))
    reader = getattr(module, "task_ids", None)
    return list(reader(request)) if reader is not None else []


def respond(request: Mapping[str, Any], vcenter: VCenter) -> dict[str, Any]:
    """The response envelope (as a dict) of a decoded request: success with the operation's body
    element, or the error of the vim25 fault it raised."""
    operation_name = str(request["operation-name"])
    try:
        value = module_of(operation_name).run(request, vcenter)
    except VimFault as fault:
        return error_response(fault.message, fault.fault_type)
    return success_response(operation_name, value)


def success_response(operation_name: str, value: Any) -> dict[str, Any]:
    """A success envelope: the operation's response element holding *value*."""
    return {"metadata": {"status": "success"}, operations()[operation_name].response: value}


def error_response(
    message: str,
    fault: str | None = None,
    details: Iterable[Mapping[str, Any]] = (),
) -> dict[str, Any]:
    """An error envelope; *details* are ``{"path", "line", "reason"}`` dicts."""
    metadata: dict[str, Any] = {"status": "error", "error": message}
    if fault:
        metadata["fault"] = fault
    detail_list = [dict(detail) for detail in details]
    if detail_list:
        metadata["error-detail"] = detail_list
    return {"metadata": metadata}
