"""The scenario's inventory: datacenters, folders, clusters, hosts, resource pools, datastores,
networks and virtual machines, as vCenter arranges them under its root folder.

Declared in the scenario file under ``inventory:`` (see :func:`entities_from_document` and
docs/tasks.md), like the tasks; reset returns to what was loaded. An entity here is flat (id,
type, name, parent, a few properties); the state serves each as a managed object
(:mod:`vismock.mockserver.objects.scenario`).

The shapes follow vCenter's: the root folder ``group-d1`` ("Datacenters") holds datacenters;
each datacenter has its ``vm``, ``host``, ``datastore`` and ``network`` folders; a standalone
host sits in a ComputeResource, clustered hosts in a ClusterComputeResource, each with its root
resource pool; virtual machines sit in the datacenter's vm folder (or a subfolder of it) and run
on a host.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from vismock.mockserver.state.models import Entity

ROOT_FOLDER_ID = "group-d1"
ROOT_FOLDER_NAME = "Datacenters"
POWER_STATES = ("poweredOn", "poweredOff", "suspended")
# What each datacenter folder may hold (vim25 Folder.childType).
FOLDER_KINDS = {
    "vm": ("vmFolder", "group-v", ("Folder", "VirtualMachine", "VirtualApp")),
    "host": ("hostFolder", "group-h", ("Folder", "ComputeResource")),
    "datastore": ("datastoreFolder", "group-s", ("Folder", "Datastore", "StoragePod")),
    "network": ("networkFolder", "group-n", ("Folder", "Network", "DistributedVirtualSwitch")),
}

# -- the scenario file's ``inventory:`` section -----------------------------------------------------


class InventoryError(ValueError):
    """A problem in an inventory document: *path* (field names and indexes) and *reason*."""

    def __init__(self, path: tuple[str | int, ...], reason: str) -> None:
        super().__init__(reason)
        self.path = path
        self.reason = reason


@dataclass
class _Builder:
    """Entities in declaration order, with vCenter-like ids for those the document does not name."""

    entities: list[Entity] = field(default_factory=list)
    taken: set[str] = field(default_factory=set)  # ids of the entities added so far
    reserved: set[str] = field(default_factory=set)  # ids the document gives: never generated
    counter: int = 100

    def add(
        self,
        path: tuple[str | int, ...],
        mo_type: str,
        name: str,
        parent: str | None,
        prefix: str,
        entity_id: str | None = None,
        **properties: Any,
    ) -> Entity:
        if entity_id is None:
            while f"{prefix}{self.counter}" in self.taken | self.reserved:
                self.counter += 1
            entity_id = f"{prefix}{self.counter}"
        if entity_id in self.taken:
            raise InventoryError((*path, "id"), f"duplicate id {entity_id!r}")
        self.taken.add(entity_id)
        entity = Entity(entity_id, mo_type, name, parent, tuple(sorted(properties.items())))
        self.entities.append(entity)
        return entity


def entities_from_document(inventory: Any, path: tuple[str | int, ...] = ("inventory",)) -> list[Entity]:
    """The entities an ``inventory:`` document declares; InventoryError naming the field.

    ::

        datacenters:
          - name: Datacenter          # id: datacenter-2 (optional, as for every entity)
            clusters: [{name: Cluster-A, hosts: [{name: esx01, vms: [...]}]}]
            hosts: [{name: esx02, vms: [{name: win1, power: poweredOn, folder: prod/web}]}]
            datastores: [{name: datastore1}]
            networks: [{name: VM Network}]

    A VM: ``name``, ``id``, ``power`` (poweredOn, poweredOff or suspended; default poweredOn),
    ``template`` (default false), ``folder`` (a path below the datacenter's vm folder).
    """
    document = _mapping(inventory, path, {"datacenters"})
    builder = _Builder()
    builder.reserved.update(_explicit_ids(document))
    root = builder.add(
        path, "Folder", ROOT_FOLDER_NAME, None, "group-d", ROOT_FOLDER_ID, childType=("Datacenter", "Folder")
    )
    names: set[str] = set()
    for index, datacenter in enumerate(_list(document, "datacenters", path)):
        where = (*path, "datacenters", index)
        entity = _datacenter(builder, datacenter, where, root.id)
        if entity.name in names:
            raise InventoryError((*where, "name"), f"duplicate datacenter name {entity.name!r}")
        names.add(entity.name)
    return builder.entities


def _datacenter(builder: _Builder, data: Any, path: tuple[str | int, ...], root: str) -> Entity:
    item = _mapping(data, path, {"name", "id", "clusters", "hosts", "datastores", "networks"})
    folders: dict[str, str] = {}
    name = _name(item, path)
    # The datacenter's folder ids, known before the datacenter itself is written out.
    pending = builder.add(path, "Datacenter", name, root, "datacenter-", _text(item, "id", path))
    for kind, (prop, prefix, child_types) in FOLDER_KINDS.items():
        folders[prop] = builder.add(path, "Folder", kind, pending.id, prefix, childType=child_types).id
    datacenter = Entity(pending.id, "Datacenter", name, root, tuple(sorted(folders.items())))
    builder.entities[builder.entities.index(pending)] = datacenter
    stores = _named_leaves(
        builder, item, "datastores", path, "Datastore", "datastore-", folders["datastoreFolder"]
    )
    nets = _named_leaves(builder, item, "networks", path, "Network", "network-", folders["networkFolder"])
    placement = _Placement(folders["vmFolder"], tuple(stores), tuple(nets))
    for index, cluster in enumerate(_list(item, "clusters", path)):
        where = (*path, "clusters", index)
        data = _mapping(cluster, where, {"name", "id", "hosts"})
        resource = builder.add(
            where,
            "ClusterComputeResource",
            _name(data, where),
            folders["hostFolder"],
            "domain-c",
            _text(data, "id", where),
        )
        hosts = _list(data, "hosts", where)
        _hosts(builder, resource, [(host, (*where, "hosts", i)) for i, host in enumerate(hosts)], placement)
    for index, host in enumerate(_list(item, "hosts", path)):
        where = (*path, "hosts", index)
        name = _name(_mapping(host, where, HOST_KEYS), where)
        resource = builder.add(where, "ComputeResource", name, folders["hostFolder"], "domain-s")
        _hosts(builder, resource, [(host, where)], placement)
    return datacenter


@dataclass(frozen=True)
class _Placement:
    vm_folder: str
    datastores: tuple[str, ...]
    networks: tuple[str, ...]


def _named_leaves(
    builder: _Builder,
    item: Mapping[str, Any],
    key: str,
    path: tuple[str | int, ...],
    mo_type: str,
    prefix: str,
    folder: str,
) -> list[str]:
    """Datastores or networks (one default each when the datacenter names none)."""
    declared = _list(item, key, path)
    default = {"Datastore": "datastore1", "Network": "VM Network"}[mo_type]
    ids = []
    for index, leaf in enumerate(declared or [{"name": default}]):
        where = (*path, key, index)
        data = _mapping(leaf, where, {"name", "id"})
        ids.append(
            builder.add(where, mo_type, _name(data, where), folder, prefix, _text(data, "id", where)).id
        )
    return ids


HOST_KEYS = {"name", "id", "vms"}


def _hosts(
    builder: _Builder, resource: Entity, hosts: list[tuple[Any, tuple[str | int, ...]]], placement: _Placement
) -> None:
    """A cluster's (or a standalone host's ComputeResource's) root resource pool, hosts and VMs."""
    pool = builder.add(
        (), "ResourcePool", "Resources", resource.id, "resgroup-"
    )  # its id is never a duplicate
    host_ids = []
    for host, where in hosts:
        item = _mapping(host, where, HOST_KEYS)
        entity = builder.add(
            where,
            "HostSystem",
            _name(item, where),
            resource.id,
            "host-",
            _text(item, "id", where),
            connectionState="connected",
            powerState="poweredOn",
        )
        host_ids.append(entity.id)
        for index, vm in enumerate(_list(item, "vms", where)):
            _vm(builder, vm, (*where, "vms", index), entity.id, pool.id, placement)
    changed = resource.with_properties(host=tuple(host_ids), resourcePool=pool.id)
    builder.entities[builder.entities.index(resource)] = changed


def _vm(
    builder: _Builder, data: Any, path: tuple[str | int, ...], host: str, pool: str, placement: _Placement
) -> None:
    item = _mapping(data, path, {"name", "id", "power", "template", "folder"})
    power = _text(item, "power", path) or "poweredOn"
    if power not in POWER_STATES:
        raise InventoryError((*path, "power"), f"{power!r} is not one of {', '.join(POWER_STATES)}")
    template = item.get("template", False)
    if not isinstance(template, bool):
        raise InventoryError((*path, "template"), f"expected true or false, got {template!r}")
    if template and power != "poweredOff":
        raise InventoryError((*path, "power"), "a template is powered off (vCenter cannot power one on)")
    folder = _vm_folder(builder, placement.vm_folder, _text(item, "folder", path) or "", path)
    builder.add(
        path,
        "VirtualMachine",
        _name(item, path),
        folder,
        "vm-",
        _text(item, "id", path),
        powerState=power,
        template=template,
        host=host,
        resourcePool=pool,
        datastore=placement.datastores[:1],
        network=placement.networks[:1],
    )


def _vm_folder(builder: _Builder, vm_folder: str, folder: str, path: tuple[str | int, ...]) -> str:
    """The folder at *folder* (``prod/web``) below the vm folder, made on first mention."""
    parent = vm_folder
    for name in (part for part in folder.split("/") if part):
        found = next(
            (e for e in builder.entities if e.parent == parent and e.name == name and e.type == "Folder"),
            None,
        )
        parent = (
            found or builder.add(path, "Folder", name, parent, "group-v", childType=FOLDER_KINDS["vm"][2])
        ).id
    return parent


def _explicit_ids(document: Mapping[str, Any]) -> set[str]:
    """Every id the document gives (generated ids avoid them)."""
    found: set[str] = set()

    def walk(value: Any) -> None:
        if isinstance(value, Mapping):
            if isinstance(value.get("id"), str):
                found.add(value["id"])
            for item in value.values():
                walk(item)
        elif isinstance(value, list):
            for item in value:
                walk(item)

    walk(document)
    return found


def _mapping(value: Any, path: tuple[str | int, ...], keys: set[str]) -> Mapping[str, Any]:
    if not isinstance(value, Mapping):
        raise InventoryError(path, f"expected a mapping, got {type(value).__name__}")
    unknown = sorted(set(value) - keys)
    if unknown:
        raise InventoryError(
            (*path, unknown[0]), f"unknown field {unknown[0]!r} (allowed: {', '.join(sorted(keys))})"
        )
    return value


def _list(item: Mapping[str, Any], key: str, path: tuple[str | int, ...]) -> list[Any]:
    value = item.get(key)
    if value is None:
        return []
    if not isinstance(value, list):
        raise InventoryError((*path, key), f"expected a list, got {type(value).__name__}")
    return value


def _text(item: Mapping[str, Any], key: str, path: tuple[str | int, ...]) -> str | None:
    value = item.get(key)
    if value is None:
        return None
    if not isinstance(value, str) or not value.strip():
        raise InventoryError((*path, key), f"expected a non-empty string, got {value!r}")
    return value


def _name(item: Mapping[str, Any], path: tuple[str | int, ...]) -> str:
    name = _text(item, "name", path)
    if name is None:
        raise InventoryError((*path, "name"), "is required")
    if "/" in name:
        raise InventoryError((*path, "name"), f"{name!r}: an inventory name cannot hold '/'")
    return name


def to_json(entity: Entity) -> dict[str, Any]:
    """An entity as the admin API shows it: id, type, name, parent and its properties."""
    return {
        "id": entity.id,
        "type": entity.type,
        "name": entity.name,
        "parent": entity.parent,
        **entity.props,
    }
