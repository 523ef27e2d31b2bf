"""Advanced_Vm / Revert_VM_Snapshot: vim25 RevertToSnapshot_Task on the snapshot of the virtual
machine named, found by its path in the VM's tree; answers the queued task's id. The VM returns to
the snapshot's configuration and power state."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from vismock.adapter.operations import VCenter, basic_vm
from vismock.adapter.operations.snapshots import parameters, snapshot_at

METHOD = "RevertToSnapshot_Task"


def run(request: Mapping[str, Any], vcenter: VCenter) -> dict[str, Any]:
    vm = basic_vm.named_vm(request, vcenter)
    snapshot = snapshot_at(vcenter, vm, str(parameters(request)["name"]))
    basic_vm.check_idle(vm)
    return basic_vm.queued(vcenter.call(snapshot, METHOD))
