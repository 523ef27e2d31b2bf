"""HostSystem: an ESXi host. What it *is* (``hardware``: its CPUs, memory, identity) is stored,
built by :func:`host_hardware` from the scenario's few words; what it runs and what it mounts is
derived: ``vm`` (the virtual machines whose ``runtime.host`` it is), ``datastore`` and ``network``
(those of its datacenter: every host of a datacenter mounts its datastores and networks), and
``summary`` (its hardware, runtime, configuration and the load of its running VMs)."""

from __future__ import annotations

import uuid

from vismock import power
from vismock.mockserver.objects.managed_entity import ManagedEntity
from vismock.mockserver.objects.vm_shape import UUID_NAMESPACE
from vismock.mockserver.state.registry import derived
from vismock.mockserver.vim25.values import Data, MoRef

CPU_MHZ = 2600
CPU_MODEL = "Intel(R) Xeon(R) Gold 6240R CPU @ 2.40GHz"
CPU_PACKAGES = 2
ESXI = Data(
    "AboutInfo",
    name="VMware ESXi",
    fullName="VMware ESXi 8.0.3 build-24022510",
    vendor="VMware, Inc.",
    version="8.0.3",
    build="24022510",
    localeVersion="INTL",
    localeBuild="000",
    osType="vmnix-x86",
    productLineId="embeddedEsx",
    apiType="HostAgent",
    apiVersion="8.0.3.0",
    licenseProductName="VMware ESX Server",
    licenseProductVersion="8.0",
)


def host_hardware(host_id: str, *, cpu_cores: int = 16, memory_gb: int = 256) -> Data:
    """The HostHardwareInfo of a host with *cpu_cores* cores (two packages) and *memory_gb* GiB;
    its uuid derived from its id (stable across restarts)."""
    per_package = max(1, cpu_cores // CPU_PACKAGES)
    packages = tuple(
        Data(
            "HostCpuPackage",
            index=index,
            vendor="intel",
            hz=CPU_MHZ * 1_000_000,
            busHz=100_000_000,
            description=CPU_MODEL,
            threadId=tuple(range(index * per_package, (index + 1) * per_package)),
        )
        for index in range(CPU_PACKAGES)
    )
    return Data(
        "HostHardwareInfo",
        systemInfo=Data(
            "HostSystemInfo",
            vendor="VMware, Inc.",
            model="VMware7,1",
            uuid=str(uuid.uuid5(UUID_NAMESPACE, f"{host_id}/host")),
        ),
        cpuInfo=Data(
            "HostCpuInfo",
            numCpuPackages=CPU_PACKAGES,
            numCpuCores=cpu_cores,
            numCpuThreads=cpu_cores,
            hz=CPU_MHZ * 1_000_000,
        ),
        cpuPkg=packages,
        memorySize=memory_gb * 1024**3,
        smcPresent=False,
    )


class HostSystem(ManagedEntity):
    """``runtime`` and ``hardware`` stored; the rest derived."""

    vim_type = "HostSystem"

    def vms(self) -> list[ManagedEntity]:
        return [
            vm for vm in self.state.all(ManagedEntity)
            if vm.vim_type == "VirtualMachine" and vm.read("runtime.host") == self.ref
        ]  # fmt: skip

    @derived
    def vm(self) -> tuple[MoRef, ...]:
        return tuple(vm.ref for vm in self.vms())

    def _of_datacenter(self, vim_type: str) -> tuple[MoRef, ...]:
        datacenter = self.ancestor("Datacenter")
        return () if datacenter is None else tuple(entity.ref for entity in datacenter.below(vim_type))

    @derived
    def datastore(self) -> tuple[MoRef, ...]:
        return self._of_datacenter("Datastore")

    @derived
    def network(self) -> tuple[MoRef, ...]:
        return self._of_datacenter("Network")

    def running_load(self) -> tuple[int, int]:
        """(MHz, MB) its powered-on VMs use now (their ``summary.quickStats``)."""
        cpu = memory = 0
        for vm in self.vms():
            if vm.read("runtime.powerState") == power.POWERED_ON:
                stats = vm.read("summary.quickStats")
                cpu += int(stats.overallCpuUsage or 0)
                memory += int(stats.hostMemoryUsage or 0)
        return cpu, memory

    @derived
    def summary(self) -> Data:
        hardware = self.get("hardware") or host_hardware(self.id)
        cpu, memory = self.running_load()
        return Data(
            "HostListSummary",
            host=self.ref,
            hardware=Data(
                "HostHardwareSummary",
                vendor=hardware.systemInfo.vendor,
                model=hardware.systemInfo.model,
                uuid=hardware.systemInfo.uuid,
                memorySize=hardware.memorySize,
                cpuModel=CPU_MODEL,
                cpuMhz=int(hardware.cpuInfo.hz) // 1_000_000,
                numCpuPkgs=hardware.cpuInfo.numCpuPackages,
                numCpuCores=hardware.cpuInfo.numCpuCores,
                numCpuThreads=hardware.cpuInfo.numCpuThreads,
                numNics=2,
                numHBAs=2,
            ),
            runtime=self.get("runtime"),
            config=Data(
                "HostConfigSummary",
                name=self.name,
                port=443,
                product=ESXI,
                vmotionEnabled=True,
                faultToleranceEnabled=False,
            ),
            quickStats=Data("HostListSummaryQuickStats", overallCpuUsage=cpu, overallMemoryUsage=memory),
            overallStatus="green",
            rebootRequired=False,
            managementServerIp="127.0.0.1",
        )
