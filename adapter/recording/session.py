"""The pyVmomi side of ``vismock record``: list, read and follow tasks, walk the inventory.

Every call goes through the PropertyCollector with explicit objects (no traversal specs, no
container views), so the same code records from a vCenter, from the reference simulator and from
vismock's own SOAP face. Errors come out as vismock faults (VimFault) with the messages
``retrieve-task-status`` gives (unreachable host, bad credentials, timeout, unknown object).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

from vismock.adapter.recording.inventory import Found
from vismock.adapter.vcenter import PyVmomiVCenter, task_info_dict
from vismock.faults import VimFault

TERMINAL = ("success", "error")
# WaitForUpdatesEx returns at least this often (seconds) when nothing changes: the progress line
# moves and a lost connection is noticed.
WAIT_SECONDS = 1
# The properties the inventory document needs, by managed object type; other types: their name.
INVENTORY_PATHS: Mapping[str, tuple[str, ...]] = {
    "Folder": ("name", "childEntity"),
    "StoragePod": ("name", "childEntity"),
    "Datacenter": ("name", "vmFolder", "hostFolder", "datastoreFolder", "networkFolder"),
    "ComputeResource": ("name", "host"),
    "ClusterComputeResource": ("name", "host"),
    "VirtualMachine": ("name", "runtime"),
}
# What a VM's, host's and datastore's short declaration is read from (docs/inventory.md), in one
# more call after the walk.
DETAIL_PATHS: Mapping[str, tuple[str, ...]] = {
    "VirtualMachine": (
        "config.template",
        "config.hardware.numCPU",
        "config.hardware.numCoresPerSocket",
        "config.hardware.memoryMB",
        "config.hardware.device",
        "config.guestId",
        "config.annotation",
        "guest.ipAddress",
        "guest.hostName",
        "datastore",
    ),
    "HostSystem": ("hardware.cpuInfo.numCpuCores", "hardware.memorySize"),
    "Datastore": ("summary.capacity",),
}
# Below these the walk goes on (the others are leaves of the document: hosts, VMs, datastores...).
CHILD_PATHS: Mapping[str, tuple[str, ...]] = {
    "Folder": ("childEntity",),
    "StoragePod": ("childEntity",),
    "Datacenter": ("vmFolder", "hostFolder", "datastoreFolder", "networkFolder"),
    "ComputeResource": ("host",),
    "ClusterComputeResource": ("host",),
}

SeenCallback = Callable[[str, "Mapping[str, Any] | None", datetime], None]


def _vmodl() -> tuple[Any, Any, Any]:
    """pyVmomi's ``vim``, ``vmodl`` and VmomiSupport, typed loosely (their members are made at run time)."""
    import pyVmomi
    from pyVmomi import VmomiSupport

    module: Any = pyVmomi
    support: Any = VmomiSupport
    return module.vim, module.vmodl, support


class Session:
    """A logged-in vCenter, seen by the recorder."""

    def __init__(self, vcenter: PyVmomiVCenter) -> None:
        vim, _vmodl_ns, _support = _vmodl()
        self._vcenter = vcenter
        self._stub = vcenter.stub
        with vcenter.translated_errors():
            self.content = vim.ServiceInstance("ServiceInstance", self._stub).RetrieveContent()
        self.server_clock = "estimated with its CurrentTime"
        self.unreadable: dict[str, str] = {}  # task id -> why its info could not be read
        self._offset = self._clock_offset()

    # -- the server

    @property
    def url(self) -> str:
        return self._vcenter.endpoint.url

    @property
    def product(self) -> str:
        about = self.content.about
        return str(getattr(about, "fullName", None) or getattr(about, "name", "") or "unknown server")

    def now(self) -> datetime:
        """The server's time now (estimated: the local clock corrected by the difference measured
        with CurrentTime at login)."""
        return datetime.now(UTC) + self._offset

    def _clock_offset(self) -> timedelta:
        vim, _vmodl_ns, _support = _vmodl()
        before = datetime.now(UTC)
        try:
            with self._vcenter.translated_errors():
                server = vim.ServiceInstance("ServiceInstance", self._stub).CurrentTime()
        except VimFault as fault:
            if fault.fault_type != "MethodNotFound":
                raise
            self.server_clock = "the local clock: the server has no CurrentTime"
            return timedelta(0)
        after = datetime.now(UTC)
        offset: timedelta = server.astimezone(UTC) - (before + (after - before) / 2)
        return offset

    # -- tasks

    def recent_task_ids(self) -> list[str]:
        with self._vcenter.translated_errors():
            return [str(task._moId) for task in self.content.taskManager.recentTask or ()]

    def read_tasks(self, task_ids: Sequence[str]) -> tuple[dict[str, dict[str, Any]], list[str]]:
        """(TaskInfo by task id, the ids of tasks the server does not know). A task whose info
        pyVmomi refuses to read is left out, and why is kept in ``unreadable``."""
        vim, _vmodl_ns, _support = _vmodl()
        if not task_ids:
            return {}, []
        try:
            contents = self._retrieve(
                [vim.Task(task_id, self._stub) for task_id in task_ids], {"Task": ("info",)}
            )
        except TypeError as refused:  # pyVmomi's check of the answer: the simulator's tasks on
            # VirtualDiskManager (a Destroy_Task's disk deletion) name it as a TaskInfo's entity
            if len(task_ids) > 1:
                return self._read_one_by_one(task_ids)  # which one: ask for each
            self.unreadable[task_ids[0]] = f"pyVmomi cannot read its info ({refused})"
            return {}, []
        except VimFault as fault:
            if fault.fault_type != "ManagedObjectNotFound" or len(task_ids) == 1:
                if fault.fault_type == "ManagedObjectNotFound":
                    return {}, list(task_ids)
                raise
            return self._read_one_by_one(task_ids)  # which one is unknown: ask for each
        infos = {str(obj._moId): task_info_dict(props["info"]) for obj, props in contents if "info" in props}
        return infos, [task_id for task_id in task_ids if task_id not in infos]

    def _read_one_by_one(self, task_ids: Sequence[str]) -> tuple[dict[str, dict[str, Any]], list[str]]:
        infos: dict[str, dict[str, Any]] = {}
        unknown: list[str] = []
        for task_id in task_ids:
            found, missing = self.read_tasks([task_id])
            infos.update(found)
            unknown.extend(missing)
        return infos, unknown

    def follow(
        self,
        task_ids: Sequence[str],
        seen: SeenCallback,
        waited: Callable[[], None],
        wait_seconds: int = WAIT_SECONDS,
    ) -> None:
        """Report every change of the tasks' info (``seen(task_id, info, when)``; info None: the
        task was deleted) until each has ended; ``waited()`` after every wait."""
        vim, vmodl, _support = _vmodl()
        collector_type = vmodl.query.PropertyCollector
        spec = collector_type.FilterSpec(
            objectSet=[collector_type.ObjectSpec(obj=vim.Task(task_id, self._stub)) for task_id in task_ids],
            propSet=[collector_type.PropertySpec(type=vim.Task, pathSet=["info"], all=False)],
        )
        collector = self.content.propertyCollector
        with self._vcenter.translated_errors():
            property_filter = collector.CreateFilter(spec, partialUpdates=False)
        pending = set(task_ids)
        version = ""
        while pending:
            with self._vcenter.translated_errors():
                update = collector.WaitForUpdatesEx(
                    version, collector_type.WaitOptions(maxWaitSeconds=wait_seconds)
                )
            if update is None:
                if wait_seconds == 0:
                    time.sleep(0.2)  # a short --timeout: ask again, without spinning
            else:
                version = update.version
                for task_id, info in self._changes(update):
                    seen(task_id, info, self.now())
                    if info is None or info.get("state") in TERMINAL:
                        pending.discard(task_id)
            waited()
        with self._vcenter.translated_errors():
            property_filter.DestroyPropertyFilter()

    def _changes(self, update: Any) -> Iterable[tuple[str, dict[str, Any] | None]]:
        for filter_update in update.filterSet or ():
            for change in filter_update.objectSet or ():
                task_id = str(change.obj._moId)
                if change.kind == "leave":
                    yield task_id, None
                    continue
                whole = [item.val for item in change.changeSet or () if item.name == "info" and item.val]
                if whole:
                    yield task_id, task_info_dict(whole[-1])
                elif change.changeSet:  # a server reporting parts of info (info.state...): read it all
                    infos, _unknown = self.read_tasks([task_id])
                    yield task_id, infos.get(task_id)

    # -- the inventory

    def walk_inventory(self) -> tuple[dict[str, Found], str, bool]:
        """(every object reached from the root folder by id, the root folder's id, whether the
        server served the details of VMs, hosts and datastores: which VMs are templates, their
        hardware and guest, the hosts' hardware, the datastores' capacity)."""
        root = self.content.rootFolder
        found: dict[str, Found] = {}
        level = [root]
        while level:
            following: list[Any] = []
            for obj, props in self._retrieve(level, self._paths_for(level)):
                found[str(obj._moId)] = _found(obj, props)
                following.extend(_children(obj, props))
            queued = {str(obj._moId) for obj in level}
            level = [obj for obj in following if str(obj._moId) not in found and str(obj._moId) not in queued]
            level = list({str(obj._moId): obj for obj in level}.values())
        details = self._details([item for item in found.values() if item.type in DETAIL_PATHS])
        if details is not None:
            for object_id, props in details.items():
                item = found[object_id]
                found[object_id] = Found(item.type, item.id, item.name, {**item.props, **props})
        return found, str(root._moId), details is not None

    def _details(self, objects: Sequence[Found]) -> dict[str, dict[str, Any]] | None:
        """What the short declaration of each VM, host and datastore needs (DETAIL_PATHS), in one
        call, as plain values by object id; None when the server does not serve these properties."""
        _vim, _vmodl_ns, support = _vmodl()
        if not objects:
            return {}
        refs = [support.GetWsdlType("urn:vim25", item.type)(item.id, self._stub) for item in objects]
        wanted = {item.type: DETAIL_PATHS[item.type] for item in objects}
        try:
            contents = self._retrieve(refs, wanted)
        except VimFault as fault:
            if fault.fault_type == "InvalidProperty":
                return None
            raise
        return {str(obj._moId): _plain_details(_type_name(obj), props) for obj, props in contents}

    @staticmethod
    def _paths_for(objects: Sequence[Any]) -> dict[str, tuple[str, ...]]:
        return {_type_name(obj): INVENTORY_PATHS.get(_type_name(obj), ("name",)) for obj in objects}

    # -- the PropertyCollector

    def _retrieve(
        self, objects: Sequence[Any], paths: Mapping[str, tuple[str, ...]]
    ) -> list[tuple[Any, dict[str, Any]]]:
        """RetrievePropertiesEx of *paths* (by type name) of *objects*, every page."""
        _vim, vmodl, support = _vmodl()
        collector_type = vmodl.query.PropertyCollector
        spec = collector_type.FilterSpec(
            objectSet=[collector_type.ObjectSpec(obj=obj, skip=False) for obj in objects],
            propSet=[
                collector_type.PropertySpec(type=support.GetWsdlType("urn:vim25", name), pathSet=list(names))
                for name, names in paths.items()
            ],
        )
        collector = self.content.propertyCollector
        contents: list[tuple[Any, dict[str, Any]]] = []
        with self._vcenter.translated_errors():
            result = collector.RetrievePropertiesEx([spec], collector_type.RetrieveOptions())
            while result is not None:
                contents.extend(
                    (item.obj, {p.name: p.val for p in item.propSet or ()}) for item in result.objects
                )
                result = collector.ContinueRetrievePropertiesEx(result.token) if result.token else None
        return contents


def _type_name(obj: Any) -> str:
    return str(getattr(type(obj), "_wsdlName", type(obj).__name__))


def _found(obj: Any, props: Mapping[str, Any]) -> Found:
    kind = _type_name(obj)
    values: dict[str, Any] = {}
    for prop in CHILD_PATHS.get(kind, ()):
        value = props.get(prop)
        if value is not None:
            values[prop] = (
                str(value._moId) if hasattr(value, "_moId") else [str(item._moId) for item in value]
            )
    if kind == "VirtualMachine":
        runtime = props.get("runtime")
        if runtime is not None:
            values["powerState"] = str(runtime.powerState) if runtime.powerState else None
            values["host"] = str(runtime.host._moId) if runtime.host is not None else None
    return Found(kind, str(obj._moId), str(props.get("name") or obj._moId), values)


def _plain_details(kind: str, props: Mapping[str, Any]) -> dict[str, Any]:
    """*props* (DETAIL_PATHS of a *kind*) as the plain values :class:`Found` holds."""
    if kind == "HostSystem":
        return _set(
            cpu_cores=props.get("hardware.cpuInfo.numCpuCores"), memory_bytes=props.get("hardware.memorySize")
        )
    if kind == "Datastore":
        return _set(capacity_bytes=props.get("summary.capacity"))
    vim, _vmodl_ns, _support = _vmodl()
    devices = list(props.get("config.hardware.device") or ())
    return {
        "template": bool(props.get("config.template")),
        **_set(
            cpu=props.get("config.hardware.numCPU"),
            cores_per_socket=props.get("config.hardware.numCoresPerSocket"),
            memory_mb=props.get("config.hardware.memoryMB"),
            guest_os=props.get("config.guestId"),
            annotation=props.get("config.annotation"),
            ip=props.get("guest.ipAddress"),
            hostname=props.get("guest.hostName"),
        ),
        "disks_kb": [int(d.capacityInKB) for d in devices if isinstance(d, vim.vm.device.VirtualDisk)],
        "nics": [_nic_network(d) for d in devices if isinstance(d, vim.vm.device.VirtualEthernetCard)],
        "datastores": [str(store._moId) for store in props.get("datastore") or ()],
    }


def _nic_network(nic: Any) -> str | None:
    """The id of the network a NIC is on; None when it is on none the inventory can hold (a
    distributed port group, an opaque network)."""
    network = getattr(nic.backing, "network", None)
    return str(network._moId) if network is not None else None


def _set(**values: Any) -> dict[str, Any]:
    """*values* without those the server left unset."""
    return {name: value for name, value in values.items() if value is not None}


def _children(obj: Any, props: Mapping[str, Any]) -> list[Any]:
    children: list[Any] = []
    for prop in CHILD_PATHS.get(_type_name(obj), ()):
        value = props.get(prop)
        if value is None:
            continue
        children.extend([value] if hasattr(value, "_moId") else list(value))
    return children
