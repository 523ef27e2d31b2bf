"""Managed entities: the ones tasks name (their ``name``), a virtual machine's ``runtime``, and
the root folder."""

from __future__ import annotations

from lxml import etree

from vismock.faults import ManagedObjectNotFound
from vismock.mockserver.faces.soap import wire
from vismock.mockserver.faces.soap.objects import Call, managed_type
from vismock.mockserver.faces.soap.service_instance import ROOT_FOLDER
from vismock.mockserver.faces.soap.wire import MANAGED_ENTITY_TYPES, MoRef, Value


def load_entity(call: Call, ref: MoRef, poll: bool) -> str:
    """The entity's name: the root folder's, or the one a task gives it (its id if none does)."""
    if ref == ROOT_FOLDER:
        return "Datacenters"
    specs = [
        spec
        for spec in call.backend.tasks.specs()
        if (spec.entity_type, spec.entity_id) == (ref.type, ref.value)
    ]
    if not specs:
        raise ManagedObjectNotFound(ref.type, ref.value)
    return next((spec.entity_name for spec in specs if spec.entity_name), ref.value)


managed_entity = managed_type("ManagedEntity", load=load_entity)
ENTITY_TYPES = {name: managed_type(name, managed_entity) for name in MANAGED_ENTITY_TYPES}


@managed_entity.property("name", default=True)
def name(call: Call, ref: MoRef, loaded: str) -> Value:
    return wire.text_value("xsd:string", loaded)


@ENTITY_TYPES["VirtualMachine"].property("runtime", default=True)
def runtime(call: Call, ref: MoRef, loaded: str) -> Value:
    def fill(element: etree._Element) -> None:
        wire.sub(element, "connectionState", "connected")
        wire.sub(element, "powerState", "poweredOn")
        wire.sub(element, "toolsInstallerMounted", "false")
        wire.sub(element, "numMksConnections", "0")

    return Value("VirtualMachineRuntimeInfo", fill)
