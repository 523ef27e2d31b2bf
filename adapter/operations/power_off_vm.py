"""Basic_Vm / Power_Off_VM: vim25 PowerOffVM_Task on the virtual machine named; answers the queued task's id
(``<PowerOffVM_TaskResponse><Task>task-N</Task>``), which Retrieve_Task_Status follows to its end."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from vismock.adapter.operations import VCenter, basic_vm

METHOD = "PowerOffVM_Task"


def run(request: Mapping[str, Any], vcenter: VCenter) -> dict[str, Any]:
    return basic_vm.start(request, vcenter, METHOD)
