"""Advanced_Vm / Create_VM_Snapshot (named by the family's pattern: BMC documents no page for it):
vim25 CreateSnapshot_Task on the virtual machine named; answers the queued task's id, whose result
is the new snapshot."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from vismock.adapter.operations import VCenter, basic_vm
from vismock.adapter.operations.snapshots import parameters
from vismock.faults import NotSupported

METHOD = "CreateSnapshot_Task"


def run(request: Mapping[str, Any], vcenter: VCenter) -> dict[str, Any]:
    vm = basic_vm.named_vm(request, vcenter)
    if vm.template:
        raise NotSupported("Snapshots are not supported on a template.")
    basic_vm.check_idle(vm)
    given = parameters(request)
    task = vcenter.call(
        vm.ref,
        METHOD,
        name=str(given["name"]),
        description=given.get("description") or None,
        memory=bool(given.get("memory")),
        quiesce=bool(given.get("quiesce")),
    )
    return basic_vm.queued(task)
