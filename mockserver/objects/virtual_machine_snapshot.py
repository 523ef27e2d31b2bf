"""VirtualMachineSnapshot: a snapshot of a VM (its configuration and power state when taken), in
the VM's tree of snapshots; RevertToSnapshot_Task, RemoveSnapshot_Task and RenameSnapshot.

A snapshot keeps ``vm``, ``config`` (the VM's configuration when it was taken) and the fields its
node of the VM's ``snapshot`` tree shows (``name``, ``description``, ``id``, ``createTime``,
``state``, ``quiesced``), and its place in the tree (``_parent``). The VM's ``snapshot`` and
``rootSnapshot`` are derived from its snapshots, so the tree is never out of step with them.

What vCenter does, not what the reference simulator does: a revert returns the VM to the snapshot's
power state (powered off unless the snapshot has the VM's memory, or with ``suppressPowerOn``) and
configuration, and makes the snapshot the current one; removing the current snapshot makes its
parent current.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from vismock import power
from vismock.faults import InvalidArgument, VimFault, fault_named
from vismock.mockserver.objects.base import Context, task_effect, vim_method
from vismock.mockserver.objects.task import Task, start_task
from vismock.mockserver.state.registry import ManagedObject, derived
from vismock.mockserver.vim25.values import Data, MoRef

if TYPE_CHECKING:
    from vismock.mockserver.objects.virtual_machine import VirtualMachine

NODE_FIELDS = ("name", "description", "id", "createTime", "state", "quiesced")
MAX_NAME = 80  # vSphere's snapshot names: at most 80 characters


def invalid_name(name: str | None) -> VimFault | None:
    """InvalidName for a snapshot name vCenter refuses (empty, or longer than 80 characters)."""
    if name is None or not name.strip() or len(name) > MAX_NAME:
        shown = "" if name is None else name
        return fault_named(
            "InvalidName",
            f"The snapshot name {shown!r} is not valid: 1 to {MAX_NAME} characters",
            (("name", shown),),
        )
    return None


class VirtualMachineSnapshot(ManagedObject):
    vim_type = "VirtualMachineSnapshot"

    @property
    def vm(self) -> VirtualMachine:
        from vismock.mockserver.objects.virtual_machine import VirtualMachine

        return self.state.get(self.get("vm"), VirtualMachine)

    @property
    def parent_id(self) -> str | None:
        parent: str | None = self.get("_parent")
        return parent

    def children(self) -> list[VirtualMachineSnapshot]:
        return [
            s
            for s in self.state.all(VirtualMachineSnapshot)
            if s.parent_id == self.id and s.get("vm") == self.get("vm")
        ]

    def subtree(self) -> list[VirtualMachineSnapshot]:
        """This snapshot and every snapshot below it."""
        found, pending = [], [self]
        while pending:
            current = pending.pop(0)
            found.append(current)
            pending.extend(current.children())
        return found

    @derived
    def childSnapshot(self) -> tuple[MoRef, ...]:
        return tuple(child.ref for child in self.children())

    def tree(self) -> Data:
        """Its node of the VM's snapshot tree, with the nodes below it."""
        node = {name: self.get(name) for name in NODE_FIELDS}
        children = tuple(child.tree() for child in self.children())
        return Data(
            "VirtualMachineSnapshotTree",
            snapshot=self.ref,
            vm=self.get("vm"),
            childSnapshotList=children,
            **node,
        )

    def path(self) -> str:
        """Its names from the root snapshot down, ``/``-separated (how the VIS adapter names it)."""
        names, current = [], self
        while True:
            names.append(str(current.get("name")))
            parent = self.state.find(current.parent_id or "")
            if not isinstance(parent, VirtualMachineSnapshot):
                return "/".join(reversed(names))
            current = parent

    # -- methods

    @vim_method("RevertToSnapshot_Task")
    def revert(self, ctx: Context, host: MoRef | None = None, suppressPowerOn: bool | None = None) -> MoRef:
        args = {"suppressPowerOn": bool(suppressPowerOn)}
        return start_task(ctx, self.vm, "RevertToSnapshot_Task", target=self, args=args).ref

    @task_effect("RevertToSnapshot_Task")
    def reverted(self, task: Task, args: Mapping[str, Any], at_us: int) -> None:
        self.vm.revert_to(self, suppress_power_on=bool(args.get("suppressPowerOn")), at_us=at_us)

    @vim_method("RemoveSnapshot_Task")
    def remove(self, ctx: Context, removeChildren: bool, consolidate: bool | None = None) -> MoRef:
        args = {"removeChildren": removeChildren}
        return start_task(ctx, self.vm, "RemoveSnapshot_Task", target=self, args=args).ref

    @task_effect("RemoveSnapshot_Task")
    def removed_with(self, task: Task, args: Mapping[str, Any], at_us: int) -> None:
        vm, registry = self.vm, self.state
        gone = self.subtree() if args.get("removeChildren") else [self]
        if not args.get("removeChildren"):
            for child in self.children():  # the children move up to this snapshot's parent
                child.update(_parent=self.parent_id)
        if vm.get("_currentSnapshot") in {snapshot.id for snapshot in gone}:
            vm.update(_currentSnapshot=self.parent_id)
        for snapshot in gone:
            registry.remove(snapshot)

    @vim_method("RenameSnapshot")
    def rename(self, ctx: Context, name: str | None = None, description: str | None = None) -> None:
        if name is not None:
            refusal = invalid_name(name)
            if refusal is not None:
                raise refusal
        if name is None and description is None:
            raise InvalidArgument("RenameSnapshot needs a name or a description", "name")
        self.update(
            name=name or self.get("name"),
            description=description if description is not None else self.get("description"),
        )


def snapshot_state(vm_power_state: str, memory: bool) -> str:
    """The power state a snapshot records: the VM's with its memory (a suspended VM's always is),
    else powered off ("When set to FALSE, the power state of the snapshot is set to powered off")."""
    if vm_power_state == power.SUSPENDED or (memory and vm_power_state == power.POWERED_ON):
        return vm_power_state
    return power.POWERED_OFF
