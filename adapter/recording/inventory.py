"""The inventory read from a vCenter -> the scenario file's ``inventory:`` document.

The walk (:mod:`.session`) hands over every object it reached from the root folder, each with the
few properties the document needs (:class:`Found`). The document holds what vismock's inventory
format holds (mockserver/state/inventory.py): datacenters with their datastores, networks,
clusters and standalone hosts, and the VMs on each host with their power state, template flag and
folder path. What the format cannot hold is left out, and each kind of omission becomes a note
(a comment in the file): folders around datacenters, clusters or hosts (their contents are kept,
one level up), empty VM folders, resource pools, vApps, distributed switches and port groups.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

from vismock.mockserver.state.inventory import POWER_STATES


@dataclass(frozen=True, slots=True)
class Found:
    """An object the walk reached: its type, id and name, and what places it (by property)."""

    type: str
    id: str
    name: str
    # Folder/StoragePod: childEntity (ids); Datacenter: vmFolder, hostFolder, datastoreFolder,
    # networkFolder (ids); ComputeResource: host (ids); VirtualMachine: powerState, host (id),
    # template (bool, absent when the server does not say).
    props: Mapping[str, Any] = field(default_factory=dict)

    def ids(self, prop: str) -> tuple[str, ...]:
        value = self.props.get(prop)
        if value is None:
            return ()
        return (str(value),) if isinstance(value, str) else tuple(str(item) for item in value)


@dataclass(slots=True)
class _Notes:
    skipped: dict[str, list[str]] = field(default_factory=dict)  # why -> names

    def skip(self, why: str, name: str) -> None:
        self.skipped.setdefault(why, []).append(name)

    def lines(self) -> list[str]:
        return [f"{why}: {_names(names)}" for why, names in self.skipped.items()]


def _names(names: list[str], shown: int = 5) -> str:
    more = len(names) - shown
    return ", ".join(names[:shown]) + (f" and {more} more" if more > 0 else "")


@dataclass(frozen=True, slots=True)
class InventoryDocument:
    document: dict[str, Any]  # {"datacenters": [...]}
    notes: tuple[str, ...]
    counts: Mapping[str, int]  # datacenters, clusters, hosts, vms


def inventory_document(objects: Mapping[str, Found], root: str) -> InventoryDocument:
    """The ``inventory:`` document of the objects under the root folder *root*."""
    notes = _Notes()
    builder = _Document(objects, notes)
    for datacenter in builder.below(
        root, "Datacenter", through=("Folder",), why="folders around datacenters"
    ):
        builder.datacenter(datacenter)
    return InventoryDocument({"datacenters": builder.datacenters}, tuple(notes.lines()), builder.counts)


@dataclass(slots=True)
class _Document:
    objects: Mapping[str, Found]
    notes: _Notes
    datacenters: list[dict[str, Any]] = field(default_factory=list)
    counts: dict[str, int] = field(default_factory=lambda: dict.fromkeys(("datacenters", "hosts", "vms"), 0))
    seen_datacenters: set[str] = field(default_factory=set)

    def below(self, parent: str, *types: str, through: tuple[str, ...], why: str = "") -> Iterator[Found]:
        """The objects of *types* under *parent*, looking inside folders (and *through* types);
        anything else found there is noted as not recorded."""
        for child_id in self._children(parent):
            child = self.objects.get(child_id)
            if child is None:
                continue
            if child.type in types:
                yield child
            elif child.type in through:
                if why and child.type == "Folder":
                    self.notes.skip(f"not recorded ({why}; what they hold is kept)", child.name)
                yield from self.below(child.id, *types, through=through, why=why)
            else:
                self.notes.skip(f"not recorded ({child.type})", child.name)

    def _children(self, parent: str) -> tuple[str, ...]:
        found = self.objects.get(parent)
        return () if found is None else found.ids("childEntity")

    def datacenter(self, found: Found) -> None:
        if found.name in self.seen_datacenters:
            self.notes.skip("not recorded (a second datacenter of the same name)", found.name)
            return
        self.seen_datacenters.add(found.name)
        entry: dict[str, Any] = {"name": _safe(found.name), "id": found.id}
        folder = {prop: found.props.get(prop) for prop in ("vmFolder", "hostFolder", "datastoreFolder")}
        datastores = self._unique(
            self.below(str(folder["datastoreFolder"]), "Datastore", through=("Folder", "StoragePod"))
        )
        networks = self._unique(
            self.below(str(found.props.get("networkFolder")), "Network", through=("Folder",))
        )
        for key, leaves in (("datastores", datastores), ("networks", networks)):
            if leaves:
                entry[key] = [{"name": _safe(leaf.name), "id": leaf.id} for leaf in leaves]
        vms_by_host = self._vms(str(folder["vmFolder"]))
        clusters, hosts = self._compute(str(folder["hostFolder"]), vms_by_host)
        if clusters:
            entry["clusters"] = clusters
        if hosts:
            entry["hosts"] = hosts
        for vm in (vm for vms in vms_by_host.values() for vm in vms):
            self.notes.skip("not recorded (VMs whose host is not in the inventory)", vm["name"])
        self.datacenters.append(entry)
        self.counts["datacenters"] += 1

    @staticmethod
    def _unique(found: Iterator[Found]) -> list[Found]:
        """Each object once (the reference simulator lists a datastore once per host)."""
        return list({item.id: item for item in found}.values())

    def _compute(
        self, host_folder: str, vms_by_host: dict[str, list[dict[str, Any]]]
    ) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
        clusters: list[dict[str, Any]] = []
        standalone: list[dict[str, Any]] = []
        resources = self.below(
            host_folder, "ClusterComputeResource", "ComputeResource", through=("Folder",), why="host folders"
        )
        for resource in self._unique(resources):
            found = (self._host(host_id, vms_by_host) for host_id in resource.ids("host"))
            hosts = [host for host in found if host is not None]
            if resource.type == "ClusterComputeResource":
                clusters.append({"name": _safe(resource.name), "id": resource.id, "hosts": hosts})
            else:
                standalone.extend(hosts)  # a standalone host's ComputeResource gets a new id
        return clusters, standalone

    def _host(self, host_id: str, vms_by_host: dict[str, list[dict[str, Any]]]) -> dict[str, Any] | None:
        host = self.objects.get(host_id)
        if host is None:
            return None
        self.counts["hosts"] += 1
        entry: dict[str, Any] = {"name": _safe(host.name), "id": host.id}
        vms = vms_by_host.pop(host.id, [])
        self.counts["vms"] += len(vms)
        if vms:
            entry["vms"] = vms
        return entry

    def _vms(self, vm_folder: str, path: tuple[str, ...] = ()) -> dict[str, list[dict[str, Any]]]:
        """The VMs below *vm_folder*, by host id, each with its folder path."""
        by_host: dict[str, list[dict[str, Any]]] = {}
        for child_id in self._children(vm_folder):
            child = self.objects.get(child_id)
            if child is None:
                continue
            if child.type == "Folder":
                below = self._vms(child.id, (*path, _safe(child.name)))
                if not below:
                    self.notes.skip("not recorded (empty VM folders)", "/".join((*path, child.name)))
                for host, vms in below.items():
                    by_host.setdefault(host, []).extend(vms)
            elif child.type == "VirtualMachine":
                by_host.setdefault(str(child.props.get("host")), []).append(self._vm(child, path))
            else:
                self.notes.skip(f"not recorded ({child.type})", child.name)
        return by_host

    def _vm(self, vm: Found, path: tuple[str, ...]) -> dict[str, Any]:
        entry: dict[str, Any] = {"name": _safe(vm.name), "id": vm.id}
        power = str(vm.props.get("powerState") or "poweredOn")
        if power not in POWER_STATES:
            self.notes.skip(f"power state {power!r} recorded as poweredOff", vm.name)
            power = "poweredOff"
        if vm.props.get("template") and power != "poweredOff":
            self.notes.skip("templates not powered off (recorded powered off)", vm.name)
            power = "poweredOff"
        entry["power"] = power
        if vm.props.get("template"):
            entry["template"] = True
        if path:
            entry["folder"] = "/".join(path)
        return entry


def _safe(name: str) -> str:
    """vCenter escapes '/' in names as %2f; an inventory name cannot hold one."""
    return name.replace("/", "%2f")
