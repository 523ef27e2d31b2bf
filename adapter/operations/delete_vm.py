"""Basic_Vm / Delete_VM (named by the family's pattern): vim25 Destroy_Task on the virtual machine
named, which must be powered off (InvalidPowerState otherwise); answers the queued task's id."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from vismock import power
from vismock.adapter.operations import VCenter, basic_vm
from vismock.faults import InvalidPowerState

METHOD = "Destroy_Task"


def run(request: Mapping[str, Any], vcenter: VCenter) -> dict[str, Any]:
    vm = basic_vm.named_vm(request, vcenter)
    basic_vm.check_idle(vm)
    if vm.power_state == power.POWERED_ON:
        raise InvalidPowerState(power.POWERED_OFF, vm.power_state)
    return basic_vm.queued(vcenter.call(vm.ref, METHOD))
