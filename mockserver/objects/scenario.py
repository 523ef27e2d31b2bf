"""The scenario's inventory (``inventory:`` entities, :mod:`vismock.mockserver.state.inventory`)
as managed objects, and back (what the admin API shows of each).

An entity of the scenario is flat: its id, type, name, parent id and a few properties (a VM's
``powerState``, ``template``, ``host``...). Its object holds them as vim25 shapes them: a VM's
power state in ``runtime.powerState``, its host in ``runtime.host``, a folder's parent as a
reference. Both directions are here, so they cannot drift apart.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from vismock.mockserver.objects import vm_shape
from vismock.mockserver.objects.host_system import host_hardware
from vismock.mockserver.objects.managed_entity import ManagedEntity
from vismock.mockserver.state.models import Entity
from vismock.mockserver.state.registry import KINDS, ManagedObject
from vismock.mockserver.vim25.values import Data, MoRef


def objects_of(entities: Sequence[Entity]) -> list[ManagedEntity]:
    """The managed objects of a scenario's inventory, in its order."""
    types = {entity.id: entity.type for entity in entities}
    names = {entity.id: entity.name for entity in entities}
    return [_object(entity, types, names) for entity in entities]


def stand_in(entity_type: str, entity_id: str, name: str) -> ManagedEntity:
    """An entity a task names that the inventory does not hold (the seed's ``TestDev``), as the
    inventory would make it with nothing but its name: what clients read of it (pyVim reads a
    task's VM's ``runtime.question``) is there, unplaced."""
    entity = Entity(entity_id, entity_type, name)
    if not issubclass(KINDS.get(entity_type, ManagedObject), ManagedEntity):
        return ManagedEntity(entity_id, {"name": name})
    return _object(entity, {}, {})


def _object(entity: Entity, types: Mapping[str, str], names: Mapping[str, str]) -> ManagedEntity:
    cls = KINDS.get(entity.type)
    if cls is None or not issubclass(cls, ManagedEntity):
        raise ValueError(f"{entity.id}: vismock has no managed entity type {entity.type!r}")
    props: dict[str, Any] = {"name": entity.name}
    if entity.parent is not None:
        props["parent"] = MoRef(types.get(entity.parent, "ManagedEntity"), entity.parent)
    props.update(_vim25_props(entity, types, names))
    return cls(entity.id, props)


def _refs(ids: Any, types: Mapping[str, str], default: str) -> tuple[MoRef, ...]:
    return tuple(MoRef(types.get(str(i), default), str(i)) for i in ids or ())


def _ref(object_id: Any, types: Mapping[str, str], default: str) -> MoRef | None:
    return None if object_id is None else MoRef(types.get(str(object_id), default), str(object_id))


def _vim25_props(entity: Entity, types: Mapping[str, str], names: Mapping[str, str]) -> dict[str, Any]:
    props = entity.props
    if entity.type == "Folder":
        return {"childType": tuple(props.get("childType", ()))}
    if entity.type == "Datacenter":
        return {key: _ref(props.get(key), types, "Folder") for key in props}
    if entity.type in ("ComputeResource", "ClusterComputeResource"):
        return {
            "host": _refs(props.get("host"), types, "HostSystem"),
            "resourcePool": _ref(props.get("resourcePool"), types, "ResourcePool"),
        }
    if entity.type == "Datastore":
        return {"_capacity": props["capacity_gb"] * 1024**3 if "capacity_gb" in props else None}
    if entity.type == "HostSystem":
        sizes = {key: props[key] for key in ("cpu_cores", "memory_gb") if key in props}
        return {
            "hardware": host_hardware(entity.id, **sizes),
            "runtime": Data(
                "HostRuntimeInfo",
                connectionState=props.get("connectionState", "connected"),
                powerState=props.get("powerState", "poweredOn"),
                inMaintenanceMode=False,
            ),
        }
    if entity.type == "VirtualMachine":
        return _vm_props(entity, types, names)
    return {}


def _vm_props(entity: Entity, types: Mapping[str, str], names: Mapping[str, str]) -> dict[str, Any]:
    """A VM as vCenter shapes it, from the scenario's few words (vm_shape fills in the rest)."""
    props = entity.props
    datastores = _refs(props.get("datastore"), types, "Datastore")
    nic_ids = props.get("nics", props.get("network", ()))
    nics = [vm_shape.Nic(ref, names.get(ref.value, ref.value)) for ref in _refs(nic_ids, types, "Network")]
    config = vm_shape.vm_config(
        entity.id,
        entity.name,
        vm_shape.declaration_of(props),
        datastore=datastores[0] if datastores else None,
        datastore_name=names.get(datastores[0].value) if datastores else None,
        nics=nics,
    )
    guest = vm_shape.guest_facts(config, ip=props.get("ip"), host_name=props.get("hostname"))
    return {
        "runtime": Data(
            "VirtualMachineRuntimeInfo",
            host=_ref(props.get("host"), types, "HostSystem"),
            connectionState="connected",
            powerState=props.get("powerState", "poweredOn"),
            faultToleranceState="notConfigured",
            toolsInstallerMounted=False,
            numMksConnections=0,
            recordReplayState="inactive",
            onlineStandby=False,
            consolidationNeeded=False,
        ),
        "config": config,
        "_guest": guest,
        "resourcePool": _ref(props.get("resourcePool"), types, "ResourcePool"),
        "datastore": datastores,
        "network": _refs(props.get("network"), types, "Network"),
    }


# -- back: what the admin API shows of an object


def entity_of(obj: ManagedEntity) -> Entity:
    """The scenario's (flat) view of *obj*: the properties the scenario declares, as they are now."""
    props: dict[str, Any] = {}
    if obj.vim_type == "Folder":
        props["childType"] = tuple(obj.get("childType", ()))
    elif obj.vim_type == "Datacenter":
        props = {key: ref.value for key, ref in obj.props.items() if key.endswith("Folder")}
    elif obj.vim_type in ("ComputeResource", "ClusterComputeResource"):
        props = {
            "host": tuple(ref.value for ref in obj.get("host", ())),
            "resourcePool": _id(obj.get("resourcePool")),
        }
    elif obj.vim_type == "HostSystem":
        props = {
            "connectionState": obj.read("runtime.connectionState"),
            "powerState": obj.read("runtime.powerState"),
        }
    elif obj.vim_type == "VirtualMachine":
        props = {
            "powerState": obj.read("runtime.powerState"),
            "template": bool(obj.read("config.template")),
            "host": _id(obj.read("runtime.host")),
            "resourcePool": _id(obj.get("resourcePool")),
            "datastore": tuple(ref.value for ref in obj.get("datastore", ())),
            "network": tuple(ref.value for ref in obj.get("network", ())),
            **_declared_vm(obj),
        }
    return Entity(obj.id, obj.vim_type, obj.name, obj.parent_id, tuple(sorted(props.items())))


def _declared_vm(obj: ManagedEntity) -> dict[str, Any]:
    """A VM's hardware and guest in the scenario's words, as they are now."""
    config = obj.get("config")
    nics = vm_shape.devices_of(config, "VirtualEthernetCard")
    guest = obj.get("_guest")
    found = {
        "cpu": obj.read("config.hardware.numCPU"),
        "cores_per_socket": obj.read("config.hardware.numCoresPerSocket"),
        "memory_mb": obj.read("config.hardware.memoryMB"),
        "disks_gb": tuple(
            int(disk.capacityInKB) // 1024**2 for disk in vm_shape.devices_of(config, "VirtualDisk")
        ),
        "nics": tuple(nic.backing.network.value for nic in nics if nic.backing.network is not None),
        "guest_os": obj.read("config.guestId"),
        "ip": guest.ipAddress if guest is not None else None,
        "hostname": guest.hostName if guest is not None else None,
        "annotation": obj.read("config.annotation") or None,
    }
    return {key: value for key, value in found.items() if value is not None}


def _id(ref: MoRef | None) -> str | None:
    return None if ref is None else ref.value
