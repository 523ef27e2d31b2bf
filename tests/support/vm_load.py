"""The concurrency run of the VM lifecycle: clients of both faces of a real ``vismock serve``, each
logged in as its own user, take, revert and remove snapshots, power VMs, clone them and destroy the
clones, all on a few shared VMs, polling every task to its end; then what the server holds is read
back for :mod:`tests.support.linearizability` to check.

``tests/mockserver/test_vm_concurrency.py`` runs it (32 clients, 20 s).
"""

from __future__ import annotations

import random
import threading
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, replace
from datetime import timedelta

from lxml import etree

from tests.support import power_load
from tests.support.linearizability import (
    CLONE,
    CREATE,
    DESTROY,
    REMOVE,
    REMOVE_ALL,
    REVERT,
    REVERT_CURRENT,
    Asked,
    CallRecord,
    Snap,
    TaskRecord,
    Vm,
    World,
)
from tests.support.power_load import VIM25, Tally, admin, soap_call, when

CLONES_PER_FOLDER = 4  # a small pool of names: clones collide (DuplicateName) and get destroyed
MIX = (  # what a client does next, by weight
    ("power", 30),
    ("snapshot", 14),
    ("revert", 12),
    ("remove", 10),
    ("clone", 8),
    ("power_off_clone", 6),
    ("destroy_clone", 8),
)
OBSERVER = "observer"
SCRIPTED = {("SuspendVM_Task", "vm-525"): "InvalidState"}  # power_load.SCENARIO's override on TestDev


def users(count: int) -> list[str]:
    return [f"client{number:02d}" for number in range(count)]


def password_of(user: str) -> str:
    return f"{user}-secret"


def account_arguments(count: int) -> tuple[str, ...]:
    """``vismock serve --account`` for each client (the journal tells their calls apart by user),
    and for the observer that reads the world before and after."""
    accounts = [*users(count), OBSERVER]
    return tuple(part for user in accounts for part in ("--account", f"{user}:{password_of(user)}"))


@dataclass(frozen=True)
class Fleet:
    """The shared VMs (id -> (name, folder)) and the names their clones may take (name -> folder)."""

    vms: Mapping[str, tuple[str, str]]
    clone_names: Mapping[str, str]


def fleet(port: int, vm_ids: Iterable[str] = power_load.VMS) -> Fleet:
    vms = {}
    for vm_id in vm_ids:
        entity = admin(port, f"/inventory/{vm_id}")
        vms[vm_id] = (str(entity["name"]), str(entity["parent"]))
    folders = sorted({folder for _, folder in vms.values()})
    names = {f"{folder}-clone-{k}": folder for folder in folders for k in range(CLONES_PER_FOLDER)}
    return Fleet(vms, names)


# -- one client ---------------------------------------------------------------------------------------


class VmClient(power_load.PowerClient):
    """A client of one face doing what :data:`MIX` says on the fleet, logging each call it makes."""

    def __init__(self, port: int, face: str, user: str, fleet: Fleet, rng: random.Random) -> None:
        super().__init__(port, face, user=user, password=password_of(user))
        self.account, self.port, self.fleet, self.rng = user, port, fleet, rng
        self.log: list[Asked] = []
        self._taken = 0
        kinds, weights = zip(*MIX, strict=True)
        self._kinds: tuple[str, ...] = kinds
        self._weights: tuple[int, ...] = weights

    def act(self) -> None:
        kind = self.rng.choices(self._kinds, self._weights)[0]
        actions: dict[str, Callable[[], None]] = {
            "power": self.power,
            "snapshot": self.snapshot,
            "revert": self.revert,
            "remove": self.remove,
            "clone": self.clone,
            "power_off_clone": lambda: self.on_clone("PowerOffVM_Task"),
            "destroy_clone": lambda: self.on_clone(DESTROY),
        }
        actions[kind]()

    # -- the actions

    def power(self) -> None:
        vm_id = self._shared()
        self._call(self._asked(self.rng.choice(power_load.METHODS), vm_id), "VirtualMachine", vm_id)

    def snapshot(self) -> None:
        vm_id, memory = self._shared(), self.rng.random() < 0.5
        self._taken += 1
        name = f"{self.account}-{self._taken}"  # unique: the model finds a snapshot by a path's last name
        asked = replace(self._asked(CREATE, vm_id), name=name, memory=memory)
        self._call(
            asked,
            "VirtualMachine",
            vm_id,
            f"<name>{name}</name>{_flag('memory', memory)}<quiesce>false</quiesce>",
        )

    def revert(self) -> None:
        vm_id = self._shared()
        if self.face == "soap" and self.rng.random() < 0.3:
            suppress = self.rng.random() < 0.3
            asked = replace(self._asked(REVERT_CURRENT, vm_id), suppress=suppress)
            self._call(asked, "VirtualMachine", vm_id, _flag("suppressPowerOn", suppress))
            return
        snapshot = self._pick_snapshot(vm_id)
        if snapshot is not None:
            suppress = self.face == "soap" and self.rng.random() < 0.3
            asked = replace(self._asked(REVERT, vm_id), snapshot=snapshot, suppress=suppress)
            self._call(asked, "VirtualMachineSnapshot", snapshot, _flag("suppressPowerOn", suppress))

    def remove(self) -> None:
        vm_id = self._shared()
        if self.face == "soap" and self.rng.random() < 0.15:
            self._call(self._asked(REMOVE_ALL, vm_id), "VirtualMachine", vm_id)
            return
        snapshot = self._pick_snapshot(vm_id)
        if snapshot is not None:
            children = self.rng.random() < 0.4
            asked = replace(self._asked(REMOVE, vm_id), snapshot=snapshot, remove_children=children)
            self._call(asked, "VirtualMachineSnapshot", snapshot, _flag("removeChildren", children))

    def clone(self) -> None:
        vm_id = self._shared()
        folder = self.fleet.vms[vm_id][1]
        name = self.rng.choice([n for n, f in self.fleet.clone_names.items() if f == folder])
        on = self.rng.random() < 0.5
        asked = replace(self._asked(CLONE, vm_id), name=name, folder=folder, power_on=on)
        spec = f"<spec><location/><template>false</template>{_flag('powerOn', on)}</spec>"
        self._call(
            asked,
            "VirtualMachine",
            vm_id,
            f'<folder type="Folder">{folder}</folder><name>{name}</name>{spec}',
        )

    def on_clone(self, method: str) -> None:
        name = self.rng.choice(sorted(self.fleet.clone_names))
        if self.face == "adapter":
            self._call(Asked(self.account, self.face, method, name, by_name=True), "VirtualMachine", name)
            return
        vm_id = self._find(self.fleet.clone_names[name], name)  # what a SOAP client does: find it first
        if vm_id is not None:
            self._call(Asked(self.account, self.face, method, vm_id), "VirtualMachine", vm_id)

    # -- calls

    def _shared(self) -> str:
        return self.rng.choice(sorted(self.fleet.vms))

    def _asked(self, method: str, vm_id: str) -> Asked:
        if self.face == "adapter":
            return Asked(self.account, self.face, method, self.fleet.vms[vm_id][0], by_name=True)
        return Asked(self.account, self.face, method, vm_id)

    def _call(self, asked: Asked, this_type: str, this: str, arguments: str = "") -> None:
        """Make the call *asked* describes (over SOAP on *this*), log it, poll its task to its end."""
        if self.face == "soap":
            task, outcome = self.soap_task(asked.method, this_type, this, arguments)
        else:
            task, outcome = self.adapter_task(*adapter_operation(asked))
        self.log.append(replace(asked, outcome=outcome, task=task))
        if task is not None:
            self.poll_to_end(task)

    def _pick_snapshot(self, vm_id: str) -> str | None:
        """A snapshot of the VM as a read just now shows it: its id (SOAP), its path (adapter)."""
        if self.face == "adapter":
            paths = [node["path"] for node in admin(self.port, f"/inventory/{vm_id}")["snapshots"]]
            return self.rng.choice(paths) if paths else None
        status, data = self.connection.post("/sdk", properties_call([vm_id], ("snapshot",)))
        self._expect(status == 200, "RetrievePropertiesEx snapshot", status, data)
        ids = [node.text or "" for node in etree.fromstring(data).iter(f"{VIM25}snapshot")]
        return self.rng.choice(ids) if ids else None

    def _find(self, folder: str, name: str) -> str | None:
        arguments = f'<entity type="Folder">{folder}</entity><name>{name}</name>'
        status, data = self.connection.post(
            "/sdk", soap_call("FindChild", "SearchIndex", "SearchIndex", arguments)
        )
        self._expect(status == 200, "FindChild", status, data)
        return etree.fromstring(data).findtext(f".//{VIM25}returnval")


def adapter_operation(asked: Asked) -> tuple[str, dict[str, str | bool]]:
    """The VIS operation and parameters of what a client asks on the adapter face."""
    parameters: dict[str, str | bool] = {"virtual-machine": asked.vm}
    if asked.method == CREATE:
        return "Create_VM_Snapshot", {**parameters, "name": asked.name or "", "memory": asked.memory}
    if asked.method == REVERT:
        return "Revert_VM_Snapshot", {**parameters, "name": asked.snapshot or ""}
    if asked.method == REMOVE:
        path: dict[str, str | bool] = {"name": asked.snapshot or "", "remove-children": asked.remove_children}
        return "Delete_VM_Snapshot", {**parameters, **path}
    if asked.method == CLONE:
        return "Clone_VM", {**parameters, "name": asked.name or "", "power-on": asked.power_on}
    if asked.method == DESTROY:
        return "Delete_VM", parameters
    return next(vis for vis, m in power_load.ADAPTER_OPERATIONS.items() if m == asked.method), parameters


def _flag(name: str, value: bool) -> str:
    return f"<{name}>{str(value).lower()}</{name}>"


def properties_call(vm_ids: Iterable[str], paths: Iterable[str]) -> bytes:
    path_set = "".join(f"<pathSet>{path}</pathSet>" for path in paths)
    objects = "".join(f'<objectSet><obj type="VirtualMachine">{vm_id}</obj></objectSet>' for vm_id in vm_ids)
    return soap_call(
        "RetrievePropertiesEx",
        "PropertyCollector",
        "propertyCollector",
        f"<specSet><propSet><type>VirtualMachine</type>{path_set}</propSet>{objects}</specSet><options/>",
    )


def hammer(
    port: int, clients: int, seconds: float, fleet: Fleet, seed: int = 17
) -> tuple[Tally, list[Asked]]:
    """*clients* threads (half per face, each its own user) acting on the fleet for *seconds*."""
    total, asked = Tally(), []
    stop = threading.Event()
    threads = []
    for number, user in enumerate(users(clients)):
        face = "soap" if number % 2 else "adapter"

        rng = random.Random(seed * 1000 + number)

        def run(face: str = face, user: str = user, rng: random.Random = rng) -> None:
            client: VmClient | None = None
            try:
                client = VmClient(port, face, user, fleet, rng)
                while not stop.is_set():
                    client.act()
            except Exception as error:  # a wrong answer: reported, not hidden
                total.add(Tally(problems=[f"{face} client {user} stopped: {error}"]))
            finally:
                if client is not None:
                    client.connection.close()
                    total.add(client.tally)
                    with total.lock:
                        asked.extend(client.log)

        threads.append(threading.Thread(target=run, daemon=True))
    for thread in threads:
        thread.start()
    time.sleep(seconds)
    stop.set()
    for thread in threads:
        thread.join(timeout=120)
    return total, asked


# -- what the server holds ----------------------------------------------------------------------------


def read_world(port: int, fleet: Fleet) -> World:
    """The shared VMs and the clones there are (VMs named as clones may be): each one's name,
    folder, power state and snapshot tree, as SOAP reads them (one RetrievePropertiesEx)."""
    entities = admin(port, "/inventory")["entities"]
    watched = [
        e
        for e in entities
        if e["type"] == "VirtualMachine" and (e["id"] in fleet.vms or e["name"] in fleet.clone_names)
    ]
    connection = power_load.Connection(port)
    try:
        status, data = connection.post("/sdk", power_load.login_call(OBSERVER, password_of(OBSERVER)))
        assert status == 200, data
        paths = ("name", "parent", "runtime.powerState", "snapshot")
        status, data = connection.post("/sdk", properties_call([e["id"] for e in watched], paths))
        assert status == 200, data
    finally:
        connection.close()
    return {vm.id: vm for vm in (_vm(node) for node in etree.fromstring(data).iter(f"{VIM25}objects"))}


def _vm(objects: etree._Element) -> Vm:
    values = {
        prop.findtext(f"{VIM25}name"): prop.find(f"{VIM25}val") for prop in objects.iter(f"{VIM25}propSet")
    }
    text = {name: (value.text if value is not None else None) for name, value in values.items()}
    snapshots: list[Snap] = []
    info = values.get("snapshot")
    if info is not None:
        for root in info.findall(f"{VIM25}rootSnapshotList"):
            _walk(root, None, snapshots)
    current = info.findtext(f"{VIM25}currentSnapshot") if info is not None else None
    numbers = [s.number for s in snapshots]
    return Vm(
        id=objects.findtext(f"{VIM25}obj") or "",
        name=text.get("name") or "",
        folder=text.get("parent") or "",
        power=text.get("runtime.powerState") or "",
        snapshots=tuple(sorted(snapshots, key=lambda s: s.number)),
        current=current,
        next_number=max(numbers, default=0) + 1,  # the run starts from trees it has not seen change
    )


def _walk(node: etree._Element, parent: str | None, found: list[Snap]) -> None:
    snapshot_id = node.findtext(f"{VIM25}snapshot") or ""
    number = int(node.findtext(f"{VIM25}id") or 0)
    found.append(
        Snap(
            snapshot_id,
            node.findtext(f"{VIM25}name") or "",
            number,
            parent,
            node.findtext(f"{VIM25}state") or "",
        )
    )
    for child in node.findall(f"{VIM25}childSnapshotList"):
        _walk(child, snapshot_id, found)


def collect(port: int, fleet: Fleet, clients: int) -> tuple[list[TaskRecord], list[CallRecord], World]:
    """The tasks the clients' users started, every journal entry, and the world at the end."""
    ours = set(users(clients))
    tasks = []
    for task in admin(port, "/tasks")["tasks"]:
        info = task["info"]
        if (info.get("TaskReasonUser") or {}).get("userName") not in ours:
            continue
        completed = info.get("completeTime")
        tasks.append(
            TaskRecord(
                task["id"],
                info["VirtualMachine"],
                info["name"],
                task["spec"]["progression"],
                info["state"],
                (info.get("error") or {}).get("fault"),
                when(info["queueTime"]),
                when(completed) if completed else None,
                result=info.get("result"),
                vm_name=info.get("entityName", ""),
            )
        )
    calls = []
    for entry in admin(port, "/journal")["entries"]:
        start = when(entry["time"])
        calls.append(
            CallRecord(
                entry["face"],
                entry["operation"],
                entry["entity"],
                start,
                start + timedelta(milliseconds=entry["latency_ms"]),
                entry["outcome"],
                tuple(entry["task_ids"]),
                entry["http_status"],
                entry.get("user"),
            )
        )
    return tasks, calls, read_world(port, fleet)
