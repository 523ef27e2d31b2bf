"""What a virtual machine *is*, as vCenter shapes it, from a short declaration.

A scenario declares a VM in a few words (cpu, memory, disk sizes, the networks of its NICs, its
guest OS, its IP); :func:`vm_config` turns that into the ``VirtualMachineConfigInfo`` vCenter
would hold (hardware with a SCSI controller, disks backed by files on the VM's datastore, NICs with
MAC addresses on their networks, a CD-ROM), and :func:`guest_facts` into what the guest reports
while it runs. Everything else a client reads of the VM is derived from these when read
(:func:`layout`, :func:`layout_ex`, :func:`storage`, :func:`summary`, :func:`guest`), so each fact
has one source: ``summary.config.numCpu`` is ``config.hardware.numCPU``, a disk's file is where its
backing says, a datastore's free space is its capacity less its VMs' disks.

Identities are derived from the VM's id (uuid5), so they are stable across restarts; a clone gets
its own (:func:`cloned_config`). Every value is a vim25 :class:`~vismock.mockserver.vim25.values.Data`
of the model's types, checked when built.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from vismock.mockserver.vim25.values import Data, MoRef

UUID_NAMESPACE = uuid.UUID("7669736d-6f63-6b00-0000-000000000000")  # "vismock": ids derived from it
GUEST_ID = "other3xLinux64Guest"
HARDWARE_VERSION = "vmx-19"
NUM_CPU, MEMORY_MB, DISK_GB = 1, 1024, 16
# What vCenter shows for a VM it has not reconfigured (a fixed instant: answers stay the same).
NEVER_MODIFIED = datetime(1970, 1, 1, tzinfo=UTC)
TOOLS_VERSION = "12352"  # VMware Tools 12.3.5, as a guest reports it
GIB = 1024**3
KIB = 1024

# Device keys as vCenter numbers them: controllers first, then the devices on them.
PCI_KEY, IDE_KEYS, VIDEO_KEY, SCSI_KEY = 100, (200, 201), 500, 1000
DISK_KEY, CDROM_KEY, NIC_KEY = 2000, 3002, 4000
SCSI_RESERVED_UNIT = 7  # the controller's own unit on its bus

# vCenter's names of the guest operating systems a scenario is likeliest to name; another valid
# guestId shows as itself.
GUEST_NAMES = {
    "otherGuest": ("Other (32-bit)", "otherGuestFamily"),
    "otherGuest64": ("Other (64-bit)", "otherGuestFamily"),
    "other3xLinux64Guest": ("Other 3.x or later Linux (64-bit)", "linuxGuest"),
    "other4xLinux64Guest": ("Other 4.x or later Linux (64-bit)", "linuxGuest"),
    "other5xLinux64Guest": ("Other 5.x or later Linux (64-bit)", "linuxGuest"),
    "otherLinux64Guest": ("Other Linux (64-bit)", "linuxGuest"),
    "rhel8_64Guest": ("Red Hat Enterprise Linux 8 (64-bit)", "linuxGuest"),
    "rhel9_64Guest": ("Red Hat Enterprise Linux 9 (64-bit)", "linuxGuest"),
    "centos8_64Guest": ("CentOS 8 (64-bit)", "linuxGuest"),
    "ubuntu64Guest": ("Ubuntu Linux (64-bit)", "linuxGuest"),
    "debian12_64Guest": ("Debian GNU/Linux 12 (64-bit)", "linuxGuest"),
    "sles15_64Guest": ("SUSE Linux Enterprise 15 (64-bit)", "linuxGuest"),
    "windows9_64Guest": ("Microsoft Windows 10 (64-bit)", "windowsGuest"),
    "windows2019srv_64Guest": ("Microsoft Windows Server 2019 (64-bit)", "windowsGuest"),
    "windows2019srvNext_64Guest": ("Microsoft Windows Server 2022 (64-bit)", "windowsGuest"),
}


@dataclass(frozen=True, slots=True)
class Nic:
    """A network adapter's network: its reference and name (the backing's ``deviceName``)."""

    network: MoRef
    name: str


@dataclass(frozen=True, slots=True)
class VmDeclaration:
    """What a scenario says of a VM's hardware and guest; the rest follows from it."""

    cpu: int = NUM_CPU
    cores_per_socket: int = 1
    memory_mb: int = MEMORY_MB
    disks_gb: tuple[int, ...] = (DISK_GB,)
    guest_id: str = GUEST_ID
    annotation: str = ""
    template: bool = False


def derived_uuid(vm_id: str, what: str) -> str:
    """A uuid of *vm_id*'s (its ``bios`` uuid, its ``instance`` uuid, a disk's): the same on every run."""
    return str(uuid.uuid5(UUID_NAMESPACE, f"{vm_id}/{what}"))


def identity_of(vm_id: str) -> dict[str, str]:
    """A VM's uuids, stable across restarts: derived from its id."""
    return {"uuid": derived_uuid(vm_id, "bios"), "instanceUuid": derived_uuid(vm_id, "instance")}


def mac_address(vm_id: str, index: int) -> str:
    """NIC *index*'s MAC address in VMware's range for vCenter-assigned ones (00:50:56:00-3f)."""
    digest = uuid.uuid5(UUID_NAMESPACE, f"{vm_id}/nic{index}").bytes
    return "00:50:56:" + ":".join(f"{byte:02x}" for byte in (digest[0] & 0x3F, digest[1], digest[2]))


def guest_names(guest_id: str) -> tuple[str, str]:
    """(guestFullName, guestFamily) of *guest_id*."""
    if guest_id in GUEST_NAMES:
        return GUEST_NAMES[guest_id]
    family = "windowsGuest" if guest_id.startswith("win") else "linuxGuest"
    return guest_id, family


def datastore_url(datastore_id: str) -> str:
    """A datastore's URL, ``ds:///vmfs/volumes/<its volume's uuid>/`` (derived from its id)."""
    return f"ds://{volume_path(datastore_id)}/"


def volume_path(datastore_id: str) -> str:
    """Where the datastore's volume is mounted on its hosts: ``/vmfs/volumes/<uuid>``."""
    return f"/vmfs/volumes/{uuid.uuid5(UUID_NAMESPACE, f'{datastore_id}/volume').hex[:24]}"


def vm_directory(datastore_name: str, vm_name: str) -> str:
    """The folder of a VM's files: ``[datastore1] win1``."""
    return f"[{datastore_name}] {vm_name}"


def vm_path(datastore_name: str | None, vm_name: str) -> str:
    """Where a VM's configuration file is: ``[datastore1] win1/win1.vmx``."""
    return f"{vm_directory(datastore_name or 'datastore1', vm_name)}/{vm_name}.vmx"


def disk_file(datastore_name: str, vm_name: str, index: int) -> str:
    """Disk *index*'s descriptor as vCenter names it: ``win1.vmdk``, then ``win1_1.vmdk``..."""
    suffix = "" if index == 0 else f"_{index}"
    return f"{vm_directory(datastore_name, vm_name)}/{vm_name}{suffix}.vmdk"


# -- the configuration ---------------------------------------------------------------------------


def vm_config(
    vm_id: str,
    name: str,
    declared: VmDeclaration,
    *,
    datastore: MoRef | None,
    datastore_name: str | None,
    nics: Sequence[Nic],
) -> Data:
    """The VirtualMachineConfigInfo of VM *vm_id* as declared: its files and disks on *datastore*,
    a NIC on each of *nics*."""
    store_name = datastore_name or "datastore1"
    guest_full_name, _family = guest_names(declared.guest_id)
    directory = vm_directory(store_name, name)
    devices = (
        *_controllers(),
        _cdrom(),
        *(
            _disk(vm_id, index, size, disk_file(store_name, name, index), datastore)
            for index, size in enumerate(declared.disks_gb)
        ),
        *(_nic(vm_id, index, nic) for index, nic in enumerate(nics)),
    )
    return Data(
        "VirtualMachineConfigInfo",
        changeVersion=NEVER_MODIFIED.strftime("%Y-%m-%dT%H:%M:%S.000000Z"),
        modified=NEVER_MODIFIED,
        name=name,
        guestFullName=guest_full_name,
        version=HARDWARE_VERSION,
        template=declared.template,
        guestId=declared.guest_id,
        alternateGuestName="",
        annotation=declared.annotation,
        files=Data(
            "VirtualMachineFileInfo",
            vmPathName=f"{directory}/{name}.vmx",
            snapshotDirectory=directory,
            suspendDirectory=directory,
            logDirectory=directory,
        ),
        tools=Data("ToolsConfigInfo", toolsVersion=int(TOOLS_VERSION), syncTimeWithHost=False),
        flags=Data("VirtualMachineFlagInfo"),
        defaultPowerOps=Data(
            "VirtualMachineDefaultPowerOpInfo",
            powerOffType="soft",
            suspendType="hard",
            resetType="soft",
            standbyAction="checkpoint",
        ),
        hardware=Data(
            "VirtualHardware",
            numCPU=declared.cpu,
            numCoresPerSocket=declared.cores_per_socket,
            memoryMB=declared.memory_mb,
            device=devices,
        ),
        cpuAllocation=unlimited(),
        memoryAllocation=unlimited(),
        extraConfig=(),
        datastoreUrl=None
        if datastore is None
        else (
            Data(
                "VirtualMachineConfigInfoDatastoreUrlPair",
                name=store_name,
                url=datastore_url(datastore.value),
            ),
        ),
        firmware="bios" if not declared.guest_id.startswith("win") else "efi",
        **identity_of(vm_id),
    )


def _described(label: str, summary: str | None = None) -> Data:
    return Data("Description", label=label, summary=summary or label)


def _controllers() -> tuple[Data, ...]:
    return (
        Data("VirtualPCIController", key=PCI_KEY, deviceInfo=_described("PCI controller 0"), busNumber=0),
        *(
            Data("VirtualIDEController", key=key, deviceInfo=_described(f"IDE {bus}"), busNumber=bus)
            for bus, key in enumerate(IDE_KEYS)
        ),
        Data(
            "VirtualMachineVideoCard",
            key=VIDEO_KEY,
            deviceInfo=_described("Video card ", "Video card"),
            controllerKey=PCI_KEY,
            unitNumber=0,
            videoRamSizeInKB=4096,
        ),
        Data(
            "ParaVirtualSCSIController",
            key=SCSI_KEY,
            deviceInfo=_described("SCSI controller 0", "VMware paravirtual SCSI"),
            controllerKey=PCI_KEY,
            unitNumber=3,
            busNumber=0,
            sharedBus="noSharing",
            scsiCtlrUnitNumber=SCSI_RESERVED_UNIT,
        ),
    )


def _cdrom() -> Data:
    return Data(
        "VirtualCdrom",
        key=CDROM_KEY,
        deviceInfo=_described("CD/DVD drive 1", "Remote device"),
        backing=Data(
            "VirtualCdromRemotePassthroughBackingInfo", deviceName="", useAutoDetect=False, exclusive=False
        ),
        connectable=_connection(start=False, now=False),
        controllerKey=IDE_KEYS[1],
        unitNumber=0,
    )


def _connection(*, start: bool, now: bool) -> Data:
    return Data(
        "VirtualDeviceConnectInfo",
        startConnected=start,
        allowGuestControl=True,
        connected=now,
        status="ok" if now else "untried",
    )


def _disk(vm_id: str, index: int, size_gb: int, file_name: str, datastore: MoRef | None) -> Data:
    unit = index if index < SCSI_RESERVED_UNIT else index + 1
    capacity = size_gb * GIB
    return Data(
        "VirtualDisk",
        key=DISK_KEY + index,
        deviceInfo=_described(f"Hard disk {index + 1}", f"{capacity // KIB:,} KB"),
        backing=Data(
            "VirtualDiskFlatVer2BackingInfo",
            fileName=file_name,
            datastore=datastore,
            diskMode="persistent",
            split=False,
            writeThrough=False,
            thinProvisioned=True,
            eagerlyScrub=False,
            uuid=derived_uuid(vm_id, f"disk{index}").replace("-", "").upper(),
            contentId=derived_uuid(vm_id, f"content{index}").replace("-", ""),
            digestEnabled=False,
            sharing="sharingNone",
        ),
        controllerKey=SCSI_KEY,
        unitNumber=unit,
        capacityInKB=capacity // KIB,
        capacityInBytes=capacity,
        shares=Data("SharesInfo", shares=1000, level="normal"),
        storageIOAllocation=Data(
            "StorageIOAllocationInfo",
            limit=-1,
            shares=Data("SharesInfo", shares=1000, level="normal"),
            reservation=0,
        ),
        nativeUnmanagedLinkedClone=False,
    )


def _nic(vm_id: str, index: int, nic: Nic) -> Data:
    return Data(
        "VirtualVmxnet3",
        key=NIC_KEY + index,
        deviceInfo=_described(f"Network adapter {index + 1}", nic.name),
        backing=Data(
            "VirtualEthernetCardNetworkBackingInfo",
            deviceName=nic.name,
            network=nic.network,
            useAutoDetect=False,
        ),
        connectable=_connection(start=True, now=True),
        controllerKey=PCI_KEY,
        unitNumber=7 + index,
        addressType="assigned",
        macAddress=mac_address(vm_id, index),
        wakeOnLanEnabled=True,
        uptCompatibilityEnabled=False,
    )


def unlimited(*, shares: int = 1000, expandable: bool = False, overhead_limit: int | None = None) -> Data:
    """A ResourceAllocationInfo with nothing reserved and no limit (a VM's, a pool's), at *shares*."""
    return Data(
        "ResourceAllocationInfo",
        reservation=0,
        expandableReservation=expandable,
        limit=-1,
        shares=Data("SharesInfo", shares=shares, level="normal"),
        overheadLimit=overhead_limit,
    )


def cloned_config(
    source: Data,
    vm_id: str,
    name: str,
    *,
    template: bool,
    datastore: MoRef | None,
    datastore_name: str | None,
) -> Data:
    """*source*'s configuration for a clone *vm_id* named *name*: its own uuids, MAC addresses and
    files (on *datastore*), the same hardware."""
    store_name = datastore_name or "datastore1"
    directory = vm_directory(store_name, name)
    devices = []
    disks = nics = 0
    for device in source.at("hardware.device") or ():
        if device.type == "VirtualDisk":
            file_name = disk_file(store_name, name, disks)
            device = device.replace(backing=device.backing.replace(fileName=file_name, datastore=datastore))
            disks += 1
        elif _is_nic(device):
            device = device.replace(macAddress=mac_address(vm_id, nics))
            nics += 1
        devices.append(device)
    files = (source.files or Data("VirtualMachineFileInfo")).replace(
        vmPathName=f"{directory}/{name}.vmx",
        snapshotDirectory=directory,
        suspendDirectory=directory,
        logDirectory=directory,
    )
    hardware = source.hardware.replace(device=tuple(devices))
    urls = source.datastoreUrl
    if datastore is not None:
        urls = (
            Data(
                "VirtualMachineConfigInfoDatastoreUrlPair",
                name=store_name,
                url=datastore_url(datastore.value),
            ),
        )
    return source.replace(
        name=name, template=template, files=files, hardware=hardware, datastoreUrl=urls, **identity_of(vm_id)
    )


def reconfigured(config: Data, spec: Data | None) -> Data:
    """*config* with what a VirtualMachineConfigSpec *spec* changes of the facts vismock models:
    ``numCPUs``, ``numCoresPerSocket``, ``memoryMB``, ``annotation``, ``guestId`` (and the
    ``guestFullName`` that goes with it), ``cpuHotAddEnabled``, ``memoryHotAddEnabled``. A field
    the spec leaves unset keeps its value; ``deviceChange`` and the rest are not applied
    (docs/snapshots.md)."""
    if spec is None:
        return config
    hardware = _with_set(
        config.hardware,
        numCPU=spec.numCPUs,
        numCoresPerSocket=spec.numCoresPerSocket,
        memoryMB=spec.memoryMB,
    )
    guest = {"guestId": spec.guestId, "guestFullName": guest_names(spec.guestId)[0]} if spec.guestId else {}
    return _with_set(
        config,
        hardware=hardware,
        annotation=spec.annotation,
        cpuHotAddEnabled=spec.cpuHotAddEnabled,
        memoryHotAddEnabled=spec.memoryHotAddEnabled,
        **guest,
    )


def _with_set(data: Data, **changes: Any) -> Data:
    """*data* with those of *changes* that are set (None leaves a field as it was)."""
    return data.replace(**{name: value for name, value in changes.items() if value is not None})


def _is_nic(device: Data) -> bool:
    from vismock.mockserver.vim25.typemodel import model

    return model().is_subtype(device.type, "VirtualEthernetCard")


# -- what is derived from the configuration ------------------------------------------------------


def devices_of(config: Data | None, vim_type: str) -> list[Data]:
    """The devices of *config* of *vim_type* (or a subtype): ``devices_of(config, "VirtualDisk")``."""
    from vismock.mockserver.vim25.typemodel import model

    found = (config.at("hardware.device") if config is not None else None) or ()
    return [device for device in found if model().is_subtype(device.type, vim_type)]


def disk_bytes(config: Data | None) -> int:
    return sum(
        int(disk.capacityInBytes or disk.capacityInKB * KIB) for disk in devices_of(config, "VirtualDisk")
    )


def layout(config: Data | None, snapshots: Sequence[tuple[MoRef, int]] = ()) -> Data | None:
    """VirtualMachineFileLayout: its files by kind (names relative to its folder; disks and
    snapshots in full), each of *snapshots* (its reference and number) with its ``.vmsn``."""
    if config is None or config.files is None:
        return None
    name = config.name
    directory = config.files.vmPathName.rsplit("/", 1)[0]
    return Data(
        "VirtualMachineFileLayout",
        configFile=(f"{name}.vmsd", f"{name}.nvram"),
        logFile=("vmware.log",),
        disk=tuple(
            Data("VirtualMachineFileLayoutDiskLayout", key=disk.key, diskFile=(disk.backing.fileName,))
            for disk in devices_of(config, "VirtualDisk")
        ),
        snapshot=tuple(
            Data(
                "VirtualMachineFileLayoutSnapshotLayout",
                key=ref,
                snapshotFile=(f"{directory}/{name}-Snapshot{number}.vmsn",),
            )
            for ref, number in snapshots
        ),
    )


def layout_ex(config: Data | None, *, powered_on: bool) -> Data | None:
    """VirtualMachineFileLayoutEx: every file of the VM with its size (a disk's extent is its
    capacity: the mock's disks are full), each disk's chain; a swap file while it runs."""
    if config is None or config.files is None:
        return None
    directory = config.files.vmPathName.rsplit("/", 1)[0]
    files: list[tuple[str, str, int]] = [
        (config.files.vmPathName, "config", 3 * KIB),
        (f"{directory}/{config.name}.nvram", "nvram", 8 * KIB),
        (f"{directory}/{config.name}.vmsd", "snapshotList", 0),
    ]
    chains: list[Data] = []
    for disk in devices_of(config, "VirtualDisk"):
        descriptor = disk.backing.fileName
        first = len(files)
        files.append((descriptor, "diskDescriptor", 600))
        files.append((descriptor.removesuffix(".vmdk") + "-flat.vmdk", "diskExtent", disk.capacityInKB * KIB))
        unit = Data("VirtualMachineFileLayoutExDiskUnit", fileKey=(first, first + 1))
        chains.append(Data("VirtualMachineFileLayoutExDiskLayout", key=disk.key, chain=(unit,)))
    if powered_on:
        swap = config.hardware.memoryMB * 1024 * KIB
        files.append((f"{directory}/{config.name}-{config.uuid[:8]}.vswp", "swap", swap))
    files.append((f"{directory}/vmware.log", "log", 256 * KIB))
    return Data(
        "VirtualMachineFileLayoutEx",
        file=tuple(
            Data(
                "VirtualMachineFileLayoutExFileInfo",
                key=key,
                name=name,
                type=kind,
                size=size,
                uniqueSize=size,
                accessible=True,
            )
            for key, (name, kind, size) in enumerate(files)
        ),
        disk=tuple(chains),
        timestamp=config.modified or NEVER_MODIFIED,
    )


def committed_bytes(config: Data | None, *, powered_on: bool) -> int:
    """What the VM's files take on its datastore (the sum of :func:`layout_ex`'s sizes)."""
    found = layout_ex(config, powered_on=powered_on)
    return sum(int(item.size) for item in (found.file or ())) if found is not None else 0


def storage(config: Data | None, datastore: MoRef | None, *, powered_on: bool) -> Data | None:
    """VirtualMachineStorageInfo: what the VM uses of its datastore."""
    if config is None or datastore is None:
        return None
    used = committed_bytes(config, powered_on=powered_on)
    usage = Data(
        "VirtualMachineUsageOnDatastore", datastore=datastore, committed=used, uncommitted=0, unshared=used
    )
    return Data(
        "VirtualMachineStorageInfo", perDatastoreUsage=(usage,), timestamp=config.modified or NEVER_MODIFIED
    )


# -- the guest -----------------------------------------------------------------------------------


def guest_facts(config: Data | None, *, ip: str | None = None, host_name: str | None = None) -> Data:
    """What the guest reports while it runs (the mock's own ``_guest``): its OS, host name, IP and
    NICs (each with its MAC, network and the IP on the first)."""
    guest_id = str(config.guestId) if config is not None and config.guestId else GUEST_ID
    full_name, family = guest_names(guest_id)
    nics = devices_of(config, "VirtualEthernetCard")
    net = tuple(
        Data(
            "GuestNicInfo",
            network=nic.backing.deviceName if nic.backing is not None else None,
            ipAddress=(ip,) if ip and index == 0 else None,
            macAddress=nic.macAddress,
            connected=True,
            deviceConfigId=nic.key,
            ipConfig=_ip_config(ip) if ip and index == 0 else None,
        )
        for index, nic in enumerate(nics)
    )
    return Data(
        "GuestInfo",
        toolsStatus="toolsOk",
        toolsVersionStatus="guestToolsCurrent",
        toolsVersionStatus2="guestToolsCurrent",
        toolsRunningStatus="guestToolsRunning",
        toolsVersion=TOOLS_VERSION,
        toolsInstallType="guestToolsTypeOpenVMTools" if family == "linuxGuest" else "guestToolsTypeMSI",
        guestId=guest_id,
        guestFamily=family,
        guestFullName=full_name,
        hostName=host_name,
        ipAddress=ip,
        net=net,
        guestState="running",
        guestOperationsReady=True,
        interactiveGuestOperationsReady=False,
        guestStateChangeSupported=True,
        hwVersion=HARDWARE_VERSION,
    )


def _ip_config(ip: str) -> Data:
    """The guest's address as its NIC reports it: a /24 (a /64 for IPv6), in use."""
    prefix = 64 if ":" in ip else 24
    address = Data("NetIpConfigInfoIpAddress", ipAddress=ip, prefixLength=prefix, state="preferred")
    return Data("NetIpConfigInfo", ipAddress=(address,))


def guest(facts: Data | None, power_state: str) -> Data:
    """GuestInfo as a client reads it: the guest's facts while the VM runs; while it does not, its
    tools are not running and it reports no host name, IP or addresses (as vCenter shows it)."""
    if facts is None:
        return Data(
            "GuestInfo",
            toolsStatus="toolsNotInstalled",
            toolsRunningStatus="guestToolsNotRunning",
            guestState="notRunning",
        )
    if power_state == "poweredOn":
        return facts
    return facts.replace(
        toolsStatus="toolsNotRunning",
        toolsRunningStatus="guestToolsNotRunning",
        hostName=None,
        ipAddress=None,
        net=tuple(nic.replace(ipAddress=None, ipConfig=None, connected=False) for nic in facts.net or ()),
        guestState="notRunning",
        guestOperationsReady=False,
        interactiveGuestOperationsReady=False,
    )


def summary(
    vm: MoRef,
    config: Data | None,
    runtime: Data | None,
    guest_info: Data,
    store: Data | None,
    custom_values: tuple[Data, ...],
) -> Data:
    """VirtualMachineSummary: each field read from where it lives (config, runtime, guest, storage)."""
    config = config or Data("VirtualMachineConfigInfo")
    hardware = config.hardware
    on = runtime is not None and runtime.powerState == "poweredOn"
    usage = store.perDatastoreUsage[0] if store is not None and store.perDatastoreUsage else None
    return Data(
        "VirtualMachineSummary",
        vm=vm,
        runtime=runtime,
        guest=Data(
            "VirtualMachineGuestSummary",
            guestId=guest_info.guestId,
            guestFullName=guest_info.guestFullName,
            toolsStatus=guest_info.toolsStatus,
            toolsVersionStatus=guest_info.toolsVersionStatus,
            toolsVersionStatus2=guest_info.toolsVersionStatus2,
            toolsRunningStatus=guest_info.toolsRunningStatus,
            hostName=guest_info.hostName,
            ipAddress=guest_info.ipAddress,
            hwVersion=config.version,
        ),
        config=Data(
            "VirtualMachineConfigSummary",
            name=config.name,
            template=bool(config.template),
            vmPathName=config.files.vmPathName if config.files is not None else "",
            memorySizeMB=hardware.memoryMB if hardware is not None else None,
            cpuReservation=0,
            memoryReservation=0,
            numCpu=hardware.numCPU if hardware is not None else None,
            numEthernetCards=len(devices_of(config, "VirtualEthernetCard")),
            numVirtualDisks=len(devices_of(config, "VirtualDisk")),
            uuid=config.uuid,
            instanceUuid=config.instanceUuid,
            guestId=config.guestId,
            guestFullName=config.guestFullName,
            annotation=config.annotation,
            installBootRequired=False,
            tpmPresent=False,
            numVmiopBackings=0,
            hwVersion=config.version,
        ),
        storage=None
        if usage is None
        else Data(
            "VirtualMachineStorageSummary",
            committed=usage.committed,
            uncommitted=usage.uncommitted,
            unshared=usage.unshared,
            timestamp=store.timestamp if store is not None else NEVER_MODIFIED,
        ),
        quickStats=quick_stats(hardware, on),
        overallStatus="green",
        customValue=custom_values,
    )


def quick_stats(hardware: Data | None, on: bool) -> Data:
    """What a running VM uses (a steady, light load); nothing while it does not run."""
    if not on or hardware is None:
        return Data(
            "VirtualMachineQuickStats",
            guestHeartbeatStatus="gray",
            overallCpuUsage=0,
            guestMemoryUsage=0,
            hostMemoryUsage=0,
        )
    memory = int(hardware.memoryMB)
    return Data(
        "VirtualMachineQuickStats",
        overallCpuUsage=26 * int(hardware.numCPU),
        overallCpuDemand=26 * int(hardware.numCPU),
        guestMemoryUsage=memory // 10,
        hostMemoryUsage=memory // 4,
        guestHeartbeatStatus="green",
        consumedOverheadMemory=32,
        grantedMemory=memory,
        privateMemory=memory // 4,
        sharedMemory=0,
        swappedMemory=0,
        balloonedMemory=0,
        compressedMemory=0,
        activeMemory=memory // 10,
    )


CAPABILITY = Data(
    "VirtualMachineCapability",
    snapshotOperationsSupported=True,
    multipleSnapshotsSupported=True,
    snapshotConfigSupported=True,
    poweredOffSnapshotsSupported=True,
    memorySnapshotsSupported=True,
    revertToSnapshotSupported=True,
    quiescedSnapshotsSupported=True,
    disableSnapshotsSupported=False,
    lockSnapshotsSupported=False,
    consolePreferencesSupported=False,
    cpuFeatureMaskSupported=True,
    s1AcpiManagementSupported=True,
    settingScreenResolutionSupported=True,
    toolsAutoUpdateSupported=False,
    vmNpivWwnSupported=True,
    npivWwnOnNonRdmVmSupported=True,
    vmNpivWwnDisableSupported=True,
    vmNpivWwnUpdateSupported=True,
    swapPlacementSupported=True,
    toolsSyncTimeSupported=True,
    virtualMmuUsageSupported=True,
    diskSharesSupported=True,
    bootOptionsSupported=True,
    bootRetryOptionsSupported=True,
    settingVideoRamSizeSupported=True,
    settingDisplayTopologySupported=True,
    recordReplaySupported=False,
    changeTrackingSupported=True,
    multipleCoresPerSocketSupported=True,
    hostBasedReplicationSupported=True,
    guestAutoLockSupported=True,
    memoryReservationLockSupported=True,
    featureRequirementSupported=True,
    poweredOnMonitorTypeChangeSupported=True,
    seSparseDiskSupported=True,
    nestedHVSupported=True,
    vPMCSupported=True,
)
"""What vCenter says a VM of hardware version 19 can do (VirtualMachineCapability)."""


def declaration_of(props: Any) -> VmDeclaration:
    """The :class:`VmDeclaration` a scenario entity's properties give (defaults where they are silent)."""
    disks = props.get("disks_gb")
    return VmDeclaration(
        cpu=int(props.get("cpu", NUM_CPU)),
        cores_per_socket=int(props.get("cores_per_socket", 1)),
        memory_mb=int(props.get("memory_mb", MEMORY_MB)),
        disks_gb=tuple(int(size) for size in disks) if disks is not None else (DISK_GB,),
        guest_id=str(props.get("guest_os", GUEST_ID)),
        annotation=str(props.get("annotation", "")),
        template=bool(props.get("template")),
    )
