"""ResourcePool: its child pools and the virtual machines that run in it."""

from __future__ import annotations

from vismock.mockserver.objects.managed_entity import ManagedEntity
from vismock.mockserver.state.registry import derived
from vismock.mockserver.vim25.values import MoRef


class ResourcePool(ManagedEntity):
    vim_type = "ResourcePool"

    @derived
    def resourcePool(self) -> tuple[MoRef, ...]:
        return tuple(child.ref for child in self.children() if isinstance(child, ResourcePool))

    @derived
    def vm(self) -> tuple[MoRef, ...]:
        return tuple(
            obj.ref for obj in self.state.of_type("VirtualMachine") if obj.get("resourcePool") == self.ref
        )

    def members(self) -> list[ManagedEntity]:
        """Its child pools, then its virtual machines (what FindChild and container views see)."""
        pools = [child for child in self.children() if isinstance(child, ResourcePool)]
        vms = [obj for obj in self.state.all(ManagedEntity) if obj.get("resourcePool") == self.ref]
        return [*pools, *[vm for vm in vms if vm.vim_type == "VirtualMachine"]]


class VirtualApp(ResourcePool):
    vim_type = "VirtualApp"
