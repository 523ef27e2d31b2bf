"""The inventory: datacenters, folders, clusters, hosts, resource pools, datastores, networks and
virtual machines, as vCenter arranges them under its root folder.

Declared in the scenario file under ``inventory:`` (see :func:`entities_from_document` and
docs/tasks.md), like the tasks; reset returns to what was loaded. Entities are stored flat (id,
type, name, parent, JSON properties); the tree is their parent links.

The shapes follow vCenter's: the root folder ``group-d1`` ("Datacenters") holds datacenters;
each datacenter has its ``vm``, ``host``, ``datastore`` and ``network`` folders; a standalone
host sits in a ComputeResource, clustered hosts in a ClusterComputeResource, each with its root
resource pool; virtual machines sit in the datacenter's vm folder (or a subfolder of it) and run
on a host.
"""

from __future__ import annotations

import json
import secrets
import sqlite3
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from vismock.faults import ManagedObjectNotFound
from vismock.mockserver.state import db
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

SCHEMA = (
    """CREATE TABLE IF NOT EXISTS inventory (
        id TEXT PRIMARY KEY, seq INTEGER NOT NULL, type TEXT NOT NULL, name TEXT NOT NULL, parent TEXT,
        props TEXT NOT NULL)""",
    "CREATE INDEX IF NOT EXISTS inventory_parent ON inventory (parent)",
    # The loaded inventory (the scenario file's, or the built-in one), which reset returns to.
    """CREATE TABLE IF NOT EXISTS loaded_inventory (
        id TEXT PRIMARY KEY, seq INTEGER NOT NULL, type TEXT NOT NULL, name TEXT NOT NULL, parent TEXT,
        props TEXT NOT NULL)""",
)
_COLUMNS = "id, seq, type, name, parent, props"


class EntityNotFound(ManagedObjectNotFound):
    def __init__(self, entity_id: str, mo_type: str = "ManagedEntity") -> None:
        super().__init__(mo_type, entity_id)


class Inventory:
    def __init__(self, database: db.Database) -> None:
        self._db = database
        database.create_tables(SCHEMA)
        # (revision, stamp, entities by id): the revision moves with every change of the state, the
        # stamp only with the inventory's, so a task or a journal write costs one small read here.
        self._snapshot: tuple[int, str | None, dict[str, Entity]] = (-1, None, {})
        self.replaced = False

    # -- the loaded inventory

    def load(self, entities: Sequence[Entity]) -> None:
        """Make *entities* the loaded inventory; a database loaded with another keeps its live
        inventory only if it was the same (a restart), and otherwise starts the new one."""
        rows = [_row(seq, entity) for seq, entity in enumerate(entities, 1)]
        self.replaced = False
        with self._db.write() as tx:
            fresh = tx.execute("SELECT 1 FROM meta WHERE key = 'inventory_loaded'").fetchone() is None
            loaded = [
                tuple(row) for row in tx.execute(f"SELECT {_COLUMNS} FROM loaded_inventory ORDER BY seq")
            ]
            self.replaced = not fresh and loaded != rows
            if fresh or self.replaced:
                tx.execute("DELETE FROM loaded_inventory")
                tx.executemany(f"INSERT INTO loaded_inventory ({_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?)", rows)
                self.reset(tx)
            if fresh:
                tx.execute("INSERT INTO meta (key, value) VALUES ('inventory_loaded', '1')")

    def reset(self, tx: sqlite3.Connection) -> None:
        tx.execute("DELETE FROM inventory")
        tx.execute(f"INSERT INTO inventory ({_COLUMNS}) SELECT {_COLUMNS} FROM loaded_inventory")
        _stamp(tx)

    # -- reading (from a snapshot of the whole inventory, read again only when the state changed)

    def all(self) -> dict[str, Entity]:
        """Every entity by id, in the order they were declared (read again after a change of the
        settings revision: a power operation's start leaves the inventory alone)."""
        revision = self._db.revision.settings()  # before reading: a later change moves it again
        cached_revision, cached_stamp, entities = self._snapshot
        if cached_revision != revision:
            conn = self._db.connection()
            row = conn.execute("SELECT value FROM meta WHERE key = 'inventory_stamp'").fetchone()
            stamp = None if row is None else str(row[0])
            if stamp is None or stamp != cached_stamp:
                rows = conn.execute(f"SELECT {_COLUMNS} FROM inventory ORDER BY seq").fetchall()
                entities = {row[0]: _entity(row) for row in rows}
            self._snapshot = (revision, stamp, entities)
        return entities

    def get(self, entity_id: str, mo_type: str = "ManagedEntity") -> Entity:
        """EntityNotFound (ManagedObjectNotFound) unless there is such an entity."""
        entity = self.all().get(entity_id)
        if entity is None:
            raise EntityNotFound(entity_id, mo_type)
        return entity

    def find(self, entity_id: str) -> Entity | None:
        return self.all().get(entity_id)

    def of_type(self, *types: str) -> list[Entity]:
        return [entity for entity in self.all().values() if entity.type in types]

    def children(self, entity_id: str) -> list[Entity]:
        return [entity for entity in self.all().values() if entity.parent == entity_id]

    def named(self, name: str, *types: str) -> list[Entity]:
        """Entities named *name* (of one of *types*, when given)."""
        return [e for e in self.all().values() if e.name == name and (not types or e.type in types)]

    def path_of(self, entity_id: str) -> str:
        """The inventory path: ``/Datacenter/vm/win1`` (the root folder is ``/``)."""
        names: list[str] = []
        current = self.find(entity_id)
        while current is not None and current.parent is not None:
            names.append(current.name)
            current = self.find(current.parent)
        return "/" + "/".join(reversed(names))

    def by_path(self, path: str) -> Entity | None:
        """The entity at inventory path *path* (``/Datacenter/vm/win1``), or None."""
        current = self.find(ROOT_FOLDER_ID)
        for name in (part for part in path.strip("/").split("/") if part):
            if current is None:
                return None
            current = next((child for child in self.children(current.id) if child.name == name), None)
        return current

    # -- changing it

    def replace_in(self, tx: sqlite3.Connection, entities: Sequence[Entity]) -> None:
        """Serve *entities* from now on (the loaded inventory, which reset returns to, stays)."""
        tx.execute("DELETE FROM inventory")
        tx.executemany(
            f"INSERT INTO inventory ({_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?)",
            [_row(seq, entity) for seq, entity in enumerate(entities, 1)],
        )
        _stamp(tx)

    def update(self, entity_id: str, **changes: Any) -> Entity:
        """Set properties of one entity (its power state, say); returns it changed."""
        with self._db.write() as tx:
            row = tx.execute(f"SELECT {_COLUMNS} FROM inventory WHERE id = ?", (entity_id,)).fetchone()
            if row is None:
                raise EntityNotFound(entity_id)
            changed = _entity(row).with_properties(**changes)
            tx.execute("UPDATE inventory SET props = ? WHERE id = ?", (_props_json(changed), entity_id))
            _stamp(tx)
        return changed


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


# -- storage ----------------------------------------------------------------------------------------


def _stamp(tx: sqlite3.Connection) -> None:
    """Mark a change of the inventory (a new random stamp: every process's snapshot is stale)."""
    tx.execute(
        "INSERT INTO meta (key, value) VALUES ('inventory_stamp', ?1)"
        " ON CONFLICT (key) DO UPDATE SET value = ?1",
        (secrets.token_hex(8),),
    )


def _props_json(entity: Entity) -> str:
    return json.dumps(dict(entity.properties), separators=(",", ":"), sort_keys=True)


def _row(seq: int, entity: Entity) -> tuple[Any, ...]:
    return (entity.id, seq, entity.type, entity.name, entity.parent, _props_json(entity))


def _entity(row: Iterable[Any]) -> Entity:
    entity_id, _seq, mo_type, name, parent, props = row
    properties = {
        key: tuple(value) if isinstance(value, list) else value for key, value in json.loads(props).items()
    }
    return Entity(entity_id, mo_type, name, parent, tuple(sorted(properties.items())))


def to_json(entity: Entity) -> dict[str, Any]:
    """An entity as the admin API shows it: id, type, name, parent and its properties."""
    return {
        "id": entity.id,
        "type": entity.type,
        "name": entity.name,
        "parent": entity.parent,
        **entity.props,
    }
