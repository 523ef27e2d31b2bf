"""Datastore: where virtual machines' files are. Its size (the mock's own ``_capacity``, bytes) is
stored; what it holds is derived: ``vm`` (the VMs with files on it), ``host`` (every host of its
datacenter mounts it), and ``summary`` and ``info`` with ``freeSpace`` its capacity less what its
VMs' files take (their ``storage``), so a clone or a destroy shows there at once."""

from __future__ import annotations

from vismock.mockserver.objects.managed_entity import ManagedEntity
from vismock.mockserver.objects.vm_shape import NEVER_MODIFIED, datastore_url, volume_path
from vismock.mockserver.state.registry import derived
from vismock.mockserver.vim25.values import Data, MoRef

CAPACITY_GB = 2048
MAX_FILE = 62 * 1024**4  # VMFS 6: 62 TB

CAPABILITY = Data(
    "DatastoreCapability",
    directoryHierarchySupported=True,
    rawDiskMappingsSupported=True,
    perFileThinProvisioningSupported=True,
    storageIORMSupported=True,
    nativeSnapshotSupported=False,
    topLevelDirectoryCreateSupported=True,
    seSparseSupported=True,
    vmfsSparseSupported=True,
    vsanSparseSupported=False,
)


class Datastore(ManagedEntity):
    vim_type = "Datastore"

    def vms(self) -> list[ManagedEntity]:
        return [
            vm for vm in self.state.all(ManagedEntity)
            if vm.vim_type == "VirtualMachine" and self.ref in (vm.get("datastore") or ())
        ]  # fmt: skip

    @derived
    def vm(self) -> tuple[MoRef, ...]:
        return tuple(vm.ref for vm in self.vms())

    @derived
    def host(self) -> tuple[Data, ...]:
        datacenter = self.ancestor("Datacenter")
        hosts = datacenter.below("HostSystem") if datacenter is not None else []
        mount = Data(
            "HostMountInfo", path=self.volume_path(), accessMode="readWrite", mounted=True, accessible=True
        )
        return tuple(Data("DatastoreHostMount", key=host.ref, mountInfo=mount) for host in hosts)

    def capacity(self) -> int:
        return int(self.get("_capacity", CAPACITY_GB * 1024**3))

    def free_space(self) -> int:
        used = 0
        for vm in self.vms():
            for usage in vm.read("storage.perDatastoreUsage") or ():
                if usage.datastore == self.ref:
                    used += int(usage.committed)
        return max(0, self.capacity() - used)

    def volume_path(self) -> str:
        return volume_path(self.id)

    def url(self) -> str:
        return datastore_url(self.id)

    @derived
    def summary(self) -> Data:
        return Data(
            "DatastoreSummary",
            datastore=self.ref,
            name=self.name,
            url=self.url(),
            capacity=self.capacity(),
            freeSpace=self.free_space(),
            uncommitted=0,
            accessible=True,
            multipleHostAccess=len(self.read("host") or ()) > 1,
            type="VMFS",
            maintenanceMode="normal",
        )

    @derived
    def info(self) -> Data:
        return Data(
            "VmfsDatastoreInfo",
            name=self.name,
            url=self.url(),
            freeSpace=self.free_space(),
            maxFileSize=MAX_FILE,
            maxVirtualDiskCapacity=MAX_FILE,
            maxMemoryFileSize=MAX_FILE,
            timestamp=NEVER_MODIFIED,
            maxPhysicalRDMFileSize=MAX_FILE,
            maxVirtualRDMFileSize=MAX_FILE,
        )

    @derived
    def capability(self) -> Data:
        return CAPABILITY


class StoragePod(ManagedEntity):
    vim_type = "StoragePod"
