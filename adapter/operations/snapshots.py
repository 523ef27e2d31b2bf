"""What the Advanced_Vm snapshot operations share (Create_VM_Snapshot, Revert_VM_Snapshot,
Delete_VM_Snapshot): find a snapshot by its path in the VM's tree, as BMC's pages name it
(``win1SnapShot/sun1SnapShot``: names from the root snapshot down)."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from vismock.adapter.operations import VCenter, VirtualMachine
from vismock.faults import fault_named
from vismock.mockserver.vim25.values import Data, MoRef


def snapshot_at(vcenter: VCenter, vm: VirtualMachine, path: str) -> MoRef:
    """The snapshot at *path* in *vm*'s tree; NotFound naming the paths there are. A path whose
    names several snapshots share (names need not be unique) is the first in tree order."""
    info: Data | None = vcenter.read(vm.ref, "snapshot")
    roots: tuple[Data, ...] = info.rootSnapshotList if info is not None else ()
    names = [part for part in path.strip().split("/") if part]
    level, found = roots, None
    for name in names:
        found = next((node for node in level if node.name == name), None)
        if found is None:
            break
        level = found.childSnapshotList or ()
    if found is None or not names:
        there = ", ".join(sorted(paths_in(roots))) or "none"
        raise fault_named("NotFound", f"{vm.name} has no snapshot {path!r} (its snapshots: {there})")
    ref: MoRef = found.snapshot
    return ref


def paths_in(nodes: Iterable[Data], prefix: str = "") -> list[str]:
    found: list[str] = []
    for node in nodes:
        path = f"{prefix}{node.name}"
        found.append(path)
        found.extend(paths_in(node.childSnapshotList or (), f"{path}/"))
    return found


def parameters(request: Mapping[str, Any]) -> Mapping[str, Any]:
    found: Mapping[str, Any] = request["parameters"]
    return found
