"""What the Basic_Vm power operations share (Power_On_VM, Power_Off_VM, Reset_VM, Suspend_VM):
find the VM by name, check it as vCenter would, start the vim25 method, answer the queued task.

The adapter checks before it calls, so every vim25 error is its own answer, an error envelope
naming the fault, and no task is started: an unknown name (ManagedObjectNotFound), a template
(NotSupported), a VM busy with another task (TaskInProgress), a power state the method does not run
from (InvalidPowerState; vim25's rules in :mod:`vismock.power`). Against a vCenter the check and
the call are two steps (a task started in between makes the queued task fail, as vCenter reports
it); on the mock's state they are one transaction.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from vismock import power
from vismock.adapter.operations import VCenter, VirtualMachine, virtual_machine
from vismock.faults import TaskInProgress


def virtual_machine_name(request: Mapping[str, Any]) -> str:
    return str(request["parameters"]["virtual-machine"])


def named_vm(request: Mapping[str, Any], vcenter: VCenter) -> VirtualMachine:
    """The VM the request names (``<virtual-machine>``), found by its name."""
    return virtual_machine(vcenter, virtual_machine_name(request))


def check_idle(vm: VirtualMachine) -> None:
    """TaskInProgress while another task runs on *vm* (vCenter would fail the new one)."""
    if vm.busy_with is not None:
        raise TaskInProgress(vm.busy_with)


def queued(task_id: str) -> dict[str, Any]:
    """``{"Task": task-id}``: the content of an operation's ``<Xxx_TaskResponse>``."""
    return {"Task": task_id}


def start(request: Mapping[str, Any], vcenter: VCenter, method: str) -> dict[str, Any]:
    """Power *method* on the VM the request names, checked first (template, busy, power state)."""
    vm = named_vm(request, vcenter)
    refusal = power.refusal(method, power_state=vm.power_state, template=vm.template, busy_with=vm.busy_with)
    if refusal is not None:
        raise refusal
    return queued(vcenter.call(vm.ref, method))
