"""ResourcePool: its child pools and the virtual machines that run in it, and its settings and
use (``config``, ``runtime``, ``summary``: unlimited, the use its running VMs make of it)."""

from __future__ import annotations

from vismock import power
from vismock.mockserver.objects.managed_entity import ManagedEntity
from vismock.mockserver.objects.vm_shape import unlimited
from vismock.mockserver.state.registry import derived
from vismock.mockserver.vim25.values import Data, MoRef


def _allocation() -> Data:
    return unlimited(shares=4000, expandable=True, overhead_limit=-1)


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

    @derived
    def owner(self) -> MoRef | None:
        """The compute resource (a standalone host's or a cluster) the pool belongs to."""
        found = self.ancestor("ClusterComputeResource") or self.ancestor("ComputeResource")
        return None if found is None else found.ref

    @derived
    def config(self) -> Data:
        return Data(
            "ResourceConfigSpec", entity=self.ref, cpuAllocation=_allocation(), memoryAllocation=_allocation()
        )

    def _usage(self, used: int, capacity: int) -> Data:
        return Data(
            "ResourcePoolResourceUsage",
            reservationUsed=0,
            reservationUsedForVm=0,
            unreservedForPool=capacity,
            unreservedForVm=capacity,
            overallUsage=used,
            maxUsage=capacity,
        )

    @derived
    def runtime(self) -> Data:
        cpu = memory = 0
        for ref in self.read("vm") or ():
            vm = self.state.find(ref.value)
            if isinstance(vm, ManagedEntity) and vm.read("runtime.powerState") == power.POWERED_ON:
                stats = vm.read("summary.quickStats")
                cpu += int(stats.overallCpuUsage or 0)
                memory += int(stats.hostMemoryUsage or 0) * 1024**2
        owner = self.state.find(self.read("owner").value) if self.read("owner") is not None else None
        summary = owner.read("summary") if isinstance(owner, ManagedEntity) else None
        cpu_capacity = int(summary.totalCpu) if summary is not None else 0
        memory_capacity = int(summary.totalMemory) if summary is not None else 0
        return Data(
            "ResourcePoolRuntimeInfo",
            memory=self._usage(memory, memory_capacity),
            cpu=self._usage(cpu, cpu_capacity),
            overallStatus="green",
        )

    @derived
    def summary(self) -> Data:
        return Data(
            "ResourcePoolSummary", name=self.name, config=self.read("config"), runtime=self.read("runtime")
        )


class VirtualApp(ResourcePool):
    vim_type = "VirtualApp"
