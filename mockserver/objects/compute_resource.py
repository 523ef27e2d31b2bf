"""ComputeResource and ClusterComputeResource: a standalone host's or a cluster's hosts and root
resource pool (stored), and what follows from its hosts (derived): ``datastore``, ``network`` and
``summary`` (their CPUs and memory added up)."""

from __future__ import annotations

from vismock.mockserver.objects.managed_entity import ManagedEntity
from vismock.mockserver.state.registry import derived
from vismock.mockserver.vim25.values import Data, MoRef


class ComputeResource(ManagedEntity):
    """``host`` (references) and ``resourcePool`` (its root pool)."""

    vim_type = "ComputeResource"
    summary_type = "ComputeResourceSummary"

    def members(self) -> list[ManagedEntity]:
        """What vCenter counts as its children: its hosts, then its root resource pool."""
        refs = [*self.get("host", ()), self.get("resourcePool")]
        found = [self.state.find(ref.value) for ref in refs if ref is not None]
        return [entity for entity in found if isinstance(entity, ManagedEntity)]

    def hosts(self) -> list[ManagedEntity]:
        return [member for member in self.members() if member.vim_type == "HostSystem"]

    def _of_hosts(self, prop: str) -> tuple[MoRef, ...]:
        return tuple(dict.fromkeys(ref for host in self.hosts() for ref in host.read(prop) or ()))

    @derived
    def datastore(self) -> tuple[MoRef, ...]:
        return self._of_hosts("datastore")

    @derived
    def network(self) -> tuple[MoRef, ...]:
        return self._of_hosts("network")

    def totals(self) -> dict[str, int]:
        """Its hosts' CPU (MHz), memory (bytes), cores and threads, added up."""
        totals = {"totalCpu": 0, "totalMemory": 0, "numCpuCores": 0, "numCpuThreads": 0}
        for host in self.hosts():
            hardware = host.read("hardware")
            if hardware is None:
                continue
            cpu = hardware.cpuInfo
            totals["totalCpu"] += int(cpu.hz) // 1_000_000 * int(cpu.numCpuCores)
            totals["totalMemory"] += int(hardware.memorySize)
            totals["numCpuCores"] += int(cpu.numCpuCores)
            totals["numCpuThreads"] += int(cpu.numCpuThreads)
        return totals

    def summary_fields(self) -> dict[str, object]:
        totals = self.totals()
        hosts = len(self.hosts())
        return {
            **totals,
            "effectiveCpu": totals["totalCpu"],
            "effectiveMemory": totals["totalMemory"] // 1024**2,  # vim25: MB here, bytes in totalMemory
            "numHosts": hosts,
            "numEffectiveHosts": hosts,
            "overallStatus": "green",
        }

    @derived
    def summary(self) -> Data:
        return Data(self.summary_type, **self.summary_fields())


class ClusterComputeResource(ComputeResource):
    vim_type = "ClusterComputeResource"
    summary_type = "ClusterComputeResourceSummary"

    def summary_fields(self) -> dict[str, object]:
        return {**super().summary_fields(), "currentFailoverLevel": 0, "numVmotions": 0}

    @derived
    def configurationEx(self) -> Data:
        return Data(
            "ClusterConfigInfoEx",
            vmSwapPlacement="vmDirectory",
            dasConfig=Data("ClusterDasConfigInfo", enabled=False, vmMonitoring="vmMonitoringDisabled"),
            drsConfig=Data(
                "ClusterDrsConfigInfo", enabled=False, defaultVmBehavior="fullyAutomated", vmotionRate=3
            ),
        )
