"""Managed entities: the inventory's folders, datacenters, compute resources, hosts, resource
pools, datastores, networks and virtual machines, with the properties that place them in the tree.

An entity a task names but the inventory does not hold (the seed's ``VirtualMachine:TestDev``)
still answers ``name``: the task's entityName.
"""

from __future__ import annotations

from collections.abc import Sequence

from vismock.faults import ManagedObjectNotFound
from vismock.mockserver.faces.soap import wire
from vismock.mockserver.faces.soap.objects import Call, ManagedType, managed_type
from vismock.mockserver.faces.soap.wire import MANAGED_ENTITY_TYPES, MoRef, Value
from vismock.mockserver.state.models import Entity

# vim25's subtypes among the entity types (a cluster is a ComputeResource, a vApp a ResourcePool).
SUBTYPES = {"ClusterComputeResource": "ComputeResource", "VirtualApp": "ResourcePool"}


def load_entity(call: Call, ref: MoRef, poll: bool) -> Entity:
    """The inventory's entity *ref* names (its type, or a subtype of it), else one a task names."""
    entity = call.backend.inventory.find(ref.value)
    if entity is not None and ref.type in (entity.type, SUBTYPES.get(entity.type)):
        return entity
    for spec in call.backend.tasks.specs():
        if (spec.entity_type, spec.entity_id) == (ref.type, ref.value):
            return Entity(ref.value, ref.type, spec.entity_name or ref.value)
    raise ManagedObjectNotFound(ref.type, ref.value)


managed_entity = managed_type("ManagedEntity", load=load_entity)
ENTITY_TYPES: dict[str, ManagedType] = {}
for _name in sorted(MANAGED_ENTITY_TYPES, key=lambda name: name in SUBTYPES):  # supertypes first
    _parent = ENTITY_TYPES.get(SUBTYPES.get(_name, ""), managed_entity)
    ENTITY_TYPES[_name] = managed_type(_name, _parent)


def ref_of(call: Call, entity_id: str) -> MoRef:
    """The reference to inventory entity *entity_id* (its type from the inventory)."""
    entity = call.backend.inventory.find(entity_id)
    return MoRef(entity.type if entity else "ManagedEntity", entity_id)


def refs_of(call: Call, entity_ids: Sequence[str]) -> Value:
    return wire.moref_array([ref_of(call, entity_id) for entity_id in entity_ids])


@managed_entity.property("name", default=True)
def name(call: Call, ref: MoRef, entity: Entity) -> Value:
    return wire.text_value("xsd:string", entity.name)


@managed_entity.property("parent")
def parent(call: Call, ref: MoRef, entity: Entity) -> Value | None:
    return None if entity.parent is None else wire.moref_value(ref_of(call, entity.parent))


# -- folders and datacenters


@ENTITY_TYPES["Folder"].property("childEntity")
def child_entity(call: Call, ref: MoRef, entity: Entity) -> Value:
    return refs_of(call, [child.id for child in call.backend.inventory.children(entity.id)])


@ENTITY_TYPES["Folder"].property("childType")
def child_type(call: Call, ref: MoRef, entity: Entity) -> Value:
    return wire.string_array(list(entity.props.get("childType", ())))


def _folder_reader(prop: str) -> None:
    @ENTITY_TYPES["Datacenter"].property(prop)
    def read(call: Call, ref: MoRef, entity: Entity) -> Value | None:
        folder = entity.props.get(prop)
        return None if folder is None else wire.moref_value(MoRef("Folder", str(folder)))


for _prop in ("vmFolder", "hostFolder", "datastoreFolder", "networkFolder"):
    _folder_reader(_prop)


# -- compute resources (virtual machines: virtual_machine.py)


@ENTITY_TYPES["ComputeResource"].property("host")
def hosts(call: Call, ref: MoRef, entity: Entity) -> Value:
    return refs_of(call, list(entity.props.get("host", ())))


@ENTITY_TYPES["ComputeResource"].property("resourcePool")
def resource_pool(call: Call, ref: MoRef, entity: Entity) -> Value | None:
    pool = entity.props.get("resourcePool")
    return None if pool is None else wire.moref_value(MoRef("ResourcePool", str(pool)))
