"""Round trip of the inventory: ``vismock record --inventory`` from ``vismock serve`` (the built-in
scenario: VMs declared with CPUs, memory, disks, NICs on two networks, guest OS, IP, host name, on
two datastores and three hosts), replayed by a second ``vismock serve --tasks RECORDING``. What a
pyVmomi client reads of every VM, host and datastore is the same on both: the recording holds each
VM's short declaration, and vismock derives the rest (uuids and MAC addresses from the recorded
ids, files from the names and datastores) the same way.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
from pyVim.connect import Disconnect, SmartConnect
from pyVmomi import vim

from tests.support.recording import PASSWORD, PASSWORD_ENV, USER, loaded, record
from tests.support.served import Served, served

pytestmark = pytest.mark.slow  # two real servers


@contextmanager
def connected(server: Served) -> Iterator[Any]:
    si = SmartConnect(protocol="http", host="127.0.0.1", port=server.port, user=USER, pwd=PASSWORD)
    try:
        yield si
    finally:
        Disconnect(si)


def every(si: Any, vim_type: Any) -> list[Any]:
    view = si.content.viewManager.CreateContainerView(si.content.rootFolder, [vim_type], True)
    try:
        return list(view.view)
    finally:
        view.Destroy()


def inventory_path(entity: Any) -> str:
    names = []
    while entity is not None:
        names.append(entity.name)
        entity = entity.parent
    return "/".join(reversed(names))


def device_reads(device: Any) -> tuple[Any, ...]:
    backing = device.backing
    return (
        type(device).__name__,
        device.key,
        device.deviceInfo.label,
        getattr(device, "capacityInKB", None),
        getattr(backing, "fileName", None),
        getattr(backing, "deviceName", None),
        getattr(device, "macAddress", None),
    )


def vm_reads(vm: Any) -> dict[str, Any]:
    config, hardware = vm.config, vm.config.hardware
    return {
        "path": inventory_path(vm),
        "power": vm.runtime.powerState,
        "host": vm.runtime.host.name,
        "identity": (config.uuid, config.instanceUuid, config.template),
        "guest os": (config.guestId, config.guestFullName, config.annotation),
        "hardware": (hardware.numCPU, hardware.numCoresPerSocket, hardware.memoryMB),
        "devices": [device_reads(device) for device in hardware.device],
        "files": config.files.vmPathName,
        "datastores": sorted(store.name for store in vm.datastore),
        "networks": sorted(network.name for network in vm.network),
        "guest": (vm.guest.ipAddress, vm.guest.hostName, vm.guest.toolsRunningStatus),
        "summary": (vm.summary.config.numCpu, vm.summary.config.memorySizeMB, vm.summary.storage.committed),
    }


def reads(si: Any) -> dict[str, dict[str, Any]]:
    """What a client reads of every VM, host and datastore, by inventory path."""
    found = {inventory_path(vm): vm_reads(vm) for vm in every(si, vim.VirtualMachine)}
    for host in every(si, vim.HostSystem):
        hardware = host.hardware
        found[inventory_path(host)] = {"cores": hardware.cpuInfo.numCpuCores, "memory": hardware.memorySize}
    for store in every(si, vim.Datastore):
        summary = store.summary
        found[inventory_path(store)] = {"capacity": summary.capacity, "free": summary.freeSpace}
    return found


def test_a_recorded_inventory_replays_what_pyvmomi_reads_of_every_vm_host_and_datastore(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(PASSWORD_ENV, PASSWORD)
    output = tmp_path / "recorded.yaml"
    with served() as original:
        status, err = record(capsys, f"http://127.0.0.1:{original.port}/sdk", output, "--inventory")
        with connected(original) as si:
            before = reads(si)
    assert status == 0, err
    assert loaded(output).inventory is not None
    with served("--tasks", str(output)) as replay, connected(replay) as si:
        after = reads(si)

    assert after == before
    # Not the defaults on both sides: the built-in VMs' own declarations came through.
    win1 = after["Datacenters/Datacenter/vm/win1"]
    assert win1["hardware"] == (2, 1, 4096) and win1["guest"][:2] == ("10.20.30.41", "win1.lab.local")
    assert len([d for d in win1["devices"] if d[0] == "vim.vm.device.VirtualDisk"]) == 2
    assert after["Datacenters/Datacenter/vm/prod/db-01"]["datastores"] == ["datastore2"]
    assert after["Datacenters/Datacenter/vm/prod/app-02"]["networks"] == ["Backup Network", "VM Network"]
    assert after["Datacenters/Datacenter/vm/rhel9-template"]["identity"][2] is True
    assert after["Datacenters/Datacenter/datastore/datastore2"]["capacity"] == 4096 * 1024**3
