"""Advanced_Vm / Delete_VM_Snapshot: vim25 RemoveSnapshot_Task on the snapshot of the virtual
machine named, found by its path in the VM's tree (``remove-children``: the whole subtree);
answers the queued task's id."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from vismock.adapter.operations import VCenter, basic_vm
from vismock.adapter.operations.snapshots import parameters, snapshot_at

METHOD = "RemoveSnapshot_Task"


def run(request: Mapping[str, Any], vcenter: VCenter) -> dict[str, Any]:
    vm = basic_vm.named_vm(request, vcenter)
    given = parameters(request)
    snapshot = snapshot_at(vcenter, vm, str(given["name"]))
    basic_vm.check_idle(vm)
    return basic_vm.queued(vcenter.call(snapshot, METHOD, removeChildren=bool(given["remove-children"])))
