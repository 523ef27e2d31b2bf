"""Snapshots, clones and destroys over SOAP with pyVmomi: typed task results (a vim.vm.Snapshot, a
vim.VirtualMachine), the VM's snapshot tree and rootSnapshot, what vCenter does on a revert, a
clone with new uuids in its folder, a destroyed VM gone from views while its tasks still read,
and WaitForUpdates seeing every change."""

from __future__ import annotations

from typing import Any

import pytest
from pyVim.task import WaitForTask
from pyVmomi import vim, vmodl

from tests.support.soap import LiveServer
from vismock.mockserver.state.behaviour import INSTANT


@pytest.fixture
def vm(si: Any, live: LiveServer) -> Any:
    """win1, its tasks finishing as soon as they are made (the timelines are not what is tested)."""
    live.backend.operations.set_behaviours({"default": INSTANT})
    found = si.content.searchIndex.FindByInventoryPath("Datacenter/vm/win1")
    assert isinstance(found, vim.VirtualMachine)
    return found


def done(task: Any) -> Any:
    WaitForTask(task)
    return task.info.result


def test_create_snapshot_answers_a_snapshot_the_tree_shows(vm: Any) -> None:
    assert vm.snapshot is None and list(vm.rootSnapshot) == []  # unset while the VM has none
    first = done(vm.CreateSnapshot_Task(name="base", description="before", memory=False, quiesce=False))
    assert isinstance(first, vim.vm.Snapshot)
    second = done(
        vm.CreateSnapshotEx_Task(name="patched", memory=True, quiesceSpec=vim.vm.GuestQuiesceSpec())
    )
    tree = vm.snapshot
    assert tree.currentSnapshot == second
    (root,) = tree.rootSnapshotList
    assert (root.snapshot, root.name, root.description, root.state) == (first, "base", "before", "poweredOff")
    (child,) = root.childSnapshotList
    assert (child.snapshot, child.name, child.state) == (second, "patched", "poweredOn")
    assert root.id < child.id and root.createTime <= child.createTime
    assert list(vm.rootSnapshot) == [first] and list(first.childSnapshot) == [second]
    assert first.vm == vm and first.config.name == "win1"


def test_a_revert_returns_the_vm_to_the_snapshots_power_state(vm: Any) -> None:
    off = done(vm.CreateSnapshot_Task(name="off", memory=False, quiesce=False))
    on = done(vm.CreateSnapshot_Task(name="on", memory=True, quiesce=False))
    done(off.RevertToSnapshot_Task())
    assert vm.runtime.powerState == "poweredOff" and vm.snapshot.currentSnapshot == off
    done(on.RevertToSnapshot_Task(suppressPowerOn=True))
    assert vm.runtime.powerState == "poweredOff" and vm.snapshot.currentSnapshot == on
    done(vm.RevertToCurrentSnapshot_Task())
    assert vm.runtime.powerState == "poweredOn"


def test_revert_to_current_without_a_snapshot_is_not_found(vm: Any) -> None:
    with pytest.raises(vim.fault.NotFound):
        vm.RevertToCurrentSnapshot_Task()


def test_remove_one_snapshot_its_subtree_or_all(vm: Any) -> None:
    a = done(vm.CreateSnapshot_Task(name="a", memory=False, quiesce=False))
    b = done(vm.CreateSnapshot_Task(name="b", memory=False, quiesce=False))
    c = done(vm.CreateSnapshot_Task(name="c", memory=False, quiesce=False))
    done(b.RemoveSnapshot_Task(removeChildren=False))
    assert [node.snapshot for node in vm.snapshot.rootSnapshotList[0].childSnapshotList] == [c]
    done(a.RemoveSnapshot_Task(removeChildren=True))
    assert vm.snapshot is None
    done(vm.CreateSnapshot_Task(name="d", memory=False, quiesce=False))
    done(vm.RemoveAllSnapshots_Task())
    assert vm.snapshot is None
    with pytest.raises(vmodl.fault.ManagedObjectNotFound):
        c.RevertToSnapshot_Task()


def test_rename_snapshot(vm: Any) -> None:
    snap = done(vm.CreateSnapshot_Task(name="old", memory=False, quiesce=False))
    snap.RenameSnapshot(name="new", description="renamed")
    (node,) = vm.snapshot.rootSnapshotList
    assert (node.name, node.description) == ("new", "renamed")
    with pytest.raises(vim.fault.InvalidName):
        snap.RenameSnapshot(name="")


def test_clone_answers_a_vm_in_its_folder_with_new_uuids(si: Any, vm: Any) -> None:
    folder = si.content.searchIndex.FindByInventoryPath("Datacenter/vm/prod")
    store = si.content.searchIndex.FindByInventoryPath("Datacenter/datastore/datastore1")
    spec = vim.vm.CloneSpec(location=vim.vm.RelocateSpec(datastore=store), powerOn=True, template=False)
    clone = done(vm.CloneVM_Task(folder=folder, name="win1-copy", spec=spec))
    assert isinstance(clone, vim.VirtualMachine) and clone != vm
    assert clone.name == "win1-copy" and clone.parent == folder
    assert clone.runtime.powerState == "poweredOn" and clone.datastore == [store]
    assert clone.config.uuid != vm.config.uuid and clone.config.instanceUuid != vm.config.instanceUuid
    assert clone in folder.childEntity


def test_a_clone_name_taken_in_the_folder_fails_the_task_with_duplicate_name(si: Any, vm: Any) -> None:
    folder = vm.parent
    spec = vim.vm.CloneSpec(location=vim.vm.RelocateSpec(), powerOn=False, template=False)
    task = vm.CloneVM_Task(folder=folder, name="win1", spec=spec)
    with pytest.raises(vim.fault.DuplicateName):
        WaitForTask(task)


def test_two_clones_racing_to_one_name_make_one_vm_and_the_later_fails_with_duplicate_name(
    si: Any, live: LiveServer
) -> None:
    """Both clones start while the name is free (each task's own check passes); the one that
    finishes second finds the name taken and fails, as vCenter does, instead of a second VM."""
    index = si.content.searchIndex
    win1, testdev = (index.FindByInventoryPath(f"Datacenter/vm/{name}") for name in ("win1", "TestDev"))
    assert win1.parent == testdev.parent
    spec = vim.vm.CloneSpec(location=vim.vm.RelocateSpec(), powerOn=False, template=False)
    first = win1.CloneVM_Task(folder=win1.parent, name="racer", spec=spec)
    second = testdev.CloneVM_Task(folder=win1.parent, name="racer", spec=spec)
    live.backend.advance(5)  # both end (the default timeline: 2 s)
    assert isinstance(done(first), vim.VirtualMachine)
    with pytest.raises(vim.fault.DuplicateName):
        WaitForTask(second)
    view = si.content.viewManager.CreateContainerView(si.content.rootFolder, [vim.VirtualMachine], True)
    assert [each.name for each in view.view].count("racer") == 1


def test_destroy_removes_a_vm_from_views_and_its_tasks_still_read(si: Any, vm: Any) -> None:
    with pytest.raises(vim.fault.InvalidPowerState):
        WaitForTask(vm.Destroy_Task())  # powered on: refused in the task
    done(vm.PowerOffVM_Task())
    task = vm.Destroy_Task()
    done(task)
    view = si.content.viewManager.CreateContainerView(si.content.rootFolder, [vim.VirtualMachine], True)
    assert "win1" not in [each.name for each in view.view]
    assert si.content.searchIndex.FindByInventoryPath("Datacenter/vm/win1") is None
    assert task.info.state == "success" and task.info.entityName == "win1"


def test_wait_for_updates_sees_the_snapshot_tree_change(si: Any, vm: Any) -> None:
    collector = si.content.propertyCollector
    spec = vmodl.query.PropertyCollector.FilterSpec(
        objectSet=[vmodl.query.PropertyCollector.ObjectSpec(obj=vm)],
        propSet=[
            vmodl.query.PropertyCollector.PropertySpec(
                type=vim.VirtualMachine, pathSet=["snapshot", "rootSnapshot"]
            )
        ],
    )
    property_filter = collector.CreateFilter(spec, partialUpdates=False)
    try:
        first = collector.WaitForUpdatesEx("", vmodl.query.PropertyCollector.WaitOptions(maxWaitSeconds=0))
        done(vm.CreateSnapshot_Task(name="s1", memory=False, quiesce=False))
        update = collector.WaitForUpdatesEx(
            first.version, vmodl.query.PropertyCollector.WaitOptions(maxWaitSeconds=5)
        )
        (change_set,) = [obj.changeSet for f in update.filterSet for obj in f.objectSet]
        changed = {change.name: change.val for change in change_set}
        assert changed["snapshot"].rootSnapshotList[0].name == "s1"
        assert len(changed["rootSnapshot"]) == 1
    finally:
        property_filter.DestroyPropertyFilter()
