"""Managed entities: the inventory's folders, datacenters, compute resources, hosts, resource
pools, datastores, networks and virtual machines, with the properties that place them in the tree.

An entity a task names but the inventory does not hold (the seed's ``VirtualMachine:TestDev``)
still answers ``name``: the task's entityName.
"""

from __future__ import annotations

from collections.abc import Sequence

from vismock.faults import ManagedObjectNotFound
from vismock.mockserver.faces.soap import wire
from vismock.mockserver.faces.soap.objects import Call, ManagedType, is_a, managed_type
from vismock.mockserver.faces.soap.wire import MANAGED_ENTITY_TYPES, MoRef, Value
from vismock.mockserver.state.models import Entity
from vismock.schemas import managed_lineage


def load_entity(call: Call, ref: MoRef, poll: bool) -> Entity:
    """The inventory's entity *ref* names (its type, or a subtype of it), else one a task names."""
    entity = call.backend.inventory.find(ref.value)
    if entity is not None and is_a(entity.type, ref.type):
        return entity
    for spec in call.backend.tasks.specs():
        if (spec.entity_type, spec.entity_id) == (ref.type, ref.value):
            return Entity(ref.value, ref.type, spec.entity_name or ref.value)
    raise ManagedObjectNotFound(ref.type, ref.value)


managed_entity = managed_type("ManagedEntity", load=load_entity)
ENTITY_TYPES: dict[str, ManagedType] = {}
# Supertypes first, each under its nearest vim25 supertype (a cluster is a ComputeResource).
for _name in sorted(MANAGED_ENTITY_TYPES, key=lambda name: len(managed_lineage(name))):
    _parent = next((ENTITY_TYPES[a] for a in managed_lineage(_name)[1:] if a in ENTITY_TYPES), managed_entity)
    ENTITY_TYPES[_name] = managed_type(_name, _parent)


def entity_ref(entity: Entity) -> MoRef:
    return MoRef(entity.type, entity.id)


def inventory_children(call: Call, entity: Entity, *, hosts_hold_vms: bool = False) -> list[Entity]:
    """What vCenter counts as *entity*'s children (SearchIndex.FindChild, container views): a
    folder's entities, a datacenter's four folders, a compute resource's hosts and root resource
    pool, a resource pool's child pools and virtual machines; a host's virtual machines too when
    *hosts_hold_vms* (a container view of a host shows them; FindChild does not)."""
    inventory = call.backend.inventory
    props = entity.props
    if entity.type == "Datacenter":
        folders = [props.get(prop) for prop in ("vmFolder", "hostFolder", "datastoreFolder", "networkFolder")]
        return [found for folder in folders if (found := inventory.find(str(folder))) is not None]
    if entity.type in ("ComputeResource", "ClusterComputeResource"):
        ids = [*props.get("host", ()), props.get("resourcePool")]
        return [found for entity_id in ids if (found := inventory.find(str(entity_id))) is not None]
    if entity.type in ("ResourcePool", "VirtualApp"):
        pools = [
            child for child in inventory.children(entity.id) if child.type in ("ResourcePool", "VirtualApp")
        ]
        return pools + [
            vm for vm in inventory.of_type("VirtualMachine") if vm.props.get("resourcePool") == entity.id
        ]
    if entity.type == "HostSystem":
        return [
            vm
            for vm in inventory.of_type("VirtualMachine")
            if hosts_hold_vms and vm.props.get("host") == entity.id
        ]
    return inventory.children(entity.id)


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


@ENTITY_TYPES["VirtualMachine"].property("parentVApp")
def parent_vapp(call: Call, ref: MoRef, entity: Entity) -> Value | None:
    return None  # the inventory's virtual machines sit in folders, never in a vApp


def _references(prop: str, mo_type: str) -> None:
    """A property of the inventory entity holding the ids of other entities."""

    def read(call: Call, ref: MoRef, entity: Entity) -> Value | None:
        value = entity.props.get(prop)
        if value is None:
            return None
        if isinstance(value, (list, tuple)):
            return wire.moref_array([MoRef(mo_type, str(item)) for item in value])
        return wire.moref_value(MoRef(mo_type, str(value)))

    ENTITY_TYPES["VirtualMachine"].property(prop)(read)


for _prop, _type in (("resourcePool", "ResourcePool"), ("datastore", "Datastore"), ("network", "Network")):
    _references(_prop, _type)


def _placed(mo_type: str, prop: str, contents: str, placed_by: str) -> None:
    """A property listing the entities of type *contents* whose *placed_by* names this one."""

    def read(call: Call, ref: MoRef, entity: Entity) -> Value:
        found = [e for e in call.backend.inventory.of_type(contents) if e.props.get(placed_by) == entity.id]
        return wire.moref_array([entity_ref(e) for e in found])

    ENTITY_TYPES[mo_type].property(prop)(read)


_placed("HostSystem", "vm", "VirtualMachine", "host")
_placed("ResourcePool", "vm", "VirtualMachine", "resourcePool")


@ENTITY_TYPES["ResourcePool"].property("resourcePool")
def child_pools(call: Call, ref: MoRef, entity: Entity) -> Value:
    children = call.backend.inventory.children(entity.id)
    return wire.moref_array([entity_ref(e) for e in children if e.type in ("ResourcePool", "VirtualApp")])


def _used_by_vms(mo_type: str, prop: str, where: str) -> None:
    """A host's or a datacenter's datastores or networks: those its virtual machines use
    (the inventory declares them per datacenter, and gives each VM the first of each)."""

    def read(call: Call, ref: MoRef, entity: Entity) -> Value:
        inventory = call.backend.inventory
        if where == "datacenter":
            folder = entity.props.get("datastoreFolder" if prop == "datastore" else "networkFolder")
            found = [e for e in inventory.children(str(folder))]
        else:
            vms = [e for e in inventory.of_type("VirtualMachine") if e.props.get("host") == entity.id]
            ids = dict.fromkeys(item for vm in vms for item in vm.props.get(prop, ()))
            found = [e for e in (inventory.find(str(i)) for i in ids) if e is not None]
        return wire.moref_array([entity_ref(e) for e in found if e.type != "Folder"])

    ENTITY_TYPES[mo_type].property(prop)(read)


for _owner, _where in (("HostSystem", "host"), ("Datacenter", "datacenter")):
    for _prop in ("datastore", "network"):
        _used_by_vms(_owner, _prop, _where)


@ENTITY_TYPES["VirtualMachine"].property("guest")
def guest(call: Call, ref: MoRef, entity: Entity) -> Value:
    """The guest as vCenter sees a VM without VMware Tools (the mock's VMs have none): no IP
    address, host name or guest OS details to report."""
    return wire.data_object(
        "GuestInfo",
        [
            ("toolsStatus", "toolsNotInstalled"),
            ("toolsRunningStatus", "guestToolsNotRunning"),
            ("guestState", "notRunning"),
        ],
    )
