"""Configure_Vm / Clone_VM: vim25 CloneVM_Task on the virtual machine (or template) named; answers
the queued task's id, whose result is the new VM.

Where the clone goes: ``datacenter`` (default: the source's), ``folder`` (a path below its VM
folder; default: the source's folder), ``datastore`` (default: the source's). A name a VM in that
folder already has is refused with DuplicateName, as vCenter would fail the task.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from vismock.adapter.operations import VCenter, VirtualMachine, basic_vm
from vismock.faults import fault_named
from vismock.mockserver.vim25.values import Data, MoRef

METHOD = "CloneVM_Task"


def run(request: Mapping[str, Any], vcenter: VCenter) -> dict[str, Any]:
    given: Mapping[str, Any] = request["parameters"]
    source = basic_vm.named_vm(request, vcenter)
    basic_vm.check_idle(source)
    datacenter = _datacenter(vcenter, source, given.get("datacenter"))
    folder = _folder(vcenter, source, datacenter, given.get("folder"))
    name = str(given["name"])
    for vm in vcenter.virtual_machines(name):
        if vcenter.read(vm.ref, "parent") == folder:
            raise fault_named(
                "DuplicateName", f"The name '{name}' already exists.", (("name", name), ("object", vm.id))
            )
    location = Data(
        "VirtualMachineRelocateSpec", datastore=_datastore(vcenter, datacenter, given.get("datastore"))
    )
    spec = Data(
        "VirtualMachineCloneSpec",
        location=location,
        powerOn=bool(given.get("power-on")),
        template=bool(given.get("template")),
    )
    return basic_vm.queued(vcenter.call(source.ref, METHOD, folder=folder, name=name, spec=spec))


def _datacenter(vcenter: VCenter, source: VirtualMachine, name: str | None) -> str:
    """The datacenter's inventory path (its name): the one given, else the source's."""
    if name:
        found = vcenter.find(name)
        if found is None or found.type != "Datacenter":
            raise fault_named("NotFound", f"There is no datacenter named {name!r}")
        return name
    current: MoRef | None = vcenter.read(source.ref, "parent")
    while current is not None and current.type != "Datacenter":
        current = vcenter.read(current, "parent")
    if current is None:
        raise fault_named("NotFound", f"{source.name} is in no datacenter")
    return str(vcenter.read(current, "name"))


def _folder(vcenter: VCenter, source: VirtualMachine, datacenter: str, path: str | None) -> MoRef:
    if not path:
        parent: MoRef = vcenter.read(source.ref, "parent")
        return parent
    found = vcenter.find(f"{datacenter}/vm/{path.strip('/')}")
    if found is None or found.type != "Folder":
        raise fault_named("NotFound", f"There is no VM folder {path!r} in datacenter {datacenter!r}")
    return found


def _datastore(vcenter: VCenter, datacenter: str, name: str | None) -> MoRef | None:
    if not name:
        return None
    found = vcenter.find(f"{datacenter}/datastore/{name}")
    if found is None or found.type != "Datastore":
        raise fault_named("NotFound", f"There is no datastore {name!r} in datacenter {datacenter!r}")
    return found
