"""VirtualMachine: its state as vim25 shapes it, and its methods.

Power (PowerOnVM_Task, PowerOffVM_Task, ResetVM_Task, SuspendVM_Task): each starts a task
(:func:`~vismock.mockserver.objects.task.start_task`) and answers its reference, as vCenter does;
the work happens when the task succeeds (its effect). Where each vim25 error goes (docs/power.md):

* raised by the method (a SOAP fault, no task): ManagedObjectNotFound (no such VM), NotSupported
  (a template);
* reported in the task (it fails at once): TaskInProgress (another task runs on the VM, named in
  the fault), InvalidPowerState (the power state does not allow the method).

The rules themselves (which state allows which method, what it leaves, bootTime) are
:mod:`vismock.power`'s, shared with the VIS operations.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from vismock import power
from vismock.faults import NotSupported, VimFault
from vismock.mockserver.objects.base import Context, task_effect, vim_method
from vismock.mockserver.objects.managed_entity import ManagedEntity
from vismock.mockserver.objects.task import Task, start_task
from vismock.mockserver.state.clock import from_us
from vismock.mockserver.state.registry import derived
from vismock.mockserver.vim25.values import Data, MoRef


class VirtualMachine(ManagedEntity):
    """``runtime`` (VirtualMachineRuntimeInfo), ``config`` (VirtualMachineConfigInfo), ``guest``,
    ``resourcePool``, ``datastore``, ``network``; ``summary`` is derived from them."""

    vim_type = "VirtualMachine"

    @property
    def power_state(self) -> str:
        return str(self.read("runtime.powerState") or power.POWERED_ON)

    @property
    def template(self) -> bool:
        return bool(self.read("config.template"))

    @derived
    def summary(self) -> Data:
        runtime = self.get("runtime")
        guest = self.get("guest")
        return Data(
            "VirtualMachineSummary",
            vm=self.ref,
            runtime=runtime,
            guest=Data(
                "VirtualMachineGuestSummary",
                toolsStatus=guest.toolsStatus if guest is not None else None,
                toolsRunningStatus=guest.toolsRunningStatus if guest is not None else None,
            ),
            config=Data(
                "VirtualMachineConfigSummary",
                name=self.name,
                template=self.template,
                vmPathName=self.vm_path_name(),
            ),
            quickStats=Data(
                "VirtualMachineQuickStats",
                guestHeartbeatStatus="green" if self.power_state == power.POWERED_ON else "gray",
            ),
            overallStatus="green",
        )

    @derived
    def parentVApp(self) -> MoRef | None:  # noqa: N802 (vim25's name)
        return None  # the inventory's virtual machines sit in folders, never in a vApp

    def vm_path_name(self) -> str:
        """Where the VM's files are: ``[datastore1] win1/win1.vmx``."""
        stores = self.get("datastore") or ()
        store = self.state.find(stores[0].value) if stores else None
        name = store.name if isinstance(store, ManagedEntity) else "datastore1"
        return f"[{name}] {self.name}/{self.name}.vmx"

    # -- power

    def power_refusal(self, method: str) -> VimFault | None:
        """Why power *method* cannot run now (InvalidPowerState), reported in its task; a
        template's is raised by the method itself (NotSupported)."""
        if self.template:
            raise NotSupported(power.TEMPLATE_MESSAGE)
        return power.state_refusal(method, self.power_state)

    def _start_power(self, ctx: Context, method: str) -> MoRef:
        return start_task(ctx, self, method, refusal=self.power_refusal(method)).ref

    @vim_method("PowerOnVM_Task")
    def power_on(self, ctx: Context, host: MoRef | None = None) -> MoRef:
        return self._start_power(ctx, "PowerOnVM_Task")

    @vim_method("PowerOffVM_Task")
    def power_off(self, ctx: Context) -> MoRef:
        return self._start_power(ctx, "PowerOffVM_Task")

    @vim_method("ResetVM_Task")
    def reset(self, ctx: Context) -> MoRef:
        return self._start_power(ctx, "ResetVM_Task")

    @vim_method("SuspendVM_Task")
    def suspend(self, ctx: Context) -> MoRef:
        return self._start_power(ctx, "SuspendVM_Task")

    @task_effect("PowerOnVM_Task")
    @task_effect("PowerOffVM_Task")
    @task_effect("ResetVM_Task")
    @task_effect("SuspendVM_Task")
    def powered(self, task: Task, args: Mapping[str, Any], at_us: int) -> None:
        self.set_power_state(power.after(task.spec.name, self.power_state), method=task.spec.name, at_us=at_us)

    def set_power_state(self, state: str, *, method: str | None = None, at_us: int) -> None:
        """The VM is now in power *state* (after *method*, or as the admin API sets it):
        ``runtime.powerState`` and ``runtime.bootTime`` (vim.vm.RuntimeInfo's rules)."""
        current = self.power_state
        boot = self.read("runtime.bootTime")
        finished = from_us(at_us)
        if method is not None:
            boot = power.boot_time_after(method, current, boot, finished)
        elif state == power.POWERED_OFF:
            boot = None
        elif state == power.POWERED_ON and current == power.POWERED_OFF:
            boot = finished
        self.update({"runtime.powerState": state, "runtime.bootTime": boot})
