"""HostSystem: the virtual machines that run on it, and the datastores and networks they use."""

from __future__ import annotations

from vismock.mockserver.objects.managed_entity import ManagedEntity
from vismock.mockserver.state.registry import derived
from vismock.mockserver.vim25.values import MoRef


class HostSystem(ManagedEntity):
    vim_type = "HostSystem"

    def vms(self) -> list[ManagedEntity]:
        return [
            vm for vm in self.state.all(ManagedEntity)
            if vm.vim_type == "VirtualMachine" and vm.read("runtime.host") == self.ref
        ]  # fmt: skip

    @derived
    def vm(self) -> tuple[MoRef, ...]:
        return tuple(vm.ref for vm in self.vms())

    def _used(self, prop: str) -> tuple[MoRef, ...]:
        return tuple(dict.fromkeys(ref for vm in self.vms() for ref in vm.get(prop, ())))

    @derived
    def datastore(self) -> tuple[MoRef, ...]:
        return self._used("datastore")

    @derived
    def network(self) -> tuple[MoRef, ...]:
        return self._used("network")
