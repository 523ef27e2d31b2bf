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

from vismock.mockserver.objects.managed_entity import ManagedEntity
from vismock.mockserver.objects.virtual_machine import new_config, vm_path
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
    if entity.type == "HostSystem":
        return {
            "runtime": Data(
                "HostRuntimeInfo",
                connectionState=props.get("connectionState", "connected"),
                powerState=props.get("powerState", "poweredOn"),
                inMaintenanceMode=False,
            )
        }
    if entity.type == "VirtualMachine":
        return _vm_props(entity, types, names)
    return {}


def _vm_props(entity: Entity, types: Mapping[str, str], names: Mapping[str, str]) -> dict[str, Any]:
    props = entity.props
    datastores = _refs(props.get("datastore"), types, "Datastore")
    path = vm_path(names.get(datastores[0].value) if datastores else None, entity.name)
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
        "config": new_config(entity.id, entity.name, template=bool(props.get("template")), vm_path_name=path),
        "guest": Data(
            "GuestInfo",
            toolsStatus="toolsNotInstalled",
            toolsRunningStatus="guestToolsNotRunning",
            guestState="notRunning",
        ),
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
        }
    return Entity(obj.id, obj.vim_type, obj.name, obj.parent_id, tuple(sorted(props.items())))


def _id(ref: MoRef | None) -> str | None:
    return None if ref is None else ref.value
