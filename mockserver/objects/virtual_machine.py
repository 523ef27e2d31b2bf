"""VirtualMachine: its state as vim25 shapes it, and its methods.

Power (PowerOnVM_Task, PowerOffVM_Task, ResetVM_Task, SuspendVM_Task), snapshots
(CreateSnapshot_Task, CreateSnapshotEx_Task, RevertToCurrentSnapshot_Task, RemoveAllSnapshots_Task;
a snapshot's own methods are :mod:`.virtual_machine_snapshot`'s), CloneVM_Task and Destroy_Task:
each starts a task (:func:`~vismock.mockserver.objects.task.start_task`) and answers its reference,
as vCenter does; the work happens when the task succeeds (its effect), and a task that makes
something (a snapshot, a clone) has it as its result. Where each vim25 error goes (docs/power.md):

* raised by the method (a SOAP fault, no task): ManagedObjectNotFound (no such VM), NotSupported
  (a template);
* reported in the task (it fails at once): TaskInProgress (another task runs on the VM, named in
  the fault), InvalidPowerState (the power state does not allow the method).

The rules themselves (which state allows which method, what it leaves, bootTime) are
:mod:`vismock.power`'s, shared with the VIS operations.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from typing import Any

from vismock import power
from vismock.faults import InvalidPowerState, NotSupported, VimFault, fault_named
from vismock.mockserver.objects import vm_shape
from vismock.mockserver.objects.base import Context, task_effect, vim_method
from vismock.mockserver.objects.managed_entity import ManagedEntity
from vismock.mockserver.objects.task import Task, start_task
from vismock.mockserver.objects.virtual_machine_snapshot import (
    VirtualMachineSnapshot,
    invalid_name,
    snapshot_state,
)
from vismock.mockserver.state.clock import from_us
from vismock.mockserver.state.registry import Registry, derived
from vismock.mockserver.vim25.values import Data, MoRef

UUID_NAMESPACE = uuid.UUID("7669736d-6f63-6b00-0000-000000000000")  # "vismock": ids derived from it


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

    # -- what is derived from its configuration and state (vm_shape: one source for each fact)

    @derived
    def summary(self) -> Data:
        return vm_shape.summary(
            self.ref,
            self.get("config"),
            self.get("runtime"),
            self.read("guest"),
            self.read("storage"),
            tuple(self.get("customValue", ())),
        )

    @derived
    def guest(self) -> Data:
        """What the guest reports (the mock's own ``_guest``) while it runs; no IP while it does not."""
        return vm_shape.guest(self.get("_guest"), self.power_state)

    @derived
    def guestHeartbeatStatus(self) -> str:
        return "green" if self.power_state == power.POWERED_ON else "gray"

    @derived
    def layout(self) -> Data | None:
        numbered = [(snapshot.ref, int(snapshot.get("id", 0))) for snapshot in self.snapshots()]
        return vm_shape.layout(self.get("config"), numbered)

    @derived
    def layoutEx(self) -> Data | None:
        return vm_shape.layout_ex(self.get("config"), powered_on=self.power_state == power.POWERED_ON)

    @derived
    def storage(self) -> Data | None:
        stores = self.get("datastore") or ()
        on = self.power_state == power.POWERED_ON
        return vm_shape.storage(self.get("config"), stores[0] if stores else None, powered_on=on)

    @derived
    def capability(self) -> Data:
        return vm_shape.CAPABILITY

    @derived
    def parentVApp(self) -> MoRef | None:
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
        self.set_power_state(
            power.after(task.spec.name, self.power_state), method=task.spec.name, at_us=at_us
        )

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

    # -- snapshots

    def snapshots(self) -> list[VirtualMachineSnapshot]:
        return [s for s in self.state.all(VirtualMachineSnapshot) if s.get("vm") == self.ref]

    def root_snapshots(self) -> list[VirtualMachineSnapshot]:
        return [s for s in self.snapshots() if s.parent_id is None]

    @derived
    def snapshot(self) -> Data | None:
        """The snapshot tree (VirtualMachineSnapshotInfo); unset while the VM has none."""
        roots = self.root_snapshots()
        if not roots:
            return None
        current = self.get("_currentSnapshot")
        return Data(
            "VirtualMachineSnapshotInfo",
            currentSnapshot=MoRef("VirtualMachineSnapshot", current) if current else None,
            rootSnapshotList=tuple(root.tree() for root in roots),
        )

    @derived
    def rootSnapshot(self) -> tuple[MoRef, ...]:
        return tuple(root.ref for root in self.root_snapshots())

    def _snapshot_refusal(self, name: str) -> VimFault | None:
        if self.template:
            raise NotSupported("Snapshots are not supported on a template.")
        return invalid_name(name)

    @vim_method("CreateSnapshot_Task")
    def create_snapshot(
        self, ctx: Context, name: str, memory: bool, quiesce: bool, description: str | None = None
    ) -> MoRef:
        args = {"name": name, "description": description, "memory": memory, "quiesced": quiesce}
        return start_task(
            ctx, self, "CreateSnapshot_Task", args=args, refusal=self._snapshot_refusal(name)
        ).ref

    @vim_method("CreateSnapshotEx_Task")
    def create_snapshot_ex(
        self,
        ctx: Context,
        name: str,
        memory: bool,
        description: str | None = None,
        quiesceSpec: Data | None = None,
    ) -> MoRef:
        args = {
            "name": name,
            "description": description,
            "memory": memory,
            "quiesced": quiesceSpec is not None,
        }
        refusal = self._snapshot_refusal(name)
        return start_task(ctx, self, "CreateSnapshotEx_Task", args=args, refusal=refusal).ref

    @task_effect("CreateSnapshot_Task")
    @task_effect("CreateSnapshotEx_Task")
    def snapshot_taken(self, task: Task, args: Mapping[str, Any], at_us: int) -> MoRef:
        registry = self.state
        number = int(self.get("_nextSnapshotNumber", 1))
        snapshot = VirtualMachineSnapshot(
            registry.backend.ids.new("snapshot-"),
            {
                "vm": self.ref,
                "config": self.get("config"),
                "name": args["name"],
                "description": args.get("description") or "",
                "id": number,
                "createTime": from_us(at_us),
                "state": snapshot_state(self.power_state, bool(args.get("memory"))),
                "quiesced": bool(args.get("quiesced")) and self.power_state == power.POWERED_ON,
                "_parent": self.get("_currentSnapshot"),
            },
        )
        registry.add(snapshot)
        self.update(_currentSnapshot=snapshot.id, _nextSnapshotNumber=number + 1)
        return snapshot.ref

    def revert_to(self, snapshot: VirtualMachineSnapshot, *, suppress_power_on: bool, at_us: int) -> None:
        """The VM as *snapshot* recorded it: its configuration (the VM keeps its name) and power
        state (powered off unless the snapshot holds its memory, or with *suppress_power_on*)."""
        recorded = snapshot.get("config")
        if recorded is not None:
            self.update(config=recorded.replace(name=self.name))
        state = str(snapshot.get("state") or power.POWERED_OFF)
        if suppress_power_on and state == power.POWERED_ON:
            state = power.POWERED_OFF
        self.set_power_state(state, at_us=at_us)
        self.update(_currentSnapshot=snapshot.id)

    @vim_method("RevertToCurrentSnapshot_Task")
    def revert_to_current(
        self, ctx: Context, host: MoRef | None = None, suppressPowerOn: bool | None = None
    ) -> MoRef:
        current = self.state.find(str(self.get("_currentSnapshot", "")))
        if not isinstance(current, VirtualMachineSnapshot):
            raise fault_named("NotFound", f"{self.name} has no current snapshot to revert to")
        args = {"snapshot": current.id, "suppressPowerOn": bool(suppressPowerOn)}
        return start_task(ctx, self, "RevertToCurrentSnapshot_Task", args=args).ref

    @task_effect("RevertToCurrentSnapshot_Task")
    def reverted_to_current(self, task: Task, args: Mapping[str, Any], at_us: int) -> None:
        snapshot = self.state.find(str(args["snapshot"]))
        if not isinstance(snapshot, VirtualMachineSnapshot):
            raise fault_named(
                "NotFound", f"The snapshot {args['snapshot']} of {self.name} was removed meanwhile"
            )
        self.revert_to(snapshot, suppress_power_on=bool(args.get("suppressPowerOn")), at_us=at_us)

    @vim_method("RemoveAllSnapshots_Task")
    def remove_all_snapshots(
        self, ctx: Context, consolidate: bool | None = None, spec: Data | None = None
    ) -> MoRef:
        return start_task(ctx, self, "RemoveAllSnapshots_Task").ref

    @task_effect("RemoveAllSnapshots_Task")
    def snapshots_removed(self, task: Task, args: Mapping[str, Any], at_us: int) -> None:
        for snapshot in self.snapshots():
            self.state.remove(snapshot)
        self.update(_currentSnapshot=None)

    # -- clone and destroy

    @vim_method("CloneVM_Task")
    def clone(self, ctx: Context, folder: MoRef, name: str, spec: Data) -> MoRef:
        ctx.registry.get(folder, ManagedEntity)  # ManagedObjectNotFound for an unknown folder
        location = spec.location
        config_changes = spec.config.deviceChange if spec.config is not None else None
        device_changes = len(config_changes or ()) + len(location.deviceChange or ())
        if device_changes:  # said, rather than a clone that silently lacks them
            raise NotSupported(
                f"vismock does not apply a clone's device changes yet ({device_changes} in the clone spec's"
                " config.deviceChange and location.deviceChange): clone without them"
            )
        for ref in (location.datastore, location.pool, location.host, location.folder, spec.snapshot):
            if ref is not None:
                ctx.registry.get(ref)
        destination: MoRef = location.folder or folder
        args = {"folder": destination, "name": name, "spec": spec}
        refusal = name_taken(self.state, name, destination)
        return start_task(ctx, self, "CloneVM_Task", args=args, refusal=refusal).ref

    @task_effect("CloneVM_Task")
    def cloned(self, task: Task, args: Mapping[str, Any], at_us: int) -> MoRef:
        registry = self.state
        taken = name_taken(registry, args["name"], args["folder"])
        if taken is not None:  # another clone to that name ended first (each passed its start's check)
            raise taken
        spec: Data = args["spec"]
        location: Data = spec.location
        source = self.get("config")
        if spec.snapshot is not None:
            source = registry.get(spec.snapshot, VirtualMachineSnapshot).get("config") or source
        new_id = registry.backend.ids.new("vm-")
        template = bool(spec.template)
        datastore = location.datastore or next(iter(self.get("datastore") or ()), None)
        store = registry.find(datastore.value) if datastore is not None else None
        config = vm_shape.cloned_config(
            source
            or Data("VirtualMachineConfigInfo", hardware=Data("VirtualHardware", numCPU=1, memoryMB=1)),
            new_id,
            args["name"],
            template=template,
            datastore=datastore,
            datastore_name=store.name if isinstance(store, ManagedEntity) else None,
        )
        config = vm_shape.reconfigured(config, spec.config)  # the changes vCenter applies to the clone
        on = bool(spec.powerOn) and not template
        runtime = self.get("runtime").replace(
            host=location.host or self.read("runtime.host"),
            powerState=power.POWERED_ON if on else power.POWERED_OFF,
            bootTime=from_us(at_us) if on else None,
        )
        props = {
            "name": args["name"],
            "parent": args["folder"],
            "runtime": runtime,
            "config": config,
            "_guest": vm_shape.guest_facts(config) if self.get("_guest") is not None else None,
            "resourcePool": location.pool or self.get("resourcePool"),
            "datastore": (location.datastore,) if location.datastore else self.get("datastore"),
            "network": self.get("network"),
        }
        clone = VirtualMachine(new_id, props)
        registry.add(clone)
        return clone.ref

    @vim_method("Destroy_Task")
    def destroy(self, ctx: Context) -> MoRef:
        refusal = None
        if self.power_state == power.POWERED_ON:
            refusal = InvalidPowerState(power.POWERED_OFF, self.power_state)
        return start_task(ctx, self, "Destroy_Task", refusal=refusal).ref

    @task_effect("Destroy_Task")
    def destroyed(self, task: Task, args: Mapping[str, Any], at_us: int) -> None:
        """The VM and its snapshots are gone (from views, folders, searches); its tasks still read."""
        for snapshot in self.snapshots():
            self.state.remove(snapshot)
        self.state.remove(self)


def name_taken(registry: Registry, name: str, folder: MoRef) -> VimFault | None:
    """DuplicateName when a VM in *folder* is named *name* (what a clone there must not be)."""
    taken = next(
        (vm for vm in registry.all(VirtualMachine) if vm.name == name and vm.get("parent") == folder), None
    )
    if taken is None:
        return None
    return fault_named(
        "DuplicateName", f"The name '{name}' already exists.", (("name", name), ("object", taken.id))
    )


def identity_of(vm_id: str) -> dict[str, str]:
    """A VM's uuids, stable across restarts: derived from its id."""
    return {
        "uuid": str(uuid.uuid5(UUID_NAMESPACE, f"{vm_id}/bios")),
        "instanceUuid": str(uuid.uuid5(UUID_NAMESPACE, f"{vm_id}/instance")),
    }
