"""What automation reads of the inventory, through pyVmomi: nested property paths in
RetrievePropertiesEx, SearchIndex's finders, custom fields, container views over any type, and a
clone's own identity and files."""

from __future__ import annotations

from typing import Any

import pytest
from pyVim.task import WaitForTask
from pyVmomi import vim, vmodl

from tests.support.soap import LiveServer
from vismock.mockserver.state.behaviour import INSTANT

PropertyCollector = vmodl.query.PropertyCollector
WIN1 = "vm-601"


def read(si: Any, obj: Any, *paths: str) -> dict[str, Any]:
    """*paths* of *obj* in one RetrievePropertiesEx."""
    spec = PropertyCollector.FilterSpec(
        objectSet=[PropertyCollector.ObjectSpec(obj=obj)],
        propSet=[PropertyCollector.PropertySpec(type=type(obj), pathSet=list(paths))],
    )
    result = si.content.propertyCollector.RetrievePropertiesEx([spec], PropertyCollector.RetrieveOptions())
    (found,) = result.objects
    return {prop.name: prop.val for prop in found.propSet}


def test_nested_paths_read_into_the_data_objects(si: Any) -> None:
    vm = vim.VirtualMachine(WIN1, si._stub)
    found = read(
        si,
        vm,
        "config.hardware.memoryMB",
        "summary.runtime.powerState",
        "summary.config.numCpu",
        "guest.ipAddress",
        "config.hardware.device",
        "layoutEx.file",
    )
    assert found["config.hardware.memoryMB"] == 4096
    assert found["summary.runtime.powerState"] == "poweredOn"
    assert found["summary.config.numCpu"] == 2
    assert found["guest.ipAddress"] == "10.20.30.41"
    assert any(isinstance(d, vim.vm.device.VirtualDisk) for d in found["config.hardware.device"])
    assert {f.type for f in found["layoutEx.file"]} >= {"config", "diskDescriptor", "diskExtent", "log"}
    with pytest.raises(vmodl.query.InvalidProperty):
        read(si, vm, "config.hardware.memoryGB")


def test_search_index_finds_by_uuid_ip_dns_name_and_path(si: Any) -> None:
    index = si.content.searchIndex
    vm = vim.VirtualMachine(WIN1, si._stub)
    uuid, instance = vm.config.uuid, vm.config.instanceUuid
    assert index.FindByUuid(uuid=uuid, vmSearch=True)._moId == WIN1
    assert index.FindByUuid(uuid=uuid.upper(), vmSearch=True)._moId == WIN1
    assert index.FindByUuid(uuid=instance, vmSearch=True, instanceUuid=True)._moId == WIN1
    assert index.FindByUuid(uuid=instance, vmSearch=True) is None  # not its BIOS uuid
    assert index.FindByIp(ip="10.20.30.41", vmSearch=True)._moId == WIN1
    assert index.FindByDnsName(dnsName="win1.lab.local", vmSearch=True)._moId == WIN1
    assert index.FindByDnsName(dnsName="nowhere.lab.local", vmSearch=True) is None
    host = index.FindByDnsName(dnsName="esx01.lab.local", vmSearch=False)
    assert host._moId == "host-21"
    assert index.FindByUuid(uuid=host.hardware.systemInfo.uuid, vmSearch=False)._moId == "host-21"
    datacenter = index.FindByInventoryPath("Datacenter")
    assert index.FindByDatastorePath(datacenter=datacenter, path=vm.config.files.vmPathName)._moId == WIN1
    assert [found._moId for found in index.FindAllByIp(ip="10.20.30.41", vmSearch=True)] == [WIN1]
    assert index.FindByInventoryPath("Datacenter/vm/prod/web-01") is not None


def test_a_powered_off_vm_is_not_found_by_its_ip(si: Any, live: LiveServer) -> None:
    live.backend.inventory.set_power_state(WIN1, "poweredOff")
    assert si.content.searchIndex.FindByIp(ip="10.20.30.41", vmSearch=True) is None


def test_custom_fields_are_defined_set_and_shown(si: Any) -> None:
    manager = si.content.customFieldsManager
    owner = manager.AddCustomFieldDef(name="owner", moType=vim.VirtualMachine)
    anywhere = manager.AddCustomFieldDef(name="note")
    assert [f.name for f in manager.field] == ["owner", "note"]
    with pytest.raises(vim.fault.DuplicateName):
        manager.AddCustomFieldDef(name="owner", moType=vim.VirtualMachine)
    vm = vim.VirtualMachine(WIN1, si._stub)
    manager.SetField(entity=vm, key=owner.key, value="team-a")
    assert [(v.key, v.value) for v in vm.customValue] == [(owner.key, "team-a")]
    assert [(v.key, v.value) for v in vm.summary.customValue] == [(owner.key, "team-a")]
    assert {f.name for f in vm.availableField} == {"owner", "note"}
    host = vim.HostSystem("host-21", si._stub)
    assert {f.name for f in host.availableField} == {"note"}
    with pytest.raises(vmodl.fault.InvalidArgument):
        manager.SetField(entity=host, key=owner.key, value="x")
    manager.RemoveCustomFieldDef(key=owner.key)
    assert vm.customValue == [] and [f.key for f in manager.field] == [anywhere.key]


def test_container_views_over_any_type(si: Any) -> None:
    views = si.content.viewManager
    root = si.content.rootFolder
    for kind, expected in (
        (vim.Datastore, {"datastore1", "datastore2"}),
        (vim.Network, {"VM Network", "Backup Network"}),
        (vim.HostSystem, {"esx01.lab.local", "esx02.lab.local", "esx03.lab.local"}),
        (vim.ClusterComputeResource, {"Cluster-A"}),
    ):
        view = views.CreateContainerView(root, [kind], True)
        assert {obj.name for obj in view.view} == expected, kind


def test_hosts_datastores_and_clusters_add_up(si: Any) -> None:
    cluster = si.content.searchIndex.FindByInventoryPath("Datacenter/host/Cluster-A")
    hosts = list(cluster.host)
    assert cluster.summary.numHosts == len(hosts) == 2
    assert cluster.summary.totalMemory == sum(h.summary.hardware.memorySize for h in hosts)
    assert all(vm.runtime.host in hosts for vm in cluster.resourcePool.vm)  # a VM's host is in its cluster
    store = si.content.searchIndex.FindByInventoryPath("Datacenter/datastore/datastore2")
    used = sum(vm.storage.perDatastoreUsage[0].committed for vm in store.vm)
    assert store.summary.freeSpace == store.summary.capacity - used
    for vm in store.vm:
        for disk in (d for d in vm.config.hardware.device if isinstance(d, vim.vm.device.VirtualDisk)):
            assert disk.backing.fileName.startswith("[datastore2] ")
            assert disk.backing.datastore == store


def test_a_clone_gets_its_own_identity_and_files(si: Any, live: LiveServer) -> None:
    live.backend.operations.set_behaviours({"default": INSTANT})
    source = vim.VirtualMachine(WIN1, si._stub)
    task = source.CloneVM_Task(
        folder=source.parent, name="win1-copy", spec=vim.vm.CloneSpec(location=vim.vm.RelocateSpec())
    )
    WaitForTask(task)
    clone = task.info.result
    assert clone.config.uuid != source.config.uuid
    assert clone.config.instanceUuid != source.config.instanceUuid
    assert clone.config.hardware.memoryMB == source.config.hardware.memoryMB
    assert clone.config.files.vmPathName == "[datastore1] win1-copy/win1-copy.vmx"
    disks = [d for d in clone.config.hardware.device if isinstance(d, vim.vm.device.VirtualDisk)]
    assert [d.backing.fileName for d in disks] == [
        "[datastore1] win1-copy/win1-copy.vmdk",
        "[datastore1] win1-copy/win1-copy_1.vmdk",
    ]
    macs = {
        d.macAddress for d in clone.config.hardware.device if isinstance(d, vim.vm.device.VirtualEthernetCard)
    }
    source_macs = {
        d.macAddress
        for d in source.config.hardware.device
        if isinstance(d, vim.vm.device.VirtualEthernetCard)
    }
    assert macs and not macs & source_macs


def test_a_clone_takes_the_hardware_and_notes_its_spec_configures(si: Any, live: LiveServer) -> None:
    """CloneSpec.config: vCenter applies it to the clone (vmware_guest sends a template's clone
    its CPUs and memory this way); the source keeps its own."""
    live.backend.operations.set_behaviours({"default": INSTANT})
    source = vim.VirtualMachine(WIN1, si._stub)
    changes = vim.vm.ConfigSpec(
        numCPUs=4, numCoresPerSocket=2, memoryMB=8192, annotation="resized", guestId="rhel9_64Guest"
    )
    task = source.CloneVM_Task(
        folder=source.parent,
        name="win1-big",
        spec=vim.vm.CloneSpec(location=vim.vm.RelocateSpec(), config=changes),
    )
    WaitForTask(task)
    clone = task.info.result
    hardware = clone.config.hardware
    assert (hardware.numCPU, hardware.numCoresPerSocket, hardware.memoryMB) == (4, 2, 8192)
    assert (clone.config.annotation, clone.config.guestId) == ("resized", "rhel9_64Guest")
    assert clone.config.guestFullName == "Red Hat Enterprise Linux 9 (64-bit)"
    assert (clone.summary.config.numCpu, clone.summary.config.memorySizeMB) == (4, 8192)
    assert len(hardware.device) == len(source.config.hardware.device)  # deviceChange aside, the same devices
    kept = source.config.hardware
    assert (kept.numCPU, kept.memoryMB, source.config.annotation) == (2, 4096, "")


def test_a_clone_with_device_changes_is_refused_saying_so(si: Any, live: LiveServer) -> None:
    """vCenter applies a clone's device changes (a NIC moved to another network...); vismock does
    not yet, and says so rather than make a clone without them."""
    source = vim.VirtualMachine(WIN1, si._stub)
    nic = next(d for d in source.config.hardware.device if isinstance(d, vim.vm.device.VirtualEthernetCard))
    change = vim.vm.device.VirtualDeviceSpec(operation="edit", device=nic)
    for spec in (
        vim.vm.CloneSpec(location=vim.vm.RelocateSpec(), config=vim.vm.ConfigSpec(deviceChange=[change])),
        vim.vm.CloneSpec(location=vim.vm.RelocateSpec(deviceChange=[change])),
    ):
        with pytest.raises(vmodl.fault.NotSupported) as refused:
            source.CloneVM_Task(folder=source.parent, name="win1-moved", spec=spec)
        assert "device changes" in refused.value.msg
    assert si.content.searchIndex.FindByInventoryPath("Datacenter/vm/win1-moved") is None
