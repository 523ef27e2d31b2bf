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
    ``template`` (default false), ``folder`` (a path below the datacenter's vm folder), and its
    hardware and guest in a few words (docs/inventory.md): ``cpu``, ``cores_per_socket``,
    ``memory_mb``, ``disks`` (sizes in GB), ``nics`` (network names), ``guest_os`` (a vim25
    guestId), ``ip``, ``hostname``, ``annotation``, ``datastore`` (a name; default the
    datacenter's first). A host: ``cpu_cores``, ``memory_gb``; a datastore: ``capacity_gb``.
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
        allowed = {"name", "id", "capacity_gb"} if mo_type == "Datastore" else {"name", "id"}
        data = _mapping(leaf, where, allowed)
        sizes = {"capacity_gb": _count(data, "capacity_gb", where, 1)} if "capacity_gb" in data else {}
        ids.append(
            builder.add(
                where, mo_type, _name(data, where), folder, prefix, _text(data, "id", where), **sizes
            ).id
        )
    return ids


HOST_KEYS = {"name", "id", "vms", "cpu_cores", "memory_gb"}
VM_KEYS = {
    "name",
    "id",
    "power",
    "template",
    "folder",
    "cpu",
    "cores_per_socket",
    "memory_mb",
    "disks",
    "nics",
    "guest_os",
    "ip",
    "hostname",
    "annotation",
    "datastore",
}


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
        hardware = {key: _count(item, key, where, 1) for key in ("cpu_cores", "memory_gb") if key in item}
        entity = builder.add(
            where,
            "HostSystem",
            _name(item, where),
            resource.id,
            "host-",
            _text(item, "id", where),
            connectionState="connected",
            powerState="poweredOn",
            **hardware,
        )
        host_ids.append(entity.id)
        for index, vm in enumerate(_list(item, "vms", where)):
            _vm(builder, vm, (*where, "vms", index), entity.id, pool.id, placement)
    changed = resource.with_properties(host=tuple(host_ids), resourcePool=pool.id)
    builder.entities[builder.entities.index(resource)] = changed


def _vm(
    builder: _Builder, data: Any, path: tuple[str | int, ...], host: str, pool: str, placement: _Placement
) -> None:
    item = _mapping(data, path, VM_KEYS)
    power = _text(item, "power", path) or "poweredOn"
    if power not in POWER_STATES:
        raise InventoryError((*path, "power"), f"{power!r} is not one of {', '.join(POWER_STATES)}")
    template = item.get("template", False)
    if not isinstance(template, bool):
        raise InventoryError((*path, "template"), f"expected true or false, got {template!r}")
    if template and power != "poweredOff":
        raise InventoryError((*path, "power"), "a template is powered off (vCenter cannot power one on)")
    folder = _vm_folder(builder, placement.vm_folder, _text(item, "folder", path) or "", path)
    datastore = _placed(builder, item, "datastore", path, placement.datastores[:1], "Datastore")
    nics = _nics(builder, item, path, placement.networks[:1])
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
        datastore=datastore,
        network=tuple(dict.fromkeys(nics)),
        **_hardware(item, path, nics),
    )


def _hardware(item: Mapping[str, Any], path: tuple[str | int, ...], nics: tuple[str, ...]) -> dict[str, Any]:
    """What the VM declares of its hardware and guest (JSON-safe); the mock fills in the rest
    (vismock.mockserver.objects.vm_shape)."""
    found: dict[str, Any] = {"nics": nics}
    for key, low in (("cpu", 1), ("cores_per_socket", 1), ("memory_mb", 4)):
        if key in item:
            found[key] = _count(item, key, path, low)
    if "cpu" in found and found["cpu"] % found.get("cores_per_socket", 1):
        raise InventoryError(
            (*path, "cores_per_socket"),
            f"{found['cpu']} CPUs cannot be split in sockets of {found['cores_per_socket']} cores",
        )
    if "disks" in item:
        disks = item["disks"]
        if not isinstance(disks, list):
            raise InventoryError((*path, "disks"), f"expected a list of sizes in GB, got {disks!r}")
        found["disks_gb"] = tuple(_size(size, (*path, "disks", index)) for index, size in enumerate(disks))
    guest_os = _text(item, "guest_os", path)
    if guest_os is not None:
        found["guest_os"] = _guest_os(guest_os, (*path, "guest_os"))
    for key in ("ip", "hostname", "annotation"):
        text = _text(item, key, path) if key != "annotation" else item.get(key)
        if text is not None:
            if not isinstance(text, str):
                raise InventoryError((*path, key), f"expected a string, got {text!r}")
            found[key] = text
    if "ip" in found:
        found["ip"] = _ip(found["ip"], (*path, "ip"))
    return found


def _count(item: Mapping[str, Any], key: str, path: tuple[str | int, ...], low: int) -> int:
    value = item[key]
    if isinstance(value, bool) or not isinstance(value, int) or value < low:
        raise InventoryError((*path, key), f"expected a whole number of at least {low}, got {value!r}")
    return value


def _size(value: Any, path: tuple[str | int, ...]) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise InventoryError(
            path, f"expected a disk size in GB (a whole number of at least 1), got {value!r}"
        )
    return value


def _guest_os(guest_id: str, path: tuple[str | int, ...]) -> str:
    from vismock.mockserver.vim25.typemodel import model, suggestion

    known = model().enum("VirtualMachineGuestOsIdentifier").values
    if guest_id not in known:
        raise InventoryError(path, f"{guest_id!r} is not a vim25 guestId{suggestion(guest_id, known)}")
    return guest_id


def _ip(text: str, path: tuple[str | int, ...]) -> str:
    import ipaddress

    try:
        return str(ipaddress.ip_address(text))
    except ValueError:
        raise InventoryError(path, f"{text!r} is not an IPv4 or IPv6 address") from None


def _placed(
    builder: _Builder,
    item: Mapping[str, Any],
    key: str,
    path: tuple[str | int, ...],
    default: tuple[str, ...],
    mo_type: str,
) -> tuple[str, ...]:
    """The id of the datastore *item* names (one of its datacenter's), or *default*."""
    name = _text(item, key, path)
    if name is None:
        return default
    return (_named_in(builder, name, default, mo_type, (*path, key)),)


def _nics(
    builder: _Builder, item: Mapping[str, Any], path: tuple[str | int, ...], default: tuple[str, ...]
) -> tuple[str, ...]:
    """The network ids of the VM's NICs, one each (the datacenter's first network by default)."""
    if "nics" not in item:
        return default
    nics = item["nics"]
    if not isinstance(nics, list):
        raise InventoryError((*path, "nics"), f"expected a list of network names, got {nics!r}")
    found = []
    for index, name in enumerate(nics):
        where = (*path, "nics", index)
        if not isinstance(name, str) or not name:
            raise InventoryError(where, f"expected a network name, got {name!r}")
        found.append(_named_in(builder, name, default, "Network", where))
    return tuple(found)


def _named_in(
    builder: _Builder, name: str, near: tuple[str, ...], mo_type: str, path: tuple[str | int, ...]
) -> str:
    """The id of the *mo_type* named *name* in the same folder as the ones in *near* (its datacenter's)."""
    folders = {e.parent for e in builder.entities if e.id in near}
    candidates = [e for e in builder.entities if e.type == mo_type and (not folders or e.parent in folders)]
    for entity in candidates:
        if entity.name == name:
            return entity.id
    names = ", ".join(sorted(e.name for e in candidates)) or "none"
    raise InventoryError(path, f"no {mo_type.lower()} named {name!r} in this datacenter (there are: {names})")


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
