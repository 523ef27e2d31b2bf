"""Network: what virtual machines' network adapters connect to; ``summary``, ``host`` (every host
of its datacenter) and ``vm`` (the VMs with a NIC on it) derived."""

from __future__ import annotations

from vismock.mockserver.objects.managed_entity import ManagedEntity
from vismock.mockserver.state.registry import derived
from vismock.mockserver.vim25.values import Data, MoRef


class Network(ManagedEntity):
    vim_type = "Network"

    @derived
    def summary(self) -> Data:
        return Data("NetworkSummary", network=self.ref, name=self.name, accessible=True, ipPoolName="")

    @derived
    def host(self) -> tuple[MoRef, ...]:
        datacenter = self.ancestor("Datacenter")
        return () if datacenter is None else tuple(host.ref for host in datacenter.below("HostSystem"))

    @derived
    def vm(self) -> tuple[MoRef, ...]:
        return tuple(
            vm.ref
            for vm in self.state.all(ManagedEntity)
            if vm.vim_type == "VirtualMachine" and self.ref in (vm.get("network") or ())
        )
