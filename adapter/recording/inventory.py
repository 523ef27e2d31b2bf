"""The inventory read from a vCenter -> the scenario file's ``inventory:`` document.

The walk (:mod:`.session`) hands over every object it reached from the root folder, each with the
few properties the document needs (:class:`Found`). The document holds what vismock's inventory
format holds (mockserver/state/inventory.py): datacenters with their datastores (and capacity),
networks, clusters and standalone hosts (with their cores and memory), and the VMs on each host
with their power state, template flag, folder path and short declaration (CPUs, cores per
socket, memory, disk sizes, the networks of their NICs, guest OS, annotation, IP, host name,
datastore), so a replay builds the same VMs (docs/inventory.md). What the format cannot hold is
left out, and each kind of omission becomes a note (a comment in the file): folders around
datacenters, clusters or hosts (their contents are kept, one level up), empty VM folders,
resource pools, vApps, distributed switches and port groups (and NICs on them), sizes that are
not whole GB (rounded), guest OS identifiers vismock's vim25 model does not know.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

from vismock.mockserver.state.inventory import POWER_STATES

GIB = 1024**3


@dataclass(frozen=True, slots=True)
class Found:
    """An object the walk reached: its type, id and name, and what places it (by property)."""

    type: str
    id: str
    name: str
    # Folder/StoragePod: childEntity (ids); Datacenter: vmFolder, hostFolder, datastoreFolder,
    # networkFolder (ids); ComputeResource: host (ids); VirtualMachine: powerState, host (id), and
    # when the server says (session.DETAIL_PATHS): template (bool), cpu, cores_per_socket,
    # memory_mb, disks_kb, nics (a network id each, None for one the format cannot hold), guest_os,
    # annotation, ip, hostname, datastores (ids); HostSystem: cpu_cores, memory_bytes; Datastore:
    # capacity_bytes.
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
        names = self.skipped.setdefault(why, [])
        if name not in names:  # once each (a VM with two disks to round)
            names.append(name)

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
        if datastores:
            entry["datastores"] = [self._datastore(leaf) for leaf in datastores]
        if networks:
            entry["networks"] = [{"name": _safe(leaf.name), "id": leaf.id} for leaf in networks]
        places = _Places(
            {leaf.id: _safe(leaf.name) for leaf in datastores},
            {leaf.id: _safe(leaf.name) for leaf in networks},
        )
        vms_by_host = self._vms(str(folder["vmFolder"]), places)
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
        if host.props.get("cpu_cores"):
            entry["cpu_cores"] = int(host.props["cpu_cores"])
        if host.props.get("memory_bytes"):
            entry["memory_gb"] = self._gigabytes(int(host.props["memory_bytes"]), host.name)
        vms = vms_by_host.pop(host.id, [])
        self.counts["vms"] += len(vms)
        if vms:
            entry["vms"] = vms
        return entry

    def _datastore(self, found: Found) -> dict[str, Any]:
        entry: dict[str, Any] = {"name": _safe(found.name), "id": found.id}
        if found.props.get("capacity_bytes"):
            entry["capacity_gb"] = self._gigabytes(int(found.props["capacity_bytes"]), found.name)
        return entry

    def _gigabytes(self, size: int, name: str, *, up: bool = False) -> int:
        """*size* bytes in whole GB (at least 1), noting *name* when that rounds it (*up*: to
        the GB above, as a disk must hold its data)."""
        whole, rest = divmod(size, GIB)
        if rest:
            self.notes.skip("sizes not a whole number of GB (rounded)", name)
            whole += 1 if up or rest * 2 >= GIB else 0
        return max(whole, 1)

    def _vms(
        self, vm_folder: str, places: _Places, path: tuple[str, ...] = ()
    ) -> dict[str, list[dict[str, Any]]]:
        """The VMs below *vm_folder*, by host id, each with its folder path."""
        by_host: dict[str, list[dict[str, Any]]] = {}
        for child_id in self._children(vm_folder):
            child = self.objects.get(child_id)
            if child is None:
                continue
            if child.type == "Folder":
                below = self._vms(child.id, places, (*path, _safe(child.name)))
                if not below:
                    self.notes.skip("not recorded (empty VM folders)", "/".join((*path, child.name)))
                for host, vms in below.items():
                    by_host.setdefault(host, []).extend(vms)
            elif child.type == "VirtualMachine":
                by_host.setdefault(str(child.props.get("host")), []).append(self._vm(child, places, path))
            else:
                self.notes.skip(f"not recorded ({child.type})", child.name)
        return by_host

    def _vm(self, vm: Found, places: _Places, path: tuple[str, ...]) -> dict[str, Any]:
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
        entry.update(self._declaration(vm, places))
        return entry

    def _declaration(self, vm: Found, places: _Places) -> dict[str, Any]:
        """What the VM's short declaration holds of what the server said (nothing when it said
        nothing): its hardware, guest and datastore."""
        props = vm.props
        if "cpu" not in props and "disks_kb" not in props:
            return {}
        found: dict[str, Any] = {}
        cpu, cores = int(props.get("cpu") or 0), int(props.get("cores_per_socket") or 1)
        if cpu:
            found["cpu"] = cpu
            if cores > 1 and cpu % cores == 0:
                found["cores_per_socket"] = cores
            elif cores > 1:
                self.notes.skip("cores per socket that do not divide the CPUs left out", vm.name)
        if int(props.get("memory_mb") or 0) >= 4:
            found["memory_mb"] = int(props["memory_mb"])
        found["disks"] = [self._gigabytes(kb * 1024, vm.name, up=True) for kb in props.get("disks_kb", ())]
        found.update(self._nics(vm, places))
        found.update(self._guest(vm))
        stores = [places.datastores[ds] for ds in props.get("datastores", ()) if ds in places.datastores]
        if stores:
            found["datastore"] = stores[0]
        return found

    def _nics(self, vm: Found, places: _Places) -> dict[str, Any]:
        """``nics``: the network of each NIC the format can hold (left out when the VM has NICs
        but none of them is: the replay puts one on the datacenter's first network)."""
        nics: list[str | None] = list(vm.props.get("nics", ()))
        names = [places.networks[nic] for nic in nics if nic is not None and nic in places.networks]
        if len(names) < len(nics):
            self.notes.skip(
                "NICs on networks the file cannot hold (distributed port groups) left out", vm.name
            )
        return {"nics": names} if names or not nics else {}

    def _guest(self, vm: Found) -> dict[str, Any]:
        """guest_os (when vismock's vim25 model knows it), annotation, IP and host name."""
        from vismock.mockserver.vim25.typemodel import model

        found: dict[str, Any] = {}
        guest_os = vm.props.get("guest_os")
        if guest_os in model().enum("VirtualMachineGuestOsIdentifier").values:
            found["guest_os"] = guest_os
        elif guest_os:
            self.notes.skip(f"guest OS {guest_os!r} unknown to vismock (the default is recorded)", vm.name)
        for key in ("annotation", "hostname"):
            if vm.props.get(key):
                found[key] = str(vm.props[key])
        ip = str(vm.props.get("ip") or "")
        if _is_ip(ip):
            found["ip"] = ip
        elif ip:
            self.notes.skip("guest IP addresses that are not one left out", vm.name)
        return found


@dataclass(frozen=True, slots=True)
class _Places:
    """A datacenter's recorded datastores and networks: names by id."""

    datastores: Mapping[str, str]
    networks: Mapping[str, str]


def _is_ip(text: str) -> bool:
    import ipaddress

    try:
        ipaddress.ip_address(text)
    except ValueError:
        return False
    return True


def _safe(name: str) -> str:
    """vCenter escapes '/' in names as %2f; an inventory name cannot hold one."""
    return name.replace("/", "%2f")
